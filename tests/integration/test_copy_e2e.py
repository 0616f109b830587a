"""End to end on the local cluster with the real Engine (data + executor workers): the leader buys, sells half
and closes; we copy each step with real signed transactions, verified in the database and on chain."""

from __future__ import annotations

from typing import Any

import pytest

from engine.config import load_settings
from engine.facade import Engine
from tests.helpers.copying import SOL, detected, engine_factory, finished, intent_rows, query
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.slow  # every test here starts a cluster, an engine or a subprocess


@pytest.fixture
def engine_on_cluster(zapbot_home, sim_cluster):
    yield from engine_factory(sim_cluster)


def check_timestamps(row: dict[str, Any]) -> None:
    assert row["detected_at"] <= row["queued_at"] <= row["sent_at"] <= row["confirmed_at"]


def test_leader_buys_sells_half_then_closes(engine_on_cluster, sim_cluster):
    engine = engine_on_cluster()
    wallet = engine.ctx.state.wallet
    mint = sim_cluster.mints[0]
    leader_name, leader_wallet = sim_cluster.traders[0]

    # 1) the leader buys; we buy 0.1 SOL (the default fixed size) with a real transaction that lands
    buy = sim_cluster.trader_swap(leader_name, "buy", mint, quote_lamports=2 * SOL)
    assert engine.ctx.send("executor", detected(buy))
    row = wait_until(lambda: finished(engine, buy.signature), what="our buy")
    assert row["status"] == "executed", row["reason"]
    assert row["side"] == "buy" and row["trader"] == leader_name and row["wallet"] == wallet
    assert row["amount_in"] == SOL // 10 and row["quote_amount"] == SOL // 10
    landed = sim_cluster.ledger.get_tx(row["signature"])
    assert landed is not None and landed.err is None
    assert str(landed.tx.message.account_keys[0]) == wallet  # we paid for it
    held = sim_cluster.token_balance(wallet, mint)
    assert held == row["token_amount"] > 0
    check_timestamps(row)
    position = query(engine, "SELECT * FROM positions WHERE mint=?", mint)[0]
    # The cost basis is what the swap took plus the network fee we paid for it.
    assert position["amount"] == held and position["cost_lamports"] == SOL // 10 + row["fee_lamports"]
    assert row["fee_lamports"] > 0
    attempts = query(engine, "SELECT * FROM trades WHERE intent_id=?", row["id"])
    assert [(a["signature"], a["status"]) for a in attempts] == [(row["signature"], "executed")]

    # 2) the leader sells half; we sell the same fraction of our position
    leader_before = sim_cluster.token_balance(leader_wallet, mint)
    sell = sim_cluster.trader_swap(leader_name, "sell", mint, token_fraction=0.5)
    assert engine.ctx.send("executor", detected(sell))
    row = wait_until(lambda: finished(engine, sell.signature), what="our half sell")
    assert row["status"] == "executed", row["reason"]
    expected = held * sell.token_amount // leader_before
    assert abs(expected - held // 2) <= 1
    assert row["side"] == "sell" and row["amount_in"] == expected == row["token_amount"]
    assert sim_cluster.token_balance(wallet, mint) == held - expected
    assert sim_cluster.ledger.get_tx(row["signature"]).err is None
    assert row["quote_amount"] > 0
    check_timestamps(row)
    position = query(engine, "SELECT * FROM positions WHERE mint=?", mint)[0]
    assert position["amount"] == held - expected

    # 3) the leader sells the rest; we close
    close = sim_cluster.trader_swap(leader_name, "sell", mint, token_fraction=1.0)
    assert sim_cluster.token_balance(leader_wallet, mint) == 0
    assert engine.ctx.send("executor", detected(close))
    row = wait_until(lambda: finished(engine, close.signature), what="our close")
    assert row["status"] == "executed", row["reason"]
    assert row["token_amount"] == held - expected
    assert sim_cluster.token_balance(wallet, mint) == 0
    position = query(engine, "SELECT * FROM positions WHERE mint=?", mint)[0]
    assert position["amount"] == 0 and position["cost_lamports"] == 0
    sells = query(engine, "SELECT SUM(quote_amount) AS got FROM intents WHERE side='sell'")[0]["got"]
    fees = query(engine, "SELECT SUM(fee_lamports) AS paid FROM intents")[0]["paid"]
    assert fees > 0
    # Realised PnL is net of every network fee we paid: the buy's joined its cost, the sells' came off.
    assert position["realized_pnl_lamports"] == sells - SOL // 10 - fees

    # the console's snapshot and the trader's stats follow
    snap = engine.snapshot()
    assert {t.leader_signature for t in snap.trades} >= {buy.signature, sell.signature, close.signature}
    # (stats are written just after the intent is settled)
    trader_view = wait_until(
        lambda: (
            (v := next(t for t in engine.snapshot().traders if t.name == leader_name))
            and v.trades_copied == 3
            and v
        ),
        what="trader stats",
    )
    assert trader_view.last_trade_at is not None
    wait_until(lambda: engine.snapshot().in_flight == 0, what="nothing in flight")


def test_the_same_signal_twice_buys_once(engine_on_cluster, sim_cluster):
    engine = engine_on_cluster()
    buy = sim_cluster.trader_swap(sim_cluster.traders[0][0], "buy", sim_cluster.mints[0], quote_lamports=SOL)
    engine.ctx.send("executor", detected(buy))
    engine.ctx.send("executor", detected(buy))
    wait_until(lambda: finished(engine, buy.signature), what="our buy")
    wait_until(
        lambda: engine.snapshot().counters.get("executor_duplicates", 0) >= 1,
        what="the second signal handled",
    )
    assert len(intent_rows(engine, buy.signature)) == 1
    ours = [t for t in sim_cluster.ledger.signatures_for(engine.ctx.state.wallet) if t.err is None]
    assert len([t for t in ours if t.memo and "zapsim:quote" in t.memo]) == 1


def test_skips_are_recorded_with_reasons(engine_on_cluster, sim_cluster):
    engine = engine_on_cluster(limits__blacklist=[sim_cluster.mints[1]])
    leader = sim_cluster.traders[1][0]
    blacklisted = sim_cluster.trader_swap(leader, "buy", sim_cluster.mints[1], quote_lamports=SOL)
    no_position = sim_cluster.trader_swap(leader, "sell", sim_cluster.mints[1], token_fraction=1.0)
    for trade in (blacklisted, no_position):
        engine.ctx.send("executor", detected(trade))
    skips = wait_until(
        lambda: (rows := query(engine, "SELECT * FROM skips ORDER BY id")) and len(rows) == 2 and rows,
        what="two skips",
    )
    assert [(s["leader_signature"], s["reason"]) for s in skips] == [
        (blacklisted.signature, "blacklisted"),
        (no_position.signature, "no position"),
    ]
    assert intent_rows(engine) == []


def test_manual_sell_via_facade(engine_on_cluster, sim_cluster):
    engine = engine_on_cluster()
    wallet = engine.ctx.state.wallet
    mint = sim_cluster.mints[0]
    buy = sim_cluster.trader_swap(sim_cluster.traders[0][0], "buy", mint, quote_lamports=SOL)
    engine.ctx.send("executor", detected(buy))
    wait_until(lambda: finished(engine, buy.signature), what="our buy")
    held = sim_cluster.token_balance(wallet, mint)
    intent_id = engine.sell_position(mint, 25).result(timeout=10)
    row = wait_until(
        lambda: (
            (r := query(engine, "SELECT * FROM intents WHERE id=?", intent_id)[0])
            and r["status"] in ("executed", "failed")
            and r
        ),
        what="manual sell",
    )
    assert row["status"] == "executed" and row["trader"] == "manual"
    assert row["token_amount"] == held // 4
    assert sim_cluster.token_balance(wallet, mint) == held - held // 4


def test_full_path_detection_to_copy(zapbot_home, sim_cluster):
    """All seven workers: the websocket/monitor see the leader's trade, the analyzer decodes it, we copy it."""
    settings = load_settings()
    settings.http.enabled = False
    settings.engine.heartbeat_interval_ms = 500
    settings.engine.poll_interval_s = 1.0
    engine = Engine(settings, cluster=sim_cluster, http=False)
    engine.start(wait_ready=20)
    try:
        wallet = engine.ctx.state.wallet
        wait_until(lambda: sim_cluster.balance(wallet) > 0, what="the sim airdrop")
        wait_until(
            lambda: engine.snapshot().subscriptions == len(sim_cluster.traders),
            what="every trader subscribed",
        )
        leader_name, _ = sim_cluster.traders[0]
        mint = sim_cluster.mints[0]
        buy = sim_cluster.trader_swap(leader_name, "buy", mint, quote_lamports=SOL)
        row = wait_until(lambda: finished(engine, buy.signature), timeout=30, what="the detected copy")
        assert row["status"] == "executed", row["reason"]
        assert row["trader"] == leader_name and row["amount_in"] == SOL // 10
        assert sim_cluster.token_balance(wallet, mint) == row["token_amount"] > 0
        check_timestamps(row)
        sell = sim_cluster.trader_swap(leader_name, "sell", mint, token_fraction=1.0)
        row = wait_until(lambda: finished(engine, sell.signature), timeout=30, what="the detected close")
        assert row["status"] == "executed", row["reason"]
        assert sim_cluster.token_balance(wallet, mint) == 0
    finally:
        engine.stop()
