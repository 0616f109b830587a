"""`zapbot trades`: copy decisions (trades and skips), newest first, from this mode's database (read only)."""

from __future__ import annotations

import argparse
import csv
import sqlite3
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from engine.config import ConfigError, load_settings
from engine.paths import home_paths
from engine.store import DECISION_KEYS, connect, decisions
from zapbot_tui.commands.parsing import OneLineParser


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
    parser.add_argument("--limit", type=_positive, default=200, help="how many (default 200)")
    parser.add_argument(
        "--config", type=Path, help="configuration file (decides the mode and so the database)"
    )
    return parser


def load_decisions(db_path: Path, limit: int) -> list[dict[str, Any]]:
    """Decisions from a read-only connection; [] when there is no database yet."""
    if not db_path.is_file():
        return []
    conn = connect(db_path, readonly=True)
    try:
        return decisions(conn, limit)
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
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
    return f"{(lamports or 0) / 1e9:.4f}" if lamports else ""


def _latency(row: dict[str, Any]) -> str:
    if row.get("detected_at") and row.get("confirmed_at") and row["status"] == "executed":
        return f"{(row['confirmed_at'] - row['detected_at']) * 1000:.0f}"
    return ""


def table(rows: list[dict[str, Any]]) -> str:
    headers = (
        "detected",
        "trader",
        "side",
        "mint",
        "status",
        "SOL",
        "tokens",
        "ms",
        "ours",
        "leader",
        "reason",
    )
    lines = [
        [
            _when(row.get("detected_at") or row.get("queued_at")),
            _short(row["trader"], 14),
            row["side"],
            _short(row["mint"]),
            row["status"],
            _sol(row.get("quote_amount")),
            str(row.get("token_amount") or "") if row.get("token_amount") else "",
            _latency(row),
            _short(row.get("signature")),
            _short(row["leader_signature"]),
            row.get("reason") or "",
        ]
        for row in rows
    ]
    widths = [
        max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(headers)
    ]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
    return "\n".join(out)


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(DECISION_KEYS))
        writer.writeheader()
        for row in rows:
            writer.writerow({key: row.get(key) for key in DECISION_KEYS})


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"zapbot trades: {exc}", file=sys.stderr)
        return 2
    db_path = home_paths().db_for_mode(settings.mode)
    try:
        rows = load_decisions(db_path, args.limit)
    except sqlite3.Error as exc:
        print(f"zapbot trades: cannot read {db_path}: {exc}", file=sys.stderr)
        return 1
    if args.csv is not None:
        try:
            write_csv(args.csv, rows)
        except OSError as exc:
            print(f"zapbot trades: cannot write {args.csv}: {exc.strerror}", file=sys.stderr)
            return 1
        if not args.json:
            print(f"{len(rows)} decision(s) written to {args.csv}")
            return 0
    if args.json:
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    if not rows:
        where = "" if db_path.is_file() else f" (no database yet at {db_path})"
        print(f"No copy decisions yet in {settings.mode} mode{where}.")
        return 0
    print(table(rows))
    return 0
