"""The Trades pane: the latest copy decisions with status, amounts and detection→confirmation latency."""

from __future__ import annotations

from engine.exits import trigger_label
from engine.state import EngineSnapshot
from zapbot_tui.format import clock, latency, mint_label, sol, token_amount
from zapbot_tui.panes.base import Row, TablePane, cell, tones

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


class TradesPane(TablePane):
    title = "Trades"
    pane_id = "trades"
    max_rows = MAX_TRADE_ROWS
    columns = (
        ("Time", "time", 8),
        ("Status", "status", 8),
        ("Side", "side", 4),
        ("Token", "token", 8),
        ("Amount", "amount", 8),
        ("SOL", "sol", 6),
        ("Latency", "latency", 7),
        ("Trader", "trader", 8),
        ("Reason", "reason", None),
    )

    def rows(self, snapshot: EngineSnapshot) -> list[Row]:
        tone = tones(self.app)
        rows: list[Row] = []
        for trade in snapshot.trades[: self.max_rows]:
            at = trade.confirmed_at or trade.sent_at or trade.queued_at or trade.detected_at
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
                        cell(why(trade.trigger, trade.reason), "dim"),
                    ),
                )
            )
        return rows
