"""What the exit runner keeps in the database: each lot's exit state (its peak value in lot_exits, the
take-profit levels its exits sold, the exit in flight) and the exit intent itself, recorded with the one-at-a-time
check in the same transaction, so a restart can never put a second exit of a lot in flight."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from engine.store.base import StoreBase
from engine.store.intents import IN_FLIGHT_STATUSES

EXIT_TRIGGER_NAMES = ("take_profit", "stop_loss", "trailing_stop", "max_hold")
_FLIGHT = ",".join(f"'{status}'" for status in IN_FLIGHT_STATUSES)
_EXITS = ",".join(f"'{trigger}'" for trigger in EXIT_TRIGGER_NAMES)


def exit_key(lot_id: int, number: int) -> str:
    """The intent key of a lot's number-th exit: lot ids are never reused, so it is unique on every chain."""
    return f"exit:{lot_id}:{number}"


class ExitStateStore(StoreBase):
    """lot_exits and the exit intents of lots (intents whose trigger is an exit rule)."""

    def exit_states(self, lot_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        """Per lot: peak_lamports (None: never valued), fired_levels (take-profit levels executed or in
        flight), in_flight (an exit intent of it not finished), failures (its failed exits) and
        last_failed_at. Lots with no exit state yet get the empty state."""
        ids = sorted({int(lot_id) for lot_id in lot_ids})
        states: dict[int, dict[str, Any]] = {
            lot_id: {
                "peak_lamports": None,
                "fired_levels": frozenset(),
                "in_flight": False,
                "failures": 0,
                "last_failed_at": None,
            }
            for lot_id in ids
        }
        if not ids:
            return states
        marks = ",".join("?" * len(ids))
        for row in self.conn.execute(
            f"SELECT lot_id, peak_lamports FROM lot_exits WHERE lot_id IN ({marks})", ids
        ):
            states[int(row["lot_id"])]["peak_lamports"] = row["peak_lamports"]
        fired: dict[int, set[int]] = {}
        for row in self.conn.execute(
            f"SELECT lot_id, trigger, exit_level, status, updated_at FROM intents WHERE lot_id IN ({marks})"
            f" AND side='sell' AND trigger IN ({_EXITS})",
            ids,
        ):
            state = states[int(row["lot_id"])]
            status = row["status"]
            if status in IN_FLIGHT_STATUSES:
                state["in_flight"] = True
            elif status == "failed":
                state["failures"] += 1
                state["last_failed_at"] = max(state["last_failed_at"] or 0.0, float(row["updated_at"]))
            if row["trigger"] == "take_profit" and row["exit_level"] is not None and status != "failed":
                fired.setdefault(int(row["lot_id"]), set()).add(int(row["exit_level"]))
        for lot_id, levels in fired.items():
            states[lot_id]["fired_levels"] = frozenset(levels)
        return states

    def note_exit_value(self, lot_id: int, *, value_lamports: int, peak_lamports: int, at: float) -> None:
        """Remember a lot's latest value and its peak (the trailing stop's reference survives a restart)."""
        with self._tx():
            self._write(
                "INSERT INTO lot_exits (lot_id, peak_lamports, value_lamports, valued_at, updated_at)"
                " VALUES (?,?,?,?,?) ON CONFLICT(lot_id) DO UPDATE SET"
                " peak_lamports=MAX(COALESCE(peak_lamports, 0), excluded.peak_lamports),"
                " value_lamports=excluded.value_lamports, valued_at=excluded.valued_at,"
                " updated_at=excluded.updated_at",
                (lot_id, peak_lamports, value_lamports, at, time.time()),
            )

    def record_exit(
        self,
        *,
        lot_id: int,
        trigger: str,
        token_amount: int,
        exit_level: int | None = None,
        status: str = "queued",
    ) -> tuple[int | None, str]:
        """Persist an exit of a lot before anything is sent: (intent id, "") or (None, why not).

        In one transaction: the lot must be open, have no exit in flight, and (a take-profit level) not
        have sold that level already; the amount is capped at what no other sell of the lot has taken."""
        if trigger not in EXIT_TRIGGER_NAMES:
            raise ValueError(f"not an exit trigger: {trigger!r}")
        now = time.time()
        with self._tx():
            lot = self.conn.execute("SELECT * FROM lots WHERE id=?", (lot_id,)).fetchone()
            if lot is None or lot["closed_at"] is not None or int(lot["amount"]) <= 0:
                return None, "lot closed"
            rows = self.conn.execute(
                f"SELECT trigger, exit_level, status, amount_in FROM intents WHERE lot_id=? AND side='sell'"
                f" AND (status IN ({_FLIGHT}) OR trigger IN ({_EXITS}))",
                (lot_id,),
            ).fetchall()
            exits = [row for row in rows if row["trigger"] in EXIT_TRIGGER_NAMES]
            if any(row["status"] in IN_FLIGHT_STATUSES for row in exits):
                return None, "exit in flight"
            if trigger == "take_profit" and any(
                row["trigger"] == "take_profit"
                and row["exit_level"] == exit_level
                and row["status"] != "failed"
                for row in exits
            ):
                return None, "level already sold"
            selling = sum(int(row["amount_in"]) for row in rows if row["status"] in IN_FLIGHT_STATUSES)
            amount = min(int(token_amount), int(lot["amount"]) - selling)
            if amount <= 0:
                return None, "nothing left to sell"
            cursor = self._write(
                "INSERT INTO intents (leader_signature, trader, wallet, side, mint, status, amount_in,"
                " token_decimals, detected_at, queued_at, created_at, updated_at, trigger, exit_level, chain,"
                " leader, lot_id) VALUES (?,?,?,'sell',?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    exit_key(lot_id, len(exits) + 1),
                    lot["trader"],
                    lot["wallet"],
                    lot["mint"],
                    status,
                    amount,
                    lot["decimals"],
                    now,
                    now,
                    now,
                    now,
                    trigger,
                    exit_level,
                    lot["chain"],
                    lot["leader"],
                    lot_id,
                ),
            )
            return int(cursor.lastrowid), ""
