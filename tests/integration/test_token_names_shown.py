"""Token names and human amounts where a person reads them, on the local cluster with the real engine: a
copied token shows its symbol and its amount with decimals applied in the positions and trades panes
(Pilot), `zapbot trades` and its CSV, and Telegram (fake Bot API), `/sell <symbol>` included. And two
reconciliation cases: a token on chain that no lot knows is an untracked holding (shown, never sold), and
a settle that booked the wrong amount is adjusted with the reason `settle mismatch`."""

from __future__ import annotations

import csv
import json

import pytest

import engine.execution.lifecycle as lifecycle
from engine.testing.fake_telegram import FakeTelegramServer
from engine.workers.cache import CacheWorker
from engine.workers.data import DataWorker
from engine.workers.executor import ExecutorWorker
from engine.workers.telegram import TelegramWorker
from tests.helpers.copying import SOL, detected, engine_factory, finished, query
from tests.helpers.transfers import send_tokens
from tests.helpers.waiting import wait_until
from zapbot_tui.app import ZapBotApp
from zapbot_tui.commands import trades as trades_cli
from zapbot_tui.format import token_amount
from zapbot_tui.panes.positions import UNTRACKED_KEY

pytestmark = pytest.mark.slow

TOKEN = "7234567894:AATokenNamesShownForTests_abcdefghij"
CHAT = 3002
WORKERS = {"data": DataWorker, "executor": ExecutorWorker, "cache": CacheWorker, "telegram": TelegramWorker}


