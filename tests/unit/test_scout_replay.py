"""The what-if replay: the copy policy decides, the delay model fills, fees count; figures worked by hand."""

from __future__ import annotations

import pytest

from engine.config import LimitsSettings
from engine.constants import WSOL_MINT
from engine.scout.model import WalletSwap
from engine.scout.replay import PRICE_NEXT_TRADE, PRICE_SLIPPAGE, replay
from engine.traders import TraderConfig

LEADER = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"
A, B, X = "MintA", "MintB", "MintX"
SOL = 1_000_000_000
# priority_fee "auto" budgets its 200,000 lamport cap, plus 2 x 5,000 for signatures; rent is not a cost.
FEE = 210_000


def swap(n, t, side, mint, tokens, lamports, *, wallet=LEADER, pre=None, post=None):
    return WalletSwap(
        signature=f"{wallet[:4]}{n}",
        slot=t * 10,
        block_time=t,
        side=side,
        mint=mint,
        token_amount=tokens,
        token_decimals=6,
        quote_mint=WSOL_MINT,
        quote_amount=lamports,
        venue="pumpfun",
        router=None,
        fee_lamports=5_000,
        leader_pre_amount=pre,
        leader_post_amount=post,
    )


LEADER_HISTORY = [
    swap(1, 1000, "buy", A, 1_000_000, SOL),  # 1,000 lamports per unit
    swap(2, 1010, "sell", A, 1_000_000, 1_500_000_000, pre=1_000_000, post=0),  # 1,500 per unit
    swap(3, 1020, "buy", X, 1_000_000, SOL),
    swap(4, 1030, "buy", B, 1_000_000, SOL),
]
MARKET = [swap(1, 1001, "buy", A, 1_000_000, 1_100_000_000, wallet="Other1111")]  # 1,100 per unit


def trader(**changes):
    return TraderConfig(name="scout", wallet=LEADER, **changes)


def test_replay_by_hand():
    result = replay(
        LEADER_HISTORY, trader(), LimitsSettings(blacklist=[X]), delay_ms=1000, market_trades=MARKET
    )
    buy_a, sell_a, buy_b = result.copies
    # 0.1 SOL at the next known A trade one second later: floor(1e8 / 1100) tokens.
    assert (buy_a.amount_in, buy_a.amount_out, buy_a.price_source) == (100_000_000, 90_909, PRICE_NEXT_TRADE)
    # The leader closed: we sell everything; no later A trade, so 1500 less 3 % slippage = 1455.
    assert (sell_a.amount_in, sell_a.amount_out, sell_a.price_source) == (90_909, 132_272_595, PRICE_SLIPPAGE)
    # No later B trade: 1000 plus 3 % = 1030 per unit, floor(1e8 / 1030).
    assert (buy_b.amount_out, buy_b.price_source) == (97_087, PRICE_SLIPPAGE)
    assert dict(result.skipped) == {"blacklisted": 1}
    assert result.copy_realised_pnl_lamports == 32_272_595
    assert result.copy_fees_lamports == 3 * FEE
    assert result.copy_net_pnl_lamports == 32_272_595 - 3 * FEE
    assert result.leader_realised_pnl_lamports == 500_000_000
    assert result.gap_lamports == 32_272_595 - 3 * FEE - 500_000_000
    assert result.copy_return == pytest.approx((32_272_595 - 3 * FEE) / 100_000_000)
    assert result.leader_return == 0.5
    assert (result.copy_round_trips, result.copy_wins, result.copy_open_tokens) == (1, 1, 1)
    assert (result.fills_at_next_trade, result.fills_at_slippage) == (1, 2)
    assert result.to_json_dict()["skipped"] == {"blacklisted": 1}


def test_replay_follows_the_trader_settings():
    result = replay(LEADER_HISTORY, trader(copy_sells=False, buy_once=True), LimitsSettings(), delay_ms=0)
    assert dict(result.skipped) == {"copy sells off": 1}
    assert [fill.mint for fill in result.copies] == [A, X, B]


def test_replay_balance_and_reserve():
    # 0.1 SOL, its fees and the new token account's rent (2,039,280) leave 52,750,720: the next buy's
    # worst-case budget (210,000 + rent) and the 0.05 SOL reserve leave 501,440, below the dust minimum.
    result = replay(
        LEADER_HISTORY, trader(copy_sells=False), LimitsSettings(), start_balance_lamports=155_000_000
    )
    assert len(result.copies) == 1 and result.skipped["reserve"] == 2
    assert result.end_balance_lamports == 155_000_000 - 100_000_000 - FEE - 2_039_280


