"""The Traders pane shows each trader's detection lag and detect → send (medians over the recent window) with
their units, and follows new figures; a trader with none yet shows a dash."""

from __future__ import annotations

from dataclasses import replace

from engine.latency import LatencyView, TraderLatency
from zapbot_tui.app import ZapBotApp
from zapbot_tui.static import StaticEngine, fixed_snapshot


def cells(pane, name: str) -> dict[str, str]:
    table = pane.table
    labels = [column.label.plain for column in table.columns.values()]
    return dict(zip(labels, (str(cell) for cell in table.get_row(name))))


async def test_traders_pane_shows_the_lag_columns_in_ms_and_s() -> None:
    engine = StaticEngine(
        replace(
            fixed_snapshot(),
            latency=LatencyView(
                traders={"alpha": TraderLatency(0.42, 0.085, 5, 5), "bravo": TraderLatency(1.3)}
            ),
        )
    )
    app = ZapBotApp(engine, refresh_hz=0.001, cursor_blink=False, persist_theme=False)
    async with app.run_test(size=(80, 24)) as pilot:
        main = app.main
        pane = main.panes["traders"]
        assert (cells(pane, "alpha")["Lag"], cells(pane, "alpha")["Send"]) == ("420ms", "85ms")
        assert (cells(pane, "bravo")["Lag"], cells(pane, "bravo")["Send"]) == ("1.3s", "—")
        assert (cells(pane, "charlie")["Lag"], cells(pane, "charlie")["Send"]) == ("—", "—")
        # New figures arrive with the next snapshot: a slow detection reads in whole seconds.
        engine._snapshot = replace(
            engine._snapshot, latency=LatencyView(traders={"alpha": TraderLatency(12.4, 2.31, 9, 9)})
        )
        main.refresh_view()
        await pilot.pause()
        assert (cells(pane, "alpha")["Lag"], cells(pane, "alpha")["Send"]) == ("12s", "2.3s")
        assert cells(pane, "bravo")["Lag"] == "—"
