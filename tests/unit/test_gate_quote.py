"""When the buy's swap may be built on the safety gate's quote: same input, output, amount and slippage, within
the quote TTL and the signal age limit; anything else is quoted again."""

from __future__ import annotations

from engine.constants import WSOL_MINT
from engine.execution.safety_gate import BUY_QUOTE_TTL_S, GateQuote, reusable_quote

MINT = "Mint111111111111111111111111111111111111111"
QUOTE = {"inputMint": WSOL_MINT, "outputMint": MINT, "inAmount": "1000", "outAmount": "5", "slippageBps": 300}


def entry(quote=QUOTE, *, lamports=1000, slippage=300, at=100.0) -> GateQuote:
    return GateQuote(dict(quote), MINT, lamports, slippage, at)


def reuse(item, *, lamports=1000, slippage=300, now=100.5, age=1.0, max_age=5.0):
    return reusable_quote(
        item,
        mint=MINT,
        lamports=lamports,
        slippage_bps=slippage,
        now=now,
        signal_age_s=age,
        max_signal_age_s=max_age,
    )


def test_a_fresh_matching_quote_is_reused():
    assert reuse(entry()) == QUOTE
    assert reuse(entry(), now=100.0 + BUY_QUOTE_TTL_S) == QUOTE
    assert reuse(entry(), age=None) == QUOTE  # a trade with no signal time (manual): the TTL alone


def test_a_quote_past_its_ttl_or_for_a_stale_signal_is_not():
    assert reuse(entry(), now=100.0 + BUY_QUOTE_TTL_S + 0.01) is None
    assert reuse(entry(), now=99.0) is None  # a clock that went backwards is no proof of freshness
    assert reuse(entry(), age=5.01, max_age=5.0) is None


def test_another_amount_slippage_or_route_is_not():
    assert reuse(entry(), lamports=999) is None
    assert reuse(entry(), slippage=100) is None
    assert reuse(entry({**QUOTE, "inAmount": "999"})) is None
    assert reuse(entry({**QUOTE, "inputMint": MINT, "outputMint": WSOL_MINT})) is None
    assert reuse(entry({**QUOTE, "slippageBps": 50})) is None
    assert reuse(entry({**QUOTE, "inAmount": None})) is None
    assert reuse(QUOTE) is None  # a bare quote dict is not the gate's entry
    assert reuse(None) is None
