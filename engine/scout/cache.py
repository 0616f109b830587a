"""The scout's cache of decoded transactions: its own small SQLite file (ZAPBOT_HOME/scout.db, WAL)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

import orjson

from engine.paths import zapbot_home
from engine.scout.model import ScoutedTransaction, WalletSwap

# Bumped whenever what is stored per transaction changes meaning (decoder output, holdings, creations), so
# an older row is fetched again instead of being trusted.
CACHE_FORMAT = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scout_tx (
    wallet TEXT NOT NULL,
    signature TEXT NOT NULL,
    format INTEGER NOT NULL,
    slot INTEGER,
    block_time INTEGER,
    failed INTEGER NOT NULL,
    fee INTEGER NOT NULL,
    swaps TEXT NOT NULL,
    created_mints TEXT NOT NULL,
    PRIMARY KEY (wallet, signature)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS scout_mint (
    mint TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    slot INTEGER NOT NULL
) WITHOUT ROWID
"""


def default_cache_path() -> Path:
    return zapbot_home() / "scout.db"


class ScoutCache:
    """Decoded transactions per (wallet, signature). One connection, used from one thread at a time."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(self.path), timeout=5.0, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._conn.commit()

    def get_many(self, wallet: str, signatures: Iterable[str]) -> dict[str, ScoutedTransaction]:
        wanted = list(signatures)
        found: dict[str, ScoutedTransaction] = {}
        # SQLite caps bound parameters (999 on old builds): ask in chunks.
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT signature, slot, block_time, failed, fee, swaps, created_mints FROM scout_tx "
                f"WHERE wallet = ? AND format = ? AND signature IN ({marks})",
                [wallet, CACHE_FORMAT, *chunk],
            )
            for signature, slot, block_time, failed, fee, swaps, created in rows:
                found[signature] = ScoutedTransaction(
                    signature,
                    slot,
                    block_time,
                    bool(failed),
                    fee,
                    tuple(WalletSwap(**item) for item in orjson.loads(swaps)),
                    tuple(orjson.loads(created)),
                )
        return found

    def put_many(self, wallet: str, transactions: Iterable[ScoutedTransaction]) -> None:
        rows = [
            (
                wallet,
                tx.signature,
                CACHE_FORMAT,
                tx.slot,
                tx.block_time,
                int(tx.failed),
                tx.fee_lamports,
                orjson.dumps([swap.to_json_dict() for swap in tx.swaps]).decode(),
                orjson.dumps(list(tx.created_mints)).decode(),
            )
            for tx in transactions
        ]
        if not rows:
            return
        with self._conn:
            self._conn.executemany("INSERT OR REPLACE INTO scout_tx VALUES (?,?,?,?,?,?,?,?,?)", rows)

    def get_creations(self, mints: Iterable[str]) -> dict[str, tuple[str, int]]:
        """What is known of each mint's creation: (kind, slot), see engine.scout.creation."""
        wanted = list(mints)
        found: dict[str, tuple[str, int]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for mint, kind, slot in self._conn.execute(
                f"SELECT mint, kind, slot FROM scout_mint WHERE mint IN ({marks})", chunk
            ):
                found[mint] = (kind, slot)
        return found

    def put_creation(self, mint: str, kind: str, slot: int) -> None:
        """An exact creation or the mint's first transaction is final; a bound only ever moves earlier."""
        with self._conn:
            row = self._conn.execute("SELECT kind, slot FROM scout_mint WHERE mint = ?", (mint,)).fetchone()
            if row is not None and row[0] != "bound" and kind == "bound":
                return
            if row is not None and row[0] == "bound" and kind == "bound" and row[1] <= slot:
                return
            self._conn.execute("INSERT OR REPLACE INTO scout_mint VALUES (?,?,?)", (mint, kind, slot))

    def count(self, wallet: str) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM scout_tx WHERE wallet = ?", (wallet,)).fetchone()[0]

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "ScoutCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
