"""Exit rules and the quote scheduler, with hand-computed values."""

from __future__ import annotations

from engine.exits import (
    ExitRules,
    Lot,
    TakeProfitLevel,
    check_exit,
    effective_exit_rules,
    lots_to_quote,
    pct_to_bps,
)

SOL = 1_000_000_000
TOKENS = 1_000_000


def lot(**changes) -> Lot:
    base = dict(cost_lamports=SOL, bought_token_amount=TOKENS, token_amount=TOKENS, opened_at=1000.0)
    base.update(changes)
    return Lot(**base)


def test_pct_to_bps_is_exact_and_zero_is_off():
    assert pct_to_bps(12.5) == 1250
    assert pct_to_bps(0.01) == 1
    assert pct_to_bps(0) == 0
    assert pct_to_bps(None) == 0


def test_no_rules_never_exit_but_track_the_peak():
    check = check_exit(lot(), 3 * SOL, 2000.0, ExitRules())
    assert check.decision is None
    assert check.peak_lamports == 3 * SOL


def test_take_profit_fires_at_exactly_the_gain():
    rules = ExitRules.from_values(take_profit_pct=50)
    assert check_exit(lot(), 1_499_999_999, 1001.0, rules).decision is None
    decision = check_exit(lot(), 1_500_000_000, 1001.0, rules).decision
    assert decision is not None
    assert (decision.trigger, decision.share_bps, decision.token_amount, decision.level) == (
        "take_profit",
        10_000,
        TOKENS,
        0,
    )


def test_take_profit_sell_share_and_fires_once():
    rules = ExitRules.from_values(take_profit_pct=50, take_profit_sell_pct=40)
    decision = check_exit(lot(), 2 * SOL, 1001.0, rules).decision
    assert decision is not None and decision.token_amount == 400_000 and decision.share_bps == 4000
    # After the sale: 600,000 tokens left, level 0 fired; the same price sells nothing more.
    after = lot(token_amount=600_000, fired_levels=frozenset({0}))
    assert check_exit(after, 1_200_000_000, 1002.0, rules).decision is None


def test_ladder_sorted_and_merged_with_single_level():
    rules = ExitRules.from_values(
        take_profit_levels=[[100, 100], [50, 50]], take_profit_pct=25, take_profit_sell_pct=20
    )
    assert rules.take_profit_levels == (
        TakeProfitLevel(2500, 2000),
        TakeProfitLevel(5000, 5000),
        TakeProfitLevel(10_000, 10_000),
    )


