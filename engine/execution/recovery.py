"""Restart recovery: the intents a previous run left pending, queued or sent become trades again (the same
signed bytes are followed for a sent one) or fail as stale; a copy is never bought twice. Also the end of a
clean stop: what is still in the executor then gets the reason it is left open with, or is skipped."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from engine.execution.job import COPY_SELL_PRIORITY, MANUAL_PRIORITY, job_from_trade
from engine.execution.outcomes import Outcomes
from engine.messages import ExecuteTrade, SentTransaction
from engine.policy import MANUAL_TRADE, fee_budget_lamports, fee_fields, stale_skip

if TYPE_CHECKING:
    from engine.execution.job import Job
    from engine.store import Store
    from engine.traders import TraderBook

SHUTTING_DOWN = "shutting down"
KEPT_FOR_NEXT_START = "kept for the next start"
UNCONFIRMED_AT_STOP = "still unconfirmed at stop; followed at the next start"


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


async def close_left_open(
    jobs: Iterable[Job],
    tasks: Iterable[asyncio.Future],
    *,
    store: Store,
    outcomes: Outcomes,
    log: logging.Logger,
) -> None:
    """The end of a stop, once its deadline is over: the executor's trades still running are stopped first
    (so none can sign or send after its record is written), then each gets its reason; none stays queued or
    sent without one. A trade already signed keeps `sent` (the next start follows the same bytes); one never
    sent (its swap still being quoted or built): a buy is skipped `shutting down`, a sell stays `queued`,
    kept for the next start, which resumes it."""
    jobs, tasks = list(jobs), [task for task in tasks if not task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=1.0)
    notes = []
    for job in jobs:
        if job.rounds_used > 0 or job.resume is not None:
            notes.append(store.update_intent(job.intent_id, reason=UNCONFIRMED_AT_STOP))
        elif job.side == "buy":
            notes.append(outcomes.skip(job, SHUTTING_DOWN))
        else:
            notes.append(store.update_intent(job.intent_id, reason=KEPT_FOR_NEXT_START))
    if not notes:
        return
    try:
        results = await asyncio.wait_for(asyncio.gather(*notes, return_exceptions=True), 2.0)
    except TimeoutError:
        log.warning("could not record %d open trade(s) at stop", len(notes))
        return
    for result in results:
        if isinstance(result, BaseException):
            log.warning("could not record an open trade at stop: %s", result)
