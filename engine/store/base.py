"""What every part of the Store shares: the connection, one-line write errors and the write transaction."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from engine.store.schema import connect, migrate


class StoreError(Exception):
    """A write failed (disk full, database locked, corrupt); the message is one line."""


def utc_day(at: float | None = None) -> str:
    return datetime.fromtimestamp(at if at is not None else time.time(), tz=UTC).strftime("%Y-%m-%d")


UNKNOWN_CHAIN = "unknown"  # rows whose chain cannot be known (from before books were kept per chain)


class StoreBase:
    """The connection and its write helpers; the table groups of the Store build on it.

    Books are kept per chain and operator wallet: `chain` (the genesis hash) stamps every money row written,
    and reads see only rows of `chain` and, when `wallet` is set, of that wallet. The data worker sets both
    with `use_books` once it knows the chain; a Store opened by a tool or a test keeps 'unknown' and every
    wallet."""

    path: Path | str
    conn: sqlite3.Connection
    chain: str = UNKNOWN_CHAIN
    wallet: str | None = None

    def use_books(self, chain: str, wallet: str, *, label: str = "", remember: bool = True) -> None:
        """Read and write the books of this chain and wallet from now on; `remember` records them as the
        ones the engine runs on (what `zapbot trades` shows)."""
        self.chain, self.wallet = chain, wallet
        if remember:
            with self._tx():
                self._write(
                    "INSERT INTO books (id, chain, wallet, label, at) VALUES (1,?,?,?,?) ON CONFLICT(id) DO UPDATE"
                    " SET chain=excluded.chain, wallet=excluded.wallet, label=excluded.label, at=excluded.at",
                    (chain, wallet, label, time.time()),
                )

    def _scope(self, prefix: str = "") -> tuple[str, tuple[Any, ...]]:
        """' AND chain=? [AND wallet=?]' and its parameters: the rows of the current books."""
        if self.wallet is None:
            return f" AND {prefix}chain=?", (self.chain,)
        return f" AND {prefix}chain=? AND {prefix}wallet=?", (self.chain, self.wallet)

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
    def reader(cls, path: Path | str) -> Self:
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

    def _tx(self) -> _Transaction:
        return _Transaction(self.conn)


class _Transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> _Transaction:
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
