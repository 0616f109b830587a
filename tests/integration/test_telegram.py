"""The telegram worker against the fake Bot API server, inside the real Engine: commands, notifications, rate limits, secrets."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from solders.keypair import Keypair

from engine.config import load_settings
from engine.facade import Engine
from engine.messages import (
    KillSwitchTripped,
    LogEvent,
    TradeExecuted,
    TradeFailed,
    TradeSkipped,
    WorkerRestarted,
)
from engine.observability import status_document
from engine.paths import home_paths
from engine.state import PositionView
from engine.telegram.formatting import token_label
from engine.testing.fake_telegram import FakeTelegramServer
from engine.traders import TraderConfig, load_traders, save_traders
from engine.workers.data import DataWorker
from engine.workers.telegram import TelegramWorker
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.slow  # every test here starts a cluster, an engine or a subprocess

TOKEN = "7234567890:AAFakeTokenForTestsOnly_abcdefghijkl"
WRONG_TOKEN = "7234567891:AAWrongTokenForTestsOnly_zyxwvutsrqpo"
CHAT = 1001
OTHER_CHAT = 1002
STRANGER = 999
ALICE = str(Keypair().pubkey())
BOB = str(Keypair().pubkey())
HELD_MINT = str(Keypair().pubkey())


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegramServer]:
    server = FakeTelegramServer(TOKEN).start()
    try:
        yield server
    finally:
        server.stop()


def make_settings(fake: FakeTelegramServer, **telegram: Any) -> Any:
    settings = load_settings()
    settings.mode = "paper"
    settings.rpc.urls = ["http://127.0.0.1:9"]  # never contacted: only data and telegram run here
    settings.http.enabled = False
    settings.engine.heartbeat_interval_ms = 2000
    settings.engine.shutdown_deadline_s = 6
    tg = settings.telegram
    tg.bot_token = TOKEN
    tg.chat_ids = [CHAT, OTHER_CHAT]
    tg.api_base_url = fake.base_url
    tg.base_file_url = fake.base_file_url
    tg.poll_timeout_s = 1
    tg.chat_messages_per_second = 200
    tg.chat_burst = 5
    tg.messages_per_second = 400
    for key, value in telegram.items():
        setattr(tg, key, value)
    return settings


def start_engine(settings: Any, *, http: bool = False) -> Engine:
    save_traders(
        home_paths().traders,
        [TraderConfig(name="alice", wallet=ALICE), TraderConfig(name="bob", wallet=BOB, active=False)],
    )
    engine = Engine(settings, worker_classes={"data": DataWorker, "telegram": TelegramWorker}, http=http)
    engine.start(wait_ready=10)
    return engine


def wait_worker(engine: Engine, state: str, timeout: float = 20.0) -> Any:
    return wait_until(
        lambda: (view := engine.snapshot().worker("telegram")).state == state and view,
        timeout,
        what=lambda: f"the telegram worker {state} (it stayed {engine.snapshot().worker('telegram')})",
    )


@pytest.fixture
def running(
    zapbot_home: Path, fake_telegram: FakeTelegramServer
) -> Iterator[tuple[Engine, FakeTelegramServer]]:
    engine = start_engine(make_settings(fake_telegram))
    try:
        wait_worker(engine, "ready")
        yield engine, fake_telegram
    finally:
        engine.stop()


NOTIFICATION_MARKS = ("✅", "❌", "⏭", "⚠️", "🔄", "🛑", "📊")


def ask(fake: FakeTelegramServer, text: str, chat: int = CHAT) -> str:
    """Send a command from chat and return the bot's answer (a notification sent meanwhile is not one)."""
    before = len(fake.texts(chat))
    fake.push_message(chat, text)

    def answer(server: FakeTelegramServer) -> str | None:
        fresh = [t for t in server.texts(chat)[before:] if not t.startswith(NOTIFICATION_MARKS)]
        return fresh[0] if fresh else None

    return fake.wait_for(answer)


def mark(engine: Engine, fake: FakeTelegramServer, label: str, chat: int = CHAT) -> None:
    """Publish a sentinel notification and wait for it: everything queued before it has been sent."""
    engine.ctx.publish(TradeFailed(intent_id=0, trader="sentinel", side="buy", mint=HELD_MINT, reason=label))
    fake.wait_for_text(chat, label)


