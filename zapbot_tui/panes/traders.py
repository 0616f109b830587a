"""The Traders pane: followed wallets, whether they are copied, sizing, last trade, copies and PnL."""

from __future__ import annotations

from engine.state import EngineSnapshot
from zapbot_tui.format import age, short_key, signed_sol
from zapbot_tui.panes.base import Row, TablePane, cell, tones


class TradersPane(TablePane):
    title = "Traders"
    pane_id = "traders"
    columns = (
        ("Name", "name", 10),
        ("Wallet", "wallet", 8),
        ("Copy", "active", 4),
        ("Sizing", "sizing", 12),
        ("Last", "last", 4),
        ("Copied", "copied", 6),
        ("PnL SOL", "pnl", 7),
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
            rows.append(
                (
                    trader.name,
                    (
                        cell(trader.name),
                        cell(short_key(trader.wallet, 4, 3)),
                        active,
                        cell(trader.sizing),
                        cell(age(last), "", "right"),
                        cell(trader.trades_copied, "", "right"),
                        cell(signed_sol(trader.pnl_lamports, 3), pnl_tone, "right"),
                    ),
                )
            )
        return rows
