"""What every table pane shares: a keyed DataTable that is diffed against each snapshot, never rebuilt."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable

from engine.state import EngineSnapshot

Cell = Text
Row = tuple[str, tuple[Cell, ...]]


@dataclass
class TableDiff:
    """What changed between the rows on screen and the rows wanted: pure, so it is unit-tested."""

    removed: list[str]
    added: list[Row]
    changed: list[tuple[str, int, Cell]]
    order: list[str]


def diff_rows(current: dict[str, tuple[Cell, ...]], wanted: Sequence[Row]) -> TableDiff:
    wanted_keys = {key for key, _ in wanted}
    removed = [key for key in current if key not in wanted_keys]
    added: list[Row] = []
    changed: list[tuple[str, int, Cell]] = []
    for key, cells in wanted:
        old = current.get(key)
        if old is None:
            added.append((key, cells))
            continue
        for index, (before, after) in enumerate(zip(old, cells)):
            if before != after:
                changed.append((key, index, after))
    return TableDiff(removed, added, changed, [key for key, _ in wanted])


def matches(cells: Iterable[Cell], needle: str) -> bool:
    needle = needle.casefold()
    return any(needle in cell.plain.casefold() for cell in cells)


class ZapTable(DataTable):
    """A DataTable whose Enter is shown in the footer as "Details"."""

    BINDINGS: ClassVar = [
        Binding("enter", "select_cursor", "Info", tooltip="Open the selected row's details", show=True),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)


class Pane(Vertical, can_focus=False):
    """A bordered region of the main screen with a title; subclasses fill refresh_from()."""

    title: ClassVar[str] = ""
    pane_id: ClassVar[str] = ""

    def __init__(self) -> None:
        super().__init__(id=self.pane_id, classes="pane")
        self.border_title = self.title

    def refresh_from(self, snapshot: EngineSnapshot) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def focus_target(self):  # type: ignore[no-untyped-def]
        return self


class TablePane(Pane):
    """A pane holding one ZapTable that is diffed against the wanted rows on every refresh."""

    columns: ClassVar[tuple[tuple[str, str, int | None], ...]] = ()  # (label, key, width)
    max_rows: ClassVar[int] = 500

    def __init__(self) -> None:
        super().__init__()
        self.table = ZapTable(id=f"{self.pane_id}-table")
        self._cells: dict[str, tuple[Cell, ...]] = {}
        self._order: list[str] = []
        self.filter_text = ""
        self.updates = 0  # update_cell calls, so tests can see that unchanged cells are left alone

    def compose(self):  # type: ignore[no-untyped-def]
        yield self.table

    def on_mount(self) -> None:
        for label, key, width in self.columns:
            self.table.add_column(label, key=key, width=width)

    def focus_target(self) -> ZapTable:
        return self.table

    def rows(self, snapshot: EngineSnapshot) -> list[Row]:  # pragma: no cover - overridden
        raise NotImplementedError

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip()
        suffix = f" / {self.filter_text}" if self.filter_text else ""
        self.border_title = f"{self.title}{suffix}"

    def selected_key(self) -> str | None:
        table = self.table
        if table.row_count == 0:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:
            return None

    def refresh_from(self, snapshot: EngineSnapshot) -> None:
        wanted = self.rows(snapshot)
        if self.filter_text:
            wanted = [row for row in wanted if matches(row[1], self.filter_text)]
        wanted = wanted[: self.max_rows]
        diff = diff_rows(self._cells, wanted)
        if not (diff.removed or diff.added or diff.changed) and diff.order == self._order:
            return
        table = self.table
        selected = self.selected_key()
        with self.app.batch_update():
            for key in diff.removed:
                table.remove_row(key)
                del self._cells[key]
            for key, index, cell in diff.changed:
                table.update_cell(key, self.columns[index][1], cell)
                self.updates += 1
            for key, cells in diff.added:
                table.add_row(*cells, key=key)
            self._cells = self._cells_on_screen(wanted)
            if diff.order != self._table_order():
                self._reorder(diff.order)
            self._order = diff.order
            if selected is not None and selected in self._cells:
                index = table.get_row_index(selected)
                if index != table.cursor_row:
                    table.move_cursor(row=index, animate=False)

    def _cells_on_screen(self, wanted: Sequence[Row]) -> dict[str, tuple[Cell, ...]]:
        """The wanted rows, holding the very cell objects the table now holds: an unchanged cell is the one
        added earlier (update_cell stored only the changed ones), which is how _reorder finds a row."""
        shown: dict[str, tuple[Cell, ...]] = {}
        for key, cells in wanted:
            old = self._cells.get(key)
            shown[key] = cells if old is None else tuple(o if o == n else n for o, n in zip(old, cells))
        return shown

    def _table_order(self) -> list[str]:
        return [row.key.value for row in self.table.ordered_rows]

    def _reorder(self, order: list[str]) -> None:
        # DataTable only appends rows, and its public sort() sees a row's cells but not its key; newest-first
        # tables need rows placed by key. The cells are the objects this pane added, so their identities
        # name the row (rows sharing every cell object would look the same wherever they stood).
        rank = {tuple(map(id, self._cells[key])): index for index, key in enumerate(order)}
        self.table.sort(key=lambda cells: rank.get(tuple(map(id, cells)), len(rank)))


_TONE_CACHE: dict[str, dict[str, str]] = {}


def tones(app: Any) -> dict[str, str]:
    """Rich style strings for ok/bad/warn/dim/accent taken from the current theme (so cells follow `t`)."""
    theme = app.current_theme
    cached = _TONE_CACHE.get(theme.name)
    if cached is not None:
        return cached

    def rich(color: str | None, fallback: str) -> str:
        value = color or fallback
        return value.removeprefix("ansi_") if value.startswith("ansi_") else value

    result = {
        "ok": rich(theme.success, "green"),
        "bad": rich(theme.error, "red"),
        "warn": rich(theme.warning, "yellow"),
        "accent": rich(theme.accent, "yellow"),
        "primary": rich(theme.primary, "cyan"),
        "dim": "dim",
        "plain": "",
    }
    _TONE_CACHE[theme.name] = result
    return result


def cell(value: object, style: str = "", justify: str | None = None) -> Text:
    text = Text(str(value), style=style, no_wrap=True, overflow="ellipsis")
    if justify:
        text.justify = justify  # type: ignore[assignment]
    return text