def executed(intent_id: int, signature: str = "", side: str = "buy") -> TradeExecuted:
    return TradeExecuted(
        intent_id=intent_id,
        trader="alice",
        side=side,
        mint=HELD_MINT,
        signature=signature or f"Sig{intent_id:04d}xyz",
        token_amount=2_500_000,
        quote_amount=50_000_000,
        fee_lamports=5000,
    )


# -- commands --------------------------------------------------------------------------------------------


def test_commands_from_an_authorised_chat_answer_and_change_the_engine(running, zapbot_home: Path) -> None:
    engine, fake = running
    help_answer = ask(fake, "/help")
    assert "/status" in help_answer and "/sell" in help_answer

    assert (
        ask(fake, "/pause")
        == "Paused buying; sells of open lots are still copied (/pauseall stops those too)."
    )
    assert engine.paused and engine.ctx.paused and engine.snapshot().paused
    assert ask(fake, "/pause") == "Buying is already paused."
    assert engine.pause_mode == "buys" and "BUYS PAUSED" in ask(fake, "/status")
    assert ask(fake, "/pauseall") == "Paused all copying, sells too."
    assert engine.pause_mode == "all" and "ALL PAUSED (sells too)" in ask(fake, "/status")
    assert ask(fake, "/resume") == "Resumed copying."
    assert not engine.paused and not engine.ctx.paused
    assert ask(fake, "/resume") == "Copying was not paused."

    status = ask(fake, "/status")
    assert "paper mode" in status and "Copying: running" in status
    assert "telegram: ready (connected as @zapbot_test_bot; 2 authorised chat(s))" in status

    traders = ask(fake, "/traders")
    assert "alice" in traders and "bob" in traders and "copying" in traders

    assert ask(fake, "/copy alice off") == "Stopped copying alice."
    assert {t.name: t.active for t in load_traders(zapbot_home / "traders.toml")} == {
        "alice": False,
        "bob": False,
    }
    assert not {t.name: t for t in engine.snapshot().traders}["alice"].active
    assert ask(fake, "/copy alice off") == "alice was not being copied."
    assert ask(fake, "/copy BOB on") == "Copying bob started."
    assert load_traders(zapbot_home / "traders.toml")[1].active
    assert ask(fake, "/copy bob maybe") == "Usage: /copy <trader name> on|off"
    assert ask(fake, "/copy nobody off").startswith("No trader named 'nobody'")

    assert ask(fake, "/trades") == "No trades yet."
    assert ask(fake, "/trades 0").startswith("Usage: /trades")
    assert ask(fake, "/trades many").startswith("Usage: /trades")
    assert ask(fake, "/positions") == "No open positions."
    engine.state.set_position(
        PositionView(mint=HELD_MINT, amount=5_000_000, cost_lamports=100_000_000, decimals=6, symbol="ZAP"),
        HELD_MINT,
    )
    positions = ask(fake, "/positions")
    assert "ZAP" in positions and HELD_MINT in positions and "5.00" in positions

    assert ask(fake, f"/sell {HELD_MINT} 150").startswith("Percent must be above 0 and at most 100")
    assert ask(fake, f"/sell {BOB} 50").startswith("No open position in")
    assert "is not a mint address" in ask(fake, "/sell notamint 50")
    assert ask(fake, "/sell").startswith("Usage: /sell")
    assert ask(fake, "/frobnicate") == "Unknown command. /help lists what I understand."
    assert fake.sent("sendMessage", STRANGER) == []


def _keyboard(fake: FakeTelegramServer, chat: int) -> tuple[int, list[str]]:
    call = [c for c in fake.sent("sendMessage", chat) if "reply_markup" in c.params][-1]
    buttons = call.params["reply_markup"]["inline_keyboard"][0]
    assert call.message_id is not None
    return call.message_id, [button["callback_data"] for button in buttons]


