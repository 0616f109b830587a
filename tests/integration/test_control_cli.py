"""`zapbot sell`, `pause` and `resume` against `zapbot run --headless` (a subprocess on the test's local
cluster): a sell by symbol halves the wallet's holding on chain and prints its fill; while buys are paused a
leader's buy is skipped and its sell still copied; the control routes refuse a request without the home's
token; bad input gets one line and exit code 2."""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from engine.sim import SimCluster, SimConfig
from tests.helpers.headless import CONFIG, environment, headless_engine
from tests.helpers.reliability import SOL, db_rows
from tests.helpers.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def test_sell_pause_resume_from_the_command_line(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "zapbot.toml").write_text(CONFIG)
    cluster = SimCluster(
        SimConfig(rpc_port=0, ws_port=0, swap_port=0, traders=1, slot_ms=100, seed=43)
    ).start()
    ((leader, leader_wallet),) = cluster.traders
    (home / "traders.toml").write_text(
        f'[[traders]]\nname = "{leader}"\nwallet = "{leader_wallet}"\nfixed_sol = 0.05\n'
    )
    env = environment(home, cluster)
    db = home / "zapbot-sim.db"

    def zapbot(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "zapbot_tui.cli", *args],
            env=env,
            cwd=str(home),
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )

    try:
        with headless_engine(home, env) as (proc, base):

            def status() -> dict:
                with urllib.request.urlopen(f"{base}/workers/status", timeout=5) as response:
                    return json.loads(response.read())

            wait_until(lambda: status()["subscriptions"] == 1, 30, what="the trader subscribed")
            token_file = home / "control.token"
            assert stat.S_IMODE(token_file.stat().st_mode) == 0o600

            # the control routes refuse a caller without the home's token, and one with a wrong token
            for headers in ({}, {"X-Zapbot-Control-Token": "not-the-token"}):
                request = urllib.request.Request(f"{base}/control/pause", data=b"{}", headers=headers)
                with pytest.raises(urllib.error.HTTPError) as refused:
                    urllib.request.urlopen(request, timeout=5)
                assert refused.value.code == 401
            assert status()["pause"] is None

            def executed(signature: str) -> list[dict]:
                return db_rows(
                    db, "SELECT * FROM intents WHERE leader_signature=? AND status='executed'", signature
                )

            mint, other = cluster.mints[0], cluster.mints[1]
            bought = cluster.trader_swap(leader, "buy", mint, quote_lamports=3 * SOL // 10)
            wait_until(lambda: executed(bought.signature), 30, what="the leader's buy copied")
            wallet = status()["wallet"]
            held = cluster.token_balance(wallet, mint)
            assert held > 0
            (position,) = wait_until(
                lambda: [p for p in status()["positions"] if p["mint"] == mint and p["symbol"]],
                30,
                what="the position named by its symbol",
            )
            assert position["amount"] == held and len(position["lots"]) == 1
            symbol = position["symbol"]
            assert symbol in zapbot("status").stdout

            # bad input: one line each, exit code 2, nothing sold
            for args, words in (
                (("sell", symbol, "150", "--yes"), "percent must be above 0"),
                (("sell", "NOPE", "50", "--yes"), "not a mint address or the symbol of an open position"),
                (("sell", symbol, "50", "--lot", "999", "--yes"), "lot 999 is not an open lot"),
            ):
                done = zapbot(*args)
                assert done.returncode == 2, done.stderr
                assert words in done.stderr and len(done.stderr.strip().splitlines()) == 1
            # without --yes and no terminal to ask on, it shows the quote and sells nothing
            done = zapbot("sell", symbol, "50")
            assert done.returncode == 1 and f"sell 50% of {symbol}" in done.stdout and "about" in done.stdout
            assert cluster.token_balance(wallet, mint) == held

            # sell half by symbol: the quote, then the fill; on chain we hold the other half
            done = zapbot("sell", symbol, "50", "--yes", "--wait", "60")
            assert done.returncode == 0, done.stderr
            assert f"sell 50% of {symbol}" in done.stdout and "sold " in done.stdout and "tx " in done.stdout
            assert cluster.token_balance(wallet, mint) == held - held // 2
            (manual,) = db_rows(db, "SELECT * FROM intents WHERE trigger='manual' AND status='executed'")
            assert manual["amount_in"] == held // 2

            # pause buys: a leader's buy is skipped, its sell of the open lot is still copied
            done = zapbot("pause")
            assert done.returncode == 0 and "buying paused" in done.stdout
            assert status()["pause"] == "buys"
            assert "BUYS PAUSED" in zapbot("status").stdout
            ignored = cluster.trader_swap(leader, "buy", other, quote_lamports=3 * SOL // 10)
            (skip,) = wait_until(
                lambda: db_rows(db, "SELECT * FROM skips WHERE leader_signature=?", ignored.signature),
                30,
                what="the paused buy skipped",
            )
            assert skip["reason"] == "buys paused"
            sold = cluster.trader_swap(leader, "sell", mint, token_fraction=1.0)
            wait_until(
                lambda: executed(sold.signature), 30, what="the leader's sell copied while buys paused"
            )
            assert cluster.token_balance(wallet, mint) == 0 and cluster.token_balance(wallet, other) == 0

            # pause all, then resume
            assert "all copying paused" in zapbot("pause", "all").stdout
            assert status()["pause"] == "all"
            done = zapbot("resume")
            assert done.returncode == 0 and "copying resumed" in done.stdout
            assert status()["pause"] is None
            assert "not paused" in zapbot("resume").stdout

            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=30) == 0
    finally:
        cluster.stop()
    assert not (home / "control.token").exists()
    done = zapbot("pause")
    assert done.returncode == 1 and "no running engine found" in done.stderr