def test_exit_seam_sells_at_a_later_price():
    def take_profit(position, point):
        return (
            position.tokens
            if point.lamports_per_unit * position.tokens >= 2 * position.cost_lamports
            else None
        )

    history = [swap(1, 0, "buy", A, 1_000, 1_000_000), swap(2, 5, "buy", B, 1_000, 1_000_000)]
    market = [
        swap(8, 2, "buy", A, 1_000, 1_000_000, wallet="Other1111"),  # our fill: 1,000 per unit
        swap(9, 3, "buy", A, 1_000, 3_000_000, wallet="Other1111"),  # 3x: take profit
    ]
    result = replay(
        history, trader(), LimitsSettings(), delay_ms=1000, market_trades=market, exits=[("tp", take_profit)]
    )
    reasons = [(fill.side, fill.mint, fill.reason) for fill in result.copies]
    assert ("sell", A, "exit: tp") in reasons
    assert result.copy_round_trips == 1
    assert result.copy_realised_pnl_lamports == 200_000_000  # 100,000 tokens bought at 1,000 sold at 3,000


def test_a_trade_long_after_the_delay_does_not_price_the_fill():
    # The only later A trade is the leader's own sell a minute on: too late to say what the copy paid at
    # t + 1 s, so the buy fills at the leader's price plus 3 % (floor(1e8 / 1030)), unless the window is off.
    history = [swap(1, 0, "buy", A, 1_000_000, SOL), swap(2, 60, "sell", A, 1_000_000, 2 * SOL)]
    windowed = replay(history, trader(copy_sells=False), LimitsSettings(), delay_ms=1000)
    assert (windowed.copies[0].amount_out, windowed.copies[0].price_source) == (97_087, PRICE_SLIPPAGE)
    unbounded = replay(
        history, trader(copy_sells=False), LimitsSettings(), delay_ms=1000, next_trade_window_ms=None
    )
    assert (unbounded.copies[0].amount_out, unbounded.copies[0].price_source) == (50_000, PRICE_NEXT_TRADE)
    # Within the window (30 s after the delay) the next trade still prices it.
    near = [swap(1, 0, "buy", A, 1_000_000, SOL), swap(2, 31, "sell", A, 1_000_000, 2 * SOL)]
    assert replay(near, trader(copy_sells=False), LimitsSettings()).copies[0].price_source == PRICE_NEXT_TRADE


def test_replay_applies_the_per_token_copy_rules():
    # Three buys of A ten seconds apart, one of B: a 15 s cooldown skips the second A buy, a 0.15 SOL cap
    # per token sizes the third down to what is left under it (0.05 SOL), and buy-once skips both.
    history = [
        swap(1, 0, "buy", A, 1_000_000, SOL),
        swap(2, 10, "buy", A, 1_000_000, SOL),
        swap(3, 20, "buy", A, 1_000_000, SOL),
        swap(4, 30, "buy", B, 1_000_000, SOL),
    ]
    cooled = replay(history, trader(), LimitsSettings(token_cooldown_s=15, max_sol_per_token=0.15))
    assert dict(cooled.skipped) == {"token cooldown": 1}
    assert [(fill.mint, fill.amount_in) for fill in cooled.copies] == [
        (A, 100_000_000),
        (A, 50_000_000),
        (B, 100_000_000),
    ]
    once = replay(history, trader(), LimitsSettings(buy_once_per_token=True))
    assert dict(once.skipped) == {"already bought": 2} and len(once.copies) == 2


def test_replay_runs_the_traders_exit_rules():
    from engine.config_tables import ExitsSettings
    from engine.scout.exit_rules import trader_exits

    # We buy A at 1,000 per unit (the market's trade a second after the leader's); it falls to 700: a 20 %
    # stop loss sells everything there, before the leader's own sell, which then finds no position.
    history = [swap(1, 0, "buy", A, 1_000_000, SOL), swap(2, 100, "sell", A, 1_000_000, 2 * SOL)]
    market = [
        swap(8, 1, "buy", A, 1_000, 1_000_000, wallet="Other1111"),
        swap(9, 50, "sell", A, 1_000, 700_000, wallet="Other1111"),
    ]
    exits, follow = trader_exits(ExitsSettings(stop_loss_pct=20), trader())
    result = replay(
        history, trader(), LimitsSettings(), market_trades=market, exits=exits, follow_leader_sells=follow
    )
    reasons = [(fill.side, fill.reason) for fill in result.copies]
    assert reasons[1] == ("sell", "exit: stop_loss") and result.skipped["no position"] == 1
    assert result.copies[1].amount_out == 100_000 * 700  # 1e8 / 1000 tokens at 700 per unit
    # A trader who does not follow the leader's sells: only the exits close, and with none, nothing does.
    still, follow = trader_exits(ExitsSettings(), trader(follow_leader_sells=False))
    held = replay(
        history, trader(), LimitsSettings(), market_trades=market, exits=still, follow_leader_sells=follow
    )
    assert held.skipped["leader sells not followed"] == 1 and held.copy_open_tokens == 1
