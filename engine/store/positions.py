"""Positions by average cost and the daily spend and realised PnL that fills add up to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.store.base import StoreBase, utc_day


@dataclass(frozen=True, slots=True)
class Fill:
    """How one executed trade changed a position."""

    mint: str
    amount: int
    cost_lamports: int
    realized_delta_lamports: int
    realized_pnl_lamports: int


class PositionStore(StoreBase):
    """The position and daily-total arithmetic of fills, and their reads."""

    def _fill_in_tx(
        self,
        mint: str,
        side: str,
        token_amount: int,
        quote_amount: int,
        decimals: int | None,
        now: float,
        fee_lamports: int = 0,
    ) -> Fill:
        """The position and daily-total arithmetic of one fill; the caller holds the transaction.

        Network fees are part of the money: a buy's fee joins its cost basis (and today's spend), a sell's fee
        comes off its proceeds, so realised PnL and the daily loss cap see what the operator really lost."""
        row = self.conn.execute("SELECT * FROM positions WHERE mint=?", (mint,)).fetchone()
        amount = int(row["amount"]) if row else 0
        cost = int(row["cost_lamports"]) if row else 0
        realized = int(row["realized_pnl_lamports"]) if row else 0
        opened = row["opened_at"] if row and amount > 0 else now
        realized_delta = 0
        if side == "buy":
            amount += token_amount
            cost += quote_amount + fee_lamports
        else:
            sold = min(token_amount, amount)
            cost_of_sold = (cost * sold // amount) if amount else 0
            realized_delta = quote_amount - fee_lamports - cost_of_sold
            realized += realized_delta
            amount -= sold
            cost = 0 if amount == 0 else cost - cost_of_sold
        self._write(
            "INSERT INTO positions (mint, amount, cost_lamports, realized_pnl_lamports, decimals, opened_at,"
            " updated_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT(mint) DO UPDATE SET amount=excluded.amount,"
            " cost_lamports=excluded.cost_lamports, realized_pnl_lamports=excluded.realized_pnl_lamports,"
            " decimals=COALESCE(excluded.decimals, positions.decimals), opened_at=excluded.opened_at,"
            " updated_at=excluded.updated_at",
            (mint, amount, cost, realized, decimals, opened, now),
        )
        self._write(
            "INSERT INTO daily (day, spent_lamports, realized_pnl_lamports) VALUES (?,?,?) ON CONFLICT(day)"
            " DO UPDATE SET spent_lamports=spent_lamports+excluded.spent_lamports,"
            " realized_pnl_lamports=realized_pnl_lamports+excluded.realized_pnl_lamports",
            (utc_day(now), quote_amount + fee_lamports if side == "buy" else 0, realized_delta),
        )
        return Fill(mint, amount, cost, realized_delta, realized)

    def positions(self, *, open_only: bool = True) -> list[dict[str, Any]]:
        sql = "SELECT * FROM positions" + (" WHERE amount > 0" if open_only else "") + " ORDER BY opened_at"
        return [dict(row) for row in self.conn.execute(sql).fetchall()]

    def position(self, mint: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM positions WHERE mint=?", (mint,)).fetchone()
        return dict(row) if row else None

    def daily(self, day: str | None = None) -> dict[str, int]:
        row = self.conn.execute("SELECT * FROM daily WHERE day=?", (day or utc_day(),)).fetchone()
        if row is None:
            return {"spent_lamports": 0, "realized_pnl_lamports": 0}
        return {
            "spent_lamports": int(row["spent_lamports"]),
            "realized_pnl_lamports": int(row["realized_pnl_lamports"]),
        }
