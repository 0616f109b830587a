"""The exit state in the Store (one exit at a time per lot, take-profit levels once, peaks kept) and the exit
runner's pure helpers (the quote budget, the wait after a failed exit, a lot as the exit rules see it)."""

from __future__ import annotations

import pytest

from engine.execution.exit_runner import exit_lot, quotes_budget, retry_wait_s
from engine.exits import ExitRules, TakeProfitLevel, check_exit
from engine.state import LotView
from engine.store import Store

WALLET = "OurWallet1111"


def store_with_lot(tokens: int = 1_000_000, lamports: int = 100_000_000) -> tuple[Store, dict]:
    store = Store(":memory:")
    store.wallet = WALLET
    intent_id, _ = store.record_intent(
        leader_signature="buy1",
        trader="alice",
        wallet=WALLET,
        side="buy",
        mint="Mint1",
        amount_in=lamports,
        leader="AliceWallet",
    )
    store.settle_intent(intent_id, token_amount=tokens, quote_amount=lamports, fee_lamports=5000)
    return store, store.lots()[0]


def test_one_exit_at_a_time_per_lot_and_a_level_once():
    store, lot = store_with_lot()
    first, why = store.record_exit(
        lot_id=lot["id"], trigger="take_profit", token_amount=400_000, exit_level=0
    )
    assert first is not None and why == ""
    row = store.get_intent(first)
    assert (row["trigger"], row["exit_level"], row["lot_id"], row["side"]) == (
        "take_profit",
        0,
        lot["id"],
        "sell",
    )
    assert row["leader_signature"] == f"exit:{lot['id']}:1" and row["trader"] == "alice"
    assert row["leader"] == "AliceWallet" and row["status"] == "queued"
    # While it is in flight no other exit of the lot is recorded, whatever its rule.
    assert store.record_exit(lot_id=lot["id"], trigger="stop_loss", token_amount=10**9) == (
        None,
        "exit in flight",
    )
    state = store.exit_states([lot["id"]])[lot["id"]]
    assert state["in_flight"] and state["fired_levels"] == frozenset({0})
    store.settle_intent(first, token_amount=400_000, quote_amount=80_000_000, fee_lamports=5000)
    # Sold: level 0 never again for this lot; the next level, or a stop, may go.
    assert store.record_exit(lot_id=lot["id"], trigger="take_profit", token_amount=1, exit_level=0) == (
        None,
        "level already sold",
    )
    state = store.exit_states([lot["id"]])[lot["id"]]
    assert not state["in_flight"] and state["fired_levels"] == frozenset({0})
    # A whole-lot exit asks for more than is left: it sells what the lot holds.
    second, _ = store.record_exit(lot_id=lot["id"], trigger="stop_loss", token_amount=10**9)
    assert store.get_intent(second)["amount_in"] == 600_000
    assert store.get_intent(second)["leader_signature"] == f"exit:{lot['id']}:2"


def test_a_failed_exit_frees_the_lot_and_is_counted():
    store, lot = store_with_lot()
    first, _ = store.record_exit(lot_id=lot["id"], trigger="take_profit", token_amount=500_000, exit_level=0)
    store.fail_intent(first, reason="retries used up")
    state = store.exit_states([lot["id"]])[lot["id"]]
    assert not state["in_flight"] and state["failures"] == 1 and state["last_failed_at"] is not None
    assert state["fired_levels"] == frozenset()  # a failed level has not fired: it may fire again
    again, _ = store.record_exit(lot_id=lot["id"], trigger="take_profit", token_amount=500_000, exit_level=0)
    assert again is not None and again != first


def test_an_exit_takes_only_what_other_sells_left():
    store, lot = store_with_lot()
    store.record_intent(
        leader_signature="leader-sell",
        trader="alice",
        wallet=WALLET,
        side="sell",
        mint="Mint1",
        amount_in=900_000,
        leader="AliceWallet",
        status="queued",
    )
    exit_id, _ = store.record_exit(lot_id=lot["id"], trigger="max_hold", token_amount=1_000_000)
    assert store.get_intent(exit_id)["amount_in"] == 100_000


