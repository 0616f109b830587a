"""TablePane places rows in the order its rows() gives (newest first), through DataTable's public API, and
keeps the selected row under the cursor while rows arrive above it."""

from __future__ import annotations

from textual.app import App

from zapbot_tui.panes.base import Col, Row, TablePane, cell


class OrderPane(TablePane):
    pane_id = "order"
    title = "Order"
    columns = (Col("What", "what", 10), Col("State", "state", 10))

    def __init__(self) -> None:
        super().__init__()
        self.wanted: list[Row] = []

    def rows(self, snapshot) -> list[Row]:  # type: ignore[no-untyped-def]
        return self.wanted


class OrderApp(App):
    def compose(self):  # type: ignore[no-untyped-def]
        yield OrderPane()


def row(key: str, state: str = "open") -> Row:
    return key, (cell(key), cell(state))


def shown(pane: OrderPane) -> list[str]:
    return [r.key.value for r in pane.table.ordered_rows]


async def test_rows_follow_the_wanted_order_and_the_cursor_follows_its_row() -> None:
    app = OrderApp()
    async with app.run_test() as pilot:
        pane = app.query_one(OrderPane)
        pane.wanted = [row("b"), row("a")]
        pane.refresh_from(None)
        assert shown(pane) == ["b", "a"]
        pane.table.move_cursor(row=1)  # select "a"
        await pilot.pause()
        pane.wanted = [row("d"), row("c"), row("b", "closed"), row("a")]
        pane.refresh_from(None)
        assert shown(pane) == ["d", "c", "b", "a"]
        assert pane.selected_key() == "a" and pane.table.cursor_row == 3
        assert pane.table.get_row("b")[1].plain == "closed" and pane.updates == 1
        # Unchanged rows are left alone; a reorder alone moves rows without touching cells.
        pane.wanted = [row("a"), row("d"), row("c"), row("b", "closed")]
        pane.refresh_from(None)
        assert shown(pane) == ["a", "d", "c", "b"] and pane.updates == 1
        assert pane.selected_key() == "a" and pane.table.cursor_row == 0
        pane.wanted = [row("e"), row("b", "closed")]
        pane.refresh_from(None)
        assert shown(pane) == ["e", "b"]
