"""SQLite store (WAL, migrations by user_version): intents, trade attempts, positions, skips, errors, trader state.

Only the data worker writes through a Store; CLI commands open their own read connections.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE intents (
        id INTEGER PRIMARY KEY,
        leader_signature TEXT NOT NULL,
        trader TEXT NOT NULL,
        wallet TEXT NOT NULL,
        side TEXT NOT NULL,
        mint TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        signature TEXT,
        amount_in INTEGER NOT NULL DEFAULT 0,
        token_amount INTEGER NOT NULL DEFAULT 0,
        quote_amount INTEGER NOT NULL DEFAULT 0,
        token_decimals INTEGER,
        leader_token_amount INTEGER NOT NULL DEFAULT 0,
        leader_quote_amount INTEGER NOT NULL DEFAULT 0,
        fee_lamports INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_valid_block_height INTEGER,
        signed_tx BLOB,
        detected_at REAL,
        queued_at REAL,
        sent_at REAL,
        confirmed_at REAL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (leader_signature, trader, wallet)
    );
    CREATE INDEX intents_status ON intents(status);
    CREATE INDEX intents_created ON intents(created_at);
    CREATE TABLE trades (
        id INTEGER PRIMARY KEY,
        intent_id INTEGER NOT NULL REFERENCES intents(id),
        signature TEXT NOT NULL,
        status TEXT NOT NULL,
        err TEXT NOT NULL DEFAULT '',
        token_amount INTEGER NOT NULL DEFAULT 0,
        quote_amount INTEGER NOT NULL DEFAULT 0,
        fee_lamports INTEGER NOT NULL DEFAULT 0,
        sent_at REAL NOT NULL,
        confirmed_at REAL,
        UNIQUE (signature)
    );
    CREATE INDEX trades_intent ON trades(intent_id);
    CREATE TABLE positions (
        mint TEXT PRIMARY KEY,
        amount INTEGER NOT NULL,
        cost_lamports INTEGER NOT NULL,
        realized_pnl_lamports INTEGER NOT NULL DEFAULT 0,
        decimals INTEGER,
        opened_at REAL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE skips (
        id INTEGER PRIMARY KEY,
        leader_signature TEXT NOT NULL,
        trader TEXT NOT NULL,
        side TEXT NOT NULL,
        mint TEXT NOT NULL,
        reason TEXT NOT NULL,
        detected_at REAL,
        at REAL NOT NULL
    );
    CREATE INDEX skips_at ON skips(at);
    CREATE TABLE errors (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        worker TEXT NOT NULL,
        message TEXT NOT NULL
    );
    CREATE TABLE trader_state (
        wallet TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        cutoff_signature TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        paused_reason TEXT NOT NULL DEFAULT '',
        trades_copied INTEGER NOT NULL DEFAULT 0,
        last_trade_at REAL,
        realized_pnl_lamports INTEGER NOT NULL DEFAULT 0,
        updated_at REAL NOT NULL
    );
    CREATE TABLE daily (
        day TEXT PRIMARY KEY,
        spent_lamports INTEGER NOT NULL DEFAULT 0,
        realized_pnl_lamports INTEGER NOT NULL DEFAULT 0
    );
    """,
]

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


class StoreError(Exception):
    """A write failed (disk full, database locked, corrupt); the message is one line."""


def utc_day(at: float | None = None) -> str:
    return datetime.fromtimestamp(at if at is not None else time.time(), tz=UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True, slots=True)
class Fill:
    """How one executed trade changed a position."""

    mint: str
    amount: int
    cost_lamports: int
    realized_delta_lamports: int
    realized_pnl_lamports: int