def test_ladder_fires_the_lowest_unfired_level_per_check():
    rules = ExitRules.from_values(take_profit_levels=[[50, 50], [100, 100]])
    # Value jumps to 2.5x: level 0 first (half the lot), even though level 1 is also reached.
    first = check_exit(lot(), 25 * SOL // 10, 1001.0, rules).decision
    assert first is not None and (first.level, first.token_amount) == (0, 500_000)
    # Half left, worth 1.25 SOL = 2.5 SOL for the whole lot: level 1 sells all that is left.
    half = lot(token_amount=500_000, fired_levels=frozenset({0}))
    second = check_exit(half, 1_250_000_000, 1002.0, rules).decision
    assert second is not None and (second.level, second.token_amount) == (1, 500_000)
    # Half left worth 0.9 SOL (1.8 SOL whole lot = +80%): level 1 (+100%) not reached.
    assert check_exit(half, 900_000_000, 1002.0, rules).decision is None


def test_stop_loss_is_judged_on_the_cost_of_what_is_held():
    rules = ExitRules.from_values(stop_loss_pct=30)
    assert check_exit(lot(), 700_000_001, 1001.0, rules).decision is None
    decision = check_exit(lot(), 700_000_000, 1001.0, rules).decision
    assert decision is not None and decision.trigger == "stop_loss" and decision.token_amount == TOKENS
    # Half the lot sold at profit; the half held is worth 0.4 SOL against a cost of 0.5 SOL: -20 %, no stop.
    half = lot(token_amount=500_000, fired_levels=frozenset({0}))
    assert check_exit(half, 400_000_000, 1001.0, rules).decision is None
    stop = check_exit(half, 350_000_000, 1001.0, rules).decision
    assert stop is not None and stop.trigger == "stop_loss" and stop.token_amount == 500_000


def test_trailing_stop_needs_arming_and_uses_the_peak():
    rules = ExitRules.from_values(trailing_stop_pct=20, trailing_arm_pct=50)
    # Peak 1.4 SOL (+40 %) is not armed: a fall to 1.0 does nothing.
    assert check_exit(lot(peak_lamports=1_400_000_000), SOL, 1001.0, rules).decision is None
    # Rise to 2 SOL arms it; the check records the new peak.
    up = check_exit(lot(peak_lamports=1_400_000_000), 2 * SOL, 1001.0, rules)
    assert up.decision is None and up.peak_lamports == 2 * SOL
    # 1.6 SOL is exactly 20 % below the peak of 2 SOL.
    assert check_exit(lot(peak_lamports=2 * SOL), 1_600_000_001, 1002.0, rules).decision is None
    fired = check_exit(lot(peak_lamports=2 * SOL), 1_600_000_000, 1002.0, rules)
    assert fired.decision is not None and fired.decision.trigger == "trailing_stop"
    assert fired.peak_lamports == 2 * SOL


def test_trailing_without_arm_starts_from_the_first_value():
    rules = ExitRules.from_values(trailing_stop_pct=10)
    first = check_exit(lot(), 950_000_000, 1001.0, rules)
    assert first.decision is None and first.peak_lamports == 950_000_000
    fired = check_exit(lot(peak_lamports=950_000_000), 855_000_000, 1002.0, rules)
    assert fired.decision is not None and fired.decision.trigger == "trailing_stop"


def test_max_hold_fires_on_time_even_without_a_quote():
    rules = ExitRules.from_values(max_hold_minutes=10)
    assert check_exit(lot(), None, 1000.0 + 599.9, rules).decision is None
    decision = check_exit(lot(), None, 1000.0 + 600.0, rules).decision
    assert decision is not None and decision.trigger == "max_hold" and decision.token_amount == TOKENS


def test_order_stop_loss_before_trailing_before_max_hold_before_take_profit():
    rules = ExitRules.from_values(
        stop_loss_pct=10, trailing_stop_pct=10, max_hold_minutes=1, take_profit_pct=50
    )
    old = 1000.0 + 3600
    # Down 20 % from cost and from the peak, and old: stop loss.
    assert check_exit(lot(peak_lamports=SOL), 800_000_000, old, rules).decision.trigger == "stop_loss"
    # Up 60 % but 20 % below a peak of 2 SOL, and old: trailing stop (the take profit would sell less).
    assert (
        check_exit(lot(peak_lamports=2 * SOL), 1_600_000_000, old, rules).decision.trigger == "trailing_stop"
    )
    # Up 60 % at its peak and old: max hold sells the whole lot.
    assert check_exit(lot(), 1_600_000_000, old, rules).decision.trigger == "max_hold"
    # Young: take profit.
    assert check_exit(lot(), 1_600_000_000, 1001.0, rules).decision.trigger == "take_profit"


def test_empty_lot_never_exits():
    rules = ExitRules.from_values(max_hold_minutes=1)
    assert check_exit(lot(token_amount=0), None, 10_000.0, rules).decision is None


def test_trader_overrides_key_by_key():
    class Defaults:
        take_profit_pct = 50.0
        take_profit_sell_pct = 100.0
        take_profit_levels: list = []
        stop_loss_pct = 30.0
        trailing_stop_pct = 0.0
        trailing_arm_pct = 0.0
        max_hold_minutes = 0.0
        follow_leader_sells = True

    class Trader:
        take_profit_pct = None
        take_profit_sell_pct = None
        take_profit_levels = None
        stop_loss_pct = 0.0  # this trader turns the stop off
        trailing_stop_pct = None
        trailing_arm_pct = None
        max_hold_minutes = 5.0
        follow_leader_sells = False

    rules = effective_exit_rules(Defaults(), Trader())
    assert rules.take_profit_levels == (TakeProfitLevel(5000, 10_000),)
    assert rules.stop_loss_bps == 0
    assert rules.max_hold_s == 300.0
    assert rules.follow_leader_sells is False
    assert effective_exit_rules(Defaults(), None).stop_loss_bps == 3000


def test_scheduler_spreads_quotes_evenly():
    # 10 lots bought together, checked every 2 s on ticks of 0.25 s: 1.25 quotes a tick on average. The
    # first round comes close together; after it the pace spreads them, and no lot waits over 2 s.
    last: dict[str, float | None] = {f"lot{i}": 0.0 for i in range(10)}
    longest_wait = 0.0
    counts = []
    now = 0.25
    for _ in range(40):
        picked = lots_to_quote(last, now, 0.25, 2.0, max_quotes_per_s=100)
        counts.append(len(picked))
        for lot_id in picked:
            longest_wait = max(longest_wait, now - last[lot_id])
            last[lot_id] = now
        now += 0.25
    assert longest_wait <= 2.0
    # 24 ticks owe 30 quotes at the even pace; lots about to be late add a few.
    assert max(counts[16:]) <= 2 and 30 <= sum(counts[16:]) <= 40


def test_scheduler_quotes_new_and_overdue_lots_first_within_budget():
    last = {"a": 10.0, "b": None, "c": 7.0, "d": 9.5}
    # At t=10, tick 0.5, interval 2: b never quoted, c overdue (3 s); budget 2 quotes a tick.
    assert lots_to_quote(last, 10.0, 0.5, 2.0, max_quotes_per_s=4) == ["b", "c"]
    assert lots_to_quote(last, 10.0, 0.5, 2.0, max_quotes_per_s=1) == ["b"]
    assert lots_to_quote({}, 10.0, 0.5) == []


def test_scheduler_one_lot_is_quoted_once_per_interval():
    last: dict[str, float | None] = {"only": None}
    quoted_at = []
    now = 0.0
    while now < 10.0:
        if lots_to_quote(last, now, 0.25, 2.0):
            last["only"] = now
            quoted_at.append(now)
        now += 0.25
    gaps = [b - a for a, b in zip(quoted_at, quoted_at[1:])]
    assert gaps and all(gap <= 2.0 for gap in gaps) and len(quoted_at) <= 7