def test_sell_asks_for_confirmation_and_sells_once(running, monkeypatch) -> None:
    engine, fake = running
    requests: list[tuple[str, float]] = []

    def fake_manual_sell(ctx: Any, mint: str, percent: float) -> Future:
        # The executor's boundary: record the request and hand back an intent id.
        requests.append((mint, percent))
        future: Future = Future()
        future.set_result(41 + len(requests))
        return future

    monkeypatch.setattr("engine.commands.request_manual_sell", fake_manual_sell)
    engine.state.set_position(
        PositionView(mint=HELD_MINT, amount=5_000_000, cost_lamports=1, decimals=6, symbol="ZAP"), HELD_MINT
    )

    prompt = ask(fake, "/sell zap 25%")
    assert prompt.startswith("Sell 25% of ZAP") and HELD_MINT in prompt
    message_id, (confirm, cancel) = _keyboard(fake, CHAT)
    assert confirm.startswith("sell:") and cancel.startswith("cancel:")
    assert requests == []  # nothing happens before the button

    # A stranger pressing the button in their own chat is ignored.
    fake.push_callback(STRANGER, confirm, message_id=message_id)
    fake.push_callback(CHAT, confirm, message_id=message_id)
    edit = fake.wait_for(lambda s: s.sent("editMessageText"))[-1]
    assert edit.text == f"Sell of 25% {token_label(HELD_MINT, 'ZAP')} queued (intent #42)."
    assert requests == [(HELD_MINT, 25.0)]
    fake.push_callback(CHAT, confirm, message_id=message_id)  # a double tap sells nothing more
    fake.wait_for(lambda s: len(s.sent("editMessageText")) >= 2)
    assert "expired" in fake.sent("editMessageText")[-1].text
    assert requests == [(HELD_MINT, 25.0)]

    ask(fake, f"/sell {HELD_MINT} 100")
    message_id, (_confirm, cancel) = _keyboard(fake, CHAT)
    fake.push_callback(CHAT, cancel, message_id=message_id)
    fake.wait_for(lambda s: len(s.sent("editMessageText")) >= 3)
    assert fake.sent("editMessageText")[-1].text.endswith("cancelled.")
    assert requests == [(HELD_MINT, 25.0)]
    assert all(call.params.get("chat_id") != STRANGER for call in fake.calls)
    assert len(fake.sent("answerCallbackQuery")) == 3  # the stranger's press was never answered


def test_a_sell_the_executor_refuses_says_why(running) -> None:
    engine, fake = running
    engine.state.set_position(PositionView(mint=HELD_MINT, amount=10, cost_lamports=1, decimals=0), HELD_MINT)
    ask(fake, f"/sell {HELD_MINT} 50")
    message_id, (confirm, _cancel) = _keyboard(fake, CHAT)
    fake.push_callback(CHAT, confirm, message_id=message_id)
    edit = fake.wait_for(lambda s: s.sent("editMessageText"))[-1]
    assert "Sell of 50%" in edit.text and ("failed" in edit.text or "queued" in edit.text)


def test_an_unauthorised_chat_gets_nothing(running, zapbot_home: Path) -> None:
    engine, fake = running
    for text in ("/status", "/pause", "/copy alice off", "hello", f"/sell {HELD_MINT} 100"):
        fake.push_message(STRANGER, text)
    ask(fake, "/help")  # updates are handled in order: the stranger's are done by now
    assert fake.sent("sendMessage", STRANGER) == []
    assert not engine.paused
    assert load_traders(zapbot_home / "traders.toml")[0].active
    assert engine.snapshot().counters.get("telegram_unauthorised") == 5
    log_text = (zapbot_home / "logs" / "threading.log").read_text()
    assert "unauthorised chat 999" in log_text


@pytest.mark.parametrize("threaded", [False], ids=["cooperative"])
def test_commands_work_with_all_workers_on_one_loop(zapbot_home: Path, fake_telegram, threaded: bool) -> None:
    settings = make_settings(fake_telegram)
    settings.engine.threading_enabled = threaded
    engine = start_engine(settings)
    try:
        wait_worker(engine, "ready")
        assert (
            ask(fake_telegram, "/pause")
            == "Paused buying; sells of open lots are still copied (/pauseall stops those too)."
        )
        assert engine.paused
        assert ask(fake_telegram, "/resume", chat=OTHER_CHAT) == "Resumed copying."
        engine.ctx.publish(executed(7, "CoopSig"))
        fake_telegram.wait_for_text(CHAT, "CoopSig")
    finally:
        assert engine.stop()


# -- notifications ---------------------------------------------------------------------------------------


