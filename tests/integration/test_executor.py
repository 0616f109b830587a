"""Executor failure paths on the local cluster: slippage (custom error 6001) and an expired blockhash are
re-quoted once and recorded; a full queue records skips instead of blocking; paper mode never sends."""

from __future__ import annotations

import pytest

import engine.workers.executor as executor_module
from engine.chain.swap_api import SwapApi, SwapApiError, sign_swap, swap_request_body
from engine.execution.job import (
    error_text,
    holding_change,
    is_slippage_error,
    paper_fill,
)
from tests.helpers.copying import SOL, detected, engine_factory, finished, intent_rows, query
from tests.helpers.gated import gate_swap_builds
from tests.helpers.waiting import wait_until


@pytest.fixture
def gated(monkeypatch):
    yield from gate_swap_builds(monkeypatch)


@pytest.fixture
def engine_on_cluster(zapbot_home, sim_cluster):
    yield from engine_factory(sim_cluster)


class HookedSwapApi(SwapApi):
    """The real client; a test hook runs after each /swap answer (to move the market or change chaos)."""

    hooks: list = []

    async def swap(self, user_pubkey, quote, **options):
        build = await super().swap(user_pubkey, quote, **options)
        if self.hooks:
            self.hooks.pop(0)()
        return build


@pytest.fixture
def hooked(monkeypatch):
    HookedSwapApi.hooks = []

    def factory(ctx):
        return HookedSwapApi(ctx.endpoints.swap_api_url, ctx.endpoints.swap_api_key)

    monkeypatch.setattr(executor_module, "swap_api_from_context", factory)
    return HookedSwapApi.hooks


@pytest.mark.slow
def test_slippage_failure_is_requoted_once_and_recorded(hooked, engine_on_cluster, sim_cluster):
    engine = engine_on_cluster()
    mint = sim_cluster.mints[0]
    leader, other = sim_cluster.traders[0][0], sim_cluster.traders[1][0]
    # After our first transaction is built, another trader buys big: ours lands past its slippage (6001).
    hooked.append(lambda: sim_cluster.trader_swap(other, "buy", mint, quote_lamports=5 * SOL))
    buy = sim_cluster.trader_swap(leader, "buy", mint, quote_lamports=SOL)
    engine.ctx.send("executor", detected(buy))
    row = wait_until(lambda: finished(engine, buy.signature), what="our buy")
    assert row["status"] == "executed", row["reason"]
    attempts = query(engine, "SELECT * FROM trades WHERE intent_id=? ORDER BY id", row["id"])
    assert [a["status"] for a in attempts] == ["failed", "executed"]
    assert "6001" in attempts[0]["err"] and attempts[0]["fee_lamports"] > 0
    assert sim_cluster.ledger.get_tx(attempts[0]["signature"]).err is not None  # it really landed failed
    assert attempts[1]["signature"] == row["signature"] and row["attempts"] == 2
    assert row["fee_lamports"] > attempts[0]["fee_lamports"]  # both fees are accounted


@pytest.mark.slow
def test_second_slippage_failure_fails_the_trade(hooked, engine_on_cluster, sim_cluster):
    engine = engine_on_cluster(limits__auto_pause_after_failures=1)
    mint = sim_cluster.mints[0]
    leader, other = sim_cluster.traders[0][0], sim_cluster.traders[1][0]
    for _ in range(2):
        hooked.append(lambda: sim_cluster.trader_swap(other, "buy", mint, quote_lamports=5 * SOL))
    buy = sim_cluster.trader_swap(leader, "buy", mint, quote_lamports=SOL)
    engine.ctx.send("executor", detected(buy))
    row = wait_until(lambda: finished(engine, buy.signature), what="our buy")
    assert row["status"] == "failed" and "slippage" in row["reason"]
    attempts = query(engine, "SELECT status FROM trades WHERE intent_id=?", row["id"])
    assert [a["status"] for a in attempts] == ["failed", "failed"]
    assert query(engine, "SELECT amount FROM positions") == []
    # one failure with auto_pause_after_failures=1 pauses the trader; its next signal is skipped
    wait_until(
        lambda: engine.traders.get(leader).active is False, what="auto-pause"
    )  # just after the failure
    state = wait_until(
        lambda: query(engine, "SELECT * FROM trader_state WHERE name=?", leader), what="state"
    )[0]
    assert state["consecutive_failures"] == 1 and "auto-paused" in state["paused_reason"]
    again = sim_cluster.trader_swap(leader, "buy", mint, quote_lamports=SOL)
    engine.ctx.send("executor", detected(again))
    skip = wait_until(
        lambda: query(engine, "SELECT * FROM skips WHERE leader_signature=?", again.signature), what="skip"
    )[0]
    assert skip["reason"] == "trader paused"


