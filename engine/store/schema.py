"""The database schema (one migration per user_version) and how a connection to it is opened."""

from __future__ import annotations

import sqlite3
from pathlib import Path

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
    # 2: exits are intents with a trigger (leader copies 'leader', manual sells 'manual', exit rules theirs);
    # a take profit remembers its level; a skip keeps its detail; each lot's exit state (its peak value).
    """
    ALTER TABLE intents ADD COLUMN trigger TEXT NOT NULL DEFAULT 'leader';
    UPDATE intents SET trigger = 'manual' WHERE trader = 'manual';
    ALTER TABLE intents ADD COLUMN exit_level INTEGER;
    ALTER TABLE skips ADD COLUMN detail TEXT NOT NULL DEFAULT '';
    CREATE TABLE lot_exits (
        lot_id INTEGER PRIMARY KEY,
        peak_lamports INTEGER,
        value_lamports INTEGER,
        valued_at REAL,
        updated_at REAL NOT NULL
    );
    """,
    # 3: lots. Each copy belongs to its leader: a lot per (chain, operator wallet, leader, mint), at most one
    # open at a time; a sold-out lot is closed and kept (win rate), the next buy opens a new one. Positions
    # become the sum of the lots. Intents say which chain, leader and lot they belong to. Positions held
    # before lots become one lot each with no leader, on chain 'unknown' (their chain cannot be known).
    # lot_exits is keyed by the lot (its rows were keyed by position, and are dropped).
    """
    CREATE TABLE lots (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        chain TEXT NOT NULL,
        wallet TEXT NOT NULL,
        leader TEXT NOT NULL,
        trader TEXT NOT NULL,
        mint TEXT NOT NULL,
        amount INTEGER NOT NULL DEFAULT 0,
        bought_amount INTEGER NOT NULL DEFAULT 0,
        cost_lamports INTEGER NOT NULL DEFAULT 0,
        spent_lamports INTEGER NOT NULL DEFAULT 0,
        proceeds_lamports INTEGER NOT NULL DEFAULT 0,
        fees_lamports INTEGER NOT NULL DEFAULT 0,
        realized_pnl_lamports INTEGER NOT NULL DEFAULT 0,
        decimals INTEGER,
        buys INTEGER NOT NULL DEFAULT 0,
        sells INTEGER NOT NULL DEFAULT 0,
        opened_at REAL NOT NULL,
        closed_at REAL,
        updated_at REAL NOT NULL
    );
    CREATE UNIQUE INDEX lots_open ON lots(chain, wallet, leader, mint) WHERE closed_at IS NULL;
    CREATE INDEX lots_mint ON lots(chain, wallet, mint);
    CREATE TABLE lot_moves (
        id INTEGER PRIMARY KEY,
        lot_id INTEGER NOT NULL REFERENCES lots(id),
        intent_id INTEGER REFERENCES intents(id),
        kind TEXT NOT NULL,
        token_amount INTEGER NOT NULL DEFAULT 0,
        quote_amount INTEGER NOT NULL DEFAULT 0,
        fee_lamports INTEGER NOT NULL DEFAULT 0,
        cost_lamports INTEGER NOT NULL DEFAULT 0,
        realized_pnl_lamports INTEGER NOT NULL DEFAULT 0,
        reason TEXT NOT NULL DEFAULT '',
        at REAL NOT NULL
    );
    CREATE INDEX lot_moves_lot ON lot_moves(lot_id);
    CREATE INDEX lot_moves_intent ON lot_moves(intent_id);
    ALTER TABLE intents ADD COLUMN chain TEXT NOT NULL DEFAULT 'unknown';
    ALTER TABLE intents ADD COLUMN leader TEXT NOT NULL DEFAULT '';
    ALTER TABLE intents ADD COLUMN lot_id INTEGER;
    INSERT INTO lots (chain, wallet, leader, trader, mint, amount, bought_amount, cost_lamports, spent_lamports,
        realized_pnl_lamports, decimals, opened_at, closed_at, updated_at)
        SELECT 'unknown', COALESCE((SELECT wallet FROM intents WHERE intents.mint = positions.mint
            ORDER BY id DESC LIMIT 1), ''), '', '(before lots)', mint, amount, amount, cost_lamports,
            cost_lamports, realized_pnl_lamports, decimals, COALESCE(opened_at, updated_at),
            CASE WHEN amount > 0 THEN NULL ELSE updated_at END, updated_at
        FROM positions;
    DROP TABLE positions;
    CREATE VIEW positions AS
        SELECT chain, wallet, mint, SUM(amount) AS amount, SUM(cost_lamports) AS cost_lamports,
            SUM(realized_pnl_lamports) AS realized_pnl_lamports, SUM(fees_lamports) AS fees_lamports,
            MAX(decimals) AS decimals, MIN(CASE WHEN closed_at IS NULL THEN opened_at END) AS opened_at,
            MAX(updated_at) AS updated_at, SUM(CASE WHEN closed_at IS NULL THEN 1 ELSE 0 END) AS open_lots
        FROM lots GROUP BY chain, wallet, mint;
    DROP TABLE lot_exits;
    CREATE TABLE lot_exits (
        lot_id INTEGER PRIMARY KEY REFERENCES lots(id),
        peak_lamports INTEGER,
        value_lamports INTEGER,
        valued_at REAL,
        updated_at REAL NOT NULL
    );
    """,
    # 4: books per chain and wallet. Every row that holds money state says which chain (genesis hash) and
    # which operator wallet it belongs to: trades, skips, the daily totals and the traders' runtime state
    # join intents and lots. Rows from before, whose chain cannot be known, are marked 'unknown', which no
    # engine runs on, so they are left out of every limit. `books` remembers the chain and wallet the engine
    # last ran on, so `zapbot trades` shows those without asking the chain.
    """
    ALTER TABLE trades ADD COLUMN chain TEXT NOT NULL DEFAULT 'unknown';
    ALTER TABLE trades ADD COLUMN wallet TEXT NOT NULL DEFAULT '';
    UPDATE trades SET wallet = COALESCE((SELECT wallet FROM intents WHERE intents.id = trades.intent_id), '');
    ALTER TABLE skips ADD COLUMN chain TEXT NOT NULL DEFAULT 'unknown';
    ALTER TABLE skips ADD COLUMN wallet TEXT NOT NULL DEFAULT '';
    CREATE INDEX skips_books ON skips(chain, wallet, at);
    CREATE INDEX intents_books ON intents(chain, wallet, status);
    CREATE TABLE daily_books (
        chain TEXT NOT NULL,
        wallet TEXT NOT NULL,
        day TEXT NOT NULL,
        spent_lamports INTEGER NOT NULL DEFAULT 0,
        realized_pnl_lamports INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (chain, wallet, day)
    );
    INSERT INTO daily_books SELECT 'unknown', '', day, spent_lamports, realized_pnl_lamports FROM daily;
    DROP TABLE daily;
    ALTER TABLE daily_books RENAME TO daily;
    CREATE TABLE trader_books (
        chain TEXT NOT NULL,
        our_wallet TEXT NOT NULL,
        wallet TEXT NOT NULL,
        name TEXT NOT NULL,
        cutoff_signature TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        paused_reason TEXT NOT NULL DEFAULT '',
        trades_copied INTEGER NOT NULL DEFAULT 0,
        last_trade_at REAL,
        realized_pnl_lamports INTEGER NOT NULL DEFAULT 0,
        updated_at REAL NOT NULL,
        PRIMARY KEY (chain, our_wallet, wallet)
    );
    INSERT INTO trader_books SELECT 'unknown', '', wallet, name, cutoff_signature, consecutive_failures,
        paused_reason, trades_copied, last_trade_at, realized_pnl_lamports, updated_at FROM trader_state;
    DROP TABLE trader_state;
    ALTER TABLE trader_books RENAME TO trader_state;
    CREATE TABLE books (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        chain TEXT NOT NULL,
        wallet TEXT NOT NULL,
        label TEXT NOT NULL DEFAULT '',
        at REAL NOT NULL
    );
    """,
    # 5: a leader swap's skips are looked up by its signature (is it decided already?) at every decision.
    """
    CREATE INDEX IF NOT EXISTS skips_leader ON skips(leader_signature, trader);
    """,
    # 6: an intent keeps its leader's time, the block time (else estimated from the slot) and the slot of the
    # signal, so after a restart its age (limits.max_signal_age_s) and the detection lag are still known.
    """
    ALTER TABLE intents ADD COLUMN signal_at REAL;
    ALTER TABLE intents ADD COLUMN leader_slot INTEGER;
    """,
    # 7: token names. What the cache worker read of each mint's metadata (Metaplex account or Token-2022
    # extension), once per chain and mint; source 'none' remembers a mint that has none (not asked again).
    """
    CREATE TABLE IF NOT EXISTS token_meta (
        chain TEXT NOT NULL,
        mint TEXT NOT NULL,
        symbol TEXT NOT NULL DEFAULT '',
        name TEXT NOT NULL DEFAULT '',
        decimals INTEGER,
        source TEXT NOT NULL DEFAULT 'none',
        fetched_at REAL NOT NULL,
        PRIMARY KEY (chain, mint)
    );
    """,
]


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
