"""`zapbot trades`: copy decisions (trades and skips), newest first, from this mode's database (read only):
those of the chain and wallet the engine last ran on, or with --all those of every chain, each row saying
which."""

from __future__ import annotations

import argparse
import csv
import sqlite3
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from engine.amounts import sol_text
from engine.config import ConfigError, load_settings
from engine.paths import home_paths
from engine.store import connect, decisions
from engine.store.decisions import current_books, token_decimals
from engine.store.token_meta import token_names
from zapbot_tui.commands.parsing import OneLineParser

DEFAULT_LIMIT = 200
NO_LIMIT = -1  # SQLite's LIMIT -1: every row


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("use 1 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="zapbot trades", description="Copy decisions, newest first.")
    parser.add_argument("--json", action="store_true", help="print a JSON array")
    parser.add_argument("--csv", type=Path, metavar="FILE", help="write the decisions to a CSV file")
    parser.add_argument(
        "--limit",
        type=_positive,
        default=None,
        help=f"how many, newest first (default {DEFAULT_LIMIT}; --csv writes every row unless given)",
    )
    parser.add_argument(
        "--all", action="store_true", help="every chain and wallet in the database, with a chain column"
    )
    parser.add_argument(
        "--config", type=Path, help="configuration file (decides the mode and so the database)"
    )
    return parser


def load_books(db_path: Path) -> dict[str, str] | None:
    """The chain and wallet the engine last ran on with this database; None before any run."""
    return _read(db_path, current_books, None)


def load_decisions(db_path: Path, limit: int, books: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Decisions from a read-only connection, of `books` when given; [] when there is no database yet."""
    if books is None:
        return _read(db_path, lambda conn: decisions(conn, limit), [])
    return _read(
        db_path, lambda conn: decisions(conn, limit, chain=books["chain"], wallet=books["wallet"]), []
    )


def chain_name(chain: str | None, books: dict[str, str] | None = None) -> str:
    """A chain as a person reads it: the label the engine gave it when it is the current one, else the start
    of its genesis hash ('unknown' for rows from before books were kept per chain)."""
    if not chain:
        return ""
    if books and chain == books["chain"] and books.get("label"):
        return books["label"]
    return chain if len(chain) <= 9 else chain[:8] + "…"


def load_token_decimals(db_path: Path) -> dict[str, int]:
    """Decimals per mint: from the fills, else from the token's metadata as the cache worker read it."""
    known = _read(db_path, token_decimals, {})
    for mint, (_symbol, decimals) in load_token_names(db_path).items():
        if decimals is not None:
            known.setdefault(mint, decimals)
    return known


def load_token_names(db_path: Path) -> dict[str, tuple[str, int | None]]:
    """mint → (symbol, decimals) from the token_meta table; {} for a database from before it."""
    return _read(db_path, token_names, {})


def load_symbols(db_path: Path) -> dict[str, str]:
    return {mint: symbol for mint, (symbol, _decimals) in load_token_names(db_path).items() if symbol}


def _read(db_path: Path, query: Any, empty: Any) -> Any:
    if not db_path.is_file():
        return empty
    conn = connect(db_path, readonly=True)
    try:
        return query(conn)
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return empty
        raise
    finally:
        conn.close()


def _when(at: float | None) -> str:
    return datetime.fromtimestamp(at).strftime("%m-%d %H:%M:%S") if at else ""


def _short(text: str | None, keep: int = 8) -> str:
    if not text:
        return ""
    return text if len(text) <= keep + 1 else text[:keep] + "…"


def _sol(lamports: int | None) -> str:
    return sol_text(lamports) if lamports else ""


def _latency(row: dict[str, Any]) -> str:
    if row.get("detected_at") and row.get("confirmed_at") and row["status"] == "executed":
        return f"{(row['confirmed_at'] - row['detected_at']) * 1000:.0f}"
    return ""


def _reason(row: dict[str, Any]) -> str:
    reason, detail = row.get("reason") or "", row.get("detail") or ""
    return f"{reason}: {detail}" if detail else reason


def human_tokens(units: int | None, decimals: int | None) -> str:
    """Token units as a person reads them: decimals applied, thousands grouped, trailing zeros dropped; the
    raw units only when the decimals are unknown."""
    if not units:
        return ""
    if decimals is None:
        return f"{units} units"
    text = f"{Decimal(units).scaleb(-decimals):,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def table(
    rows: list[dict[str, Any]],
    *,
    chains: dict[str, str] | None = None,
    decimals: dict[str, int] | None = None,
    symbols: dict[str, str] | None = None,
) -> str:
    """The decisions as aligned columns (the token's symbol, token amounts with their decimals applied); with
    `chains` (the --all view) a chain column first."""
    decimals = decimals or {}
    symbols = symbols or {}
    headers = (
        "detected",
        "trader",
        "side",
        "token",
        "mint",
        "status",
        "trigger",
        "SOL",
        "tokens",
        "ms",
        "ours",
        "leader",
        "reason",
    )
    lines = [
        [
            *([chain_name(row.get("chain"), chains)] if chains is not None else []),
            _when(row.get("detected_at") or row.get("queued_at")),
            _short(row["trader"], 14),
            row["side"],
            symbols.get(row["mint"], ""),
            _short(row["mint"]),
            row["status"],
            row.get("trigger") or "",
            _sol(row.get("quote_amount")),
            human_tokens(row.get("token_amount"), decimals.get(row["mint"])),
            _latency(row),
            _short(row.get("signature")),
            _short(row["leader_signature"]),
            _reason(row),
        ]
        for row in rows
    ]
    if chains is not None:
        headers = ("chain", *headers)
    widths = [
        max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(headers)
    ]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
    return "\n".join(out)


CSV_FIELDS = (
    "detected_at",
    "queued_at",
    "sent_at",
    "confirmed_at",
    "trader",
    "side",
    "trigger",
    "symbol",
    "mint",
    "status",
    "reason",
    "detail",
    "sol",
    "tokens",
    "token_decimals",
    "quote_lamports",
    "token_units",
    "signature",
    "leader_signature",
    "chain",
)


def iso_time(at: float | None) -> str:
    """ISO 8601 in UTC with milliseconds, e.g. 2026-12-02T07:49:00.366Z; '' when unknown."""
    if not at:
        return ""
    return datetime.fromtimestamp(at, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def decimal_amount(units: int | None, decimals: int | None) -> str:
    """Base units as an exact decimal string (9 decimals for lamports → SOL); '' for none."""
    if not units:
        return ""
    if decimals is None:
        return str(units)
    return f"{Decimal(units).scaleb(-decimals):.{decimals}f}"


def csv_row(
    row: dict[str, Any], decimals: dict[str, int], symbols: dict[str, str] | None = None
) -> dict[str, Any]:
    token_decimals = decimals.get(row["mint"])
    return {
        "detected_at": iso_time(row.get("detected_at")),
        "queued_at": iso_time(row.get("queued_at")),
        "sent_at": iso_time(row.get("sent_at")),
        "confirmed_at": iso_time(row.get("confirmed_at")),
        "trader": row["trader"],
        "side": row["side"],
        "trigger": row.get("trigger") or "",
        "symbol": (symbols or {}).get(row["mint"], ""),
        "mint": row["mint"],
        "status": row["status"],
        "reason": row.get("reason") or "",
        "detail": row.get("detail") or "",
        "sol": decimal_amount(row.get("quote_amount"), 9),
        "tokens": decimal_amount(row.get("token_amount"), token_decimals)
        if token_decimals is not None
        else "",
        "token_decimals": "" if token_decimals is None else token_decimals,
        "quote_lamports": row.get("quote_amount") or "",
        "token_units": row.get("token_amount") or "",
        "signature": row.get("signature") or "",
        "leader_signature": row["leader_signature"],
        "chain": row.get("chain") or "",
    }


def write_csv(
    path: Path,
    rows: list[dict[str, Any]],
    decimals: dict[str, int] | None = None,
    symbols: dict[str, str] | None = None,
) -> None:
    """ISO times, the token's symbol, SOL and token amounts as decimals (raw lamports and base units
    alongside)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(CSV_FIELDS))
        writer.writeheader()
        for row in rows:
            writer.writerow(csv_row(row, decimals or {}, symbols))


def json_row(row: dict[str, Any], decimals: dict[str, int], symbols: dict[str, str]) -> dict[str, Any]:
    """A decision as the store has it (raw base units), with the token's symbol and its human amount beside
    them: `tokens` is the exact decimal string of `token_amount` ("" when the decimals are unknown)."""
    token_decimals = decimals.get(row["mint"])
    return {
        **row,
        "symbol": symbols.get(row["mint"], ""),
        "tokens": decimal_amount(row.get("token_amount"), token_decimals)
        if token_decimals is not None
        else "",
        "sol": decimal_amount(row.get("quote_amount"), 9),
    }


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"zapbot trades: {exc}", file=sys.stderr)
        return 2
    db_path = home_paths().db_for_mode(settings.mode)
    if args.limit is not None:
        limit = args.limit
    else:
        limit = NO_LIMIT if args.csv is not None and not args.json else DEFAULT_LIMIT
    try:
        books = load_books(db_path)
        rows = load_decisions(db_path, limit, None if args.all else books)
        decimals = load_token_decimals(db_path)
        symbols = load_symbols(db_path)
    except sqlite3.Error as exc:
        print(f"zapbot trades: cannot read {db_path}: {exc}", file=sys.stderr)
        return 1
    if args.csv is not None:
        try:
            write_csv(args.csv, rows, decimals, symbols)
        except OSError as exc:
            print(f"zapbot trades: cannot write {args.csv}: {exc.strerror}", file=sys.stderr)
            return 1
        if not args.json:
            print(f"{len(rows)} decision(s) written to {args.csv}")
            return 0
    if args.json:
        shown = [json_row(row, decimals, symbols) for row in rows]
        sys.stdout.write(orjson.dumps(shown, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    scope = ""
    if books is not None and not args.all:
        scope = f" on chain {chain_name(books['chain'], books)}, wallet {_short(books['wallet'])}"
    if not rows:
        where = "" if db_path.is_file() else f" (no database yet at {db_path})"
        print(f"No copy decisions yet in {settings.mode} mode{scope}{where}.")
        return 0
    print(table(rows, chains=(books or {}) if args.all else None, decimals=decimals, symbols=symbols))
    if scope:
        print(f"({len(rows)} decision(s){scope}; --all shows every chain and wallet)")
    return 0
