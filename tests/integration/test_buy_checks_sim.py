"""Before a buy, on the local cluster with the real Engine (data + executor): tokens with a mint authority, a
freeze authority, a Token-2022 transfer fee or no sell route are skipped with those reasons while a normal
token is bought; a mint's facts are read once; the per-token copy rules; a USDC-quoted leader buy is copied
with the trader's SOL sizing."""

from __future__ import annotations

import pytest

from engine.amounts import sol_to_lamports
from engine.constants import USDC_MINT
from tests.helpers.copying import SOL, detected, engine_factory, finished, query, scenario_cluster
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.slow

SCENARIO = """
seed = 9
[[tokens]]
symbol = "PLAIN"
[[tokens]]
symbol = "OTHER"
[[tokens]]
symbol = "MINTY"
mint_authority = true
[[tokens]]
symbol = "FROZEN"
freeze_authority = true
[[tokens]]
symbol = "FEE"
transfer_fee_bps = 250
[[tokens]]
symbol = "HONEY"
sell_route = false
[[tokens]]
symbol = "DUAL"
usdc_pool = true
[[traders]]
name = "leader"
sol = 500
[[traders]]
name = "second"
sol = 500
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    yield from scenario_cluster(tmp_path_factory, SCENARIO, "buys")


@pytest.fixture
def engines(zapbot_home, cluster):
    yield from engine_factory(cluster)


def decision(engine, leader_signature: str) -> dict:
    """The intent once finished, or the skip, of one leader signal."""

    def found():
        row = finished(engine, leader_signature)
        if row is not None:
            return row
        skips = query(engine, "SELECT * FROM skips WHERE leader_signature=?", leader_signature)
        return {**skips[0], "status": "skipped"} if skips else None

    return wait_until(found, what=f"the decision on {leader_signature[:8]}")


def test_unsafe_tokens_are_skipped_and_a_normal_one_bought(engines, cluster):
    engine = engines()
    reads_before = cluster.rpc.counts().get("getAccountInfo", 0)
    outcomes = {}
    for symbol in ("MINTY", "FROZEN", "FEE", "HONEY", "PLAIN"):
        buy = cluster.trader_swap("leader", "buy", symbol, quote_lamports=SOL)
        assert engine.ctx.send("executor", detected(buy))
        outcomes[symbol] = decision(engine, buy.signature)
    assert outcomes["MINTY"]["status"] == "skipped" and outcomes["MINTY"]["reason"] == "mint authority"
    assert outcomes["FROZEN"]["reason"] == "freeze authority"
    assert outcomes["FEE"]["reason"] == "token extension"
    assert "transfer fee (250 bps)" in outcomes["FEE"]["detail"]
    assert outcomes["HONEY"]["reason"] == "no sell route"
    assert outcomes["PLAIN"]["status"] == "executed", outcomes["PLAIN"]["reason"]
    wallet = engine.ctx.state.wallet
    assert cluster.token_balance(wallet, "PLAIN") == outcomes["PLAIN"]["token_amount"] > 0
    for symbol in ("MINTY", "FROZEN", "FEE", "HONEY"):
        assert cluster.token_balance(wallet, symbol) == 0
    # One getAccountInfo per mint: a second buy of PLAIN reads nothing more.
    reads = cluster.rpc.counts()["getAccountInfo"] - reads_before
    assert reads == 5
    again = cluster.trader_swap("leader", "buy", "PLAIN", quote_lamports=SOL)
    assert engine.ctx.send("executor", detected(again))
    assert decision(engine, again.signature)["status"] == "executed"
    assert cluster.rpc.counts()["getAccountInfo"] - reads_before == 5
    # trades --json's rows carry the trigger and the detail.
    from engine.store import connect, decisions

    conn = connect(engine.ctx.db_path, readonly=True)
    try:
        rows = {row["leader_signature"]: row for row in decisions(conn)}
    finally:
        conn.close()
    assert rows[again.signature]["trigger"] == "leader"
    assert "250 bps" in rows[outcomes["FEE"]["leader_signature"]]["detail"]


def test_copy_rules_once_per_token_cooldown_and_caps(engines, cluster):
    engine = engines(
        limits__buy_once_per_token=True,
        limits__max_sol_per_token=0.15,
        limits__max_open_exposure_sol=0.25,
    )
    first = cluster.trader_swap("leader", "buy", "OTHER", quote_lamports=SOL)
    engine.ctx.send("executor", detected(first))
    assert decision(engine, first.signature)["status"] == "executed"
    # Another trader's buy of the same mint: bought once across all traders.
    second = cluster.trader_swap("second", "buy", "OTHER", quote_lamports=SOL)
    engine.ctx.send("executor", detected(second))
    row = decision(engine, second.signature)
    assert row["status"] == "skipped" and row["reason"] == "already bought"
    assert "buy_once_per_token" in row["detail"]
    # 0.1 SOL of OTHER is held at cost (plus its fee). A 0.5 SOL buy of PLAIN is sized down by the per-token
    # cap (0.15) and then by what the exposure cap leaves (0.25 less OTHER's cost), the lower one binding.
    trader = engine.traders.get("leader")
    engine.traders.replace("leader", trader.model_copy(update={"fixed_sol": 0.5}))
    plain = cluster.trader_swap("leader", "buy", "PLAIN", quote_lamports=SOL)
    engine.ctx.send("executor", detected(plain))
    row = decision(engine, plain.signature)
    assert row["status"] == "executed", row["reason"]
    other_cost = query(engine, "SELECT cost_lamports FROM positions WHERE mint=?", first.mint)[0]
    assert row["amount_in"] == min(sol_to_lamports(0.15), sol_to_lamports(0.25) - other_cost["cost_lamports"])
    # Nothing is left under the exposure cap: the next buy of a new mint is skipped.
    dual = cluster.trader_swap("leader", "buy", "DUAL", quote_lamports=SOL)
    engine.ctx.send("executor", detected(dual))
    row = decision(engine, dual.signature)
    assert row["status"] == "skipped" and row["reason"] == "exposure cap"


def test_token_cooldown(engines, cluster):
    engine = engines(limits__token_cooldown_s=3600)
    first = cluster.trader_swap("leader", "buy", "OTHER", quote_lamports=SOL)
    engine.ctx.send("executor", detected(first))
    assert decision(engine, first.signature)["status"] == "executed"
    again = cluster.trader_swap("second", "buy", "OTHER", quote_lamports=SOL)
    engine.ctx.send("executor", detected(again))
    row = decision(engine, again.signature)
    assert row["status"] == "skipped" and row["reason"] == "token cooldown"


def test_usdc_quoted_leader_buy_is_copied_with_sol_sizing(engines, cluster):
    engine = engines()
    trader = engine.traders.get("leader")
    engine.traders.replace(
        "leader", trader.model_copy(update={"sizing": "percent", "percent": 10.0, "max_sol": 5.0})
    )
    usdc_in = 300 * 10**6  # 300 USDC, about 2 SOL at the pool's 150 USDC per SOL
    buy = cluster.trader_swap("leader", "buy", "DUAL", quote_lamports=usdc_in, quote="USDC")
    assert buy.quote_mint == USDC_MINT
    swap = detected(buy)
    assert swap.quote_mint == USDC_MINT and swap.quote_amount == usdc_in
    engine.ctx.send("executor", swap)
    row = decision(engine, buy.signature)
    assert row["status"] == "executed", row["reason"]
    # 10 % of the SOL worth of 300 USDC (~2 SOL less the pool fee): ~0.2 SOL, paid in SOL from our wallet.
    assert sol_to_lamports(0.19) < row["amount_in"] < sol_to_lamports(0.2)
    assert row["leader_quote_amount"] // 10 == row["amount_in"]  # the leader's SOL worth, as sized
    wallet = engine.ctx.state.wallet
    assert cluster.token_balance(wallet, "DUAL") == row["token_amount"] > 0
    assert cluster.token_balance(wallet, "USDC") == 0
