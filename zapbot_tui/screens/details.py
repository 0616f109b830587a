"""Read-only details of a trade, a trader or a position."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Label, Static

from engine.amounts import sol_plain
from engine.exits import trigger_label
from engine.state import TradeView
from zapbot_tui.format import clock, failure_sentence, lag, latency, signed_sol, sol, token_amount
from zapbot_tui.screens.base import ZapModal


def trade_lines(trade: TradeView) -> list[tuple[str, str]]:
    amount = token_amount(trade.token_amount, trade.token_decimals) if trade.token_amount else "—"
    return [
        ("Status", trade.status),
        *(
            [("Reason", failure_sentence(trade.reason)), ("Raw error", trade.reason)]
            if trade.status == "failed"
            else [("Reason", trade.reason or "—")]
        ),
        ("Trigger", trigger_label(trade.trigger)),
        ("Trader", trade.trader),
        ("Side", trade.side),
        ("Token", f"{trade.symbol + ' ' if trade.symbol else ''}{trade.mint}"),
        ("Amount", amount),
        ("SOL", sol(trade.quote_amount) if trade.quote_amount else "—"),
        ("Fee paid", f"{sol(trade.fee_lamports, 9)} SOL" if trade.fee_lamports else "—"),
        ("Leader tx", trade.leader_signature),
        ("Our tx", trade.signature or "—"),
        ("Detected", clock(trade.detected_at)),
        ("Queued", clock(trade.queued_at)),
        ("Sent", clock(trade.sent_at)),
        ("Confirmed", clock(trade.confirmed_at)),
        ("Latency", latency(trade.latency_ms)),
    ]


SECTION = "§"  # a line whose label starts with this is a section heading


def section(title: str) -> tuple[str, str]:
    return (f"{SECTION}{title}", "")


def section_only(lines: list[tuple[str, str]], title: str) -> list[tuple[str, str]]:
    """One section of a detail view (the palette's "Exits of alpha")."""
    out: list[tuple[str, str]] = []
    inside = False
    for label, value in lines:
        if label.startswith(SECTION):
            inside = label == f"{SECTION}{title}"
        if inside:
            out.append((label, value))
    return out


def _rule(own: Any, default: Any, unit: str = "%", off: str = "off") -> str:
    """A trader's exit rule: its own value, else the [exits] default, said which."""
    value, where = (own, "this trader") if own is not None else (default, "[exits] default")
    if value is None or value == 0 or value == []:
        return f"{off} ({where})"
    return f"{value:g}{unit} ({where})" if isinstance(value, (int, float)) else f"{value} ({where})"


def _latency_line(p50_s: float | None, recent: int, since_start: Any) -> str:
    """A median over the recent window and the mean since start, each with how many copies it is over."""
    if not recent and not since_start.count:
        return "— (nothing copied yet)"
    parts = []
    if recent:
        parts.append(f"{lag(p50_s)} median of the last {recent}")
    if since_start.count:
        parts.append(f"{lag(since_start.sum / since_start.count)} mean of {since_start.count} since start")
    return "; ".join(parts)


def trader_lines(trader: Any, view: Any, settings: Any, copy_latency: Any = None) -> list[tuple[str, str]]:
    """A trader's detail view in sections: sizing, exits, limits, stats (with its copy latency, a
    TraderLatency from the snapshot, when it has any)."""
    exits = getattr(settings, "exits", None)

    def default(name: str) -> Any:
        return getattr(exits, name, None) if exits is not None else None

    if trader.sizing == "fixed":
        size = f"{trader.fixed_sol:g} SOL per copy"
    else:
        size = (
            f"{trader.percent:g}% of the leader's SOL, between {trader.min_sol:g} and {trader.max_sol:g} SOL"
        )
    levels = (
        trader.take_profit_levels if trader.take_profit_levels is not None else default("take_profit_levels")
    )
    follow = (
        trader.follow_leader_sells
        if trader.follow_leader_sells is not None
        else default("follow_leader_sells")
    )
    leader_max = f"{trader.max_leader_sol:g} SOL" if trader.max_leader_sol else "none"
    lines = [
        ("Wallet", trader.wallet),
        ("Copying", "on" if trader.active else "off"),
        section("Sizing"),
        ("Size", size),
        (
            "Copies",
            ", ".join(w for w, on in (("buys", trader.copy_buys), ("sells", trader.copy_sells)) if on)
            or "nothing",
        ),
        ("Sells", "in proportion to the leader's" if trader.proportional_sells else "all of the lot"),
        ("Slippage", f"{trader.slippage_bps / 100:g}% ({trader.slippage_bps} bps)"),
        ("Fee", f"{trader.priority_fee} (cap {sol_plain(trader.priority_fee_cap_lamports)} SOL)"),
        section("Exits"),
        ("Take profit", _rule(trader.take_profit_pct, default("take_profit_pct"))),
        ("TP sells", _rule(trader.take_profit_sell_pct, default("take_profit_sell_pct"))),
        ("TP levels", ", ".join(f"+{g:g}%: sell {p:g}%" for g, p in levels) if levels else "none"),
        ("Stop loss", _rule(trader.stop_loss_pct, default("stop_loss_pct"))),
        ("Trailing", _rule(trader.trailing_stop_pct, default("trailing_stop_pct"))),
        ("Trail arm", _rule(trader.trailing_arm_pct, default("trailing_arm_pct"))),
        ("Max hold", _rule(trader.max_hold_minutes, default("max_hold_minutes"), " min")),
        ("Leader sells", "followed" if follow or follow is None else "ignored"),
        section("Limits"),
        ("Leader size", f"at least {trader.min_leader_sol:g} SOL, at most {leader_max}"),
        ("Buy once", "yes: one buy per token" if trader.buy_once else "no"),
    ]
    if view is not None:
        lines += [
            section("Stats"),
            ("Copied", f"{view.trades_copied} trade(s)"),
            ("PnL", f"{signed_sol(view.pnl_lamports)} SOL realised"),
            ("Paused", view.paused_reason or "no"),
        ]
        if copy_latency is None:
            lines += [
                ("Detection lag", "— (nothing copied yet)"),
                ("Detect → send", "— (nothing copied yet)"),
            ]
        else:
            lines += [
                (
                    "Detection lag",
                    _latency_line(
                        copy_latency.detection_lag_p50_s, copy_latency.detections, copy_latency.detection_lag
                    ),
                ),
                (
                    "Detect → send",
                    _latency_line(
                        copy_latency.detect_to_send_p50_s, copy_latency.sends, copy_latency.detect_to_send
                    ),
                ),
            ]
    return lines


def worker_lines(worker: Any, history: list[tuple[float, str, str]], snapshot: Any) -> list[tuple[str, str]]:
    """A worker's detail view: now, its state history as the console saw it, restarts, and its errors."""
    lines = [
        ("State", f"{worker.state}{': ' + worker.detail if worker.detail else ''}"),
        ("Restarts", str(worker.restarts)),
        ("Inbox", f"{worker.inbox_depth} message(s) waiting"),
        (
            "Heartbeat",
            "—" if worker.last_heartbeat_age_s is None else f"{worker.last_heartbeat_age_s:.1f}s ago",
        ),
        ("Handled", f"{worker.messages_handled} message(s)"),
        section("State history"),
    ]
    lines += [
        (clock(at), f"{state}{': ' + detail if detail else ''}") for at, state, detail in reversed(history)
    ]
    if not history:
        lines.append(("—", "no change seen yet"))
    errors = [
        line
        for line in reversed(snapshot.logs)
        if line.worker == worker.name and line.level in ("warning", "error", "critical")
    ]
    lines.append(section("Errors and warnings"))
    lines += [(clock(line.at), f"{line.level}: {line.message}") for line in errors[:15]]
    if not errors:
        lines.append(("—", "none in the recent log"))
    return lines


def details_grid(lines: list[tuple[str, str]]) -> Table:
    """Labels in a right-aligned column and values beside them, so a long value (a signature, a reason)
    wraps inside its own column at word boundaries (a signature folds) instead of under the labels."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(justify="right", style="bold", no_wrap=True, width=12)
    grid.add_column(ratio=1, overflow="fold")
    for label, value in lines:
        if label.startswith(SECTION):
            grid.add_row("", "")
            grid.add_row(Text(label[1:], style="bold underline"), "")
        else:
            grid.add_row(label, Text(value))
    return grid


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
                yield Static(details_grid(self.lines), id="details-text")
            yield Label("Esc to close", classes="hint")
