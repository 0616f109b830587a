"""The copy policy as pure functions: sizing, clamps, limits, proportional sells and the skip vocabulary."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.amounts import sol_to_lamports
from engine.config import LimitsSettings
from engine.messages import SwapDetected
from engine.policy import (
    SKIP_REASONS,
    WSOL_MINT,
    Copy,
    PolicyState,
    Skip,
    decide,
    fee_budget_lamports,
    limits_view,
    sell_amount,
    signal_time,
    stale_skip,
    target_buy_lamports,
)
from engine.traders import TraderConfig

SOL = 1_000_000_000
MINT = "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"
OTHER_MINT = "9wFFyRfZBsuAha4YcuxcXLKwMxJR43S7fPfQLusDBzvT"
WALLET = "5tzFkiKscXHK5ZXCGbXZxdw7gTjjD1mBwuoFbhUvuAi9"


def swap(
    side: str = "buy",
    quote: int = SOL,
    tokens: int = 1_000_000,
    mint: str = MINT,
    slot: int | None = 100,
    quote_mint: str = WSOL_MINT,
) -> SwapDetected:
    return SwapDetected(
        leader_signature="sig",
        wallet=WALLET,
        trader="t",
        side=side,
        mint=mint,
        token_amount=tokens,
        token_decimals=6,
        quote_mint=quote_mint,
        quote_amount=quote,
        venue="pump",
        router=None,
        slot=slot,
        source="ws",
        seen_at=0.0,
    )


def trader(**kw) -> TraderConfig:
    base = dict(name="t", wallet=WALLET, priority_fee=0, priority_fee_cap_lamports=0)
    base.update(kw)
    return TraderConfig(**base)


def limits(**kw) -> LimitsSettings:
    base = dict(min_reserve_sol=0.0)
    base.update(kw)
    return LimitsSettings(**base)


RICH = PolicyState(balance_lamports=1_000 * SOL)


# -- sizing ------------------------------------------------------------------------------------


def test_fixed_size_is_exact_lamports():
    assert sol_to_lamports(0.1) == 100_000_000
    decision = decide(swap(), trader(fixed_sol=0.1), limits(), RICH)
    assert isinstance(decision, Copy)
    assert decision.side == "buy" and decision.amount_in == 100_000_000 and decision.note == ""


@pytest.mark.parametrize("leader_sol,expected_sol", [(2.0, 0.2), (0.05, 0.01), (50.0, 1.0)])
def test_percent_size_clamped_to_min_and_max(leader_sol, expected_sol):
    t = trader(sizing="percent", percent=10, min_sol=0.01, max_sol=1.0)
    assert target_buy_lamports(sol_to_lamports(leader_sol), t) == sol_to_lamports(expected_sol)
    decision = decide(swap(quote=sol_to_lamports(leader_sol)), t, limits(max_sol_per_trade=5), RICH)
    assert isinstance(decision, Copy) and decision.amount_in == sol_to_lamports(expected_sol)


def test_per_trade_cap_sizes_down():
    decision = decide(swap(), trader(fixed_sol=3), limits(max_sol_per_trade=0.5), RICH)
    assert isinstance(decision, Copy) and decision.amount_in == SOL // 2
    assert decision.note == "sized down: per-trade cap"


def test_daily_cap_counts_spent_and_in_flight_then_skips_below_dust():
    lim = limits(daily_spend_cap_sol=1.0, min_trade_sol=0.01)
    book = replace(
        RICH, spent_today_lamports=sol_to_lamports(0.6), in_flight_buy_lamports=sol_to_lamports(0.3)
    )
    decision = decide(swap(), trader(fixed_sol=0.5), lim, book)
    assert isinstance(decision, Copy) and decision.amount_in == sol_to_lamports(0.1)
    assert decision.note == "sized down: daily spend cap"
    book = replace(book, in_flight_buy_lamports=sol_to_lamports(0.395))
    assert decide(swap(), trader(fixed_sol=0.5), lim, book) == Skip(
        "daily spend cap", "5000000 lamports left"
    )


def test_reserve_covers_fees_and_in_flight():
    t = trader(fixed_sol=1.0, priority_fee="auto", priority_fee_cap_lamports=100_000)
    fees = fee_budget_lamports(t, "buy")
    lim = limits(min_reserve_sol=0.5, max_sol_per_trade=10)
    book = PolicyState(balance_lamports=sol_to_lamports(1.2) + fees)
    decision = decide(swap(), t, lim, book)
    assert isinstance(decision, Copy) and decision.amount_in == sol_to_lamports(0.7)
    assert decision.note == "sized down: reserve"
    book = replace(book, in_flight_buy_lamports=sol_to_lamports(0.7), in_flight_fee_budget_lamports=fees)
    assert decide(swap(), t, lim, book).reason == "reserve"
    book = PolicyState(balance_lamports=sol_to_lamports(0.5) + fees)
    assert decide(swap(), t, lim, book).reason == "reserve"
    book = PolicyState(balance_lamports=fees // 2)
    assert decide(swap(), t, lim, book).reason == "insufficient balance"


def test_paper_mode_without_wallet_skips_balance_checks():
    decision = decide(swap(), trader(fixed_sol=0.2), limits(min_reserve_sol=5), PolicyState())
    assert isinstance(decision, Copy) and decision.amount_in == sol_to_lamports(0.2)


def test_fee_budget_for_fixed_micro_lamports_and_tip():
    t = trader(priority_fee=100_000, priority_fee_cap_lamports=1_000_000, jito_tip_lamports=10_000)
    assert fee_budget_lamports(t, "sell") == 10_000 + 140_000 + 10_000
    assert fee_budget_lamports(t, "buy") == 10_000 + 140_000 + 10_000 + 2_039_280


def test_copy_carries_trader_fee_settings():
    t = trader(
        priority_fee="auto", priority_fee_cap_lamports=50_000, jito_tip_lamports=1_000, slippage_bps=250
    )
    decision = decide(swap(), t, limits(), RICH)
    assert isinstance(decision, Copy)
    assert decision.priority_fee_micro_lamports is None and decision.priority_fee_cap_lamports == 50_000
    assert decision.jito_tip_lamports == 1_000 and decision.slippage_bps == 250


# -- filters and the skip vocabulary -----------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,lim,book,sw,reason",
    [
        ({}, {}, PolicyState(paused=True), swap(), "paused"),
        ({}, {}, PolicyState(kill_switch=True), swap(), "kill switch"),
        ({}, {"daily_loss_cap_sol": 1}, PolicyState(realized_pnl_today_lamports=-SOL), swap(), "kill switch"),
        ({"active": False}, {}, RICH, swap(), "trader inactive"),
        ({"active": False}, {}, replace(RICH, trader_paused_reason="3 failures"), swap(), "trader paused"),
        ({"copy_buys": False}, {}, RICH, swap(), "copy buys off"),
        ({"copy_sells": False}, {}, replace(RICH, position_amount=10), swap("sell"), "copy sells off"),
        (
            {},
            {},
            replace(RICH, position_amount=10, follow_leader_sells=False),
            swap("sell"),
            "copy sells off",
        ),
        ({"min_leader_sol": 2}, {}, RICH, swap(quote=SOL), "leader size below min"),
        ({"max_leader_sol": 0.5}, {}, RICH, swap(quote=SOL), "leader size above max"),
        ({}, {"blacklist": [MINT]}, RICH, swap(), "blacklisted"),
        ({}, {"whitelist": [OTHER_MINT]}, RICH, swap(), "not whitelisted"),
        ({"buy_once": True}, {}, replace(RICH, bought_before=True), swap(), "already bought"),
        ({}, {"max_open_positions": 2}, replace(RICH, open_positions=2), swap(), "max open positions"),
        ({}, {}, RICH, swap("sell"), "no position"),
        ({}, {}, replace(RICH, duplicate=True), swap(), "duplicate"),
        ({}, {"max_signal_age_s": 10}, replace(RICH, signal_age_s=10.5), swap(), "stale"),
        ({}, {}, RICH, swap(quote_mint=OTHER_MINT), "not a SOL trade"),
        ({}, {}, PolicyState(balance_lamports=0), swap(), "insufficient balance"),
    ],
)
def test_skip_reasons(kwargs, lim, book, sw, reason):
    decision = decide(sw, trader(**kwargs), limits(**lim), book)
    assert decision == Skip(reason, decision.detail) and reason in SKIP_REASONS


def test_a_stale_buy_is_skipped_but_a_sell_of_the_same_age_is_copied():
    old = replace(RICH, signal_age_s=30.0, position_amount=1_000)
    assert decide(swap(), trader(), limits(max_signal_age_s=10), old).reason == "stale"
    sell = decide(swap("sell", tokens=500), trader(), limits(max_signal_age_s=10), old)
    assert isinstance(sell, Copy) and sell.side == "sell"
    fresh = replace(old, signal_age_s=9.9)
    assert isinstance(decide(swap(), trader(), limits(max_signal_age_s=10), fresh), Copy)


def test_signal_time_is_the_block_time_else_the_slot_estimate():
    assert signal_time(1_700_000_000, 100, 200, 1_700_000_050.0) == 1_700_000_000.0
    # 25 slots behind at 0.4 s a slot: landed 10 s before it was detected
    assert signal_time(None, 100, 125, 1_000.0) == pytest.approx(990.0)
    assert signal_time(None, 130, 125, 1_000.0) == 1_000.0  # a slot ahead of our view is not in the future
    assert signal_time(None, None, 125, 1_000.0) == 1_000.0
    assert stale_skip("buy", 10.0, 10.0) is None  # the limit itself is still fresh
    assert stale_skip("sell", 1e9, 10.0) is None


def test_open_positions_limit_does_not_block_adding_to_a_held_mint():
    book = replace(RICH, open_positions=2, position_amount=5)
    assert isinstance(decide(swap(), trader(), limits(max_open_positions=2), book), Copy)


def test_sells_ignore_kill_switch_caps_and_blacklist():
    book = PolicyState(
        kill_switch=True, balance_lamports=0, position_amount=1_000, spent_today_lamports=10**12
    )
    decision = decide(
        swap("sell", tokens=500),
        trader(),
        limits(blacklist=[MINT]),
        replace(book, leader_pre_amount=1_000, leader_post_amount=500),
    )
    assert decision == Copy(
        "sell",
        500,
        300,
        priority=10,
        priority_fee_micro_lamports=0,
        priority_fee_cap_lamports=0,
        fee_budget_lamports=10_000,
    )


# -- proportional sells ------------------------------------------------------------------------------


def test_proportional_sell_half_then_close():
    assert sell_amount(1_000, 50, 100, 50, True) == (500, False)
    assert sell_amount(1_001, 1, 3, 2, True) == (333, False)
    assert sell_amount(500, 50, 50, 0, True) == (500, True)  # the leader closed


def test_unknown_leader_holding_or_non_proportional_sells_all():
    assert sell_amount(1_000, 50, None, None, True) == (1_000, True)
    assert sell_amount(1_000, 50, 100, 50, False) == (1_000, True)
    assert sell_amount(1_000, 150, 100, None, True) == (1_000, True)


def test_tiny_leader_sell_rounds_to_dust():
    book = replace(RICH, position_amount=10, leader_pre_amount=1_000_000, leader_post_amount=999_999)
    assert decide(swap("sell", tokens=1), trader(), limits(), book).reason == "dust"


# -- property tests: no sequence of leader trades makes us overspend -----------------------------------

leader_trade = st.tuples(
    st.sampled_from(["buy", "buy", "buy", "sell"]),
    st.integers(min_value=1, max_value=500 * SOL),  # leader SOL amount
    st.integers(min_value=0, max_value=5),  # which mint
    st.booleans(),  # does our previous in-flight buy land now?
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    trades=st.lists(leader_trade, min_size=1, max_size=40),
    per_trade=st.floats(min_value=0.01, max_value=5),
    daily=st.floats(min_value=0.01, max_value=20),
    reserve=st.floats(min_value=0, max_value=10),
    balance=st.integers(min_value=0, max_value=30 * SOL),
    sizing=st.sampled_from(["fixed", "percent"]),
    fixed=st.floats(min_value=0.001, max_value=10),
    percent=st.floats(min_value=0.1, max_value=1000),
    fee=st.one_of(st.just("auto"), st.integers(min_value=0, max_value=10**6)),
)
def test_no_sequence_exceeds_per_trade_daily_cap_or_reserve(
    trades, per_trade, daily, reserve, balance, sizing, fixed, percent, fee
):
    lim = limits(
        max_sol_per_trade=per_trade,
        daily_spend_cap_sol=daily,
        min_reserve_sol=reserve,
        max_open_positions=100,
    )
    t = trader(
        sizing=sizing,
        fixed_sol=fixed,
        percent=percent,
        min_sol=0.001,
        max_sol=50,
        priority_fee=fee,
        priority_fee_cap_lamports=200_000,
        jito_tip_lamports=1_000,
    )
    view = limits_view(lim)
    wallet = balance
    spent = 0
    in_flight: list[tuple[int, int]] = []  # (amount, fee budget) of buys sent but not landed
    holdings = [0] * 6
    for side, leader_lamports, mint_index, lands in trades:
        if lands and in_flight:
            amount, fee_budget = in_flight.pop(0)
            # A landed buy costs its amount and at most its fee budget; the rest stays in the wallet.
            wallet -= amount + fee_budget
            spent += amount
        mint = f"mint{mint_index}"
        book = PolicyState(
            balance_lamports=wallet,
            spent_today_lamports=spent,
            in_flight_buy_lamports=sum(a for a, _ in in_flight),
            in_flight_fee_budget_lamports=sum(f for _, f in in_flight),
            position_amount=holdings[mint_index],
            leader_pre_amount=100,
            leader_post_amount=50,
        )
        decision = decide(swap(side, quote=leader_lamports, tokens=50, mint=mint), t, view, book)
        if not isinstance(decision, Copy):
            assert decision.reason in SKIP_REASONS
            continue
        if decision.side == "sell":
            assert decision.amount_in <= holdings[mint_index]
            holdings[mint_index] -= decision.amount_in
            continue
        assert 0 < decision.amount_in <= view.max_per_trade_lamports
        in_flight.append((decision.amount_in, decision.fee_budget_lamports))
        holdings[mint_index] += 1_000
        committed = spent + sum(a for a, _ in in_flight)
        assert committed <= view.daily_spend_cap_lamports
        worst_case_wallet = wallet - sum(a + f for a, f in in_flight)
        assert worst_case_wallet >= view.min_reserve_lamports
