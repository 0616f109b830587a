"""Read-only details of a trade, a trader or a position."""

from __future__ import annotations

from rich.text import Text
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Label, Static

from engine.exits import trigger_label
from engine.state import TradeView
from zapbot_tui.format import clock, latency, sol, token_amount
from zapbot_tui.screens.base import ZapModal


def trade_lines(trade: TradeView) -> list[tuple[str, str]]:
    amount = token_amount(trade.token_amount, trade.token_decimals) if trade.token_amount else "—"
    return [
        ("Status", trade.status),
        ("Reason", trade.reason or "—"),
        ("Trigger", trigger_label(trade.trigger)),
        ("Trader", trade.trader),
        ("Side", trade.side),
        ("Token", f"{trade.symbol + ' ' if trade.symbol else ''}{trade.mint}"),
        ("Amount", amount),
        ("SOL", sol(trade.quote_amount) if trade.quote_amount else "—"),
        ("Leader tx", trade.leader_signature),
        ("Our tx", trade.signature or "—"),
        ("Detected", clock(trade.detected_at)),
        ("Queued", clock(trade.queued_at)),
        ("Sent", clock(trade.sent_at)),
        ("Confirmed", clock(trade.confirmed_at)),
        ("Latency", latency(trade.latency_ms)),
    ]


class DetailsScreen(ZapModal[None]):
    """A titled list of label: value lines; long values (signatures) wrap rather than being cut."""

    DEFAULT_CSS = """
    DetailsScreen > .dialog { width: 100; }
    DetailsScreen #details-body { height: auto; max-height: 18; }
    """

    def __init__(self, title: str, lines: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.lines = lines

    def compose(self):  # type: ignore[no-untyped-def]
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            with VerticalScroll(id="details-body"):
                text = Text()
                for index, (label, value) in enumerate(self.lines):
                    if index:
                        text.append("\n")
                    text.append(f"{label:>10}  ", style="bold")
                    text.append(value)
                yield Static(text, id="details-text")
            yield Label("Esc to close", classes="hint")