@pytest.mark.slow
def test_expired_blockhash_is_requoted_once(hooked, engine_on_cluster, sim_cluster):
    engine = engine_on_cluster()
    mint = sim_cluster.mints[0]
    # Sends fail until the first blockhash has expired; the re-quoted transaction then lands.
    sim_cluster.set_chaos(send_fail_ratio=1.0, blockhash_ttl_slots=4)
    hooked.append(lambda: None)
    hooked.append(lambda: sim_cluster.set_chaos(send_fail_ratio=0.0))
    buy = sim_cluster.trader_swap(sim_cluster.traders[0][0], "buy", mint, quote_lamports=SOL)
    engine.ctx.send("executor", detected(buy))
    row = wait_until(lambda: finished(engine, buy.signature), what="our buy")
    assert row["status"] == "executed", row["reason"]
    attempts = query(engine, "SELECT * FROM trades WHERE intent_id=? ORDER BY id", row["id"])
    assert [a["status"] for a in attempts] == ["expired", "executed"]
    assert "expired" in attempts[0]["err"]
    assert sim_cluster.ledger.get_tx(attempts[0]["signature"]) is None  # the first never landed
    assert sim_cluster.token_balance(engine.ctx.state.wallet, mint) == row["token_amount"]


@pytest.mark.slow
def test_expired_twice_fails_expired_before_landing(hooked, engine_on_cluster, sim_cluster):
    engine = engine_on_cluster()
    sim_cluster.set_chaos(send_fail_ratio=1.0, blockhash_ttl_slots=3)
    buy = sim_cluster.trader_swap(sim_cluster.traders[0][0], "buy", sim_cluster.mints[0], quote_lamports=SOL)
    engine.ctx.send("executor", detected(buy))
    row = wait_until(lambda: finished(engine, buy.signature), what="our buy")
    assert row["status"] == "failed" and row["reason"].startswith("expired before landing")
    attempts = query(engine, "SELECT status FROM trades WHERE intent_id=?", row["id"])
    assert [a["status"] for a in attempts] == ["expired", "expired"]
    assert sim_cluster.token_balance(engine.ctx.state.wallet, sim_cluster.mints[0]) == 0


@pytest.mark.slow
def test_full_queue_records_skips_without_blocking(gated, engine_on_cluster, sim_cluster):
    engine = engine_on_cluster(engine__max_concurrent_trades=1, engine__max_queue_size=1)
    # The first trade cannot land (sends fail, the clock is paused so it cannot expire): it stays 'sent',
    # waiting for a confirmation, and so holds no trade slot.
    sim_cluster.set_chaos(send_fail_ratio=1.0, pause_slots=True)
    leader = sim_cluster.traders[0][0]
    mints = sim_cluster.mints
    trades = [
        sim_cluster.trader_swap(leader, "buy", mints[i % len(mints)], quote_lamports=SOL) for i in range(5)
    ]
    engine.ctx.send("executor", detected(trades[0]))
    wait_until(
        lambda: (rows := intent_rows(engine, trades[0].signature)) and rows[0]["status"] == "sent",
        what="first trade sent",
    )
    # The second takes the only slot and is held while it is built; the third waits; the rest are refused.
    gated.held_mint = trades[1].mint
    for count, trade in enumerate(trades[1:], start=1):
        # One at a time: the executor's inbox is bounded too (a refused send is the sender's to record).
        assert engine.ctx.send("executor", detected(trade))
        wait_until(
            lambda c=count: len(intent_rows(engine)) + len(query(engine, "SELECT id FROM skips")) == c + 1,
            what="the signal handled",
        )
        if count == 1:
            assert gated.holding.wait(20), "the second trade never reached its build"
    skips = query(engine, "SELECT * FROM skips")
    assert {s["reason"] for s in skips} == {"queue full"}
    assert {s["leader_signature"] for s in skips} == {trades[3].signature, trades[4].signature}
    assert intent_rows(engine, trades[2].signature)[0]["status"] == "queued"
    assert engine.snapshot().in_flight == 3  # sent, being built, queued
    sim_cluster.set_chaos(send_fail_ratio=0.0, pause_slots=False)
    gated.gate.set()
    for trade in trades[:3]:
        assert wait_until(lambda t=trade: finished(engine, t.signature), what="drain")["status"] == "executed"


