"""Copy decisions (intents and skips): whether a leader swap is decided already, and the reads of `zapbot trades`."""

from __future__ import annotations

import sqlite3
from typing import Any

DECISION_KEYS = (
    "leader_signature",
    "trader",
    "side",
    "mint",
    "status",
    "reason",
    "trigger",
    "detail",
    "signature",
    "token_amount",
    "quote_amount",
    "detected_at",
    "queued_at",
    "sent_at",
    "confirmed_at",
    "chain",
    "wallet",
)


def already_decided(
    conn: sqlite3.Connection, leader_signature: str, trader: str, chain: str, wallet: str | None
) -> bool:
    """Whether this leader swap has its record for this trader in these books already: an intent, or a skip
    other than a "duplicate" refusal. The key is the intents' (leader signature, trader, our wallet), so a
    swap fetched again after a restart is never decided (nor skipped) twice."""
    scope, params = " AND chain=?", (chain,)
    if wallet is not None:
        scope, params = scope + " AND wallet=?", (chain, wallet)
    row = conn.execute(
        f"SELECT 1 FROM intents WHERE leader_signature=? AND trader=?{scope}"
        f" UNION ALL SELECT 1 FROM skips WHERE leader_signature=? AND trader=? AND reason!='duplicate'{scope}"
        " LIMIT 1",
        (leader_signature, trader, *params, leader_signature, trader, *params),
    ).fetchone()
    return row is not None


def current_books(conn: sqlite3.Connection) -> dict[str, str] | None:
    """The chain and wallet the engine last ran on ({chain, wallet, label}); None before any run."""
    try:
        row = conn.execute("SELECT chain, wallet, label FROM books WHERE id=1").fetchone()
    except sqlite3.OperationalError:
        return None  # a database from before books were kept per chain
    return dict(row) if row else None


def decisions(
    conn: sqlite3.Connection, limit: int = 200, *, chain: str | None = None, wallet: str | None = None
) -> list[dict[str, Any]]:
    """Copy decisions (intents and skips), newest first, in the shape `zapbot trades --json` prints; of one
    chain and wallet when given, else of every chain (each row says which)."""
    where, params = "", ()
    if chain is not None:
        where, params = " WHERE chain=?", (chain,)
        if wallet is not None:
            where, params = where + " AND wallet=?", (chain, wallet)
    rows = conn.execute(
        f"""
        SELECT leader_signature, trader, side, mint,
               CASE WHEN status='pending' THEN 'queued' ELSE status END AS status,
               reason, trigger, '' AS detail, signature, token_amount, quote_amount,
               detected_at, queued_at, sent_at, confirmed_at, chain, wallet, created_at AS sort_at
          FROM intents{where}
        UNION ALL
        SELECT leader_signature, trader, side, mint, 'skipped', reason, 'leader', detail, NULL, 0, 0,
               detected_at, NULL, NULL, NULL, chain, wallet, at
          FROM skips{where}
        ORDER BY sort_at DESC LIMIT ?
        """,
        (*params, *params, limit),
    ).fetchall()
    return [{key: row[key] for key in DECISION_KEYS} for row in rows]


# -- additive reads (CSV export, Telegram reports) ---------------------------------------------------------
def token_decimals(conn: sqlite3.Connection) -> dict[str, int]:
    """Decimals per mint as far as the database knows them (filled intents, then positions)."""
    known: dict[str, int] = {}
    for row in conn.execute(
        "SELECT mint, token_decimals AS decimals FROM intents WHERE token_decimals IS NOT NULL "
        "UNION ALL SELECT mint, decimals FROM positions WHERE decimals IS NOT NULL"
    ):
        known.setdefault(row["mint"], int(row["decimals"]))
    return known
