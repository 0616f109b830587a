"""An event storm through the real engine's bus: keys are still handled and the app's queue stays small."""
from __future__ import annotations

import threading
import time
from pathlib import Path

from engine.config import load_settings
from engine.facade import Engine
from engine.messages import ConnectionHealth, LogEvent
from zapbot_tui.app import ZapBotApp

RATE_PER_S = 1000
SECONDS = 4
TOTAL = RATE_PER_S * SECONDS


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

    def storm() -> None:
        nonlocal published
        start = time.monotonic()
        while published < TOTAL and not stop.is_set():
            # 10 events per 10 ms tick: 1,000 events/s from an engine-side thread.
            for _ in range(10):
                event = LogEvent("info", "monitor", f"event {published}") if published % 2 else \
                    ConnectionHealth("ws", True, f"tick {published}")
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
                toggle()

            app.main.action_toggle_pause = recording_toggle  # type: ignore[method-assign]
            await pilot.press("p")
            published_when_handled = handled_at[0]
            assert engine.paused and "PAUSED" in app.main.header.badges
            while thread.is_alive():
                max_queue = max(max_queue, app._message_queue.qsize())
                await pilot.pause(0.02)
            for _ in range(50):
                if app.events_seen + app.pump.dropped >= TOTAL:
                    break
                await pilot.pause(0.02)
    finally:
        stop.set()
        if engine.started:
            engine.stop()
    assert published == TOTAL
    # The key was handled while the storm was still running, not after a backlog drained.
    assert published_when_handled < TOTAL
    # Coalescing: far fewer app messages than events, and the app's queue never grew with the storm.
    assert app.pump.received == TOTAL
    assert app.pump.posted < TOTAL / 5
    assert max_queue < 50
    assert app.events_seen + app.pump.dropped == TOTAL
