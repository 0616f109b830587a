"""Telegram against a real trade: the engine copies a leader's buy on the local cluster, Telegram reports it once,
and a /sell confirmed with its button sells through the real executor."""

from __future__ import annotations

import time

import pytest

from engine.config import load_settings
from engine.constants import WSOL_MINT
from engine.facade import Engine
from engine.messages import SwapDetected
from engine.testing.fake_telegram import FakeTelegramServer
from engine.workers.data import DataWorker
from engine.workers.executor import ExecutorWorker
from engine.workers.telegram import TelegramWorker
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.slow  # every test here starts a cluster, an engine or a subprocess

TOKEN = "7234567892:AASimTokenForTestsOnly_abcdefghijklmn"
CHAT = 2001
SOL = 1_000_000_000


def test_a_copied_trade_on_the_local_cluster_is_notified_once_and_sold_from_telegram(
    zapbot_home, sim_cluster
):
    fake = FakeTelegramServer(TOKEN).start()
    settings = load_settings()
    settings.http.enabled = False
    settings.engine.heartbeat_interval_ms = 1000
    tg = settings.telegram
    tg.bot_token = TOKEN
    tg.chat_ids = [CHAT]
    tg.api_base_url = fake.base_url
    tg.poll_timeout_s = 1
    tg.chat_messages_per_second = 50
    engine = Engine(
        settings,
        cluster=sim_cluster,
        http=False,
        worker_classes={"data": DataWorker, "executor": ExecutorWorker, "telegram": TelegramWorker},
    )
    try:
        engine.start(wait_ready=15)
        wallet = engine.ctx.state.wallet
        wait_until(lambda: sim_cluster.balance(wallet) > 0, what="the sim airdrop")
        wait_until(lambda: engine.snapshot().worker("telegram").state == "ready", what="telegram ready")
        mint = sim_cluster.mints[0]
        leader_name, _wallet = sim_cluster.traders[0]

        buy = sim_cluster.trader_swap(leader_name, "buy", mint, quote_lamports=2 * SOL)
        now = time.time()
        assert engine.ctx.send(
            "executor",
            SwapDetected(
                leader_signature=buy.signature,
                wallet=buy.wallet,
                trader=buy.trader,
                side="buy",
                mint=mint,
                token_amount=buy.token_amount,
                token_decimals=6,
                quote_mint=WSOL_MINT,
                quote_amount=buy.quote_amount,
                venue="unknown",
                router=None,
                slot=buy.slot,
                source="test",
                seen_at=now,
                detected_at=now,
            ),
        )
        trade = wait_until(
            lambda: next(
                (
                    t
                    for t in engine.snapshot().trades
                    if t.leader_signature == buy.signature and t.status == "executed"
                ),
                None,
            ),
            what="our copied buy",
        )
        assert trade.signature
        note = fake.wait_for_text(CHAT, trade.signature)
        assert note.text.startswith("✅ BUY") and leader_name in note.text and "0.1000 SOL" in note.text
        assert (
            sim_cluster.ledger.get_tx(trade.signature) is not None
        )  # the link is to a transaction that landed

        # /sell half from Telegram, confirmed with the button, through the real executor.
        before = len(fake.texts(CHAT))
        fake.push_message(CHAT, f"/sell {mint} 50")
        fake.wait_for(lambda s: len(s.texts(CHAT)) > before)
        prompt = fake.sent("sendMessage", CHAT)[before]
        confirm = prompt.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        fake.push_callback(CHAT, confirm, message_id=prompt.message_id or 0)
        edit = fake.wait_for(lambda s: s.sent("editMessageText"))[-1]
        assert "queued (intent #" in edit.text, edit.text
        sell = wait_until(
            lambda: next(
                (t for t in engine.snapshot().trades if t.trader == "manual" and t.status == "executed"), None
            ),
            what="the manual sell",
        )
        fake.wait_for_text(CHAT, sell.signature)

        # Exactly one notification per trade.
        texts = fake.texts(CHAT)
        assert sum(trade.signature in t for t in texts) == 1
        assert sum(sell.signature in t for t in texts) == 1
        assert next(t for t in texts if sell.signature in t).startswith("✅ SELL")
    finally:
        engine.stop()
        fake.stop()