def connect(path: Path | str, *, readonly: bool = False, timeout: float = 5.0) -> sqlite3.Connection:
    if readonly:
        uri = f"file:{path}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=False)
    else:
        conn = sqlite3.connect(str(path), timeout=timeout, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
    conn.row_factory = sqlite3.Row
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return conn.execute("PRAGMA user_version").fetchone()[0]


class Store:
    """The single writer's view of the database. Every write is one transaction."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path) if str(path) != ":memory:" else path
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = connect(path)
            migrate(self.conn)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open database: {exc}") from None

    @classmethod
    def reader(cls, path: Path | str) -> "Store":
        """A read-only view on its own connection, for a worker's hot-path reads (WAL lets it read while the
        data worker writes). Only the read methods may be used on it."""
        store = cls.__new__(cls)
        store.path = Path(path)
        try:
            store.conn = connect(path, readonly=True)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open database for reading: {exc}") from None
        return store

    def close(self) -> None:
        self.conn.close()

    def _write(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        try:
            return self.conn.execute(sql, tuple(params))
        except sqlite3.Error as exc:
            raise StoreError(f"database write failed: {exc}") from None

    def _tx(self) -> "_Transaction":
        return _Transaction(self.conn)

    # -- intents -----------------------------------------------------------------------------
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
    ) -> tuple[int, bool]:
        """Persist a copy intent before anything is sent. Returns (id, created); created is False for a repeat."""
        now = time.time()
        with self._tx():
            cursor = self._write(
                "INSERT OR IGNORE INTO intents (leader_signature, trader, wallet, side, mint, status, amount_in,"
                " leader_token_amount, leader_quote_amount, token_decimals, detected_at, queued_at, created_at,"
                " updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
        marks = ",".join("?" * len(IN_FLIGHT_STATUSES))
        rows = self.conn.execute(
            f"SELECT * FROM intents WHERE status IN ({marks}) ORDER BY id", IN_FLIGHT_STATUSES
        ).fetchall()
        return [dict(row) for row in rows]

    def intents(self, *, limit: int = 500, trader: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM intents"
        params: tuple[Any, ...] = ()
        if trader:
            sql += " WHERE trader=?"
            params = (trader,)
        rows = self.conn.execute(sql + " ORDER BY id DESC LIMIT ?", (*params, limit)).fetchall()
        return [dict(row) for row in rows]

    def bought_before(self, trader: str, mint: str) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM intents WHERE trader=? AND mint=? AND side='buy' AND status IN"
            " ('pending','queued','sent','executed') LIMIT 1",
            (trader, mint),
        ).fetchone()
        return row is not None

    # -- attempts --------------------------------------------------------------------------
    def record_attempt(self, intent_id: int, signature: str, *, sent_at: float | None = None) -> None:
        with self._tx():
            self._write(
                "INSERT OR IGNORE INTO trades (intent_id, signature, status, sent_at) VALUES (?,?,?,?)",
                (intent_id, signature, "sent", sent_at or time.time()),
            )

    def finish_attempt(
        self,
        signature: str,
        *,
        status: str,
        err: str = "",
        token_amount: int = 0,
        quote_amount: int = 0,
        fee_lamports: int = 0,
        confirmed_at: float | None = None,
    ) -> None:
        with self._tx():
            self._write(
                "UPDATE trades SET status=?, err=?, token_amount=?, quote_amount=?, fee_lamports=?, confirmed_at=?"
                " WHERE signature=?",
                (
                    status,
                    err,
                    token_amount,
                    quote_amount,
                    fee_lamports,
                    confirmed_at or time.time(),
                    signature,
                ),
            )

    def attempts(self, intent_id: int) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT * FROM trades WHERE intent_id=? ORDER BY id", (intent_id,)
        ).fetchall()
        return [dict(row) for row in rows]

    # -- positions -------------------------------------------------------------------------
    def apply_fill(
        self,
        *,
        mint: str,
        side: str,
        token_amount: int,
        quote_amount: int,
        decimals: int | None = None,
        at: float | None = None,
    ) -> Fill:
        """Update a position by average cost. A sell realises PnL against the average cost of what it sold."""
        now = at or time.time()
        with self._tx():
            return self._fill_in_tx(mint, side, token_amount, quote_amount, decimals, now)

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
    ) -> int:
        with self._tx():
            cursor = self._write(
                "INSERT INTO skips (leader_signature, trader, side, mint, reason, detected_at, at)"
                " VALUES (?,?,?,?,?,?,?)",
                (leader_signature, trader, side, mint, reason, detected_at, at or time.time()),
            )
            return int(cursor.lastrowid)

    def skips(self, limit: int = 500) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT * FROM skips ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [dict(row) for row in rows]

    def record_error(self, worker: str, message: str, at: float | None = None) -> None:
        with self._tx():
            self._write(
                "INSERT INTO errors (at, worker, message) VALUES (?,?,?)",
                (at or time.time(), worker, message[:2000]),
            )

    def errors(self, limit: int = 200) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT * FROM errors ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [dict(row) for row in rows]

    # -- trader runtime state ------------------------------------------------------------------
    def trader_state(self, wallet: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM trader_state WHERE wallet=?", (wallet,)).fetchone()
        return dict(row) if row else None

    def all_trader_state(self) -> dict[str, dict[str, Any]]:
        return {
            row["wallet"]: dict(row) for row in self.conn.execute("SELECT * FROM trader_state").fetchall()
        }

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
        columns = ["wallet", "name", *fields.keys(), "updated_at"]
        values = [wallet, name, *fields.values(), now]
        updates = ", ".join(f"{key}=excluded.{key}" for key in ["name", *fields.keys(), "updated_at"])
        with self._tx():
            self._write(
                f"INSERT INTO trader_state ({', '.join(columns)}) VALUES ({','.join('?' * len(values))})"
                f" ON CONFLICT(wallet) DO UPDATE SET {updates}",
                values,
            )

    def set_cutoffs(self, cutoffs: dict[str, tuple[str, str]]) -> None:
        """wallet → (name, cutoff signature), in one transaction (polling advances many at once)."""
        now = time.time()
        with self._tx():
            for wallet, (name, signature) in cutoffs.items():
                self._write(
                    "INSERT INTO trader_state (wallet, name, cutoff_signature, updated_at) VALUES (?,?,?,?)"
                    " ON CONFLICT(wallet) DO UPDATE SET cutoff_signature=excluded.cutoff_signature,"
                    " updated_at=excluded.updated_at",
                    (wallet, name, signature, now),
                )

    # -- decisions for `zapbot trades` -----------------------------------------------------
    def decisions(self, limit: int = 200) -> list[dict[str, Any]]:
        return decisions(self.conn, limit)

    # -- the executor's atomic steps (appended by the executor; each is one transaction) -------------
    def policy_inputs(
        self,
        *,
        trader: str,
        mint: str,
        wallet: str,
        leader_signature: str | None = None,
        day: str | None = None,
    ) -> dict[str, Any]:
        """Everything the copy policy reads from the database, in one consistent read."""
        exists = (
            leader_signature is not None and self.find_intent(leader_signature, trader, wallet) is not None
        )
        marks = ",".join("?" * len(IN_FLIGHT_STATUSES))
        daily = self.daily(day)
        buys = self.conn.execute(
            f"SELECT COALESCE(SUM(amount_in),0) AS lamports, COUNT(*) AS n FROM intents WHERE wallet=?"
            f" AND side='buy' AND status IN ({marks})",
            (wallet, *IN_FLIGHT_STATUSES),
        ).fetchone()
        new_mints = self.conn.execute(
            f"SELECT COUNT(DISTINCT mint) FROM intents WHERE wallet=? AND side='buy' AND status IN ({marks})"
            " AND mint NOT IN (SELECT mint FROM positions WHERE amount > 0)",
            (wallet, *IN_FLIGHT_STATUSES),
        ).fetchone()[0]
        open_positions = self.conn.execute("SELECT COUNT(*) FROM positions WHERE amount > 0").fetchone()[0]
        position = self.position(mint)
        selling = self.conn.execute(
            f"SELECT COALESCE(SUM(amount_in),0) FROM intents WHERE wallet=? AND side='sell' AND mint=?"
            f" AND status IN ({marks})",
            (wallet, mint, *IN_FLIGHT_STATUSES),
        ).fetchone()[0]
        return {
            "spent_today_lamports": daily["spent_lamports"],
            "realized_pnl_today_lamports": daily["realized_pnl_lamports"],
            "in_flight_buy_lamports": int(buys["lamports"]),
            "in_flight_buys": int(buys["n"]),
            "open_positions": int(open_positions) + int(new_mints),
            "position_amount": int(position["amount"]) if position else 0,
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
                "INSERT OR IGNORE INTO trades (intent_id, signature, status, sent_at) VALUES (?,?,?,?)",
                (intent_id, signature, "sent", now),
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
        Returns {"intent", "position", "realized_delta_lamports", "applied"}.
        """
        now = confirmed_at or time.time()
        with self._tx():
            intent = self.conn.execute("SELECT * FROM intents WHERE id=?", (intent_id,)).fetchone()
            if intent is None:
                raise KeyError(intent_id)
            if intent["status"] == "executed":
                return {
                    "intent": dict(intent),
                    "position": self.position(intent["mint"]),
                    "realized_delta_lamports": 0,
                    "applied": False,
                }
            mint, side = intent["mint"], intent["side"]
            fill = self._fill_in_tx(mint, side, token_amount, quote_amount, decimals, now, fee_lamports)
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
            "position": self.position(mint),
            "realized_delta_lamports": fill.realized_delta_lamports,
            "applied": True,
        }

    def close_attempt(self, signature: str, *, status: str, err: str = "", fee_lamports: int = 0) -> None:
        """An attempt ended without a fill (failed on chain, or expired before landing)."""
        with self._tx():
            self._write(
                "UPDATE trades SET status=?, err=?, fee_lamports=?, confirmed_at=? WHERE signature=?",
                (status, err[:500], fee_lamports, time.time(), signature),
            )

    def fail_intent(self, intent_id: int, *, reason: str, fee_lamports: int = 0) -> dict[str, Any]:
        """The trade will not happen; an intent already executed is left alone."""
        now = time.time()
        with self._tx():
            self._write(
                "UPDATE intents SET status='failed', reason=?, fee_lamports=fee_lamports+?, confirmed_at=?,"
                " updated_at=? WHERE id=? AND status!='executed'",
                (reason[:500], fee_lamports, now, now, intent_id),
            )
        return self.get_intent(intent_id)


