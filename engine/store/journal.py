"""Skipped copies, worker errors and each trader's runtime state (cut-off, failures, pause)."""

from __future__ import annotations

import time
from typing import Any

from engine.store.base import StoreBase
from engine.store.decisions import already_decided


class JournalStore(StoreBase):
    """Skips, errors and trader state."""

    # -- skips and errors ------------------------------------------------------------------
    def record_skip(
        self,
        *,
        leader_signature: str,
        trader: str,
        side: str,
        mint: str,
        reason: str,
        detected_at: float | None = None,
        at: float | None = None,
        detail: str = "",
    ) -> int | None:
        """Record a skip: its id, or None when the leader swap has its record already (an intent or another
        skip, decisions.already_decided), so a swap fetched again after a restart is skipped once. A
        "duplicate" refusal is always recorded: it says a repeated signal was refused."""
        with self._tx():
            if reason != "duplicate" and already_decided(
                self.conn, leader_signature, trader, self.chain, self.wallet
            ):
                return None
            cursor = self._write(
                "INSERT INTO skips (leader_signature, trader, side, mint, reason, detected_at, at, detail, chain,"
                " wallet) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    leader_signature,
                    trader,
                    side,
                    mint,
                    reason,
                    detected_at,
                    at or time.time(),
                    detail[:300],
                    self.chain,
                    self.wallet or "",
                ),
            )
            return int(cursor.lastrowid)

    def record_error(self, worker: str, message: str, at: float | None = None) -> None:
        with self._tx():
            self._write(
                "INSERT INTO errors (at, worker, message) VALUES (?,?,?)",
                (at or time.time(), worker, message[:2000]),
            )

    # -- trader runtime state ------------------------------------------------------------------
    # Keyed by (chain, our wallet, the trader's wallet): a trader's failures, pause, copies and PnL on one
    # chain and wallet say nothing of another.
    def all_trader_state(self) -> dict[str, dict[str, Any]]:
        """The trader's wallet → its runtime state, in the current books."""
        rows = self.conn.execute(
            "SELECT * FROM trader_state WHERE chain=? AND our_wallet=?", (self.chain, self.wallet or "")
        ).fetchall()
        return {row["wallet"]: dict(row) for row in rows}

    def set_trader_state(self, wallet: str, name: str, **fields: Any) -> None:
        allowed = {
            "cutoff_signature",
            "consecutive_failures",
            "paused_reason",
            "trades_copied",
            "last_trade_at",
            "realized_pnl_lamports",
        }
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown trader state fields {sorted(unknown)}")
        now = time.time()
        columns = ["chain", "our_wallet", "wallet", "name", *fields.keys(), "updated_at"]
        values = [self.chain, self.wallet or "", wallet, name, *fields.values(), now]
        updates = ", ".join(f"{key}=excluded.{key}" for key in ["name", *fields.keys(), "updated_at"])
        with self._tx():
            self._write(
                f"INSERT INTO trader_state ({', '.join(columns)}) VALUES ({','.join('?' * len(values))})"
                f" ON CONFLICT(chain, our_wallet, wallet) DO UPDATE SET {updates}",
                values,
            )

    def set_cutoffs(self, cutoffs: dict[str, tuple[str, str]]) -> None:
        """wallet → (name, cutoff signature), in one transaction (polling advances many at once)."""
        now = time.time()
        with self._tx():
            for wallet, (name, signature) in cutoffs.items():
                self._write(
                    "INSERT INTO trader_state (chain, our_wallet, wallet, name, cutoff_signature, updated_at)"
                    " VALUES (?,?,?,?,?,?) ON CONFLICT(chain, our_wallet, wallet) DO UPDATE SET"
                    " cutoff_signature=excluded.cutoff_signature, updated_at=excluded.updated_at",
                    (self.chain, self.wallet or "", wallet, name, signature, now),
                )
