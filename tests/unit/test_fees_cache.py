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
