"""The PnL replay behind /profit and /performance agrees with the positions table; the report texts."""

from __future__ import annotations

import time

from engine.state import EngineState, LogLine, PositionView
from engine.store import Store
from engine.store.reports import daily_totals, executed_fills, replay
from engine.telegram.reports import balance_text, daily_text, logs_text, performance_text, profit_text

M1 = "Mint1111111111111111111111111111111111111111"
M2 = "Mint2222222222222222222222222222222222222222"
SOL = 1_000_000_000


def seed(store: Store, now: float) -> None:
    trades = [
        ("alice", "buy", M1, 1_000_000, SOL, 5_000),
        ("alice", "sell", M1, 1_000_000, 3 * SOL // 2, 5_000),  # a win: +0.49999 SOL
        ("bob", "buy", M2, 2_000_000, SOL // 2, 5_000),
        ("bob", "sell", M2, 1_000_000, SOL // 5, 5_000),  # a loss on half the position
    ]
    for n, (trader, side, mint, tokens, quote, fee) in enumerate(trades):
        intent_id, _ = store.record_intent(
            leader_signature=f"L{n}",
            trader=trader,
            wallet="W",
            side=side,
            mint=mint,
            amount_in=quote if side == "buy" else tokens,
            token_decimals=6,
            status="queued",
        )
        store.settle_intent(
            intent_id, token_amount=tokens, quote_amount=quote, fee_lamports=fee, confirmed_at=now + n
        )


def test_replay_matches_the_positions_table(tmp_path):
    now = (time.time() // 86400) * 86400 + 43_200  # midday UTC: the four fills fall on one day
    store = Store(tmp_path / "t.db")
    try:
        seed(store, now)
        perf = replay(executed_fills(store.conn))
        positions = {p["mint"]: p for p in store.positions(open_only=False)}
        days = daily_totals(store.conn, 7)
    finally:
        store.close()
    assert perf.by_mint[M1].realized_pnl_lamports == positions[M1]["realized_pnl_lamports"]
    assert perf.by_mint[M2].realized_pnl_lamports == positions[M2]["realized_pnl_lamports"]
    alice, bob = perf.by_trader["alice"], perf.by_trader["bob"]
    assert alice.realized_pnl_lamports == 3 * SOL // 2 - 5_000 - (SOL + 5_000)  # proceeds - fee - cost
    assert (alice.wins, alice.losses, alice.win_rate) == (1, 0, 1.0)
    assert (bob.wins, bob.losses, bob.win_rate) == (0, 1, 0.0)
    assert perf.total.win_rate == 0.5 and perf.total.trades == 4 and perf.decimals[M1] == 6
    assert sum(d["realized_pnl_lamports"] for d in days) == perf.total.realized_pnl_lamports


def test_report_texts_read_well(tmp_path):
    now = (time.time() // 86400) * 86400 + 43_200  # midday UTC: the four fills fall on one day
    store = Store(tmp_path / "t.db")
    try:
        seed(store, now)
        fills = executed_fills(store.conn)
        rows = daily_totals(store.conn, 3)
    finally:
        store.close()
    perf = replay(fills)
    state = EngineState("paper")
    state.set_position(
        PositionView(M2, 1_000_000, SOL // 4, unrealized_pnl_lamports=SOL // 10, decimals=6, symbol="ZAP"), M2
    )
    snap = state.snapshot()
    profit = profit_text(perf, snap)
    assert "Realised: +0.4500 SOL over 2 sell(s); win rate 50% (1/2)" in profit
    assert "unrealised +0.1000 SOL" in profit and "Total: +0.5500 SOL" in profit
    assert "  alice: +0.5000 SOL, 1 buy(s) 1 sell(s), win rate 100% (1/1)" in profit
    performance = performance_text(perf, snap)
    assert "1. Mint…1111: +0.5000 SOL, 2 trade(s), win rate 100% (1/1)" in performance
    assert (
        "2. ZAP (Mint…2222): -0.0500 SOL, 2 trade(s), win rate 0% (0/1)" in performance
        and "Per trader:" in performance
    )
    daily = daily_text(rows, fills, 3, now=now).splitlines()
    assert len(daily) == 4 and "4 trade(s)" in daily[1] and "PnL +0.4500 SOL" in daily[1]
    assert daily[2].endswith("0 trade(s)")
    balance = balance_text(snap)
    assert (
        "No wallet (paper mode" in balance
        and "ZAP (Mint…2222): 1.00, cost 0.2500 SOL, value 0.3500 SOL" in balance
    )
    state.add_log(LogLine(now, "warning", "executor", "slow RPC"))
    assert logs_text(state.snapshot(), 5).splitlines()[1].endswith("WARN executor: slow RPC")
    assert profit_text(replay([]), snap).startswith("No executed trades yet")


def test_a_traders_win_rate_is_per_closed_lot_from_the_books(tmp_path):
    """Like freqtrade's per closed trade: alice's lot of M1 closed in profit, bob's lot of M2 is still open
    (half sold at a loss), carol's two lots closed, one in profit."""
    store = Store(tmp_path / "t.db")
    now = time.time()
    fills = [
        ("alice", "LeaderA", "buy", M1, 1_000_000, SOL),
        ("alice", "LeaderA", "sell", M1, 1_000_000, 3 * SOL // 2),
        ("bob", "LeaderB", "buy", M2, 2_000_000, SOL // 2),
        ("bob", "LeaderB", "sell", M2, 1_000_000, SOL // 5),
        ("carol", "LeaderC", "buy", M1, 1_000_000, SOL),
        ("carol", "LeaderC", "sell", M1, 1_000_000, 2 * SOL),
        ("carol", "LeaderC", "buy", M2, 1_000_000, SOL),
        ("carol", "LeaderC", "sell", M2, 1_000_000, SOL // 2),
    ]
    try:
        for n, (trader, leader, side, mint, tokens, quote) in enumerate(fills):
            intent_id, _ = store.record_intent(
                leader_signature=f"L{n}",
                trader=trader,
                wallet="W",
                side=side,
                mint=mint,
                amount_in=quote if side == "buy" else tokens,
                token_decimals=6,
                status="queued",
                leader=leader,
            )
            store.settle_intent(
                intent_id, token_amount=tokens, quote_amount=quote, fee_lamports=5_000, confirmed_at=now + n
            )
        perf = replay(executed_fills(store.conn))
        books = store.trader_books()
    finally:
        store.close()
    snap = EngineState("paper").snapshot()
    profit = profit_text(perf, snap, books)
    assert "  alice: +0.5000 SOL, 1 buy(s) 1 sell(s), win rate 100% (1/1 closed lots)" in profit, profit
    assert "  bob: " in profit and "no closed lots yet (1 open)" in profit
    assert "win rate 50% (1/2 closed lots)" in profit  # carol
    performance = performance_text(perf, snap, books=books)
    assert "  carol: +0.5000 SOL, 4 trade(s), win rate 50% (1/2 closed lots)" in performance, performance
    assert profit_text(perf, snap) != profit  # without the books: the sells' win rate, as before
