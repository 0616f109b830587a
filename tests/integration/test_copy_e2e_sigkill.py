"""SIGKILL between send and confirmation: the engine runs in a subprocess against the test's local cluster;
it is killed -9 while its signed buy cannot land yet; a new engine resumes the same bytes. One trade only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.store import connect
from tests.helpers.copying import SOL
from tests.helpers.paths import PROJECT_ROOT
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.slow  # every test here starts a cluster, an engine or a subprocess

ENGINE_SCRIPT = """
import json, signal, sys, threading, time
from engine.config import load_settings
from engine.facade import Engine
from engine.messages import SwapDetected
from engine.workers.data import DataWorker
from engine.workers.executor import ExecutorWorker

settings = load_settings()
settings.http.enabled = False
settings.engine.heartbeat_interval_ms = 500
engine = Engine(settings, worker_classes={"data": DataWorker, "executor": ExecutorWorker}, http=False)
engine.start(wait_ready=15)
signal_path = sys.argv[1]
if signal_path != "-":
    with open(signal_path) as handle:
        fields = json.load(handle)
    fields["detected_at"] = fields["seen_at"] = time.time()
    engine.ctx.send("executor", SwapDetected(**fields))
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
print("engine up", flush=True)
while not stop.wait(0.1):
    pass
engine.stop()
"""


def run_engine(home: Path, cluster, signal_file: Path | str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZAPBOT_", "RPC_", "WS_", "SWAP_API"))}
    env.update(
        ZAPBOT_HOME=str(home),
        ZAPBOT_MODE="sim",
        RPC_URL=cluster.rpc_url,
        WS_URL=cluster.ws_url,
        SWAP_API_URL=cluster.swap_api_url,
        PYTHONPATH=str(PROJECT_ROOT),
    )
    return subprocess.Popen(
        [sys.executable, "-c", ENGINE_SCRIPT, str(signal_file)],
        env=env,
        cwd=str(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def rows(db: Path, sql: str, *params) -> list[dict]:
    if not db.exists():
        return []
    conn = connect(db, readonly=True)
    try:
        return [dict(r) for r in conn.execute(sql, params).fetchall()]
    except Exception:  # noqa: BLE001 - the schema may not exist yet while the engine starts
        return []
    finally:
        conn.close()


@pytest.mark.parametrize("expire_while_down", [False, True], ids=["resume-same-bytes", "expired-requote"])
def test_sigkill_between_send_and_confirmation_leaves_one_trade(tmp_path, sim_cluster, expire_while_down):
    home = tmp_path / "home"
    home.mkdir()
    leader_name, leader_wallet = sim_cluster.traders[0]
    (home / "traders.toml").write_text(f'[[traders]]\nname = "{leader_name}"\nwallet = "{leader_wallet}"\n')
    db = home / "zapbot-sim.db"
    mint = sim_cluster.mints[0]

    # Our transaction will be signed and sent but cannot land: every send fails and the clock is stopped,
    # so its blockhash cannot expire either.
    sim_cluster.set_chaos(send_fail_ratio=1.0, pause_slots=True)
    buy = sim_cluster.trader_swap(leader_name, "buy", mint, quote_lamports=SOL)
    signal_file = tmp_path / "signal.json"
    signal_file.write_text(
        json.dumps(
            {
                "leader_signature": buy.signature,
                "wallet": buy.wallet,
                "trader": leader_name,
                "side": "buy",
                "mint": mint,
                "token_amount": buy.token_amount,
                "token_decimals": 6,
                "quote_mint": "So11111111111111111111111111111111111111112",
                "quote_amount": buy.quote_amount,
                "venue": "unknown",
                "router": None,
                "slot": buy.slot,
                "source": "test",
                "seen_at": 0.0,
            }
        )
    )

    first = run_engine(home, sim_cluster, signal_file)
    try:
        sent = wait_until(
            lambda: (r := rows(db, "SELECT * FROM intents")) and r[0]["status"] == "sent" and r[0],
            timeout=30,
            what="the intent to be sent",
        )
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == -signal.SIGKILL
    signature = sent["signature"]
    assert sent["signed_tx"] and sent["last_valid_block_height"] and signature
    assert sim_cluster.ledger.get_tx(signature) is None  # it had not landed
    assert sim_cluster.token_balance(sent["wallet"], mint) == 0

    if expire_while_down:
        # While the engine is down the blockhash expires: the signed bytes can never land, so the new
        # engine may re-quote (once), and must not buy twice.
        sim_cluster.advance_slots(sent["last_valid_block_height"] - sim_cluster.block_height + 1)
    # Resume the clock and the sends; a new engine gets the same signal again (re-detection after restart).
    sim_cluster.set_chaos(send_fail_ratio=0.0, pause_slots=False)
    second = run_engine(home, sim_cluster, signal_file)
    try:
        done = wait_until(
            lambda: (r := rows(db, "SELECT * FROM intents")) and r[0]["status"] == "executed" and r[0],
            timeout=30,
            what="the resumed trade to execute",
        )
        wait_until(lambda: rows(db, "SELECT * FROM skips"), timeout=15, what="the repeated signal's skip")
        # The executed row is the resumed intent's outcome and the skip the repeated signal's: the engine has
        # handled both of its inputs, so the rows below are final.
        intents = rows(db, "SELECT * FROM intents")
        assert len(intents) == 1
        attempts = rows(db, "SELECT * FROM trades ORDER BY id")
        if expire_while_down:
            assert done["signature"] != signature and done["attempts"] == 2
            assert [(a["signature"], a["status"]) for a in attempts] == [
                (signature, "expired"),
                (done["signature"], "executed"),
            ]
            assert sim_cluster.ledger.get_tx(signature) is None
            signature = done["signature"]
        else:
            assert done["signature"] == signature  # the same signed bytes landed, not a re-quote
            assert done["attempts"] == 1
            assert [(a["signature"], a["status"]) for a in attempts] == [(signature, "executed")]
        skips = rows(db, "SELECT * FROM skips")
        assert [(s["leader_signature"], s["reason"]) for s in skips] == [(buy.signature, "duplicate")]
        ours = [
            t
            for t in sim_cluster.ledger.signatures_for(sent["wallet"])
            if t.memo and "zapsim:quote" in t.memo
        ]
        assert [t.signature for t in ours] == [signature] and ours[0].err is None
        assert sim_cluster.token_balance(sent["wallet"], mint) == done["token_amount"] > 0
        position = rows(db, "SELECT * FROM positions WHERE mint=?", mint)[0]
        assert position["amount"] == done["token_amount"]
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(timeout=20)
        except subprocess.TimeoutExpired:
            second.kill()
