"""Books per chain and wallet: one ZAPBOT_HOME used on two local clusters, one after the other. On the second,
the limits ignore the first one's spending and positions, and the console shows only the second's."""

from __future__ import annotations

import pytest

from engine.sim import SimCluster, SimConfig
from engine.store import connect
from tests.helpers.copying import SOL, detected, finished, start_engine
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.slow

LIMITS = {
    "limits__daily_spend_cap_sol": 0.15,  # one 0.1 SOL buy fits, a second one only sized down to ~0.05
    "limits__max_open_positions": 1,
}


def run_one_buy(cluster: SimCluster, mint: str) -> tuple[dict, object]:
    engine = start_engine(cluster, **LIMITS)
    try:
        wallet = engine.ctx.state.wallet
        wait_until(lambda: cluster.balance(wallet) > 0, what="the sim airdrop")
        wait_until(lambda: engine.snapshot().books_chain, what="the books of this chain")
        trade = cluster.trader_swap(cluster.traders[0][0], "buy", mint, quote_lamports=2 * SOL)
        assert engine.ctx.send("executor", detected(trade))
        row = wait_until(lambda: finished(engine, trade.signature), what="our buy")
        snapshot = wait_until(
            lambda: (s := engine.snapshot()) and any(p.mint == mint for p in s.positions) and s,
            what="the position on screen",
        )
        return row, snapshot
    finally:
        engine.stop()


def test_a_second_cluster_keeps_its_own_books(zapbot_home):
    first = SimCluster(SimConfig(rpc_port=0, ws_port=0, swap_port=0, slot_ms=100)).start()
    try:
        first_buy, first_view = run_one_buy(first, first.mints[0])
        first_chain = first.rpc.genesis_hash
    finally:
        first.stop()
    assert first_buy["status"] == "executed" and first_buy["amount_in"] == SOL // 10
    assert first_view.books_chain == first_chain

    second = SimCluster(SimConfig(rpc_port=0, ws_port=0, swap_port=0, slot_ms=100)).start()
    try:
        assert second.rpc.genesis_hash != first_chain
        # another mint: the first chain's open position would hit max_open_positions = 1 if it counted
        other_mint = second.mints[1]
        second_buy, view = run_one_buy(second, other_mint)
    finally:
        second.stop()
    # the daily cap ignores the first chain's 0.1 SOL: the buy is not sized down
    assert second_buy["status"] == "executed", second_buy["reason"]
    assert second_buy["amount_in"] == SOL // 10
    assert view.books_chain == second.rpc.genesis_hash
    # the console shows only the second chain's position and trades
    assert [p.mint for p in view.positions] == [other_mint]
    assert {t.leader_signature for t in view.trades} == {second_buy["leader_signature"]}
    assert all(lot.mint == other_mint for lot in view.lots)

    # both chains' rows are in the one sim database, each keyed by its chain and the same wallet
    db_rows = query_db(zapbot_home / "zapbot-sim.db", "SELECT chain, wallet, mint FROM intents ORDER BY id")
    assert [r["chain"] for r in db_rows] == [first_chain, second.rpc.genesis_hash]
    assert db_rows[0]["wallet"] == db_rows[1]["wallet"]
    daily = query_db(zapbot_home / "zapbot-sim.db", "SELECT chain, spent_lamports FROM daily ORDER BY chain")
    assert {r["chain"] for r in daily} == {first_chain, second.rpc.genesis_hash}
    assert not (zapbot_home / "zapbot.db").exists()  # sim never touches the live file


def query_db(path, sql: str) -> list[dict]:
    conn = connect(path, readonly=True)
    try:
        return [dict(row) for row in conn.execute(sql).fetchall()]
    finally:
        conn.close()
