"""Lots: each copy belongs to its leader. A lot per (chain, operator wallet, leader, mint) holds that leader's
copies of the mint, their cost basis, fees and realised PnL; a fill changes only the lots it belongs to.

Arithmetic is average cost within a lot, in integers: a buy adds its tokens and its SOL plus fee to the lot's
cost; a sell takes cost × sold / held off the cost (the last piece takes all that is left, so a lot sold in
parts costs exactly what it was bought for) and books proceeds − fee − that cost as realised PnL. A sell
split over several lots (a manual sell pro rata) splits tokens, proceeds and fee by the tokens each lot
gives; the last lot takes the remainders, so the pieces add up exactly to the fill.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from engine.store.base import StoreBase


@dataclass(frozen=True, slots=True)
class Piece:
    """One lot's share of a sell."""

    lot_id: int
    tokens: int
    proceeds: int
    fee: int


def split_pro_rata(held: list[tuple[int, int]], tokens: int, proceeds: int, fee: int) -> list[Piece]:
    """Split a sell of `tokens` over lots [(lot_id, amount held)] by what each holds; at most all they hold.

    Each lot gives floor(tokens × held / total); the few units the floors leave go to the first lots that
    still hold more. Proceeds and fee follow the tokens, the last piece taking their remainders. Pure, so the
    split can be checked without a database."""
    live = [(lot_id, amount) for lot_id, amount in held if amount > 0]
    total = sum(amount for _, amount in live)
    tokens = min(tokens, total)
    if not live or tokens <= 0:
        return []
    parts = [tokens * amount // total for _, amount in live]
    left = tokens - sum(parts)
    for index, (_, amount) in enumerate(live):
        extra = min(left, amount - parts[index])
        parts[index] += extra
        left -= extra
    pieces: list[Piece] = []
    got = paid = 0
    last = max(index for index, part in enumerate(parts) if part > 0)
    for index, ((lot_id, _), part) in enumerate(zip(live, parts, strict=True)):
        if part <= 0:
            continue
        if index == last:
            share, cut = proceeds - got, fee - paid
        else:
            share, cut = proceeds * part // tokens, fee * part // tokens
        got, paid = got + share, paid + cut
        pieces.append(Piece(lot_id, part, share, cut))
    return pieces


class LotStore(StoreBase):
    """The lots table: fills applied to lots (inside settle's transaction) and the reads of lots."""

    # -- fills (the caller holds the transaction) -----------------------------------------------------------
    def _lots_buy_in_tx(
        self, intent: dict[str, Any], tokens: int, lamports: int, fee: int, decimals: int | None, now: float
    ) -> dict[str, Any]:
        """Open or add to the lot of (chain, wallet, leader, mint) of this buy; returns the lot row."""
        leader = intent.get("leader") or intent["trader"]
        chain = intent.get("chain") or self.chain
        decimals = decimals if decimals is not None else intent.get("token_decimals")
        row = self.conn.execute(
            "SELECT * FROM lots WHERE chain=? AND wallet=? AND leader=? AND mint=? AND closed_at IS NULL",
            (chain, intent["wallet"], leader, intent["mint"]),
        ).fetchone()
        if row is None:
            cursor = self._write(
                "INSERT INTO lots (chain, wallet, leader, trader, mint, decimals, opened_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (chain, intent["wallet"], leader, intent["trader"], intent["mint"], decimals, now, now),
            )
            lot_id = int(cursor.lastrowid)
        else:
            lot_id = int(row["id"])
        self._write(
            "UPDATE lots SET amount=amount+?, bought_amount=bought_amount+?, cost_lamports=cost_lamports+?,"
            " spent_lamports=spent_lamports+?, fees_lamports=fees_lamports+?, buys=buys+1, trader=?,"
            " decimals=COALESCE(?, decimals), updated_at=? WHERE id=?",
            (tokens, tokens, lamports + fee, lamports + fee, fee, intent["trader"], decimals, now, lot_id),
        )
        self._move(lot_id, intent["id"], "buy", tokens, lamports, fee, 0, 0, now)
        self._write("UPDATE intents SET lot_id=? WHERE id=?", (lot_id, intent["id"]))
        return self._lot_row(lot_id)

    def _lots_sell_in_tx(
        self, intent: dict[str, Any], tokens: int, lamports: int, fee: int, now: float
    ) -> tuple[list[dict[str, Any]], int]:
        """Take a sell off the lots it belongs to: its own lot (a leader's copy, an exit, a picked lot), or
        every open lot of the mint pro rata (a manual sell). Returns (lots touched, realised PnL delta)."""
        if intent.get("lot_id") is not None:
            rows = self.conn.execute("SELECT * FROM lots WHERE id=?", (intent["lot_id"],)).fetchall()
        else:
            rows = self.conn.execute(
                "SELECT * FROM lots WHERE chain=? AND wallet=? AND mint=? AND closed_at IS NULL ORDER BY id",
                (intent.get("chain") or self.chain, intent["wallet"], intent["mint"]),
            ).fetchall()
        pieces = split_pro_rata([(int(r["id"]), int(r["amount"])) for r in rows], tokens, lamports, fee)
        if not pieces and rows:
            # Nothing left to sell in the books (the lot was emptied meanwhile): the SOL still came in.
            pieces = [Piece(int(rows[0]["id"]), 0, lamports, fee)]
        by_id = {int(r["id"]): r for r in rows}
        touched: list[dict[str, Any]] = []
        realized_total = 0
        for piece in pieces:
            lot = by_id[piece.lot_id]
            held, cost = int(lot["amount"]), int(lot["cost_lamports"])
            cost_of_sold = cost if piece.tokens >= held else (cost * piece.tokens // held if held else 0)
            realized = piece.proceeds - piece.fee - cost_of_sold
            realized_total += realized
            left = held - piece.tokens
            self._write(
                "UPDATE lots SET amount=?, cost_lamports=?, proceeds_lamports=proceeds_lamports+?,"
                " fees_lamports=fees_lamports+?, realized_pnl_lamports=realized_pnl_lamports+?, sells=sells+1,"
                " closed_at=CASE WHEN ?<=0 THEN ? ELSE closed_at END, updated_at=? WHERE id=?",
                (
                    left,
                    cost - cost_of_sold,
                    piece.proceeds - piece.fee,
                    piece.fee,
                    realized,
                    left,
                    now,
                    now,
                    piece.lot_id,
                ),
            )
            self._move(
                piece.lot_id,
                intent["id"],
                "sell",
                piece.tokens,
                piece.proceeds,
                piece.fee,
                cost_of_sold,
                realized,
                now,
            )
            touched.append(self._lot_row(piece.lot_id))
        return touched, realized_total

    def _move(
        self,
        lot_id: int,
        intent_id: int | None,
        kind: str,
        tokens: int,
        lamports: int,
        fee: int,
        cost: int,
        realized: int,
        at: float,
        reason: str = "",
    ) -> None:
        self._write(
            "INSERT INTO lot_moves (lot_id, intent_id, kind, token_amount, quote_amount, fee_lamports,"
            " cost_lamports, realized_pnl_lamports, reason, at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (lot_id, intent_id, kind, tokens, lamports, fee, cost, realized, reason, at),
        )

    def _lot_row(self, lot_id: int) -> dict[str, Any]:
        return dict(self.conn.execute("SELECT * FROM lots WHERE id=?", (lot_id,)).fetchone())

    def _open_lot_id(self, wallet: str, leader: str, mint: str, chain: str | None = None) -> int | None:
        row = self.conn.execute(
            "SELECT id FROM lots WHERE chain=? AND wallet=? AND leader=? AND mint=? AND closed_at IS NULL",
            (chain or self.chain, wallet, leader, mint),
        ).fetchone()
        return int(row["id"]) if row else None

    # -- reads ---------------------------------------------------------------------------------------------
    def lots(
        self, mint: str | None = None, *, open_only: bool = True, leader: str | None = None
    ) -> list[dict[str, Any]]:
        """Lots of our wallet, oldest first; open ones only unless open_only is False."""
        sql = "SELECT * FROM lots WHERE 1=1"
        params: list[Any] = []
        if open_only:
            sql += " AND closed_at IS NULL"
        if mint is not None:
            sql += " AND mint=?"
            params.append(mint)
        if leader is not None:
            sql += " AND leader=?"
            params.append(leader)
        scope, scope_params = self._scope()
        rows = self.conn.execute(sql + scope + " ORDER BY id", (*params, *scope_params)).fetchall()
        return [dict(row) for row in rows]

    def lot(self, lot_id: int) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM lots WHERE id=?", (lot_id,)).fetchone()
        return dict(row) if row else None

    def open_lot(self, leader: str, mint: str, wallet: str | None = None) -> dict[str, Any] | None:
        """The open lot of a leader in a mint (in our wallet on the current chain), if any."""
        row = self.conn.execute(
            "SELECT * FROM lots WHERE chain=? AND wallet=? AND leader=? AND mint=? AND closed_at IS NULL",
            (self.chain, wallet or self.wallet or "", leader, mint),
        ).fetchone()
        return dict(row) if row else None

    def lot_available(self, lot_id: int) -> int:
        """What a new sell may take from a lot: its amount less the sells of it already in flight."""
        lot = self.lot(lot_id)
        if lot is None:
            return 0
        selling = self.conn.execute(
            "SELECT COALESCE(SUM(amount_in),0) FROM intents WHERE lot_id=? AND side='sell'"
            " AND status IN ('pending','queued','sent')",
            (lot_id,),
        ).fetchone()[0]
        return max(0, int(lot["amount"]) - int(selling))

    def lot_moves(self, lot_id: int) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT * FROM lot_moves WHERE lot_id=? ORDER BY id", (lot_id,)).fetchall()
        return [dict(row) for row in rows]

    def trader_books(self) -> dict[str, dict[str, Any]]:
        """Per leader: realised PnL, open and closed lots, wins (closed lots in profit) and the win rate."""
        scope, params = self._scope()
        rows = self.conn.execute(
            "SELECT leader, MAX(trader) AS trader, SUM(realized_pnl_lamports) AS realized,"
            " SUM(CASE WHEN closed_at IS NULL THEN 1 ELSE 0 END) AS open,"
            " SUM(CASE WHEN closed_at IS NOT NULL THEN 1 ELSE 0 END) AS closed,"
            " SUM(CASE WHEN closed_at IS NOT NULL AND realized_pnl_lamports > 0 THEN 1 ELSE 0 END) AS wins,"
            " SUM(cost_lamports) AS open_cost, SUM(fees_lamports) AS fees"
            f" FROM lots WHERE 1=1{scope} GROUP BY leader ORDER BY leader",
            params,
        ).fetchall()
        books: dict[str, dict[str, Any]] = {}
        for row in rows:
            closed, wins = int(row["closed"]), int(row["wins"])
            books[row["leader"]] = {
                "trader": row["trader"],
                "realized_pnl_lamports": int(row["realized"]),
                "open_lots": int(row["open"]),
                "closed_lots": closed,
                "wins": wins,
                "win_rate": wins / closed if closed else None,
                "open_cost_lamports": int(row["open_cost"]),
                "fees_lamports": int(row["fees"]),
            }
        return books


def spread_pro_rata(held: list[tuple[int, int]], tokens: int) -> list[tuple[int, int]]:
    """Spread tokens that came in (a deposit) over lots [(lot_id, held)] by what each holds; the last lot takes
    the remainder. Pure."""
    live = [(lot_id, amount) for lot_id, amount in held if amount > 0] or held[-1:]
    total = sum(amount for _, amount in live)
    if not live or tokens <= 0:
        return []
    parts = [tokens * amount // total if total else 0 for _, amount in live]
    parts[-1] += tokens - sum(parts)
    return [(lot_id, part) for (lot_id, _), part in zip(live, parts, strict=True) if part > 0]


class AdjustStore(LotStore):
    """Reconciliation's writes: the lots of a mint brought to what the chain says, as one adjustment."""

    def adjust_lots(
        self, mint: str, chain_amount: int, *, reason: str, at: float | None = None
    ) -> dict[str, Any]:
        """Bring the open lots of `mint` (current books) to `chain_amount`, pro rata, in one transaction.

        A shortfall (tokens gone: an external sell, a settle that booked too much) takes tokens and the
        same share of cost basis off each lot, and realises nothing (no SOL was received that we know of); a
        surplus adds tokens at no cost. The adjustment is an executed intent with trigger 'reconcile' (so
        the trades pane, `zapbot trades` and the CSV show it) and one `lot_moves` row per lot.
        Returns {"intent", "position", "lots", "delta"}; delta 0 (nothing written) when the books agree."""
        now = at or time.time()
        wallet = self.wallet or ""
        with self._tx():
            rows = self.conn.execute(
                "SELECT * FROM lots WHERE chain=? AND wallet=? AND mint=? AND closed_at IS NULL ORDER BY id",
                (self.chain, wallet, mint),
            ).fetchall()
            books = sum(int(r["amount"]) for r in rows)
            delta = chain_amount - books
            if delta == 0 or not rows:
                return {"intent": None, "position": None, "lots": [], "delta": 0}
            decimals = next((r["decimals"] for r in rows if r["decimals"] is not None), None)
            cursor = self._write(
                "INSERT INTO intents (leader_signature, trader, wallet, side, mint, status, reason, token_amount,"
                " token_decimals, detected_at, queued_at, confirmed_at, created_at, updated_at, trigger, chain)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    f"reconcile-{uuid.uuid4().hex}",
                    "reconcile",
                    wallet,
                    "adjust",
                    mint,
                    "executed",
                    f"{reason}: books {books}, chain {chain_amount}",
                    abs(delta),
                    decimals,
                    now,
                    now,
                    now,
                    now,
                    now,
                    "reconcile",
                    self.chain,
                ),
            )
            intent_id = int(cursor.lastrowid)
            by_id = {int(r["id"]): r for r in rows}
            held = [(int(r["id"]), int(r["amount"])) for r in rows]
            if delta < 0:
                changes = [(p.lot_id, -p.tokens) for p in split_pro_rata(held, -delta, 0, 0)]
            else:
                changes = spread_pro_rata(held, delta)
            touched = []
            for lot_id, change in changes:
                lot = by_id[lot_id]
                amount, cost = int(lot["amount"]), int(lot["cost_lamports"])
                left = amount + change
                removed_cost = 0
                if change < 0:
                    removed_cost = cost if left <= 0 else cost * -change // amount
                self._write(
                    "UPDATE lots SET amount=?, cost_lamports=?, closed_at=CASE WHEN ?<=0 THEN ? ELSE closed_at END,"
                    " updated_at=? WHERE id=?",
                    (left, cost - removed_cost, left, now, now, lot_id),
                )
                self._move(lot_id, intent_id, "adjust", change, 0, 0, removed_cost, 0, now, reason)
                touched.append(self._lot_row(lot_id))
            intent = dict(self.conn.execute("SELECT * FROM intents WHERE id=?", (intent_id,)).fetchone())
        return {"intent": intent, "position": self.position(mint), "lots": touched, "delta": delta}
