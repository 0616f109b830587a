"""A clean stop leaves nothing open (issue 13, Build 6), on the local cluster with the supervisor's normal stop:
a send already out is awaited within the deadline and ends executed; queued buys (and a buy stopped in the
middle of its swap build) end `skipped` with the reason `shutting down`, never sent; a queued sell is kept
`queued` with its reason and is sent at the next start; no record stays `queued` or `sent` without a reason."""

from __future__ import annotations

import threading

import pytest

from tests.helpers.copying import SOL, detected, engine_factory, intent_rows, query
from tests.helpers.gated import gate_swap_builds
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.slow

CONFIRM_DELAY_MS = 4000  # the send that is out when the stop begins lands this long after it was sent
SHUTDOWN_DEADLINE_S = 7.0


@pytest.fixture
def gated(monkeypatch):
    yield from gate_swap_builds(monkeypatch)


@pytest.fixture
def engine_on_cluster(zapbot_home, sim_cluster):
    yield from engine_factory(sim_cluster)


def _row(engine, signature):
    rows = intent_rows(engine, signature)
    return rows[0] if rows else None


def _status(engine, signature):
    row = _row(engine, signature)
    return row["status"] if row else None


def open_without_reason(engine) -> list[dict]:
    return query(
        engine,
        "SELECT id, status, reason FROM intents WHERE status IN ('pending','queued','sent')"
        " AND (reason IS NULL OR reason = '')",
    )


@pytest.mark.timeout(120)
def test_a_clean_stop_awaits_sends_skips_queued_buys_and_keeps_queued_sells_for_the_next_start(
    gated, engine_on_cluster, sim_cluster
):
    settings = {"engine__max_concurrent_trades": 1, "engine__shutdown_deadline_s": SHUTDOWN_DEADLINE_S}
    engine = engine_on_cluster(**settings)
    # (The executor's trading calls draw first from the RPC budget; its fee refreshes and reconciliations
    # are background work: engine/chain/rate_limit.py.)
    executor = engine.supervisor.slots["executor"].worker
    assert not executor.rpc.low_priority and executor.lifecycle.rpc is executor.rpc
    assert executor.chain_books.rpc.low_priority and executor.fees.rpc.low_priority
    leader = sim_cluster.traders[0][0]
    sold_mint, out_mint, held_mint = sim_cluster.mints[:3]
    late_mint = held_mint  # queued behind the held build, it never reaches its own
    # A position whose sell will be queued at the stop.
    first = sim_cluster.trader_swap(leader, "buy", sold_mint, quote_lamports=SOL)
    engine.ctx.send("executor", detected(first))
    wait_until(lambda: _status(engine, first.signature) == "executed", what="the first buy")
    wallet = engine.ctx.state.wallet
    held_tokens = sim_cluster.token_balance(wallet, sold_mint)
    assert held_tokens > 0

    # A buy that is out (sent) when the stop begins: the cluster confirms it late. Sent, it holds no slot.
    sim_cluster.set_chaos(confirm_delay_ms=CONFIRM_DELAY_MS)
    out = sim_cluster.trader_swap(leader, "buy", out_mint, quote_lamports=SOL)
    engine.ctx.send("executor", detected(out))
    wait_until(lambda: _status(engine, out.signature) == "sent", what="the buy sent, not yet confirmed")
    # The only trade slot is taken by a buy whose swap build the test holds through the stop.
    gated.held_mint = held_mint
    blocker = sim_cluster.trader_swap(leader, "buy", held_mint, quote_lamports=SOL)
    engine.ctx.send("executor", detected(blocker))
    assert gated.holding.wait(20), "the held buy never reached its swap build"
    # Behind it, a buy and a sell wait for the slot.
    late_buy = sim_cluster.trader_swap(leader, "buy", late_mint, quote_lamports=SOL)
    sell = sim_cluster.trader_swap(leader, "sell", sold_mint, token_fraction=1.0)
    for trade in (late_buy, sell):
        engine.ctx.send("executor", detected(trade))
    wait_until(
        lambda: (
            _status(engine, late_buy.signature) == "queued" and _status(engine, sell.signature) == "queued"
        ),
        what="a buy and a sell queued behind the held buy",
    )
    assert _status(engine, out.signature) == "sent", "the stop must begin while the send is out"

    # The held build is let go only once the stop has recorded it (as a worker's blocked call would end),
    # so the executor's loop can close within the deadline.
    release = threading.Thread(
        target=lambda: (
            wait_until(
                lambda: _status(engine, blocker.signature) != "queued", 3 * SHUTDOWN_DEADLINE_S, what="held"
            ),
            gated.gate.set(),
        ),
        daemon=True,
    )
    release.start()
    assert engine.stop() is True, "the clean stop overran its deadline"
    release.join(5)

    # The send that was out was awaited: it landed and executed.
    assert _status(engine, out.signature) == "executed"
    assert sim_cluster.token_balance(wallet, out_mint) > 0
    # Queued buys, and the buy stopped during its build, are skipped 'shutting down', never sent.
    for trade in (late_buy, blocker):
        row = _row(engine, trade.signature)
        assert (row["status"], row["reason"]) == ("skipped", "shutting down"), row
        assert row["signature"] is None and row["signed_tx"] is None
        assert query(engine, "SELECT * FROM trades WHERE intent_id=?", row["id"]) == []
        assert sim_cluster.token_balance(wallet, trade.mint) == 0
    # The queued sell is kept for the next start, not sent.
    kept = _row(engine, sell.signature)
    assert (kept["status"], kept["reason"]) == ("queued", "kept for the next start"), kept
    assert kept["signature"] is None
    assert sim_cluster.token_balance(wallet, sold_mint) == held_tokens
    assert open_without_reason(engine) == []

    # The next start resumes the kept sell and sends it.
    sim_cluster.set_chaos(confirm_delay_ms=0)
    again = engine_on_cluster(**settings)
    wait_until(lambda: _status(again, sell.signature) == "executed", 30, what="the kept sell resumed")
    assert sim_cluster.token_balance(wallet, sold_mint) == 0
    assert len(intent_rows(again, sell.signature)) == 1
    assert again.stop() is True
    assert query(again, "SELECT id, status FROM intents WHERE status IN ('pending','queued','sent')") == []
