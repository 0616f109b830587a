"""The telegram worker: python-telegram-bot polling inside the worker's own loop, notifications to the authorised chats and their remote commands."""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
import warnings
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiolimiter import AsyncLimiter
from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from engine import commands
from engine.messages import (
    KillSwitchTripped,
    LogEvent,
    TradeExecuted,
    TradeFailed,
    TradeSkipped,
    WorkerRestarted,
)
from engine.observability import REDACTOR
from engine.store import utc_day
from engine.telegram_format import (
    COMMANDS,
    TradeContext,
    UsageError,
    daily_summary_text,
    help_text,
    kill_switch_text,
    parse_copy_args,
    parse_sell_args,
    parse_trades_args,
    positions_text,
    short_mint,
    skip_text,
    split_message,
    status_text,
    token_label,
    trade_executed_text,
    trade_failed_text,
    traders_text,
    trades_text,
    worker_error_text,
    worker_restarted_text,
)
from engine.worker import BaseWorker, WorkerDisabled

if TYPE_CHECKING:
    from engine.config import TelegramSettings
    from engine.context import EngineContext
    from engine.traders import TraderConfig

log = logging.getLogger("zapbot.telegram")

NOTIFICATION_KINDS = ("trade_executed", "trade_failed", "skip", "worker", "kill_switch", "daily_summary")
SELL_CONFIRM_TTL_S = 120.0
SELL_RESULT_TIMEOUT_S = 15.0
WORKER_DEDUP_WINDOW_S = 60.0
SHUTDOWN_FLUSH_S = 1.5


