"""What every worker shares: settings, state, traders, inboxes, the event bus and the data-worker call."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from engine.config import Settings
from engine.messages import DataCall
from engine.paths import HomePaths
from engine.state import EngineState
from engine.traders import TraderBook
from engine.worker import Inbox, InboxFull

log = logging.getLogger("zapbot.context")


class EventBus:
    """Fan-out of engine events to subscribers. Callbacks run in the publishing thread and must not block."""

    def __init__(self) -> None:
        self._subscribers: list[Callable[[Any], None]] = []
        self._lock = threading.Lock()

    def subscribe(self, callback: Callable[[Any], None]) -> Callable[[], None]:
        with self._lock:
            self._subscribers = [*self._subscribers, callback]

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = [cb for cb in self._subscribers if cb is not callback]

        return unsubscribe

    def publish(self, event: Any) -> None:
        for callback in self._subscribers:
            try:
                callback(event)
            except Exception:  # a broken subscriber must not break the engine
                log.exception("event subscriber failed")


@dataclass
class Endpoints:
    """Where the chain and the swap API are, after sim/paper/live resolution."""

    rpc_urls: list[str]
    ws_url: str | None
    swap_api_url: str | None
    swap_api_key: str | None = None


@dataclass
class EngineContext:
    settings: Settings
    paths: HomePaths
    state: EngineState
    traders: TraderBook
    endpoints: Endpoints
    supervisor_inbox: Inbox
    inboxes: dict[str, Inbox] = field(default_factory=dict)
    bus: EventBus = field(default_factory=EventBus)
    keypair: Any = None  # solders Keypair of the operator wallet (never logged)
    cluster: Any = None  # engine.sim SimCluster when embedded
    db_path: Any = None
    extra_depths: dict[str, Callable[[], int]] = field(default_factory=dict)
    shared: dict[str, Any] = field(default_factory=dict)  # worker-to-worker handles (e.g. the cache)
    paused_event: threading.Event = field(default_factory=threading.Event)

    # -- messaging ---------------------------------------------------------------------------
    def send(self, worker: str, msg: Any, *, force: bool = False) -> bool:
        """Put msg in a worker's inbox. False when the inbox is full (the caller records the drop)."""
        inbox = self.inboxes.get(worker)
        if inbox is None:
            return False
        try:
            inbox.put(msg, force=force)
            return True
        except InboxFull:
            self.state.bump(f"dropped_{worker}")
            return False

    def publish(self, event: Any) -> None:
        self.bus.publish(event)

    def data(self, method: str, *args: Any, **kwargs: Any) -> Future:
        """Run Store.method(*args) on the data worker (the single writer); returns a concurrent Future."""
        future: Future = Future()
        self.inboxes["data"].put(DataCall(method, args, future, kwargs), force=True)
        return future

    async def adata(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.wrap_future(self.data(method, *args, **kwargs))

    def queue_depths(self) -> dict[str, int]:
        depths = {name: len(inbox) for name, inbox in self.inboxes.items()}
        for name, fn in self.extra_depths.items():
            try:
                depths[name] = depths.get(name, 0) + int(fn())
            except Exception:
                pass
        return depths

    @property
    def paused(self) -> bool:
        return self.paused_event.is_set()
