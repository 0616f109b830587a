"""Token names in the engine state (engine/token_names.py): a name read later names what is shown already,
a view recorded afterwards gets it too, a view's own symbol and decimals win, and only held mints' names
travel in the snapshot."""

from __future__ import annotations

from engine.state import EngineState, LotView, PositionView, skip_view, trade_view
from engine.token_names import TokenView, held_tokens, named

MINT, OTHER = "Zap1111111111111111111111111111111111111111", "Oth1111111111111111111111111111111111111111"


def row(intent_id: int, mint: str = MINT, decimals: int | None = None) -> dict:
    return {
        "id": intent_id,
        "leader_signature": f"sig{intent_id}",
        "trader": "alice",
        "side": "buy",
        "mint": mint,
        "status": "executed",
        "token_amount": 5_000_000,
        "token_decimals": decimals,
    }


def test_a_name_read_later_names_the_views_shown_already_and_those_after():
    state = EngineState("sim")
    state.upsert_trade(trade_view(row(1)))
    state.set_position(PositionView(MINT, 5_000_000, 100), MINT)
    assert state.unnamed_mints() == {MINT}
    state.set_token(MINT, TokenView("ZAP", "Zap Token", 6))
    snap = state.snapshot()
    (trade,) = snap.trades
    (position,) = snap.positions
    assert (trade.symbol, trade.token_decimals) == ("ZAP", 6)
    assert (position.symbol, position.decimals) == ("ZAP", 6)
    state.upsert_trade(
        skip_view(2, leader_signature="s2", trader="bob", side="buy", mint=MINT, reason="paused")
    )
    assert next(t for t in state.snapshot().trades if t.id == -2).symbol == "ZAP"
    assert state.unnamed_mints() == set() and state.symbol(MINT) == "ZAP" and state.symbol(OTHER) == ""


def test_a_views_own_values_win_and_no_name_changes_nothing():
    view = trade_view(row(3, decimals=9))
    assert named(view, TokenView("ZAP", "", 6)).token_decimals == 9
    assert named(view, None) is view
    assert named(view, TokenView("", "", None)) is view


def test_the_snapshot_carries_the_names_of_held_mints_only():
    state = EngineState("sim")
    for index in range(5):
        state.upsert_trade(trade_view(row(index + 10, mint=f"Mint{index}" + "1" * 39)))
        state.set_token(f"Mint{index}" + "1" * 39, TokenView(f"T{index}"))
    state.set(untracked={OTHER: 7})
    state.set_token(OTHER, TokenView("OTH", "", 6))
    assert set(state.snapshot().tokens) == {OTHER}
    lot = LotView(1, "alice", "L", MINT, 1, 1, 1)
    assert set(held_tokens({MINT: TokenView("ZAP")}, [], [], [lot])) == {MINT}
