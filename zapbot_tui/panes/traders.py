"""The Traders pane: followed wallets, whether they are copied, sizing, how late their copies are (the median
detection lag and detect → send over the recent window, engine/latency.py), last trade, copies and PnL."""

from __future__ import annotations

from engine.state import EngineSnapshot
from zapbot_tui.format import age, lag, short_key, signed_sol
from zapbot_tui.panes.base import Col, Row, TablePane, cell, tones


class TradersPane(TablePane):
    title = "Traders"
    pane_id = "traders"
    columns = (
        Col("Name", "name", 10),
        Col("Copy", "active", 6),
        Col("Sizing", "sizing", 12, drop=2),
        Col("PnL SOL", "pnl", 7),
        # Medians over the recent window: leader's block time → detected, and detected → our first send.
        Col("Lag", "lag", 5, drop=1),
        Col("Send", "send", 5, drop=1),
        Col("Copied", "copied", 6, drop=3),
        Col("Last", "last", 4, drop=4),
        Col("Wallet", "wallet", 8, drop=5),
    )

    def rows(self, snapshot: EngineSnapshot) -> list[Row]:
        tone = tones(self.app)
        rows: list[Row] = []
        for trader in sorted(snapshot.traders, key=lambda view: view.name.casefold()):
            if trader.paused_reason:
                active = cell("paused", tone["warn"])
            elif trader.active:
                active = cell("on", tone["ok"])
            else:
                active = cell("off", "dim")
            last = None if trader.last_trade_at is None else snapshot.taken_at - trader.last_trade_at
            pnl_tone = (
                tone["ok"] if trader.pnl_lamports > 0 else tone["bad"] if trader.pnl_lamports < 0 else ""
            )
            figures = snapshot.latency.trader(trader.name)
            detection = figures.detection_lag_p50_s if figures else None
            to_send = figures.detect_to_send_p50_s if figures else None
            rows.append(
                (
                    trader.name,
                    (
                        cell(trader.name),
                        active,
                        cell(trader.sizing),
                        cell(signed_sol(trader.pnl_lamports, 3), pnl_tone, "right"),
                        cell(lag(detection), "", "right"),
                        cell(lag(to_send), "", "right"),
                        cell(trader.trades_copied, "", "right"),
                        cell(age(last), "", "right"),
                        cell(short_key(trader.wallet, 4, 3)),
                    ),
                )
            )
        return rows
