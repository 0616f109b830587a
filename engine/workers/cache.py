"""The cache worker: keeps the latest blockhash and slot in the engine's ChainCache fresh and purges it,
reads each new mint's metadata once (its symbol, name and decimals: engine/chain/token_meta.py), and runs
the exit runner (engine/execution/exit_runner.py), whose sell quote of each open lot is both its
unrealised PnL and what its exit rules judge.

Token names are read off the copy path: a mint not named yet is asked for as soon as a bus event names it
(a detected swap, a queued copy) or the state shows it (a trade, a skip, a position, an untracked holding),
with its Metaplex PDA, in one getMultipleAccounts of the low-priority budget; the answer is stored
(token_meta, per chain) and put in the state, so the console and Telegram read it without a round trip and
a restart does not ask again.

Other workers read the cache without a round trip, through `ctx.cache` (engine/caches.py):
`latest_blockhash()`, `get_decimals()/put_decimals()`, `get_quote()/put_quote()`. Every cache has a TTL
and a size bound, so nothing grows without limit however many tokens pass through.
"""

from __future__ import annotations

import asyncio
import time

from engine.chain.rpc import RpcError, RpcPool
from engine.chain.swap_api import SwapApi, swap_api_from_context
from engine.chain.token_meta import TokenMeta, metadata_pda, token_meta_from_accounts
from engine.execution.exit_runner import ExitRunner
from engine.token_names import TokenView
from engine.worker import BaseWorker, WorkerDisabled

BLOCKHASH_REFRESH_S = 2.0  # a blockhash lives ~60-90 s; refreshing often keeps sends far from expiry
BLOCKHASH_MAX_AGE_S = 30.0  # older than this is not offered at all
DECIMALS_TTL_S = 24 * 3600.0  # a mint's decimals never change; the TTL only bounds memory over time
QUOTE_TTL_S = 2.0
META_BATCH = 50  # mints per getMultipleAccounts: each mint and its Metaplex PDA, at the method's 100 keys
NAMES_CHECK_S = 0.5  # how often the state is looked over for mints not named yet (a set difference; cheap)
META_RETRY_S = 30.0  # a batch the RPC did not answer is asked again after this


