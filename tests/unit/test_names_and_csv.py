"""Trader names match case-insensitively; `zapbot trades --csv` has ISO times, decimal SOL and token
amounts, and every row unless --limit is given."""

from __future__ import annotations

import csv

import pytest

from engine.paths import home_paths
from engine.store import Store
from engine.traders import TraderBook, TraderConfig
from zapbot_tui import cli
from zapbot_tui.commands.trades import decimal_amount, iso_time

WALLET_A = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"
WALLET_B = "2ojv9BAiHUrvsm9gxDe7fJSzbNZSJcxZvf8dqmWGHG8S"


def test_trader_book_lookups_ignore_case(tmp_path):
    book = TraderBook(tmp_path / "traders.toml")
    book.add(TraderConfig(name="Alice", wallet=WALLET_A))
    assert book.get("alice").name == "Alice" and book.get("ALICE").name == "Alice"
    assert book.set_active("aLiCe", False).active is False
    with pytest.raises(ValueError, match="'Alice' already exists"):
        book.add(TraderConfig(name="alice", wallet=WALLET_B))
    assert book.remove("ALICE").name == "Alice" and book.all() == []


def test_exact_spelling_wins_over_a_case_match(tmp_path):
    book = TraderBook(
        None, [TraderConfig(name="bob", wallet=WALLET_A), TraderConfig(name="Bob", wallet=WALLET_B)]
    )
    assert book.get("Bob").wallet == WALLET_B and book.get("bob").wallet == WALLET_A
    assert book.get("BOB") is None  # ambiguous: two traders fold to it


def test_cli_trader_names_are_case_insensitive(zapbot_home, capsys):
    assert cli.main(["traders", "add", "Alice", WALLET_A]) == 0
    assert cli.main(["traders", "stop", "alice"]) == 0
    assert "Alice: copying off" in capsys.readouterr().out
    assert cli.main(["traders", "remove", "ALICE"]) == 0
    assert "removed Alice" in capsys.readouterr().out


def test_amounts_and_times():
    assert decimal_amount(100_000_000, 9) == "0.100000000"
    assert decimal_amount(1_234_567, 6) == "1.234567"
    assert decimal_amount(0, 6) == "" and decimal_amount(5, None) == "5"
    assert iso_time(1000.5) == "1970-01-01T00:16:40.500Z" and iso_time(None) == ""


def seed(db_path, count: int) -> None:
    store = Store(db_path)
    try:
        for n in range(count):
            intent_id, _ = store.record_intent(
                leader_signature=f"L{n:086d}",
                trader="alice",
                wallet="W",
                side="buy",
                mint="M" * 44,
                amount_in=100_000_000,
                detected_at=1000.0 + n,
                status="queued",
            )
            store.settle_intent(
                intent_id,
                token_amount=1_234_567,
                quote_amount=100_000_000,
                fee_lamports=5_000,
                signature=f"S{n:087d}",
                confirmed_at=1000.5 + n,
            )
        store.conn.execute("UPDATE intents SET token_decimals = 6")
    finally:
        store.close()


def test_csv_writes_every_row_with_human_amounts(zapbot_home, tmp_path, capsys):
    seed(home_paths().sim_db, 250)
    target = tmp_path / "all.csv"
    assert cli.main(["trades", "--csv", str(target)]) == 0
    with target.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 250  # more than the table's default of 200
    newest = rows[0]
    assert newest["detected_at"] == iso_time(1249.0) and newest["confirmed_at"].endswith("Z")
    assert newest["sol"] == "0.100000000" and newest["tokens"] == "1.234567"
    assert newest["token_decimals"] == "6" and newest["quote_lamports"] == "100000000"
    assert cli.main(["trades", "--csv", str(target), "--limit", "10"]) == 0
    with target.open() as handle:
        assert len(list(csv.DictReader(handle))) == 10
