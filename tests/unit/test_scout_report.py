"""The scout report's figures on a hand-made history, each expected value worked out by hand below."""

from __future__ import annotations

import pytest

from engine.constants import WSOL_MINT
from engine.scout.model import WalletSwap
from engine.scout.report import build_report, median_int, percentile_int, realised

WALLET = "Wa11et1111111111111111111111111111111111111"
A, B, C, D = "MintA", "MintB", "MintC", "MintD"
USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
SOL = 1_000_000_000


def swap(n, t, slot, side, mint, tokens, lamports, *, quote=WSOL_MINT, venue="pumpfun", router=None):
    return WalletSwap(
        signature=f"sig{n}",
        slot=slot,
        block_time=t,
        side=side,
        mint=mint,
        token_amount=tokens,
        token_decimals=6,
        quote_mint=quote,
        quote_amount=lamports,
        venue=venue,
        router=router,
        fee_lamports=5_000,
    )


HISTORY = [
    swap(1, 1000, 100, "buy", A, 1_000_000, 1 * SOL),
    swap(2, 1030, 175, "buy", A, 1_000_000, 2 * SOL),
    # FIFO: all of lot 1 (cost 1 SOL) + half of lot 2 (cost 1 SOL) for 3.3 SOL: +1.3 SOL;
    # hold (1e6 x 100 s + 5e5 x 70 s) / 1.5e6 = 90 s
    swap(3, 1100, 250, "sell", A, 1_500_000, 3_300_000_000),
    swap(4, 1130, 260, "buy", B, 500, SOL // 2, router="jupiter"),
    swap(5, 1150, 270, "sell", B, 500, SOL // 5),  # -0.3 SOL after 20 s: a flip
    swap(6, 1200, 300, "sell", A, 500_000, 900_000_000),  # rest of lot 2 (1 SOL): -0.1 SOL after 170 s
    swap(7, 1300, 350, "sell", C, 100, SOL // 20),  # nothing bought before it: unmatched
    swap(8, 1400, 400, "buy", C, 1_000, SOL // 4),  # still open
    swap(9, 1500, 450, "swap", D, 10, 20, quote=USDC, venue="raydium"),
]


def test_report_figures_by_hand():
    report = build_report(WALLET, list(reversed(HISTORY)), creation_slots={B: 258})
    assert (report.swaps, report.buys, report.sells, report.other_swaps) == (9, 4, 4, 1)
    assert report.days == 1.0 and report.swaps_per_day == 9.0  # 500 s of history counts as one day
    assert report.distinct_tokens == 4
    assert report.median_buy_lamports == 750_000_000  # 0.25, 0.5 | 1, 2 SOL
    assert report.realised_pnl_lamports == 900_000_000  # 1.3 - 0.3 - 0.1
    assert (report.round_trips, report.wins, report.losses) == (3, 1, 2)
    assert report.win_rate == pytest.approx(1 / 3)
    assert report.largest_win_lamports == 1_300_000_000
    assert report.largest_loss_lamports == -300_000_000
    assert report.hold_times_ms == [90_000, 20_000, 170_000]
    assert report.median_hold_ms == 90_000 and report.p90_hold_ms == 170_000
    assert report.unmatched_sells == 1
    assert report.open_tokens == 1 and report.open_cost_lamports == SOL // 4
    assert report.fees_lamports == 9 * 5_000
    assert report.venues == {"pumpfun": 8, "raydium": 1}
    assert report.routers == {"jupiter": 1}
    assert (report.flipped_buys, report.flip_share, report.too_fast_to_copy) == (1, 0.25, False)
    assert (report.creation_buys_known, report.creation_buys_early, report.creation_share) == (1, 1, 1.0)
    assert [point[1] for point in report.pnl_curve] == [1_300_000_000, 1_000_000_000, 900_000_000]
    assert report.to_json_dict()["creation"] == 1.0
    assert report.per_token[A] == {
        "swaps": 4,
        "bought": 2_000_000,
        "sold": 2_000_000,
        "realised_pnl_lamports": 1_200_000_000,
    }
    assert report.per_token[C]["realised_pnl_lamports"] == 0 and report.per_token[D]["swaps"] == 1


def test_creation_unknown_without_a_creation_in_the_history():
    report = build_report(WALLET, HISTORY)
    assert report.creation_share is None and report.to_json_dict()["creation"] == "unknown"


def test_days_window_sets_swaps_per_day():
    assert build_report(WALLET, HISTORY, days=3).swaps_per_day == 3.0


def test_a_sniper_is_too_fast_to_copy():
    flips = []
    for n in range(3):
        t = 10_000 + n * 600
        flips += [swap(2 * n, t, n, "buy", A, 1_000, SOL), swap(2 * n + 1, t + 10, n, "sell", A, 1_000, SOL)]
    report = build_report(WALLET, flips)
    assert report.flip_share == 1.0 and report.too_fast_to_copy
    assert report.median_hold_ms == 10_000


def test_partial_unmatched_sell_shares_proceeds_pro_rata():
    book = realised(
        [swap(1, 0, 0, "buy", A, 100, 1_000), swap(2, 10, 1, "sell", A, 400, 8_000)]  # 100 of 400 matched
    )
    (trip,) = book.closed
    assert (trip.tokens, trip.cost_lamports, trip.proceeds_lamports, trip.pnl_lamports) == (
        100,
        1_000,
        2_000,
        1_000,
    )
    assert book.unmatched_tokens == 300 and book.unmatched_sells == 0


def test_lot_sold_in_thirds_costs_exactly_its_price():
    book = realised([swap(1, 0, 0, "buy", A, 3, 10)] + [swap(n, n, n, "sell", A, 1, 5) for n in (2, 3, 4)])
    assert [trip.cost_lamports for trip in book.closed] == [3, 3, 4]


def test_median_and_percentile():
    assert median_int([]) is None and percentile_int([], 0.9) is None
    assert median_int([5, 1, 3]) == 3 and median_int([1, 2, 3, 4]) == 2
    assert percentile_int(list(range(1, 11)), 0.9) == 9 and percentile_int([7], 0.9) == 7