@pytest.mark.slow
def test_paper_mode_never_sends_and_fills_at_the_quote(zapbot_home, sim_cluster, monkeypatch):
    from engine.config import load_settings
    from engine.facade import Engine
    from engine.workers.data import DataWorker
    from engine.workers.executor import ExecutorWorker

    settings = load_settings()
    settings.mode = "paper"
    settings.http.enabled = False
    settings.rpc.urls = [sim_cluster.rpc_url]
    settings.swap_api.url = sim_cluster.swap_api_url
    # A fixed priority fee, so the fee a live trade would pay is known exactly: 5,000 lamports for our
    # signature plus ceil(1,000 micro-lamports x 200,000 compute units / 1e6) = 200.
    (zapbot_home / "traders.toml").write_text(
        f'[[traders]]\nname = "{sim_cluster.traders[0][0]}"\nwallet = "{sim_cluster.traders[0][1]}"\n'
        "priority_fee = 1000\n"
    )
    engine = Engine(settings, worker_classes={"data": DataWorker, "executor": ExecutorWorker}, http=False)
    engine.start(wait_ready=15)
    try:
        assert engine.ctx.keypair is None and engine.ctx.db_path.name == "zapbot-paper.db"
        landed_before = sim_cluster.ledger.landed_count()
        buy = sim_cluster.trader_swap(
            sim_cluster.traders[0][0], "buy", sim_cluster.mints[0], quote_lamports=SOL
        )
        engine.ctx.send("executor", detected(buy))
        row = wait_until(lambda: finished(engine, buy.signature), what="paper buy")
        assert row["status"] == "executed" and row["reason"] == "paper: at quote"
        assert row["signature"] is None and row["quote_amount"] == SOL // 10 and row["token_amount"] > 0
        assert row["fee_lamports"] == 5_200  # the fee the live trade would pay, not 0
        assert sim_cluster.ledger.landed_count() == landed_before + 1  # only the leader's trade
        cost = query(engine, "SELECT cost_lamports FROM positions")[0]["cost_lamports"]
        assert cost == SOL // 10 + 5_200  # the buy's cost basis carries its fee
        # without a reachable swap API, paper fills at the leader's price plus slippage
        engine.stop()
        settings.swap_api.url = "http://127.0.0.1:9/swap/v1"
        engine = Engine(settings, worker_classes={"data": DataWorker, "executor": ExecutorWorker}, http=False)
        engine.start(wait_ready=15)
        sell = sim_cluster.trader_swap(
            sim_cluster.traders[0][0], "sell", sim_cluster.mints[0], token_fraction=1.0
        )
        engine.ctx.send("executor", detected(sell))
        row = wait_until(lambda: finished(engine, sell.signature), what="paper sell")
        assert row["status"] == "executed" and row["reason"] == "paper: leader price + slippage"
        held = query(engine, "SELECT * FROM positions")[0]
        assert held["amount"] == 0
        assert (
            row["quote_amount"]
            == paper_fill("sell", row["token_amount"], sell.token_amount, sell.quote_amount, 300)[1]
        )
        assert row["fee_lamports"] == 5_200
        # Paper PnL leaves no network fee out: proceeds less the sell's fee, less the buy's cost and fee.
        assert held["realized_pnl_lamports"] == row["quote_amount"] - 5_200 - (SOL // 10 + 5_200)
    finally:
        engine.stop()


# -- pure pieces ------------------------------------------------------------------------------------


def test_slippage_error_detection_and_text():
    err = {"InstructionError": [3, {"Custom": 6001}]}
    assert is_slippage_error(err) and "6001" in error_text(err)
    assert not is_slippage_error({"InstructionError": [3, {"Custom": 1}]})
    assert not is_slippage_error("BlockhashNotFound")


def test_holding_change_sums_the_owners_accounts():
    tx = {
        "meta": {
            "preTokenBalances": [
                {"owner": "A", "mint": "M", "uiTokenAmount": {"amount": "100"}},
                {"owner": "B", "mint": "M", "uiTokenAmount": {"amount": "7"}},
            ],
            "postTokenBalances": [{"owner": "A", "mint": "M", "uiTokenAmount": {"amount": "40"}}],
        }
    }
    assert holding_change(tx, "A", "M") == (100, 40)
    assert holding_change(tx, "C", "M") is None


def test_paper_fill_at_leader_price_minus_slippage():
    assert paper_fill("buy", 100, 1_000, 100, 0) == (1_000, 100)
    assert paper_fill("buy", 100, 1_000, 100, 500) == (950, 100)
    assert paper_fill("sell", 1_000, 1_000, 100, 500) == (1_000, 95)
    assert paper_fill("sell", 1_000, 0, 100, 500) is None


def test_swap_body_fee_forms():
    quote = {"inAmount": "1"}
    assert swap_request_body("U", quote, jito_tip_lamports=5_000)["prioritizationFeeLamports"] == {
        "jitoTipLamports": 5_000
    }
    assert swap_request_body("U", quote, priority_fee_micro_lamports=7)["computeUnitPriceMicroLamports"] == 7
    body = swap_request_body("U", quote, priority_fee_cap_lamports=9)
    assert body["prioritizationFeeLamports"]["priorityLevelWithMaxLamports"]["maxLamports"] == 9
    assert body["quoteResponse"] is quote and body["dynamicComputeUnitLimit"] is True


@pytest.mark.slow
async def test_swap_api_errors_are_one_line_without_the_key(sim_cluster):
    api = SwapApi(sim_cluster.swap_api_url, "sekrit-key-123")
    try:
        with pytest.raises(SwapApiError) as caught:
            await api.quote(
                "So11111111111111111111111111111111111111112", "NoSuchMint1111111111111111111111111", 1000, 50
            )
        text = str(caught.value)
        assert "\n" not in text and "sekrit" not in text and "HTTP 400" in text
        assert not caught.value.retryable
    finally:
        await api.close()
    down = SwapApi("http://127.0.0.1:9/swap/v1", "sekrit-key-123", timeout=2)
    try:
        with pytest.raises(SwapApiError) as caught:
            await down.quote("a", "b", 1, 50)
        assert caught.value.retryable and "sekrit" not in str(caught.value)
    finally:
        await down.close()


@pytest.mark.slow
async def test_sign_swap_keeps_the_market_maker_signature(sim_cluster):
    from solders.keypair import Keypair

    user = Keypair()
    sim_cluster.airdrop(user.pubkey(), SOL)
    api = SwapApi(sim_cluster.swap_api_url)
    try:
        quote = await api.quote(
            "So11111111111111111111111111111111111111112", sim_cluster.mints[0], SOL // 100, 100
        )
        build = await api.swap(str(user.pubkey()), quote)
    finally:
        await api.close()
    signed = sign_swap(build.transaction, user)
    assert all(signed.verify_with_results())
    with pytest.raises(SwapApiError):
        sign_swap(build.transaction, Keypair())


@pytest.mark.slow
def test_daily_loss_cap_trips_the_kill_switch(engine_on_cluster, sim_cluster):
    from engine.messages import KillSwitchTripped

    engine = engine_on_cluster(limits__daily_loss_cap_sol=0.0001)
    events: list = []
    engine.subscribe(lambda event: events.append(event) if isinstance(event, KillSwitchTripped) else None)
    leader, mint = sim_cluster.traders[0][0], sim_cluster.mints[0]
    buy = sim_cluster.trader_swap(leader, "buy", mint, quote_lamports=SOL)
    engine.ctx.send("executor", detected(buy))
    wait_until(lambda: finished(engine, buy.signature), what="our buy")
    # A round trip through the pool loses its fees: more than the 0.0001 SOL cap.
    sell = sim_cluster.trader_swap(leader, "sell", mint, token_fraction=1.0)
    engine.ctx.send("executor", detected(sell))
    assert wait_until(lambda: finished(engine, sell.signature), what="our sell")["status"] == "executed"
    assert query(engine, "SELECT realized_pnl_lamports FROM daily")[0]["realized_pnl_lamports"] < -100_000
    wait_until(lambda: engine.snapshot().kill_switch, what="the kill switch")
    assert len(events) == 1 and events[0].realized_pnl_lamports < 0
    again = sim_cluster.trader_swap(leader, "buy", mint, quote_lamports=SOL)
    engine.ctx.send("executor", detected(again))
    skip = wait_until(
        lambda: query(engine, "SELECT * FROM skips WHERE leader_signature=?", again.signature), what="skip"
    )[0]
    assert skip["reason"] == "kill switch"
    # Resuming clears the banner, but today's loss is still past the cap: buys stay off and it says so.
    engine.resume_all()
    third = sim_cluster.trader_swap(leader, "buy", mint, quote_lamports=SOL)
    engine.ctx.send("executor", detected(third))
    skip = wait_until(
        lambda: query(engine, "SELECT * FROM skips WHERE leader_signature=?", third.signature), what="skip"
    )[0]
    assert skip["reason"] == "kill switch" and engine.snapshot().kill_switch
