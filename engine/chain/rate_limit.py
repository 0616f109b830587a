"""Rate limits of RPC endpoints: token buckets, the engine-wide budget per endpoint, Retry-After."""

from __future__ import annotations

import asyncio
import email.utils
import threading
import time
import weakref
from typing import Any

MAX_RETRY_AFTER_S = 30.0  # a server asking for longer is treated as down for that long, not waited on
DEFAULT_RETRY_AFTER_S = 1.0


# Every pool of one engine adds into the same totals and draws from the same per-endpoint budgets, keyed by
# the engine's state object (weakly, so an engine's budgets go with it).
class Totals:
    """RPC calls and 429s of one engine, summed over all its pools."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls = 0
        self.rate_limited = 0


_TOTALS: "weakref.WeakKeyDictionary[Any, Totals]" = weakref.WeakKeyDictionary()
_TOTALS_LOCK = threading.Lock()


def totals_for(state: Any) -> Totals:
    with _TOTALS_LOCK:
        totals = _TOTALS.get(state)
        if totals is None:
            totals = _TOTALS[state] = Totals()
        return totals


class TokenBucket:
    """Allows `rate` requests per second with bursts up to `capacity`; `acquire` waits for a token."""

    def __init__(self, rate: float, capacity: float | None = None) -> None:
        self.rate = float(rate)
        self.capacity = float(capacity if capacity is not None else max(1.0, rate))
        self.tokens = self.capacity
        self.updated = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def wait_time(self) -> float:
        self._refill()
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    async def acquire(self) -> None:
        while True:
            wait = self.wait_time()
            if wait <= 0:
                self.tokens -= 1.0
                return
            await asyncio.sleep(wait)


class SharedBucket:
    """A token bucket that pools on different threads (one per worker loop) draw from together, so the
    engine as a whole stays within an endpoint's rate limit."""

    LOW_PRIORITY_RESERVE = 0.25  # share of the burst that background pools leave for trading calls

    def __init__(self, rate: float, capacity: float | None = None) -> None:
        self._bucket = TokenBucket(rate, capacity)
        self._lock = threading.Lock()
        self.blocked_until = 0.0  # a 429's Retry-After applies to every pool using this endpoint

    def _take(self, low_priority: bool = False) -> float:
        with self._lock:
            bucket = self._bucket
            bucket._refill()
            # Background work (polling, cache refresh) leaves a reserve, so a trade's calls never queue
            # behind a polling burst.
            need = 1.0 + (bucket.capacity * self.LOW_PRIORITY_RESERVE if low_priority else 0.0)
            if bucket.tokens >= need:
                bucket.tokens -= 1.0
                return 0.0
            return (need - bucket.tokens) / bucket.rate

    async def acquire(self, low_priority: bool = False) -> None:
        while True:
            wait = self._take(low_priority)
            if wait <= 0:
                return
            await asyncio.sleep(wait)


_SHARED: "weakref.WeakKeyDictionary[Any, dict[str, SharedBucket]]" = weakref.WeakKeyDictionary()


def shared_bucket(state: Any, url: str, rate: float) -> SharedBucket:
    """The engine-wide budget of one endpoint (keyed by the engine's state object)."""
    with _TOTALS_LOCK:
        buckets = _SHARED.get(state)
        if buckets is None:
            buckets = _SHARED[state] = {}
        bucket = buckets.get(url)
        if bucket is None:
            bucket = buckets[url] = SharedBucket(rate)
        elif rate > bucket._bucket.rate:  # every pool of one engine passes the same engine rate
            bucket._bucket.rate = rate
            bucket._bucket.capacity = max(bucket._bucket.capacity, rate)
        return bucket


def parse_retry_after(value: str | None, default: float = DEFAULT_RETRY_AFTER_S) -> float:
    """Retry-After as seconds: delta-seconds or an HTTP date; unreadable → default; capped."""
    if not value:
        return default
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return default
        if when is None:
            return default
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return default
    return max(0.0, min(seconds, MAX_RETRY_AFTER_S))
