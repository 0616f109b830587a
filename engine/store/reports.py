"""Read-only report queries (Telegram /profit, /daily, /performance) and the pure PnL tally behind them.

The fills are the lots' moves (engine/store/lots.py): each piece of a fill on one lot, with the realised PnL
the lot booked for it. So the tallies agree exactly with the lots and the daily totals, and a sell's PnL
belongs to the leader whose lot it sold, a manual sell's split over the lots it took from. Fills without a
booked PnL (rows handed in by a caller) are costed by average cost per mint, as the lots do per lot.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any


def _books(chain: str | None, wallet: str | None, prefix: str = "") -> tuple[str, tuple[Any, ...]]:
    sql, params = "", ()
    if chain is not None:
        sql, params = f" AND {prefix}chain=?", (chain,)
    if wallet is not None:
        sql, params = sql + f" AND {prefix}wallet=?", (*params, wallet)
    return sql, params


def executed_fills(
    conn: sqlite3.Connection, chain: str | None = None, wallet: str | None = None
) -> list[dict[str, Any]]:
    """Every piece of every executed fill on a lot (of one chain and wallet when given), oldest first; the
    trader is the lot's leader, whoever sold."""
    scope, params = _books(chain, wallet, "l.")
    rows = conn.execute(
        "SELECT m.intent_id AS id, l.trader, m.kind AS side, l.mint, m.token_amount, m.quote_amount,"
        " m.fee_lamports, COALESCE(i.token_decimals, l.decimals) AS token_decimals, m.at AS confirmed_at,"
        " m.realized_pnl_lamports, m.lot_id FROM lot_moves m JOIN lots l ON l.id = m.lot_id"
        f" LEFT JOIN intents i ON i.id = m.intent_id WHERE m.kind IN ('buy','sell'){scope}"
        " ORDER BY m.at, m.id",
        params,
    ).fetchall()
    return [dict(row) for row in rows]


def daily_totals(
    conn: sqlite3.Connection, days: int, chain: str | None = None, wallet: str | None = None
) -> list[dict[str, Any]]:
    """The last `days` UTC days that have totals, newest first: day, spent_lamports, realized_pnl_lamports."""
    scope, params = _books(chain, wallet)
    rows = conn.execute(
        "SELECT day, SUM(spent_lamports) AS spent_lamports, SUM(realized_pnl_lamports) AS realized_pnl_lamports"
        f" FROM daily WHERE 1=1{scope} GROUP BY day ORDER BY day DESC LIMIT ?",
        (*params, days),
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
    """Per-trader and per-token tallies from executed fills (as executed_fills returns them). A fill split over
    several lots counts once in the total and per token, and once for each trader whose lot it sold."""
    perf = Performance()
    holdings: dict[str, tuple[int, int]] = {}  # mint -> (amount, cost_lamports)
    counted: set[tuple[Any, str]] = set()  # (intent id, tally key) already counted as a trade
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
            booked = fill.get("realized_pnl_lamports")
            delta = int(booked) if booked is not None else quote - fee - cost_of_sold
            amount -= sold
            cost = 0 if amount == 0 else cost - cost_of_sold
            for key, tally in zip(("total", f"t:{fill['trader']}", f"m:{mint}"), tallies, strict=True):
                tally.realized_pnl_lamports += delta
                tally.last_at = at
                if fill.get("id") is not None and (fill["id"], key) in counted:
                    continue  # another lot's piece of a sell already counted here
                counted.add((fill.get("id"), key))
                tally.sells += 1
                if delta > 0:
                    tally.wins += 1
                else:
                    tally.losses += 1
        holdings[mint] = (amount, cost)
    return perf
