"""The main dashboard screen: panes, the refresh timer that diffs them, and every operator key."""

from __future__ import annotations

import time
from functools import partial
from typing import Any, ClassVar

from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Static

from engine.state import EngineSnapshot
from zapbot_tui.format import short_key, sol, token_amount
from zapbot_tui.panes.base import Pane, TablePane
from zapbot_tui.panes.footer import KeyFooter
from zapbot_tui.panes.header import HeaderPane
from zapbot_tui.panes.log import LogPane
from zapbot_tui.panes.positions import UNTRACKED_KEY, PositionsPane
from zapbot_tui.panes.queues import QueuesPane
from zapbot_tui.panes.traders import TradersPane
from zapbot_tui.panes.trades import TradesPane
from zapbot_tui.panes.workers import WorkersPane
from zapbot_tui.screens.details import DetailsScreen, section_only, trade_lines, trader_lines, worker_lines
from zapbot_tui.screens.dialogs import ConfirmScreen, FilterScreen, SellConfirmScreen, SellScreen
from zapbot_tui.screens.help import HelpScreen
from zapbot_tui.screens.trader_form import TraderFormScreen


def quote_text(quote: Any, label: str) -> str:
    """A sell quote in words: what goes out, what should come back, the least it may, and the price impact."""
    impact = "unknown" if quote.price_impact_pct is None else f"{quote.price_impact_pct:.2f}%"
    return (
        f"{token_amount(quote.token_amount, quote.decimals)} {label} → about {sol(quote.expected_lamports)} SOL"
        f" (at least {sol(quote.min_lamports)} SOL), price impact {impact}"
    )


# (key, action, footer word, command name, what it does). One table feeds the bindings, the footer,
# the help screen and the command palette, so they can never disagree.
KEYS: tuple[tuple[str, str, str, str, str], ...] = (
    ("s", "start_copying", "Start", "Start copying trader", "Start copying the selected trader"),
    ("x", "stop_copying", "Stop", "Stop copying trader", "Stop copying the selected trader"),
    ("p", "toggle_pause", "Pause", "Pause buys / resume", "Pause buys (sells still copied), or resume"),
    ("P", "pause_everything", "", "Pause all", "Pause all copying, sells and exits too"),
    ("a", "add_trader", "Add", "Add trader", "Add a trader to follow"),
    ("S", "scout", "", "Scout a wallet", "Scout a wallet: its trading, and what copying it would make"),
    ("e", "edit_trader", "Edit", "Edit trader", "Edit the selected trader"),
    ("d", "delete_trader", "Del", "Delete trader", "Delete the selected trader (asks first)"),
    ("enter", "details", "Info", "Details", "Details of the selected row; on a position: sell"),
    ("slash", "filter", "Find", "Filter rows", "Filter the rows of the current pane"),
    ("tab", "next_pane", "Pane", "Next pane", "Move to the next pane"),
    ("shift+tab", "prev_pane", "", "Previous pane", "Move to the previous pane"),
    ("t", "next_theme", "Theme", "Next theme", "Switch to the next theme (remembered)"),
    ("l", "toggle_log", "Log", "Toggle log pane", "Show or hide the log and skips pane"),
    ("question_mark", "help", "Help", "Help", "Show every key"),
    ("1", "show_pane('traders')", "", "Traders pane", "Go to the Traders pane"),
    ("2", "show_pane('trades')", "", "Trades pane", "Go to the Trades pane"),
    ("3", "show_pane('positions')", "", "Positions pane", "Go to the Positions pane"),
    ("4", "show_pane('workers')", "", "Workers pane", "Go to the Workers pane"),
    ("5", "show_pane('queues')", "", "Queues pane", "Go to the Queues pane (alone on the screen if hidden)"),
    ("6", "show_pane('log')", "", "Log pane", "Go to the Log and skips pane"),
    ("escape", "unzoom", "", "Back to all panes", "Back from one pane to the whole dashboard"),
    ("q", "quit", "Quit", "Quit", "Quit (asks first if trades are in flight)"),
)
KEY_DISPLAY = {
    "enter": "⏎",
    "slash": "/",
    "tab": "⇥",
    "shift+tab": "⇤",
    "question_mark": "?",
    "escape": "Esc",
}
# Below this size the panes no longer fit side by side: show one pane at a time with a pane bar.
COMPACT_WIDTH = 100
COMPACT_HEIGHT = 28
# Below this height the Queues pane gives its room to Positions (5 shows it; Workers has the inbox depths).
TALL_HEIGHT = 40
WIDE_WIDTH = 150
WORKER_HISTORY = 20  # state changes kept per worker for its detail view


