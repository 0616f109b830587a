"""The cache worker: keeps the latest blockhash and slot in the engine's ChainCache fresh and purges it, and
prices our open positions (unrealised PnL) one at a time from a sell quote.

Other workers read the cache without a round trip, through `ctx.cache` (engine/caches.py):
`latest_blockhash()`, `get_decimals()/put_decimals()`, `get_quote()/put_quote()`. Every cache has a TTL
and a size bound, so nothing grows without limit however many tokens pass through.
"""

from __future__ import annotations

import time
from dataclasses import replace

from engine.chain.rpc import RpcError, RpcPool
from engine.chain.swap_api import SwapApi, swap_api_from_context
from engine.constants import WSOL_MINT
from engine.worker import BaseWorker, WorkerDisabled

BLOCKHASH_REFRESH_S = 2.0  # a blockhash lives ~60-90 s; refreshing often keeps sends far from expiry
BLOCKHASH_MAX_AGE_S = 30.0  # older than this is not offered at all
DECIMALS_TTL_S = 24 * 3600.0  # a mint's decimals never change; the TTL only bounds memory over time
QUOTE_TTL_S = 2.0
PNL_REFRESH_S = {"sim": 2.0}  # one position re-priced per this many seconds (default below)
PNL_REFRESH_DEFAULT_S = 10.0  # Jupiter keyless is 0.5 RPS: stay far below it
PNL_QUOTE_SLIPPAGE_BPS = 50  # a price probe only: the quote is never executed


class CacheWorker(BaseWorker):
    name = "cache"
    tick_interval = BLOCKHASH_REFRESH_S

    async def setup(self) -> None:
        self.cache = self.ctx.cache
        self.swap_api: SwapApi | None = swap_api_from_context(self.ctx)
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
        self.pnl_interval_s = PNL_REFRESH_S.get(self.ctx.settings.mode, PNL_REFRESH_DEFAULT_S)
        self._pnl_cursor = 0
        self._pnl_at = 0.0
        self.failures = 0
        self.ticks = 0
        if self.rpc is not None:
            self.spawn(self.refresh(), "first blockhash refresh")  # setup must not wait on a slow RPC

    async def cleanup(self) -> None:
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
        try:
            await self.price_one_position()
        except Exception as exc:  # noqa: BLE001 - unrealised PnL is informational
            self.log.debug("position pricing failed: %s", exc)

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

    async def price_one_position(self) -> None:
        """Unrealised PnL from a sell quote, one position per interval (bounded API use)."""
        if self.swap_api is None or time.monotonic() - self._pnl_at < self.pnl_interval_s:
            return
        positions = [p for p in self.ctx.state.snapshot().positions if p.amount > 0]
        if not positions:
            return
        self._pnl_at = time.monotonic()
        view = positions[self._pnl_cursor % len(positions)]
        self._pnl_cursor += 1
        quote = await self.swap_api.quote(view.mint, WSOL_MINT, view.amount, PNL_QUOTE_SLIPPAGE_BPS)
        unrealized = int(quote["outAmount"]) - view.cost_lamports
        current = self.ctx.state.positions.get(view.mint)
        if current is not None and current.amount == view.amount:
            # Only if the position did not change while we asked: a fill since then has its own price.
            self.ctx.state.set_position(replace(current, unrealized_pnl_lamports=unrealized), view.mint)
