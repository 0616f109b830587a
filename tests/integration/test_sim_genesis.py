"""The local cluster's genesis hash: stable for one cluster, new for every cluster (whatever its seed), never
a public cluster's; RpcPool reads it and an engine keeps it as its chain id."""

from __future__ import annotations

import pytest
from solders.hash import Hash

from engine.chain.rpc import KNOWN_GENESIS_HASHES, RpcPool
from engine.config import Settings
from engine.facade import Engine
from engine.paths import home_paths
from engine.sim import SimCluster, SimConfig
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.slow


def cluster(seed: int) -> SimCluster:
    return SimCluster(SimConfig(rpc_port=0, ws_port=0, swap_port=0, traders=1, seed=seed)).start()


async def test_each_cluster_has_its_own_stable_genesis_hash():
    first, second, third = cluster(7), cluster(7), cluster(8)
    try:
        hashes = []
        for each in (first, second, third):
            async with RpcPool([each.rpc_url]) as pool:
                answer = await pool.get_genesis_hash()
                assert answer == await pool.get_genesis_hash() == each.rpc.genesis_hash
            assert len(bytes(Hash.from_string(answer))) == 32 and answer not in KNOWN_GENESIS_HASHES
            hashes.append(answer)
        assert len(set(hashes)) == 3  # the same seed twice is still two chains: state lives in memory only
    finally:
        for each in (first, second, third):
            each.stop()


def test_the_same_seeded_trade_has_another_signature_on_another_chain():
    """A new chain is a new book: the seeded traders' first trade, the same on both clusters, must not carry
    the same signature (else an engine on the second chain skips it as a duplicate of the first's)."""
    first, second = cluster(7), cluster(7)
    try:
        trades = [each.market.random_trade() for each in (first, second)]
        assert all(trade is not None for trade in trades)
        a, b = trades
        assert (a.trader, a.side, a.mint, a.quote_amount) == (b.trader, b.side, b.mint, b.quote_amount)
        assert a.signature != b.signature
        assert first.ledger.latest_blockhash != second.ledger.latest_blockhash
    finally:
        first.stop()
        second.stop()


def test_the_engine_reads_the_chain_id_into_its_snapshot(tmp_path):
    local = cluster(9)
    settings = Settings(mode="sim")
    engine = Engine(settings, paths=home_paths(tmp_path / "home"), cluster=local, http=False)
    try:
        engine.start()
        wait_until(lambda: engine.snapshot().chain_id, 10, what="the chain id")
        view = engine.snapshot()
        assert (view.chain_id, view.chain_label) == (local.rpc.genesis_hash, "embedded")
    finally:
        engine.stop()
        local.stop()
