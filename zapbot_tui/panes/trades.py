"""The Trades pane: the latest copy decisions with status, amounts and detection→confirmation latency."""

from __future__ import annotations

from engine.exits import trigger_label
from engine.state import EngineSnapshot, TradeView
from zapbot_tui.format import clock, failure_sentence, latency, mint_label, sol, token_amount
from zapbot_tui.panes.base import Col, Row, TablePane, cell, tones

STATUS_TONE = {"executed": "ok", "failed": "bad", "skipped": "dim", "queued": "primary", "sent": "accent"}
# The table shows the latest few hundred rows: a DataTable's first paint costs ~0.3 ms a row.
MAX_TRADE_ROWS = 300


def why(trigger: str, reason: str) -> str:
    """The Reason cell: what made a trade that did not copy the leader (an exit rule, a manual sell), then
    its reason; a leader copy shows its reason alone, as most rows are those."""
    if trigger == "leader":
        return reason
    label = trigger_label(trigger)
    return f"{label}: {reason}" if reason else label


def decided_at(trade: TradeView) -> float:
    """When the copy decision was made: an intent is recorded (queued) at its decision, a skip is decided on
    detection. A trade keeps this time through sent, executed or failed, so its row never moves."""
    return trade.queued_at or trade.detected_at or 0.0


def decision_order(trade: TradeView) -> tuple[float, int]:
    """Newest decision first; ties (same instant) by id, intents after skips of the same instant."""
    return (-decided_at(trade), -abs(trade.id))


def shown_reason(trade: TradeView) -> str:
    """A failure in words (the raw error is in the trade's detail view); other reasons as they are."""
    return failure_sentence(trade.reason).rstrip(".") if trade.status == "failed" else trade.reason


class TradesPane(TablePane):
    title = "Trades"
    pane_id = "trades"
    max_rows = MAX_TRADE_ROWS
    live_tail = True
    detail_line = True
    columns = (
        Col("Time", "time", 8),
        Col("Status", "status", 8),
        Col("Side", "side", 4),
        Col("Token", "token", 8),
        Col("Amount", "amount", 8, drop=4),
        Col("SOL", "sol", 6),
        Col("Latency", "latency", 7, drop=5),
        Col("Trader", "trader", 8, drop=3),
        # The last to go: when even it does not fit, the line under the table still shows the reason.
        Col("Reason", "reason", None, drop=1, min_width=16),
    )

    def describe(self, key: str, cells: tuple) -> str:  # type: ignore[type-arg]
        """The selected trade in one line under the table: the reason is never off screen."""
        time, status, side, token, amount, quote, lat, trader, reason = (c.plain for c in cells)
        line = f"#{key} {time} {status} {side} {token} {amount} for {quote} SOL · {trader}"
        if lat != "—":
            line += f" · {lat}"
        return f"{line} · {reason}" if reason else line

    def rows(self, snapshot: EngineSnapshot) -> list[Row]:
        tone = tones(self.app)
        rows: list[Row] = []
        for trade in sorted(snapshot.trades, key=decision_order)[: self.max_rows]:
            at = decided_at(trade)
            side_tone = tone["ok"] if trade.side == "buy" else tone["warn"]
            rows.append(
                (
                    str(trade.id),
                    (
                        cell(clock(at)),
                        cell(trade.status, tone[STATUS_TONE.get(trade.status, "plain")]),
                        cell(trade.side, side_tone),
                        cell(mint_label(trade.mint, trade.symbol)),
                        cell(
                            token_amount(trade.token_amount, trade.token_decimals)
                            if trade.token_amount
                            else "—",
                            "",
                            "right",
                        ),
                        cell(sol(trade.quote_amount, 3) if trade.quote_amount else "—", "", "right"),
                        cell(latency(trade.latency_ms), "", "right"),
                        cell(trade.trader),
                        cell(why(trade.trigger, shown_reason(trade)), "dim"),
                    ),
                )
            )
        return rows
