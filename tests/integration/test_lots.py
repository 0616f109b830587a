"""Lots per leader on the local cluster with the real Engine: three leaders buy one token, one sells half; we
sell half of that leader's lot only, on chain we hold exactly the other lots, and per-trader realised PnL adds
up to the wallet's total. A manual sell is split pro rata, or taken from one picked lot."""

from __future__ import annotations

import pytest

from tests.helpers.copying import SOL, detected, engine_factory, finished, query
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def engine_on_cluster(zapbot_home, sim_cluster):
    yield from engine_factory(sim_cluster)


def copy(engine, trade) -> dict:
    assert engine.ctx.send("executor", detected(trade))
    row = wait_until(lambda: finished(engine, trade.signature), what=f"our copy of {trade.trader}")
    assert row["status"] == "executed", row["reason"]
    return row


def lots_by_leader(engine, mint: str) -> dict[str, dict]:
    return {row["leader"]: row for row in query(engine, "SELECT * FROM lots WHERE mint=? ORDER BY id", mint)}


def test_a_leaders_sell_sells_only_that_leaders_lot(engine_on_cluster, sim_cluster):
    engine = engine_on_cluster()
    wallet = engine.ctx.state.wallet
    mint = sim_cluster.mints[0]
    (a, a_wallet), (b, b_wallet), (c, c_wallet) = sim_cluster.traders[:3]

    buys = {}
    for name, lamports in ((a, 2 * SOL), (b, 3 * SOL), (c, SOL)):
        buys[name] = copy(engine, sim_cluster.trader_swap(name, "buy", mint, quote_lamports=lamports))
    lots = lots_by_leader(engine, mint)
    assert set(lots) == {a_wallet, b_wallet, c_wallet}
    for name, leader in ((a, a_wallet), (b, b_wallet), (c, c_wallet)):
        assert lots[leader]["amount"] == buys[name]["token_amount"] > 0
        assert lots[leader]["id"] == buys[name]["lot_id"]
        assert lots[leader]["cost_lamports"] == buys[name]["quote_amount"] + buys[name]["fee_lamports"]
    held = sim_cluster.token_balance(wallet, mint)
    assert held == sum(lot["amount"] for lot in lots.values())

    # b sells half of their holding: we sell half of b's lot, and nothing of a's or c's
    b_before = sim_cluster.token_balance(b_wallet, mint)
    sell = sim_cluster.trader_swap(b, "sell", mint, token_fraction=0.5)
    row = copy(engine, sell)
    b_lot = lots[b_wallet]["amount"]
    expected = b_lot * sell.token_amount // b_before
    assert abs(expected - b_lot // 2) <= 1
    assert row["amount_in"] == row["token_amount"] == expected
    assert row["lot_id"] == lots[b_wallet]["id"]
    after = lots_by_leader(engine, mint)
    assert after[a_wallet]["amount"] == lots[a_wallet]["amount"]
    assert after[c_wallet]["amount"] == lots[c_wallet]["amount"]
    assert after[b_wallet]["amount"] == b_lot - expected
    # on chain we hold exactly the other lots plus what is left of b's
    assert (
        sim_cluster.token_balance(wallet, mint) == held - expected == sum(x["amount"] for x in after.values())
    )
    # b's lot alone carries the realised PnL of the sell, net of its fee
    cost_of_sold = lots[b_wallet]["cost_lamports"] * expected // b_lot
    assert (
        after[b_wallet]["realized_pnl_lamports"] == row["quote_amount"] - row["fee_lamports"] - cost_of_sold
    )
    assert after[a_wallet]["realized_pnl_lamports"] == after[c_wallet]["realized_pnl_lamports"] == 0

    # the position view of the mint is the sum of its lots
    position = query(engine, "SELECT * FROM positions WHERE mint=?", mint)[0]
    assert position["amount"] == sum(x["amount"] for x in after.values())
    assert position["cost_lamports"] == sum(x["cost_lamports"] for x in after.values())
    snap = wait_until(
        lambda: (s := engine.snapshot()) and len(s.lots) == 3 and s, what="lots in the snapshot"
    )
    view = next(p for p in snap.positions if p.mint == mint)
    assert view.amount == sum(lot.amount for lot in snap.lots if lot.mint == mint)

    # c closes: c's lot closes (a loss after fees), counted in c's win rate; the others stay open
    row = copy(engine, sim_cluster.trader_swap(c, "sell", mint, token_fraction=1.0))
    final = lots_by_leader(engine, mint)
    assert final[c_wallet]["amount"] == 0 and final[c_wallet]["closed_at"] is not None
    assert final[a_wallet]["amount"] == lots[a_wallet]["amount"]
    assert sim_cluster.token_balance(wallet, mint) == final[a_wallet]["amount"] + final[b_wallet]["amount"]

    # per-trader realised PnL adds up to the wallet's total (the day's realised PnL)
    books = query(engine, "SELECT leader, realized_pnl_lamports FROM lots")
    total = query(engine, "SELECT realized_pnl_lamports FROM daily")[0]["realized_pnl_lamports"]
    assert sum(x["realized_pnl_lamports"] for x in books) == total
    sells = query(
        engine, "SELECT SUM(quote_amount) AS got, SUM(fee_lamports) AS fees FROM intents WHERE side='sell'"
    )
    assert sells[0]["got"] > 0
    from engine.store import Store

    reader = Store.reader(engine.ctx.db_path)
    reader.use_books(engine.snapshot().books_chain, wallet, remember=False)
    try:
        per_trader = reader.trader_books()
    finally:
        reader.close()
    assert sum(book["realized_pnl_lamports"] for book in per_trader.values()) == total
    assert per_trader[c_wallet]["closed_lots"] == 1 and per_trader[c_wallet]["wins"] == 0
    assert per_trader[c_wallet]["win_rate"] == 0.0
    assert per_trader[a_wallet]["closed_lots"] == 0 and per_trader[a_wallet]["win_rate"] is None

    # a new buy by c after the close opens a new lot; the closed one is kept
    copy(engine, sim_cluster.trader_swap(c, "buy", mint, quote_lamports=SOL))
    c_lots = query(engine, "SELECT * FROM lots WHERE leader=? ORDER BY id", c_wallet)
    assert len(c_lots) == 2 and c_lots[0]["closed_at"] is not None and c_lots[1]["closed_at"] is None


def test_manual_sell_pro_rata_or_from_one_lot(engine_on_cluster, sim_cluster):
    engine = engine_on_cluster()
    wallet = engine.ctx.state.wallet
    mint = sim_cluster.mints[1]
    (a, a_wallet), (b, b_wallet) = sim_cluster.traders[:2]
    copy(engine, sim_cluster.trader_swap(a, "buy", mint, quote_lamports=SOL))
    copy(engine, sim_cluster.trader_swap(b, "buy", mint, quote_lamports=3 * SOL))
    before = lots_by_leader(engine, mint)
    wait_until(lambda: any(p.mint == mint for p in engine.snapshot().positions), what="the position")

    # 50% of the whole position, split over both lots by what each holds
    intent_id = engine.sell_position(mint, 50).result(timeout=10)
    row = wait_until(
        lambda: (
            (r := query(engine, "SELECT * FROM intents WHERE id=?", intent_id)[0])["status"]
            in ("executed", "failed")
            and r
        ),
        what="the manual sell",
    )
    assert row["status"] == "executed", row["reason"]
    assert row["lot_id"] is None and row["trigger"] == "manual"
    after = lots_by_leader(engine, mint)
    sold = {leader: before[leader]["amount"] - after[leader]["amount"] for leader in before}
    assert sum(sold.values()) == row["token_amount"]
    for leader in before:  # each lot gives its share, to a unit
        share = row["token_amount"] * before[leader]["amount"] // sum(x["amount"] for x in before.values())
        assert abs(sold[leader] - share) <= 1
    moves = query(engine, "SELECT * FROM lot_moves WHERE intent_id=?", intent_id)
    assert sum(m["quote_amount"] for m in moves) == row["quote_amount"]
    assert sum(m["fee_lamports"] for m in moves) == row["fee_lamports"]

    # all of a's lot, picked by id: b's lot is untouched
    a_lot = after[a_wallet]
    intent_id = engine.sell_position(mint, 100, lot_id=a_lot["id"]).result(timeout=10)
    row = wait_until(
        lambda: (
            (r := query(engine, "SELECT * FROM intents WHERE id=?", intent_id)[0])["status"]
            in ("executed", "failed")
            and r
        ),
        what="the lot sell",
    )
    assert row["status"] == "executed", row["reason"]
    assert row["lot_id"] == a_lot["id"] and row["token_amount"] == a_lot["amount"]
    final = lots_by_leader(engine, mint)
    assert final[a_wallet]["amount"] == 0 and final[a_wallet]["closed_at"] is not None
    assert final[b_wallet]["amount"] == after[b_wallet]["amount"]
    assert sim_cluster.token_balance(wallet, mint) == final[b_wallet]["amount"]
