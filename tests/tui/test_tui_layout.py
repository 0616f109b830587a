"""At 80x24, 100x32, 120x40 and 160x50 every pane is on the screen or one key away, every table fits its pane,
and no text is cut mid-word: a cell is whole or ends at a word boundary with "…", a header piece is never
split, and the line under Trades shows the selected trade's reason."""

from __future__ import annotations

import time

import pytest

from zapbot_tui.app import ZapBotApp
from zapbot_tui.panes.base import CELL_PADDING, TablePane
from zapbot_tui.static import StaticEngine

pytestmark = pytest.mark.slow  # Pilot runs of a second or more each; the fast loop keeps the quick ones

SIZES = [(80, 24), (100, 32), (120, 40), (160, 50)]
BOUNDARY = " ,;/:"


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def cut_at_a_word(shown: str, full: str) -> bool:
    if shown == full:
        return True
    if not shown.endswith("…"):
        return False
    head = shown[:-1]
    if not full.startswith(head):
        return False
    rest = full[len(head) :]
    # The cut is at a boundary: the head ends one, or what was left out starts with one; a single word wider
    # than its column (a signature) is the one exception format.fit makes.
    return not head or head[-1] in BOUNDARY or rest[0] in BOUNDARY or " " not in full


def check_pane(pane: TablePane) -> None:
    table = pane.table
    used = sum(column.width + 2 * CELL_PADDING for column in table.ordered_columns)
    assert used <= pane.size.width - 1, (pane.pane_id, used, pane.size.width)  # one column: the scrollbar
    for row in table.ordered_rows:
        key = row.key.value
        full = dict(zip((c.key for c in pane.columns), pane.full_cells(key)))
        for column, shown in zip(table.ordered_columns, table.get_row(key)):
            assert cut_at_a_word(shown.plain, full[column.key.value].plain), (pane.pane_id, shown.plain)


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
async def test_every_pane_is_shown_or_one_key_away_and_nothing_is_cut_mid_word(size) -> None:
    app = ZapBotApp(StaticEngine(), refresh_hz=0.001, cursor_blink=False, persist_theme=False)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        main = app.main
        header = main.header
        rendered = header.lines
        for piece in header.pieces:  # each piece whole, on one line
            assert any(piece in line for line in rendered), piece
        assert all(len(line) <= size[0] - 2 for line in rendered)
        assert any(p.startswith("PnL ") for p in header.pieces)
        assert any(p.startswith("spent ") and "/" in p for p in header.pieces)
        assert any(p.startswith("send ") for p in header.pieces)
        for number, name in enumerate(main.PANE_ORDER, 1):
            await pilot.press(str(number))
            await pilot.pause()
            pane = main.panes[name]
            assert pane.region.width > 0 and pane.region.height > 0, name  # on the screen after one key
            if isinstance(pane, TablePane):
                check_pane(pane)
        trades = main.panes["trades"]
        failed = next(
            row.key.value
            for row in trades.table.ordered_rows
            if "failed" in trades.full_cells(row.key.value)[1].plain
        )
        trades.table.move_cursor(row=trades.table.get_row_index(failed))
        await pilot.pause()
        assert "slippage limit" in str(trades.detail.content)


async def test_at_100x32_queues_is_one_key_away_and_esc_brings_the_dashboard_back() -> None:
    app = ZapBotApp(StaticEngine(), refresh_hz=0.001, cursor_blink=False, persist_theme=False)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        main = app.main
        assert main.panes["queues"].region.width == 0  # no room: its place goes to Positions
        assert main.panes["positions"].region.height >= 5 and main.panes["traders"].region.width > 0
        await pilot.press("5")
        await pilot.pause()
        assert main.zoomed and main.panes["queues"].region.height > 10
        assert main.panes["trades"].region.width == 0
        await pilot.press("escape")
        await pilot.pause()
        assert not main.zoomed and main.panes["queues"].region.width == 0
        assert main.panes["trades"].region.width > 0
