"""Feedback on the embedded local cluster, through the real engine: a manual sell shows its quote before it is
confirmed and then its fill in words; a refused send turns the header's send light red with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import load_settings
from engine.facade import Engine
from zapbot_tui.app import ZapBotApp
from zapbot_tui.screens.dialogs import SellConfirmScreen, SellScreen

pytestmark = pytest.mark.slow  # a cluster and an engine


async def until(pilot, condition, rounds: int = 1500) -> bool:
    """Let the app run until condition() holds (bounded by rounds, not by a clock)."""
    for _ in range(rounds):
        if condition():
            return True
        await pilot.pause(0.02)
    return condition()


def sim_engine() -> Engine:
    settings = load_settings()
    settings.mode = "sim"
    settings.sim.trade_rate = 4.0  # the synthetic traders buy soon, so a position opens
    settings.http.enabled = False
    settings.engine.decode_processes = 0
    settings.engine.shutdown_deadline_s = 3.0
    return Engine(settings, http=False)


def send_piece(app: ZapBotApp) -> str:
    return next((piece for piece in app.main.header.pieces if piece.startswith("send ")), "")


async def test_manual_sell_quote_then_fill_and_a_refused_send_turns_the_light_red(zapbot_home: Path) -> None:
    engine = sim_engine()
    app = ZapBotApp(engine, cursor_blink=False, persist_theme=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            assert await until(pilot, lambda: app.phase == "running")
            assert await until(pilot, lambda: bool(engine.snapshot().positions))
            assert await until(
                pilot, lambda: send_piece(app) == "send ● ok"
            )  # the copies' sends were accepted
            app.main.refresh_view()
            app.main.focus_pane("positions")
            await pilot.pause()
            mint = app.main.panes["positions"].selected_key()
            await pilot.press("enter")
            assert await until(pilot, lambda: isinstance(app.screen, SellScreen))
            app.screen.query_one("#prompt-input").value = "50"
            await pilot.press("enter")
            # The quote of the swap API shows before anything is sent.
            assert await until(
                pilot, lambda: isinstance(app.screen, SellConfirmScreen) and app.screen.quote_text
            )
            quote = app.screen.quote_text
            assert "→ about " in quote and " SOL (at least " in quote and "price impact " in quote, quote
            assert not [t for t in engine.snapshot().trades if t.trigger == "manual"]
            await pilot.press("y")
            assert await until(pilot, lambda: bool(app.sell_messages))
            message = app.sell_messages[0]
            assert message.startswith("filled: ") and message.endswith(" SOL"), message
            manual = next(t for t in engine.snapshot().trades if t.trigger == "manual")
            assert manual.status == "executed" and manual.mint == mint
            # Every send is refused from now on: the next sell's sends turn the light red, with the reason.
            engine.cluster.set_chaos(send_fail_ratio=1.0)
            app.main.refresh_view()
            await pilot.press("enter")
            assert await until(pilot, lambda: isinstance(app.screen, SellScreen))
            await pilot.press("enter")  # 100 %
            assert await until(
                pilot, lambda: isinstance(app.screen, SellConfirmScreen) and app.screen.quote_text
            )
            await pilot.press("y")
            assert await until(pilot, lambda: send_piece(app).startswith("send ● refused")), (
                send_piece(app),
                app.screen,
                app.sell_messages,
                engine.snapshot().health,
            )
            assert send_piece(app) == "send ● refused Node is unhealthy (-32005)"
            assert engine.snapshot().health.send_ok is False
    finally:
        if engine.started:
            engine.stop()
