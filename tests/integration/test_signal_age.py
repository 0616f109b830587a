"""limits.max_signal_age_s on the local cluster: a buy that waited in the queue past the limit is skipped
`stale` and never sent; a sell of the same age is still sent (getting out matters more than the price)."""

from __future__ import annotations

import time

import pytest

from tests.helpers.copying import SOL, detected, engine_factory, intent_rows, query
from tests.helpers.gated import gate_swap_builds
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.slow

MAX_AGE_S = 2.0


@pytest.fixture
def gated(monkeypatch):
    yield from gate_swap_builds(monkeypatch)


@pytest.fixture
def engine_on_cluster(zapbot_home, sim_cluster):
    yield from engine_factory(sim_cluster)


def _status(engine, signature):
    rows = intent_rows(engine, signature)
    return rows[0]["status"] if rows else None


def test_a_buy_older_than_the_limit_is_skipped_stale_and_a_sell_is_still_sent(
    gated, engine_on_cluster, sim_cluster
):
    engine = engine_on_cluster(engine__max_concurrent_trades=1, limits__max_signal_age_s=MAX_AGE_S)
    leader = sim_cluster.traders[0][0]
    held_mint, sold_mint, late_mint = sim_cluster.mints[0], sim_cluster.mints[1], sim_cluster.mints[2]
    # A position to sell later.
    first = sim_cluster.trader_swap(leader, "buy", sold_mint, quote_lamports=SOL)
    engine.ctx.send("executor", detected(first))
    wait_until(lambda: _status(engine, first.signature) == "executed", what="the first buy")
    # The only trade slot is taken by a buy whose swap build the test holds.
    gated.held_mint = held_mint
    blocker = sim_cluster.trader_swap(leader, "buy", held_mint, quote_lamports=SOL)
    engine.ctx.send("executor", detected(blocker))
    assert gated.holding.wait(20), "the held buy never reached its swap build"
    late_buy = sim_cluster.trader_swap(leader, "buy", late_mint, quote_lamports=SOL)
    sell = sim_cluster.trader_swap(leader, "sell", sold_mint, token_fraction=1.0)
    signals = [detected(late_buy), detected(sell)]
    for signal in signals:
        engine.ctx.send("executor", signal)
    wait_until(
        lambda: (
            _status(engine, late_buy.signature) == "queued" and _status(engine, sell.signature) == "queued"
        ),
        what="both signals queued behind the held buy",
    )
    # Both wait past the limit, then the slot frees.
    wait_until(lambda: time.time() - max(s.detected_at for s in signals) > MAX_AGE_S + 0.2, what="age")
    gated.gate.set()
    wait_until(lambda: _status(engine, sell.signature) == "executed", what="the old sell")
    buy = wait_until(
        lambda: (
            (rows := intent_rows(engine, late_buy.signature)) and rows[0]["status"] == "skipped" and rows[0]
        ),
        what="the old buy skipped",
    )
    assert buy["reason"].startswith("stale"), buy["reason"]
    assert buy["signature"] is None and buy["signed_tx"] is None  # never signed, never sent
    assert query(engine, "SELECT * FROM trades WHERE intent_id=?", buy["id"]) == []
    assert sim_cluster.token_balance(engine.ctx.state.wallet, late_mint) == 0
    assert sim_cluster.token_balance(engine.ctx.state.wallet, sold_mint) == 0  # the sell landed
    # One record each: no skip row besides the intent.
    assert query(engine, "SELECT * FROM skips WHERE leader_signature=?", late_buy.signature) == []
    wait_until(lambda: _status(engine, blocker.signature) == "executed", what="the held buy")
