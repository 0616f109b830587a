"""The token_meta table: each mint's symbol, name and decimals as its metadata gave them, per chain."""

from __future__ import annotations

import time
from typing import Any

from engine.store.base import StoreBase


class TokenMetaStore(StoreBase):
    """Token names of the current chain (`self.chain`); written once per mint by the cache worker."""

    def put_token_meta(
        self, mint: str, *, symbol: str, name: str, decimals: int | None, source: str
    ) -> dict[str, Any]:
        """Remember what a mint's metadata says (a later answer replaces an earlier one)."""
        with self._tx():
            self._write(
                "INSERT INTO token_meta (chain, mint, symbol, name, decimals, source, fetched_at)"
                " VALUES (?,?,?,?,?,?,?) ON CONFLICT(chain, mint) DO UPDATE SET symbol=excluded.symbol,"
                " name=excluded.name, decimals=COALESCE(excluded.decimals, token_meta.decimals),"
                " source=excluded.source, fetched_at=excluded.fetched_at",
                (self.chain, mint, symbol, name, decimals, source, time.time()),
            )
        return self.token_meta(mint) or {}

    def token_meta(self, mint: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT * FROM token_meta WHERE chain=? AND mint=?", (self.chain, mint)
        ).fetchone()
        return dict(row) if row else None

    def all_token_meta(self) -> list[dict[str, Any]]:
        """Every mint of the current chain whose metadata was read (those with none included)."""
        return [
            dict(row)
            for row in self.conn.execute(
                "SELECT * FROM token_meta WHERE chain=? ORDER BY mint", (self.chain,)
            )
        ]

    def symbols(self) -> dict[str, str]:
        """mint → symbol of the current chain, for tools that read the file (`zapbot trades`)."""
        return {
            row["mint"]: row["symbol"]
            for row in self.conn.execute(
                "SELECT mint, symbol FROM token_meta WHERE chain=? AND symbol != ''", (self.chain,)
            )
        }


def token_names(conn: Any) -> dict[str, tuple[str, int | None]]:
    """mint → (symbol, decimals) over every chain of a database, for tools that read the file (`zapbot
    trades`); a mint known on several chains keeps a symbol it has on one of them."""
    names: dict[str, tuple[str, int | None]] = {}
    for row in conn.execute("SELECT mint, symbol, decimals FROM token_meta ORDER BY symbol = ''"):
        names.setdefault(row["mint"], (row["symbol"], row["decimals"]))
    return names
