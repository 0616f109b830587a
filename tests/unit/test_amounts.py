"""engine/amounts.py: lamports to exact SOL texts and SOL figures to lamports, with no float on the way."""

from __future__ import annotations

from decimal import Decimal

from engine.amounts import lamports_to_sol, sol_plain, sol_text, sol_to_lamports


def test_sol_text_rounds_the_exact_amount_half_to_even() -> None:
    assert sol_text(123_456_789) == "0.1235"
    assert sol_text(50_000) == "0.0000"  # exactly half: to even (a float of 5e-05 rounds up to 0.0001)
    assert sol_text(150_000) == "0.0002"
    assert sol_text(-5_000, 6, signed=True) == "-0.000005"
    assert sol_text(12_000_000, 3, signed=True) == "+0.012"


def test_plain_sol_is_exact_and_short() -> None:
    assert [sol_plain(v) for v in (10**10, 100_000_000, 5_000, 0)] == ["10", "0.1", "0.000005", "0"]
    assert lamports_to_sol(1) == Decimal("0.000000001")


def test_sol_to_lamports_is_exact_and_drops_a_fraction_of_a_lamport() -> None:
    assert sol_to_lamports(0.1) == 100_000_000
    assert sol_to_lamports("0.0000000019") == 1
    assert sol_to_lamports(Decimal("2.5")) == 2_500_000_000
