"""The telegram worker: runs the Bot API connection in its own loop, sends each chat's notifications and the daily summary."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import BotCommand
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError
from telegram.ext import ContextTypes
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential

from engine.observability import REDACTOR
from engine.store import utc_day
from engine.telegram.commands import CommandHandlers
from engine.telegram.formatting import COMMANDS, daily_summary_text, redact
from engine.telegram.notifier import Notifier
from engine.telegram.transport import Transport, build_application
from engine.worker import BaseWorker, WorkerDisabled

SHUTDOWN_FLUSH_S = 1.5
CONNECT_BACKOFF_FIRST_S = 1.0
CONNECT_BACKOFF_MAX_S = 60.0
STOP_TIMEOUT_S = 3.0
DAILY_FIGURES_TIMEOUT_S = 5.0


def _is_retryable_at_start(exc: BaseException) -> bool:
    # A refused token will not get better; anything else from Telegram might.
    return isinstance(exc, TelegramError) and not isinstance(exc, InvalidToken)


class TelegramWorker(BaseWorker):
    """Mirrors engine events to the authorised chats and takes their commands; never blocks the engine."""

    name = "telegram"
    tick_interval = 0.5

    # -- lifecycle ------------------------------------------------------------------------------------
    async def setup(self) -> None:
        tg = self.ctx.settings.telegram
        token = tg.bot_token.get_secret_value().strip() if tg.bot_token is not None else ""
        if not token:
            raise WorkerDisabled("no Telegram token")
        if not tg.chat_ids:
            raise WorkerDisabled("no authorised chats: set TELEGRAM_CHAT_IDS or [telegram].chat_ids")
        REDACTOR.add(token)
        self.settings = tg
        self.chat_ids = frozenset(tg.chat_ids)
        notifier = self.ctx.notifier
        if notifier is None:
            notifier = Notifier(self.ctx, tg)
            self.ctx.notifier = notifier
            # Started after this point? Then today's summary time may have passed already: start tomorrow.
            if _past_summary_time(tg.daily_summary_utc):
                notifier.summary_day = utc_day()
        self.notifier: Notifier = notifier
        assert self.loop is not None
        notifier.bind(self.loop)
        self.ctx.extra_depths["telegram"] = notifier.depth
        self.connected = asyncio.Event()
        self.degraded = False
        self.gave_up = False
        self.bot_username = ""
        self.sending = 0
        self.idle = asyncio.Event()  # set whenever no notification is queued or being sent
        # Building the HTTP clients loads the CA bundle (hundreds of ms): off the loop, which may be shared.
        app = await self.loop.run_in_executor(None, build_application, token, tg, self._observe)
        self.transport = Transport(app, self.ctx.state, self.log)
        self.commands = CommandHandlers(
            self.ctx,
            self.transport,
            self.chat_ids,
            instance=self.instance,
            daily_summary=lambda: self.daily_summary(utc_day()),
            log=self.log,
        )
        self.commands.register(app)
        app.add_error_handler(self._on_app_error)
        # Before READY goes out, so nobody sees "ready" until polling runs (commands sent earlier are dropped).
        self.set_state("busy", "connecting to Telegram")
        self._tasks = [self.spawn(self._connect(), "telegram connect")]
        self._tasks += [
            self.spawn(self._sender(chat), f"telegram sender {chat}") for chat in self.notifier.queues
        ]

    async def _connect(self) -> None:
        """Reach Telegram (getMe, commands, polling) with backoff; the engine runs meanwhile."""
        app = self.transport.app
        if not await self._keep_trying("cannot reach Telegram", app.initialize):
            return
        self.bot_username = app.bot.username or ""
        try:
            await app.bot.set_my_commands([BotCommand(name, text[:256]) for name, text in COMMANDS])
        except TelegramError as exc:
            self.log.warning("could not publish the command list: %s", redact(exc))
        await app.start()

        def start_polling() -> Awaitable[Any]:
            assert app.updater is not None
            return app.updater.start_polling(
                poll_interval=0.0,
                timeout=int(self.settings.poll_timeout_s),
                bootstrap_retries=0,
                allowed_updates=["message", "callback_query"],
                drop_pending_updates=self.settings.drop_pending_updates,
                error_callback=self._on_poll_error,
            )

        if not await self._keep_trying("cannot start polling", start_polling):
            return
        self.connected.set()
        self.degraded = False
        self.set_state("ready", self._ready_detail())
        self.log.info("telegram connected as @%s for %d chat(s)", self.bot_username, len(self.chat_ids))

    async def _keep_trying(self, what: str, call: Callable[[], Awaitable[Any]]) -> bool:
        """Await call() until it succeeds, backing off while Telegram is unreachable. False if the token is refused."""

        def degrade(retry_state: RetryCallState) -> None:
            exc = retry_state.outcome.exception() if retry_state.outcome is not None else None
            delay = retry_state.next_action.sleep if retry_state.next_action is not None else 0.0
            self._degrade(f"{what} ({redact(exc or 'error')}); retrying in {delay:.0f}s")

        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(_is_retryable_at_start),
                wait=wait_exponential(multiplier=CONNECT_BACKOFF_FIRST_S, max=CONNECT_BACKOFF_MAX_S),
                before_sleep=degrade,
                reraise=True,
            ):
                with attempt:
                    await call()
        except InvalidToken:
            self._give_up("Telegram rejected the bot token; check TELEGRAM_BOT_TOKEN")
            return False
        return True

    def _ready_detail(self) -> str:
        return f"connected as @{self.bot_username}; {len(self.chat_ids)} authorised chat(s)"

    def _give_up(self, reason: str) -> None:
        self.gave_up = True
        self.emit_log("warning", reason)
        self.set_state("disabled", reason)

    def _degrade(self, detail: str) -> None:
        if not self.degraded:
            self.log.warning("telegram: %s", detail)
        self.degraded = True
        self.set_state("degraded", detail)

    def _observe(self, ok: bool, exc: BaseException | None) -> None:
        """Every HTTP round trip to Telegram lands here (in this loop): flip ready/degraded on change."""
        if ok:
            if self.degraded and self.connected.is_set() and not self.gave_up:
                self.degraded = False
                self.set_state("ready", self._ready_detail())
                self.log.info("telegram reachable again")
        elif self.connected.is_set() and not self.gave_up:
            self._degrade(f"cannot reach Telegram ({redact(exc or 'network error')})")

    def _on_poll_error(self, exc: TelegramError) -> None:
        # Called by PTB's retry loop; it must not raise. PTB retries with its own backoff.
        if isinstance(exc, NetworkError) and not isinstance(exc, BadRequest):
            self._observe(False, exc)
        else:
            self.log.warning("telegram polling error: %s", redact(exc))

    async def _on_app_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.log.warning("telegram handler error: %s", redact(context.error or "unknown"))

    async def cleanup(self) -> None:
        final = self._stop
        notifier: Notifier | None = getattr(self, "notifier", None)
        connected = getattr(self, "connected", None)
        if final and notifier is not None and connected is not None and connected.is_set():
            # Give queued 'on' notifications a moment to leave before the engine stops.
            try:
                await asyncio.wait_for(self._flushed(notifier), SHUTDOWN_FLUSH_S)
            except TimeoutError:
                pass  # what is still queued is kept in the notifier
        for task in getattr(self, "_tasks", []):
            task.cancel()
        transport: Transport | None = getattr(self, "transport", None)
        if transport is not None:
            await self._quietly(transport.stop(), STOP_TIMEOUT_S)
        if final and notifier is not None:
            notifier.close()
            self.ctx.notifier = None
            self.ctx.extra_depths.pop("telegram", None)

    async def _flushed(self, notifier: Notifier) -> None:
        while notifier.depth() or self.sending:
            self.idle.clear()
            await self.idle.wait()

    async def _quietly(self, coro: Awaitable[Any], timeout: float) -> None:
        try:
            await asyncio.wait_for(coro, timeout)
        except Exception as exc:
            self.log.warning("telegram shutdown: %s", redact(exc))

    async def tick(self) -> None:
        self.notifier.kill_switch(self.ctx.state.kill_switch)
        today = utc_day()
        if self.notifier.summary_day != today and _past_summary_time(self.settings.daily_summary_utc):
            self.notifier.summary_day = today
            if self.notifier.mode("daily_summary") != "off":
                self.notifier.notify("daily_summary", text=await self.daily_summary(today))

    async def daily_summary(self, day: str) -> str:
        try:
            daily = await asyncio.wait_for(self.ctx.store.daily(day), DAILY_FIGURES_TIMEOUT_S)
        except Exception as exc:
            self.log.warning("daily summary without store figures: %s", redact(exc))
            daily = {"spent_lamports": 0, "realized_pnl_lamports": 0}
        return daily_summary_text(day, daily, self.ctx.state.snapshot())

    # -- sending ---------------------------------------------------------------------------------------
    async def _sender(self, chat_id: int) -> None:
        queue = self.notifier.queues[chat_id]
        await self.connected.wait()
        while True:
            if not len(queue) and not self.sending:
                self.idle.set()
            item = await queue.get()
            self.sending += 1
            try:
                text = self.notifier.render(item)
                if text:
                    await self.transport.deliver(chat_id, text, silent=item.silent)
            except asyncio.CancelledError:
                queue.put_front(item)  # the next instance sends it
                raise
            except Exception as exc:
                self.log.warning("could not render a %s notification: %s", item.kind, redact(exc))
            finally:
                self.sending -= 1


def _past_summary_time(hhmm: str, now: float | None = None) -> bool:
    hours, minutes = (int(part) for part in hhmm.split(":"))
    current = time.gmtime(now if now is not None else time.time())
    return (current.tm_hour, current.tm_min) >= (hours, minutes)
