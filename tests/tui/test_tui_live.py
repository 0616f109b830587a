"""Live tables: the Trades and Log panes show the newest first while the cursor is on top; a cursor moved by
hand stays on its row, the border counts what arrived above it, and End (or G) goes back to live."""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine.state import LogLine, TradeView
from zapbot_tui.app import ZapBotApp
from zapbot_tui.panes.base import fit_columns
from zapbot_tui.panes.trades import TradesPane
from zapbot_tui.static import BASE_TIME, StaticEngine, fixed_snapshot

MINT = "DezXAZ8z7PnrnRJjz3wXBoRgixCa6xjnB7YaB1pPB263"


def trade(n: int, status: str = "sent") -> TradeView:
    at = BASE_TIME + n
    return TradeView(
        id=10_000 + n,
        leader_signature=f"sig{n}",
        trader="alpha",
        side="buy",
        mint=MINT,
        status=status,
        token_amount=1_000_000 * n,
        quote_amount=1_000_000,
        token_decimals=5,
        detected_at=at - 0.1,
        queued_at=at,
        sent_at=at + 0.2 if status != "queued" else None,
        symbol="BONK",
    )


class Feed:
    """A StaticEngine whose snapshot gains trades (in the engine's own order: first recorded, last listed)."""

    def __init__(self) -> None:
        self.engine = StaticEngine(replace(fixed_snapshot(), trades=(), logs=()))
        self.trades: dict[int, TradeView] = {}
        self.logs: list[LogLine] = []

    def push(self, *views: TradeView) -> None:
        for view in views:
            self.trades[view.id] = view
        # The engine lists trades newest-recorded first; a status change keeps a trade's place in it.
        ordered = tuple(sorted(self.trades.values(), key=lambda t: t.id, reverse=True))
        self.engine._snapshot = replace(self.engine._snapshot, trades=ordered, logs=tuple(self.logs))


def top_keys(pane, n: int = 5) -> list[str]:
    return [row.key.value for row in pane.table.ordered_rows[:n]]


@pytest.mark.slow
async def test_three_hundred_trades_newest_on_top_then_marker_and_end_back_to_live() -> None:
    feed = Feed()
    app = ZapBotApp(feed.engine, refresh_hz=0.001, cursor_blink=False, persist_theme=False)
    async with app.run_test(size=(120, 40)) as pilot:
        main = app.main
        pane = main.panes["trades"]
        main.focus_pane("trades")
        # 300 trades arrive in bursts of 20, each burst drawn by a refresh.
        for start in range(1, 301, 20):
            feed.push(*(trade(n) for n in range(start, start + 20)))
            main.refresh_view()
            await pilot.pause()
        assert pane.table.row_count == 300
        assert top_keys(pane) == [str(10_000 + n) for n in (300, 299, 298, 297, 296)]
        assert pane.selected_key() == "10300" and pane.is_live and not pane.border_subtitle
        # A status change (sent -> executed) never moves a row: order is by the decision's time.
        feed.push(replace(trade(298), status="executed", confirmed_at=BASE_TIME + 299.9))
        main.refresh_view()
        await pilot.pause()
        assert top_keys(pane, 3) == ["10300", "10299", "10298"]
        # The operator moves the cursor down by hand: the table stops following the top.
        for _ in range(3):
            await pilot.press("down")
        assert pane.selected_key() == "10297" and not pane.is_live
        feed.push(*(trade(n) for n in range(301, 308)))
        main.refresh_view()
        await pilot.pause()
        assert pane.selected_key() == "10297"  # still the row the operator chose
        assert top_keys(pane, 2) == ["10307", "10306"]  # newest still on top, just not selected
        assert pane.new_rows == 7 and "7 new" in str(pane.border_subtitle)
        await pilot.press("end")
        assert pane.selected_key() == "10307" and pane.is_live and not pane.border_subtitle
        feed.push(trade(308))
        main.refresh_view()
        await pilot.pause()
        assert pane.selected_key() == "10308" and pane.new_rows == 0
        # G does the same as End.
        await pilot.press("down", "down")
        feed.push(trade(309))
        main.refresh_view()
        await pilot.pause()
        assert "1 new" in str(pane.border_subtitle)
        await pilot.press("G")
        assert pane.selected_key() == "10309" and not pane.border_subtitle


