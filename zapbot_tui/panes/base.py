"""What every table pane shares: a keyed DataTable that is diffed against each snapshot, never rebuilt."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from engine.state import EngineSnapshot
from zapbot_tui.format import fit

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


@dataclass(frozen=True)
class Col:
    """A table column. width None: it takes the rest of the row (at least min_width), its text fitted to it.
    drop: when the pane is too narrow the column with the highest drop goes first (0 = always shown)."""

    label: str
    key: str
    width: int | None
    drop: int = 0
    min_width: int = 12


CELL_PADDING = 1  # DataTable's default: one space either side of every cell


def fit_columns(columns: Sequence[Col], width: int) -> tuple[list[int], int]:
    """Which columns fit in width (their indices, in order) and the width left for the flexible one. Pure."""
    shown = list(range(len(columns)))

    def need(indices: list[int]) -> int:
        return sum((columns[i].width or columns[i].min_width) + 2 * CELL_PADDING for i in indices)

    droppable = sorted(
        (i for i in shown if columns[i].drop), key=lambda i: (columns[i].drop, i), reverse=True
    )
    while need(shown) > width and droppable:
        shown.remove(droppable.pop(0))
    flex = next((i for i in shown if columns[i].width is None), None)
    rest = 0
    if flex is not None:
        fixed = need([i for i in shown if i != flex])
        rest = max(columns[flex].min_width, width - fixed - 2 * CELL_PADDING)
    return shown, rest


def fitted(text: Text, width: int) -> Text:
    """A cell no wider than its column, shortened at a word boundary (format.fit) with its style kept."""
    if text.cell_len <= width:
        return text
    short = Text(fit(text.plain, width), style=text.style, no_wrap=True, overflow="ellipsis")
    short.justify = text.justify
    return short


class ZapTable(DataTable):
    """A DataTable whose Enter is shown in the footer as "Info"; in a newest-first table End, G and Home
    go back to the live top (the table's own End would go to the oldest row)."""

    BINDINGS: ClassVar = [
        Binding("enter", "select_cursor", "Info", tooltip="Open the selected row's details", show=True),
        Binding(
            "end,G,home", "go_live", "Live", tooltip="Back to the newest row, following new ones", show=False
        ),
    ]

    def __init__(self, live_tail: bool = False, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.live_tail = live_tail

    def action_go_live(self) -> None:
        pane = next((a for a in self.ancestors if isinstance(a, TablePane)), None)
        if self.live_tail and pane is not None:
            pane.go_live()
        elif self.row_count:
            self.move_cursor(row=self.row_count - 1, animate=False)


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
    """A pane holding one ZapTable that is diffed against the wanted rows on every refresh.

    live_tail (newest-first panes): while the cursor is on the top row the table is live, the newest row
    stays on top and selected. Once the operator moves the cursor down, it stays on its row as new rows
    arrive above it and the border counts them ("▲ 3 new · End: live"); End, G or Home go back to live.
    Columns that do not fit the pane's width are left out (highest `drop` first) and every cell is fitted
    to its column at a word boundary, so no text is cut mid-word. detail_line: a line under the table
    shows the selected row in full (the Reason of a trade at 80 columns)."""

    columns: ClassVar[tuple[Col, ...]] = ()
    max_rows: ClassVar[int] = 500
    live_tail: ClassVar[bool] = False
    detail_line: ClassVar[bool] = False
    detail_when_cut: ClassVar[bool] = False  # show the detail line only when the selected row is cut short

    def __init__(self) -> None:
        super().__init__()
        self.table = ZapTable(live_tail=self.live_tail, id=f"{self.pane_id}-table")
        self.detail = Static("", classes="row-detail", markup=False)
        self._cells: dict[str, tuple[Cell, ...]] = {}
        self._order: list[str] = []
        self._full: dict[str, tuple[Cell, ...]] = {}
        self._layout: tuple[tuple[int, ...], int] | None = None
        self._snapshot: EngineSnapshot | None = None
        self.filter_text = ""
        self.new_rows = 0  # rows that arrived above the cursor since the operator left the top
        self.updates = 0  # update_cell calls, so tests can see that unchanged cells are left alone

    def compose(self):  # type: ignore[no-untyped-def]
        yield self.table
        if self.detail_line:
            yield self.detail

    def on_mount(self) -> None:
        self._apply_layout(self._table_width())

    def focus_target(self) -> ZapTable:
        return self.table

    def rows(self, snapshot: EngineSnapshot) -> list[Row]:  # pragma: no cover - overridden
        raise NotImplementedError

    def describe(self, key: str, cells: tuple[Cell, ...]) -> str:
        """The detail line of a row: every column's full text by default."""
        return "  ".join(
            f"{col.label} {c.plain}" for col, c in zip(self.columns, cells) if c.plain and c.plain != "—"
        )

    @property
    def is_live(self) -> bool:
        return self.live_tail and self.table.cursor_row <= 0

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

    def full_cells(self, key: str) -> tuple[Cell, ...]:
        """A row's cells before they were fitted to their columns (every column, shown or not)."""
        return self._full[key]

    def shown_columns(self) -> list[str]:
        return [self.columns[i].key for i in (self._layout or ((), 0))[0]]

    # -- layout ------------------------------------------------------------------------------------
    def _table_width(self) -> int:
        # The pane's content width (inside its border; the table fills it) less one column for the scrollbar.
        width = self.size.width - 1
        return width if width > 0 else 10_000

    def on_resize(self, _event: Any) -> None:
        if self._apply_layout(self._table_width()) and self._snapshot is not None:
            self.refresh_from(self._snapshot)

    def _apply_layout(self, width: int) -> bool:
        shown, rest = fit_columns(self.columns, width)
        layout = (tuple(shown), rest)
        if layout == self._layout:
            return False
        self._layout = layout
        table = self.table
        table.clear(columns=True)
        for index in shown:
            col = self.columns[index]
            table.add_column(col.label, key=col.key, width=col.width or rest)
        self._cells = {}
        self._order = []
        return True

    def _visible(self, cells: tuple[Cell, ...]) -> tuple[Cell, ...]:
        shown, rest = self._layout or ((), 0)
        return tuple(fitted(cells[i], self.columns[i].width or rest) for i in shown)

    # -- refresh -----------------------------------------------------------------------------------
    def refresh_from(self, snapshot: EngineSnapshot) -> None:
        self._snapshot = snapshot
        wanted = self.rows(snapshot)
        if self.filter_text:
            wanted = [row for row in wanted if matches(row[1], self.filter_text)]
        wanted = wanted[: self.max_rows]
        self._full = dict(wanted)
        wanted = [(key, self._visible(cells)) for key, cells in wanted]
        diff = diff_rows(self._cells, wanted)
        if not (diff.removed or diff.added or diff.changed) and diff.order == self._order:
            self._show_detail()
            return
        table = self.table
        live = self.is_live
        selected = self.selected_key()
        with self.app.batch_update():
            for key in diff.removed:
                table.remove_row(key)
                del self._cells[key]
            for key, index, cell in diff.changed:
                table.update_cell(key, table.ordered_columns[index].key, cell)
                self.updates += 1
            for key, cells in diff.added:
                table.add_row(*cells, key=key)
            self._cells = self._cells_on_screen(wanted)
            if diff.order != self._table_order():
                self._reorder(diff.order)
            self._order = diff.order
            if live:
                self.new_rows = 0
                if table.row_count and table.cursor_row != 0:
                    table.move_cursor(row=0, animate=False)
            elif selected is not None and selected in self._cells:
                index = table.get_row_index(selected)
                if self.live_tail and diff.added:
                    added = {key for key, _ in diff.added}
                    self.new_rows += sum(1 for key in diff.order[:index] if key in added)
                if index != table.cursor_row:
                    table.move_cursor(row=index, animate=False)
        self._show_marker()
        self._show_detail()

    def go_live(self) -> None:
        """Back to the newest row, following new ones from here on."""
        self.new_rows = 0
        if self.table.row_count:
            self.table.move_cursor(row=0, animate=False)
        self.table.scroll_home(animate=False)
        self._show_marker()
        self._show_detail()

    def _show_marker(self) -> None:
        marker = f"▲ {self.new_rows} new · End: live" if self.new_rows and not self.is_live else ""
        if self.new_rows and self.is_live:
            self.new_rows = 0
        if self.border_subtitle != marker:
            self.border_subtitle = marker

    def _show_detail(self) -> None:
        if not self.detail_line:
            return
        key = self.selected_key()
        cells = self._full.get(key) if key is not None else None
        text = self.describe(key, cells) if key is not None and cells is not None else ""
        if self.detail_when_cut and cells is not None and key in self._cells and self._layout is not None:
            shown = self._layout[0]
            whole = len(shown) == len(self.columns) and all(
                on_screen.plain == cells[i].plain for on_screen, i in zip(self._cells[key], shown)
            )
            if whole:
                text = ""  # the row is whole on screen: the line would only repeat it
        if str(self.detail.content) != text:
            self.detail.update(text)
        self.detail.display = bool(text)

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_marker()
        self._show_detail()

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
