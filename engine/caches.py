"""The engine-wide caches workers share through the context: chain facts and the detection dedup.

They outlive worker instances (a restarted worker finds them warm) and every one is bounded in size and
age, on cachetools; the locks are ours because cachetools' caches are not thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable
from typing import Any

from cachetools import LRUCache, TLRUCache

BLOCKHASH_MAX_AGE_S = 30.0  # older than this is not offered at all
DECIMALS_TTL_S = 24 * 3600.0  # a mint's decimals never change; the TTL only bounds memory over time
QUOTE_TTL_S = 2.0
SEEN_CAPACITY = 100_000


def _expires_at(_key: Hashable, item: tuple[float, Any], now: float) -> float:
    return now + item[0]


class TtlCache:
    """A thread-safe LRU whose entries also expire, each after its own time to live."""

    def __init__(self, max_entries: int, ttl_s: float) -> None:
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._items: TLRUCache[Hashable, tuple[float, Any]] = TLRUCache(
            maxsize=max_entries, ttu=_expires_at, timer=time.monotonic
        )
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self.hits += 1
            return item[1]

    def put(self, key: Hashable, value: Any, ttl_s: float | None = None) -> None:
        with self._lock:
            self._items[key] = (self.ttl_s if ttl_s is None else ttl_s, value)

    def purge(self) -> int:
        """Drop expired entries; returns how many."""
        with self._lock:
            return len(self._items.expire())

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


class ChainCache:
    """What the cache worker knows (latest blockhash, slot, decimals, quotes), readable from any thread."""

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


class SeenSignatures:
    """A thread-safe LRU set of (signature, wallet) keys: the dedup between websocket and polling."""

    def __init__(self, capacity: int = SEEN_CAPACITY) -> None:
        self.capacity = capacity
        self._keys: LRUCache[tuple[str, str], None] = LRUCache(maxsize=capacity)
        self._lock = threading.Lock()

    def add(self, signature: str, wallet: str) -> bool:
        """Remember the key; False when it was already there (a duplicate)."""
        key = (signature, wallet)
        with self._lock:
            if key in self._keys:
                self._keys[key] = None  # touch: a key seen again stays longer
                return False
            self._keys[key] = None
            return True

    def discard(self, signature: str, wallet: str) -> None:
        with self._lock:
            self._keys.pop((signature, wallet), None)

    def __contains__(self, key: tuple[str, str]) -> bool:
        with self._lock:
            return key in self._keys

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys)