@pytest.mark.slow
async def test_log_pane_is_live_the_same_way() -> None:
    feed = Feed()
    app = ZapBotApp(feed.engine, refresh_hz=0.001, cursor_blink=False, persist_theme=False)
    async with app.run_test(size=(120, 40)) as pilot:
        main = app.main
        pane = main.panes["log"]
        for n in range(200):
            feed.logs.append(LogLine(BASE_TIME + n, "info", "executor", f"line {n}"))
        feed.push(replace(trade(150), status="skipped", reason="daily spend cap"))
        main.refresh_view()
        await pilot.pause()
        first = [pane.table.get_row(key)[3].plain for key in top_keys(pane, 3)]
        assert first == ["line 199", "line 198", "line 197"]
        main.focus_pane("log")
        await pilot.press("down", "down")
        for n in range(200, 205):
            feed.logs.append(LogLine(BASE_TIME + n, "warning", "executor", f"line {n}"))
        feed.push()
        main.refresh_view()
        await pilot.pause()
        assert pane.table.get_row(pane.selected_key())[3].plain == "line 197"
        assert "5 new" in str(pane.border_subtitle)
        await pilot.press("end")
        assert pane.table.get_row(pane.selected_key())[3].plain == "line 204"
        # The skip sits at its own time among the log lines, with its reason.
        messages = [pane.table.get_row(row.key)[3].plain for row in pane.table.ordered_rows]
        skip = next(i for i, m in enumerate(messages) if "daily spend cap" in m)
        assert messages[skip - 1] == "line 150" or messages[skip + 1] == "line 150"


async def test_reason_is_visible_at_80_columns() -> None:
    feed = Feed()
    app = ZapBotApp(feed.engine, refresh_hz=0.001, cursor_blink=False, persist_theme=False)
    async with app.run_test(size=(80, 24)) as pilot:
        feed.push(replace(trade(1), status="skipped", reason="daily spend cap reached (10.0 SOL)"))
        app.main.refresh_view()
        await pilot.press("2")
        pane: TradesPane = app.main.panes["trades"]
        assert "reason" in pane.shown_columns()
        assert "daily spend cap reached (10.0 SOL)" in str(pane.detail.content)


def test_columns_drop_in_order_and_the_flexible_one_takes_the_rest() -> None:
    columns = TradesPane.columns
    shown, rest = fit_columns(columns, 200)
    assert len(shown) == len(columns) and rest > 40
    shown, rest = fit_columns(columns, 77)
    names = [columns[i].key for i in shown]
    assert "latency" not in names and "amount" not in names and "reason" in names and rest >= 16
    shown, _ = fit_columns(columns, 50)
    assert [columns[i].key for i in shown] == ["time", "status", "side", "token", "sol"]


async def test_unrealized_pnl_does_not_flicker_when_a_fill_rereads_the_position() -> None:
    feed = Feed()
    app = ZapBotApp(feed.engine, refresh_hz=0.001, cursor_blink=False, persist_theme=False)
    async with app.run_test(size=(120, 40)) as pilot:
        positions = fixed_snapshot().positions
        feed.engine._snapshot = replace(feed.engine._snapshot, positions=positions)
        app.main.refresh_view()
        await pilot.pause()
        pane = app.main.panes["positions"]
        mint = positions[0].mint
        before = pane.table.get_cell(mint, "unreal").plain
        # The data worker's mirror after a fill: the same position, no price yet.
        reread = tuple(replace(p, unrealized_pnl_lamports=None) for p in positions)
        feed.engine._snapshot = replace(feed.engine._snapshot, positions=reread)
        app.main.refresh_view()
        await pilot.pause()
        assert pane.table.get_cell(mint, "unreal").plain == before != "—"


async def test_a_log_line_cut_short_is_shown_whole_under_the_table() -> None:
    feed = Feed()
    app = ZapBotApp(feed.engine, refresh_hz=0.001, cursor_blink=False, persist_theme=False)
    long = "websocket reconnected after 1.2s; backfilling 3 wallets since slot 281234567 by polling " * 2
    async with app.run_test(size=(80, 24)) as pilot:
        feed.logs.append(LogLine(BASE_TIME, "warning", "websocket", "short line"))
        feed.push()
        app.main.refresh_view()
        await pilot.press("6")
        pane = app.main.panes["log"]
        assert not pane.detail.display  # whole on screen: no repeat
        feed.logs.append(LogLine(BASE_TIME + 1, "warning", "websocket", long.strip()))
        feed.push()
        app.main.refresh_view()
        await pilot.pause()
        shown = pane.table.get_row(pane.selected_key())[3].plain
        assert shown.endswith("…") and pane.detail.display and long.strip() in str(pane.detail.content)
