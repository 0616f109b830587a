"""SIGKILL in the middle of an exit: the engine (data, executor, cache) runs in a subprocess on the test's local
cluster; its take profit is signed and sent but cannot land; it is killed -9; a new engine finishes that same
exit (the same bytes, or one re-quote when the blockhash expired meanwhile) and never sells the lot twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.constants import WSOL_MINT
from engine.paths import home_paths
from engine.sim import SimCluster, SimConfig
from engine.store import connect
from tests.helpers.copying import SOL
from tests.helpers.paths import PROJECT_ROOT
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.slow

SCENARIO = """
seed = 33
[[tokens]]
symbol = "KILL"
[[traders]]
name = "leader"
sol = 500
[[traders]]
name = "pumper"
sol = 2000
"""

ENGINE_SCRIPT = """
import json, signal, sys, threading, time
from engine.config import load_settings
from engine.facade import Engine
from engine.messages import SwapDetected
from engine.workers.cache import CacheWorker
from engine.workers.data import DataWorker
from engine.workers.executor import ExecutorWorker

settings = load_settings()
settings.http.enabled = False
settings.engine.heartbeat_interval_ms = 500
workers = {"data": DataWorker, "executor": ExecutorWorker, "cache": CacheWorker}
engine = Engine(settings, worker_classes=workers, http=False)
engine.start(wait_ready=15)
if sys.argv[1] != "-":
    with open(sys.argv[1]) as handle:
        fields = json.load(handle)
    fields["detected_at"] = fields["seen_at"] = time.time()
    engine.ctx.send("executor", SwapDetected(**fields))
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
while not stop.wait(0.1):
    pass
engine.stop()
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    path = tmp_path_factory.mktemp("scenario") / "kill.toml"
    path.write_text(SCENARIO)
    cluster = SimCluster(SimConfig(rpc_port=0, ws_port=0, swap_port=0, slot_ms=100, scenario=path)).start()
    try:
        yield cluster
    finally:
        cluster.set_chaos(send_fail_ratio=0.0, pause_slots=False)
        cluster.stop()


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
        stderr=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


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


def exits(db: Path) -> list[dict]:
    return rows(db, "SELECT * FROM intents WHERE trigger='take_profit' ORDER BY id")


@pytest.mark.parametrize("expire_while_down", [False, True], ids=["resume-same-bytes", "expired-requote"])
def test_sigkill_mid_exit_sells_once(tmp_path, cluster, expire_while_down):
    home = tmp_path / "home"
    home.mkdir()
    leader = dict((name, wallet) for name, wallet in cluster.traders)["leader"]
    (home / "traders.toml").write_text(f'[[traders]]\nname = "leader"\nwallet = "{leader}"\n')
    (home / "zapbot.toml").write_text("[exits]\ntake_profit_pct = 50\ntake_profit_sell_pct = 50\n")
    db = home_paths(home).db_for_mode("sim")
    mint = cluster.resolve_mint("KILL")
    buy = cluster.trader_swap("leader", "buy", "KILL", quote_lamports=SOL)
    signal_file = tmp_path / "signal.json"
    signal_file.write_text(
        json.dumps(
            {
                "leader_signature": buy.signature,
                "wallet": buy.wallet,
                "trader": "leader",
                "side": "buy",
                "mint": mint,
                "token_amount": buy.token_amount,
                "token_decimals": 6,
                "quote_mint": WSOL_MINT,
                "quote_amount": buy.quote_amount,
                "venue": "unknown",
                "router": None,
                "slot": buy.slot,
                "source": "test",
                "seen_at": 0.0,
            }
        )
    )

    first = run_engine(home, cluster, signal_file)
    try:
        lot = wait_until(
            lambda: (r := rows(db, "SELECT * FROM lots WHERE mint=? AND amount > 0", mint)) and r[0],
            timeout=30,
            what="the copied buy's lot",
        )
        # From now on our sends fail and the clock stands still: the exit is signed and sent, never lands.
        cluster.set_chaos(send_fail_ratio=1.0, pause_slots=True)
        cluster.move_price("pumper", "KILL", 120)
        sent = wait_until(
            lambda: (r := exits(db)) and r[0]["status"] == "sent" and r[0],
            timeout=30,
            what="the take profit to be sent",
        )
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=10)
    assert first.returncode == -signal.SIGKILL
    wallet = lot["wallet"]
    assert cluster.ledger.get_tx(sent["signature"]) is None
    assert cluster.token_balance(wallet, "KILL") == lot["amount"]
    assert sent["lot_id"] == lot["id"] and sent["amount_in"] == lot["bought_amount"] // 2

    if expire_while_down:
        cluster.advance_slots(sent["last_valid_block_height"] - cluster.block_height + 1)
    cluster.set_chaos(send_fail_ratio=0.0, pause_slots=False)
    second = run_engine(home, cluster, "-")
    try:
        done = wait_until(
            lambda: (r := exits(db)) and r[0]["status"] == "executed" and r[0],
            timeout=30,
            what="the resumed exit to execute",
        )
        # The price is still up: the new engine keeps checking the lot, and does not sell the level again.
        seen = cluster.swap_api.quotes.get(mint, 0)
        wait_until(lambda: cluster.swap_api.quotes.get(mint, 0) >= seen + 4, what="more checks of the lot")
        assert [row["id"] for row in exits(db)] == [sent["id"]]
        sells = rows(db, "SELECT * FROM intents WHERE side='sell'")
        assert len(sells) == 1
        attempts = rows(db, "SELECT signature, status FROM trades WHERE intent_id=? ORDER BY id", sent["id"])
        if expire_while_down:
            assert done["signature"] != sent["signature"] and done["attempts"] == 2
            assert [a["status"] for a in attempts] == ["expired", "executed"]
            assert cluster.ledger.get_tx(sent["signature"]) is None
        else:
            assert done["signature"] == sent["signature"] and done["attempts"] == 1
            assert [a["status"] for a in attempts] == ["executed"]
        ours = [t for t in cluster.ledger.signatures_for(wallet) if t.memo and "zapsim:quote" in t.memo]
        assert len(ours) == 2 and done["signature"] in {t.signature for t in ours}  # the buy, one sell
        left = rows(db, "SELECT * FROM lots WHERE id=?", lot["id"])[0]
        assert left["amount"] == lot["amount"] - done["token_amount"] == cluster.token_balance(wallet, "KILL")
        assert left["sells"] == 1 and left["closed_at"] is None
    finally:
        stop(second)
