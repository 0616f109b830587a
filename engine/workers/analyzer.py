"""The analyzer worker: fetches (unless a stream carried it) each new transaction of a followed wallet, decodes
it, emits SWAP_DETECTED.

Signatures arrive from the websocket and from polling as NewTransactions; the analyzer is where they
meet, so it dedups them here by (signature, wallet) in an LRU that lives in the context
(ctx.seen_signatures) and survives worker restarts.

ANALYZE_TRANSACTION is the unit of work: each new signature becomes one AnalyzeTransaction in the
analyzer's own fetch queue, right where it is deduped (one AnalyzeTransaction sent here takes the same
path). The senders keep sending NewTransactions batches rather than one message per signature: a poll's
batch must be accepted or refused whole (the monitor's cut-off moves only when it was), it is one inbox
hop either way, and the dedup stays in one place, at the queue's door.

A full-transaction stream (`[rpc] stream = "block" | "helius"`) hands the transaction over with its
signature, as the getTransaction-result JSON bytes; those go to the decoder as they are, with no fetch, the
same bytes-to-the-child path a fetched transaction takes (the analyzer never parses them itself).

Fetches run concurrently (a fixed set of fetcher tasks over the queue, whose depth is reported);
getTransaction is retried (tenacity) while a just-landed transaction is still null; decoding runs in a
DecodePool (child processes bounded by MAX_WORKER_MEMORY) or inline when engine.decode_processes is 0.
A bad transaction is logged and skipped; it never takes the worker down.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_result,
    stop_after_attempt,
    wait_chain,
    wait_fixed,
)

from engine.chain.rpc import RpcError, RpcPool
from engine.decoding import DecodedTransaction, DecodeError, decode_raw
from engine.decoding.pool import DecodePool
from engine.messages import AnalyzeTransaction, NewTransactions, SwapDetected, TradeSkipped, now
from engine.policy import signal_time, venue_skip
from engine.worker import BaseWorker, WorkerDisabled, handles

MAX_PENDING = 20_000  # signatures waiting for a fetcher; beyond this polling re-offers them later
FETCHERS = 32
NULL_RETRY_DELAYS_S = (0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0, 2.0, 2.0, 2.0)  # ~13 s in all, 2 s cap per step
RPC_ERROR_RETRIES = 2
MAX_TASKS_PER_CHILD = 1000  # recycles decoder children now and then so a leak cannot grow forever
# Stateless tenacity strategies, shared by every fetch: the i-th retry waits NULL_RETRY_DELAYS_S[i].
NULL_RETRY_WAIT = wait_chain(*(wait_fixed(delay) for delay in NULL_RETRY_DELAYS_S))
NULL_RETRY_STOP = stop_after_attempt(len(NULL_RETRY_DELAYS_S) + 1)


class AnalyzerWorker(BaseWorker):
    name = "analyzer"

    async def setup(self) -> None:
        if not self.ctx.endpoints.rpc_urls:
            raise WorkerDisabled("no RPC URL configured")
        settings = self.ctx.settings
        self.rpc = self.ctx.rpc_pool()
        processes = settings.engine.decode_processes
        self.pool: DecodePool | None = None
        if processes > 0:
            self.pool = DecodePool(
                processes,
                max_tasks_per_child=MAX_TASKS_PER_CHILD,
                max_memory_bytes=settings.engine.max_worker_memory_bytes,
            )
            # Children start on first use; warm them now so the first real swap is not 2 s late.
            for _ in range(processes):
                self.pool.submit(b"{}").add_done_callback(lambda f: f.exception())
        # A local cluster's swaps (embedded or a standalone `zapbot sim`, in any mode) are plain System +
        # SPL Token + Memo transactions with no DEX program to recognise: the decoder reports them from
        # balance deltas with venue "unknown", and limits.copy_unknown_venues decides whether they count.
        self.allow_unknown_venue = True
        self.reported_no_swaps = False
        self.seen = self.ctx.seen_signatures
        self.pending: deque[AnalyzeTransaction] = deque()
        self.wakeup = asyncio.Event()
        self.active = 0
        self.ctx.extra_depths["analyzer"] = lambda: len(self.pending) + self.active
        self.fetchers = [self.spawn(self._fetcher(), "fetcher") for _ in range(FETCHERS)]
        mode = f"{processes} decode processes" if self.pool else "inline decoding"
        self.ready_detail = mode
        self.set_state("ready", mode)

    async def _record_skip(
        self, skip: TradeSkipped, detected_at: float, wallet: str, detail: str = ""
    ) -> None:
        """The same path as the executor's skips: written by the data worker, then announced. A swap fetched
        again (after a restart, before its cut-off moved) has its record already: nothing is written or
        announced twice (the store keys skips like intents, decisions.already_decided)."""
        skip_id = await self.ctx.store.record_skip(
            leader_signature=skip.leader_signature,
            trader=skip.trader,
            side=skip.side,
            mint=skip.mint,
            reason=skip.reason,
            detected_at=detected_at,
            detail=detail,
        )
        self.ctx.detections.closed(wallet, skip.leader_signature)
        if skip_id is not None:
            self.ctx.publish(skip)

    async def cleanup(self) -> None:
        for task in getattr(self, "fetchers", []):
            task.cancel()
        self.ctx.extra_depths.pop("analyzer", None)
        if getattr(self, "pool", None) is not None:
            pool, self.pool = self.pool, None
            # close() joins the children: do it off the loop so heartbeats keep flowing.
            await asyncio.get_running_loop().run_in_executor(None, pool.close)
        if hasattr(self, "rpc"):
            await self.rpc.close()

    def in_flight(self) -> int:
        return len(getattr(self, "pending", ())) + getattr(self, "active", 0)

    # -- intake ---------------------------------------------------------------------------------------------
    @handles(NewTransactions)
    def on_new(self, msg: NewTransactions) -> None:
        count = len(msg.signatures)
        slots = msg.slots if len(msg.slots) == count else (None,) * count
        raws = msg.transactions if len(msg.transactions) == count else (None,) * count
        for signature, slot, raw in zip(msg.signatures, slots, raws):
            self._enqueue(AnalyzeTransaction(signature, msg.wallet, msg.source, msg.seen_at, slot, raw))

    @handles(AnalyzeTransaction)
    def on_analyze(self, msg: AnalyzeTransaction) -> None:
        self._enqueue(msg)

    def _enqueue(self, job: AnalyzeTransaction) -> None:
        if not self.accepting:
            return
        if not self.seen.add(job.signature, job.wallet):
            self.ctx.state.bump("duplicates_skipped")
            return
        if len(self.pending) >= MAX_PENDING:
            self.seen.discard(job.signature, job.wallet)  # so a later poll can offer it again
            self.ctx.state.bump("analyzer_overflow")
            return
        self.ctx.state.bump(f"seen_{job.source}")
        self.pending.append(job)
        self.wakeup.set()

    # -- work -------------------------------------------------------------------------------------------------
    async def _fetcher(self) -> None:
        while True:
            if not self.pending:
                self.wakeup.clear()
                await self.wakeup.wait()
                continue
            job = self.pending.popleft()
            self.active += 1
            try:
                await self._process(job)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - one bad transaction must not stop the fetcher
                self.seen.discard(job.signature, job.wallet)  # not done: the next poll offers it again
                self.ctx.state.bump("analyzer_errors")
                self.emit_log(
                    "warning", f"analysing {job.signature[:12]}… failed: {type(exc).__name__}: {exc}"
                )
            finally:
                self.active -= 1

    async def _fetch(self, job: AnalyzeTransaction) -> bytes | None:
        """The raw transaction, or None when it stayed null through every NULL_RETRY_DELAYS_S step; an
        RpcError is retried like a null answer, RPC_ERROR_RETRIES times, then raised."""
        errors = 0

        async def attempt() -> bytes | None:
            nonlocal errors
            try:
                return await self.rpc.get_transaction_raw(job.signature)
            except RpcError as exc:
                errors += 1
                if errors > RPC_ERROR_RETRIES:
                    raise
                self.log.debug("getTransaction %s: %s; retrying", job.signature[:12], exc)
                return None

        def not_yet_visible(_state: RetryCallState) -> None:
            # A websocket notification can beat the RPC node's view of the transaction: wait, ask again.
            self.ctx.state.bump("tx_not_yet_visible")

        retrying = AsyncRetrying(
            retry=retry_if_result(lambda raw: raw is None),
            wait=NULL_RETRY_WAIT,
            stop=NULL_RETRY_STOP,
            before_sleep=not_yet_visible,
            retry_error_callback=lambda _state: None,
        )
        return await retrying(attempt)

    async def _decode(self, raw: bytes, wallet: str) -> DecodedTransaction:
        if self.pool is not None:
            return await self.pool.decode(raw, wallet, allow_unknown_venue=self.allow_unknown_venue)
        return decode_raw(raw, wallet, allow_unknown_venue=self.allow_unknown_venue)

    async def _process(self, job: AnalyzeTransaction) -> None:
        raw = job.raw
        if raw is not None:
            # A full-transaction stream (blockSubscribe, transactionSubscribe) carried it: no round trip.
            self.ctx.state.bump("tx_from_stream")
        else:
            try:
                raw = await self._fetch(job)
            except RpcError as exc:
                self.seen.discard(job.signature, job.wallet)
                self.ctx.state.bump("tx_fetch_failed")
                self.emit_log("warning", f"getTransaction {job.signature[:12]}… failed: {exc}")
                return
        if raw is None:
            self.seen.discard(job.signature, job.wallet)
            self.ctx.state.bump("tx_not_found")
            self.emit_log(
                "warning", f"transaction {job.signature[:12]}… not found; polling will offer it again"
            )
            return
        try:
            decoded = await self._decode(raw, job.wallet)
        except DecodeError as exc:
            self.ctx.state.bump("decode_errors")
            self.emit_log("warning", f"could not decode {job.signature[:12]}…: {exc}")
            self.ctx.detections.opened(job.wallet, job.signature, 0)  # fetching it again cannot help
            return
        self.ctx.state.bump("transactions_analyzed")
        if decoded.failed:
            self.ctx.detections.opened(job.wallet, job.signature, 0)
            return
        trader = self.ctx.traders.by_wallet(job.wallet)
        trader_name = trader.name if trader is not None else ""
        cache = self.ctx.cache
        own_swaps = [swap for swap in decoded.swaps if swap.wallet == job.wallet]
        # Done once each swap has its record (the executor's intent or skip, or a skip recorded here).
        self.ctx.detections.opened(job.wallet, job.signature, len(own_swaps))
        if not own_swaps:
            self._no_swaps_found()
        elif self.reported_no_swaps and not self.ctx.state.counters.get("swaps_detected", 0):
            self.set_state("ready", self.ready_detail)  # the "no swaps found" detail no longer holds
        slot = decoded.slot if decoded.slot is not None else job.slot
        detected_at = now()
        signal_at = signal_time(decoded.block_time, slot, cache.slot, detected_at)
        if own_swaps and (decoded.block_time is not None or (slot is not None and cache.slot is not None)):
            # The detection lag, once per transaction; without a leader time there is nothing to measure.
            self.ctx.state.latency.detected(trader_name, signal_at, detected_at)
        for swap in own_swaps:
            event = SwapDetected(
                leader_signature=job.signature,
                wallet=job.wallet,
                trader=trader_name,
                side=swap.side,
                mint=swap.mint,
                token_amount=swap.token_amount,
                token_decimals=swap.token_decimals,
                quote_mint=swap.quote_mint,
                quote_amount=swap.quote_amount,
                venue=swap.venue,
                router=swap.router,
                slot=slot,
                source=job.source,
                seen_at=job.seen_at,
                detected_at=detected_at,
                leader_pre_amount=swap.owner_pre,
                leader_post_amount=swap.owner_post,
                signal_at=signal_at,
            )
            self.ctx.state.bump("swaps_detected")
            if swap.token_decimals is not None:
                cache.put_decimals(swap.mint, swap.token_decimals)
            skipped = venue_skip(swap.venue, self.ctx.settings.limits)
            if skipped is not None:
                skip = TradeSkipped(job.signature, trader_name, swap.side, swap.mint, skipped.reason)
                record = self._record_skip(skip, event.detected_at, job.wallet, skipped.detail)
                self.spawn(record, "record skip")
                self.ctx.publish(event)
                continue
            if not self.ctx.send("executor", event):
                # Detection never blocks on a full executor: the swap is recorded as a skip with its reason.
                self.ctx.state.bump("swaps_dropped")
                skip = TradeSkipped(job.signature, trader_name, swap.side, swap.mint, "queue full")
                self.spawn(self._record_skip(skip, event.detected_at, job.wallet), "record skip")
                self.emit_log("warning", f"executor queue full: swap {job.signature[:12]}… not copied")
            self.ctx.publish(event)
        if time.time() - job.seen_at > 60:
            self.ctx.state.bump("late_detections")

    def _no_swaps_found(self) -> None:
        """A followed wallet's transaction held no swap of theirs: count it, and while no swap at all has
        been found say so once, so "copies nothing" has a visible cause (Workers pane and the log)."""
        state = self.ctx.state
        state.bump("transactions_without_swaps")
        # A plain dict read of the live counters: a full snapshot per transaction would cost too much.
        if state.counters.get("swaps_detected", 0):
            return
        without = state.counters.get("transactions_without_swaps", 0)
        if without == 1 or without % 10 == 0:
            self.set_state("ready", f"{without} transaction(s) analysed, no swaps found")
        if not self.reported_no_swaps:
            self.reported_no_swaps = True
            self.emit_log(
                "warning",
                "detection: followed wallets' transactions are analysed but hold no swap the decoder "
                "recognises (not a SOL trade, or an unknown venue with limits.copy_unknown_venues off?)",
            )

    def rpc_pool(self) -> RpcPool:
        return self.rpc
