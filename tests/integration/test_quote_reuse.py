"""One /quote per copied buy on the local cluster: the safety gate's buy quote is the one the swap is built on,
and a mint's sell route is asked once; a gate quote past its TTL is quoted again (the sim's swap API counts)."""

from __future__ import annotations

import time

import pytest

from engine.execution.safety_gate import BUY_QUOTE_TTL_S
from tests.helpers.copying import SOL, detected, engine_factory, finished
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def engines(zapbot_home, sim_cluster):
    yield from engine_factory(sim_cluster)


def quotes(cluster) -> int:
    return sum(cluster.swap_api.quotes.values())


def copy_buy(engine, cluster, mint: str) -> tuple[dict, int]:
    """A leader buy of mint copied to its end: our intent's row and the /quote calls our copy made."""
    buy = cluster.trader_swap(cluster.traders[0][0], "buy", mint, quote_lamports=SOL)
    before = quotes(cluster)
    assert engine.ctx.send("executor", detected(buy))
    row = wait_until(lambda: finished(engine, buy.signature), what="the copied buy")
    return row, quotes(cluster) - before


def lifecycle(engine):
    return engine.supervisor.slots["executor"].worker.lifecycle


def test_a_copied_buy_makes_one_quote_and_a_stale_gate_quote_is_requoted(engines, sim_cluster):
    engine = engines()
    mint = sim_cluster.mints[0]
    # The first buy of a mint also asks once whether the tokens can be sold back (require_sell_route).
    row, calls = copy_buy(engine, sim_cluster, mint)
    assert row["status"] == "executed" and calls == 2
    # From then on: the gate's buy quote, which the swap is built on. Exactly one /quote.
    row, calls = copy_buy(engine, sim_cluster, mint)
    assert row["status"] == "executed" and calls == 1
    # The trade's clock past the gate quote's TTL: the swap is quoted again before it is built.
    lifecycle(engine).quote_clock = lambda: time.monotonic() + BUY_QUOTE_TTL_S + 1.0
    row, calls = copy_buy(engine, sim_cluster, mint)
    assert row["status"] == "executed" and calls == 2
