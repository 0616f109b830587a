"""Rate limits of RPC endpoints: token buckets, the engine-wide budget per endpoint, Retry-After."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import threading
import time
import weakref
from collections.abc import Iterator
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
    """The engine-wide budget of one endpoint, drawn from by pools on different threads (one per worker
    loop), so the engine as a whole stays within the endpoint's rate limit; also its Retry-After.

    Trading calls (the path from a leader's swap to our send) come first: a background call (polling, cache
    refreshes, exit valuation, scouting) leaves a reserve of the burst untouched, waits out a Retry-After,
    and takes nothing while any trading call is waiting for this endpoint, so when the budget is exhausted
    or the endpoint rate limited, the next token or the end of the Retry-After goes to the trading call.
    `rate=None` is a gate without a token bucket: Retry-After and the trading-first order only."""

    LOW_PRIORITY_RESERVE = 0.25  # share of the burst that background pools leave for trading calls

    def __init__(self, rate: float | None, capacity: float | None = None) -> None:
        self._bucket = TokenBucket(rate, capacity) if rate else None
        self._lock = threading.Lock()
        self.blocked_until = 0.0  # a 429's Retry-After applies to every pool using this endpoint
        self.trading_waiting = 0  # trading calls waiting for this endpoint (a Retry-After or a token)
        self.served = {"trading": 0, "background": 0}

    @contextlib.contextmanager
    def trading_turn(self) -> Iterator[None]:
        """Held by a trading call from the moment it chooses this endpoint until it has its token, so no
        background call takes the endpoint's next token or the first request after its Retry-After."""
        with self._lock:
            self.trading_waiting += 1
        try:
            yield
        finally:
            with self._lock:
                self.trading_waiting -= 1

    def block(self, seconds: float) -> None:
        """A 429 asked every pool of the engine to leave this endpoint alone for `seconds`."""
        with self._lock:
            self.blocked_until = max(self.blocked_until, time.monotonic() + seconds)

    def blocked_for(self) -> float:
        return max(0.0, self.blocked_until - time.monotonic())

    def _recheck_s(self) -> float:
        # Pools live on other threads' loops, so a waiting background call looks again this often.
        rate = self._bucket.rate if self._bucket is not None else 20.0
        return min(0.1, max(0.01, 1.0 / rate))

    def _need(self, low_priority: bool) -> float:
        assert self._bucket is not None
        # Background work (polling, cache refresh) leaves a reserve, so a trade's calls never queue
        # behind a polling burst; never more than the burst holds, or a slow endpoint's polling would starve.
        if not low_priority:
            return 1.0
        capacity = self._bucket.capacity
        return max(1.0, min(capacity, 1.0 + capacity * self.LOW_PRIORITY_RESERVE))

    def wait_time(self, low_priority: bool = False) -> float:
        """How long a call would wait for this endpoint now (0: it would be served at once); takes nothing."""
        with self._lock:
            now = time.monotonic()
            if low_priority:
                if self.blocked_until > now:
                    return self.blocked_until - now
                if self.trading_waiting:
                    return self._recheck_s()
            bucket = self._bucket
            if bucket is None:
                return 0.0
            bucket._refill()
            need = self._need(low_priority)
            return 0.0 if bucket.tokens >= need else (need - bucket.tokens) / bucket.rate

    def _take(self, low_priority: bool = False, *, honour_block: bool = False) -> float:
        with self._lock:
            now = time.monotonic()
            if (low_priority or honour_block) and self.blocked_until > now:
                return self.blocked_until - now
            if low_priority and self.trading_waiting:
                return self._recheck_s()
            bucket = self._bucket
            if bucket is not None:
                bucket._refill()
                need = self._need(low_priority)
                if bucket.tokens < need:
                    return (need - bucket.tokens) / bucket.rate
                bucket.tokens -= 1.0
            self.served["background" if low_priority else "trading"] += 1
            return 0.0

    async def acquire(self, low_priority: bool = False, *, honour_block: bool = False) -> None:
        """Wait for this endpoint's turn. A background call always waits out a Retry-After; a trading call
        only with honour_block (a pool of several endpoints has already chosen one that is not blocked)."""
        while True:
            wait = self._take(low_priority, honour_block=honour_block)
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
        elif (
            bucket._bucket is not None and rate > bucket._bucket.rate
        ):  # every pool of one engine passes the same engine rate
            bucket._bucket.rate = rate
            bucket._bucket.capacity = max(bucket._bucket.capacity, rate)
        return bucket


def shared_gate(state: Any, key: str) -> SharedBucket:
    """The engine-wide Retry-After and trading-first order of an HTTP API without a token budget of its own
    (the swap API: the exit runner paces its own quotes), keyed by the engine's state object."""
    with _TOTALS_LOCK:
        gates = _SHARED.get(state)
        if gates is None:
            gates = _SHARED[state] = {}
        gate = gates.get(key)
        if gate is None:
            gate = gates[key] = SharedBucket(None)
        return gate


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
