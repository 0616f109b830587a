"""/scout against the fake Bot API server, inside the real Engine in sim mode: the embedded cluster's generated
history is read over the engine's endpoints and summed up in one reply, without holding up other commands."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engine.config import load_settings
from engine.facade import Engine
from engine.testing.fake_telegram import FakeTelegramServer
from engine.workers.data import DataWorker
from engine.workers.telegram import TelegramWorker

TOKEN = "7234567890:AAFakeTokenForTestsOnly_abcdefghijkl"
CHAT = 1001

pytestmark = pytest.mark.slow


@pytest.fixture
def running(zapbot_home) -> Iterator[tuple[Engine, FakeTelegramServer]]:
    fake = FakeTelegramServer(TOKEN).start()
    settings: Any = load_settings()
    settings.mode = "sim"
    settings.sim.history_days = 0.5
    settings.sim.trade_rate = 0.0
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
    engine = Engine(settings, worker_classes={"data": DataWorker, "telegram": TelegramWorker}, http=False)
    engine.start(wait_ready=10)
    try:
        fake.wait_for(lambda _server: engine.snapshot().worker("telegram").state == "ready")
        yield engine, fake
    finally:
        engine.stop()
        fake.stop()


def replies(fake: FakeTelegramServer, after: int, count: int) -> list[str]:
    return fake.wait_for(
        lambda server: server.texts(CHAT)[after:] if len(server.texts(CHAT)) >= after + count else None
    )


@pytest.mark.timeout(120)
def test_scout_command(running) -> None:
    engine, fake = running
    sniper = engine.cluster.history.wallets["sniper"]
    before = len(fake.texts(CHAT))
    fake.push_message(CHAT, f"/scout {sniper} 1")
    first, summary = replies(fake, before, 2)[:2]
    assert first.startswith(f"Scouting {sniper[:4]}…{sniper[-4:]} over 1 day(s)")
    assert "TOO FAST TO COPY" in summary and "(followed as sniper)" in summary
    assert f"{engine.cluster.history.swaps['sniper']} swaps over 1 day(s)" in summary
    assert "If copied (0.1 SOL" in summary and "1000 ms late" in summary
    before = len(fake.texts(CHAT))
    fake.push_message(CHAT, "/scout not-a-wallet")
    assert replies(fake, before, 1)[0].endswith("Usage: /scout <wallet address> [days, 0 to 30; default 3]")
    before = len(fake.texts(CHAT))
    fake.push_message(CHAT, "/help")
    assert "/scout <wallet> [days]" in replies(fake, before, 1)[0]
