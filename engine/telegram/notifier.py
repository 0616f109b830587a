"""Engine events to Telegram notifications: one bounded queue per authorised chat, modes on/silent/off, dedup."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.inbox import Inbox
from engine.messages import (
    BooksAdjusted,
    KillSwitchTripped,
    LogEvent,
    TradeExecuted,
    TradeFailed,
    TradeSkipped,
    WorkerRestarted,
)
from engine.observability import REDACTOR
from engine.telegram.formatting import (
    TradeContext,
    books_adjusted_text,
    kill_switch_text,
    skip_text,
    trade_executed_text,
    trade_failed_text,
    worker_error_text,
    worker_restarted_text,
)

if TYPE_CHECKING:
    from engine.config import TelegramSettings
    from engine.context import EngineContext

NOTIFICATION_KINDS = ("trade_executed", "trade_failed", "skip", "worker", "kill_switch", "daily_summary")
WORKER_DEDUP_WINDOW_S = 60.0
MAX_REMEMBERED_WORKER_TEXTS = 256


@dataclass
class Outgoing:
    """One notification for one chat; rendered to text when it is sent, so it shows the freshest state."""

    kind: str
    silent: bool
    event: Any = None
    text: str | None = None
    queued_at: float = field(default_factory=time.monotonic)


class ChatQueue(Inbox):
    """A chat's outgoing notifications: the engine's Inbox with a bound that applies to silent ones only.

    At the bound the oldest silent notification is dropped (counted), and a notification that is 'on' is
    always kept, so nothing the operator asked to hear about is lost.
    """

    def put(self, item: Outgoing, *, force: bool = False) -> bool:  # type: ignore[override]
        """Enqueue; False when this item (or an older silent one) was dropped to keep the bound."""
        accepted = True
        with self._lock:
            if not force and len(self._items) >= self.maxsize:
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

    def pop(self) -> Outgoing | None:
        return self.get_nowait()


class Notifier:
    """Subscribed to the engine's events once per engine; turns them into queued notifications per chat.

    It lives in the context (ctx.notifier), not in a worker instance, so notifications published while the
    telegram worker restarts are kept for the next instance. The bus callback only filters and enqueues: it
    runs in the publisher's thread and must never block it.
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
        elif isinstance(event, BooksAdjusted):
            token = self.ctx.state.token(event.mint)
            symbol, decimals = (token.symbol, token.decimals) if token is not None else ("", None)
            self._notify_worker(books_adjusted_text(event, symbol, decimals))
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
            if len(self._recent_worker_texts) > MAX_REMEMBERED_WORKER_TEXTS:
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

    # -- in the telegram worker's loop, when a notification is sent ---------------------------------------
    def render(self, item: Outgoing) -> str | None:
        """The text of a notification, from the state as it is now; None when there is nothing to say."""
        if item.text is not None:
            return item.text
        event, explorer = item.event, self.settings.explorer_url
        if isinstance(event, TradeExecuted):
            return trade_executed_text(event, self._trade_context(event), explorer)
        if isinstance(event, TradeFailed):
            return trade_failed_text(event, self._trade_context(event), explorer)
        if isinstance(event, TradeSkipped):
            token = self.ctx.state.token(event.mint)
            return skip_text(event, token.symbol if token is not None else "")
        return None

    def _trade_context(self, event: Any) -> TradeContext:
        state = self.ctx.state
        trade = state.trades.get(event.intent_id)
        position = state.positions.get(event.mint)
        token = state.token(event.mint)  # the mint's metadata, as the cache worker read it
        decimals = trade.token_decimals if trade is not None else None
        if decimals is None and position is not None:
            decimals = position.decimals
        if decimals is None and token is not None:
            decimals = token.decimals
        symbol = (trade.symbol if trade is not None else "") or (token.symbol if token is not None else "")
        return TradeContext(
            decimals=decimals,
            symbol=symbol,
            realized_pnl_lamports=position.realized_pnl_lamports if position is not None else None,
            cost_lamports=position.cost_lamports if position is not None else None,
        )
