"""The scout's data: one scouted transaction of a wallet and the swaps it holds, in exact base units."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# When a transaction carries no blockTime, its time is estimated from its slot at mainnet's target pace.
MS_PER_SLOT = 400


@dataclass(frozen=True, slots=True)
class WalletSwap:
    """One swap of the scouted wallet, with what the report and the replay need to know about it."""

    signature: str
    slot: int | None
    block_time: int | None  # unix seconds
    side: str  # "buy" | "sell" | "swap"
    mint: str
    token_amount: int
    token_decimals: int | None
    quote_mint: str
    quote_amount: int  # lamports when quote_mint is WSOL
    venue: str
    router: str | None
    fee_lamports: int  # the network fee of the whole transaction (paid by its fee payer)
    leader_pre_amount: int | None = None  # the wallet's holding of mint before the transaction
    leader_post_amount: int | None = None  # ... and after it

    @property
    def time_ms(self) -> int | None:
        """Milliseconds on one clock for every swap: blockTime when known, else slot x 400 ms."""
        if self.block_time is not None:
            return self.block_time * 1000
        if self.slot is not None:
            return self.slot * MS_PER_SLOT
        return None

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "signature": self.signature,
            "slot": self.slot,
            "block_time": self.block_time,
            "side": self.side,
            "mint": self.mint,
            "token_amount": self.token_amount,
            "token_decimals": self.token_decimals,
            "quote_mint": self.quote_mint,
            "quote_amount": self.quote_amount,
            "venue": self.venue,
            "router": self.router,
            "fee_lamports": self.fee_lamports,
            "leader_pre_amount": self.leader_pre_amount,
            "leader_post_amount": self.leader_post_amount,
        }


@dataclass(frozen=True, slots=True)
class ScoutedTransaction:
    """One transaction of the wallet as decoded and cached: its swaps and the mints it created."""

    signature: str
    slot: int | None
    block_time: int | None
    failed: bool
    fee_lamports: int
    swaps: tuple[WalletSwap, ...] = ()
    created_mints: tuple[str, ...] = field(default=())


def chronological(swaps: list[WalletSwap] | tuple[WalletSwap, ...]) -> list[WalletSwap]:
    """Oldest first; slot breaks ties of blockTime, and the sort is stable so equal keys keep the order the
    history gave them (the chain's own order, reversed)."""
    return sorted(swaps, key=lambda s: (s.time_ms or 0, s.slot or 0))
