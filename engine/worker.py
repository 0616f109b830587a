"""The worker base: a handler registry, its own heartbeat, READY/PING/PONG/SHUTDOWN and error reporting."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from engine.heartbeat import beat_interval
from engine.inbox import Inbox
from engine.messages import (
    LogEvent,
    Ping,
    Pong,
    Shutdown,
    StopAcceptingTasks,
    WorkerError,
    WorkerReady,
    WorkerStatus,
)
from engine.observability import REDACTOR

if TYPE_CHECKING:
    from engine.context import EngineContext

log = logging.getLogger("zapbot.worker")


class WorkerDisabled(Exception):
    """Raised by setup() when the worker cannot run here (e.g. no Telegram token); str() is the reason."""


def handles(*message_types: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a method as the handler of these message types."""

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.__zapbot_handles__ = message_types  # type: ignore[attr-defined]
        return fn

    return mark


class BaseWorker:
    """One worker instance. The runner calls `await run()` in the worker's own thread (or shared loop)."""

    name: ClassVar[str] = "worker"
    tick_interval: ClassVar[float | None] = None

    def __init__(self, ctx: "EngineContext", inbox: Inbox, instance: int) -> None:
        self.ctx = ctx
        self.inbox = inbox
        self.instance = instance
        self.accepting = True
        self.retired = False  # set by the supervisor when this instance is abandoned (it hung)
        self._stop = False
        self._handlers: dict[type, Callable[[Any], Any]] = {}
        for klass in reversed(type(self).__mro__):
            for attr in vars(klass).values():
                for message_type in getattr(attr, "__zapbot_handles__", ()):
                    self._handlers[message_type] = getattr(self, attr.__name__)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._disabled_reason = ""
        self.current: Any = None  # the message being handled; handed to the next instance if this one hangs
        # The worker's own heartbeat (engine/heartbeat.py): stamped by this worker's loop while it makes
        # progress, read by the supervisor's thread (a float store: atomic under the GIL).
        self.beat_at = time.monotonic()
        self._beat_handled = -1
        self.log = logging.getLogger(f"zapbot.{self.name}")

    # -- hooks for subclasses ------------------------------------------------------------
    async def setup(self) -> None:
        """Open connections, load state. Raise WorkerDisabled('why') to report 'disabled: why'."""

    async def cleanup(self) -> None:
        """Release what setup opened. Runs on SHUTDOWN and after a failure."""

    async def tick(self) -> None:
        """Periodic work every tick_interval seconds."""

    async def on_stop_accepting(self) -> None:
        """STOP_ACCEPTING_TASKS arrived."""

    def in_flight(self) -> int:
        """Work started but not finished (the executor's trades); shutdown drains this."""
        return 0

    # -- helpers ---------------------------------------------------------------------------
    def set_state(self, state: str, detail: str = "") -> None:
        self.ctx.supervisor_inbox.put(WorkerStatus(self.name, self.instance, state, detail), force=True)

    def emit_log(self, level: str, message: str) -> None:
        message = REDACTOR(
            message
        )  # subscribers (console, Telegram) get it as is: mask secrets at the source
        getattr(self.log, level if level in {"debug", "info", "warning", "error"} else "info")(message)
        self.ctx.publish(LogEvent(level, self.name, message))

    def spawn(self, coro: Awaitable[Any], what: str = "task") -> asyncio.Task:
        """Start a background task whose exception is reported, never swallowed."""
        task = asyncio.ensure_future(coro)

        def done(t: asyncio.Task) -> None:
            if t.cancelled():
                return
            exc = t.exception()
            if exc is not None:
                self._report(exc, f"{what} raised")

        task.add_done_callback(done)
        return task

    def _report(self, exc: BaseException, context: str, fatal: bool = False) -> None:
        # The message travels on to the worker's state detail, the errors table and Telegram: mask secrets here.
        text = REDACTOR("".join(traceback.format_exception_only(type(exc), exc)).strip())
        self.log.error("%s: %s", context, text, exc_info=(type(exc), exc, exc.__traceback__))
        self.ctx.supervisor_inbox.put(
            WorkerError(self.name, self.instance, f"{context}: {text}", fatal), force=True
        )

    # -- built-in handlers -----------------------------------------------------------------
    @handles(Ping)
    def _on_ping(self, msg: Ping) -> None:
        self.ctx.supervisor_inbox.put(Pong(self.name, self.instance, msg.seq), force=True)

    @handles(Shutdown)
    def _on_shutdown(self, msg: Shutdown) -> None:
        self._stop = True

    @handles(StopAcceptingTasks)
    async def _on_stop_accepting(self, msg: StopAcceptingTasks) -> None:
        self.accepting = False
        await self.on_stop_accepting()

    # -- the run loop --------------------------------------------------------------------------
    async def _beater(self) -> None:
        """Stamp the beat every beat interval while the loop turns, unless one message has been in hand since
        the last stamp (a handler stuck on an await stops the beat as a blocked loop does)."""
        every = beat_interval(self.ctx.settings.engine.heartbeat_interval_ms / 1000.0)
        while not self._stop and not self.retired:
            handled = self.inbox.handled
            if self.current is None or handled != self._beat_handled:
                self._beat_handled = handled
                self.beat_at = time.monotonic()
            await asyncio.sleep(every)

    async def _ticker(self) -> None:
        assert self.tick_interval is not None
        while not self._stop and not self.retired:
            await asyncio.sleep(self.tick_interval)
            if self._stop or self.retired:
                return
            try:
                await self.tick()
            except Exception as exc:
                # A raising tick is a bug like a raising handler: report it and let the supervisor restart
                # this worker (the run loop is woken, so the failure shows at once, not at the next message).
                self._report(exc, "tick", fatal=True)
                self.inbox.put_front(_TickFailed(self.instance))
                return

    async def run(self) -> bool:
        """Set up, announce READY, then handle messages until SHUTDOWN. Returns True on a clean exit."""
        self.loop = asyncio.get_running_loop()
        self.inbox.bind(self.loop)
        beater = asyncio.ensure_future(self._beater())  # beats through setup too: a slow setup is not a hang
        try:
            return await self._lifecycle()
        finally:
            beater.cancel()

    async def _lifecycle(self) -> bool:
        try:
            await self.setup()
        except WorkerDisabled as why:
            self._disabled_reason = str(why)
            await self._safe_cleanup()
            return await self._idle_disabled()
        except Exception as exc:
            self._report(exc, "setup failed", fatal=True)
            await self._safe_cleanup()
            return False
        self.ctx.supervisor_inbox.put(WorkerReady(self.name, self.instance), force=True)
        ticker = self.spawn(self._ticker(), "tick") if self.tick_interval else None
        clean = True
        try:
            while not self._stop and not self.retired:
                msg = await self.inbox.get()
                if isinstance(msg, _TickFailed):
                    if msg.instance == self.instance:
                        clean = False
                        break
                    continue  # left behind by an earlier instance
                if self.retired:
                    self.inbox.put_front(msg)  # a newer instance owns the inbox now
                    break
                handler = self._handlers.get(type(msg))
                if handler is None:
                    self.log.warning("no handler for %s", type(msg).__name__)
                    continue
                self.current = msg
                try:
                    result = handler(msg)
                    if inspect.isawaitable(result):
                        await result
                    self.current = None
                except Exception as exc:
                    self.current = None
                    self.inbox.handled += 1
                    self._report(exc, f"handling {type(msg).__name__}", fatal=True)
                    clean = False
                    break
                self.inbox.handled += 1
                self.beat_at = time.monotonic()  # a run of quick messages never yields to the beater
        finally:
            if ticker is not None:
                ticker.cancel()
            await self._safe_cleanup()
        return clean

    async def _idle_disabled(self) -> bool:
        # A disabled worker still answers PING and SHUTDOWN, so the supervisor sees it alive.
        # The disabled state goes first, so nobody sees this worker as "ready" in between.
        self.set_state("disabled", self._disabled_reason)
        self.ctx.supervisor_inbox.put(WorkerReady(self.name, self.instance), force=True)
        while not self._stop and not self.retired:
            msg = await self.inbox.get()
            self.inbox.handled += 1
            if isinstance(msg, (Ping, Shutdown)):
                self._handlers[type(msg)](msg)
        return True

    async def _safe_cleanup(self) -> None:
        try:
            await self.cleanup()
        except Exception as exc:
            self.log.error("cleanup failed: %s", exc)


@dataclass(frozen=True, slots=True)
class _TickFailed:
    """Wakes a worker's run loop after its tick() raised."""

    instance: int


def monotonic() -> float:
    return time.monotonic()
