"""Shared modal behaviour: Escape cancels, and cursor blink can be stopped (for stable snapshots)."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Input

ResultType = TypeVar("ResultType")


class ZapModal(ModalScreen[ResultType]):
    """A centred dialog; Escape dismisses it with None."""

    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel", tooltip="Close without changes")]

    DEFAULT_CSS = """
    ZapModal { align: center middle; }
    ZapModal > .dialog {
        width: 72; max-width: 100%; height: auto; max-height: 100%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    ZapModal .dialog-title { text-style: bold; color: $primary; width: 1fr; }
    ZapModal .hint { color: $text-muted; }
    ZapModal .error { color: $error; }
    ZapModal .buttons { height: 1; margin-top: 1; align-horizontal: right; }
    ZapModal .buttons Button { margin-left: 2; }
    """

    def on_mount(self) -> None:
        if not getattr(self.app, "cursor_blink", True):
            for field in self.query(Input):
                field.cursor_blink = False

    def action_cancel(self) -> None:
        self.dismiss(None)

    def dismiss_with(self, result: Any) -> None:
        self.dismiss(result)
