"""`zapbot decode` and `zapbot bench decode` entry points, run in process."""

from __future__ import annotations

import json
from pathlib import Path

from engine.bench.decode import main as bench_main
from engine.decoding.cli import main as decode_main

SWAP_KEYS = {"wallet", "side", "mint", "token_amount", "quote_mint", "quote_amount", "venue", "router"}


def test_decode_prints_one_line_per_file(mainnet: Path, capsys) -> None:
    files = [
        str(mainnet / "pumpfun/ZEu54dZe_buy.json"),
        str(mainnet / "failed/58FymkjJ_jupiter_slippage.json"),
    ]
    assert decode_main(files) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["file"] for line in lines] == files
    buy, failed = lines
    assert buy["signature"].startswith("ZEu54dZe") and buy["slot"] == 290484060 and not buy["failed"]
    (swap,) = buy["swaps"]
    assert set(swap) == SWAP_KEYS and swap["side"] == "buy" and swap["token_amount"] == 34612901212710
    assert isinstance(swap["quote_amount"], int)
    assert failed["failed"] and failed["swaps"] == []


def test_unreadable_file_reports_and_continues(mainnet: Path, tmp_path: Path, capsys) -> None:
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    missing = tmp_path / "missing.json"
    good = str(mainnet / "pumpfun/JBnrBbgq_buy_x3_bundle.json")
    assert (
        decode_main(
            [str(missing), str(garbage), good, "--wallet", "Gh6D6DZcASQLc2XoLpctT74KbRr4nrHF8wNptweckHoA"]
        )
        == 1
    )
    captured = capsys.readouterr()
    err_lines = captured.err.splitlines()
    assert len(err_lines) == 2
    assert err_lines[0].startswith(f"zapbot decode: {missing}: ")
    assert err_lines[1].startswith(f"zapbot decode: {garbage}: ")
    (line,) = [json.loads(x) for x in captured.out.splitlines()]
    assert [s["wallet"] for s in line["swaps"]] == ["Gh6D6DZcASQLc2XoLpctT74KbRr4nrHF8wNptweckHoA"]


def test_bad_wallet_exits_2(mainnet: Path, capsys) -> None:
    for wallet in ("not-a-key", "1111", "0OIl" * 11):
        assert decode_main([str(mainnet / "pumpfun/ZEu54dZe_buy.json"), "--wallet", wallet]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and len(captured.err.splitlines()) == 1


def test_bench_json_keys(mainnet: Path, capsys) -> None:
    assert bench_main(["--repeat", "1", "--json", "--fixtures", str(mainnet)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"single_tx_per_s", "pool_tx_per_s", "pool_workers", "ratio"} <= set(result)
    assert result["pool_workers"] == 2 and result["transactions"] >= 98


def test_bench_missing_fixtures_is_one_line(tmp_path: Path, capsys) -> None:
    assert bench_main(["--fixtures", str(tmp_path / "nowhere")]) == 1
    assert len(capsys.readouterr().err.splitlines()) == 1
