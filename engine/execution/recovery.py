"""Restart recovery: the intents a previous run left pending, queued or sent become trades again (the same
signed bytes are followed for a sent one) or fail as stale; a copy is never bought twice."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from engine.execution.job import COPY_SELL_PRIORITY, MANUAL_PRIORITY, job_from_trade
from engine.execution.outcomes import Outcomes
from engine.messages import ExecuteTrade, SentTransaction
from engine.policy import MANUAL_TRADE, fee_budget_lamports, fee_fields, stale_skip

if TYPE_CHECKING:
    from engine.traders import TraderBook


def trade_from_row(row: dict[str, Any], traders: TraderBook) -> ExecuteTrade:
    """An intent row as a trade, with its trader's current fee settings (MANUAL_TRADE's when the trader is a
    manual sell or no longer in the book)."""
    trader = traders.get(row["trader"])
    manual = row["trader"] == "manual"
    side = row["side"]
    settings = trader if trader is not None else MANUAL_TRADE
    return ExecuteTrade(
        intent_id=int(row["id"]),
        leader_signature=row["leader_signature"],
        trader=row["trader"],
        side=side,
        mint=row["mint"],
        amount_in=int(row["amount_in"]),
        slippage_bps=int(settings.slippage_bps),
        priority=MANUAL_PRIORITY if manual else (COPY_SELL_PRIORITY if side == "sell" else 0),
        detected_at=row["detected_at"],
        manual=manual,
        trader_wallet=trader.wallet if trader else "",
        fee_budget_lamports=fee_budget_lamports(settings, side),
        token_decimals=row["token_decimals"],
        leader_token_amount=int(row["leader_token_amount"] or 0),
        leader_quote_amount=int(row["leader_quote_amount"] or 0),
        trigger=row.get("trigger") or ("manual" if manual else "leader"),
        signal_at=row.get("signal_at"),
        **fee_fields(settings),
    )


async def reconcile(
    rows: list[dict[str, Any]],
    *,
    wallet: str,
    paper: bool,
    traders: TraderBook,
    outcomes: Outcomes,
    take: Callable[[ExecuteTrade], None],
    emit_log: Callable[[str, str], None],
    max_signal_age_s: float,
) -> None:
    """Resume, re-queue or fail each in-flight intent of our wallet; never buy twice."""
    now = time.time()
    for row in rows:
        if row["wallet"] != wallet:
            continue
        trade = replace(trade_from_row(row, traders), recovered=True)
        # Measured from the leader's time stored with the intent; an intent from before it was stored has its
        # detection time stand for it (younger by the detection lag, the lenient side). Sells and manual
        # sells are resumed at any age.
        since = row.get("signal_at") or row["detected_at"]
        age = None if since is None else now - since
        stale = stale_skip(row["side"], age, max_signal_age_s)
        fresh = row["side"] == "sell" or (age is not None and stale is None)
        if row["status"] == "sent" and row["signature"] and row["signed_tx"] and not paper:
            # It may land, or have landed, any time: follow the same bytes to the end.
            sent = SentTransaction(
                row["signature"], bytes(row["signed_tx"]), int(row["last_valid_block_height"] or 0)
            )
            take(replace(trade, resume=sent, rounds_used=max(1, int(row["attempts"] or 1))))
        elif fresh and row["status"] in ("pending", "queued"):
            take(trade)
        elif row["status"] != "sent":
            await outcomes.skip(job_from_trade(trade), "stale", stale.detail if stale else "age unknown")
        else:
            await outcomes.fail(job_from_trade(trade), "expired before landing", count_failure=False)
    if rows:
        emit_log("info", f"reconciled {len(rows)} trade(s) left in flight by the previous run")
