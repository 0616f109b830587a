"""Restart recovery runs beside new work (issue 13, Build 5). The engine (data + executor) runs in a subprocess on
the test's local cluster and is killed -9 while three of its trades are signed and sent but cannot land. While it
is down, one of them lands anyway (its bytes reach the cluster), and the blockhash of the other two expires. At
the restart, with a new leader buy arriving at once:

- the trade that landed while the engine was down ends `executed`, with the same signature (not bought twice);
- the expired buy, now older than `limits.max_signal_age_s`, is not re-quoted: `skipped` with the reason `stale`;
- the expired sell is re-quoted (a sell goes out at any age) and ends `executed` with a new signature;
- the new buy is sent while the recovered sell is still waiting for its (delayed) confirmation: recovery does
  not hold new signals back.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

from engine.policy import WSOL_MINT
from tests.helpers.copying import SOL
from tests.helpers.paths import PROJECT_ROOT
from tests.helpers.reliability import db_rows
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.slow

MAX_AGE_S = 6.0
CONFIRM_DELAY_MS = 4000  # after the restart, each of our transactions lands this long after it was sent

CONFIG = f"""
[limits]
max_signal_age_s = {MAX_AGE_S}
"""

# Sends every SwapDetected written as a JSON file into the signals folder (argv[1]), once, stamped now.
ENGINE_SCRIPT = """
import json, signal, sys, threading, time
from pathlib import Path
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
folder, sent = Path(sys.argv[1]), set()
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
while True:
    for path in sorted(folder.glob("*.json")):
        if path.name not in sent:
            sent.add(path.name)
            fields = json.loads(path.read_text())
            fields["detected_at"] = fields["seen_at"] = fields["signal_at"] = time.time()
            engine.ctx.send("executor", SwapDetected(**fields))
    if stop.wait(0.05):
        break
