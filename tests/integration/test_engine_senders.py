"""The real Engine with [[senders]] on the local cluster: a copy's signed bytes go to an RPC node, the block
engine and a sender that refuses; the copy lands once, the refusing sender is down with its reason in the
engine's state (the console's send light) and the fee the chain charged is in the trade's view."""

from __future__ import annotations

import socket

import pytest

from engine.config import SenderSettings, load_settings
from engine.facade import Engine
from tests.helpers.waiting import wait_until
from tests.integration.test_detection_streams import executed, swap

pytestmark = pytest.mark.slow


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(120)
def test_a_copy_through_three_senders_lands_once_and_shows_each_senders_health(zapbot_home, sim_cluster):
    settings = load_settings()
    settings.http.enabled = False
    settings.engine.heartbeat_interval_ms = 1000
    settings.senders = [
        SenderSettings(url=sim_cluster.rpc_url, kind="rpc", name="node"),
        SenderSettings(url=sim_cluster.block_engine_url, kind="jito", name="jito"),
        SenderSettings(url=f"http://127.0.0.1:{_closed_port()}", kind="rpc", name="dead"),
    ]
    engine = Engine(settings, cluster=sim_cluster, http=False)
    engine.start(wait_ready=20)
    try:
        leaders = len(sim_cluster.traders)
        wait_until(lambda: (engine.snapshot().sol_balance_lamports or 0) > 0, what="the operator's airdrop")
        wait_until(lambda: engine.snapshot().subscriptions >= leaders, what="every leader subscribed")
        wait_until(lambda: engine.snapshot().counters.get("polls", 0) >= leaders, what="every first poll")
        before = sim_cluster.rpc.counts()
        trade = swap(sim_cluster, 0)
        row = wait_until(lambda: executed(engine, trade.signature), what="our copy")
        assert row["status"] == "executed", row["reason"]
        counts = sim_cluster.rpc.counts()
        assert counts.get("jito:sendTransaction", 0) > before.get("jito:sendTransaction", 0)
        assert counts.get("sendTransaction", 0) > before.get("sendTransaction", 0)
        # One signature, one landing: our wallet's transaction is on the ledger once.
        landed = sim_cluster.ledger.get_tx(row["signature"])
        assert landed is not None and landed.err is None
        ours = [s for s in sim_cluster.ledger.txs if s == row["signature"]]
        assert len(ours) == 1

        def senders_seen():
            by = {s.name: s for s in engine.snapshot().health.senders}
            return by if {"node", "jito", "dead"} <= set(by) and by["dead"].failed >= 1 else None

        by = wait_until(senders_seen, what="every sender's first result in the state")
        assert by["node"].up and by["node"].accepted >= 1 and by["jito"].up and by["jito"].accepted >= 1
        assert not by["dead"].up and "dead" in by["dead"].reason and by["dead"].kind == "rpc"
        assert engine.snapshot().health.send_ok is True  # the copy went out: the light is green
        # The fee the chain charged our transaction is what the trade shows.
        view = wait_until(
            lambda: next((t for t in engine.snapshot().trades if t.signature == row["signature"]), None),
            what="the trade in the state",
        )
        assert view.fee_lamports == landed.fee > 0
    finally:
        engine.stop()
