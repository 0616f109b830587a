"""One trade to execute (Job), made from an ExecuteTrade in one place, and the pure helpers that read fills."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from engine.constants import WSOL_MINT
from engine.messages import ExecuteTrade, SentTransaction

SLIPPAGE_ERROR_CODE = 6001
MANUAL_PRIORITY = 100  # a manual sell goes before every copy
COPY_SELL_PRIORITY = 10  # what the policy gives a copied sell (engine/policy.py)


@dataclass
class Job:
    """One trade to execute; intent_id is its row in the store."""

    intent_id: int
    leader_signature: str
    trader: str
    trader_wallet: str
    side: str
    mint: str
    amount_in: int
    slippage_bps: int
    priority: int = 0
    fee_micro_lamports: int | None = None
    fee_cap_lamports: int | None = None
    jito_tip_lamports: int = 0
    fee_budget_lamports: int = 0
    detected_at: float | None = None
    decimals: int | None = None
    leader_token_amount: int = 0
    leader_quote_amount: int = 0
    manual: bool = False
    rounds_used: int = 0
    resume: SentTransaction | None = None  # a signed transaction to follow before signing anything new
    quote: dict[str, Any] | None = None
    fees_paid: int = 0
    signal_at: float | None = None
    recovered: bool = False
    trigger: str = "leader"  # ExecuteTrade.trigger: what the events and notifications say it was for

    @property
    def sort_key(self) -> tuple[int, int]:
        return (0 if self.side == "sell" else 1, -self.priority)


def job_from_trade(trade: ExecuteTrade) -> Job:
    """The one place a trade (copy, manual sell or recovered) becomes a Job."""
    return Job(
        intent_id=trade.intent_id,
        leader_signature=trade.leader_signature,
        trader=trade.trader,
        trader_wallet=trade.trader_wallet,
        side=trade.side,
        mint=trade.mint,
        amount_in=trade.amount_in,
        slippage_bps=trade.slippage_bps,
        priority=trade.priority,
        fee_micro_lamports=trade.priority_fee_micro_lamports,
        fee_cap_lamports=trade.priority_fee_cap_lamports,
        jito_tip_lamports=trade.jito_tip_lamports,
        fee_budget_lamports=trade.fee_budget_lamports,
        detected_at=trade.detected_at,
        decimals=trade.token_decimals,
        leader_token_amount=trade.leader_token_amount,
        leader_quote_amount=trade.leader_quote_amount,
        manual=trade.manual,
        rounds_used=trade.rounds_used,
        resume=trade.resume,
        signal_at=trade.signal_at if trade.signal_at is not None else trade.detected_at,
        recovered=trade.recovered,
        trigger=trade.trigger,
    )


# -- pure helpers ----------------------------------------------------------------------------------------


def is_slippage_error(err: Any) -> bool:
    """A landed transaction's err is the aggregator's slippage check (custom program error 6001)."""
    try:
        detail = err["InstructionError"][1]
        return isinstance(detail, dict) and detail.get("Custom") == SLIPPAGE_ERROR_CODE
    except (KeyError, IndexError, TypeError):
        return False


def error_text(err: Any) -> str:
    if is_slippage_error(err):
        return f"slippage exceeded (custom error {SLIPPAGE_ERROR_CODE})"
    text = err if isinstance(err, str) else orjson.dumps(err).decode()
    return text[:200]


def holding_change(tx: dict[str, Any], owner: str, mint: str) -> tuple[int, int] | None:
    """(before, after) of owner's total balance of mint in a getTransaction result; None if not in it."""
    meta = tx.get("meta") or {}
    totals = []
    for key in ("preTokenBalances", "postTokenBalances"):
        found = False
        total = 0
        for entry in meta.get(key) or ():
            if entry.get("owner") == owner and entry.get("mint") == mint:
                found = True
                total += int((entry.get("uiTokenAmount") or {}).get("amount") or 0)
        totals.append((found, total))
    if not totals[0][0] and not totals[1][0]:
        return None
    return totals[0][1], totals[1][1]


def our_fill(
    tx: dict[str, Any], wallet: str, mint: str, side: str
) -> tuple[int, int, int, int | None] | None:
    """(token amount, SOL amount, fee, token decimals) our wallet traded in its own landed transaction.

    SOL amount is net of the network fee and of token-account rent (that stays ours), so a buy's cost
    basis is what the swap itself took.
    """
    from engine.decoding.decoder import decode_transaction
    from engine.decoding.model import DecodeError

    try:
        decoded = decode_transaction(tx, wallet, allow_unknown_venue=True)
    except DecodeError:
        return None
    for swap in decoded.swaps:
        if swap.mint == mint and swap.side == side and swap.quote_mint == WSOL_MINT:
            return swap.token_amount, swap.quote_amount, decoded.fee, swap.token_decimals
    return None


def paper_fill(
    side: str, amount_in: int, leader_token_amount: int, leader_quote_amount: int, slippage_bps: int
) -> tuple[int, int] | None:
    """(tokens, lamports) at the leader's price made worse by the full slippage; None without a price."""
    if leader_token_amount <= 0 or leader_quote_amount <= 0 or amount_in <= 0:
        return None
    keep = 10_000 - slippage_bps
    if side == "buy":
        return amount_in * leader_token_amount * keep // (leader_quote_amount * 10_000), amount_in
    return amount_in, amount_in * leader_quote_amount * keep // (leader_token_amount * 10_000)


def landed(status: dict[str, Any] | None) -> bool:
    """A signature status that means confirmed (or better)."""
    if status is None:
        return False
    level = status.get("confirmationStatus")
    if level is None:
        return status.get("confirmations") is None  # rooted/finalized answers carry no count
    return level in ("confirmed", "finalized")