class MainScreen(Screen):
    """The dashboard. All operator keys live here, so modals never see them."""

    BINDINGS: ClassVar = [
        Binding(
            key,
            action,
            word,
            show=bool(word),
            tooltip=what,
            id=action,
            key_display=KEY_DISPLAY.get(key),
            priority=key in ("tab", "shift+tab"),
        )
        for key, action, word, _, what in KEYS
    ]

    DEFAULT_CSS = """
    MainScreen { layout: vertical; }
    #pane-bar { height: 1; padding: 0 1; display: none; background: $panel; }
    #body { height: 1fr; }
    #left { width: 1fr; }
    #right { width: 46; }
    MainScreen.-medium #right { width: 40; }
    MainScreen.-wide #right { width: 64; }
    .pane { border: round $border-blurred; border-title-color: $text-muted; height: 1fr; }
    .pane:focus-within { border: round $border; border-title-color: $primary; border-title-style: bold; }
    #traders { height: 7; }
    #trades { height: 1fr; }
    #workers { height: 10; }
    #queues { height: 9; }
    #positions { height: 1fr; }
    #log { height: 9; }
    MainScreen.-medium #log { height: 7; }
    MainScreen.-medium #queues { display: none; }
    #log.-hidden { display: none; }
    .pane DataTable { height: 1fr; scrollbar-size-vertical: 1; scrollbar-size-horizontal: 0; }
    #queues-body { height: 1fr; scrollbar-size-vertical: 1; }
    .row-detail { height: auto; max-height: 2; padding: 0 1; color: $text-muted; background: $boost; }

    MainScreen.-compact #pane-bar { display: block; }
    MainScreen.-compact #right { width: 1fr; min-width: 0; }
    MainScreen.-compact #left, MainScreen.-compact #right { display: none; }
    MainScreen.-compact #left.-current, MainScreen.-compact #right.-current { display: block; }
    MainScreen.-compact .pane { display: none; height: 1fr; }
    MainScreen.-compact .pane.-current { display: block; height: 1fr; }
    MainScreen.-compact #log.-current, MainScreen.-compact #queues.-current,
    MainScreen.-compact #workers.-current, MainScreen.-compact #traders.-current { height: 1fr; }
    """

    PANE_ORDER: ClassVar[tuple[str, ...]] = ("traders", "trades", "positions", "workers", "queues", "log")

    def __init__(self) -> None:
        super().__init__(id="main")
        self.header = HeaderPane()
        self.panes: dict[str, Pane] = {
            "traders": TradersPane(),
            "trades": TradesPane(),
            "positions": PositionsPane(),
            "workers": WorkersPane(),
            "queues": QueuesPane(),
            "log": LogPane(),
        }
        self.current = "traders"
        self.log_visible = True
        self.compact = False
        self.medium = False
        self.zoomed = False  # one pane alone on the screen at a size that shows them all (5 at 100x32)
        self.term_size = (0, 0)
        self._traders_height: int | None = None
        # Each worker's states as the console saw them change: (when, state, detail), the latest last.
        self.worker_history: dict[str, list[tuple[float, str, str]]] = {}
        self.snapshot: EngineSnapshot | None = None
        self.refreshes = 0
        self._last_refresh = 0.0
        self._pane_bar = ""

    # -- layout ---------------------------------------------------------------------------------
    def compose(self):  # type: ignore[no-untyped-def]
        yield self.header
        yield Static("", id="pane-bar")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield self.panes["traders"]
                yield self.panes["trades"]
            with Vertical(id="right"):
                yield self.panes["workers"]
                yield self.panes["queues"]
                yield self.panes["positions"]
        yield self.panes["log"]
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        self._apply_layout(self.size.width, self.size.height)
        self.refresh_view()
        hz = self.app.refresh_hz
        self.set_interval(1.0 / hz, self._tick, name="refresh")
        self.focus_pane(self.current)

    def on_resize(self, event: Any) -> None:
        self._apply_layout(event.size.width, event.size.height)

    def _apply_layout(self, width: int, height: int) -> None:
        self.term_size = (width, height)
        small = width < COMPACT_WIDTH or height < COMPACT_HEIGHT
        self.compact = small or self.zoomed
        self.medium = not small and height < TALL_HEIGHT
        self.set_class(self.compact, "-compact")
        self.set_class(self.medium and not self.compact, "-medium")  # a pane shown alone is whole
        self.set_class(not small and width >= WIDE_WIDTH, "-wide")
        footer = self.query(KeyFooter)
        if footer:
            footer.first().wrap = width < 110
        self._fit_traders()
        self._mark_current()

    def shown_panes(self) -> list[str]:
        """The panes on the screen at this size (the rest are one key away: 1-6)."""
        if self.compact:
            return [self.current]
        hidden = {"queues"} if self.medium else set()
        if not self.log_visible:
            hidden.add("log")
        return [name for name in self.PANE_ORDER if name not in hidden]

    def _fit_traders(self) -> None:
        # The Traders pane is as tall as its rows (a border, the header, one line each), up to a third.
        pane = self.panes["traders"]
        if self.compact:
            if self._traders_height is not None:  # shown alone it fills the body: drop the height we set
                self._traders_height = None
                pane.styles.height = None
            return
        if self.snapshot is None:
            return
        rows = max(1, len(self.snapshot.traders))
        height = max(5, min(rows + 3, max(5, self.term_size[1] // 3)))
        if self._traders_height != height:
            self._traders_height = height
            pane.styles.height = height

    def _mark_current(self) -> None:
        for name, pane in self.panes.items():
            pane.set_class(name == self.current, "-current")
        left = self.current in ("traders", "trades")
        right = self.current in ("workers", "queues", "positions")
        self.query_one("#left").set_class(left, "-current")
        self.query_one("#right").set_class(right, "-current")
        self.panes["log"].set_class(
            not self.log_visible and not (self.compact and self.current == "log"), "-hidden"
        )
        bar = []
        for number, name in enumerate(self.PANE_ORDER, 1):
            title = f"{number} {self.panes[name].title.split(' ')[0]}"
            bar.append(f"[reverse b] {title} [/]" if name == self.current else f" {title} ")
        text = "│".join(bar)
        if self.zoomed:
            text += "  [dim]Esc: all panes[/]"
        self.query_one("#pane-bar").display = self.compact or self.medium
        if text != self._pane_bar:
            self._pane_bar = text
            self.query_one("#pane-bar", Static).update(text)

    def visible_panes(self) -> list[str]:
        """The panes Tab moves through: all of them one at a time when compact, else those shown."""
        if self.compact:
            return list(self.PANE_ORDER)
        return self.shown_panes()

    def focus_pane(self, name: str) -> None:
        self.current = name
        self._mark_current()
        self.panes[name].focus_target().focus()

    def on_descendant_focus(self, event: Any) -> None:
        # Keeps `current` right when focus moves by other means (a click, a closed modal).
        for name, pane in self.panes.items():
            if pane in event.widget.ancestors_with_self and name != self.current:
                self.current = name
                self._mark_current()
                break

    # -- refresh --------------------------------------------------------------------------------
    def _tick(self) -> None:
        # Like Dolphie: no polling while a modal covers the dashboard.
        if self.app.screen is self:
            self.refresh_view()

    def refresh_soon(self) -> None:
        """Refresh now unless one happened very recently (events can arrive much faster than frames)."""
        if time.monotonic() - self._last_refresh > 1.0 / self.app.refresh_hz and self.app.screen is self:
            self.refresh_view()

    def refresh_view(self) -> None:
        app = self.app
        snapshot = app.take_snapshot()
        self.snapshot = snapshot
        self._last_refresh = time.monotonic()
        self.refreshes += 1
        self.header.refresh_from(snapshot, phase=app.phase, live_pending=app.live_pending)
        if snapshot is None:
            return
        self._note_workers(snapshot)
        with app.batch_update():
            self._fit_traders()
            for pane in self.panes.values():
                pane.refresh_from(snapshot)

    def _note_workers(self, snapshot: EngineSnapshot) -> None:
        for worker in snapshot.workers:
            history = self.worker_history.setdefault(worker.name, [])
            if not history or history[-1][1:] != (worker.state, worker.detail):
                history.append((snapshot.taken_at, worker.state, worker.detail))
                del history[:-WORKER_HISTORY]

    # -- helpers --------------------------------------------------------------------------------
    @property
    def engine(self) -> Any:
        return self.app.engine

    def _engine_ready(self) -> bool:
        if self.app.phase != "running":
            self.notify(f"the engine is {self.app.phase}; try again in a moment", severity="warning")
            return False
        return True

    def selected_trader(self) -> str | None:
        name = self.panes["traders"].selected_key()  # type: ignore[attr-defined]
        if name is None:
            self.notify("select a trader first (Traders pane)", severity="warning")
        return name

    def _run_command(self, what: str, fn: Any, *args: Any) -> Any:
        """Facade commands are quick (memory + a small file write); a user error becomes one line."""
        try:
            result = fn(*args)
        except (KeyError, ValueError, RuntimeError, OSError) as exc:
            message = exc.args[0] if exc.args else str(exc)
            self.notify(f"{what}: {message}", severity="error")
            return None
        self.refresh_view()
        return result

    def command_list(self) -> list[tuple[str, str, str]]:
        return [(name, what, action) for _, action, _, name, what in KEYS]

    def key_help(self) -> list[tuple[str, str]]:
        rows = [
            (KEY_DISPLAY.get(key, key), what)
            for key, action, _, _, what in KEYS
            if not action.startswith("show_pane")
        ]
        at = next(i for i, (key, _) in enumerate(rows) if key == "Esc")
        rows[at:at] = [("1-6", "Go to pane 1-6 (shown in the pane bar); a hidden one shows alone")]
        rows.append(("End / G", "Trades, Log: back to the newest row and follow it (Home too)"))
        rows.append(("ctrl+p", "Command palette: every action, per trader and per position"))
        return rows

    # -- actions --------------------------------------------------------------------------------
    def action_start_copying(self) -> None:
        if self._engine_ready() and (name := self.selected_trader()):
            self.start_copying(name)

    def action_stop_copying(self) -> None:
        if self._engine_ready() and (name := self.selected_trader()):
            self.stop_copying(name)

    def start_copying(self, name: str) -> None:
        if self._engine_ready() and self._run_command("start copying", self.engine.start_copying, name):
            self.notify(f"copying {name}")

    def stop_copying(self, name: str) -> None:
        if self._engine_ready() and self._run_command("stop copying", self.engine.stop_copying, name):
            self.notify(f"stopped copying {name}")

    def action_toggle_pause(self) -> None:
        if not self._engine_ready():
            return
        if self.engine.paused:
            self._run_command("resume", self.engine.resume_all)
            self.notify("copying resumed")
        else:
            self._run_command("pause buys", self.engine.pause_buys)
            self.notify("buys PAUSED, sells still copied (p to resume)", severity="warning")

    def action_pause_everything(self) -> None:
        if self._engine_ready():
            self._run_command("pause all", self.engine.pause_all)
            self.notify("ALL copying PAUSED, sells too (p to resume)", severity="warning")

    def action_add_trader(self) -> None:
        if self._engine_ready():
            self.app.push_screen(TraderFormScreen(self.engine), self._trader_saved)

    def action_scout(self) -> None:
        from zapbot_tui.screens.scout import ScoutScreen  # plotext is loaded only when scouting

        name = self.panes["traders"].selected_key()  # type: ignore[attr-defined]
        trader = self.engine.traders.get(name) if name else None
        self.app.push_screen(ScoutScreen(self.engine, trader.wallet if trader is not None else ""))

    def action_edit_trader(self) -> None:
        if self._engine_ready() and (name := self.selected_trader()):
            self.edit_trader(name)

    def edit_trader(self, name: str) -> None:
        if not self._engine_ready():
            return
        trader = self.engine.traders.get(name)
        if trader is None:
            self.notify(f"no trader named {name!r}", severity="error")
            return
        self.app.push_screen(TraderFormScreen(self.engine, trader), self._trader_saved)

    def show_trader(self, name: str, section: str | None = None) -> None:
        """The trader's detail view (sizing, exits, limits, stats), or only one of its sections."""
        trader = self.engine.traders.get(name) if self.app.phase == "running" else None
        if trader is None:
            self.notify(f"no trader named {name!r}", severity="error")
            return
        view = next((t for t in self.snapshot.traders if t.name == name), None) if self.snapshot else None
        latency = self.snapshot.latency.trader(name) if self.snapshot else None
        lines = trader_lines(trader, view, self._settings(), latency)
        if section is not None:
            lines = section_only(lines, section)
        title = f"Trader {name}" + (f": {section}" if section else "")
        self.app.push_screen(DetailsScreen(title, lines))

    def _settings(self) -> Any:
        return getattr(self.engine, "settings", None)

    def sell(self, mint: str, lot_id: int | None = None) -> None:
        if self.snapshot is not None:
            self._sell(mint, self.snapshot, lot_id)

    def palette_commands(self) -> list[tuple[str, str, Any]]:
        """Every action by name for the command palette: the keys, then one per trader and per position."""
        commands: list[tuple[str, str, Any]] = [
            (name, what, partial(self.run_action, action)) for name, what, action in self.command_list()
        ]
        snapshot = self.snapshot
        if snapshot is None:
            return commands
        for trader in sorted(snapshot.traders, key=lambda view: view.name.casefold()):
            name = trader.name
            commands += [
                (
                    f"Start copying {name}",
                    f"Copy {name}'s trades from now on",
                    partial(self.start_copying, name),
                ),
                (f"Stop copying {name}", f"Stop copying {name}", partial(self.stop_copying, name)),
                (
                    f"Edit trader {name}",
                    f"Edit {name}'s sizing, limits and exits",
                    partial(self.edit_trader, name),
                ),
                (
                    f"Exits of {name}",
                    f"The exit rules {name}'s positions sell by",
                    partial(self.show_trader, name, "Exits"),
                ),
                (
                    f"Details of {name}",
                    f"{name}: sizing, exits, limits and stats",
                    partial(self.show_trader, name),
                ),
            ]
        for position in snapshot.positions:
            label = position.symbol or short_key(position.mint)
            amount = token_amount(position.amount, position.decimals)
            commands.append(
                (
                    f"Sell {label}",
                    f"Sell some or all of the {amount} {label} held (quote first)",
                    partial(self.sell, position.mint),
                )
            )
            lots = [lot for lot in snapshot.lots if lot.mint == position.mint]
            if len(lots) > 1:  # one leader's lot alone (a copied sell would sell only that one too)
                for lot in lots:
                    commands.append(
                        (
                            f"Sell {label} lot #{lot.id} ({lot.trader})",
                            f"Sell from the {token_amount(lot.amount, lot.decimals)} {label} bought copying {lot.trader}",
                            partial(self.sell, position.mint, lot.id),
                        )
                    )
        return commands

    def _trader_saved(self, trader: Any) -> None:
        if trader is not None:
            self.notify(f"trader {trader.name} saved")
            self.refresh_view()

    def action_delete_trader(self) -> None:
        if not (self._engine_ready() and (name := self.selected_trader())):
            return

        def answered(yes: bool | None) -> None:
            if yes and self._run_command("delete", self.engine.remove_trader, name) is not None:
                self.notify(f"trader {name} deleted")

        self.app.push_screen(
            ConfirmScreen("Delete trader", f"Stop following and delete {name}?", yes="Delete"), answered
        )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        for name, pane in self.panes.items():
            if isinstance(pane, TablePane) and pane.table is event.data_table:
                self.current = name
        self.action_details()

    def action_details(self) -> None:
        pane = self.panes[self.current]
        snapshot = self.snapshot
        key = pane.selected_key() if isinstance(pane, TablePane) else None
        if snapshot is None or key is None:
            self.notify("nothing selected", severity="warning")
            return
        if self.current == "trades":
            trade = next((t for t in snapshot.trades if str(t.id) == key), None)
            if trade is not None:
                self.app.push_screen(DetailsScreen(f"Trade #{trade.id}", trade_lines(trade)))
        elif self.current == "traders":
            self.show_trader(key)
        elif self.current == "positions" and key.startswith(UNTRACKED_KEY):
            self.notify(
                "an untracked holding (in no lot) is never sold by ZapBot; sell it in your wallet app",
                severity="warning",
            )
        elif self.current == "positions":
            self._sell(key, snapshot)
        elif self.current == "workers":
            worker = snapshot.worker(key)
            lines = worker_lines(worker, self.worker_history.get(key, []), snapshot)
            self.app.push_screen(DetailsScreen(f"Worker {key}", lines))

    def _sell(self, mint: str, snapshot: EngineSnapshot, lot_id: int | None = None) -> None:
        """Enter on a position: how much (percent), then its quote to confirm, then the sell; its fill or its
        failure comes back as a notification in words (ZapBotApp.track_sell). With lot_id (the palette's
        "Sell BONK lot #3"), only that lot is sold; else the position, pro rata over its lots."""
        position = next((p for p in snapshot.positions if p.mint == mint), None)
        lot = next((x for x in snapshot.lots if x.id == lot_id and x.mint == mint), None)
        if position is None or (lot_id is not None and lot is None) or not self._engine_ready():
            return
        label = position.symbol or short_key(mint)
        held, cost = (
            (lot.amount, lot.cost_lamports) if lot is not None else (position.amount, position.cost_lamports)
        )
        where = f" in lot #{lot.id} ({lot.trader})" if lot is not None else ""
        detail = f"{token_amount(held, position.decimals)} {label}{where}, cost {sol(cost)} SOL\nmint {mint}"
        extra = () if lot_id is None else (lot_id,)

        def asked(text: str | None) -> None:
            if text is None:
                return
            percent = float(text.strip().rstrip("%"))

            def fetch() -> str:
                return quote_text(self.engine.quote_sell(mint, percent, *extra), label)

            what = f"Sell {percent:g}% of {label}{where}"
            self.app.push_screen(
                SellConfirmScreen(f"Sell {label}", what, fetch), lambda yes: yes and confirmed(percent)
            )

        def confirmed(percent: float) -> None:
            try:
                future = self.engine.sell_position(mint, percent, *extra)
            except (RuntimeError, ValueError) as exc:
                self.notify(f"sell {label}: {exc}", severity="error")
                return
            self.notify(f"selling {percent:g}% of {label}…")
            self.app.track_sell(label, position.decimals, future)

        self.app.push_screen(SellScreen(label + where, detail), asked)

    def action_filter(self) -> None:
        pane = self.panes[self.current]
        if not isinstance(pane, TablePane):
            self.notify("the filter works on Traders, Trades, Positions and Workers", severity="warning")
            return

        def answered(text: str | None) -> None:
            if text is not None:
                pane.set_filter(text)
                self.refresh_view()

        self.app.push_screen(FilterScreen(pane.title, pane.filter_text), answered)

    def action_next_pane(self) -> None:
        order = self.visible_panes()
        index = order.index(self.current) if self.current in order else -1
        self.focus_pane(order[(index + 1) % len(order)])

    def action_prev_pane(self) -> None:
        order = self.visible_panes()
        index = order.index(self.current) if self.current in order else 0
        self.focus_pane(order[(index - 1) % len(order)])

    def action_next_theme(self) -> None:
        self.app.cycle_theme()

    def action_toggle_log(self) -> None:
        if self.compact:
            self.focus_pane("traders" if self.current == "log" else "log")
            return
        self.log_visible = not self.log_visible
        if not self.log_visible and self.current == "log":
            self.current = "traders"
        self._mark_current()
        self.focus_pane(self.current)

    def action_show_pane(self, name: str) -> None:
        """1-6: go to a pane; one the layout has no room for is shown alone until Esc."""
        small = self.term_size[0] < COMPACT_WIDTH or self.term_size[1] < COMPACT_HEIGHT
        if name == "log" and not self.log_visible and not small:
            self.log_visible = True
        hidden = name not in self.shown_panes() and not self.compact
        self.zoomed = (hidden or (self.zoomed and name not in self._shown_unzoomed())) and not small
        self.current = name
        self._apply_layout(*self.term_size)
        self.focus_pane(name)

    def _shown_unzoomed(self) -> list[str]:
        return [
            n
            for n in self.PANE_ORDER
            if not (self.medium and n == "queues") and (self.log_visible or n != "log")
        ]

    def action_unzoom(self) -> None:
        if self.zoomed:
            self.zoomed = False
            if self.current not in self._shown_unzoomed():
                self.current = "workers"
            self._apply_layout(*self.term_size)
            self.focus_pane(self.current)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.key_help()))

    def action_quit(self) -> None:
        self.app.request_quit()
