"""Lots in the Store: the pro-rata split, fills on lots through settle, and the migration of old positions."""

from __future__ import annotations

import sqlite3

from hypothesis import given
from hypothesis import strategies as st

from engine.store import Store
from engine.store.lots import split_pro_rata
from engine.store.schema import MIGRATIONS, connect

WALLET = "OurWallet1111"


@given(
    st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=6),
    st.integers(min_value=0, max_value=10**13),
    st.integers(min_value=0, max_value=10**10),
    st.integers(min_value=0, max_value=10**6),
)
def test_split_is_exact_and_never_takes_more_than_a_lot_holds(amounts, tokens, proceeds, fee):
    held = list(enumerate(amounts, start=1))
    pieces = split_pro_rata(held, tokens, proceeds, fee)
    total = sum(amounts)
    taken = min(tokens, total)
    if taken == 0:
        assert pieces == []
        return
    assert sum(p.tokens for p in pieces) == taken
    assert sum(p.proceeds for p in pieces) == proceeds
    assert sum(p.fee for p in pieces) == fee
    for piece in pieces:
        assert 0 < piece.tokens <= amounts[piece.lot_id - 1]
        # each lot gives its share to within the few units the floors leave over
        assert abs(piece.tokens - taken * amounts[piece.lot_id - 1] // total) <= len(amounts)


def buy(store: Store, sig: str, leader: str, tokens: int, lamports: int, fee: int = 5000) -> dict:
    intent_id, _ = store.record_intent(
        leader_signature=sig,
        trader=f"t-{leader}",
        wallet=WALLET,
        side="buy",
        mint="Mint1",
        amount_in=lamports,
        leader=leader,
    )
    return store.settle_intent(intent_id, token_amount=tokens, quote_amount=lamports, fee_lamports=fee)


def sell(store: Store, sig: str, leader: str, tokens: int, lamports: int, *, trigger="leader", lot_id=None):
    intent_id, _ = store.record_intent(
        leader_signature=sig,
        trader="manual" if trigger == "manual" else f"t-{leader}",
        wallet=WALLET,
        side="sell",
        mint="Mint1",
        amount_in=tokens,
        leader=leader,
        trigger=trigger,
        lot_id=lot_id,
    )
    return store.settle_intent(intent_id, token_amount=tokens, quote_amount=lamports, fee_lamports=5000)


def test_a_leaders_sell_touches_only_that_leaders_lot():
    store = Store(":memory:")
    store.wallet = WALLET
    buy(store, "b1", "A", 1000, 10_000_000)
    buy(store, "b2", "B", 3000, 30_000_000)
    buy(store, "b3", "A", 1000, 20_000_000)  # adds to A's open lot
    lots = {lot["leader"]: lot for lot in store.lots()}
    assert lots["A"]["amount"] == 2000 and lots["A"]["buys"] == 2
    assert lots["A"]["cost_lamports"] == 30_010_000
    result = sell(store, "s1", "B", 1500, 20_000_000)
    assert [lot["leader"] for lot in result["lots"]] == ["B"]
    b = store.lot(lots["B"]["id"])
    assert b["amount"] == 1500 and b["cost_lamports"] == 15_002_500
    assert b["realized_pnl_lamports"] == 20_000_000 - 5000 - 15_002_500 == result["realized_delta_lamports"]
    assert store.lot(lots["A"]["id"])["amount"] == 2000
    assert store.position("Mint1")["amount"] == 3500
    # a manual sell of everything closes both lots; the books add up per leader and in total
    sell(store, "m1", "", 3500, 70_000_000, trigger="manual")
    assert store.lots() == []
    books = store.trader_books()
    assert books["A"]["closed_lots"] == 1 and books["A"]["wins"] == 1 and books["A"]["win_rate"] == 1.0
    assert sum(b["realized_pnl_lamports"] for b in books.values()) == store.daily()["realized_pnl_lamports"]
    # settling twice changes nothing
    again = store.settle_intent(1, token_amount=1, quote_amount=1)
    assert again["applied"] is False and again["lots"] == []


def test_migration_turns_old_positions_into_lots_on_an_unknown_chain(tmp_path):
    path = tmp_path / "old.db"
    conn = connect(path)
    for number, script in enumerate(MIGRATIONS[:2], start=1):
        for statement in script.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version={number}")
    conn.execute(
        "INSERT INTO positions (mint, amount, cost_lamports, realized_pnl_lamports, decimals, opened_at,"
        " updated_at) VALUES ('MintOld', 500, 7000, 12, 6, 1.0, 2.0)"
    )
    conn.close()
    store = Store(path)
    lots = store.conn.execute("SELECT * FROM lots").fetchall()
    assert [(r["chain"], r["mint"], r["amount"], r["cost_lamports"], r["closed_at"]) for r in lots] == [
        ("unknown", "MintOld", 500, 7000, None)
    ]
    assert dict(store.conn.execute("SELECT amount, cost_lamports FROM positions").fetchone()) == {
        "amount": 500,
        "cost_lamports": 7000,
    }
    try:
        store.conn.execute("INSERT INTO lot_exits (lot_id, updated_at) VALUES (999, 1.0)")
    except sqlite3.IntegrityError:
        pass
    else:
        raise AssertionError("lot_exits must refer to a lot")
