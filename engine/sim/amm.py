"""The market's pools: pump-style mints held by constant-product pools, their swap arithmetic and the
genesis account data of a mint and its vault."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from engine.constants import WSOL_MINT

TOKEN_DECIMALS = 6
BPS = 10_000


class SwapError(ValueError):
    """A quote or swap request the market cannot serve (400 with Jupiter's error shape)."""

    def __init__(self, message: str, code: str = "COULD_NOT_FIND_ANY_ROUTE") -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Pool:
    """One token's constant-product pool; its authority is the market maker's co-signing key."""

    symbol: str
    mint: Pubkey
    decimals: int
    token_program: Pubkey
    authority: Keypair
    vault: Pubkey
    fee_bps: int
    # The quote side: SOL (the authority's lamports) or an SPL token such as USDC (its token account).
    quote_mint: str = WSOL_MINT
    quote_vault: Pubkey | None = None
    quote_decimals: int = 9
    quote_token_program: Pubkey | None = None

    @property
    def mint_str(self) -> str:
        return str(self.mint)

    @property
    def quoted_in_sol(self) -> bool:
        return self.quote_mint == WSOL_MINT


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def amount_out(
    is_buy: bool, amount_in: int, sol_reserve: int, token_reserve: int, fee_bps: int
) -> tuple[int, int]:
    """(amount out, fee) of a constant-product swap; the fee is charged in SOL on both sides."""
    if amount_in <= 0:
        return 0, 0
    if is_buy:
        fee = _ceil_div(amount_in * fee_bps, BPS)
        net = amount_in - fee
        return net * token_reserve // (sol_reserve + net), fee
    gross = amount_in * sol_reserve // (token_reserve + amount_in)
    fee = _ceil_div(gross * fee_bps, BPS)
    return gross - fee, fee


def mint_data(
    authority: Pubkey | None, supply: int, decimals: int, freeze_authority: Pubkey | None = None
) -> bytes:
    """An initialized 82-byte mint; an authority of None is COption::None (as pump.fun leaves its mints)."""
    return struct.pack(
        "<I32sQBBI32s",
        1 if authority is not None else 0,
        bytes(authority) if authority is not None else bytes(32),
        supply,
        decimals,
        1,
        1 if freeze_authority is not None else 0,
        bytes(freeze_authority) if freeze_authority is not None else bytes(32),
    )


def token_account_data(mint: Pubkey, owner: Pubkey, amount: int) -> bytes:
    return (
        bytes(mint)
        + bytes(owner)
        + struct.pack("<Q", amount)
        + struct.pack("<I", 0)
        + bytes(32)
        + b"\x01"
        + struct.pack("<I", 0)
        + struct.pack("<Q", 0)
        + struct.pack("<Q", 0)
        + struct.pack("<I", 0)
        + bytes(32)
    )
