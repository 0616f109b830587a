"""Invalid addresses and numbers in the console's forms and in Telegram commands: the pure parsers behind them
either accept a valid value or give an error message; nothing else escapes, and no accepted value is absurd
(NaN, infinite, negative, out of range). Bounded hypothesis runs."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine.state import PositionView
from engine.telegram.formatting import (
    UsageError,
    parse_copy_args,
    parse_percent,
    parse_sell_args,
    parse_trades_args,
)
from engine.traders import TraderConfig
from zapbot_tui.screens.dialogs import SellScreen
from zapbot_tui.screens.trader_form import build_trader

WALLET = "11111111111111111111111111111111"
MINT = "So11111111111111111111111111111111111111112"
BOUNDED = settings(max_examples=200, deadline=None, database=None)

numberish = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "nan",
            "NaN",
            "inf",
            "-inf",
            "Infinity",
            "1e309",
            "-0",
            "0",
            "0.0",
            "1e-400",
            "１０",
            "10%",
            "%",
            "1,5",
            "0x10",
            "1_000",
            " 5 ",
            "\u00a05",
            "5\n",
            "",
            " ",
            "-1",
            "1e3",
            "٣",
        ]
    ),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)
addressish = st.one_of(
    st.text(max_size=50),
    st.sampled_from(
        [
            WALLET,
            WALLET + "1",
            WALLET[:-1],
            "0x" + "ab" * 20,
            "",
            " " + WALLET,
            WALLET + " ",
            "I" * 44,
            "O0Il" * 11,
            "1" * 44,
            MINT.lower(),
            "11111111111111111111111111111111\u200b",
        ]
    ),
)


# -- the console's trader form ----------------------------------------------------------------------------


@BOUNDED
@given(
    wallet=addressish,
    fixed=numberish,
    percent=numberish,
    min_sol=numberish,
    max_sol=numberish,
    slippage=numberish,
    fee=st.one_of(numberish, st.sampled_from(["auto", "AUTO", "fast"])),
    name=st.text(max_size=50),
    sizing=st.sampled_from(["fixed", "percent", "bogus"]),
)
@example(
    wallet="11111111111111111111111111111111",
    fixed="nan",
    percent="nan",
    min_sol="nan",
    max_sol="nan",
    slippage="-0",
    fee="",
    name="",
    sizing="fixed",
).via("discovered failure")
def test_trader_form_accepts_only_valid_traders(
    wallet, fixed, percent, min_sol, max_sol, slippage, fee, name, sizing
):
    values = {
        "name": name,
        "wallet": wallet,
        "fixed_sol": fixed,
        "percent": percent,
        "min_sol": min_sol,
        "max_sol": max_sol,
        "slippage_bps": slippage,
        "priority_fee": fee,
        "sizing": sizing,
        "active": True,
        "copy_buys": True,
        "copy_sells": True,
    }
    trader, errors = build_trader(values)
    if trader is None:
        assert errors and all(isinstance(m, str) and m for m in errors.values())
        return
    assert errors == {}
    assert isinstance(trader, TraderConfig)
    for value in (trader.percent, trader.min_sol, trader.max_sol):
        assert math.isfinite(value) and value >= 0
    assert trader.fixed_sol > 0 and not math.isnan(trader.fixed_sol)
    assert 1 <= trader.slippage_bps <= 5000 and trader.min_sol <= trader.max_sol


def test_trader_form_refuses_infinite_size():
    """Once a bug (inf passed gt=0); fixed in engine/traders.py (ede2fbe)."""
    values = {
        "name": "a",
        "wallet": WALLET,
        "fixed_sol": "inf",
        "percent": "10",
        "min_sol": "0.01",
        "max_sol": "1",
        "slippage_bps": "300",
        "priority_fee": "auto",
        "sizing": "fixed",
        "active": True,
        "copy_buys": True,
        "copy_sells": True,
    }
    trader, errors = build_trader(values)
    assert trader is None and "fixed_sol" in errors


@pytest.mark.parametrize("wallet", ["0xdeadbeef", WALLET + "x", "", "I" * 44, WALLET.replace("1", "l")])
def test_trader_form_names_the_bad_wallet(wallet):
    values = {
        "name": "a",
        "wallet": wallet,
        "fixed_sol": "0.1",
        "percent": "10",
        "min_sol": "0.01",
        "max_sol": "1",
        "slippage_bps": "300",
        "priority_fee": "auto",
        "sizing": "fixed",
        "active": True,
        "copy_buys": True,
        "copy_sells": True,
    }
    trader, errors = build_trader(values)
    assert trader is None and set(errors) == {"wallet"}


# -- the console's sell prompt -------------------------------------------------------------------------------


@BOUNDED
@given(text=numberish)
def test_sell_prompt_accepts_only_a_real_percentage(text):
    error = SellScreen.validate(None, text)  # type: ignore[arg-type]  # validate does not use the screen
    if error is None:
        percent = float(text.strip().rstrip("%"))
        assert 0 < percent <= 100 and math.isfinite(percent)
    else:
        assert "between 1 and 100" in error


# -- Telegram commands ------------------------------------------------------------------------------------


@BOUNDED
@given(text=numberish)
def test_telegram_percent(text):
    try:
        percent = parse_percent(text)
    except UsageError as exc:
        assert str(exc)
        return
    assert 0 < percent <= 100 and math.isfinite(percent)


@BOUNDED
@given(args=st.lists(numberish, max_size=3))
def test_telegram_trades_count(args):
    try:
        count = parse_trades_args(args)
    except UsageError:
        return
    assert isinstance(count, int) and count >= 1


@BOUNDED
@given(args=st.lists(st.text(max_size=20), max_size=4))
def test_telegram_copy_args(args):
    names = ["alpha", "Beta Trader", "gamma"]
    try:
        name, active = parse_copy_args(args, names)
    except UsageError:
        return
    assert name in names and isinstance(active, bool)


@BOUNDED
@given(token=addressish, percent=numberish, extra=st.lists(st.text(max_size=5), max_size=1))
def test_telegram_sell_args(token, percent, extra):
    positions = [
        PositionView(mint=MINT, amount=10, cost_lamports=1, symbol="WSOL"),
        PositionView(mint=WALLET, amount=5, cost_lamports=1, symbol=""),
    ]
    try:
        mint, pct = parse_sell_args([token, percent, *extra], positions)
    except UsageError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert mint in {MINT, WALLET} and 0 < pct <= 100 and not extra
