"""The Store: the single writer's view of the database, and the executor's atomic steps on it."""

from __future__ import annotations

import time
from typing import Any

from engine.store.exit_state import ExitStateStore
from engine.store.intents import IN_FLIGHT_STATUSES, IntentStore
from engine.store.journal import JournalStore
from engine.store.positions import PositionStore
from engine.store.token_meta import TokenMetaStore


class Store(IntentStore, PositionStore, JournalStore, ExitStateStore, TokenMetaStore):
    """The single writer's view of the database. Every write is one transaction."""

    # -- the executor's atomic steps (each is one transaction) -------------------------------------
    def policy_inputs(
        self,
        *,
        trader: str,
        mint: str,
        wallet: str,
        leader_signature: str | None = None,
        day: str | None = None,
        leader: str | None = None,
    ) -> dict[str, Any]:
        """Everything the copy policy reads from the database, in one consistent read. With `leader`, also that
        leader's open lot of the mint and what a new sell may take from it (a copied sell sells that lot)."""
        # Decided already: an intent, or a skip (a swap fetched again after a restart must not be decided twice).
        exists = leader_signature is not None and (
            self.find_intent(leader_signature, trader, wallet) is not None
            or self.conn.execute(
                "SELECT 1 FROM skips WHERE leader_signature=? AND trader=? AND reason!='duplicate' LIMIT 1",
                (leader_signature, trader),
            ).fetchone()
            is not None
        )
        marks = ",".join("?" * len(IN_FLIGHT_STATUSES))
        daily = self.daily(day)
        buys = self.conn.execute(
            f"SELECT COALESCE(SUM(amount_in),0) AS lamports, COUNT(*) AS n FROM intents WHERE wallet=?"
            f" AND chain=? AND side='buy' AND status IN ({marks})",
            (wallet, self.chain, *IN_FLIGHT_STATUSES),
        ).fetchone()
        new_mints = self.conn.execute(
            f"SELECT COUNT(DISTINCT mint) FROM intents WHERE wallet=? AND chain=? AND side='buy'"
            f" AND status IN ({marks})"
            " AND mint NOT IN (SELECT mint FROM lots WHERE wallet=? AND chain=? AND closed_at IS NULL)",
            (wallet, self.chain, *IN_FLIGHT_STATUSES, wallet, self.chain),
        ).fetchone()[0]
        open_positions = self.conn.execute(
            "SELECT COUNT(DISTINCT mint) FROM lots WHERE wallet=? AND chain=? AND closed_at IS NULL AND amount > 0",
            (wallet, self.chain),
        ).fetchone()[0]
        position = self.position(mint, wallet=wallet)
        selling = self.conn.execute(
            f"SELECT COALESCE(SUM(amount_in),0) FROM intents WHERE wallet=? AND chain=? AND side='sell'"
            f" AND mint=? AND status IN ({marks})",
            (wallet, self.chain, mint, *IN_FLIGHT_STATUSES),
        ).fetchone()[0]
        lot = self.open_lot(leader, mint, wallet=wallet) if leader else None
        return {
            "lot_id": int(lot["id"]) if lot else None,
            "lot_available": self.lot_available(int(lot["id"])) if lot else 0,
            "spent_today_lamports": daily["spent_lamports"],
            "realized_pnl_today_lamports": daily["realized_pnl_lamports"],
            "in_flight_buy_lamports": int(buys["lamports"]),
            "in_flight_buys": int(buys["n"]),
            "open_positions": int(open_positions) + int(new_mints),
            "position_amount": int(position["amount"] or 0) if position else 0,
            "in_flight_sell_amount": int(selling),
            "bought_before": self.bought_before(trader, mint),
            "decimals": position["decimals"] if position else None,
            "duplicate": exists,
        }

    def mark_sent(
        self,
        intent_id: int,
        *,
        signature: str,
        signed_tx: bytes,
        last_valid_block_height: int,
        attempts: int,
        sent_at: float | None = None,
    ) -> dict[str, Any]:
        """A signed transaction is about to go out: store its bytes, signature and expiry with the attempt."""
        now = sent_at or time.time()
        with self._tx():
            self._write(
                "UPDATE intents SET status='sent', signature=?, signed_tx=?, last_valid_block_height=?,"
                " attempts=?, sent_at=?, updated_at=? WHERE id=?",
                (signature, signed_tx, last_valid_block_height, attempts, now, now, intent_id),
            )
            self._write(
                "INSERT OR IGNORE INTO trades (intent_id, signature, status, sent_at, chain, wallet)"
                " SELECT id, ?, 'sent', ?, chain, wallet FROM intents WHERE id=?",
                (signature, now, intent_id),
            )
        return self.get_intent(intent_id)

    def settle_intent(
        self,
        intent_id: int,
        *,
        token_amount: int,
        quote_amount: int,
        fee_lamports: int = 0,
        decimals: int | None = None,
        signature: str | None = None,
        reason: str = "",
        confirmed_at: float | None = None,
    ) -> dict[str, Any]:
        """Our trade landed: apply the fill to the position, close the attempt and the intent, atomically.

        Idempotent: an intent already executed is returned unchanged (a restart may settle it twice).
        The fill changes only the lots the intent belongs to (engine/store/lots.py).
        Returns {"intent", "position", "realized_delta_lamports", "applied", "lots"} (the lots touched).
        """
        now = confirmed_at or time.time()
        with self._tx():
            intent = self.conn.execute("SELECT * FROM intents WHERE id=?", (intent_id,)).fetchone()
            if intent is None:
                raise KeyError(intent_id)
            if intent["status"] == "executed":
                return {
                    "intent": dict(intent),
                    "position": self.position(intent["mint"], wallet=intent["wallet"]),
                    "realized_delta_lamports": 0,
                    "applied": False,
                    "lots": [],
                }
            mint = intent["mint"]
            fill = self._fill_in_tx(dict(intent), token_amount, quote_amount, decimals, now, fee_lamports)
            if signature:
                self._write(
                    "UPDATE trades SET status='executed', err='', token_amount=?, quote_amount=?, fee_lamports=?,"
                    " confirmed_at=? WHERE signature=?",
                    (token_amount, quote_amount, fee_lamports, now, signature),
                )
            self._write(
                "UPDATE intents SET status='executed', reason=?, signature=COALESCE(?, signature), token_amount=?,"
                " quote_amount=?, fee_lamports=?, token_decimals=COALESCE(?, token_decimals), confirmed_at=?,"
                " updated_at=? WHERE id=?",
                (reason, signature, token_amount, quote_amount, fee_lamports, decimals, now, now, intent_id),
            )
        return {
            "intent": self.get_intent(intent_id),
            "position": self.position(mint, wallet=intent["wallet"]),
            "realized_delta_lamports": fill.realized_delta_lamports,
            "applied": True,
            "lots": fill.lots,
        }

    def close_attempt(self, signature: str, *, status: str, err: str = "", fee_lamports: int = 0) -> None:
        """An attempt ended without a fill (failed on chain, or expired before landing)."""
        with self._tx():
            self._write(
                "UPDATE trades SET status=?, err=?, fee_lamports=?, confirmed_at=? WHERE signature=?",
                (status, err[:500], fee_lamports, time.time(), signature),
            )

    def fail_intent(
        self, intent_id: int, *, reason: str, fee_lamports: int = 0, status: str = "failed"
    ) -> dict[str, Any]:
        """The trade will not happen ('failed', or 'skipped' when nothing of it reached the chain, e.g. a
        buy gone stale in the queue); an intent already executed is left alone."""
        if status not in ("failed", "skipped"):
            raise ValueError(f"an intent ends 'failed' or 'skipped', not {status!r}")
        now = time.time()
        with self._tx():
            self._write(
                "UPDATE intents SET status=?, reason=?, fee_lamports=fee_lamports+?, confirmed_at=?,"
                " updated_at=? WHERE id=? AND status!='executed'",
                (status, reason[:500], fee_lamports, now, now, intent_id),
            )
        return self.get_intent(intent_id)