class _Transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> "_Transaction":
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"database write failed: {exc}") from None
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as commit_exc:
                # SQLite may already have rolled back (disk full): a second ROLLBACK then raises
                # "no transaction is active", which must not replace the real error.
                try:
                    self.conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                raise StoreError(f"database write failed: {commit_exc}") from None
        else:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass


DECISION_KEYS = (
    "leader_signature",
    "trader",
    "side",
    "mint",
    "status",
    "reason",
    "signature",
    "token_amount",
    "quote_amount",
    "detected_at",
    "queued_at",
    "sent_at",
    "confirmed_at",
)


def decisions(conn: sqlite3.Connection, limit: int = 200) -> list[dict[str, Any]]:
    """Copy decisions (intents and skips), newest first, in the shape `zapbot trades --json` prints."""
    rows = conn.execute(
        """
        SELECT leader_signature, trader, side, mint,
               CASE WHEN status='pending' THEN 'queued' ELSE status END AS status,
               reason, signature, token_amount, quote_amount,
               detected_at, queued_at, sent_at, confirmed_at, created_at AS sort_at
          FROM intents
        UNION ALL
        SELECT leader_signature, trader, side, mint, 'skipped', reason, NULL, 0, 0,
               detected_at, NULL, NULL, NULL, at
          FROM skips
        ORDER BY sort_at DESC LIMIT ?
        """,
        (limit,),
    ).fetchall()
    return [{key: row[key] for key in DECISION_KEYS} for row in rows]
