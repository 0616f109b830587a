"""How late copies are: per trader the detection lag (leader's block time → detected by us) and the time from
detection to our send, as a median over a recent window (the console) and as histograms (/metrics), and
the engine-wide histograms of a signal's age at send and of the time a trade waited for its trade slot.

The analyzer reports detections, the trade lifecycle its sends and the admission gate its waits, each into
the one LatencyBook of the EngineState; the snapshot carries a frozen LatencyView of it, so the console,
/metrics and `zapbot status` read the same figures without any worker knowing another.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

# Upper bounds in seconds: a good copy is sent within tens of milliseconds of detection, a slow one in
# seconds; past limits.max_signal_age_s (10 s by default) a buy is stale, and tens of seconds is a backlog.
BUCKETS_S = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0)
WINDOW_SAMPLES = 200  # the newest samples per trader and figure the console's median is taken over ...
WINDOW_S = 600.0  # ... of those no older than this


@dataclass(frozen=True, slots=True)
class HistogramView:
    """A histogram as Prometheus reads it: cumulative counts per upper bound (the last is +Inf), count, sum."""

    buckets: tuple[tuple[float, int], ...] = ()
    count: int = 0
    sum: float = 0.0


class Histogram:
    """Counts per bucket of BUCKETS_S; not locked (the LatencyBook's lock guards it)."""

    def __init__(self, bounds: tuple[float, ...] = BUCKETS_S) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        value = max(0.0, value)  # a clock a little ahead of the block time is no negative lag
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.sum += value

    def view(self) -> HistogramView:
        cumulative, total = [], 0
        for bound, count in zip((*self.bounds, math.inf), self.counts):
            total += count
            cumulative.append((bound, total))
        return HistogramView(tuple(cumulative), self.count, self.sum)


class RollingWindow:
    """The newest `size` samples no older than `horizon_s`, and their quantiles (nearest rank)."""

    def __init__(self, size: int = WINDOW_SAMPLES, horizon_s: float = WINDOW_S) -> None:
        self.horizon_s = horizon_s
        self.samples: deque[tuple[float, float]] = deque(maxlen=size)  # (at, value), oldest first
        self._sorted: list[float] | None = None

    def add(self, value: float, at: float) -> None:
        self.samples.append((at, max(0.0, value)))
        self._sorted = None

    def _expire(self, now: float) -> None:
        while self.samples and now - self.samples[0][0] > self.horizon_s:
            self.samples.popleft()
            self._sorted = None

    def count(self, now: float) -> int:
        self._expire(now)
        return len(self.samples)

    def quantile(self, q: float, now: float) -> float | None:
        """The q-quantile (0..1) of the samples in the window; None when it holds none."""
        self._expire(now)
        if not self.samples:
            return None
        if self._sorted is None:
            self._sorted = sorted(value for _, value in self.samples)
        values = self._sorted
        rank = min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))
        return values[rank]


@dataclass(frozen=True, slots=True)
class TraderLatency:
    """One trader's copy latency: medians over the recent window, and the histograms since start."""

    detection_lag_p50_s: float | None = None  # leader's block time → detected
    detect_to_send_p50_s: float | None = None  # detected → our first send
    detections: int = 0  # samples in the window
    sends: int = 0
    detection_lag: HistogramView = HistogramView()
    detect_to_send: HistogramView = HistogramView()


@dataclass(frozen=True, slots=True)
class LatencyView:
    """The LatencyBook frozen for a snapshot: only the followed traders that have samples are in `traders`."""

    signal_age: HistogramView = HistogramView()  # at each send of a leader copy: send − leader's block time
    queue_wait: HistogramView = HistogramView()  # each trade's wait for its first trade slot
    traders: dict[str, TraderLatency] = field(default_factory=dict)

    def trader(self, name: str) -> TraderLatency | None:
        return self.traders.get(name)


class _TraderStats:
    def __init__(self) -> None:
        self.lag_window = RollingWindow()
        self.send_window = RollingWindow()
        self.lag = Histogram()
        self.send = Histogram()


