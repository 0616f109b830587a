"""SVG snapshots of the main screen, the help screen and the add-trader form, at 80x24 and 120x40, per theme,
and of the main screen at every supported size (80x24, 100x32, 120x40, 160x50).

A fixed EngineSnapshot (zapbot_tui.static) feeds the app, times are shown in UTC, the refresh timer is
effectively off and the cursor does not blink, so every run draws the same picture.
"""

from __future__ import annotations

import time

import pytest

from themes import THEME_NAMES
from zapbot_tui.app import ZapBotApp
from zapbot_tui.static import StaticEngine

pytestmark = pytest.mark.slow  # Pilot runs of a second or more each; the fast loop keeps the quick ones

SIZES = [(80, 24), (120, 40)]
ALL_SIZES = [(80, 24), (100, 32), (120, 40), (160, 50)]
SCREENS = {"main": (), "help": ("question_mark",), "add_trader": ("a",)}


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def make_app(theme: str) -> ZapBotApp:
    # refresh_hz tiny: only the first refresh runs, so the queue sparklines hold exactly one sample.
    return ZapBotApp(StaticEngine(), theme=theme, refresh_hz=0.001, cursor_blink=False, persist_theme=False)


@pytest.mark.parametrize("theme", THEME_NAMES)
@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
@pytest.mark.parametrize("screen", list(SCREENS))
def test_snapshot(snap_compare, screen: str, size: tuple[int, int], theme: str) -> None:
    assert snap_compare(make_app(theme), press=SCREENS[screen], terminal_size=size)


@pytest.mark.parametrize("size", ALL_SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_main_screen_at_every_size(snap_compare, size: tuple[int, int]) -> None:
    assert snap_compare(make_app("zapbot-dark"), terminal_size=size)
