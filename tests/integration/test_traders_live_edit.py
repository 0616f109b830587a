"""traders.toml edited while `zapbot run --headless` runs (a subprocess against the test's local cluster):
`zapbot traders add`, `stop`, `remove` and an editor's change of sizing each take effect within 5 s, the CLI
says so, the file still holds every change after the engine exits, and a malformed edit is reported once
while the traders in force stay."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

import pytest
import tomlkit

from engine.sim import SimCluster, SimConfig
from tests.helpers.headless import CONFIG, environment, headless_engine
from tests.helpers.reliability import SOL, db_rows
from tests.helpers.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

APPLIED_WITHIN_S = 5.0


def test_traders_edited_while_the_engine_runs(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "zapbot.toml").write_text(CONFIG)
    cluster = SimCluster(
        SimConfig(rpc_port=0, ws_port=0, swap_port=0, traders=3, slot_ms=100, seed=41)
    ).start()
    (alice, alice_wallet), (bob, bob_wallet), (carol, carol_wallet) = cluster.traders
    traders_file = home / "traders.toml"
    traders_file.write_text(
        "# followed by hand\n"
        f'[[traders]]\nname = "{alice}"\nwallet = "{alice_wallet}"\n\n'
        f'[[traders]]\nname = "{bob}"  # the steady one\nwallet = "{bob_wallet}"\n'
    )
    env = environment(home, cluster)
    db = home / "zapbot-sim.db"
    log_file = home / "logs" / "threading.log"
    try:
        with headless_engine(home, env) as (proc, base):
            url = f"{base}/workers/status"

            def status() -> dict:
                with urllib.request.urlopen(url, timeout=5) as response:
                    return json.loads(response.read())

            wait_until(lambda: status()["subscriptions"] == 2, 30, what="two traders subscribed")
            doc = wait_until(lambda: status()["chain"]["genesis_hash"] and status(), 10, what="the chain id")
            assert doc["chain"] == {"genesis_hash": cluster.rpc.genesis_hash, "label": "local"}

            def cli(*args: str) -> str:
                done = subprocess.run(
                    [sys.executable, "-m", "zapbot_tui.cli", "traders", *args],
                    env=env,
                    cwd=str(home),
                    capture_output=True,
                    text=True,
                    timeout=30,
                )
                assert done.returncode == 0, done.stderr
                return done.stdout

            def copied(signature: str) -> list[dict]:
                return db_rows(
                    db, "SELECT * FROM intents WHERE leader_signature=? AND status='executed'", signature
                )

            def buy(name: str, mint_index: int = 0) -> str:
                mint = cluster.mints[mint_index % len(cluster.mints)]
                return cluster.trader_swap(name, "buy", mint, quote_lamports=3 * SOL // 10).signature

            # add: subscribed and copied. "applied" means the engine showed this version of the file in force
            # within the CLI's 5 s wait.
            assert "applied to the running engine" in cli("add", carol, carol_wallet, "--fixed-sol", "0.02")
            wait_until(
                lambda: status()["subscriptions"] == 3, APPLIED_WITHIN_S, what="the added trader subscribed"
            )
            signature = buy(carol)
            (row,) = wait_until(lambda: copied(signature), 30, what="the added trader's buy copied")
            assert row["trader"] == carol and row["amount_in"] == 2 * SOL // 100

            # stop: unsubscribed at once, and a buy made after it is not copied
            assert "applied to the running engine" in cli("stop", alice)
            wait_until(
                lambda: status()["subscriptions"] == 2,
                APPLIED_WITHIN_S,
                what="the stopped trader unsubscribed",
            )
            ignored = buy(alice, 1)

            # an editor changes bob's sizing (no lock, a plain rewrite keeping the comments)
            document = tomlkit.parse(traders_file.read_text())
            document["traders"][1]["fixed_sol"] = 0.03
            traders_file.write_text(tomlkit.dumps(document))
            wait_until(
                lambda: any(f"trader {bob} updated: fixed_sol" in line for line in log_lines(log_file)),
                APPLIED_WITHIN_S,
                what="the sizing edit applied",
            )
            signature = buy(bob, 2)
            (row,) = wait_until(lambda: copied(signature), 30, what="bob's buy copied at the new size")
            assert row["amount_in"] == 3 * SOL // 100
            assert not db_rows(db, "SELECT id FROM intents WHERE leader_signature=?", ignored)

            # remove
            assert "applied to the running engine" in cli("remove", carol)
            wait_until(lambda: status()["traders"] == 2, APPLIED_WITHIN_S, what="the removed trader gone")
            assert status()["subscriptions"] == 1

            # a malformed edit: one line in the log, the traders in force stay (bob is still copied)
            good = traders_file.read_text()
            traders_file.write_text(good + "\n[[traders]\nname = \n")
            wait_until(lambda: syntax_errors(log_file), APPLIED_WITHIN_S, what="the malformed file reported")
            traders_file.write_text(good + "\n[[traders]\nname = \n")  # saved again, unchanged
            signature = buy(bob, 3)
            wait_until(lambda: copied(signature), 30, what="bob still copied while the file is broken")
            assert len(syntax_errors(log_file)) == 1
            assert status()["traders"] == 2 and status()["subscriptions"] == 1
            traders_file.write_text(good)
            wait_until(lambda: any("reads again" in line for line in log_lines(log_file)), APPLIED_WITHIN_S)

            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=30) == 0
    finally:
        cluster.stop()
    held = {t["name"]: t for t in tomllib.loads(traders_file.read_text())["traders"]}
    assert set(held) == {alice, bob}
    assert held[alice]["active"] is False and held[bob]["fixed_sol"] == 0.03
    assert "# followed by hand" in traders_file.read_text() and "# the steady one" in traders_file.read_text()


def log_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []


def syntax_errors(path: Path) -> list[str]:
    return [line for line in log_lines(path) if "traders.toml: TOML syntax error" in line]