@pytest.fixture
def fake_bot():
    fake = FakeTelegramServer(TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture
def make_engine(zapbot_home, sim_cluster, fake_bot):
    def telegram(**overrides):
        return dict(
            telegram__bot_token=TOKEN,
            telegram__chat_ids=[CHAT],
            telegram__api_base_url=fake_bot.base_url,
            telegram__poll_timeout_s=1,
            telegram__chat_messages_per_second=50,
            **overrides,
        )

    factory = engine_factory(sim_cluster)
    make = next(factory)
    yield lambda **overrides: make(workers=WORKERS, **telegram(**overrides))
    next(factory, None)


def copied(engine, trade) -> dict:
    assert engine.ctx.send("executor", detected(trade))
    row = wait_until(lambda: finished(engine, trade.signature), what=f"our copy of {trade.side}")
    assert row["status"] == "executed", row["reason"]
    return row


async def until(pilot, condition, rounds: int = 500) -> bool:
    for _ in range(rounds):
        if condition():
            return True
        await pilot.pause(0.02)
    return condition()


def human(units: int) -> str:
    """The exact decimal a person reads of the local cluster's 6-decimal tokens (as `zapbot trades` prints)."""
    whole, frac = divmod(units, 10**6)
    text = f"{whole:,}.{frac:06d}".rstrip("0").rstrip(".")
    return text


async def test_a_copied_token_shows_its_symbol_and_human_amount_everywhere(
    make_engine, sim_cluster, fake_bot, tmp_path, capsys
):
    engine = make_engine()
    wait_until(lambda: engine.snapshot().worker("telegram").state == "ready", what="telegram ready")
    pool = next(iter(sim_cluster.market.pools.values()))
    symbol, mint = pool.symbol, pool.mint_str
    leader = sim_cluster.traders[0][0]
    buy = copied(engine, sim_cluster.trader_swap(leader, "buy", mint, quote_lamports=2 * SOL))
    wait_until(lambda: engine.ctx.state.symbol(mint) == symbol, what="the token named")
    sell = copied(engine, sim_cluster.trader_swap(leader, "sell", mint, token_fraction=0.5))
    held = buy["token_amount"] - sell["token_amount"]
    assert held > 0 and buy["token_amount"] > 10**6  # whole tokens: the raw units differ from what is shown

    # the console: positions and trades panes
    app = ZapBotApp(engine, cursor_blink=False, persist_theme=False)
    async with app.run_test(size=(140, 40)) as pilot:
        assert await until(pilot, lambda: app.phase == "running" and app.main.snapshot is not None)
        positions, trades = app.main.panes["positions"], app.main.panes["trades"]
        assert await until(pilot, lambda: mint in positions._full and str(sell["id"]) in trades._full)
        cells = [c.plain for c in positions.full_cells(mint)]
        assert cells[0] == symbol and cells[1] == token_amount(held, 6)
        assert cells[1] != str(held)
        buy_cells = [c.plain for c in trades.full_cells(str(buy["id"]))]
        assert buy_cells[3] == symbol and buy_cells[4] == token_amount(buy["token_amount"], 6)
        sell_cells = [c.plain for c in trades.full_cells(str(sell["id"]))]
        assert sell_cells[2] == "sell" and sell_cells[3] == symbol

    # zapbot trades, its CSV and --json (raw units only there, beside the human value)
    assert trades_cli.main([]) == 0
    out = capsys.readouterr().out
    buy_line = next(line for line in out.splitlines() if "buy" in line.split() and "executed" in line)
    assert symbol in buy_line.split() and human(buy["token_amount"]) in buy_line
    assert str(buy["token_amount"]) not in out
    target = tmp_path / "trades.csv"
    assert trades_cli.main(["--csv", str(target)]) == 0
    capsys.readouterr()
    with target.open() as handle:
        rows = {row["leader_signature"]: row for row in csv.DictReader(handle)}
    row = rows[buy["leader_signature"]]
    assert (row["symbol"], row["token_units"], row["token_decimals"]) == (
        symbol,
        str(buy["token_amount"]),
        "6",
    )
    assert row["tokens"] == f"{buy['token_amount'] / 10**6:.6f}"
    assert trades_cli.main(["--json"]) == 0
    decision = next(
        d for d in json.loads(capsys.readouterr().out) if d["leader_signature"] == buy["leader_signature"]
    )
    assert decision["symbol"] == symbol and decision["token_amount"] == buy["token_amount"]

    # Telegram: the fill notices, /positions and /sell by symbol
    notice = fake_bot.wait_for(
        lambda server: next((t for t in server.texts(CHAT) if t.startswith("✅ SELL")), None), timeout=20
    )
    assert f"SELL {symbol} (" in notice and f"Size: {token_amount_tg(sell['token_amount'])} for" in notice
    fake_bot.push_message(CHAT, "/positions")
    reply = fake_bot.wait_for(
        lambda server: next((t for t in server.texts(CHAT) if t.startswith("Open positions")), None),
        timeout=20,
    )
    assert f"{symbol} (" in reply and token_amount_tg(held) in reply
    fake_bot.push_message(CHAT, f"/sell {symbol.lower()} 50")
    ask = fake_bot.wait_for(
        lambda server: next((t for t in server.texts(CHAT) if t.startswith("Sell 50%")), None), timeout=20
    )
    assert f"of {symbol} (" in ask and mint in ask


def token_amount_tg(units: int) -> str:
    from engine.telegram.formatting import token_amount as telegram_amount

    return telegram_amount(units, 6)


async def test_a_token_no_lot_knows_is_an_untracked_holding_and_never_sold(make_engine, sim_cluster):
    engine = make_engine(engine__reconcile_interval_s=0.5)
    wallet = engine.ctx.state.wallet
    pool = next(iter(sim_cluster.market.pools.values()))
    mint = pool.mint_str
    # someone sends the wallet tokens ZapBot never bought (an airdrop, a transfer from the operator's app)
    name, keypair = sim_cluster.market.trader_keypair(sim_cluster.traders[1][0])
    sim_cluster.trader_swap(name, "buy", mint, quote_lamports=SOL)
    gift = sim_cluster.token_balance(str(keypair.pubkey()), mint) // 2
    send_tokens(sim_cluster.rpc_url, keypair, mint, wallet, gift, 6)
    wait_until(lambda: sim_cluster.token_balance(wallet, mint) == gift, what="the transfer")

    snap = wait_until(
        lambda: (s := engine.snapshot()) and s.untracked.get(mint) == gift and s.tokens.get(mint) and s,
        what="the untracked holding, named",
    )
    assert not snap.positions and not snap.lots
    assert any("untracked holding" in line.message for line in snap.logs)

    app = ZapBotApp(engine, cursor_blink=False, persist_theme=False)
    async with app.run_test(size=(140, 40)) as pilot:
        assert await until(pilot, lambda: app.phase == "running" and app.main.snapshot is not None)
        pane = app.main.panes["positions"]
        key = UNTRACKED_KEY + mint
        assert await until(pilot, lambda: key in pane._full)
        cells = [c.plain for c in pane.full_cells(key)]
        assert cells[0] == pool.symbol and cells[1] == token_amount(gift, 6) and cells[2] == "no lot"
        # Enter on it offers no sell: it says why
        app.main.focus_pane("positions")
        await pilot.pause()
        assert pane.selected_key() == key
        await pilot.press("enter")
        assert await until(pilot, lambda: any("never sold" in n.message for n in app._notifications))
        assert type(app.screen).__name__ == "MainScreen"  # no sell prompt opened

    # reconciliations go on; nothing is sold, no adjustment is booked, the tokens stay
    runs = engine.snapshot().counters.get("reconciliations", 0)
    wait_until(
        lambda: engine.snapshot().counters.get("reconciliations", 0) >= runs + 3, what="three more checks"
    )
    assert query(engine, "SELECT COUNT(*) AS n FROM intents")[0]["n"] == 0
    assert sim_cluster.token_balance(wallet, mint) == gift
    assert engine.snapshot().untracked == {mint: gift}


def test_a_settle_that_booked_the_wrong_amount_is_a_settle_mismatch(
    make_engine, sim_cluster, fake_bot, monkeypatch
):
    extra = 1_234_567  # what a wrong reading of our fill adds to the tokens received
    real_fill = lifecycle.our_fill

    def misread(tx, wallet, mint, side):
        fill = real_fill(tx, wallet, mint, side)
        return None if fill is None else (fill[0] + extra, *fill[1:])

    monkeypatch.setattr(lifecycle, "our_fill", misread)
    engine = make_engine(engine__reconcile_interval_s=3600.0)  # only the check right after each settle
    wait_until(lambda: engine.snapshot().worker("telegram").state == "ready", what="telegram ready")
    wallet = engine.ctx.state.wallet
    mint = sim_cluster.mints[0]
    leader = sim_cluster.traders[0][0]
    row = copied(engine, sim_cluster.trader_swap(leader, "buy", mint, quote_lamports=SOL))
    on_chain = sim_cluster.token_balance(wallet, mint)
    assert row["token_amount"] == on_chain + extra  # the books were told more than landed

    adjustment = wait_until(
        lambda: query(engine, "SELECT * FROM intents WHERE trigger='reconcile'"), what="the adjustment"
    )[0]
    assert adjustment["reason"].startswith("settle mismatch") and adjustment["token_amount"] == extra
    lot = query(engine, "SELECT * FROM lots WHERE id=?", row["lot_id"])[0]
    assert lot["amount"] == on_chain == sim_cluster.token_balance(wallet, mint)
    moves = query(
        engine, "SELECT kind, token_amount, reason FROM lot_moves WHERE intent_id=?", adjustment["id"]
    )
    assert [(m["kind"], m["token_amount"], m["reason"]) for m in moves] == [
        ("adjust", -extra, "settle mismatch")
    ]
    snap = wait_until(
        lambda: (s := engine.snapshot()) and any("settle mismatch" in line.message for line in s.logs) and s,
        what="the log line",
    )
    assert next(p for p in snap.positions if p.mint == mint).amount == on_chain
    notice = fake_bot.wait_for(
        lambda server: next((t for t in server.texts(CHAT) if "Books adjusted" in t), None), timeout=20
    )
    assert "settle mismatch" in notice and "Nothing was sold" in notice
    assert query(engine, "SELECT COUNT(*) AS n FROM intents WHERE side='sell'")[0]["n"] == 0
