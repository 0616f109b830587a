"""Copy intents: one row per (leader transaction, trader, wallet), written before anything is sent."""

from __future__ import annotations

import time
from typing import Any

from engine.store.base import StoreBase

IN_FLIGHT_STATUSES = ("pending", "queued", "sent")
INTENT_FIELDS = {
    "status",
    "reason",
    "signature",
    "amount_in",
    "token_amount",
    "quote_amount",
    "token_decimals",
    "fee_lamports",
    "attempts",
    "last_valid_block_height",
    "signed_tx",
    "queued_at",
    "sent_at",
    "confirmed_at",
    "detected_at",
}


class IntentStore(StoreBase):
    """Recording, updating and reading copy intents."""

    def record_intent(
        self,
        *,
        leader_signature: str,
        trader: str,
        wallet: str,
        side: str,
        mint: str,
        amount_in: int,
        leader_token_amount: int = 0,
        leader_quote_amount: int = 0,
        token_decimals: int | None = None,
        detected_at: float | None = None,
        status: str = "pending",
        queued_at: float | None = None,
        trigger: str = "leader",
        exit_level: int | None = None,
        leader: str = "",
        lot_id: int | None = None,
        signal_at: float | None = None,
        leader_slot: int | None = None,
    ) -> tuple[int, bool]:
        """Persist a copy intent before anything is sent. Returns (id, created); created is False for a repeat.

        `leader` is the leader's wallet (a buy opens or adds to that leader's lot). A sell sells `lot_id`
        only; a leader's copied sell without one sells that leader's open lot of the mint; a manual sell
        without one is split over all the mint's lots pro rata. `signal_at` and `leader_slot` are when the
        leader's swap landed (SwapDetected.signal_at, .slot): a restart measures the signal's age from them."""
        now = time.time()
        with self._tx():
            if lot_id is None and side == "sell" and trigger == "leader" and leader:
                row = self.conn.execute(
                    "SELECT id FROM lots WHERE chain=? AND wallet=? AND leader=? AND mint=? AND closed_at IS NULL",
                    (self.chain, wallet, leader, mint),
                ).fetchone()
                lot_id = int(row["id"]) if row else None
            cursor = self._write(
                "INSERT OR IGNORE INTO intents (leader_signature, trader, wallet, side, mint, status, amount_in,"
                " leader_token_amount, leader_quote_amount, token_decimals, detected_at, queued_at, created_at,"
                " updated_at, trigger, exit_level, chain, leader, lot_id, signal_at, leader_slot)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    leader_signature,
                    trader,
                    wallet,
                    side,
                    mint,
                    status,
                    amount_in,
                    leader_token_amount,
                    leader_quote_amount,
                    token_decimals,
                    detected_at,
                    queued_at,
                    now,
                    now,
                    trigger,
                    exit_level,
                    self.chain,
                    leader,
                    lot_id,
                    signal_at,
                    leader_slot,
                ),
            )
            if cursor.rowcount == 1:
                return int(cursor.lastrowid), True
            row = self.conn.execute(
                "SELECT id FROM intents WHERE leader_signature=? AND trader=? AND wallet=?",
                (leader_signature, trader, wallet),
            ).fetchone()
            return int(row["id"]), False

    def update_intent(self, intent_id: int, **fields: Any) -> dict[str, Any]:
        unknown = set(fields) - INTENT_FIELDS
        if unknown:
            raise ValueError(f"unknown intent fields {sorted(unknown)}")
        fields["updated_at"] = time.time()
        assignments = ", ".join(f"{key}=?" for key in fields)
        with self._tx():
            self._write(f"UPDATE intents SET {assignments} WHERE id=?", (*fields.values(), intent_id))
        return self.get_intent(intent_id)

    def get_intent(self, intent_id: int) -> dict[str, Any]:
        row = self.conn.execute("SELECT * FROM intents WHERE id=?", (intent_id,)).fetchone()
        if row is None:
            raise KeyError(intent_id)
        return dict(row)

    def find_intent(self, leader_signature: str, trader: str, wallet: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT * FROM intents WHERE leader_signature=? AND trader=? AND wallet=?",
            (leader_signature, trader, wallet),
        ).fetchone()
        return dict(row) if row else None

    def intents_in_flight(self) -> list[dict[str, Any]]:
        """Intents of the current books left pending, queued or sent (what a restart resumes)."""
        marks = ",".join("?" * len(IN_FLIGHT_STATUSES))
        scope, params = self._scope()
        rows = self.conn.execute(
            f"SELECT * FROM intents WHERE status IN ({marks}){scope} ORDER BY id",
            (*IN_FLIGHT_STATUSES, *params),
        ).fetchall()
        return [dict(row) for row in rows]

    def intents(self, *, limit: int = 500, trader: str | None = None) -> list[dict[str, Any]]:
        """The newest intents of the current books."""
        scope, params = self._scope()
        sql = f"SELECT * FROM intents WHERE 1=1{scope}"
        if trader:
            sql += " AND trader=?"
            params = (*params, trader)
        rows = self.conn.execute(sql + " ORDER BY id DESC LIMIT ?", (*params, limit)).fetchall()
        return [dict(row) for row in rows]

    def bought_before(self, trader: str, mint: str) -> bool:
        scope, params = self._scope()
        row = self.conn.execute(
            "SELECT 1 FROM intents WHERE trader=? AND mint=? AND side='buy' AND status IN"
            f" ('pending','queued','sent','executed'){scope} LIMIT 1",
            (trader, mint, *params),
        ).fetchone()
        return row is not None
