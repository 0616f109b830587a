"""The chain-priced priority fee: the percentile rule, the cap, and a cache that answers with no request."""

from __future__ import annotations

import pytest

from engine.chain.fees import capped_micro_lamports, percentile_fee


def _entries(*fees: int) -> list[dict[str, int]]:
    return [{"slot": 100 + i, "prioritizationFee": f} for i, f in enumerate(fees)]


def test_percentile_is_nearest_rank() -> None:
    entries = _entries(0, 10, 20, 30, 40, 50, 60, 70, 80, 90)
    assert percentile_fee(entries, 75) == 70
    assert percentile_fee(entries, 50) == 40
    assert percentile_fee(entries, 100) == 90
    assert percentile_fee([], 75) == 0
    with pytest.raises(ValueError, match="0..100"):
        percentile_fee(entries, 101)


def test_cap_limits_the_total() -> None:
    assert capped_micro_lamports(1_000_000, 200_000, 100_000) == 500_000
    assert capped_micro_lamports(1_000, 200_000, 100_000) == 1_000
    assert capped_micro_lamports(1_000, 200_000, None) == 1_000


def test_swap_fee_is_base_plus_tip_or_priority_as_the_swap_request_asks():
    from engine.chain.fees import swap_fee_lamports

    # a fixed price: ceil(price x compute units / 1e6) on top of 5,000 lamports per signature
    assert swap_fee_lamports(micro_lamports_per_cu=1_000, compute_units=200_000, cap_lamports=None) == 5_200
    assert swap_fee_lamports(micro_lamports_per_cu=1, compute_units=3, cap_lamports=None) == 5_001
    assert swap_fee_lamports(micro_lamports_per_cu=0, compute_units=200_000, cap_lamports=9) == 5_000
    # no price: the swap API's own level within the cap, booked at the cap
    assert (
        swap_fee_lamports(micro_lamports_per_cu=None, compute_units=200_000, cap_lamports=200_000) == 205_000
    )
    assert swap_fee_lamports(micro_lamports_per_cu=None, compute_units=200_000, cap_lamports=None) == 5_000
    # a Jito tip replaces the priority fee (either/or in Swap API v1)
    tip = swap_fee_lamports(
        micro_lamports_per_cu=1_000, compute_units=200_000, cap_lamports=1, tip_lamports=10_000
    )
    assert tip == 15_000
    assert swap_fee_lamports(micro_lamports_per_cu=0, compute_units=1, cap_lamports=0, signatures=2) == 10_000
