"""The help screen: every key of the main screen with what it does (the same list the palette offers)."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Label, Static

from zapbot_tui.screens.base import ZapModal


class HelpScreen(ZapModal[None]):
    BINDINGS: ClassVar = [Binding("escape,question_mark,q", "cancel", "Close")]

    DEFAULT_CSS = """
    HelpScreen > .dialog { width: 76; }
    HelpScreen #help-body { height: auto; max-height: 19; }
    """

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self):  # type: ignore[no-untyped-def]
        # Keys in their own column, so a long description wraps beside its key, not under it.
        text = Table.grid(padding=(0, 2))
        text.add_column(justify="right", style="bold", no_wrap=True, width=9)
        text.add_column(ratio=1)
        for key, what in self.keys:
            text.add_row(key, what)
        with Vertical(classes="dialog"):
            yield Label("ZapBot keys  (ctrl+p: command palette)", classes="dialog-title")
            with VerticalScroll(id="help-body"):
                yield Static(text, id="help-text")
            yield Label("Esc or ? to close", classes="hint")