class CacheWorker(BaseWorker):
    name = "cache"
    tick_interval = BLOCKHASH_REFRESH_S

    async def setup(self) -> None:
        self.cache = self.ctx.cache
        self.swap_api: SwapApi | None = swap_api_from_context(self.ctx, low_priority=True)  # valuation
        self.rpc: RpcPool | None = None
        if not self.ctx.endpoints.rpc_urls:
            if self.swap_api is None:
                raise WorkerDisabled("no RPC URL configured")
        else:
            rpc = self.ctx.settings.rpc
            self.rpc = self.ctx.rpc_pool(
                requests_per_second=max(1.0, min(5.0, rpc.requests_per_second)),
                call_deadline_s=10.0,
                low_priority=True,
            )
        self.exit_runner: ExitRunner | None = None
        self._runner_task = None
        if self.swap_api is not None:
            self.exit_runner = ExitRunner(
                self.ctx,
                self.swap_api,
                accepting=lambda: self.accepting,
                emit_log=self.emit_log,
                log=self.log,
            )
            self._runner_task = self.spawn(self.exit_runner.run(), "exit runner")
        self.failures = 0
        self.ticks = 0
        self._names_task = None
        self._names_failing = False
        self._names_retry_at: dict[str, float] = {}  # mint → when to ask again (its batch went unanswered)
        self._names_wake = asyncio.Event()
        self._names_asked: set[str] = set()  # mints of bus events, before the state shows them
        self._unsubscribe = None
        if self.rpc is not None:
            self.spawn(self.refresh(), "first blockhash refresh")  # setup must not wait on a slow RPC
            self._names_task = self.spawn(self.name_tokens(), "token names")
            self._loop = asyncio.get_running_loop()
            self._unsubscribe = self.ctx.bus.subscribe(self._on_event)

    async def cleanup(self) -> None:
        if getattr(self, "_unsubscribe", None) is not None:
            self._unsubscribe()
        if getattr(self, "_names_task", None) is not None:
            self._names_task.cancel()
        if getattr(self, "_runner_task", None) is not None:
            self._runner_task.cancel()  # a restarted worker starts its own; two runners must never overlap
        if getattr(self, "rpc", None) is not None:
            await self.rpc.close()
        if getattr(self, "swap_api", None) is not None:
            await self.swap_api.close()

    async def tick(self) -> None:
        if self.rpc is not None:
            await self.refresh()
        self.ticks += 1
        if self.ticks % 30 == 0:
            self.cache.decimals.purge()
            self.cache.quotes.purge()

    async def refresh(self) -> None:
        """Fetch the latest blockhash and slot; report (not raise) failures."""
        assert self.rpc is not None
        try:
            blockhash, last_valid = await self.rpc.get_latest_blockhash()
            slot = await self.rpc.get_slot()
        except RpcError as exc:
            self.failures += 1
            if self.failures in (1, 5) or self.failures % 60 == 0:
                self.emit_log("warning", f"blockhash refresh failed: {exc}")
            self.set_state("degraded", f"blockhash stale: {exc}")
            return
        self.cache.set_blockhash(blockhash, last_valid)
        self.cache.slot = slot
        self.ctx.state.set_health(slot=slot)
        if self.failures:
            self.failures = 0
            self.set_state("ready", "blockhash fresh")

    # -- token names ---------------------------------------------------------------------------------
    async def name_tokens(self) -> None:
        """Show the names stored by an earlier run on this chain (this waits for the books), then name each
        new mint soon after it is first shown."""
        for row in await self.ctx.store.all_token_meta():
            self._show_name(row)
        while True:
            try:
                await self.fetch_token_names()
                try:  # a new mint on the bus wakes the loop at once; else it looks again after a while
                    await asyncio.wait_for(self._names_wake.wait(), NAMES_CHECK_S)
                except TimeoutError:
                    pass
                self._names_wake.clear()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a failed write must not end the naming of later mints
                self.emit_log("warning", f"token names: {exc}")
                await asyncio.sleep(META_RETRY_S)

    def _on_event(self, event: object) -> None:
        """Any bus event about a mint not named yet (a swap detected, a copy queued) wakes the naming loop,
        so a new token's name is usually in before its first fill is shown. Runs in the publisher's thread."""
        mint = getattr(event, "mint", None)
        if not isinstance(mint, str) or not mint or self.ctx.state.token(mint) is not None:
            return

        def ask() -> None:
            self._names_asked.add(mint)
            self._names_wake.set()

        try:
            self._loop.call_soon_threadsafe(ask)
        except RuntimeError:  # the worker's loop has closed (shutdown)
            pass

    def _show_name(self, row: dict) -> None:
        self.ctx.state.set_token(row["mint"], TokenView(row["symbol"], row["name"], row["decimals"]))
        if row["decimals"] is not None:
            self.cache.put_decimals(row["mint"], row["decimals"])

    async def fetch_token_names(self) -> int:
        """Read the metadata of the mints shown but not named yet; returns how many were named."""
        assert self.rpc is not None
        now = time.monotonic()
        asked, self._names_asked = self._names_asked, set()
        wanted = self.ctx.state.unnamed_mints() | {m for m in asked if self.ctx.state.token(m) is None}
        mints = sorted(m for m in wanted if self._names_retry_at.get(m, 0.0) <= now)
        named = 0
        for start in range(0, len(mints), META_BATCH):
            batch = mints[start : start + META_BATCH]
            keys = [key for mint in batch for key in (mint, metadata_pda(mint))]
            try:
                answer = await self.rpc.call(
                    "getMultipleAccounts", [keys, {"encoding": "base64", "commitment": self.rpc.commitment}]
                )
                values = answer.get("value") if isinstance(answer, dict) else None
                if not isinstance(values, list) or len(values) != len(keys):
                    raise RpcError("getMultipleAccounts: the answer does not have one account per key")
            except RpcError as exc:
                for mint in batch:
                    self._names_retry_at[mint] = now + META_RETRY_S
                if not self._names_failing:  # once per outage, not every retry
                    self.emit_log("warning", f"token names unavailable for {len(batch)} mint(s): {exc}")
                self._names_failing = True
                return named
            self._names_failing = False
            for index, mint in enumerate(batch):
                meta, why = token_meta_from_accounts(mint, values[2 * index], values[2 * index + 1])
                if meta is None:
                    # Bad metadata is remembered as none: the short mint is shown, and it is not asked again.
                    self.emit_log("warning", f"token metadata of {mint[:4]}…{mint[-4:]} unreadable: {why}")
                    meta = TokenMeta(mint)
                row = await self.ctx.store.put_token_meta(
                    mint, symbol=meta.symbol, name=meta.name, decimals=meta.decimals, source=meta.source
                )
                self._names_retry_at.pop(mint, None)
                if row.get("decimals") is not None:
                    self.cache.put_decimals(mint, row["decimals"])
                named += 1
        if named:
            self.ctx.state.bump("token_names_read", named)
        return named
