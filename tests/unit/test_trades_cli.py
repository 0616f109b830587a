"""`zapbot trades`: JSON, table and CSV from the mode's database, read only; a friendly line with no database."""

from __future__ import annotations

import csv
import json

from engine.paths import home_paths
from engine.store import DECISION_KEYS, Store
from zapbot_tui.commands.trades import main

SIG_A = "A" * 87
SIG_B = "B" * 87


def seed(db_path) -> None:
    store = Store(db_path)
    try:
        intent_id, _ = store.record_intent(
            leader_signature=SIG_A,
            trader="alice",
            wallet="W",
            side="buy",
            mint="M" * 44,
            amount_in=100_000_000,
            detected_at=1000.0,
            status="queued",
        )
        store.update_intent(intent_id, queued_at=1000.1)
        store.mark_sent(
            intent_id,
            signature="S" * 88,
            signed_tx=b"x",
            last_valid_block_height=9,
            attempts=1,
            sent_at=1000.2,
        )
        store.settle_intent(
            intent_id,
            token_amount=5_000,
            quote_amount=100_000_000,
            fee_lamports=5_000,
            signature="S" * 88,
            confirmed_at=1000.5,
        )
        store.record_skip(
            leader_signature=SIG_B,
            trader="bob",
            side="buy",
            mint="N" * 44,
            reason="blacklisted",
            detected_at=2000.0,
        )
    finally:
        store.close()


def test_no_database_is_a_friendly_line(zapbot_home, capsys):
    assert main([]) == 0
    assert "No copy decisions yet in sim mode" in capsys.readouterr().out
    assert main(["--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_json_newest_first_in_the_store_shape(zapbot_home, capsys):
    seed(home_paths().sim_db)
    assert main(["--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["leader_signature"] for r in rows] == [SIG_B, SIG_A]
    # the store's shape (raw base units), then the symbol and the human amounts beside them
    assert all(tuple(r) == (*DECISION_KEYS, "symbol", "tokens", "sol") for r in rows)
    skip, trade = rows
    assert skip["status"] == "skipped" and skip["reason"] == "blacklisted"
    assert trade["status"] == "executed" and trade["signature"] == "S" * 88
    assert trade["token_amount"] == 5_000 and trade["quote_amount"] == 100_000_000
    assert (trade["detected_at"], trade["queued_at"], trade["sent_at"], trade["confirmed_at"]) == (
        1000.0,
        1000.1,
        1000.2,
        1000.5,
    )
    assert main(["--json", "--limit", "1"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1


def test_table_and_csv(zapbot_home, tmp_path, capsys):
    seed(home_paths().sim_db)
    assert main([]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:6] == ["detected", "trader", "side", "token", "mint", "status"]
    assert "skipped" in out[1] and "blacklisted" in out[1]
    assert "executed" in out[2] and "0.1000" in out[2] and "500" in out[2]  # 500 ms detected → confirmed
    target = tmp_path / "out.csv"
    assert main(["--csv", str(target)]) == 0
    with target.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["status"] for r in rows] == ["skipped", "executed"]


def test_paper_mode_reads_its_own_database(zapbot_home, monkeypatch, capsys):
    seed(home_paths().sim_db)
    monkeypatch.setenv("ZAPBOT_MODE", "paper")
    assert main(["--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_bad_limit_is_one_line(zapbot_home, capsys):
    try:
        main(["--limit", "0"])
    except SystemExit as exit_:
        assert exit_.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--limit" in err


def test_only_the_current_chain_and_wallet_unless_all(zapbot_home, capsys):
    path = home_paths().sim_db
    seed(path)  # rows of chain 'unknown' (from before books were kept per chain)
    store = Store(path)
    try:
        store.use_books("GenesisOfChainTwo1111111111111111111111111", "W", label="embedded")
        store.record_skip(
            leader_signature="C" * 87, trader="carol", side="buy", mint="P" * 44, reason="paused"
        )
    finally:
        store.close()
    assert main(["--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["leader_signature"] for r in rows] == ["C" * 87]
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "carol" in out and "alice" not in out and "on chain embedded" in out
    assert main(["--all"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[0] == "chain"
    assert out[1].startswith("embedded") and any(line.startswith("unknown") for line in out[2:])
    assert main(["--all", "--json"]) == 0
    chains = [r["chain"] for r in json.loads(capsys.readouterr().out)]
    assert chains == ["GenesisOfChainTwo1111111111111111111111111", "unknown", "unknown"]


def test_the_table_shows_token_amounts_with_their_decimals(zapbot_home, capsys):
    store = Store(home_paths().sim_db)
    try:
        intent_id, _ = store.record_intent(
            leader_signature="D" * 87,
            trader="dave",
            wallet="W",
            side="buy",
            mint="Q" * 44,
            amount_in=SOL_TENTH,
            token_decimals=6,
            status="queued",
        )
        store.settle_intent(intent_id, token_amount=1_234_567_890, quote_amount=SOL_TENTH)
    finally:
        store.close()
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "1,234.56789" in out and "1234567890" not in out
    assert main(["--json"]) == 0  # --json keeps the raw base units, the human amount beside them
    row = json.loads(capsys.readouterr().out)[0]
    assert row["token_amount"] == 1_234_567_890 and row["tokens"] == "1234.567890"


def test_symbols_from_the_token_metadata_in_the_table_csv_and_json(zapbot_home, tmp_path, capsys):
    path = home_paths().sim_db
    store = Store(path)
    try:
        store.use_books("GenesisOfChainTwo1111111111111111111111111", "W", label="embedded")
        intent_id, _ = store.record_intent(
            leader_signature="E" * 87,
            trader="erin",
            wallet="W",
            side="buy",
            mint="R" * 44,
            amount_in=SOL_TENTH,
            status="queued",
        )
        store.settle_intent(intent_id, token_amount=2_500_000_000, quote_amount=SOL_TENTH)  # no decimals
        store.put_token_meta("R" * 44, symbol="ZAP", name="Zap Token", decimals=6, source="metaplex")
    finally:
        store.close()
    assert main([]) == 0
    header, line = capsys.readouterr().out.splitlines()[:2]
    cells = line.split()
    assert header.split()[3] == "token" and cells[cells.index("ZAP") + 1] == "RRRRRRRR…"  # symbol, then mint
    assert "2,500" in line and "2500000000" not in line  # decimals from the metadata
    target = tmp_path / "named.csv"
    assert main(["--csv", str(target)]) == 0
    capsys.readouterr()
    with target.open() as handle:
        (row,) = list(csv.DictReader(handle))
    assert (row["symbol"], row["tokens"], row["token_units"], row["token_decimals"]) == (
        "ZAP",
        "2500.000000",
        "2500000000",
        "6",
    )
    assert main(["--json"]) == 0
    (decision,) = json.loads(capsys.readouterr().out)
    assert (decision["symbol"], decision["tokens"], decision["token_amount"]) == (
        "ZAP",
        "2500.000000",
        2_500_000_000,
    )


SOL_TENTH = 100_000_000
