"""The executor worker: runs the copy policy on each detected swap and queues and dispatches the trades it
decides; engine/execution/ holds the decision inputs, the trade lifecycle, the outcomes and the recovery.

Safety rules this worker and engine/execution keep (docs/COPYING.md explains them):
* An intent is persisted (keyed by leader signature, trader and our wallet) before anything is sent, and the
  signed bytes, our signature and lastValidBlockHeight are persisted before the first send. A restart
  therefore resumes the same transaction instead of buying twice.
* A signed transaction is re-sent as the same bytes until it is seen or its blockhash has expired
  (block height > lastValidBlockHeight, checked once more after expiry); only then is it re-quoted, once.
* Decisions are made one at a time in the worker's loop and count every in-flight buy, so concurrent trades
  can never spend past the per-trade cap, the daily cap or the reserve.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import deque
from dataclasses import replace
from typing import Any

from cachetools import LRUCache

from engine.amounts import sol_to_lamports
from engine.chain.confirm import SignatureWatcher
from engine.chain.swap_api import SwapApi, swap_api_from_context
from engine.execution.admission import TradeSlots
from engine.execution.buy_checks import BuyChecks
from engine.execution.chain_books import ChainBooks
from engine.execution.inputs import Balance, BalanceUnknown, DecisionInputs, LeaderHoldings
from engine.execution.job import Job, job_from_trade
from engine.execution.lifecycle import TradeLifecycle
from engine.execution.manual import record_manual_sell
from engine.execution.outcomes import Outcomes
from engine.execution.recovery import (
    KEPT_FOR_NEXT_START,
    SHUTTING_DOWN,
    close_left_open,
    reconcile,
    trade_from_row,
)
from engine.execution.send_paths import send_paths
from engine.messages import ExecuteTrade, ManualSell, SentTransaction, SwapDetected, TradeQueued, TradeSkipped
from engine.policy import (
    Copy,
    Skip,
    decide,
    limits_view,
)
from engine.store import StoreError
from engine.worker import BaseWorker, handles

LRU_SIZE = 20_000  # (leader signature, trader) pairs remembered to drop a swap detected twice


class ExecutorWorker(BaseWorker):
    """Decide, queue, dispatch: at most engine.max_concurrent_trades quoting/building/sending at once, in the
    order engine/execution/admission.py documents."""

    name = "executor"
    tick_interval = 1.0

    async def setup(self) -> None:
        ctx = self.ctx
        settings = ctx.settings
        self.mode = settings.mode
        self.limits = limits_view(settings.limits)
        self.max_concurrent = settings.engine.max_concurrent_trades
        self.max_queue = settings.engine.max_queue_size
        self.keypair = ctx.keypair
        self.wallet = str(self.keypair.pubkey()) if self.keypair is not None else "paper"
        self.rpc: Any = ctx.rpc_pool() if ctx.endpoints.rpc_urls else None
        # Fee refreshes and chain reconciliations are background work: served after every trading call.
        self.background_rpc: Any = ctx.rpc_pool(low_priority=True) if ctx.endpoints.rpc_urls else None
        self.swap_api: SwapApi | None = swap_api_from_context(ctx)
        self.slots = TradeSlots(self.max_concurrent, on_admit=ctx.state.latency.queue_waited)
        self._jobs: dict[int, Job] = {}  # every trade from EXECUTE_TRADE to its outcome
        self._running: dict[int, asyncio.Task] = {}  # ... and its task (waiting for a slot, or working)
        self._admitted: set[int] = set()  # trades past the queue (holding a slot once, or resumed)
        self._buy_fee_budgets: dict[int, int] = {}
        self._ready = asyncio.Event()
        self.watcher = SignatureWatcher(ctx.endpoints.ws_url, log=self.log) if ctx.endpoints.ws_url else None
        self.senders, self.fees = send_paths(ctx, self.background_rpc)
        self._seen: LRUCache[tuple[str, str], None] = LRUCache(maxsize=LRU_SIZE)
        self._parked: deque[tuple[SwapDetected, int]] = deque()
        self._unwritten_skips: deque[tuple[SwapDetected, Skip]] = deque()
        self.balance = Balance(ctx, self.rpc, self.wallet, has_wallet=self.keypair is not None)
        self.leaders = LeaderHoldings()
        self.inputs = DecisionInputs(ctx, self.balance, self.wallet)
        self.outcomes = Outcomes(ctx, self.limits, self.emit_log, self.name)
        self.buy_checks = BuyChecks(
            ctx, rpc=self.rpc, swap_api=self.swap_api, wallet=self.wallet, log=self.log
        )
        self.chain_books = ChainBooks(
            ctx, self.background_rpc, self.wallet, has_wallet=self.keypair is not None, emit_log=self.emit_log
        )
        self.lifecycle = TradeLifecycle(
            ctx,
            rpc=self.rpc,
            swap_api=self.swap_api,
            keypair=self.keypair,
            wallet=self.wallet,
            balance=self.balance,
            outcomes=self.outcomes,
            accepting=lambda: self.accepting,
            emit_log=self.emit_log,
            log=self.log,
            slots=self.slots,
            watcher=self.watcher,
            after_settle=lambda mint: self.chain_books.schedule("settle", mint),
            senders=self.senders,
            fees=self.fees,
        )
        self._tasks: list[asyncio.Task] = []
        ctx.extra_depths["executor"] = self.queued
        if self.watcher is not None and self.mode != "paper":
            self.watcher.start()
        self._tasks.append(self.spawn(self._startup(), "executor startup"))
        if self.fees is not None:
            self._fees_stop = asyncio.Event()
            self._tasks.append(self.spawn(self.fees.run(self._fees_stop), "priority fee refresh"))

    async def cleanup(self) -> None:
        if getattr(self, "inputs", None) is not None:
            self.inputs.close()
        if getattr(self, "buy_checks", None) is not None:
            self.buy_checks.close()
        getattr(self, "chain_books", None) and self.chain_books.close()
        jobs, running = getattr(self, "_jobs", {}).values(), getattr(self, "_running", {}).values()
        if not self.accepting and getattr(self, "outcomes", None) is not None:  # a stop, not a restart
            await close_left_open(jobs, running, store=self.ctx.store, outcomes=self.outcomes, log=self.log)
        for task in [*getattr(self, "_tasks", []), *running]:
            task.cancel()
        if getattr(self, "watcher", None) is not None:
            await self.watcher.close()
        if getattr(self, "senders", None) is not None:
            await self.senders.close()
        for pool in (getattr(self, "rpc", None), getattr(self, "background_rpc", None)):
            pool is not None and await pool.close()
        if getattr(self, "swap_api", None) is not None:
            await self.swap_api.close()
        self.ctx.state.set(in_flight=0)

    def in_flight(self) -> int:
        return len(getattr(self, "_running", {}))

    def queued(self) -> int:
        """Trades waiting for their first trade slot."""
        return len(self._running) - len(self._admitted)

    async def on_stop_accepting(self) -> None:
        """A clean stop: trades already out are followed (the supervisor drains them within its deadline);
        queued buys are skipped 'shutting down'; queued sells stay queued, with that reason, for the next
        start to resume."""
        waiting = [job for intent_id, job in self._jobs.items() if intent_id not in self._admitted]
        for job in waiting:
            task = self._running.get(job.intent_id)
            if task is not None:
                task.cancel()
        for job in waiting:
            try:
                if job.side == "buy":
                    await self.outcomes.skip(job, SHUTTING_DOWN)
                else:
                    await self.ctx.store.update_intent(job.intent_id, reason=KEPT_FOR_NEXT_START)
            except Exception as exc:  # noqa: BLE001 - the next start reconciles it either way
                self.log.warning("could not record trade %s at shutdown: %s", job.intent_id, exc)

    async def tick(self) -> None:
        if not self._ready.is_set():
            return
        if self._parked or self._unwritten_skips:
            await self._retry_unwritten()
        try:
            await self.balance.refresh()
        except Exception as exc:  # noqa: BLE001 - the next tick tries again
            self.log.debug("balance refresh failed: %s", exc)
        self.chain_books.tick()

    # -- startup: trader state, balance, reconciliation of what a previous run left in flight -----------
    async def _startup(self) -> None:
        # What the previous run left in flight is read before any new intent can exist; it is then
        # reconciled beside new work (new signals are decided as soon as the balance is known).
        left = await self.ctx.store.intents_in_flight()
        try:
            await self.outcomes.load()
            await self.balance.refresh(force=True)
            if self.mode == "sim" and self.balance.lamports == 0 and self.rpc is not None:
                await self.balance.airdrop(
                    sol_to_lamports(self.ctx.settings.sim.operator_airdrop_sol), self.emit_log
                )
        finally:
            self._ready.set()
        await reconcile(
            left,
            wallet=self.wallet,
            paper=self.mode == "paper",
            traders=self.ctx.traders,
            outcomes=self.outcomes,
            take=self._take,
            emit_log=self.emit_log,
            max_signal_age_s=self.limits.max_signal_age_s,
        )
        await self.outcomes.check_daily_loss()
        await self.chain_books.run("start")  # the lots against the wallet's token accounts

    # -- the queue -----------------------------------------------------------------------------------
    def _take(self, trade: ExecuteTrade) -> None:
        """Every trade (copy, manual sell, recovered, sent by another worker) is queued here."""
        self._enqueue(job_from_trade(trade))

    def _has_job(self, intent_id: int) -> bool:
        return intent_id in self._running  # every taken job is a task from the start (admission orders them)

    def _enqueue(self, job: Job) -> None:
        if job.intent_id in self._running:
            return
        if job.side == "buy":
            self._buy_fee_budgets[job.intent_id] = job.fee_budget_lamports
        self._jobs[job.intent_id] = job
        task = asyncio.ensure_future(self._run_job(job))
        self._running[job.intent_id] = task
        task.add_done_callback(lambda _t, intent_id=job.intent_id: self._job_done(intent_id))
        self.ctx.state.set(in_flight=len(self._running))

    def _job_done(self, intent_id: int) -> None:
        self._running.pop(intent_id, None)
        self._admitted.discard(intent_id)
        job = self._jobs.pop(intent_id, None)
        if job is not None:
            self.slots.release(job)
        self._buy_fee_budgets.pop(intent_id, None)
        self.ctx.state.set(in_flight=len(self._running))

    async def _run_job(self, job: Job) -> None:
        try:
            await self._ready.wait()
            if job.resume is None:
                await self.slots.acquire(job)  # in the order of engine/execution/admission.py
            self._admitted.add(job.intent_id)
            stale = None if job.resume is not None or job.manual else self.lifecycle.stale(job)
            if stale is not None:
                # Leaving the queue too old: a buy this late is as bad as a missed one, and never sent.
                await self.outcomes.skip(job, stale.reason, stale.detail)
                return
            if not self.accepting and job.resume is None and job.side == "buy":
                await self.outcomes.skip(job, "shutting down")
                return
            await self.lifecycle.execute(job)
        except asyncio.CancelledError:
            raise  # shutdown: the intent stays in flight and the next start reconciles it
        except Exception as exc:  # noqa: BLE001 - never leave an intent without an outcome
            text = f"{type(exc).__name__}: {exc}"
            self.emit_log("error", f"trade {job.intent_id} hit an error: {text}")
            row = await self.ctx.store.get_intent(job.intent_id)
            if row["status"] == "sent":
                # It may still land: follow it like a restart would.
                await asyncio.sleep(1.0)
                job.resume = SentTransaction(
                    row["signature"], bytes(row["signed_tx"]), int(row["last_valid_block_height"])
                )
                self.slots.release(job)
                self._running.pop(job.intent_id, None)
                self._admitted.discard(job.intent_id)
                self._enqueue(job)
            else:
                await self.outcomes.fail(job, f"error: {text}"[:200])

    # -- copy decisions ---------------------------------------------------------------------------------
    @handles(SwapDetected)
    async def on_swap(self, msg: SwapDetected) -> None:
        await self._handle_swap(msg, self.leaders.track(msg))

    async def _handle_swap(self, msg: SwapDetected, leader_held_before: int) -> None:
        key = (msg.leader_signature, msg.trader)
        trader = self.ctx.traders.get(msg.trader) or self.ctx.traders.by_wallet(msg.wallet)
        if key in self._seen:
            self.ctx.state.bump("executor_duplicates")
            return
        self._seen[key] = None
        if not self.accepting:
            await self._skip(msg, Skip("shutting down"))
            return
        if self.queued() >= self.max_queue:
            await self._skip(msg, Skip("queue full"))
            return
        if trader is None:
            await self._skip(msg, Skip("trader inactive", "not a followed trader"))
            return
        await self._ready.wait()
        try:
            msg = await self.buy_checks.in_sol(msg)  # a USDC/USDT-quoted trade, sized as its SOL worth
            decision = await self._decide(msg, trader, leader_held_before)
        except BalanceUnknown as exc:
            await self._skip(msg, Skip("balance unknown", str(exc)))
            return
        except (StoreError, sqlite3.Error) as exc:  # the database is failing: hold the signal, decide later
            self._park(msg, leader_held_before, exc)
            return
        except Exception as exc:  # noqa: BLE001 - a store hiccup must not lose the signal silently
            self.emit_log("warning", f"copy decision for {msg.leader_signature[:8]} failed: {exc}")
            await self._skip(msg, Skip("error", str(exc)[:200]))
            return
        if isinstance(decision, Skip):
            await self._skip(msg, decision)
            return
        await self._accept(msg, trader, decision, leader_held_before)

    async def _decide(self, msg: SwapDetected, trader: Any, leader_held_before: int) -> Copy | Skip:
        book = await self.inputs.policy_state(
            msg,
            trader,
            leader_held_before,
            in_flight_fee_budget_lamports=lambda: sum(self._buy_fee_budgets.values()),
            trader_paused_reason=lambda: self.outcomes.paused_reason(trader.wallet),
        )
        if msg.signal_at is not None:
            book = replace(book, signal_age_s=max(0.0, time.time() - msg.signal_at))
        if trader.active and book.trader_paused_reason:
            await self.outcomes.clear_pause(trader.name, trader.wallet)
            book = replace(book, trader_paused_reason="")
        decision = decide(msg, trader, self.limits, book)
        if isinstance(decision, Copy) and decision.side == "buy":
            decision = await self.buy_checks.check(msg, decision)  # per-token rules, then token safety
        if isinstance(decision, Skip) and decision.reason == "kill switch" and not self.ctx.state.kill_switch:
            # The operator resumed, but today's realised loss is still past the cap: show why buys stop.
            self.outcomes.trip_kill_switch(book.realized_pnl_today_lamports)
        return decision

    async def _accept(self, msg: SwapDetected, trader: Any, copy: Copy, leader_held_before: int = 0) -> None:
        queued_at = time.time()
        try:
            intent_id, created = await self.ctx.store.record_intent(
                leader_signature=msg.leader_signature,
                trader=trader.name,
                wallet=self.wallet,
                side=copy.side,
                mint=msg.mint,
                amount_in=copy.amount_in,
                leader_token_amount=msg.token_amount,
                leader_quote_amount=msg.quote_amount,
                token_decimals=msg.token_decimals,
                detected_at=msg.detected_at,
                status="queued",
                queued_at=queued_at,
                leader=trader.wallet,
                signal_at=msg.signal_at,
                leader_slot=msg.slot,
            )
        except StoreError as exc:
            self._park(msg, leader_held_before, exc)
            return
        if not created:
            await self._skip(msg, Skip("duplicate"))
            return
        self.ctx.detections.closed(msg.wallet, msg.leader_signature)  # its record is on disk
        # EXECUTE_TRADE, now that the intent is on disk.
        self._take(
            ExecuteTrade(
                intent_id=intent_id,
                leader_signature=msg.leader_signature,
                trader=trader.name,
                side=copy.side,
                mint=msg.mint,
                amount_in=copy.amount_in,
                slippage_bps=copy.slippage_bps,
                priority=copy.priority,
                priority_fee_micro_lamports=copy.priority_fee_micro_lamports,
                priority_fee_cap_lamports=copy.priority_fee_cap_lamports,
                jito_tip_lamports=copy.jito_tip_lamports,
                detected_at=msg.detected_at,
                trader_wallet=trader.wallet,
                fee_budget_lamports=copy.fee_budget_lamports,
                token_decimals=msg.token_decimals,
                leader_token_amount=msg.token_amount,
                leader_quote_amount=msg.quote_amount,
                signal_at=msg.signal_at,
            )
        )
        self.ctx.publish(TradeQueued(intent_id, trader.name, copy.side, msg.mint, queued_at))
        if copy.note:
            self.emit_log("info", f"{trader.name} {copy.side} {msg.mint[:6]}: {copy.note}")

    # -- skips and held signals ------------------------------------------------------------------------
    async def _skip(self, msg: SwapDetected, skip: Skip) -> None:
        """The one path of a skip: written by the store client (which shows it) and announced."""
        written = True
        try:
            written = await self._record_skip(msg, skip) is not None
            self.ctx.detections.closed(msg.wallet, msg.leader_signature)
        except StoreError as exc:
            # The database refused the write (disk full, locked): keep the skip and write it when it recovers.
            self._unwritten_skips.append((msg, skip))
            self.log.warning("could not record skip yet (%s); will retry", exc)
        except Exception as exc:  # noqa: BLE001 - the data worker reported it already
            self.log.warning("could not record skip: %s", exc)
        if written:  # a swap fetched again after a restart keeps its one record and its one announcement
            self.ctx.publish(TradeSkipped(msg.leader_signature, msg.trader, msg.side, msg.mint, skip.reason))

    async def _record_skip(self, msg: SwapDetected, skip: Skip) -> int | None:
        return await self.ctx.store.record_skip(
            leader_signature=msg.leader_signature,
            trader=msg.trader,
            side=msg.side,
            mint=msg.mint,
            reason=skip.reason,
            detected_at=msg.detected_at,
            detail=skip.detail,
        )

    def _park(self, msg: SwapDetected, leader_held_before: int, exc: Exception) -> None:
        """The intent could not be persisted, so nothing was sent: hold the signal and decide again once the
        database accepts writes. Nothing is ever sent without its intent on disk."""
        self._seen.pop((msg.leader_signature, msg.trader), None)
        self._parked.append((msg, leader_held_before))
        self.ctx.state.bump("swaps_parked")
        self.emit_log(
            "warning", f"database write failed ({exc}); holding {msg.leader_signature[:8]}… to retry"
        )

    async def _retry_unwritten(self) -> None:
        """On tick: write held skips, then re-decide held swaps, while the database keeps accepting them."""
        while self._unwritten_skips:
            msg, skip = self._unwritten_skips[0]
            try:
                await self._record_skip(msg, skip)
            except StoreError:
                return
            self.ctx.detections.closed(msg.wallet, msg.leader_signature)
            self._unwritten_skips.popleft()
        for _ in range(len(self._parked)):
            msg, held_before = self._parked.popleft()
            parked_before = len(self._parked)
            await self._handle_swap(msg, held_before)
            if len(self._parked) > parked_before:  # parked again: the database is still failing
                return

    # -- trades other workers ask for ---------------------------------------------------------------------
    @handles(ExecuteTrade)
    async def on_execute(self, msg: ExecuteTrade) -> None:
        """A trade whose intent another worker already persisted: its row, with the message's settings."""
        await self._ready.wait()
        try:
            row = await self.ctx.store.get_intent(msg.intent_id)
        except KeyError:
            self.emit_log("warning", f"execute: no intent {msg.intent_id}")
            return
        if row["status"] not in ("pending", "queued") or self._has_job(msg.intent_id):
            return  # finished, running, or already queued (the restart's reconciliation took it)
        trade = trade_from_row(row, self.ctx.traders)
        trade = replace(
            trade,
            slippage_bps=msg.slippage_bps,
            priority=max(msg.priority, trade.priority),
            manual=msg.manual or trade.manual,
            priority_fee_micro_lamports=(
                trade.priority_fee_micro_lamports
                if msg.priority_fee_micro_lamports is None
                else msg.priority_fee_micro_lamports
            ),
            priority_fee_cap_lamports=(
                trade.priority_fee_cap_lamports
                if msg.priority_fee_cap_lamports is None
                else msg.priority_fee_cap_lamports
            ),
            jito_tip_lamports=msg.jito_tip_lamports or trade.jito_tip_lamports,
        )
        await self.ctx.store.update_intent(msg.intent_id, status="queued", queued_at=time.time())
        self._take(trade)
        self.ctx.publish(TradeQueued(trade.intent_id, trade.trader, trade.side, trade.mint))

    @handles(ManualSell)
    async def on_manual_sell(self, msg: ManualSell) -> None:
        await self._ready.wait()
        try:
            intent_id = await self._manual_sell(msg.mint, msg.percent, msg.lot_id)
        except Exception as exc:  # noqa: BLE001 - the caller gets the reason
            if not msg.future.done():
                msg.future.set_exception(exc)
            return
        if not msg.future.done():
            msg.future.set_result(intent_id)

    async def _manual_sell(self, mint: str, percent: float, lot_id: int | None = None) -> int:
        """Sell percent of the whole position (split over its lots pro rata at settle) or of one picked lot."""
        if not self.accepting:
            raise RuntimeError("the engine is shutting down")
        trade = await record_manual_sell(self.ctx, self.inputs, self.wallet, mint, percent, lot_id)
        self._take(trade)
        self.ctx.publish(
            TradeQueued(trade.intent_id, "manual", "sell", mint, trade.detected_at or time.time())
        )
        return trade.intent_id
