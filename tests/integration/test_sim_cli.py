"""`zapbot sim` standalone and `zapbot bench sim` in a tiny configuration."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request

import pytest

from engine.bench.sim import main as bench_main
from engine.sim.cli import main as sim_main
from tests.helpers.paths import PROJECT_ROOT
from tests.helpers.waiting import wait_until

ROOT = PROJECT_ROOT  # the subprocesses import this checkout


def _get_slot(url: str) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "getSlot"}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - a 127.0.0.1 URL we printed
        return json.loads(response.read())["result"]


@pytest.mark.slow
def test_sim_cli_runs_standalone_and_writes_traders(tmp_path):
    traders_file = tmp_path / "cfg" / "traders.toml"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "engine.sim.cli",
            "--rpc-port",
            "0",
            "--ws-port",
            "0",
            "--swap-port",
            "0",
            "--slot-ms",
            "50",
            "--traders",
            "2",
            "--trade-rate",
            "0",
            "--write-traders",
            str(traders_file),
            "--chaos",
            "rpc_latency_ms=1",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        lines = []
        while not any(line.startswith("traders written") for line in lines):
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            lines.append(line.strip())
        rpc_url = next(line.split()[1] for line in lines if line.startswith("rpc "))
        first = _get_slot(rpc_url)
        for _ in range(100):
            time.sleep(0.05)
            if _get_slot(rpc_url) > first:
                break
        assert _get_slot(rpc_url) > first
        assert any(line.startswith("trading  no synthetic trades") for line in lines), lines
        printed = [line.split()[1:] for line in lines if line.startswith("trader ")]
        written = tomllib.loads(traders_file.read_text())["traders"]
        assert [[t["name"], t["wallet"]] for t in written] == printed
        assert all(t["active"] is True for t in written) and len(written) == 2
        assert traders_file.read_text().count("[[traders]]") == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


@pytest.mark.slow
def test_sim_cli_trades_by_default_and_says_so(tmp_path):
    ports = ["--rpc-port", "0", "--ws-port", "0", "--swap-port", "0", "--slot-ms", "50"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.sim.cli", *ports],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        lines = []
        while not any(line.startswith("trading ") for line in lines):
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            lines.append(line.strip())
        assert lines[-1] == (
            "trading  0.5 synthetic trades a second, buys and sells, until stopped (--trade-rate 0 for none)"
        )
        market = next(line.split()[1] for line in lines if line.startswith("market "))
        trades_url = market.replace("/sim/v1/market", "/sim/v1/trades")

        def trades() -> list:
            with urllib.request.urlopen(trades_url, timeout=5) as response:  # noqa: S310 - our 127.0.0.1 URL
                return json.loads(response.read())

        wait_until(lambda: len(trades()) > 0, 30, what="a synthetic trade with no --trade-rate given")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_sim_cli_trade_rate_is_checked(capsys):
    assert sim_main(["--trade-rate", "-1"]) == 2
    assert sim_main(["--trade-rate", "nan"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["zapbot sim: --trade-rate must be 0 or more trades a second"] * 2


def test_sim_cli_bad_chaos_key_is_one_line(capsys):
    assert sim_main(["--chaos", "warp_speed=9"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown chaos key 'warp_speed'" in err


@pytest.mark.slow
def test_bench_sim_prints_landed_rate(capsys):
    assert bench_main(["--seconds", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["landed_tx_per_s"] > 0
    assert result["notified"] == result["sent"] == result["landed"] > 0
