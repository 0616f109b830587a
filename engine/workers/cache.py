"""The cache worker: keeps the latest blockhash and slot fresh and holds bounded TTL caches (decimals, quotes).

Other workers read it without a round trip through `ctx.shared["cache"]` (a thread-safe ChainCache):
`latest_blockhash()`, `get_decimals()/put_decimals()`, `get_quote()/put_quote()`. Every cache has a TTL
and a size bound, so nothing grows without limit however many tokens pass through.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from engine.chain.rpc import RpcError, RpcPool
from engine.worker import BaseWorker, WorkerDisabled

BLOCKHASH_REFRESH_S = 2.0  # a blockhash lives ~60-90 s; refreshing often keeps sends far from expiry
BLOCKHASH_MAX_AGE_S = 30.0  # older than this is not offered at all
DECIMALS_TTL_S = 24 * 3600.0  # a mint's decimals never change; the TTL only bounds memory over time
QUOTE_TTL_S = 2.0


class TtlCache:
    """A thread-safe LRU with a per-entry time to live."""

    def __init__(self, max_entries: int, ttl_s: float) -> None:
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._items: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any | None:
        now = time.monotonic()
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] < now:
                if item is not None:
                    del self._items[key]
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item[1]

    def put(self, key: Hashable, value: Any, ttl_s: float | None = None) -> None:
        expires = time.monotonic() + (self.ttl_s if ttl_s is None else ttl_s)
        with self._lock:
            self._items[key] = (expires, value)
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def purge(self) -> int:
        """Drop expired entries; returns how many."""
        now = time.monotonic()
        with self._lock:
            stale = [key for key, (expires, _) in self._items.items() if expires < now]
            for key in stale:
                del self._items[key]
        return len(stale)

    def __len__(self) -> int:
        return len(self._items)


class ChainCache:
    """What the cache worker knows, readable from any thread."""

    def __init__(self, *, max_decimals: int = 50_000, max_quotes: int = 2_000) -> None:
        self._lock = threading.Lock()
        self._blockhash: tuple[str, int, float] | None = None  # (hash, last valid height, fetched at)
        self.slot: int | None = None
        self.block_height: int | None = None
        self.decimals = TtlCache(max_decimals, DECIMALS_TTL_S)
        self.quotes = TtlCache(max_quotes, QUOTE_TTL_S)

    def latest_blockhash(self, max_age_s: float = BLOCKHASH_MAX_AGE_S) -> tuple[str, int] | None:
        """(blockhash, last_valid_block_height) fetched within max_age_s, else None (fetch it yourself)."""
        with self._lock:
            item = self._blockhash
        if item is None or time.monotonic() - item[2] > max_age_s:
            return None
        return item[0], item[1]

    def set_blockhash(self, blockhash: str, last_valid_block_height: int) -> None:
        with self._lock:
            self._blockhash = (blockhash, last_valid_block_height, time.monotonic())

    def get_decimals(self, mint: str) -> int | None:
        return self.decimals.get(mint)

    def put_decimals(self, mint: str, decimals: int) -> None:
        self.decimals.put(mint, int(decimals))

    def get_quote(self, key: Hashable) -> Any | None:
        return self.quotes.get(key)

    def put_quote(self, key: Hashable, quote: Any, ttl_s: float | None = None) -> None:
        self.quotes.put(key, quote, ttl_s)


def shared_cache(ctx: Any) -> ChainCache:
    """The engine's one ChainCache (created on first use, kept across cache-worker restarts)."""
    cache = ctx.shared.get("cache")
    if cache is None:
        cache = ctx.shared.setdefault("cache", ChainCache())
    return cache


class CacheWorker(BaseWorker):
    name = "cache"
    tick_interval = BLOCKHASH_REFRESH_S

    async def setup(self) -> None:
        if not self.ctx.endpoints.rpc_urls:
            raise WorkerDisabled("no RPC URL configured")
        rpc = self.ctx.settings.rpc
        self.cache = shared_cache(self.ctx)
        self.rpc = RpcPool(
            self.ctx.endpoints.rpc_urls,
            requests_per_second=max(1.0, min(5.0, rpc.requests_per_second)),
            commitment=rpc.commitment,
            state=self.ctx.state,
            call_deadline_s=10.0,
            engine_rate=rpc.requests_per_second,
            low_priority=True,
        )
        self.failures = 0
        self.ticks = 0
        self.spawn(self.refresh(), "first blockhash refresh")  # setup must not wait on a slow RPC

    async def cleanup(self) -> None:
        if hasattr(self, "rpc"):
            await self.rpc.close()

    async def tick(self) -> None:
        await self.refresh()
        self.ticks += 1
        if self.ticks % 30 == 0:
            self.cache.decimals.purge()
            self.cache.quotes.purge()

    async def refresh(self) -> None:
        """Fetch the latest blockhash and slot; report (not raise) failures."""
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
