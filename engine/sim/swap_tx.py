"""The instructions of a market-maker swap, who signs it, and the priority fee a swap request asks for."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import MessageV0, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.token.associated import get_associated_token_address
from solders.transaction import VersionedTransaction

from engine.constants import ATA_PROGRAM, SYSTEM_PROGRAM, WSOL_MINT
from engine.sim.amm import SwapError
from engine.sim.ledger import SyntheticFailure
from engine.sim.txformat import MEMO_PROGRAM, SLIPPAGE_ERROR_CODE

MEMO_PREFIX = "zapsim:quote:"
JUPITER_PROGRAM = "JUP6LkbZbjS1jKKwapdHNy74zcZ3tLUZoi5QNyVTaV4"
AUTO_PRIORITY_FEE_LAMPORTS = 5_000


@dataclass(frozen=True)
class SwapTerms:
    """What a built swap transaction promises: checked again when it lands."""

    pool_mint: str
    is_buy: bool
    in_amount: int
    out_amount: int
    threshold: int
    leg_index: int
    quote_mint: str = WSOL_MINT


def create_idempotent_ata_ix(
    payer: Pubkey, wallet: Pubkey, mint: Pubkey, token_program: Pubkey
) -> Instruction:
    ata = get_associated_token_address(wallet, mint, token_program)
    return Instruction(
        Pubkey.from_string(ATA_PROGRAM),
        b"\x01",
        [
            AccountMeta(payer, True, True),
            AccountMeta(ata, False, True),
            AccountMeta(wallet, False, False),
            AccountMeta(mint, False, False),
            AccountMeta(Pubkey.from_string(SYSTEM_PROGRAM), False, False),
            AccountMeta(token_program, False, False),
        ],
    )


def transfer_checked_ix(
    token_program: Pubkey,
    source: Pubkey,
    mint: Pubkey,
    destination: Pubkey,
    authority: Pubkey,
    amount: int,
    decimals: int,
) -> Instruction:
    return Instruction(
        token_program,
        b"\x0c" + struct.pack("<QB", amount, decimals),
        [
            AccountMeta(source, False, True),
            AccountMeta(mint, False, False),
            AccountMeta(destination, False, True),
            AccountMeta(authority, True, False),
        ],
    )


def memo_ix(text: str) -> Instruction:
    return Instruction(Pubkey.from_string(MEMO_PROGRAM), text.encode(), [])


def cosign_user_slot_empty(msg: MessageV0, market_maker: Keypair) -> VersionedTransaction:
    """The transaction as the swap API hands it out: the MM signed, the user's slot (0) left default."""
    mm_signature = market_maker.sign_message(to_bytes_versioned(msg))
    signatures = [Signature.default()] * msg.header.num_required_signatures
    signer_keys = list(msg.account_keys[: msg.header.num_required_signatures])
    signatures[signer_keys.index(market_maker.pubkey())] = mm_signature
    return VersionedTransaction.populate(msg, signatures)


def sign_swap_transaction(tx: VersionedTransaction, keypair: Keypair) -> VersionedTransaction:
    """Sign a swap API transaction as its user, keeping every other (market maker) signature.

    `VersionedTransaction(tx.message, [keypair])` only works when the user is the sole signer (mainnet
    Jupiter v1); with a co-signer it raises "not enough signers". This fills the user's slot and keeps
    the rest, so it is right for both.
    """
    msg = tx.message
    message_bytes = to_bytes_versioned(msg)
    user_signature = keypair.sign_message(message_bytes)
    signer_keys = list(msg.account_keys[: msg.header.num_required_signatures])
    try:
        slot = signer_keys.index(keypair.pubkey())
    except ValueError:
        raise ValueError(f"{keypair.pubkey()} is not a signer of this transaction") from None
    signatures = list(tx.signatures)
    signatures[slot] = user_signature
    return VersionedTransaction.populate(msg, signatures)


def priority_fee_lamports(value: Any) -> int:
    if value is None or value == "auto":
        return AUTO_PRIORITY_FEE_LAMPORTS
    if isinstance(value, bool):
        raise SwapError(
            "prioritizationFeeLamports must be an integer, 'auto' or an object", "INVALID_REQUEST"
        )
    if isinstance(value, int):
        return max(0, value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, dict):
        level = value.get("priorityLevelWithMaxLamports")
        if isinstance(level, dict):
            return max(0, int(level.get("maxLamports", AUTO_PRIORITY_FEE_LAMPORTS)))
        if "jitoTipLamports" in value:
            return 0
    raise SwapError("prioritizationFeeLamports must be an integer, 'auto' or an object", "INVALID_REQUEST")


def jito_tip_lamports(value: Any) -> int:
    """The tip of a {"jitoTipLamports": N} prioritization (0 for any other kind)."""
    if isinstance(value, dict) and "jitoTipLamports" in value:
        try:
            return max(0, int(value["jitoTipLamports"]))
        except (TypeError, ValueError):
            raise SwapError("jitoTipLamports must be an integer", "INVALID_REQUEST") from None
    return 0


def slippage_failure(terms: SwapTerms, programs: list[str], current_out: int) -> SyntheticFailure:
    """A swap re-priced past its slippage, failing as Jupiter's route does (6001), with the logs of the
    instructions before its leg; programs is the program id of each instruction."""
    program = JUPITER_PROGRAM
    compute_units = 0
    logs = []
    for index in range(terms.leg_index):
        program_id = programs[index]
        logs += [f"Program {program_id} invoke [1]", f"Program {program_id} success"]
        compute_units += 150
    logs += [
        f"Program {program} invoke [1]",
        "Program log: Instruction: Route",
        (
            f"Program log: AnchorError occurred. Error Code: SlippageToleranceExceeded. Error Number: "
            f"{SLIPPAGE_ERROR_CODE}. Error Message: Slippage tolerance exceeded."
        ),
        f"Program log: quoted out {terms.out_amount}, minimum {terms.threshold}, now {current_out}",
        f"Program {program} consumed 30000 of 1399700 compute units",
        f"Program {program} failed: custom program error: {SLIPPAGE_ERROR_CODE:#x}",
    ]
    return SyntheticFailure(terms.leg_index, SLIPPAGE_ERROR_CODE, logs, compute_units + 30_000)
