"""The exit runner on the local cluster, with the real Engine (data, executor and cache workers): a followed
leader buys, a trader nobody follows pumps or dumps the price, and our lot leaves by its own rules — take
profit (once per level), stop loss, trailing stop after a peak, max hold — each recorded with its trigger;
and a run where the leader never sells, one token pumped and one dumped, ends with neither token held."""

from __future__ import annotations

import csv
import json
import time

import pytest

from engine.workers.cache import CacheWorker
from engine.workers.data import DataWorker
from engine.workers.executor import ExecutorWorker
from tests.helpers.copying import SOL, detected, engine_factory, finished, query, scenario_cluster
from tests.helpers.waiting import wait_until
from zapbot_tui.commands.trades import main as trades_main

pytestmark = pytest.mark.slow

WORKERS = {"data": DataWorker, "executor": ExecutorWorker, "cache": CacheWorker}
SCENARIO = """
seed = 21
[[tokens]]
symbol = "TPUP"
[[tokens]]
symbol = "SLOW"
[[tokens]]
symbol = "TRAIL"
[[tokens]]
symbol = "HOLD"
[[tokens]]
symbol = "PUMPY"
[[tokens]]
symbol = "DUMPY"
[[traders]]
name = "leader"
sol = 500
[[traders]]
name = "pumper"
sol = 2000
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    yield from scenario_cluster(tmp_path_factory, SCENARIO, "exits")


@pytest.fixture
def engines(zapbot_home, cluster):
    yield from engine_factory(cluster)


def copy_buy(engine, cluster, symbol: str) -> dict:
    """The leader buys symbol; we copy it (executed) and hold one lot of it."""
    buy = cluster.trader_swap("leader", "buy", symbol, quote_lamports=SOL)
    assert engine.ctx.send("executor", detected(buy))
    row = wait_until(lambda: finished(engine, buy.signature), what=f"the copy of {symbol}")
    assert row["status"] == "executed", row["reason"]
    lot = wait_until(lambda: lot_of(engine, buy.mint), what=f"the lot of {symbol}")
    assert lot["amount"] == row["token_amount"] > 0 and lot["leader"] == buy.wallet
    return lot


def lot_of(engine, mint: str) -> dict | None:
    lots = query(engine, "SELECT * FROM lots WHERE mint=? ORDER BY id DESC", mint)
    return lots[0] if lots else None


def exits_of(engine, lot_id: int) -> list[dict]:
    return query(engine, "SELECT * FROM intents WHERE lot_id=? AND trigger != 'leader' ORDER BY id", lot_id)


def runner(engine):
    return engine.supervisor.slots["cache"].worker.exit_runner


def executed_exit(engine, lot_id: int) -> dict:
    def done():
        rows = exits_of(engine, lot_id)
        return rows[-1] if rows and rows[-1]["status"] in ("executed", "failed") else None

    row = wait_until(done, timeout=30, what=f"an exit of lot {lot_id}")
    assert row["status"] == "executed", row["reason"]
    # The executor took the exit as it was sent, not by a restart's reconciliation after a crash.
    snapshot = engine.ctx.state.snapshot()
    assert snapshot.worker("executor").restarts == 0 and snapshot.worker("cache").restarts == 0
    return row


def quotes_of(cluster, mint: str) -> int:
    return cluster.swap_api.quotes.get(mint, 0)


def test_take_profit_sells_its_share_once(engines, cluster):
    engine = engines(workers=WORKERS, exits__take_profit_pct=50, exits__take_profit_sell_pct=40)
    lot = copy_buy(engine, cluster, "TPUP")
    # Valued while nothing fires: the lot is quoted on its own schedule and its position gets its PnL.
    mint = lot["mint"]
    seen = quotes_of(cluster, mint)
    wait_until(lambda: quotes_of(cluster, mint) >= seen + 2, what="the lot to be valued")
    assert exits_of(engine, lot["id"]) == []
    wait_until(
        lambda: engine.ctx.state.positions[mint].unrealized_pnl_lamports is not None,
        what="the position's unrealised PnL",
    )
    cluster.move_price("pumper", "TPUP", 120)
    sold = executed_exit(engine, lot["id"])
    assert sold["trigger"] == "take_profit" and sold["exit_level"] == 0 and sold["side"] == "sell"
    assert sold["amount_in"] == sold["token_amount"] == lot["bought_amount"] * 40 // 100
    assert sold["leader_signature"] == f"exit:{lot['id']}:1" and sold["trader"] == "leader"
    # The next checks (the price is still up) do not sell again: the level has fired for this lot.
    seen = quotes_of(cluster, mint)
    wait_until(lambda: quotes_of(cluster, mint) >= seen + 4, what="more checks of the lot")
    assert [row["id"] for row in exits_of(engine, lot["id"])] == [sold["id"]]
    after = lot_of(engine, mint)
    assert after["id"] == lot["id"] and after["closed_at"] is None
    assert after["amount"] == lot["amount"] - sold["token_amount"]
    wallet = engine.ctx.state.wallet
    assert cluster.token_balance(wallet, "TPUP") == after["amount"]
    assert after["realized_pnl_lamports"] > 0
    # The trades' trigger reaches the console's rows.
    view = engine.ctx.state.trades[sold["id"]]
    assert view.trigger == "take_profit" and view.status == "executed"


def test_stop_loss_sells_the_lot(engines, cluster):
    engine = engines(workers=WORKERS, exits__stop_loss_pct=30)
    cluster.move_price("pumper", "SLOW", 60)  # the pumper holds SLOW, to dump it later
    lot = copy_buy(engine, cluster, "SLOW")
    assert engine.pause_buys()  # a pause of buys keeps the exits of open lots
    cluster.move_price("pumper", "SLOW", -55)
    sold = executed_exit(engine, lot["id"])
    assert sold["trigger"] == "stop_loss" and sold["amount_in"] == lot["amount"]
    closed = lot_of(engine, lot["mint"])
    assert closed["closed_at"] is not None and closed["amount"] == 0 and closed["realized_pnl_lamports"] < 0
    assert cluster.token_balance(engine.ctx.state.wallet, "SLOW") == 0


def test_trailing_stop_fires_after_a_peak(engines, cluster):
    engine = engines(workers=WORKERS, exits__trailing_stop_pct=25)
    lot = copy_buy(engine, cluster, "TRAIL")
    cluster.move_price("pumper", "TRAIL", 80)

    def peak() -> int:
        rows = query(engine, "SELECT peak_lamports FROM lot_exits WHERE lot_id=?", lot["id"])
        return int(rows[0]["peak_lamports"] or 0) if rows else 0

    # The peak is remembered in lot_exits (a restart keeps the trailing stop's reference).
    wait_until(lambda: peak() * 10 >= lot["cost_lamports"] * 15, what="the peak after the pump")
    assert exits_of(engine, lot["id"]) == []
    cluster.move_price("pumper", "TRAIL", -40)
    sold = executed_exit(engine, lot["id"])
    assert sold["trigger"] == "trailing_stop" and sold["amount_in"] == lot["amount"]
    # Sold below the peak but above cost: a trailing stop, not a loss.
    assert sold["quote_amount"] < peak() and lot_of(engine, lot["mint"])["realized_pnl_lamports"] > 0
    assert cluster.token_balance(engine.ctx.state.wallet, "TRAIL") == 0


def test_max_hold_sells_on_time(engines, cluster):
    engine = engines(workers=WORKERS, exits__max_hold_minutes=0.05)  # 3 s
    lot = copy_buy(engine, cluster, "HOLD")
    # Paused all: the lot is past its max hold and checked again and again, and nothing is sold.
    assert engine.pause_all()
    wait_until(lambda: time.time() - lot["opened_at"] >= 3.5, what="the lot to pass its max hold")
    seen = quotes_of(cluster, lot["mint"])
    wait_until(lambda: quotes_of(cluster, lot["mint"]) >= seen + 3, what="checks of the lot while paused")
    assert exits_of(engine, lot["id"]) == []
    assert engine.resume_all()
    sold = executed_exit(engine, lot["id"])
    assert sold["trigger"] == "max_hold" and sold["amount_in"] == lot["amount"]
    assert sold["created_at"] - lot["opened_at"] >= 3.0  # not before the lot was that old
    assert lot_of(engine, lot["mint"])["closed_at"] is not None
    assert cluster.token_balance(engine.ctx.state.wallet, "HOLD") == 0


def test_pump_and_dump_run_ends_with_neither_token(engines, cluster, capsys, tmp_path):
    engine = engines(workers=WORKERS, exits__take_profit_pct=50, exits__stop_loss_pct=30)
    engine.traders.remove("pumper")  # nobody follows the pumper
    assert engine.traders.get("pumper") is None
    cluster.move_price("pumper", "DUMPY", 50)
    pumped = copy_buy(engine, cluster, "PUMPY")
    dumped = copy_buy(engine, cluster, "DUMPY")
    cluster.move_price("pumper", "PUMPY", 120)
    cluster.move_price("pumper", "DUMPY", -60)
    take = executed_exit(engine, pumped["id"])
    stop = executed_exit(engine, dumped["id"])
    assert take["trigger"] == "take_profit" and take["amount_in"] == pumped["amount"]
    assert stop["trigger"] == "stop_loss" and stop["amount_in"] == dumped["amount"]
    wallet = engine.ctx.state.wallet
    assert cluster.token_balance(wallet, "PUMPY") == 0 and cluster.token_balance(wallet, "DUMPY") == 0
    for lot in (pumped, dumped):
        assert lot_of(engine, lot["mint"])["closed_at"] is not None
    # The leader never sold: every sell is an exit, and each lot has exactly one.
    sells = query(engine, "SELECT trigger, lot_id FROM intents WHERE side='sell' ORDER BY id")
    assert sorted((row["lot_id"], row["trigger"]) for row in sells) == sorted(
        [(pumped["id"], "take_profit"), (dumped["id"], "stop_loss")]
    )
    assert lot_of(engine, pumped["mint"])["realized_pnl_lamports"] > 0
    assert lot_of(engine, dumped["mint"])["realized_pnl_lamports"] < 0
    assert runner(engine).exits_fired == 2
    # `zapbot trades --json` and its CSV carry each exit's trigger.
    assert trades_main(["--json"]) == 0
    listed = {row["signature"]: row for row in json.loads(capsys.readouterr().out) if row["side"] == "sell"}
    assert {listed[take["signature"]]["trigger"], listed[stop["signature"]]["trigger"]} == {
        "take_profit",
        "stop_loss",
    }
    assert trades_main(["--csv", str(tmp_path / "trades.csv")]) == 0
    with open(tmp_path / "trades.csv", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["side"] == "sell"]
    assert sorted(row["trigger"] for row in rows) == ["stop_loss", "take_profit"]


def test_follow_leader_sells_off_leaves_the_lot_to_its_exits(engines, cluster):
    engine = engines(exits__follow_leader_sells=False)
    lot = copy_buy(engine, cluster, "HOLD")
    sell = cluster.trader_swap("leader", "sell", "HOLD", token_fraction=1.0)
    assert engine.ctx.send("executor", detected(sell))
    skip = wait_until(
        lambda: query(engine, "SELECT * FROM skips WHERE leader_signature=?", sell.signature),
        what="the leader's sell to be decided",
    )[0]
    assert skip["reason"] == "copy sells off" and "follow_leader_sells" in skip["detail"]
    assert lot_of(engine, lot["mint"])["amount"] == lot["amount"]
