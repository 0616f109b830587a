"""Read-only report queries (Telegram /profit, /daily, /performance) and the pure PnL replay behind them.

The replay walks executed intents in fill order with the very arithmetic of PositionStore._fill_in_tx
(average cost per mint, fees in the cost basis and off the proceeds), so its totals agree with the
positions table while also telling each sell's realised PnL to the trader (or "manual") who sold.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any


def executed_fills(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every executed copy (and manual sell), oldest fill first."""
    rows = conn.execute(
        "SELECT id, trader, side, mint, token_amount, quote_amount, fee_lamports, token_decimals, confirmed_at"
        " FROM intents WHERE status='executed' ORDER BY COALESCE(confirmed_at, updated_at), id"
    ).fetchall()
    return [dict(row) for row in rows]


def daily_totals(conn: sqlite3.Connection, days: int) -> list[dict[str, Any]]:
    """The last `days` UTC days that have totals, newest first: day, spent_lamports, realized_pnl_lamports."""
    rows = conn.execute(
        "SELECT day, spent_lamports, realized_pnl_lamports FROM daily ORDER BY day DESC LIMIT ?", (days,)
    ).fetchall()
    return [dict(row) for row in rows]


@dataclass
class Tally:
    """Copies and realised PnL of one trader, one token, or everything."""

    buys: int = 0
    sells: int = 0
    wins: int = 0  # sells that realised a profit
    losses: int = 0  # sells that realised a loss (or nothing)
    spent_lamports: int = 0  # buys' SOL including fees
    realized_pnl_lamports: int = 0
    last_at: float | None = None

    @property
    def trades(self) -> int:
        return self.buys + self.sells

    @property
    def win_rate(self) -> float | None:
        closed = self.wins + self.losses
        return self.wins / closed if closed else None


@dataclass
class Performance:
    total: Tally = field(default_factory=Tally)
    by_trader: dict[str, Tally] = field(default_factory=dict)
    by_mint: dict[str, Tally] = field(default_factory=dict)
    decimals: dict[str, int] = field(default_factory=dict)
    first_at: float | None = None


def replay(fills: list[dict[str, Any]]) -> Performance:
    """Per-trader and per-token tallies from executed fills (as executed_fills returns them)."""
    perf = Performance()
    holdings: dict[str, tuple[int, int]] = {}  # mint -> (amount, cost_lamports)
    for fill in fills:
        mint, side = fill["mint"], fill["side"]
        tokens, quote, fee = int(fill["token_amount"]), int(fill["quote_amount"]), int(fill["fee_lamports"])
        if fill.get("token_decimals") is not None:
            perf.decimals[mint] = int(fill["token_decimals"])
        amount, cost = holdings.get(mint, (0, 0))
        tallies = (
            perf.total,
            perf.by_trader.setdefault(fill["trader"], Tally()),
            perf.by_mint.setdefault(mint, Tally()),
        )
        at = fill.get("confirmed_at")
        if perf.first_at is None:
            perf.first_at = at
        if side == "buy":
            amount += tokens
            cost += quote + fee
            for tally in tallies:
                tally.buys += 1
                tally.spent_lamports += quote + fee
                tally.last_at = at
        else:
            sold = min(tokens, amount)
            cost_of_sold = (cost * sold // amount) if amount else 0
            delta = quote - fee - cost_of_sold
            amount -= sold
            cost = 0 if amount == 0 else cost - cost_of_sold
            for tally in tallies:
                tally.sells += 1
                tally.realized_pnl_lamports += delta
                tally.last_at = at
                if delta > 0:
                    tally.wins += 1
                else:
                    tally.losses += 1
        holdings[mint] = (amount, cost)
    return perf
