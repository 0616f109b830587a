"""What every worker shares, by name and type: settings, state, traders, inboxes, the event bus, the store
client, the chain cache, the notifier and the RPC pools."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.caches import ChainCache, SeenSignatures
from engine.chain.rpc import RpcPool
from engine.config import Settings
from engine.detections import DetectionLedger
from engine.inbox import Inbox, InboxFull
from engine.paths import HomePaths
from engine.state import EngineState
from engine.store_client import StoreClient
from engine.traders import TraderBook

if TYPE_CHECKING:
    from solders.keypair import Keypair

    from engine.sim import SimCluster
    from engine.telegram.notifier import Notifier

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
    keypair: Keypair | None = None  # the operator wallet (never logged)
    cluster: SimCluster | None = None  # the embedded local cluster in sim mode
    db_path: Path | None = None
    extra_depths: dict[str, Callable[[], int]] = field(default_factory=dict)
    paused_event: threading.Event = field(default_factory=threading.Event)
    # Shared by workers; each outlives worker restarts.
    cache: ChainCache = field(default_factory=ChainCache)
    seen_signatures: SeenSignatures = field(default_factory=SeenSignatures)
    detections: DetectionLedger = field(default_factory=DetectionLedger)  # what the cut-offs may pass
    notifier: Notifier | None = None  # set by the telegram worker while Telegram is configured
    store: StoreClient = field(init=False)

    def __post_init__(self) -> None:
        self.store = StoreClient(self.inboxes, self.state)

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

    def rpc_pool(
        self,
        *,
        requests_per_second: float | None = None,
        timeout: float = 10.0,
        call_deadline_s: float | None = None,
        low_priority: bool = False,
    ) -> RpcPool:
        """A new RpcPool over the engine's endpoints for the calling worker's loop (a pool belongs to one
        loop). Every pool of this engine draws from one shared budget per endpoint."""
        rpc = self.settings.rpc
        return RpcPool(
            self.endpoints.rpc_urls,
            requests_per_second=requests_per_second or rpc.requests_per_second,
            commitment=rpc.commitment,
            timeout=timeout,
            state=self.state,
            call_deadline_s=call_deadline_s,
            engine_rate=rpc.requests_per_second,
            low_priority=low_priority,
        )

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
        """Some pause is in force (buys, or all)."""
        return self.paused_event.is_set()

    @property
    def pause_mode(self) -> str:
        """ "" | "buys" | "all": what the operator paused (the kill switch stops buys on its own)."""
        return self.state.pause if self.paused_event.is_set() else ""
