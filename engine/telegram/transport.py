"""The Bot API connection: python-telegram-bot's Application and Bot, rate limits, and sending messages.

A RetryAfter (flood wait) is handled in one place, the rate limiter: it pauses every request for the time
Telegram asks and then retries. Notifications give it no retry limit, so a flood wait never loses one;
answers to commands keep python-telegram-bot's default and give up after a few.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiolimiter import AsyncLimiter
from telegram import LinkPreviewOptions, Message
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, NetworkError, TelegramError
from telegram.ext import AIORateLimiter, Application
from telegram.request import HTTPXRequest
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential

from engine.telegram.formatting import redact, split_message

if TYPE_CHECKING:
    from engine.config import TelegramSettings
    from engine.state import EngineState

# Errors that will not get better by sending again: the message is dropped and counted.
UNDELIVERABLE = (BadRequest, Forbidden, ChatMigrated, InvalidToken)
FLOOD_WAIT_RETRIES_FOR_NOTIFICATIONS = sys.maxsize
ANSWER_FLOOD_WAIT_RETRIES = 2
SEND_BACKOFF_FIRST_S = 0.5
SEND_BACKOFF_MAX_S = 30.0
NO_LINK_PREVIEW = LinkPreviewOptions(is_disabled=True)

Outcome = Callable[[bool, BaseException | None], None]


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
        max_retries: int = ANSWER_FLOOD_WAIT_RETRIES,
    ) -> None:
        super().__init__(
            overall_max_rate=overall_per_s,
            overall_time_period=1.0,
            group_max_rate=group_per_min,
            group_time_period=60.0,
            max_retries=max_retries,
        )
        self.chat_rate = chat_per_s
        self.chat_burst = chat_burst
        self.chat_limiters: dict[str, AsyncLimiter] = {}

    def chat_limiter(self, chat_id: Any) -> AsyncLimiter:
        key = str(chat_id)
        limiter = self.chat_limiters.get(key)
        if limiter is None:
            # A leaky bucket of chat_burst messages draining at chat_rate per second.
            limiter = AsyncLimiter(self.chat_burst, self.chat_burst / self.chat_rate)
            self.chat_limiters[key] = limiter
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
        async with self.chat_limiter(chat_id):
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)


class ObservedRequest(HTTPXRequest):
    """HTTPXRequest that reports whether Telegram was reachable, so the worker can show degraded/ready."""

    def __init__(self, on_outcome: Outcome, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.on_outcome = on_outcome

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        try:
            result = await super().do_request(*args, **kwargs)
        except NetworkError as exc:
            self.on_outcome(False, exc)
            raise
        status = result[0]
        # A 5xx is Telegram's side failing: as unreachable as a refused connection.
        self.on_outcome(status < 500, None if status < 500 else NetworkError(f"HTTP {status}"))
        return result


def build_application(token: str, tg: "TelegramSettings", on_outcome: Outcome) -> Application:
    """The Application with its HTTP clients and limits; slow (it loads the CA bundle), so call it off the loop."""
    timeout = tg.request_timeout_s

    def request(pool: int) -> ObservedRequest:
        return ObservedRequest(
            on_outcome,
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
    return (
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


def is_transient(exc: BaseException) -> bool:
    """A network failure worth sending again (BadRequest is a NetworkError in PTB, but final)."""
    return isinstance(exc, NetworkError) and not isinstance(exc, UNDELIVERABLE)


class Transport:
    """Sends notifications and answers through one Application, counting what was sent, retried or dropped."""

    def __init__(self, app: Application, state: "EngineState", log: logging.Logger) -> None:
        self.app = app
        self.state = state
        self.log = log

    async def deliver(self, chat_id: int, text: str, *, silent: bool) -> None:
        """Send every part, retrying network errors with backoff until sent; permanent errors drop it."""

        def count_retry(retry_state: RetryCallState) -> None:
            self.state.bump("telegram_send_retries")
            if retry_state.attempt_number == 1:
                exc = retry_state.outcome.exception() if retry_state.outcome is not None else None
                self.log.warning(
                    "telegram send to chat %s failed, retrying: %s", chat_id, redact(exc or "network error")
                )

        for part in split_message(text):
            try:
                async for attempt in AsyncRetrying(
                    retry=retry_if_exception(is_transient),
                    wait=wait_exponential(multiplier=SEND_BACKOFF_FIRST_S, max=SEND_BACKOFF_MAX_S),
                    before_sleep=count_retry,
                    reraise=True,
                ):
                    with attempt:
                        await self.app.bot.send_message(
                            chat_id,
                            part,
                            disable_notification=silent,
                            link_preview_options=NO_LINK_PREVIEW,
                            rate_limit_args=FLOOD_WAIT_RETRIES_FOR_NOTIFICATIONS,
                        )
            except UNDELIVERABLE as exc:
                self.state.bump("telegram_undeliverable")
                self.log.warning("telegram dropped a message to chat %s: %s", chat_id, redact(exc))
                return
            self.state.bump("telegram_sent")

    async def answer(self, chat_id: int, text: str, reply_markup: Any = None) -> Message | None:
        """Answer a command (not queued: the operator is waiting). Returns the last Message or None."""
        message = None
        parts = split_message(text)
        for index, part in enumerate(parts):
            markup = reply_markup if index == len(parts) - 1 else None
            try:
                message = await self.app.bot.send_message(
                    chat_id, part, reply_markup=markup, link_preview_options=NO_LINK_PREVIEW
                )
            except TelegramError as exc:
                self.log.warning("telegram could not answer chat %s: %s", chat_id, redact(exc))
                return None
        return message

    async def edit(self, query: Any, text: str) -> None:
        """Replace a confirmation's text; when that fails, say it in a new message."""
        try:
            await query.edit_message_text(text)
        except TelegramError as exc:
            self.log.warning("telegram could not edit a message: %s", redact(exc))
            if query.message is not None:
                await self.answer(query.message.chat.id, text)

    async def stop(self) -> None:
        """Stop polling and the Application, whichever of them had started."""
        app = self.app
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
