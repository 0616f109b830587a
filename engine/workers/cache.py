"""The cache worker: keeps the latest blockhash and slot in the engine's ChainCache fresh and purges it, and
runs the exit runner (engine/execution/exit_runner.py), whose sell quote of each open lot is both its
unrealised PnL and what its exit rules judge.

Other workers read the cache without a round trip, through `ctx.cache` (engine/caches.py):
`latest_blockhash()`, `get_decimals()/put_decimals()`, `get_quote()/put_quote()`. Every cache has a TTL
and a size bound, so nothing grows without limit however many tokens pass through.
"""

from __future__ import annotations

from engine.chain.rpc import RpcError, RpcPool
from engine.chain.swap_api import SwapApi, swap_api_from_context
from engine.execution.exit_runner import ExitRunner
from engine.worker import BaseWorker, WorkerDisabled

BLOCKHASH_REFRESH_S = 2.0  # a blockhash lives ~60-90 s; refreshing often keeps sends far from expiry
BLOCKHASH_MAX_AGE_S = 30.0  # older than this is not offered at all
DECIMALS_TTL_S = 24 * 3600.0  # a mint's decimals never change; the TTL only bounds memory over time
QUOTE_TTL_S = 2.0


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
        if self.rpc is not None:
            self.spawn(self.refresh(), "first blockhash refresh")  # setup must not wait on a slow RPC

    async def cleanup(self) -> None:
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