def test_a_trade_produces_exactly_one_notification_per_chat(running) -> None:
    engine, fake = running
    engine.state.set_position(
        PositionView(
            mint=HELD_MINT,
            amount=2_500_000,
            cost_lamports=50_000_000,
            realized_pnl_lamports=12_000_000,
            decimals=6,
        ),
        HELD_MINT,
    )
    engine.ctx.publish(executed(5, "LandedSig5", side="sell"))
    engine.ctx.publish(
        TradeSkipped(
            leader_signature="L",
            trader="alice",
            side="buy",
            mint=HELD_MINT,
            reason="skip notifications are off by default",
        )
    )
    mark(engine, fake, "sentinel-1")
    mark(engine, fake, "sentinel-1", chat=OTHER_CHAT)
    for chat in (CHAT, OTHER_CHAT):
        texts = [t for t in fake.texts(chat) if "LandedSig5" in t]
        assert len(texts) == 1
        text = texts[0]
        assert text.startswith("✅ SELL") and "alice" in text
        assert "Size: 2.50 for 0.0500 SOL" in text and "Price: 0.02 SOL" in text
        assert "Realized PnL on this token: +0.0120 SOL" in text
        assert "https://solscan.io/tx/LandedSig5" in text
        assert not any("skip notifications" in t for t in fake.texts(chat))
    call = next(c for c in fake.sent("sendMessage", CHAT) if "LandedSig5" in c.text)
    assert call.params.get("disable_notification") is False


def test_failures_restarts_and_the_kill_switch_are_notified(running) -> None:
    engine, fake = running
    engine.ctx.publish(
        TradeFailed(
            intent_id=9,
            trader="bob",
            side="buy",
            mint=HELD_MINT,
            reason="slippage exceeded",
            signature="FailSig9",
        )
    )
    engine.ctx.publish(WorkerRestarted("monitor", 2, "handling NewTransactions: boom"))
    engine.ctx.publish(LogEvent("error", "executor", "RPC send failed"))
    engine.ctx.publish(
        LogEvent("error", "executor", "RPC send failed")
    )  # a repeat within a minute is dropped
    # The executor trips the kill switch: state, its event and an error line; one notification comes of it.
    reason = "daily loss cap 5 SOL reached"
    engine.state.set(kill_switch=reason)
    engine.ctx.publish(KillSwitchTripped(reason, -5 * 10**9))
    engine.ctx.publish(LogEvent("error", "executor", f"kill switch: {reason}"))
    fake.wait_for_text(CHAT, "Kill switch triggered: daily loss cap 5 SOL reached")
    mark(engine, fake, "sentinel-2")
    texts = fake.texts(CHAT)
    assert sum("failed" in t and "FailSig9" in t and "slippage exceeded" in t for t in texts) == 1
    assert sum("Worker monitor restarted (restart 2)" in t for t in texts) == 1
    assert sum("Worker executor failed: RPC send failed" in t for t in texts) == 1
    assert sum("Kill switch triggered" in t for t in texts) == 1
    assert not any("failed: kill switch" in t for t in texts)
    assert ask(fake, "/resume") == "Resumed copying; kill switch cleared (was: daily loss cap 5 SOL reached)."
    assert engine.snapshot().kill_switch == "" and not engine.paused
    engine.state.set(kill_switch="tripped again")  # after a resume, a new trip is news again
    fake.wait_for_text(CHAT, "Kill switch triggered: tripped again")


def test_silent_and_off_notifications(zapbot_home: Path, fake_telegram) -> None:
    settings = make_settings(fake_telegram)
    settings.telegram.notifications.trade_executed = "silent"
    settings.telegram.notifications.worker = "off"
    engine = start_engine(settings)
    try:
        wait_worker(engine, "ready")
        engine.ctx.publish(executed(3, "QuietSig"))
        engine.ctx.publish(WorkerRestarted("cache", 1, "crashed"))
        mark(engine, fake_telegram, "sentinel-3")
        quiet = [c for c in fake_telegram.sent("sendMessage", CHAT) if "QuietSig" in c.text]
        assert len(quiet) == 1 and quiet[0].params["disable_notification"] is True
        assert not any("restarted" in t for t in fake_telegram.texts(CHAT))
    finally:
        engine.stop()