class LatencyBook:
    """Thread-safe: the analyzer, the executor and the snapshot readers run on different threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._traders: dict[str, _TraderStats] = {}
        self._signal_age = Histogram()
        self._queue_wait = Histogram()

    def _stats(self, trader: str) -> _TraderStats:
        stats = self._traders.get(trader)
        if stats is None:
            stats = self._traders[trader] = _TraderStats()
        return stats

    def detected(self, trader: str, signal_at: float, detected_at: float) -> None:
        """A followed trader's swap was detected; signal_at is when it landed (its block time)."""
        if not trader:
            return
        with self._lock:
            stats = self._stats(trader)
            stats.lag_window.add(detected_at - signal_at, detected_at)
            stats.lag.observe(detected_at - signal_at)

    def sent(
        self, trader: str, *, detected_at: float | None, signal_at: float | None, sent_at: float, first: bool
    ) -> None:
        """A leader copy's signed transaction went out: its signal's age, and on the trade's first send the
        trader's detect → send time."""
        with self._lock:
            if signal_at is not None:
                self._signal_age.observe(sent_at - signal_at)
            if first and trader and detected_at is not None:
                stats = self._stats(trader)
                stats.send_window.add(sent_at - detected_at, sent_at)
                stats.send.observe(sent_at - detected_at)

    def queue_waited(self, seconds: float) -> None:
        """A trade got its first trade slot after waiting this long in the queue."""
        with self._lock:
            self._queue_wait.observe(seconds)

    def view(self, followed: Iterable[str], now: float | None = None) -> LatencyView:
        """Frozen figures of the followed traders (so /metrics' trader label stays within them)."""
        now = time.time() if now is None else now
        with self._lock:
            traders = {}
            for name in followed:
                stats = self._traders.get(name)
                if stats is None:
                    continue
                traders[name] = TraderLatency(
                    detection_lag_p50_s=stats.lag_window.quantile(0.5, now),
                    detect_to_send_p50_s=stats.send_window.quantile(0.5, now),
                    detections=stats.lag_window.count(now),
                    sends=stats.send_window.count(now),
                    detection_lag=stats.lag.view(),
                    detect_to_send=stats.send.view(),
                )
            return LatencyView(self._signal_age.view(), self._queue_wait.view(), traders)


def lag_text(seconds: float | None) -> str:
    """A lag in at most five characters with its unit, for people: 40ms, 850ms, 1.2s, 12s, 3m; "—" for none."""
    if seconds is None:
        return "—"
    seconds = max(0.0, seconds)
    if seconds < 0.9995:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 9.95:
        return f"{seconds:.1f}s"
    if seconds < 99.5:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    return f"{int(seconds // 3600)}h"


def status_figures(latency: LatencyView) -> dict[str, Any]:
    """The latency part of /workers/status and `zapbot status --json`: the medians per trader, and how many
    sends and queue waits the histograms counted."""
    return {
        "traders": {
            name: {
                "detection_lag_p50_s": _rounded(figures.detection_lag_p50_s),
                "detect_to_send_p50_s": _rounded(figures.detect_to_send_p50_s),
                "detections": figures.detections,
                "sends": figures.sends,
            }
            for name, figures in sorted(latency.traders.items())
        },
        "signal_age": {"count": latency.signal_age.count, "sum_s": round(latency.signal_age.sum, 3)},
        "queue_wait": {"count": latency.queue_wait.count, "sum_s": round(latency.queue_wait.sum, 3)},
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


# -- /metrics ----------------------------------------------------------------------------------------------


def _buckets(view: HistogramView) -> list[tuple[str, float]]:
    view = view if view.buckets else Histogram().view()  # a view built by hand (tests, screenshots)
    return [("+Inf" if bound == float("inf") else repr(bound), count) for bound, count in view.buckets]


def latency_families(latency: LatencyView) -> Iterator[Any]:
    """/metrics' families of the view: the two engine-wide histograms, and per followed trader (the only
    values the trader label takes) its detection lag and detect → send histograms and recent medians."""
    for name, doc, view in (
        (
            "zapbot_signal_age_seconds",
            "Age of a leader signal at our send (send - leader block time)",
            latency.signal_age,
        ),
        (
            "zapbot_queue_wait_seconds",
            "Time a trade waited in the queue for its trade slot",
            latency.queue_wait,
        ),
    ):
        family = HistogramMetricFamily(name, doc)
        family.add_metric([], _buckets(view), view.sum)
        yield family
    lag = HistogramMetricFamily(
        "zapbot_detection_lag_seconds", "Leader block time to detected, per trader", labels=["trader"]
    )
    send = HistogramMetricFamily(
        "zapbot_detect_to_send_seconds", "Detected to our first send, per trader", labels=["trader"]
    )
    medians = GaugeMetricFamily(
        "zapbot_trader_latency_p50_seconds",
        "Median over the recent window (the console's figure), per trader and stage",
        labels=["trader", "stage"],
    )
    for trader, figures in sorted(latency.traders.items()):
        lag.add_metric([trader], _buckets(figures.detection_lag), figures.detection_lag.sum)
        send.add_metric([trader], _buckets(figures.detect_to_send), figures.detect_to_send.sum)
        for stage, value in (
            ("detection", figures.detection_lag_p50_s),
            ("send", figures.detect_to_send_p50_s),
        ):
            if value is not None:
                medians.add_metric([trader, stage], value)
    yield from (lag, send, medians)
