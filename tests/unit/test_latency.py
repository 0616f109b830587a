"""The copy-latency figures (engine/latency.py): the rolling window's median, its size and age bounds, the
histograms' buckets, what the book keeps per trader, and the console's units."""

from __future__ import annotations

import math

from engine.latency import BUCKETS_S, Histogram, LatencyBook, RollingWindow
from zapbot_tui.format import lag


def test_rolling_median_over_the_newest_samples():
    window = RollingWindow(size=5, horizon_s=100.0)
    assert window.quantile(0.5, now=0.0) is None
    for at, value in enumerate([0.3, 0.1, 0.2]):
        window.add(value, at)
    assert window.quantile(0.5, now=3.0) == 0.2
    assert window.quantile(1.0, now=3.0) == 0.3 and window.quantile(0.0, now=3.0) == 0.1
    # Past its size the oldest sample leaves: 0.3 and 0.1 go, the median moves up.
    for at, value in enumerate([5.0, 6.0, 7.0, 8.0], start=3):
        window.add(value, at)
    assert window.count(now=7.0) == 5
    assert window.quantile(0.5, now=7.0) == 6.0


def test_rolling_window_forgets_samples_older_than_its_horizon():
    window = RollingWindow(size=100, horizon_s=10.0)
    window.add(9.0, at=0.0)  # one slow copy long ago
    window.add(0.05, at=15.0)
    window.add(0.07, at=16.0)
    assert window.quantile(1.0, now=16.0) == 0.07  # the 9 s sample is past the 10 s horizon
    assert window.count(now=16.0) == 2
    assert window.quantile(0.5, now=30.0) is None and window.count(now=30.0) == 0
    window.add(-0.5, at=30.0)  # a clock a little ahead of the block time: no negative lag
    assert window.quantile(0.5, now=30.0) == 0.0


def test_histogram_buckets_are_cumulative_and_end_at_inf():
    histogram = Histogram()
    for value in (0.01, 0.025, 0.3, 4.0, 120.0):
        histogram.observe(value)
    view = histogram.view()
    bounds = [bound for bound, _ in view.buckets]
    assert bounds == [*BUCKETS_S, math.inf]
    counts = dict(view.buckets)
    assert counts[0.025] == 2  # le is inclusive
    assert counts[0.5] == 3 and counts[5.0] == 4 and counts[60.0] == 4 and counts[math.inf] == 5
    assert view.count == 5 and math.isclose(view.sum, 124.335)


def test_book_keeps_per_trader_figures_and_shows_only_followed_traders():
    book = LatencyBook()
    now = 1000.0
    book.detected("alpha", signal_at=now - 1.0, detected_at=now - 0.6)  # 400 ms lag
    book.detected("alpha", signal_at=now - 1.0, detected_at=now - 0.2)  # 800 ms
    book.detected("gone", signal_at=now - 1.0, detected_at=now - 0.5)
    book.detected("", signal_at=now - 1.0, detected_at=now)  # no trader: not kept
    book.sent("alpha", detected_at=now - 0.6, signal_at=now - 1.0, sent_at=now - 0.5, first=True)
    book.sent("alpha", detected_at=now - 0.6, signal_at=now - 1.0, sent_at=now, first=False)  # a re-quote
    book.queue_waited(0.002)
    view = book.view(["alpha", "bravo"], now=now)
    assert set(view.traders) == {"alpha"}  # bravo has no figures; "gone" is no longer followed
    alpha = view.trader("alpha")
    assert math.isclose(alpha.detection_lag_p50_s, 0.4) and alpha.detections == 2
    # detect → send is the first send's; every send counts in the signal's age at send.
    assert math.isclose(alpha.detect_to_send_p50_s, 0.1) and alpha.sends == 1
    assert alpha.detect_to_send.count == 1 and alpha.detection_lag.count == 2
    assert view.signal_age.count == 2 and view.queue_wait.count == 1


def test_lag_is_shown_with_its_unit_in_five_columns():
    assert [lag(s) for s in (None, 0.0, 0.042, 0.85, 0.9996, 1.25, 9.96, 42.0, 99.4, 360.0)] == [
        "—",
        "0ms",
        "42ms",
        "850ms",
        "1.0s",
        "1.2s",
        "10s",
        "42s",
        "99s",
        "6m",
    ]


def test_status_document_and_telegram_status_show_the_traders_lag():
    from engine.observability import status_document
    from engine.telegram.formatting import status_text
    from zapbot_tui.static import fixed_snapshot

    snapshot = fixed_snapshot()  # alpha: 420 ms lag, 85 ms to send; bravo 1.3 s, 210 ms; charlie none
    figures = status_document(snapshot)["latency"]["traders"]
    assert figures["alpha"] == {
        "detection_lag_p50_s": 0.42,
        "detect_to_send_p50_s": 0.085,
        "detections": 12,
        "sends": 12,
    }
    assert "charlie" not in figures
    text = status_text(snapshot)
    assert "  alpha: 420ms / 85ms" in text and "  bravo: 1.3s / 210ms" in text


def test_the_admission_gate_reports_each_trades_first_slot_wait_only():
    import asyncio

    from engine.execution.admission import TradeSlots
    from engine.execution.job import Job

    def job(intent_id: int, rounds_used: int = 0) -> Job:
        return Job(
            intent_id, f"sig{intent_id}", "alpha", "", "buy", "Mint1", 1000, 100, rounds_used=rounds_used
        )

    waits: list[float] = []

    async def scenario() -> None:
        slots = TradeSlots(1, on_admit=waits.append)
        first, second = job(1), job(2)
        await slots.acquire(first)
        assert waits == [0.0]  # a free slot: no wait
        waiting = asyncio.ensure_future(slots.acquire(second))
        await asyncio.sleep(0)
        assert not waiting.done() and waits == [0.0]  # still queued: nothing reported yet
        slots.release(first)
        await waiting
        assert len(waits) == 2 and waits[1] >= 0.0
        slots.release(second)
        await slots.acquire(job(1, rounds_used=1))  # a re-quote's slot is not queue time
        assert len(waits) == 2

    asyncio.run(scenario())
