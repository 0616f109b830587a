"""Positions (the sum of a mint's lots) and the daily spend and realised PnL that fills add up to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.store.base import utc_day
from engine.store.lots import AdjustStore


@dataclass(frozen=True, slots=True)
class Fill:
    """How one executed trade changed the books: the mint's position after it and the lots it touched."""

    mint: str
    amount: int
    cost_lamports: int
    realized_delta_lamports: int
    realized_pnl_lamports: int
    lots: list[dict[str, Any]] = field(default_factory=list)


class PositionStore(AdjustStore):
    """The arithmetic of fills on lots and daily totals, and the position reads (sums of lots)."""

    def _fill_in_tx(
        self,
        intent: dict[str, Any],
        token_amount: int,
        quote_amount: int,
        decimals: int | None,
        now: float,
        fee_lamports: int = 0,
    ) -> Fill:
        """Apply one fill to its lots and to today's totals; the caller holds the transaction.

        Network fees are part of the money: a buy's fee joins its lot's cost basis (and today's spend), a
        sell's fee comes off its proceeds, so realised PnL and the daily loss cap see what was really lost."""
        if intent["side"] == "buy":
            lots = [self._lots_buy_in_tx(intent, token_amount, quote_amount, fee_lamports, decimals, now)]
            realized_delta = 0
            spent = quote_amount + fee_lamports
        else:
            lots, realized_delta = self._lots_sell_in_tx(
                intent, token_amount, quote_amount, fee_lamports, now
            )
            spent = 0
        self._write(
            "INSERT INTO daily (chain, wallet, day, spent_lamports, realized_pnl_lamports) VALUES (?,?,?,?,?)"
            " ON CONFLICT(chain, wallet, day) DO UPDATE SET spent_lamports=spent_lamports+excluded.spent_lamports,"
            " realized_pnl_lamports=realized_pnl_lamports+excluded.realized_pnl_lamports",
            (intent.get("chain") or self.chain, intent["wallet"], utc_day(now), spent, realized_delta),
        )
        position = self.position(intent["mint"], wallet=intent["wallet"]) or {}
        return Fill(
            intent["mint"],
            int(position.get("amount") or 0),
            int(position.get("cost_lamports") or 0),
            realized_delta,
            int(position.get("realized_pnl_lamports") or 0),
            lots,
        )

    def positions(self, *, open_only: bool = True) -> list[dict[str, Any]]:
        """One row per mint of our wallet: the sum of its lots (open ones, unless open_only is False)."""
        scope, params = self._scope()
        having = " HAVING SUM(amount) > 0" if open_only else ""
        rows = self.conn.execute(
            f"{_POSITION_SQL} WHERE 1=1{scope} GROUP BY mint{having} ORDER BY MIN(opened_at)", params
        ).fetchall()
        return [dict(row) for row in rows]

    def position(self, mint: str, *, wallet: str | None = None) -> dict[str, Any] | None:
        """The sum of the mint's lots in our wallet on this chain; None when it never had one."""
        wallet = wallet or self.wallet
        sql = f"{_POSITION_SQL} WHERE chain=? AND mint=?" + (" AND wallet=?" if wallet else "")
        params = (self.chain, mint, wallet) if wallet else (self.chain, mint)
        row = self.conn.execute(sql + " GROUP BY mint", params).fetchone()
        return dict(row) if row else None

    def daily(self, day: str | None = None) -> dict[str, int]:
        """Today's (or `day`'s) spend and realised PnL of the current books: what the limits count."""
        scope, params = self._scope()
        row = self.conn.execute(
            "SELECT COALESCE(SUM(spent_lamports),0) AS spent, COALESCE(SUM(realized_pnl_lamports),0) AS pnl"
            f" FROM daily WHERE day=?{scope}",
            (day or utc_day(), *params),
        ).fetchone()
        return {"spent_lamports": int(row["spent"]), "realized_pnl_lamports": int(row["pnl"])}


# A position is the sum of its mint's lots: open lots give the amount and cost; realised PnL counts closed
# lots too (what the token made over time); opened_at is the oldest open lot's.
_POSITION_SQL = (
    "SELECT mint, SUM(amount) AS amount, SUM(CASE WHEN closed_at IS NULL THEN cost_lamports ELSE 0 END)"
    " AS cost_lamports, SUM(realized_pnl_lamports) AS realized_pnl_lamports, SUM(fees_lamports) AS fees_lamports,"
    " MAX(decimals) AS decimals, MIN(CASE WHEN closed_at IS NULL THEN opened_at END) AS opened_at,"
    " MAX(updated_at) AS updated_at, SUM(CASE WHEN closed_at IS NULL THEN 1 ELSE 0 END) AS open_lots FROM lots"
)