def test_a_flood_is_rate_limited_and_loses_no_notification_that_is_on(
    zapbot_home: Path, fake_telegram
) -> None:
    chat_rate, chat_burst, overall_rate = 40.0, 2, 60.0
    settings = make_settings(
        fake_telegram,
        chat_messages_per_second=chat_rate,
        chat_burst=chat_burst,
        messages_per_second=overall_rate,
        queue_size=10,
    )
    settings.telegram.notifications.skip = "silent"
    engine = start_engine(settings)
    try:
        wait_worker(engine, "ready")

        def flood() -> None:  # 200 events from an engine-like thread, as fast as it can publish
            for index in range(100):
                engine.ctx.publish(executed(1000 + index, f"Flood{index:03d}"))
                engine.ctx.publish(
                    TradeSkipped(
                        leader_signature=f"L{index}",
                        trader="bob",
                        side="buy",
                        mint=HELD_MINT,
                        reason=f"flood-skip-{index}",
                    )
                )

        publisher = threading.Thread(target=flood)
        publisher.start()
        publisher.join(5)
        assert not publisher.is_alive()  # publishing never waited on Telegram
        for chat in (CHAT, OTHER_CHAT):
            fake_telegram.wait_for(
                lambda s, chat=chat: sum("Flood" in t for t in s.texts(chat)) >= 100, timeout=40
            )
            mark(engine, fake_telegram, f"sentinel-flood-{chat}", chat=chat)
        skips_delivered = 0
        for chat in (CHAT, OTHER_CHAT):
            texts = fake_telegram.texts(chat)
            flood_sigs = {t.split("tx/")[1] for t in texts if "tx/Flood" in t}
            assert flood_sigs == {f"Flood{index:03d}" for index in range(100)}
            skips_delivered += sum("flood-skip-" in t for t in texts)
            stamps = [c.at for c in fake_telegram.sent("sendMessage", chat)]
            _assert_paced(stamps, chat_rate, chat_burst)
        dropped = engine.snapshot().counters.get("telegram_dropped", 0)
        assert dropped > 0 and skips_delivered + dropped == 200
        everything = sorted(c.at for c in fake_telegram.calls if c.method == "sendMessage")
        _assert_paced(everything, overall_rate, int(overall_rate))
    finally:
        engine.stop()


def _assert_paced(stamps: list[float], rate: float, burst: int, jitter_s: float = 0.25) -> None:
    """A leaky bucket of `burst` at `rate`/s: any k consecutive sends span at least (k - burst)/rate seconds.

    The stamps are taken when the fake server's loop gets to a request, so a busy machine can bunch them up;
    jitter_s allows for that while an unpaced sender (100 messages in ~0.1 s) still fails by seconds.
    """
    stamps = sorted(stamps)
    for start in range(len(stamps)):
        for end in range(start + burst, min(len(stamps), start + burst + 60)):
            count = end - start + 1
            assert stamps[end] - stamps[start] >= (count - burst) / rate - jitter_s, (start, end)


def test_network_errors_are_retried_without_losing_the_message(running) -> None:
    engine, fake = running
    fake.fail_next("sendMessage", 3, status=502)
    engine.ctx.publish(executed(11, "RetrySig"))
    fake.wait_for_text(CHAT, "RetrySig", timeout=15)
    fake.wait_for_text(OTHER_CHAT, "RetrySig", timeout=15)
    assert engine.snapshot().counters.get("telegram_send_retries", 0) >= 3
    mark(engine, fake, "sentinel-4")
    assert sum("RetrySig" in t for t in fake.texts(CHAT)) == 1

    fake.fail_next("sendMessage", 1, status=429, retry_after=1)  # a flood wait: paused, then sent
    engine.ctx.publish(executed(13, "FloodWaitSig"))
    fake.wait_for_text(CHAT, "FloodWaitSig", timeout=15)
    fake.wait_for_text(OTHER_CHAT, "FloodWaitSig", timeout=15)
    mark(engine, fake, "sentinel-5")
    assert sum("FloodWaitSig" in t for t in fake.texts(CHAT)) == 1