def redact(exc: BaseException | str) -> str:
    """One redacted line for an error; PTB's messages can carry the bot token (e.g. InvalidToken)."""
    text = (
        str(exc)
        if isinstance(exc, str)
        else (f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    )
    return REDACTOR(text.splitlines()[0] if text else "")


# -- engine commands over ctx (the worker has no Engine object) ----------------------------------------------


def set_copying(ctx: "EngineContext", name: str, active: bool) -> tuple["TraderConfig", bool]:
    """/copy: the same command the console uses."""
    return commands.set_copying(ctx, name, active, source="telegram")


def pause_all(ctx: "EngineContext") -> bool:
    return commands.pause_all(ctx, source="telegram")


def resume_all(ctx: "EngineContext") -> tuple[bool, str]:
    return commands.resume_all(ctx, source="telegram")


# -- the outgoing queue ------------------------------------------------------------------------------------


@dataclass
class Outgoing:
    """One notification for one chat; rendered to text when it is sent, so it shows the freshest state."""

    kind: str
    silent: bool
    event: Any = None
    text: str | None = None
    queued_at: float = field(default_factory=time.monotonic)


class ChatQueue:
    """A chat's outgoing notifications. Any thread puts; the worker's loop gets.

    Bounded for silent notifications only: at the bound the oldest silent one is dropped (counted), and a
    notification that is 'on' is always kept, so nothing the operator asked to hear about is lost.
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: deque[Outgoing] = deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self.dropped = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            self._loop = loop
            self._event = asyncio.Event()
            if self._items:
                self._event.set()

    def put(self, item: Outgoing) -> bool:
        """Enqueue; False when this item (or an older silent one) was dropped to keep the bound."""
        accepted = True
        with self._lock:
            if len(self._items) >= self.maxsize:
                oldest_silent = next((queued for queued in self._items if queued.silent), None)
                if oldest_silent is not None:
                    self._items.remove(oldest_silent)
                    self.dropped += 1
                    accepted = False
                elif item.silent:
                    self.dropped += 1
                    return False
            self._items.append(item)
        self._wake()
        return accepted

    def put_front(self, item: Outgoing) -> None:
        with self._lock:
            self._items.appendleft(item)
        self._wake()

    def pop(self) -> Outgoing | None:
        with self._lock:
            return self._items.popleft() if self._items else None

    async def get(self) -> Outgoing:
        while True:
            with self._lock:
                if self._items:
                    return self._items.popleft()
                assert self._event is not None, "queue not bound to a loop"
                self._event.clear()
            await self._event.wait()

    def _wake(self) -> None:
        loop, event = self._loop, self._event
        if loop is None or event is None:
            return
        try:
            loop.call_soon_threadsafe(event.set)
        except RuntimeError:  # that loop is closed: a restarted worker binds a new one and sees the items
            pass

    def __len__(self) -> int:
        return len(self._items)


class Notifier:
    """Subscribed to the engine's events once per engine; turns them into queued notifications per chat.

    It lives in the context (ctx.notifier), not in a worker instance, so notifications published while the telegram
    worker restarts are kept for the next instance. The bus callback only filters and enqueues: it runs
    in the publisher's thread and must never block it.
    """

    def __init__(self, ctx: "EngineContext", settings: "TelegramSettings") -> None:
        self.ctx = ctx
        self.settings = settings
        self.queues: dict[int, ChatQueue] = {
            chat: ChatQueue(settings.queue_size) for chat in settings.chat_ids
        }
        self._lock = threading.Lock()
        self._recent_worker_texts: dict[str, float] = {}
        self.kill_switch_notified = ""
        self.summary_day: str | None = None
        self.enqueued = 0
        self._unsubscribe: Callable[[], None] | None = ctx.bus.subscribe(self.on_event)

    def mode(self, kind: str) -> str:
        return str(getattr(self.settings.notifications, kind, "off"))

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        for queue in self.queues.values():
            queue.bind(loop)

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def depth(self) -> int:
        return sum(len(queue) for queue in self.queues.values())

    def dropped(self) -> int:
        return sum(queue.dropped for queue in self.queues.values())

    # -- from engine threads -------------------------------------------------------------------------
    def on_event(self, event: Any) -> None:
        if isinstance(event, TradeExecuted):
            self.notify("trade_executed", event=event)
        elif isinstance(event, TradeFailed):
            self.notify("trade_failed", event=event)
        elif isinstance(event, TradeSkipped):
            self.notify("skip", event=event)
        elif isinstance(event, WorkerRestarted):
            self._notify_worker(worker_restarted_text(event))
        elif (
            isinstance(event, LogEvent)
            and event.level in {"error", "critical"}
            and not event.message.startswith("kill switch")
        ):  # the kill-switch notice covers that one
            self._notify_worker(worker_error_text(event.worker, REDACTOR(event.message)))
        elif isinstance(event, KillSwitchTripped) and event.reason:
            self.kill_switch(str(event.reason))

    def _notify_worker(self, text: str) -> None:
        # A crash loop repeats the same line; one copy a minute is enough to act on.
        now = time.monotonic()
        with self._lock:
            last = self._recent_worker_texts.get(text)
            if last is not None and now - last < WORKER_DEDUP_WINDOW_S:
                return
            self._recent_worker_texts[text] = now
            if len(self._recent_worker_texts) > 256:
                self._recent_worker_texts = {
                    t: at for t, at in self._recent_worker_texts.items() if now - at < WORKER_DEDUP_WINDOW_S
                }
        self.notify("worker", text=text)

    def kill_switch(self, reason: str) -> None:
        """Notify once per kill-switch trip; an empty reason re-arms it."""
        with self._lock:
            if reason == self.kill_switch_notified:
                return
            self.kill_switch_notified = reason
        if reason:
            self.notify("kill_switch", text=kill_switch_text(reason))

    def notify(self, kind: str, *, event: Any = None, text: str | None = None) -> int:
        """Queue one notification for every authorised chat; returns how many chats got it queued."""
        mode = self.mode(kind)
        if mode == "off":
            return 0
        queued = 0
        for queue in self.queues.values():
            if not queue.put(Outgoing(kind, mode == "silent", event, text)):
                self.ctx.state.bump("telegram_dropped")
            queued += 1
        with self._lock:
            self.enqueued += 1
        return queued


# -- rate limiting and transport ----------------------------------------------------------------------------


class ChatRateLimiter(AIORateLimiter):
    """AIORateLimiter (overall and per-group limits, RetryAfter handling) plus a per-chat limit.

    AIORateLimiter leaves private chats unpaced, but Telegram asks for about one message per second in
    any single chat, so every request that names a chat also waits for that chat's own bucket.
    """

    def __init__(
        self,
        *,
        overall_per_s: float,
        chat_per_s: float,
        chat_burst: int,
        group_per_min: float,
        max_retries: int = 2,
    ) -> None:
        super().__init__(
            overall_max_rate=overall_per_s,
            overall_time_period=1.0,
            group_max_rate=group_per_min,
            group_time_period=60.0,
            max_retries=max_retries,
        )
        self._chat_rate = chat_per_s
        self._chat_burst = chat_burst
        self._chat_limiters: dict[str, AsyncLimiter] = {}

    def _chat_limiter(self, chat_id: Any) -> AsyncLimiter:
        key = str(chat_id)
        limiter = self._chat_limiters.get(key)
        if limiter is None:
            # A leaky bucket of chat_burst messages draining at chat_rate per second.
            limiter = AsyncLimiter(self._chat_burst, self._chat_burst / self._chat_rate)
            self._chat_limiters[key] = limiter
        return limiter

    async def process_request(
        self,
        callback: Any,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        chat_id = data.get("chat_id")
        if chat_id is None:
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
        async with self._chat_limiter(chat_id):
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)


class ObservedRequest(HTTPXRequest):
    """HTTPXRequest that reports whether Telegram was reachable, so the worker can show degraded/ready."""

    def __init__(self, on_outcome: Callable[[bool, BaseException | None], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._on_outcome = on_outcome

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        try:
            result = await super().do_request(*args, **kwargs)
        except NetworkError as exc:
            self._on_outcome(False, exc)
            raise
        status = result[0]
        # A 5xx is Telegram's side failing: as unreachable as a refused connection.
        self._on_outcome(status < 500, None if status < 500 else NetworkError(f"HTTP {status}"))
        return result


# -- the worker ---------------------------------------------------------------------------------------------


Handler = Callable[["TelegramWorker", Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]


def authorized_only(handler: Handler) -> Handler:
    """Run the handler only for an authorised chat; anything else is logged by chat id and never answered."""

    @functools.wraps(handler)
    async def wrapper(self: "TelegramWorker", update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None or chat.id not in self.chat_ids:
            self._ignore_unauthorised(chat.id if chat is not None else None)
            return
        try:
            await handler(self, update, context)
        except UsageError as exc:
            await self._answer(chat.id, str(exc))
        except Exception as exc:  # a broken command must not take the bot down
            self.log.warning("command failed: %s", redact(exc), exc_info=True)
            await self._answer(chat.id, f"That failed: {redact(exc)}")

    return wrapper


@dataclass
class PendingSell:
    chat_id: int
    mint: str
    percent: float
    label: str
    expires_at: float


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
        self.pending_sells: dict[str, PendingSell] = {}
        self._sell_ids = 0
        self._unauthorised_seen: dict[int | None, int] = {}
        # Building the HTTP clients loads the CA bundle (hundreds of ms): off the loop, which may be shared.
        self.app = await self.loop.run_in_executor(None, self._build_application, token, tg)
        self._tasks = [self.spawn(self._connect(), "telegram connect")]
        self._tasks += [
            self.spawn(self._sender(chat), f"telegram sender {chat}") for chat in self.notifier.queues
        ]

    def _build_application(self, token: str, tg: "TelegramSettings") -> Application:
        timeout = tg.request_timeout_s

        def request(pool: int) -> ObservedRequest:
            return ObservedRequest(
                self._observe,
                connection_pool_size=pool,
                read_timeout=timeout,
                write_timeout=timeout,
                connect_timeout=timeout,
                pool_timeout=timeout,
            )

        limiter = ChatRateLimiter(
            overall_per_s=tg.messages_per_second,
            chat_per_s=tg.chat_messages_per_second,
            chat_burst=tg.chat_burst,
            group_per_min=tg.group_messages_per_minute,
        )
        app = (
            Application.builder()
            .token(token)
            .base_url(tg.api_base_url)
            .base_file_url(tg.base_file_url)
            .request(request(max(8, 2 * len(tg.chat_ids))))
            .get_updates_request(request(1))
            .rate_limiter(limiter)
            .job_queue(None)
            .build()
        )
        commands: list[tuple[str, Handler]] = [
            ("status", TelegramWorker.cmd_status),
            ("traders", TelegramWorker.cmd_traders),
            ("copy", TelegramWorker.cmd_copy),
            ("pause", TelegramWorker.cmd_pause),
            ("resume", TelegramWorker.cmd_resume),
            ("trades", TelegramWorker.cmd_trades),
            ("positions", TelegramWorker.cmd_positions),
            ("sell", TelegramWorker.cmd_sell),
            ("summary", TelegramWorker.cmd_summary),
            ("help", TelegramWorker.cmd_help),
            ("start", TelegramWorker.cmd_help),
        ]
        for command, handler in commands:
            app.add_handler(CommandHandler(command, functools.partial(handler, self)))
        app.add_handler(
            CallbackQueryHandler(
                functools.partial(TelegramWorker.on_sell_button, self),
                pattern=r"^(sell|cancel):",
                block=False,
            )
        )
        app.add_handler(CallbackQueryHandler(functools.partial(TelegramWorker.on_other_button, self)))
        app.add_handler(MessageHandler(filters.ALL, functools.partial(TelegramWorker.on_other_message, self)))
        app.add_error_handler(self._on_app_error)
        return app

    async def _connect(self) -> None:
        """Reach Telegram (getMe, commands, polling) with backoff; the engine runs meanwhile."""
        self.set_state("busy", "connecting to Telegram")
        if not await self._keep_trying("cannot reach Telegram", self.app.initialize):
            return
        self.bot_username = self.app.bot.username or ""
        try:
            await self.app.bot.set_my_commands([BotCommand(name, text[:256]) for name, text in COMMANDS])
        except TelegramError as exc:
            self.log.warning("could not publish the command list: %s", redact(exc))
        await self.app.start()

        def start_polling() -> Any:
            return self.app.updater.start_polling(  # type: ignore[union-attr]
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

    async def _keep_trying(self, what: str, call: Any) -> bool:
        """Await call() until it succeeds, backing off while Telegram is unreachable. False if the token is refused."""
        delay = 1.0
        while True:
            try:
                await call()
                return True
            except InvalidToken:
                self._give_up("Telegram rejected the bot token; check TELEGRAM_BOT_TOKEN")
                return False
            except TelegramError as exc:
                self._degrade(f"{what} ({redact(exc)}); retrying in {delay:.0f}s")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)

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
            deadline = time.monotonic() + SHUTDOWN_FLUSH_S
            while (notifier.depth() or self.sending) and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        for task in getattr(self, "_tasks", []):
            task.cancel()
        app: Application | None = getattr(self, "app", None)
        if app is not None:
            await self._quietly(self._stop_application(app))
        if final and notifier is not None:
            notifier.close()
            self.ctx.notifier = None
            self.ctx.extra_depths.pop("telegram", None)

    async def _stop_application(self, app: Application) -> None:
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()

    async def _quietly(self, coro: Awaitable[Any], timeout: float = 3.0) -> None:
        try:
            await asyncio.wait_for(coro, timeout)  # type: ignore[arg-type]
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
            daily = await asyncio.wait_for(self.ctx.store.daily(day), 5.0)
        except Exception as exc:
            self.log.warning("daily summary without store figures: %s", redact(exc))
            daily = {"spent_lamports": 0, "realized_pnl_lamports": 0}
        return daily_summary_text(day, daily, self.ctx.state.snapshot())

    # -- sending ---------------------------------------------------------------------------------------
    async def _sender(self, chat_id: int) -> None:
        queue = self.notifier.queues[chat_id]
        await self.connected.wait()
        while True:
            item = await queue.get()
            self.sending += 1
            try:
                text = self._render(item)
                if text:
                    await self._deliver(chat_id, text, silent=item.silent)
            except asyncio.CancelledError:
                queue.put_front(item)  # the next instance sends it
                raise
            except Exception as exc:
                self.log.warning("could not render a %s notification: %s", item.kind, redact(exc))
            finally:
                self.sending -= 1

    def _render(self, item: Outgoing) -> str | None:
        if item.text is not None:
            return item.text
        event, explorer = item.event, self.settings.explorer_url
        if isinstance(event, TradeExecuted):
            return trade_executed_text(event, self._trade_context(event), explorer)
        if isinstance(event, TradeFailed):
            return trade_failed_text(event, self._trade_context(event), explorer)
        if isinstance(event, TradeSkipped):
            return skip_text(event, "")
        return None

    def _trade_context(self, event: Any) -> TradeContext:
        state = self.ctx.state
        trade = state.trades.get(event.intent_id)
        position = state.positions.get(event.mint)
        decimals = trade.token_decimals if trade is not None else None
        if decimals is None and position is not None:
            decimals = position.decimals
        symbol = trade.symbol if trade is not None else ""
        return TradeContext(
            decimals=decimals,
            symbol=symbol,
            realized_pnl_lamports=position.realized_pnl_lamports if position is not None else None,
            cost_lamports=position.cost_lamports if position is not None else None,
        )

    async def _deliver(self, chat_id: int, text: str, *, silent: bool) -> None:
        """Send every part, retrying network errors with backoff until sent; permanent errors drop it."""
        for part in split_message(text):
            attempt = 0
            while True:
                try:
                    await self.app.bot.send_message(
                        chat_id,
                        part,
                        disable_notification=silent,
                        link_preview_options=LinkPreviewOptions(is_disabled=True),
                    )
                    self.ctx.state.bump("telegram_sent")
                    break
                except RetryAfter as exc:
                    await asyncio.sleep(_retry_after_s(exc) + 0.1)
                except (BadRequest, Forbidden, ChatMigrated, InvalidToken) as exc:
                    self.ctx.state.bump("telegram_undeliverable")
                    self.log.warning("telegram dropped a message to chat %s: %s", chat_id, redact(exc))
                    return
                except NetworkError as exc:
                    attempt += 1
                    self.ctx.state.bump("telegram_send_retries")
                    if attempt == 1:
                        self.log.warning(
                            "telegram send to chat %s failed, retrying: %s", chat_id, redact(exc)
                        )
                    await asyncio.sleep(min(30.0, 0.25 * 2 ** min(attempt, 8)))

    async def _answer(self, chat_id: int, text: str, reply_markup: Any = None) -> Any:
        """Answer a command (not queued: the operator is waiting). Returns the last Message or None."""
        message = None
        parts = split_message(text)
        for index, part in enumerate(parts):
            markup = reply_markup if index == len(parts) - 1 else None
            try:
                message = await self.app.bot.send_message(
                    chat_id,
                    part,
                    reply_markup=markup,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
            except TelegramError as exc:
                self.log.warning("telegram could not answer chat %s: %s", chat_id, redact(exc))
                return None
        return message

    def _ignore_unauthorised(self, chat_id: int | None) -> None:
        self.ctx.state.bump("telegram_unauthorised")
        seen = self._unauthorised_seen.get(chat_id, 0) + 1
        self._unauthorised_seen[chat_id] = seen
        if seen == 1 or seen % 100 == 0:  # a spammer must not flood the log
            self.log.warning("ignored %d update(s) from unauthorised chat %s", seen, chat_id)

    # -- commands ----------------------------------------------------------------------------------------
    @authorized_only
    async def cmd_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._answer(update.effective_chat.id, help_text())  # type: ignore[union-attr]

    @authorized_only
    async def cmd_status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._answer(update.effective_chat.id, status_text(self.ctx.state.snapshot()))  # type: ignore[union-attr]

    @authorized_only
    async def cmd_traders(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._answer(update.effective_chat.id, traders_text(self.ctx.state.snapshot()))  # type: ignore[union-attr]

    @authorized_only
    async def cmd_copy(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        name, active = parse_copy_args(list(context.args or []), [t.name for t in self.ctx.traders.all()])
        loop = asyncio.get_running_loop()
        # The traders file is written with fsync: keep that off the event loop.
        _trader, changed = await loop.run_in_executor(None, set_copying, self.ctx, name, active)
        if active:
            text = f"Copying {name} started." if changed else f"Already copying {name}."
        else:
            text = f"Stopped copying {name}." if changed else f"{name} was not being copied."
        await self._answer(update.effective_chat.id, text)  # type: ignore[union-attr]

    @authorized_only
    async def cmd_pause(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        changed = pause_all(self.ctx)
        await self._answer(
            update.effective_chat.id,  # type: ignore[union-attr]
            "Paused all copying." if changed else "Already paused.",
        )

    @authorized_only
    async def cmd_resume(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        changed, cleared = resume_all(self.ctx)
        if cleared:
            text = f"Resumed copying; kill switch cleared (was: {cleared})."
        else:
            text = "Resumed copying." if changed else "Copying was not paused."
        await self._answer(update.effective_chat.id, text)  # type: ignore[union-attr]

    @authorized_only
    async def cmd_trades(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        count = parse_trades_args(list(context.args or []))
        await self._answer(update.effective_chat.id, trades_text(self.ctx.state.snapshot(), count))  # type: ignore[union-attr]

    @authorized_only
    async def cmd_positions(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._answer(update.effective_chat.id, positions_text(self.ctx.state.snapshot()))  # type: ignore[union-attr]

    @authorized_only
    async def cmd_summary(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._answer(update.effective_chat.id, await self.daily_summary(utc_day()))  # type: ignore[union-attr]

    @authorized_only
    async def cmd_sell(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat_id = update.effective_chat.id  # type: ignore[union-attr]
        snapshot = self.ctx.state.snapshot()
        mint, percent = parse_sell_args(list(context.args or []), snapshot.positions)
        position = next(p for p in snapshot.positions if p.mint == mint)
        label = token_label(mint, position.symbol)
        now = time.monotonic()
        self.pending_sells = {k: v for k, v in self.pending_sells.items() if v.expires_at > now}
        self._sell_ids += 1
        sell_id = f"{self.instance}-{self._sell_ids}"
        self.pending_sells[sell_id] = PendingSell(chat_id, mint, percent, label, now + SELL_CONFIRM_TTL_S)
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(f"Sell {percent:g}%", callback_data=f"sell:{sell_id}"),
                    InlineKeyboardButton("Cancel", callback_data=f"cancel:{sell_id}"),
                ]
            ]
        )
        await self._answer(
            chat_id,
            f"Sell {percent:g}% of {label}?\n{mint}\nConfirm within {SELL_CONFIRM_TTL_S:.0f}s.",
            reply_markup=keyboard,
        )

    @authorized_only
    async def on_sell_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.data is not None
        chat_id = update.effective_chat.id  # type: ignore[union-attr]
        action, _, sell_id = query.data.partition(":")
        pending = self.pending_sells.pop(sell_id, None)  # one press, one sell: a double tap finds nothing
        await self._quietly(query.answer())
        if pending is None or pending.chat_id != chat_id or pending.expires_at < time.monotonic():
            await self._edit(query, "This sell request expired; send /sell again.")
            return
        if action == "cancel":
            await self._edit(query, f"Sell of {pending.label} cancelled.")
            return
        try:
            future = commands.request_manual_sell(self.ctx, pending.mint, pending.percent)
            intent_id = await asyncio.wait_for(asyncio.wrap_future(future), SELL_RESULT_TIMEOUT_S)
        except TimeoutError:
            await self._edit(
                query,
                f"Sell of {pending.percent:g}% {pending.label} sent to the executor; "
                "no answer yet. /trades shows what became of it.",
            )
            return
        except Exception as exc:
            await self._edit(query, f"Sell of {pending.percent:g}% {pending.label} failed: {redact(exc)}")
            return
        self.ctx.publish(
            LogEvent(
                "info",
                "telegram",
                f"manual sell {pending.percent:g}% of {short_mint(pending.mint)} requested (Telegram)",
            )
        )
        await self._edit(query, f"Sell of {pending.percent:g}% {pending.label} queued (intent #{intent_id}).")

    async def _edit(self, query: Any, text: str) -> None:
        try:
            await query.edit_message_text(text)
        except TelegramError as exc:
            self.log.warning("telegram could not edit a message: %s", redact(exc))
            if query.message is not None:
                await self._answer(query.message.chat.id, text)

    @authorized_only
    async def on_other_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._quietly(update.callback_query.answer("That button is no longer in use."))  # type: ignore[union-attr]

    async def on_other_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None or chat.id not in self.chat_ids:
            self._ignore_unauthorised(chat.id if chat is not None else None)
            return
        message = update.effective_message
        if message is not None and message.text and message.text.startswith("/"):
            await self._answer(chat.id, "Unknown command. /help lists what I understand.")


def _retry_after_s(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22.2+ warns that the type becomes a timedelta; accept both
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return float(value.total_seconds()) if hasattr(value, "total_seconds") else float(value)


def _past_summary_time(hhmm: str, now: float | None = None) -> bool:
    hours, minutes = (int(part) for part in hhmm.split(":"))
    current = time.gmtime(now if now is not None else time.time())
    return (current.tm_hour, current.tm_min) >= (hours, minutes)
