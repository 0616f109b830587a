"""The monitor worker: polls getSignaturesForAddress per followed wallet from its cut-off signature.

Polling is the safety net under the websocket: every wallet is polled every `engine.poll_interval_s`,
faster (`poll_interval_ws_down_s`) while the websocket is down (health.ws_ok in EngineState, kept by the
websocket) or does not cover the wallet, and for a short while after a reconnect gap. The websocket tells
each change of coverage in one CoverageChanged message: uncovered wallets are polled soon, and a gap (covered
again after a drop) is backfilled at once. Polls are spread over time by a due-time heap, bounded in concurrency and rate limited by
the RPC pool's token bucket, so 10,000 wallets never turn into a burst. New successful signatures go to
the analyzer oldest first (it dedups them against the websocket). The cut-off only advances past signatures
whose swaps all have their record on disk (engine/detections.py), so a crash, a failed fetch or a full queue
never loses one: everything newer than the stored cut-off is offered again. Cut-offs are persisted in batches
through the data worker.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
import time
from dataclasses import dataclass, field
from typing import Any

from engine.chain.rpc import RpcError, RpcPool
from engine.messages import CoverageChanged, NewTransactions, StartMonitoring, StopMonitoring
from engine.worker import BaseWorker, WorkerDisabled, handles

PAGE_LIMIT = 1000
FIRST_POLL_LIMIT = 25
MAX_BACKFILL_PAGES = 3  # a longer gap is reported, not replayed: its trades are stale anyway
POLL_CONCURRENCY = 8
POLL_RATE_SHARE = 0.5  # of rpc.requests_per_second: the analyzer's getTransaction calls come first
CUTOFF_FLUSH_S = 3.0
GAP_GRACE_POLLS = 2  # fast polls kept after the websocket covers a wallet again
SINCE = "since:"  # a stored cut-off of this form: followed since that unix time, no signature passed yet


@dataclass(slots=True)
class _Wallet:
    wallet: str
    cutoff: str | None = None
    initialized: bool = False  # the cut-off was established (possibly as "no history yet")
    covered: bool = False  # the websocket holds a confirmed subscription for it
    fast_until: float = 0.0
    due: float = 0.0
    gen: int = 0
    polling: bool = False
    hurry: bool = False  # asked to poll again as soon as the running poll ends
    polls: int = 0
    started_at: float = 0.0  # wall-clock time following began
    # The last poll's signatures newer than the cut-off, oldest first, as (signature, failed on chain):
    # the cut-off advances over its leading run of done ones (engine/detections.py).
    listing: list[tuple[str, bool]] = field(default_factory=list)
    resumed: bool = False  # started_at came from a stored "since" marker (a previous run)


class MonitorWorker(BaseWorker):
    name = "monitor"
    tick_interval = 1.0

    async def setup(self) -> None:
        if not self.ctx.endpoints.rpc_urls:
            raise WorkerDisabled("no RPC URL configured")
        engine = self.ctx.settings.engine
        rpc = self.ctx.settings.rpc
        self.interval = engine.poll_interval_s
        self.fast_interval = min(engine.poll_interval_ws_down_s, engine.poll_interval_s)
        self.rpc = self.ctx.rpc_pool(
            requests_per_second=max(1.0, rpc.requests_per_second * POLL_RATE_SHARE), low_priority=True
        )
        self.wallets: dict[str, _Wallet] = {}
        self.heap: list[tuple[float, int, str, int]] = []
        self.seq = itertools.count()
        self.wake = asyncio.Event()
        self.slots = asyncio.Semaphore(POLL_CONCURRENCY)
        self.ws_was_ok = self.ws_ok
        self.dirty: dict[str, str] = {}
        self.last_flush = time.monotonic()
        self.rng = random.Random()
        self.errors = 0
        self.stored = await self._load_cutoffs()
        self.saved_once: dict[str, bool] = {}
        self.scheduler = self.spawn(self._scheduler(), "poll scheduler")
        self._show_status()

    async def _load_cutoffs(self) -> dict[str, str]:
        # The embedded cluster is a new chain each run: yesterday's signatures mean nothing there.
        if self.ctx.cluster is not None or "data" not in self.ctx.inboxes:
            return {}
        try:
            rows = await asyncio.wait_for(self.ctx.store.all_trader_state(), 10)
        except Exception as exc:  # noqa: BLE001 - start without them rather than not at all
            self.emit_log("warning", f"could not load poll cut-offs: {exc}")
            return {}
        return {
            wallet: row["cutoff_signature"] for wallet, row in rows.items() if row.get("cutoff_signature")
        }

    async def cleanup(self) -> None:
        scheduler = getattr(self, "scheduler", None)
        if scheduler is not None:
            scheduler.cancel()
        if hasattr(self, "dirty"):
            self._flush_cutoffs()
        if hasattr(self, "rpc"):
            await self.rpc.close()

    async def tick(self) -> None:
        for state in list(self.wallets.values()):
            if state.listing:
                self._advance(state)
        if self.dirty and time.monotonic() - self.last_flush >= CUTOFF_FLUSH_S:
            self._flush_cutoffs()

    # -- commands -------------------------------------------------------------------------------------
    @handles(StartMonitoring)
    def on_start(self, msg: StartMonitoring) -> None:
        now = time.monotonic()
        cutoffs = dict(zip(msg.wallets, msg.cutoffs)) if msg.cutoffs else {}
        for wallet in msg.wallets:
            if wallet in self.wallets:
                continue
            state = _Wallet(wallet, covered=False, started_at=time.time())
            cutoff = cutoffs.get(wallet) or self.stored.get(wallet)
            if cutoff and cutoff.startswith(SINCE):
                # Followed since then, and no signature was passed yet: start from that time, not now.
                state.started_at, state.resumed = float(cutoff[len(SINCE) :]), True
            elif cutoff:
                state.cutoff, state.initialized = cutoff, True
            else:
                # Saved before the first poll: an engine killed before it polls (or before the wallet has any
                # signature to hold as a cut-off) still starts from this moment after a restart.
                self.dirty[wallet] = f"{SINCE}{state.started_at:.3f}"
            self.wallets[wallet] = state
            # First polls are spread a little so a big batch starts smoothly; the bucket does the rest.
            self._schedule(state, now + self.rng.uniform(0, min(1.0, self.fast_interval)))
        if self.dirty:
            self._flush_cutoffs()
        self._show_status()

    @handles(StopMonitoring)
    def on_stop(self, msg: StopMonitoring) -> None:
        for wallet in msg.wallets:
            state = self.wallets.pop(wallet, None)
            if state is not None:
                state.gen += 1  # its heap entries are now stale
        self._show_status()

    @handles(CoverageChanged)
    def on_coverage(self, msg: CoverageChanged) -> None:
        now = time.monotonic()
        states = [self.wallets[w] for w in msg.wallets if w in self.wallets]
        for state in states:
            state.covered = msg.covered
            if msg.covered:
                state.fast_until = now + GAP_GRACE_POLLS * self.fast_interval
        if msg.gap:
            self.ctx.state.bump("gaps_detected")
            self._sooner(states, 0.0)
        elif not msg.covered:
            self._sooner(states, self.fast_interval)
        # The websocket updates its health before it tells a change: when that change took the websocket
        # as a whole down, every wallet moves to the fast interval now, not after its next slow poll.
        ws_ok = self.ws_ok
        if self.ws_was_ok and not ws_ok:
            self._sooner(self.wallets.values(), self.fast_interval)
        self.ws_was_ok = ws_ok
        self._show_status()

    # -- scheduling -------------------------------------------------------------------------------------
    @property
    def ws_ok(self) -> bool:
        """Every websocket connection is up (the websocket keeps this in EngineState)."""
        return self.ctx.state.health.ws_ok

    def _interval(self, state: _Wallet) -> float:
        fast = not self.ws_ok or not state.covered or time.monotonic() < state.fast_until
        return self.fast_interval if fast else self.interval

    def _schedule(self, state: _Wallet, due: float) -> None:
        state.gen += 1
        state.due = due
        heapq.heappush(self.heap, (due, next(self.seq), state.wallet, state.gen))
        self.wake.set()

    def _sooner(self, states: Any, within: float) -> None:
        now = time.monotonic()
        for state in states:
            if state.polling:
                state.hurry = True
                continue
            due = now + self.rng.uniform(0, within) if within > 0 else now
            if due < state.due:
                self._schedule(state, due)

    async def _scheduler(self) -> None:
        while True:
            if not self.heap:
                self.wake.clear()
                await self.wake.wait()
                continue
            due, _, wallet, gen = self.heap[0]
            state = self.wallets.get(wallet)
            if state is None or state.gen != gen or state.polling:
                heapq.heappop(self.heap)
                continue
            delay = due - time.monotonic()
            if delay > 0:
                self.wake.clear()
                try:
                    await asyncio.wait_for(self.wake.wait(), delay)
                except TimeoutError:
                    pass
                continue
            heapq.heappop(self.heap)
            await self.slots.acquire()
            if self.wallets.get(wallet) is not state or state.gen != gen:
                self.slots.release()
                continue
            state.polling = True
            self.spawn(self._poll(state), "poll")

    async def _poll(self, state: _Wallet) -> None:
        try:
            await self._poll_once(state)
        finally:
            state.polling = False
            state.polls += 1
            self.slots.release()
            if self.wallets.get(state.wallet) is state:
                interval = self._interval(state)
                # ±10% jitter keeps wallets that started together from polling in lockstep forever.
                due = time.monotonic() + (0.0 if state.hurry else interval * self.rng.uniform(0.9, 1.1))
                state.hurry = False
                self._schedule(state, due)

    async def _poll_once(self, state: _Wallet) -> None:
        wallet = state.wallet
        try:
            if not state.initialized:
                # Following starts now: the newest signature becomes the cut-off, except that whatever
                # landed since START_MONITORING (by block time, second resolution) still counts as new.
                limit = PAGE_LIMIT if state.resumed else FIRST_POLL_LIMIT
                recent = await self.rpc.get_signatures_for_address(wallet, limit=limit)
                state.initialized = True
                entries = [e for e in recent if (e["block_time"] or 0) >= state.started_at - 1]
                if recent and not entries:
                    state.cutoff = recent[0]["signature"]
                    self.dirty[wallet] = state.cutoff
                    # A first cut-off is saved at once: an engine killed right after start must still find,
                    # on restart, what this wallet did while it was down.
                    self._flush_cutoffs()
                    return
                if len(entries) < len(recent):
                    state.cutoff = recent[len(entries)]["signature"]
                    self.dirty[wallet] = state.cutoff
                    self._flush_cutoffs()  # as above: what is newer is fetched again after a crash
            else:
                entries = await self._since_cutoff(state)
        except RpcError as exc:
            self.errors += 1
            self.ctx.state.bump("poll_errors")
            if self.errors <= 3 or self.errors % 100 == 0:
                self.emit_log("warning", f"polling {wallet[:8]}… failed: {exc}")
            return
        self.ctx.state.bump("polls")
        if not entries:
            return
        entries.reverse()  # oldest first
        ledger = self.ctx.detections
        # Everything newer than the cut-off that is not done yet is offered (again): a signature whose fetch
        # failed, or that a crash interrupted, is analysed again; one in progress is dropped by the dedup.
        good = [e for e in entries if e["err"] is None and not ledger.done(wallet, e["signature"])]
        if good:
            message = NewTransactions(
                wallet, tuple(e["signature"] for e in good), "poll", tuple(e["slot"] for e in good)
            )
            if not self.ctx.send("analyzer", message):
                # The analyzer is saturated; the cut-off stays, so the next poll offers these again.
                self.ctx.state.bump("poll_deferred")
                return
            self.ctx.state.bump("poll_signatures", len(good))
        state.listing = [(e["signature"], e["err"] is not None) for e in entries]
        self._advance(state)

    def _advance(self, state: _Wallet) -> None:
        """Move the cut-off over the oldest-first run of signatures whose swaps are all recorded (or that
        failed on chain): never past one still being fetched, decoded or decided."""
        ledger = self.ctx.detections
        passed: list[str] = []
        for signature, failed in state.listing:
            if not (failed or ledger.done(state.wallet, signature)):
                break
            passed.append(signature)
        if not passed:
            return
        wallet = state.wallet
        state.listing = state.listing[len(passed) :]
        state.cutoff = passed[-1]
        ledger.forget(wallet, passed)
        self.dirty[wallet] = state.cutoff
        if wallet not in self.stored and not self.saved_once.get(wallet):
            self.saved_once[wallet] = True
            self._flush_cutoffs()

    async def _since_cutoff(self, state: _Wallet) -> list[dict[str, Any]]:
        """Every signature newer than the cut-off, newest first, paging back with `before`."""
        collected: list[dict[str, Any]] = []
        before: str | None = None
        for _page in range(MAX_BACKFILL_PAGES):
            page = await self.rpc.get_signatures_for_address(
                state.wallet, until=state.cutoff, before=before, limit=PAGE_LIMIT
            )
            collected.extend(page)
            if len(page) < PAGE_LIMIT:
                return collected
            before = page[-1]["signature"]
        self.emit_log(
            "warning",
            f"{state.wallet[:8]}…: more than {len(collected)} transactions since the "
            "last poll; older ones are skipped",
        )
        return collected

    # -- persistence and reporting ----------------------------------------------------------------------
    def _flush_cutoffs(self) -> None:
        self.last_flush = time.monotonic()
        if not self.dirty or "data" not in self.ctx.inboxes:
            self.dirty.clear()
            return
        names = {t.wallet: t.name for t in self.ctx.traders.all()}
        batch = {wallet: (names.get(wallet, ""), signature) for wallet, signature in self.dirty.items()}
        self.dirty = {}
        future = self.ctx.store.set_cutoffs(batch)

        def done(f: Any) -> None:
            if f.exception() is not None:
                self.log.warning("saving poll cut-offs failed: %s", f.exception())

        future.add_done_callback(done)

    def _show_status(self) -> None:
        count = len(self.wallets)
        self.ctx.state.set(monitored_wallets=count)
        mode = (
            f"every {self.interval:g}s" if self.ws_ok else f"every {self.fast_interval:g}s (websocket down)"
        )
        self.set_state("ready", f"{count} wallets, polling {mode}")

    def rpc_pool(self) -> RpcPool:
        return self.rpc
