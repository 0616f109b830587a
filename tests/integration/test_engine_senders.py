"""The real Engine with [[senders]] on the local cluster: a copy's signed bytes go to an RPC node, the block
engine and a sender that refuses; the copy lands once, the refusing sender is down with its reason in the
engine's state (the console's send light) and the fee the chain charged is in the trade's view."""

from __future__ import annotations

import socket

import pytest
from solders.compute_budget import set_compute_unit_price
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from engine.config import SenderSettings, load_settings
from engine.facade import Engine
from engine.sim.fees import compute_budget_of
from tests.helpers.waiting import wait_until
from tests.integration.test_detection_streams import executed, swap

pytestmark = pytest.mark.slow
SOL = 1_000_000_000
TIP = 10_000


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
        name, _wallet = sim_cluster.traders[0]
        trader = engine.ctx.traders.get(name)
        engine.ctx.traders.replace(name, trader.model_copy(update={"jito_tip_lamports": TIP}))
        tips_before = sim_cluster.block_engine.tips_received()
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
        # The tip the swap API put in (jitoTipLamports) landed in one of the block engine's tip accounts.
        assert sim_cluster.block_engine.tips_received() - tips_before == TIP

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


MARKER_PRICE = 123_456  # micro-lamports per CU: a price nothing else on this cluster pays


def _cu_price(cluster, signature: str) -> tuple[int, int]:
    landed = cluster.ledger.get_tx(signature)
    msg = landed.tx.message
    return compute_budget_of(msg, [str(k) for k in msg.account_keys])


@pytest.mark.timeout(120)
def test_auto_priority_fee_is_priced_from_the_chain_and_jupiter_leaves_it_to_the_swap_api(
    zapbot_home, sim_cluster
):
    # One slot whose only transaction pays MARKER_PRICE: the 100th percentile of the recent fees is that.
    payer = Keypair()
    sim_cluster.airdrop(payer.pubkey(), SOL)
    sim_cluster.advance_slots(1)
    blockhash = sim_cluster.ledger.latest_blockhash_obj()
    ixs = [
        set_compute_unit_price(MARKER_PRICE),
        transfer(
            TransferParams(from_pubkey=payer.pubkey(), to_pubkey=Keypair().pubkey(), lamports=SOL // 100)
        ),
    ]
    tx = VersionedTransaction(MessageV0.try_compile(payer.pubkey(), ixs, [], blockhash), [payer])
    sim_cluster.ledger.submit(tx)
    sim_cluster.advance_slots(1)
    settings = load_settings()
    settings.http.enabled = False
    settings.engine.heartbeat_interval_ms = 1000
    settings.fees.auto_percentile = 100
    settings.fees.refresh_s = 60  # one refresh at start: the price stays the marker's for this test
    engine = Engine(settings, cluster=sim_cluster, http=False)
    engine.start(wait_ready=20)
    try:
        leaders = len(sim_cluster.traders)
        wait_until(lambda: (engine.snapshot().sol_balance_lamports or 0) > 0, what="the operator's airdrop")
        wait_until(lambda: engine.snapshot().subscriptions >= leaders, what="every leader subscribed")
        wait_until(lambda: engine.snapshot().counters.get("polls", 0) >= leaders, what="every first poll")
        wait_until(
            lambda: sim_cluster.rpc.counts().get("getRecentPrioritizationFees", 0) >= 1,
            what="the fee refresh",
        )
        name, _wallet = sim_cluster.traders[0]
        trader = engine.ctx.traders.get(name)
        assert trader is not None and trader.priority_fee == "auto"
        first = swap(sim_cluster, 0)
        row = wait_until(lambda: executed(engine, first.signature), what="the auto copy")
        assert row["status"] == "executed", row["reason"]
        assert _cu_price(sim_cluster, row["signature"])[1] == MARKER_PRICE
        engine.ctx.traders.replace(name, trader.model_copy(update={"priority_fee": "jupiter"}))
        second = swap(sim_cluster, 0)
        row = wait_until(lambda: executed(engine, second.signature), what="the jupiter copy")
        assert row["status"] == "executed", row["reason"]
        limit, price = _cu_price(sim_cluster, row["signature"])
        # The swap API's own level, capped at the trader's priority_fee_cap_lamports.
        assert price != MARKER_PRICE and price == trader.priority_fee_cap_lamports * 1_000_000 // limit
    finally:
        engine.stop()
