"""The bounded, thread-safe inbox every worker (and the supervisor) reads its messages from."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import Any


class InboxFull(Exception):
    """The inbox is at its bound; the sender must record what it dropped."""


class Inbox:
    """A bounded FIFO that any thread can put into and one asyncio loop awaits on.

    It outlives worker instances: a restarted worker takes over the same inbox, so queued work is kept.
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: deque[Any] = deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._waiting = False
        self.handled = 0
        self.dropped = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            self._loop = loop
            self._event = asyncio.Event()
            self._waiting = False

    def _wake(self) -> None:
        loop, event = self._loop, self._event
        if loop is None or event is None or not self._waiting:
            return
        try:
            loop.call_soon_threadsafe(event.set)
        except RuntimeError:  # the consumer's loop is closed (it is being restarted)
            pass

    def put(self, item: Any, *, force: bool = False) -> None:
        """Enqueue; raises InboxFull at the bound unless force (control messages are never refused)."""
        with self._lock:
            if not force and len(self._items) >= self.maxsize:
                self.dropped += 1
                raise InboxFull(f"inbox full ({self.maxsize})")
            self._items.append(item)
        self._wake()

    def put_front(self, item: Any) -> None:
        with self._lock:
            self._items.appendleft(item)
        self._wake()

    def get_nowait(self) -> Any | None:
        with self._lock:
            return self._items.popleft() if self._items else None

    async def get(self) -> Any:
        while True:
            with self._lock:
                if self._items:
                    self._waiting = False
                    return self._items.popleft()
                assert self._event is not None, "inbox not bound to a loop"
                self._event.clear()
                self._waiting = True
            await self._event.wait()

    def __len__(self) -> int:
        return len(self._items)
