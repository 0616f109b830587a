"""/profit, /daily, /performance, /balance, /logs and /stopbuy against the fake Bot API server, inside the
real Engine (data + telegram workers), reading what the store holds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from solders.keypair import Keypair

from engine.config import load_settings
from engine.facade import Engine
from engine.messages import LogEvent
from engine.paths import home_paths
from engine.state import PositionView
from engine.store import Store
from engine.testing.fake_telegram import FakeTelegramServer
from engine.traders import TraderConfig, save_traders
from engine.workers.data import DataWorker
from engine.workers.telegram import TelegramWorker
from tests.helpers.waiting import wait_until

TOKEN = "7234567890:AAFakeTokenForTestsOnly_abcdefghijkl"
CHAT = 1001
SOL = 1_000_000_000
MINT = str(Keypair().pubkey())
OTHER = str(Keypair().pubkey())


def seed(db_path: Path) -> None:
    store = Store(db_path)
    # The books the engine below opens: paper on an endpoint it cannot reach (rows of another chain, or of
    # chain 'unknown', would not be in its reports).
    store.use_books("rpc:127.0.0.1", "paper", remember=False)
    try:
        fills = [
            ("alice", "buy", MINT, 2_000_000, SOL, 5_000),
            ("alice", "sell", MINT, 1_000_000, SOL, 5_000),
            ("bob", "buy", OTHER, 1_000_000, SOL // 2, 5_000),
        ]
        for n, (trader, side, mint, tokens, quote, fee) in enumerate(fills):
            intent_id, _ = store.record_intent(
                leader_signature=f"L{n}",
                trader=trader,
                wallet="paper",
                side=side,
                mint=mint,
                amount_in=quote,
                token_decimals=6,
                status="queued",
            )
            store.settle_intent(intent_id, token_amount=tokens, quote_amount=quote, fee_lamports=fee)
    finally:
        store.close()


@pytest.fixture
def running(zapbot_home: Path) -> Iterator[tuple[Engine, FakeTelegramServer]]:
    fake = FakeTelegramServer(TOKEN).start()
    settings: Any = load_settings()
    settings.mode = "paper"
    settings.rpc.urls = ["http://127.0.0.1:9"]  # never contacted: only data and telegram run here
    settings.http.enabled = False
    settings.engine.shutdown_deadline_s = 6
    tg = settings.telegram
    tg.bot_token = TOKEN
    tg.chat_ids = [CHAT]
    tg.api_base_url = fake.base_url
    tg.base_file_url = fake.base_file_url
    tg.poll_timeout_s = 1
    tg.chat_messages_per_second = 200
    tg.chat_burst = 5
    tg.messages_per_second = 400
    save_traders(home_paths().traders, [TraderConfig(name="alice", wallet=str(Keypair().pubkey()))])
    seed(home_paths().db_for_mode("paper"))
    engine = Engine(settings, worker_classes={"data": DataWorker, "telegram": TelegramWorker}, http=False)
    engine.start(wait_ready=10)
    try:
        # Re-checked on every Bot API call; the worker's long poll calls at least once a second.
        fake.wait_for(lambda _server: engine.snapshot().worker("telegram").state == "ready")
        # The data worker shows the books once it has given up on the chain id (paper, endpoint unreachable).
        wait_until(lambda: engine.snapshot().books_chain, 20, what="the books")
        yield engine, fake
    finally:
        engine.stop()
        fake.stop()


def ask(fake: FakeTelegramServer, text: str) -> str:
    before = len(fake.texts(CHAT))
    fake.push_message(CHAT, text)
    return fake.wait_for(lambda server: (server.texts(CHAT)[before:] or [None])[0])


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_report_commands(running) -> None:
    engine, fake = running
    engine.state.set_position(
        PositionView(MINT, 1_000_000, SOL // 2, unrealized_pnl_lamports=SOL // 10, decimals=6, symbol="ZAP"),
        MINT,
    )
    profit = ask(fake, "/profit")
    assert "Realised: +0.5000 SOL over 1 sell(s); win rate 100% (1/1)" in profit, profit
    assert "alice: +0.5000 SOL" in profit and "bob: +0.0000 SOL" in profit
    performance = ask(fake, "/performance")
    assert "1. ZAP (" in performance and "win rate 100% (1/1)" in performance and "Per trader:" in performance
    daily = ask(fake, "/daily 2")
    lines = daily.splitlines()
    assert len(lines) == 3 and "3 trade(s)" in lines[1] and "spent 1.5000 SOL" in lines[1], daily
    assert ask(fake, "/daily 0").startswith("Usage: /daily")
    balance = ask(fake, "/balance")
    assert "No wallet (paper mode" in balance and "ZAP (" in balance and "value 0.6000 SOL" in balance
    engine.ctx.publish(LogEvent("warning", "executor", "slow RPC answer"))
    logs = ask(fake, "/logs 3")
    assert logs.startswith("🧾 Last") and len(logs.splitlines()) <= 4
    assert ask(fake, "/logs many").startswith("Usage: /logs")
    stop = ask(fake, "/stopbuy")
    assert stop.startswith("Stopped buying.") and "Sells of open lots are still copied" in stop
    assert engine.pause_mode == "buys"
    assert ask(fake, "/stopbuy").startswith("Buying was already stopped.")
    help_answer = ask(fake, "/help")
    for command in ("/profit", "/daily", "/performance", "/balance", "/logs", "/stopbuy"):
        assert command in help_answer
