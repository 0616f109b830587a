"""Small modals: yes/no confirmation, the sell percent, the filter text and the typed LIVE confirmation."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from zapbot_tui.screens.base import ZapModal


class ConfirmScreen(ZapModal[bool]):
    """Ask a yes/no question; y / Enter on Yes confirms, n / Escape declines."""

    BINDINGS: ClassVar = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, title: str, message: str, yes: str = "Yes", no: str = "No") -> None:
        super().__init__(classes="confirm")
        self.title_text = title
        self.message = message
        self.yes = yes
        self.no = no

    def compose(self):  # type: ignore[no-untyped-def]
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.message, id="confirm-message")
            with Horizontal(classes="buttons"):
                yield Button(f"{self.no} (n)", id="no", compact=True)
                yield Button(f"{self.yes} (y)", id="yes", variant="error", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#no", Button).focus()

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class TextPromptScreen(ZapModal[str]):
    """One line of input; Enter returns it (after validate() accepts it), Escape returns None."""

    def __init__(self, title: str, prompt: str, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.prompt = prompt
        self.value = value
        self.placeholder = placeholder

    def compose(self):  # type: ignore[no-untyped-def]
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.prompt, id="prompt-text")
            yield Input(self.value, placeholder=self.placeholder, id="prompt-input", compact=True)
            yield Label("", id="prompt-error", classes="error")
            yield Label("Enter to confirm · Esc to cancel", classes="hint")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#prompt-input", Input).focus()

    def validate(self, text: str) -> str | None:
        """An error message for text, or None when it is acceptable."""
        return None

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        error = self.validate(event.value)
        if error:
            self.query_one("#prompt-error", Label).update(error)
            return
        self.dismiss(event.value)


class FilterScreen(TextPromptScreen):
    def __init__(self, pane_title: str, value: str) -> None:
        super().__init__(f"Filter {pane_title}", "Show rows containing (empty clears the filter):", value)


class SellScreen(TextPromptScreen):
    """Ask how much of a position to sell, in percent."""

    def __init__(self, label: str, detail: str) -> None:
        super().__init__(f"Sell {label}", f"{detail}\nPercent of the position to sell (1-100):", "100")

    def validate(self, text: str) -> str | None:
        try:
            percent = float(text.strip().rstrip("%"))
        except ValueError:
            return "enter a number between 1 and 100"
        if not 0 < percent <= 100:
            return "enter a number between 1 and 100"
        return None


class SellConfirmScreen(ZapModal[bool]):
    """Before a manual sell: its quote (expected SOL, the least it may return, price impact), fetched in a
    thread while "quoting…" shows; y sells, n or Escape cancels. A failed quote says why and still lets the
    operator sell at market."""

    BINDINGS: ClassVar = [
        Binding("y", "answer(True)", "Sell"),
        Binding("n,escape", "answer(False)", "Cancel"),
    ]

    def __init__(self, title: str, what: str, fetch: Callable[[], str]) -> None:
        super().__init__(classes="confirm")
        self.title_text = title
        self.what = what
        self.fetch = fetch
        self.quote_text: str | None = None

    def compose(self):  # type: ignore[no-untyped-def]
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(f"{self.what}\nquoting…", id="sell-quote")
            with Horizontal(classes="buttons"):
                yield Button("Cancel (n)", id="no", compact=True)
                yield Button("Sell (y)", id="yes", variant="error", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#no", Button).focus()
        self.run_worker(self._quote, thread=True, name="sell-quote", exit_on_error=False)

    def _quote(self) -> None:
        try:
            text = self.fetch()
        except Exception as exc:  # noqa: BLE001 - any failure is one line in the dialog, not a crash
            text = f"no quote: {exc}; y sells at the market price anyway"
        self.app.call_from_thread(self._show_quote, text)

    def _show_quote(self, text: str) -> None:
        self.quote_text = text
        self.query_one("#sell-quote", Static).update(f"{self.what}\n{text}")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class LiveConfirmScreen(TextPromptScreen):
    """Live mode: nothing trades until the operator types LIVE."""

    def __init__(self, wallet: str) -> None:
        super().__init__(
            "LIVE MODE — real funds",
            f"ZapBot will copy trades with real SOL from wallet {wallet}.\n"
            "Type LIVE and press Enter to start trading; Esc quits without trading.",
            placeholder="LIVE",
        )

    def validate(self, text: str) -> str | None:
        return None if text.strip() == "LIVE" else "type LIVE (in capitals) to start, or Esc to quit"