engine.stop()
"""


def run_engine(home: Path, cluster, folder: Path, log: Path) -> subprocess.Popen:
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
        [sys.executable, "-c", ENGINE_SCRIPT, str(folder)],
        env=env,
        cwd=str(home),
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),  # read when an assertion fails
    )


def write_signal(folder: Path, order: int, trade, trader: str) -> None:
    fields = {
        "leader_signature": trade.signature,
        "wallet": trade.wallet,
        "trader": trader,
        "side": trade.side,
        "mint": trade.mint,
        "token_amount": trade.token_amount,
        "token_decimals": 6,
        "quote_mint": WSOL_MINT,
        "quote_amount": trade.quote_amount,
        "venue": "unknown",
        "router": None,
        "slot": trade.slot,
        "source": "test",
        "seen_at": 0.0,
    }
    (folder / f"{order:03d}.tmp").write_text(json.dumps(fields))
    (folder / f"{order:03d}.tmp").rename(folder / f"{order:03d}.json")  # never read half written


def intent(db: Path, leader_signature: str) -> dict | None:
    rows = (
        db_rows(db, "SELECT * FROM intents WHERE leader_signature=?", leader_signature) if db.exists() else []
    )
    return rows[0] if rows else None


def status(db: Path, leader_signature: str) -> str | None:
    row = intent(db, leader_signature)
    return row["status"] if row else None


def stop(proc: subprocess.Popen) -> int | None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return proc.returncode


@pytest.mark.timeout(180)
def test_trades_left_in_flight_by_a_crash_finish_beside_a_new_signal(tmp_path, sim_cluster):
    home = tmp_path / "home"
    home.mkdir()
    (home / "zapbot.toml").write_text(CONFIG)
    (leader, leader_wallet), (other, other_wallet) = sim_cluster.traders[:2]
    (home / "traders.toml").write_text(
        f'[[traders]]\nname = "{leader}"\nwallet = "{leader_wallet}"\n'
        f'[[traders]]\nname = "{other}"\nwallet = "{other_wallet}"\n'
    )
    db = home / "zapbot-sim.db"
    held_mint, landed_mint, stale_mint = sim_cluster.mints[:3]
    before, after = tmp_path / "signals-1", tmp_path / "signals-2"
    before.mkdir()
    after.mkdir()

    first = run_engine(home, sim_cluster, before, tmp_path / "engine-1.log")
    try:
        # A position to sell later, bought while everything works.
        position = sim_cluster.trader_swap(leader, "buy", held_mint, quote_lamports=SOL)
        write_signal(before, 0, position, leader)
        wait_until(lambda: status(db, position.signature) == "executed", 40, what="the first buy")
        # Now our sends are refused and the clock stopped: three trades get signed and sent, none can land.
        sim_cluster.set_chaos(send_fail_ratio=1.0, pause_slots=True)
        landed = sim_cluster.trader_swap(leader, "buy", landed_mint, quote_lamports=SOL // 2)
        stale = sim_cluster.trader_swap(leader, "buy", stale_mint, quote_lamports=SOL // 2)
        sell = sim_cluster.trader_swap(leader, "sell", held_mint, token_fraction=1.0)
        for order, trade in enumerate((landed, stale, sell), start=1):
            write_signal(before, order, trade, leader)
        in_flight = (landed, stale, sell)
        wait_until(
            lambda: all(status(db, t.signature) == "sent" for t in in_flight), 30, what="three trades sent"
        )
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
    assert first.returncode == -signal.SIGKILL
    sent = {t.signature: intent(db, t.signature) for t in in_flight}
    wallet = sent[landed.signature]["wallet"]
    for row in sent.values():
        assert row["signed_tx"] and sim_cluster.ledger.get_tx(row["signature"]) is None

    # While the engine is down: the first trade's bytes land (an RPC node's rebroadcast), then the other
    # two's blockhash expires, and the stale buy's signal grows older than the age limit.
    sim_cluster.set_chaos(send_fail_ratio=0.0, pause_slots=False)
    landed_row = sent[landed.signature]
    httpx2.post(
        sim_cluster.rpc_url,
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "sendTransaction",
            "params": [base64.b64encode(bytes(landed_row["signed_tx"])).decode(), {"encoding": "base64"}],
        },
        timeout=10,
    ).raise_for_status()
    wait_until(lambda: sim_cluster.ledger.get_tx(landed_row["signature"]) is not None, 20, what="landed")
    expiry = max(sent[t.signature]["last_valid_block_height"] for t in (stale, sell))
    sim_cluster.advance_slots(expiry - sim_cluster.block_height + 1)
    wait_until(
        lambda: time.time() - sent[stale.signature]["detected_at"] > MAX_AGE_S + 0.5, 20, what="the age limit"
    )

    # The restart, with every confirmation delayed, and a new leader buy arriving as it starts.
    sim_cluster.set_chaos(confirm_delay_ms=CONFIRM_DELAY_MS)
    fresh = sim_cluster.trader_swap(other, "buy", landed_mint, quote_lamports=SOL // 2)
    write_signal(after, 0, fresh, other)
    second = run_engine(home, sim_cluster, after, tmp_path / "engine-2.log")
    try:
        wait_until(
            lambda: all(
                status(db, t.signature) in ("executed", "skipped", "failed") for t in (*in_flight, fresh)
            ),
            60,
            what="every trade decided after the restart",
        )
        rows = {t.signature: intent(db, t.signature) for t in (*in_flight, fresh)}
        # Landed while down: executed, the same bytes, nothing bought again.
        done = rows[landed.signature]
        assert (done["status"], done["signature"], done["attempts"]) == (
            "executed",
            landed_row["signature"],
            1,
        )
        # Expired and now too old: a buy is not re-quoted.
        skipped = rows[stale.signature]
        assert skipped["status"] == "skipped" and skipped["reason"].startswith("stale"), skipped
        assert sim_cluster.token_balance(wallet, stale_mint) == 0
        assert sim_cluster.ledger.get_tx(sent[stale.signature]["signature"]) is None
        # Expired sell: re-quoted once and executed with new bytes. Should its first bytes have landed after
        # all, it is executed with them, once: the chain decides which. (One run on a busy machine ended
        # `executed` after 1 attempt, not yet explained; this tells the two cases apart.)
        resold = rows[sell.signature]
        attempts = db_rows(db, "SELECT * FROM trades WHERE intent_id=? ORDER BY id", resold["id"])
        original = sent[sell.signature]["signature"]
        first_bytes_landed = sim_cluster.ledger.get_tx(original) is not None
        expected = (1, original) if first_bytes_landed else (2, resold["signature"])
        assert resold["status"] == "executed", (resold, attempts)
        assert (resold["attempts"], resold["signature"]) == expected, (resold, attempts, sent[sell.signature])
        if not first_bytes_landed:
            assert resold["signature"] != original
            assert [a["status"] for a in attempts] == ["expired", "executed"], attempts
        assert sim_cluster.token_balance(wallet, held_mint) == 0
        # The new buy was not held back by recovery: it went out while the recovered sell was still
        # waiting for its confirmation.
        new = rows[fresh.signature]
        assert new["status"] == "executed", new
        sends = {
            r["intent_id"]: r
            for r in db_rows(
                db,
                "SELECT intent_id, MIN(sent_at) AS sent_at, MAX(confirmed_at) AS confirmed_at"
                " FROM trades GROUP BY intent_id",
            )
        }
        new_send, sell_done = sends[new["id"]]["sent_at"], sends[resold["id"]]["confirmed_at"]
        print(
            f"\nRELIABILITY restart recovery: new buy sent {new_send - new['detected_at']:.2f}s after its"
            f" detection; the recovered sell confirmed {sell_done - new['detected_at']:.2f}s after it"
        )
        assert new_send < sell_done, (
            sends[new["id"]],
            sends[resold["id"]],
        )
        # One record per leader swap, and our swaps on the chain are the executed copies.
        leader_swaps = [position, *in_flight, fresh]
        assert len(db_rows(db, "SELECT id FROM intents")) == len(leader_swaps)
        executed = db_rows(db, "SELECT signature FROM intents WHERE status='executed'")
        ours = [
            t.signature
            for t in sim_cluster.ledger.signatures_for(wallet)
            if t.memo and "zapsim:quote" in t.memo and t.err is None
        ]
        assert sorted(ours) == sorted(r["signature"] for r in executed)
    finally:
        code = stop(second)
        sim_cluster.set_chaos(confirm_delay_ms=0)
    assert code == 0
    assert db_rows(db, "SELECT id FROM intents WHERE status IN ('pending','queued','sent')") == []