def test_closed_lots_and_unknown_triggers_are_refused():
    store, lot = store_with_lot()
    exit_id, _ = store.record_exit(lot_id=lot["id"], trigger="stop_loss", token_amount=1_000_000)
    store.settle_intent(exit_id, token_amount=1_000_000, quote_amount=50_000_000)
    assert store.lot(lot["id"])["closed_at"] is not None
    assert store.record_exit(lot_id=lot["id"], trigger="stop_loss", token_amount=1) == (None, "lot closed")
    with pytest.raises(ValueError, match="not an exit trigger"):
        store.record_exit(lot_id=lot["id"], trigger="leader", token_amount=1)


def test_the_peak_only_rises():
    store, lot = store_with_lot()
    store.note_exit_value(lot["id"], value_lamports=150, peak_lamports=150, at=1.0)
    store.note_exit_value(lot["id"], value_lamports=90, peak_lamports=120, at=2.0)
    assert store.exit_states([lot["id"]])[lot["id"]]["peak_lamports"] == 150
    assert store.exit_states([999])[999]["peak_lamports"] is None


def test_quote_budget_and_retry_wait():
    assert quotes_budget(3.0, "live", False) == 3.0
    assert quotes_budget(0, "sim", False) == 20.0
    assert quotes_budget(0, "live", True) == 0.5 and quotes_budget(0, "paper", False) == 0.25
    assert retry_wait_s(0) == 0 and retry_wait_s(1) == 5.0 and retry_wait_s(2) == 10.0
    assert retry_wait_s(30) == 60.0


def test_a_lot_after_a_partial_sale_is_judged_on_what_it_holds():
    # Bought 1,000 tokens; sold 400 of them at a take profit; 600 left costing 60 (the store's average cost).
    view = LotView(
        id=1,
        trader="alice",
        leader="A",
        mint="M",
        amount=600,
        bought_amount=1000,
        cost_lamports=60,
        opened_at=0,
    )
    lot = exit_lot(view, peak=None, fired=frozenset({0}))
    assert lot.cost_lamports == 100 and lot.bought_token_amount == 1000 and lot.token_amount == 600
    rules = ExitRules(take_profit_levels=(TakeProfitLevel(5000, 4000), TakeProfitLevel(10_000, 10_000)))
    # The 600 worth 119 (+98 % on their cost of 60): level 1 (+100 %) not yet; worth 120 it fires.
    assert check_exit(lot, 119, 10.0, rules).decision is None
    decision = check_exit(lot, 120, 10.0, rules).decision
    assert decision is not None and decision.level == 1 and decision.token_amount == 600
    # The peak stays in whole-lot units, so a partial sale does not look like a fall to the trailing stop.
    assert check_exit(lot, 120, 10.0, rules).peak_lamports == 200


@pytest.mark.parametrize("budget", [0.25, 0.5, 3.0, 20.0])
@pytest.mark.parametrize("lots", [1, 5, 40])
def test_the_runners_schedule_keeps_the_budget_and_the_interval(budget, lots):
    """The runner's tick (at least 1 / budget) with lots_to_quote: never more quotes than the budget allows,
    and every lot checked within the interval whenever the budget can afford it."""
    from engine.exits import lots_to_quote

    interval = 2.0
    tick = max(0.25, 1.0 / budget)
    last: dict[str, float | None] = {f"lot{i}": None for i in range(lots)}
    gaps: list[float] = []
    quoted = 0
    now = 1000.0
    for _ in range(400):
        for lot_id in lots_to_quote(last, now, tick, interval, budget):
            if last[lot_id] is not None:
                gaps.append(now - last[lot_id])
            last[lot_id] = now
            quoted += 1
        now += tick
    elapsed = 400 * tick
    assert quoted <= budget * elapsed + 1
    if budget * interval >= lots:
        assert max(gaps) <= interval + 1e-9
