"""An event storm through the real engine's bus: keys are still handled and the app's queue stays small."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from engine.config import load_settings
from engine.facade import Engine
from engine.messages import CoverageChanged, LogEvent
from zapbot_tui.app import ZapBotApp

pytestmark = pytest.mark.slow  # every test here starts a cluster, an engine or a subprocess

RATE_PER_S = 1000
MAX_SECONDS = 12  # the storm ends 1 s after the key was handled, or after this at the latest
MAX_TOTAL = RATE_PER_S * MAX_SECONDS


async def test_event_storm_keeps_keys_responsive(zapbot_home: Path) -> None:
    settings = load_settings()
    settings.mode = "paper"
    settings.rpc.urls = ["http://127.0.0.1:9"]
    settings.http.enabled = False
    settings.engine.decode_processes = 0
    engine = Engine(settings, http=False)
    app = ZapBotApp(engine)
    published = 0
    stop = threading.Event()
    end_at = [MAX_TOTAL]

    def storm() -> None:
        nonlocal published
        start = time.monotonic()
        while published < end_at[0] and not stop.is_set():
            # 10 events per 10 ms tick: 1,000 events/s from an engine-side thread.
            for _ in range(10):
                event = (
                    LogEvent("info", "monitor", f"event {published}")
                    if published % 2
                    else CoverageChanged((), True, None, f"tick {published}")
                )
                engine.ctx.publish(event)
                published += 1
            delay = start + published / RATE_PER_S - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    try:
        async with app.run_test(size=(120, 40)) as pilot:
            for _ in range(200):
                if app.phase == "running":
                    break
                await pilot.pause(0.02)
            assert app.phase == "running"
            thread = threading.Thread(target=storm, daemon=True)
            thread.start()
            max_queue = 0
            while published < RATE_PER_S // 5:  # let the storm get going
                max_queue = max(max_queue, app._message_queue.qsize())
                await pilot.pause(0.02)
            handled_at: list[int] = []
            toggle = app.main.action_toggle_pause

            def recording_toggle() -> None:
                handled_at.append(published)  # how far the storm was when the app ran the key's action
                end_at[0] = min(MAX_TOTAL, published + RATE_PER_S)  # keep storming for another second
                toggle()

            app.main.action_toggle_pause = recording_toggle  # type: ignore[method-assign]
            await pilot.press("p")
            published_when_handled = handled_at[0]
            assert engine.paused and "BUYS PAUSED" in app.main.header.badges
            while thread.is_alive():
                max_queue = max(max_queue, app._message_queue.qsize())
                await pilot.pause(0.02)
            for _ in range(50):
                if app.events_seen + app.pump.dropped >= app.pump.received:
                    break
                await pilot.pause(0.02)
    finally:
        stop.set()
        if engine.started:
            engine.stop()
    total = published
    assert total >= RATE_PER_S
    # The key was handled while the storm was still running (it went on for a second after), not after
    # the whole backlog drained.
    assert published_when_handled < MAX_TOTAL
    assert total - published_when_handled >= RATE_PER_S - 10
    # Coalescing: far fewer app messages than events, and the app's queue never grew with the storm.
    # Everything published reached the pump (plus the engine's own "paused" log line).
    assert 0 <= app.pump.received - total <= 5
    assert app.pump.posted < total / 5
    assert max_queue < 50
    assert app.events_seen + app.pump.dropped == app.pump.received
