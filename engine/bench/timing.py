"""Per-trade timing for `zapbot bench pipeline`: the RPC and swap-API calls made for each leader swap, and the
time spent waiting on them."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

# Which leader swap the current asyncio task works for.
_TRADE: contextvars.ContextVar[str | None] = contextvars.ContextVar("zapbot_bench_trade", default=None)


@dataclass
class Timings:
    """Wall-clock intervals (start, end, what) spent waiting on the RPC node or the swap API, per leader swap."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: dict[str, list[tuple[float, float, str]]] = field(default_factory=lambda: defaultdict(list))
    landed_at: dict[str, float] = field(default_factory=dict)
    # leader signature → (source, seen_at, detected_at) from the analyzer's SwapDetected event
    detections: dict[str, tuple[str, float, float]] = field(default_factory=dict)

    def on_event(self, event: Any) -> None:
        from engine.messages import SwapDetected

        if isinstance(event, SwapDetected):
            self.detections.setdefault(
                event.leader_signature, (event.source, event.seen_at, event.detected_at)
            )

    def record(self, signature: str, started: float, ended: float, what: str) -> None:
        with self.lock:
            self.calls[signature].append((started, ended, what))

    def of(self, signature: str) -> list[tuple[float, float, str]]:
        with self.lock:
            return list(self.calls.get(signature, ()))


def _wrap_async(owner: type, name: str, make: Any) -> tuple[type, str, Any]:
    original = getattr(owner, name)
    wrapper = functools.wraps(original)(make(original))  # keeps __zapbot_handles__ so handlers still register
    setattr(owner, name, wrapper)
    return owner, name, original


@contextlib.contextmanager
def instrument(timings: Timings) -> Iterator[None]:
    """Time every RPC request and swap API request at the client, attributed to the leader swap being handled.

    The engine has no per-trade timing events, so the harness wraps (for its own run only) the executor's
    SwapDetected handler and job runner, the analyzer's per-signature processing, RpcPool.request and
    SwapApi._request; the originals are restored on exit.
    """
    from engine.chain.rpc import RpcPool
    from engine.chain.swap_api import SwapApi
    from engine.workers.analyzer import AnalyzerWorker
    from engine.workers.executor import ExecutorWorker

    def tag(signature_of: Any) -> Any:
        def make(original: Any) -> Any:
            async def wrapper(self: Any, arg: Any, *args: Any, **kwargs: Any) -> Any:
                token = _TRADE.set(signature_of(arg))
                try:
                    return await original(self, arg, *args, **kwargs)
                finally:
                    _TRADE.reset(token)

            return wrapper

        return make

    def timed(label: Any) -> Any:
        def make(original: Any) -> Any:
            async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
                signature = _TRADE.get()
                started = time.time()
                try:
                    return await original(self, *args, **kwargs)
                finally:
                    if signature is not None:
                        timings.record(signature, started, time.time(), label(args, kwargs))

            return wrapper

        return make

    patches = [
        _wrap_async(ExecutorWorker, "on_swap", tag(lambda msg: msg.leader_signature)),
        _wrap_async(ExecutorWorker, "_run_job", tag(lambda job: job.leader_signature)),
        _wrap_async(AnalyzerWorker, "_process", tag(lambda job: job.signature)),
        _wrap_async(RpcPool, "request", timed(lambda args, kw: str(args[0] if args else kw.get("method")))),
        _wrap_async(
            SwapApi, "_request", timed(lambda args, kw: f"swap-api {args[1] if len(args) > 1 else ''}")
        ),
    ]
    try:
        yield
    finally:
        for owner, name, original in reversed(patches):
            setattr(owner, name, original)


def waited(calls: list[tuple[float, float, str]], start: float, end: float) -> float:
    """Seconds within [start, end] covered by at least one call (overlapping calls are counted once)."""
    spans = sorted((max(s, start), min(e, end)) for s, e, _ in calls if e > start and s < end)
    total = 0.0
    current_start, current_end = None, None
    for s, e in spans:
        if current_end is None or s > current_end:
            if current_end is not None:
                total += current_end - current_start  # type: ignore[operator]
            current_start, current_end = s, e
        else:
            current_end = max(current_end, e)
    if current_end is not None:
        total += current_end - current_start  # type: ignore[operator]
    return total


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)
