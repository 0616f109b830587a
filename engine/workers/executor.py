"""The executor worker: runs the copy policy on each detected swap and executes the trades it decides.

Safety rules this file keeps (docs/COPYING.md explains them):
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
import heapq
import itertools
import sqlite3
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, replace
from typing import Any

import orjson

from engine.chain.swap_api import SwapApi, SwapApiError, sign_swap, swap_api_from_context
from engine.messages import (
    ExecuteTrade,
    KillSwitchTripped,
    LogEvent,
    ManualSell,
    StopMonitoring,
    SwapDetected,
    TradeExecuted,
    TradeFailed,
    TradeQueued,
    TradeSkipped,
)
from engine.policy import (
    WSOL_MINT,
    Copy,
    PolicyState,
    Skip,
    decide,
    fee_budget_lamports,
    kill_switch_tripped,
    limits_view,
    sol_to_lamports,
)
from engine.state import PositionView
from engine.store import Store, StoreError
from engine.worker import BaseWorker, handles

MAX_SIGNED_ROUNDS = 2  # the first transaction plus one re-quote
RESEND_INTERVAL_S = 1.5  # re-broadcast the same bytes this often until seen or expired
STATUS_POLL_MAX_S = 0.4  # status polling backs off from 50 ms to this
REQUOTE_MAX_AGE_S = 60.0  # never re-quote (or resume after a restart) a copy older than this
TX_FETCH_DEADLINE_S = 20.0  # how long to wait for getTransaction of a confirmed signature
BALANCE_REFRESH_S = 2.0
BALANCE_MAX_AGE_S = 5.0  # a buy decision refreshes an older balance first
PNL_REFRESH_S = {"sim": 2.0}  # one position re-priced per this many seconds (default below)
PNL_REFRESH_DEFAULT_S = 10.0  # Jupiter keyless is 0.5 RPS: stay far below it
MANUAL_SLIPPAGE_BPS = 500
SLIPPAGE_ERROR_CODE = 6001
LRU_SIZE = 20_000
BALANCE_STALE_S = 30.0  # with the RPC down, a balance this old still decides buys


class BalanceUnknown(Exception):
    """Our SOL balance cannot be read, so a buy cannot be checked against the reserve."""


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
    resume: tuple[str, bytes, int] | None = None  # (signature, signed bytes, lastValidBlockHeight)
    quote: dict[str, Any] | None = None
    fees_paid: int = 0

    @property
    def sort_key(self) -> tuple[int, int]:
        return (0 if self.side == "sell" else 1, -self.priority)


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


# -- the worker -------------------------------------------------------------------------------------------


class ExecutorWorker(BaseWorker):
    """Quote, sign, send, confirm; at most MAX_CONCURRENT_TRADES at once, sells first."""

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
        self.rpc: Any = None
        if ctx.endpoints.rpc_urls:
            self.rpc = ctx.rpc_pool()
        self.swap_api: SwapApi | None = swap_api_from_context(ctx)
        self._queue: list[tuple[tuple[int, int], int, Job]] = []
        self._seq = itertools.count()
        self._running: dict[int, asyncio.Task] = {}
        self._buy_fee_budgets: dict[int, int] = {}
        self._wake = asyncio.Event()
        self._ready = asyncio.Event()
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._parked: deque[tuple[SwapDetected, int]] = deque()
        self._unwritten_skips: deque[tuple[SwapDetected, Skip]] = deque()
        self._leader_held: dict[tuple[str, str], int] = {}
        self._trader_state: dict[str, dict[str, Any]] = {}
        self.balance: int | None = None
        self._balance_slot = -1
        self._balance_at = 0.0
        self.slot: int | None = None
        self._pnl_cursor = 0
        self._pnl_at = 0.0
        self._tasks: list[asyncio.Task] = []
        ctx.extra_depths["executor"] = lambda: len(self._queue)
        self._tasks.append(self.spawn(self._startup(), "executor startup"))
        self._tasks.append(self.spawn(self._dispatch(), "executor dispatcher"))

    async def cleanup(self) -> None:
        if getattr(self, "_reader", None) is not None:
            self._reader.close()
            self._reader = None
        for task in [*getattr(self, "_tasks", []), *getattr(self, "_running", {}).values()]:
            task.cancel()
        if getattr(self, "rpc", None) is not None:
            await self.rpc.close()
        if getattr(self, "swap_api", None) is not None:
            await self.swap_api.close()
        self.ctx.state.set(in_flight=0)

    def in_flight(self) -> int:
        return len(getattr(self, "_running", {}))

    async def on_stop_accepting(self) -> None:
        # Queued trades that have not started stay 'queued' in the store; the next start reconciles them.
        self._wake.set()

    # -- startup: trader state, balance, reconciliation of what a previous run left in flight -----------
    async def _startup(self) -> None:
        try:
            self._trader_state = await self.ctx.store.all_trader_state()
            for trader in self.ctx.traders.all():
                st = self._trader_state.get(trader.wallet)
                if st:
                    self.ctx.state.update_trader(
                        trader.name,
                        trades_copied=int(st["trades_copied"] or 0),
                        last_trade_at=st["last_trade_at"],
                        pnl_lamports=int(st["realized_pnl_lamports"] or 0),
                        paused_reason=st["paused_reason"] or "",
                    )
            await self._refresh_balance(force=True)
            if self.mode == "sim" and self.balance == 0 and self.rpc is not None:
                await self._sim_airdrop()
            await self._reconcile()
            daily = await self.ctx.store.daily()
            if kill_switch_tripped(daily["realized_pnl_lamports"], self.limits):
                self._trip_kill_switch(daily["realized_pnl_lamports"])
        finally:
            self._ready.set()
            self._wake.set()

    async def _sim_airdrop(self) -> None:
        lamports = sol_to_lamports(self.ctx.settings.sim.operator_airdrop_sol)
        try:
            await self.rpc.call("requestAirdrop", [self.wallet, lamports])
            await self._refresh_balance(force=True)
            self.emit_log("info", f"sim wallet funded with {lamports / 1e9:g} SOL")
        except Exception as exc:  # noqa: BLE001 - an unfunded sim wallet only means skips
            self.emit_log("warning", f"sim airdrop failed: {exc}")

    async def _reconcile(self) -> None:
        """Intents a previous run left pending/queued/sent: resume, re-queue or fail them, never buy twice."""
        rows = await self.ctx.store.intents_in_flight()
        now = time.time()
        for row in rows:
            if row["wallet"] != self.wallet:
                continue
            job = self._job_from_row(row)
            fresh = row["detected_at"] is not None and now - row["detected_at"] < REQUOTE_MAX_AGE_S
            if row["status"] == "sent" and row["signature"] and row["signed_tx"] and self.mode != "paper":
                # It may land, or have landed, any time: follow the same bytes to the end.
                job.resume = (
                    row["signature"],
                    bytes(row["signed_tx"]),
                    int(row["last_valid_block_height"] or 0),
                )
                job.rounds_used = max(1, int(row["attempts"] or 1))
                self._enqueue(job)
            elif fresh and row["status"] in ("pending", "queued"):
                self._enqueue(job)
            else:
                await self._fail(
                    job, "stale" if row["status"] != "sent" else "expired before landing", count_failure=False
                )
        if rows:
            self.emit_log("info", f"reconciled {len(rows)} trade(s) left in flight by the previous run")

    def _job_from_row(self, row: dict[str, Any]) -> Job:
        trader = self.ctx.traders.get(row["trader"])
        manual = row["trader"] == "manual"
        job = Job(
            intent_id=int(row["id"]),
            leader_signature=row["leader_signature"],
            trader=row["trader"],
            trader_wallet=trader.wallet if trader else "",
            side=row["side"],
            mint=row["mint"],
            amount_in=int(row["amount_in"]),
            slippage_bps=trader.slippage_bps if trader else MANUAL_SLIPPAGE_BPS,
            priority=100 if manual else (10 if row["side"] == "sell" else 0),
            detected_at=row["detected_at"],
            decimals=row["token_decimals"],
            leader_token_amount=int(row["leader_token_amount"] or 0),
            leader_quote_amount=int(row["leader_quote_amount"] or 0),
            manual=manual,
        )
        if trader is not None:
            job.fee_micro_lamports = None if trader.priority_fee == "auto" else int(trader.priority_fee)
            job.fee_cap_lamports = trader.priority_fee_cap_lamports
            job.jito_tip_lamports = trader.jito_tip_lamports
            job.fee_budget_lamports = fee_budget_lamports(trader, job.side)
        else:
            job.fee_cap_lamports = 200_000
            job.fee_budget_lamports = 10_000 + 200_000 + (2_039_280 if job.side == "buy" else 0)
        return job

    # -- the queue -----------------------------------------------------------------------------------
    def _enqueue(self, job: Job) -> None:
        if job.side == "buy":
            self._buy_fee_budgets[job.intent_id] = job.fee_budget_lamports
        heapq.heappush(self._queue, (job.sort_key, next(self._seq), job))
        self._wake.set()

    async def _dispatch(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._ready.is_set():
                continue
            while (
                self._queue
                and len(self._running) < self.max_concurrent
                and (self.accepting or self._queue[0][2].resume is not None)
            ):
                _, _, job = heapq.heappop(self._queue)
                task = asyncio.ensure_future(self._run_job(job))
                self._running[job.intent_id] = task
                task.add_done_callback(lambda _t, intent_id=job.intent_id: self._job_done(intent_id))
            self.ctx.state.set(in_flight=len(self._running))

    def _job_done(self, intent_id: int) -> None:
        self._running.pop(intent_id, None)
        self._buy_fee_budgets.pop(intent_id, None)
        self.ctx.state.set(in_flight=len(self._running))
        self._wake.set()

    # -- messages ------------------------------------------------------------------------------------
    @handles(SwapDetected)
    async def on_swap(self, msg: SwapDetected) -> None:
        await self._handle_swap(msg, self._track_leader(msg))

    async def _handle_swap(self, msg: SwapDetected, leader_held_before: int) -> None:
        key = (msg.leader_signature, msg.trader)
        trader = self.ctx.traders.get(msg.trader) or self.ctx.traders.by_wallet(msg.wallet)
        if key in self._seen:
            self.ctx.state.bump("executor_duplicates")
            return
        self._seen[key] = None
        while len(self._seen) > LRU_SIZE:
            self._seen.popitem(last=False)
        if not self.accepting:
            await self._skip(msg, Skip("shutting down"))
            return
        if len(self._queue) >= self.max_queue:
            await self._skip(msg, Skip("queue full"))
            return
        if trader is None:
            await self._skip(msg, Skip("trader inactive", "not a followed trader"))
            return
        await self._ready.wait()
        try:
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

    async def _policy_inputs(self, **query: Any) -> dict[str, Any]:
        """The policy's reads, from our own read-only connection: no hop to the data worker on the hot path.
        Our own writes were awaited before, so they are committed and visible here."""
        reader = getattr(self, "_reader", None)
        if reader is None:
            try:
                reader = self._reader = Store.reader(self.ctx.db_path)
            except Exception:  # noqa: BLE001 - the data worker may not have created the file yet
                return await self.ctx.store.policy_inputs(**query)
        try:
            return reader.policy_inputs(**query)
        except sqlite3.Error:
            return await self.ctx.store.policy_inputs(**query)

    async def _decide(self, msg: SwapDetected, trader: Any, leader_held_before: int) -> Copy | Skip:
        inputs = await self._policy_inputs(
            trader=trader.name, mint=msg.mint, wallet=self.wallet, leader_signature=msg.leader_signature
        )
        if msg.side == "buy" and self.keypair is not None:
            try:
                await self._refresh_balance(max_age=BALANCE_MAX_AGE_S)
            except Exception as exc:  # noqa: BLE001 - a recent balance is still good enough, none is not
                if self.balance is None or time.monotonic() - self._balance_at > BALANCE_STALE_S:
                    raise BalanceUnknown(f"balance unavailable: {exc}") from None
        pre = post = None
        if msg.side == "sell" and trader.proportional_sells and inputs["position_amount"] > 0:
            pre, post = await self._leader_holding(msg, leader_held_before)
        state = self._trader_state.get(trader.wallet) or {}
        book = PolicyState(
            paused=self.ctx.paused,
            kill_switch=bool(self.ctx.state.kill_switch),
            balance_lamports=self.balance if self.keypair is not None else None,
            spent_today_lamports=inputs["spent_today_lamports"],
            realized_pnl_today_lamports=inputs["realized_pnl_today_lamports"],
            in_flight_buy_lamports=inputs["in_flight_buy_lamports"],
            in_flight_fee_budget_lamports=sum(self._buy_fee_budgets.values()),
            open_positions=inputs["open_positions"],
            position_amount=max(0, inputs["position_amount"] - inputs["in_flight_sell_amount"]),
            bought_before=inputs["bought_before"],
            trader_paused_reason=state.get("paused_reason") or "",
            duplicate=inputs["duplicate"],
            current_slot=self.slot,
            leader_pre_amount=pre,
            leader_post_amount=post,
        )
        if trader.active and book.trader_paused_reason:
            # The operator started copying again after an auto-pause: forget the old failures.
            await self._save_trader_state(
                trader.name, trader.wallet, consecutive_failures=0, paused_reason=""
            )
            book = replace(book, trader_paused_reason="")
        decision = decide(msg, trader, self.limits, book)
        if isinstance(decision, Skip) and decision.reason == "kill switch" and not self.ctx.state.kill_switch:
            # The operator resumed, but today's realised loss is still past the cap: show why buys stop.
            self._trip_kill_switch(book.realized_pnl_today_lamports)
        return decision

    def _track_leader(self, msg: SwapDetected) -> int:
        """Leader holdings from their detected trades: the fallback when their transaction cannot be read."""
        key = (msg.trader, msg.mint)
        held = self._leader_held.get(key, 0)
        if msg.side == "buy":
            self._leader_held[key] = held + int(msg.token_amount)
        elif msg.side == "sell":
            self._leader_held[key] = max(0, held - int(msg.token_amount))
        return held

    async def _leader_holding(self, msg: SwapDetected, before: int) -> tuple[int | None, int | None]:
        if self.rpc is not None:
            try:
                raw = await self.rpc.get_transaction_raw(msg.leader_signature)
                if raw is not None:
                    document = orjson.loads(raw)
                    result = document.get("result") if "meta" not in document else document
                    change = holding_change(result or {}, msg.wallet, msg.mint)
                    if change is not None:
                        return change
            except Exception as exc:  # noqa: BLE001 - fall back to tracked holdings
                self.log.debug("leader transaction unavailable: %s", exc)
        if before >= msg.token_amount > 0:
            return before, before - int(msg.token_amount)
        return None, None

    async def _skip(self, msg: SwapDetected, skip: Skip, *, announce: bool = True) -> None:
        try:
            await self.ctx.store.record_skip(
                leader_signature=msg.leader_signature,
                trader=msg.trader,
                side=msg.side,
                mint=msg.mint,
                reason=skip.reason,
                detected_at=msg.detected_at,
            )
        except StoreError as exc:
            # The database refused the write (disk full, locked): keep the skip and write it when it recovers.
            self._unwritten_skips.append((msg, skip))
            self.log.warning("could not record skip yet (%s); will retry", exc)
        except Exception as exc:  # noqa: BLE001 - the data worker reported it already
            self.log.warning("could not record skip: %s", exc)
        if announce:
            self.ctx.publish(TradeSkipped(msg.leader_signature, msg.trader, msg.side, msg.mint, skip.reason))

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
                await self.ctx.store.record_skip(
                    leader_signature=msg.leader_signature,
                    trader=msg.trader,
                    side=msg.side,
                    mint=msg.mint,
                    reason=skip.reason,
                    detected_at=msg.detected_at,
                )
            except StoreError:
                return
            self._unwritten_skips.popleft()
        for _ in range(len(self._parked)):
            msg, held_before = self._parked.popleft()
            parked_before = len(self._parked)
            await self._handle_swap(msg, held_before)
            if len(self._parked) > parked_before:  # parked again: the database is still failing
                return

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
            )
        except StoreError as exc:
            self._park(msg, leader_held_before, exc)
            return
        if not created:
            await self._skip(msg, Skip("duplicate"))
            return
        job = Job(
            intent_id=intent_id,
            leader_signature=msg.leader_signature,
            trader=trader.name,
            trader_wallet=trader.wallet,
            side=copy.side,
            mint=msg.mint,
            amount_in=copy.amount_in,
            slippage_bps=copy.slippage_bps,
            priority=copy.priority,
            fee_micro_lamports=copy.priority_fee_micro_lamports,
            fee_cap_lamports=copy.priority_fee_cap_lamports,
            jito_tip_lamports=copy.jito_tip_lamports,
            fee_budget_lamports=copy.fee_budget_lamports,
            detected_at=msg.detected_at,
            decimals=msg.token_decimals,
            leader_token_amount=msg.token_amount,
            leader_quote_amount=msg.quote_amount,
        )
        self._enqueue(job)
        self._announce(TradeQueued(intent_id, trader.name, copy.side, msg.mint, queued_at))
        if copy.note:
            self.emit_log("info", f"{trader.name} {copy.side} {msg.mint[:6]}: {copy.note}")

    @handles(ExecuteTrade)
    async def on_execute(self, msg: ExecuteTrade) -> None:
        """A trade whose intent someone else already persisted (e.g. a manual sell from the facade)."""
        await self._ready.wait()
        try:
            row = await self.ctx.store.get_intent(msg.intent_id)
        except KeyError:
            self.emit_log("warning", f"execute: no intent {msg.intent_id}")
            return
        if row["status"] not in ("pending", "queued") or msg.intent_id in self._running:
            return
        job = self._job_from_row(row)
        job.slippage_bps, job.priority = msg.slippage_bps, max(msg.priority, job.priority)
        job.manual = msg.manual or job.manual
        if msg.priority_fee_micro_lamports is not None:
            job.fee_micro_lamports = msg.priority_fee_micro_lamports
        if msg.priority_fee_cap_lamports is not None:
            job.fee_cap_lamports = msg.priority_fee_cap_lamports
        job.jito_tip_lamports = msg.jito_tip_lamports or job.jito_tip_lamports
        await self.ctx.store.update_intent(msg.intent_id, status="queued", queued_at=time.time())
        self._enqueue(job)
        self._announce(TradeQueued(job.intent_id, job.trader, job.side, job.mint))

    @handles(ManualSell)
    async def on_manual_sell(self, msg: ManualSell) -> None:
        await self._ready.wait()
        try:
            intent_id = await self._manual_sell(msg.mint, msg.percent)
        except Exception as exc:  # noqa: BLE001 - the caller gets the reason
            if not msg.future.done():
                msg.future.set_exception(exc)
            return
        if not msg.future.done():
            msg.future.set_result(intent_id)

    async def _manual_sell(self, mint: str, percent: float) -> int:
        if not self.accepting:
            raise RuntimeError("the engine is shutting down")
        inputs = await self._policy_inputs(trader="manual", mint=mint, wallet=self.wallet)
        available = inputs["position_amount"] - inputs["in_flight_sell_amount"]
        if available <= 0:
            raise ValueError(f"no open position in {mint}")
        amount = available if percent >= 100 else int(available * percent) // 100
        if amount <= 0:
            raise ValueError(f"{percent:g}% of the position rounds to zero")
        leader_signature = f"manual-{uuid.uuid4().hex}"
        now = time.time()
        intent_id, _ = await self.ctx.store.record_intent(
            leader_signature=leader_signature,
            trader="manual",
            wallet=self.wallet,
            side="sell",
            mint=mint,
            amount_in=amount,
            token_decimals=inputs["decimals"],
            detected_at=now,
            status="queued",
            queued_at=now,
        )
        job = Job(
            intent_id=intent_id,
            leader_signature=leader_signature,
            trader="manual",
            trader_wallet="",
            side="sell",
            mint=mint,
            amount_in=amount,
            slippage_bps=MANUAL_SLIPPAGE_BPS,
            priority=100,
            fee_cap_lamports=200_000,
            fee_budget_lamports=210_000,
            detected_at=now,
            decimals=inputs["decimals"],
            manual=True,
        )
        self._enqueue(job)
        self._announce(TradeQueued(intent_id, "manual", "sell", mint, now))
        return intent_id

    def _announce(self, event: Any) -> None:
        self.ctx.publish(event)

    # -- one trade -------------------------------------------------------------------------------------
    async def _run_job(self, job: Job) -> None:
        try:
            if self.mode == "paper":
                await self._paper(job)
            else:
                await self._live(job)
        except asyncio.CancelledError:
            raise  # shutdown: the intent stays in flight and the next start reconciles it
        except Exception as exc:  # noqa: BLE001 - never leave an intent without an outcome
            text = f"{type(exc).__name__}: {exc}"
            self.emit_log("error", f"trade {job.intent_id} hit an error: {text}")
            row = await self.ctx.store.get_intent(job.intent_id)
            if row["status"] == "sent":
                # It may still land: follow it like a restart would.
                await asyncio.sleep(1.0)
                job.resume = (row["signature"], bytes(row["signed_tx"]), int(row["last_valid_block_height"]))
                self._enqueue(job)
            else:
                await self._fail(job, f"error: {text}"[:200])

    async def _live(self, job: Job) -> None:
        if self.rpc is None or self.keypair is None:
            await self._fail(job, "no RPC endpoint or wallet")
            return
        if job.resume is not None:
            signature, raw, last_valid = job.resume
            job.resume = None
            outcome, status = await self._await_landing(signature, raw, last_valid)
            if await self._conclude(job, signature, outcome, status):
                return
        while True:
            if job.rounds_used >= MAX_SIGNED_ROUNDS:
                await self._fail(job, "retries used up")
                return
            try:
                build, quote = await self._build(job)
            except SwapApiError as exc:
                await self._fail(job, str(exc))
                return
            signed = sign_swap(build.transaction, self.keypair)
            signature = str(signed.signatures[0])
            raw = bytes(signed)
            job.rounds_used += 1
            job.quote = quote
            await self.ctx.store.mark_sent(
                job.intent_id,
                signature=signature,
                signed_tx=raw,
                last_valid_block_height=build.last_valid_block_height,
                attempts=job.rounds_used,
            )
            outcome, status = await self._await_landing(signature, raw, build.last_valid_block_height)
            if await self._conclude(job, signature, outcome, status):
                return

    async def _build(self, job: Job) -> tuple[Any, dict[str, Any]]:
        if self.swap_api is None:
            raise SwapApiError("no swap API configured (SWAP_API_URL)")
        input_mint, output_mint = (WSOL_MINT, job.mint) if job.side == "buy" else (job.mint, WSOL_MINT)
        quote = await self._retry(
            lambda: self.swap_api.quote(input_mint, output_mint, job.amount_in, job.slippage_bps)
        )
        build = await self._retry(
            lambda: self.swap_api.swap(
                self.wallet,
                quote,
                priority_fee_micro_lamports=job.fee_micro_lamports,
                priority_fee_cap_lamports=job.fee_cap_lamports,
                jito_tip_lamports=job.jito_tip_lamports,
            )
        )
        return build, quote

    @staticmethod
    async def _retry(call: Any, attempts: int = 3) -> Any:
        for attempt in range(attempts):
            try:
                return await call()
            except SwapApiError as exc:
                if not exc.retryable or attempt == attempts - 1:
                    raise
                await asyncio.sleep(0.2 * (2**attempt))
        raise AssertionError("unreachable")

    async def _await_landing(self, signature: str, raw: bytes, last_valid: int) -> tuple[str, dict | None]:
        """Re-send the same bytes until the signature is confirmed, or its blockhash has expired."""
        loop = asyncio.get_running_loop()
        next_send = 0.0
        delay = 0.05
        while True:
            if loop.time() >= next_send:
                next_send = loop.time() + RESEND_INTERVAL_S
                try:
                    await self.rpc.send_raw_transaction(raw, skip_preflight=True, max_retries=0)
                except Exception as exc:  # noqa: BLE001 - a refused send is retried with the same bytes
                    self.log.debug("send of %s refused: %s", signature[:8], exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, STATUS_POLL_MAX_S)
            try:
                status = (await self.rpc.get_signature_statuses([signature]))[0]
                if _landed(status):
                    return "landed", status
                height = await self.rpc.get_block_height()
                if height > last_valid:
                    # Expired; one last look (it may have landed in the final valid block).
                    final = (await self.rpc.get_signature_statuses([signature], search_history=True))[0]
                    if final is not None:
                        if _landed(final):
                            return "landed", final
                        continue  # seen but not yet confirmed: wait for it
                    return "expired", None
            except Exception as exc:  # noqa: BLE001 - keep following; never conclude without an answer
                self.log.debug("status of %s unavailable: %s", signature[:8], exc)

    async def _conclude(self, job: Job, signature: str, outcome: str, status: dict | None) -> bool:
        """Record how one signed transaction ended. True when the trade is finished, False to re-quote."""
        if outcome == "expired":
            await self.ctx.store.close_attempt(
                signature, status="expired", err="blockhash expired before landing"
            )
            if self._may_requote(job):
                self.emit_log(
                    "warning", f"trade {job.intent_id}: blockhash expired before landing; re-quoting"
                )
                return False
            await self._fail(job, "expired before landing", signature)
            return True
        assert status is not None
        tx = await self._fetch_tx(signature)
        if tx is not None:
            self._note_balance_from_tx(tx)
        err = status.get("err")
        if err is None:
            await self._settle(job, signature, tx)
            return True
        fee = int((tx or {}).get("meta", {}).get("fee") or 0)
        job.fees_paid += fee
        text = error_text(err)
        await self.ctx.store.close_attempt(signature, status="failed", err=text, fee_lamports=fee)
        if is_slippage_error(err) and self._may_requote(job):
            self.emit_log("warning", f"trade {job.intent_id}: {text}; re-quoting once")
            return False
        await self._fail(job, f"failed on chain: {text}", signature)
        return True

    def _may_requote(self, job: Job) -> bool:
        fresh = job.detected_at is None or time.time() - job.detected_at < REQUOTE_MAX_AGE_S
        return job.rounds_used < MAX_SIGNED_ROUNDS and fresh and (self.accepting or job.side == "sell")

    async def _fetch_tx(self, signature: str) -> dict[str, Any] | None:
        deadline = time.monotonic() + TX_FETCH_DEADLINE_S
        delay = 0.05
        while time.monotonic() < deadline:
            try:
                raw = await self.rpc.get_transaction_raw(signature)
                if raw is not None:
                    document = orjson.loads(raw)
                    return document.get("result") if "meta" not in document else document
            except Exception as exc:  # noqa: BLE001 - keep trying until the deadline
                self.log.debug("getTransaction %s: %s", signature[:8], exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
        return None

    async def _settle(
        self,
        job: Job,
        signature: str | None,
        tx: dict[str, Any] | None,
        fill: tuple[int, int, int, int | None] | None = None,
        reason: str = "",
    ) -> None:
        if fill is None and tx is not None:
            fill = our_fill(tx, self.wallet, job.mint, job.side)
        if fill is None:
            # Our transaction landed but its amounts cannot be read: fall back to what the quote promised.
            quote = job.quote or {}
            in_amount, out_amount = int(quote.get("inAmount") or 0), int(quote.get("outAmount") or 0)
            tokens, lamports = (out_amount, in_amount) if job.side == "buy" else (in_amount, out_amount)
            fee = int((tx or {}).get("meta", {}).get("fee") or 0)
            fill = (tokens, lamports, fee, job.decimals)
            reason = reason or "amounts from the quote (transaction unreadable)"
        tokens, lamports, fee, decimals = fill
        result = await self.ctx.store.settle_intent(
            job.intent_id,
            token_amount=tokens,
            quote_amount=lamports,
            fee_lamports=fee + job.fees_paid,
            decimals=decimals or job.decimals,
            signature=signature,
            reason=reason,
        )
        intent = result["intent"]
        self._announce(
            TradeExecuted(
                job.intent_id,
                job.trader,
                job.side,
                job.mint,
                signature or "",
                tokens,
                lamports,
                fee,
                intent["confirmed_at"] or time.time(),
            )
        )
        if result["applied"]:
            await self._after_success(job, int(result["realized_delta_lamports"]))

    async def _paper(self, job: Job) -> None:
        """Paper mode never sends: fill at a fresh quote, or at the leader's price plus full slippage."""
        fill: tuple[int, int, int, int | None] | None = None
        reason = "paper: at quote"
        if self.swap_api is not None:
            input_mint, output_mint = (WSOL_MINT, job.mint) if job.side == "buy" else (job.mint, WSOL_MINT)
            try:
                quote = await self.swap_api.quote(input_mint, output_mint, job.amount_in, job.slippage_bps)
                tokens, lamports = (
                    (int(quote["outAmount"]), int(quote["inAmount"]))
                    if job.side == "buy"
                    else (int(quote["inAmount"]), int(quote["outAmount"]))
                )
                fill = (tokens, lamports, 0, job.decimals)
            except SwapApiError as exc:
                self.log.info("paper quote unavailable: %s", exc)
        if fill is None:
            priced = paper_fill(
                job.side, job.amount_in, job.leader_token_amount, job.leader_quote_amount, job.slippage_bps
            )
            if priced is None:
                await self._fail(job, "paper: no quote and no leader price")
                return
            fill = (priced[0], priced[1], 0, job.decimals)
            reason = "paper: leader price + slippage"
        await self._settle(job, None, None, fill, reason)

    # -- outcomes --------------------------------------------------------------------------------------
    async def _fail(
        self, job: Job, reason: str, signature: str | None = None, *, count_failure: bool = True
    ) -> None:
        row = await self.ctx.store.fail_intent(job.intent_id, reason=reason, fee_lamports=job.fees_paid)
        if row["status"] != "failed":
            return  # it had executed after all
        self._announce(TradeFailed(job.intent_id, job.trader, job.side, job.mint, reason, signature))
        self.emit_log("warning", f"trade {job.intent_id} ({job.trader} {job.side}) failed: {reason}")
        trader = self.ctx.traders.get(job.trader)
        if job.manual or trader is None or not count_failure:
            return
        state = self._trader_state.get(trader.wallet) or {}
        failures = int(state.get("consecutive_failures") or 0) + 1
        changes: dict[str, Any] = {"consecutive_failures": failures}
        limit = self.ctx.settings.limits.auto_pause_after_failures
        if failures >= limit and trader.active:
            why = f"auto-paused after {failures} failed trades"
            changes["paused_reason"] = why
            try:
                self.ctx.traders.set_active(trader.name, False)
            except KeyError:
                pass
            self.ctx.state.update_trader(trader.name, active=False, paused_reason=why)
            for worker in ("monitor", "websocket"):
                self.ctx.send(worker, StopMonitoring((trader.wallet,)), force=True)
            self.emit_log("warning", f"{trader.name}: {why}")
        await self._save_trader_state(trader.name, trader.wallet, **changes)

    async def _after_success(self, job: Job, realized_delta: int) -> None:
        trader = self.ctx.traders.get(job.trader)
        if trader is not None and not job.manual:
            state = self._trader_state.get(trader.wallet) or {}
            copied = int(state.get("trades_copied") or 0) + 1
            pnl = int(state.get("realized_pnl_lamports") or 0) + realized_delta
            now = time.time()
            await self._save_trader_state(
                trader.name,
                trader.wallet,
                consecutive_failures=0,
                trades_copied=copied,
                last_trade_at=now,
                realized_pnl_lamports=pnl,
            )
            self.ctx.state.update_trader(
                trader.name, trades_copied=copied, last_trade_at=now, pnl_lamports=pnl
            )
        if job.side == "sell" and realized_delta < 0:
            daily = await self.ctx.store.daily()
            if kill_switch_tripped(daily["realized_pnl_lamports"], self.limits):
                self._trip_kill_switch(daily["realized_pnl_lamports"])

    def _trip_kill_switch(self, realized: int) -> None:
        if self.ctx.state.kill_switch:
            return
        reason = (
            f"daily loss cap: realised {realized / 1e9:+.4f} SOL today "
            f"(cap {self.limits.daily_loss_cap_lamports / 1e9:g} SOL); buying paused"
        )
        self.ctx.state.set(kill_switch=reason)
        self.ctx.publish(KillSwitchTripped(reason, realized))
        self.ctx.publish(LogEvent("error", self.name, f"kill switch: {reason}"))

    async def _save_trader_state(self, name: str, wallet: str, **fields_: Any) -> None:
        if not wallet:
            return
        await self.ctx.store.set_trader_state(wallet, name, **fields_)
        state = self._trader_state.setdefault(wallet, {"wallet": wallet, "name": name})
        state.update(fields_)

    # -- balance, slot and unrealised PnL ----------------------------------------------------------------
    async def _refresh_balance(self, *, force: bool = False, max_age: float = BALANCE_REFRESH_S) -> None:
        if self.rpc is None or self.keypair is None:
            return
        if not force and time.monotonic() - self._balance_at < max_age:
            return
        result = await self.rpc.call("getBalance", [self.wallet, {"commitment": self.rpc.commitment}])
        slot = int(result["context"]["slot"])
        self._balance_at = time.monotonic()
        self.slot = max(self.slot or 0, slot)
        if slot >= self._balance_slot:
            self._balance_slot = slot
            self.balance = int(result["value"])
            self.ctx.state.set(sol_balance=self.balance)

    def _note_balance_from_tx(self, tx: dict[str, Any]) -> None:
        """Our own transaction tells our exact balance at its slot (the fee payer is account 0)."""
        try:
            slot = int(tx["slot"])
            balance = int(tx["meta"]["postBalances"][0])
        except (KeyError, IndexError, TypeError, ValueError):
            return
        if slot >= self._balance_slot:
            self._balance_slot = slot
            self.balance = balance
            self.ctx.state.set(sol_balance=balance)

    async def tick(self) -> None:
        if not self._ready.is_set():
            return
        if self._parked or self._unwritten_skips:
            await self._retry_unwritten()
        try:
            await self._refresh_balance()
        except Exception as exc:  # noqa: BLE001 - the next tick tries again
            self.log.debug("balance refresh failed: %s", exc)
        try:
            await self._price_one_position()
        except Exception as exc:  # noqa: BLE001 - unrealised PnL is informational
            self.log.debug("position pricing failed: %s", exc)

    async def _price_one_position(self) -> None:
        """Unrealised PnL from a sell quote, one position per interval (bounded API use)."""
        interval = PNL_REFRESH_S.get(self.mode, PNL_REFRESH_DEFAULT_S)
        if self.swap_api is None or time.monotonic() - self._pnl_at < interval:
            return
        positions = [p for p in self.ctx.state.snapshot().positions if p.amount > 0]
        if not positions:
            return
        self._pnl_at = time.monotonic()
        view = positions[self._pnl_cursor % len(positions)]
        self._pnl_cursor += 1
        quote = await self.swap_api.quote(view.mint, WSOL_MINT, view.amount, 50)
        unrealized = int(quote["outAmount"]) - view.cost_lamports
        current = self.ctx.state.positions.get(view.mint)
        if current is not None and current.amount == view.amount:
            self.ctx.state.set_position(_with_unrealized(current, unrealized), view.mint)


def _landed(status: dict[str, Any] | None) -> bool:
    if status is None:
        return False
    level = status.get("confirmationStatus")
    if level is None:
        return status.get("confirmations") is None  # rooted/finalized answers carry no count
    return level in ("confirmed", "finalized")


def _with_unrealized(view: PositionView, unrealized: int) -> PositionView:
    return replace(view, unrealized_pnl_lamports=unrealized)