def test_polling_failures_show_degraded_then_ready(running) -> None:
    engine, fake = running
    fake.fail_next("getUpdates", 2, status=502)
    view = wait_worker(engine, "degraded")
    assert "cannot reach Telegram" in view.detail
    view = wait_worker(engine, "ready")
    assert "@zapbot_test_bot" in view.detail
    assert (
        ask(fake, "/pause")
        == "Paused buying; sells of open lots are still copied (/pauseall stops those too)."
    )  # commands flow again


def test_a_long_answer_is_split_at_4096_characters(running) -> None:
    engine, fake = running
    engine.ctx.publish(LogEvent("error", "analyzer", "x" * 9000))
    fake.wait_for(lambda s: sum(t.count("x") for t in s.texts(CHAT)) >= 9000)
    parts = [t for t in fake.texts(CHAT) if "x" in t]
    assert [len(p) for p in parts][:2] == [4096, 4096] and len(parts) == 3
    assert parts[0].startswith("⚠️ Worker analyzer failed: xxx")
    assert sum(p.count("x") for p in parts) == 9000


# -- state, status and secrets ---------------------------------------------------------------------------


def test_status_shows_the_worker_and_no_token_reaches_logs_or_status(
    zapbot_home: Path, fake_telegram
) -> None:
    settings = make_settings(fake_telegram)
    settings.http.port = 0  # an ephemeral port: another run on this machine may hold the default
    engine = start_engine(settings, http=True)
    try:
        wait_worker(engine, "ready")
        ask(fake_telegram, "/status")
        fake_telegram.fail_next("sendMessage", 1, status=502)
        engine.ctx.publish(executed(12, "LogSig"))
        fake_telegram.wait_for_text(CHAT, "LogSig")
        # The failed send may have been the other chat's: once it is through too, the worker is ready again.
        fake_telegram.wait_for_text(OTHER_CHAT, "LogSig")
        view = wait_worker(engine, "ready")
        assert view.state == "ready" and "@zapbot_test_bot" in view.detail
        document = status_document(engine.snapshot())
        assert document["workers"]["telegram"]["state"] == "ready"
        assert engine.http is not None and engine.http.error is None
        fake_telegram.wait_for(lambda _s: engine.http.bound_port, timeout=20)  # its thread may start late
        with urllib.request.urlopen(
            f"http://127.0.0.1:{engine.http.bound_port}/workers/status", timeout=5
        ) as r:
            served = json.loads(r.read())
        assert served["workers"]["telegram"]["state"] == "ready"
        assert TOKEN not in json.dumps(served) and TOKEN not in json.dumps(document)
    finally:
        engine.stop()

    # A token Telegram rejects: PTB's InvalidToken message quotes the token; it must not get out.
    settings = make_settings(fake_telegram)
    settings.telegram.bot_token = WRONG_TOKEN
    engine = start_engine(settings)
    try:
        view = wait_worker(engine, "disabled")
        assert view.detail == "Telegram rejected the bot token; check TELEGRAM_BOT_TOKEN"
        snapshot = engine.snapshot()
        shown = json.dumps(status_document(snapshot)) + " ".join(line.message for line in snapshot.logs)
        assert WRONG_TOKEN not in shown and "rejected the bot token" in shown
    finally:
        engine.stop()
    assert fake_telegram.unauthorised_requests >= 1
    log_text = (zapbot_home / "logs" / "threading.log").read_text()
    assert "telegram connected as @zapbot_test_bot" in log_text
    assert TOKEN not in log_text and WRONG_TOKEN not in log_text
    assert TOKEN.split(":")[1] not in log_text and WRONG_TOKEN.split(":")[1] not in log_text


def test_without_a_token_or_chats_the_worker_is_disabled_and_the_engine_runs(
    zapbot_home: Path, fake_telegram
) -> None:
    settings = make_settings(fake_telegram)
    settings.telegram.bot_token = None
    engine = start_engine(settings)
    try:
        view = wait_worker(engine, "disabled")  # READY then its disabled status: wait past the first
        assert view.detail == "no Telegram token"
        assert engine.snapshot().worker("data").state == "ready"
    finally:
        engine.stop()
    settings = make_settings(fake_telegram)
    settings.telegram.chat_ids = []
    engine = start_engine(settings)
    try:
        view = wait_worker(engine, "disabled")
        assert "TELEGRAM_CHAT_IDS" in view.detail
    finally:
        engine.stop()
    assert fake_telegram.requests_by_method == {}
