"""Pauses that keep sells, on the local cluster with the real engine: `p` in the console pauses buys while
the leaders' sells of open lots are still copied, `P` pauses everything; auto-pause after failures pauses
only that trader's buys."""

from __future__ import annotations

import pytest

from tests.helpers.copying import SOL, detected, engine_factory, finished, query
from tests.helpers.waiting import wait_until
from zapbot_tui.app import ZapBotApp

pytestmark = pytest.mark.slow


@pytest.fixture
def engine_on_cluster(zapbot_home, sim_cluster):
    yield from engine_factory(sim_cluster)


def copied(engine, trade) -> dict:
    assert engine.ctx.send("executor", detected(trade))
    row = wait_until(lambda: finished(engine, trade.signature), what=f"our copy of {trade.side}")
    assert row["status"] == "executed", row["reason"]
    return row


def skipped(engine, trade) -> str:
    assert engine.ctx.send("executor", detected(trade))
    rows = wait_until(
        lambda: query(engine, "SELECT reason FROM skips WHERE leader_signature=?", trade.signature),
        what=f"the skip of {trade.side}",
    )
    assert not query(engine, "SELECT id FROM intents WHERE leader_signature=?", trade.signature)
    return rows[0]["reason"]


async def until(pilot, condition, rounds: int = 300) -> bool:
    for _ in range(rounds):
        if condition():
            return True
        await pilot.pause(0.02)
    return condition()


async def test_p_in_the_console_pauses_buys_and_keeps_copying_sells(engine_on_cluster, sim_cluster):
    engine = engine_on_cluster()
    wallet = engine.ctx.state.wallet
    leader = sim_cluster.traders[0][0]
    mint, other = sim_cluster.mints[0], sim_cluster.mints[1]
    bought = copied(engine, sim_cluster.trader_swap(leader, "buy", mint, quote_lamports=2 * SOL))

    app = ZapBotApp(engine, cursor_blink=False, persist_theme=False)
    async with app.run_test(size=(120, 40)) as pilot:
        assert await until(pilot, lambda: app.phase == "running" and app.main.snapshot is not None)
        await pilot.press("p")
        assert engine.pause_mode == "buys"
        assert await until(pilot, lambda: "BUYS PAUSED" in app.main.header.badges)

        # a new buy is skipped; the leader's sell of the open lot is still copied, on chain
        assert skipped(engine, sim_cluster.trader_swap(leader, "buy", other, quote_lamports=SOL)) == (
            "buys paused"
        )
        sold = copied(engine, sim_cluster.trader_swap(leader, "sell", mint, token_fraction=0.5))
        assert sold["lot_id"] == bought["lot_id"]
        assert sim_cluster.token_balance(wallet, mint) == bought["token_amount"] - sold["token_amount"]
        assert sim_cluster.token_balance(wallet, other) == 0

        # P pauses everything: now the sell is skipped too
        await pilot.press("P")
        assert engine.pause_mode == "all"
        assert await until(pilot, lambda: "ALL PAUSED" in app.main.header.badges)
        assert skipped(engine, sim_cluster.trader_swap(leader, "sell", mint, token_fraction=1.0)) == "paused"
        await pilot.press("p")  # resume
        assert engine.pause_mode == "" and not engine.paused
        assert await until(pilot, lambda: not any("PAUSED" in b for b in app.main.header.badges))


def test_auto_pause_pauses_only_that_traders_buys(engine_on_cluster, sim_cluster):
    engine = engine_on_cluster(limits__auto_pause_after_failures=1)
    wallet = engine.ctx.state.wallet
    leader = sim_cluster.traders[0][0]
    mint, other = sim_cluster.mints[0], sim_cluster.mints[1]
    bought = copied(engine, sim_cluster.trader_swap(leader, "buy", mint, quote_lamports=2 * SOL))

    # one buy that cannot land (every send refused, blockhashes short-lived) fails and auto-pauses the trader
    sim_cluster.set_chaos(send_fail_ratio=1.0, blockhash_ttl_slots=3)
    failing = sim_cluster.trader_swap(leader, "buy", other, quote_lamports=SOL)
    assert engine.ctx.send("executor", detected(failing))
    row = wait_until(lambda: finished(engine, failing.signature), what="the failed buy")
    assert row["status"] == "failed"
    sim_cluster.set_chaos(send_fail_ratio=0.0, blockhash_ttl_slots=None)
    wait_until(lambda: engine.traders.get(leader).active is False, what="auto-pause")
    view = wait_until(
        lambda: (v := next(t for t in engine.snapshot().traders if t.name == leader)).paused_reason and v,
        what="the pause on screen",
    )
    assert "buys paused, sells still copied" in view.paused_reason

    # its buys are skipped, its sell of the open lot is still copied
    assert skipped(engine, sim_cluster.trader_swap(leader, "buy", other, quote_lamports=SOL)) == (
        "trader paused"
    )
    sold = copied(engine, sim_cluster.trader_swap(leader, "sell", mint, token_fraction=1.0))
    assert sold["token_amount"] == bought["token_amount"]
    assert sim_cluster.token_balance(wallet, mint) == 0
