"""The bridge from engine threads to the app: events are buffered and at most one message is in flight."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from textual.message import Message


class EngineEvents(Message):
    """Some engine events arrived; the handler drains the pump."""

    def can_replace(self, message: Message) -> bool:
        # A newer notice makes an older queued one redundant: the pump holds the events themselves.
        return isinstance(message, EngineEvents)


class EventPump:
    """Receives engine events on any thread and wakes the app without ever flooding its queue.

    Each event goes into a bounded buffer; a message is posted only when none is pending, so a storm
    of 1,000 events/s costs the app one message per drain, not one per event.
    """

    def __init__(self, post: Callable[[Message], Any], keep: int = 200) -> None:
        self._post = post
        self._lock = threading.Lock()
        self._buffer: deque[Any] = deque(maxlen=keep)
        self._pending = False
        self.received = 0
        self.dropped = 0
        self.posted = 0

    def __call__(self, event: Any) -> None:
        with self._lock:
            self.received += 1
            if len(self._buffer) == self._buffer.maxlen:
                self.dropped += 1
            self._buffer.append(event)
            if self._pending:
                return
            self._pending = True
            self.posted += 1
        self._post(EngineEvents())

    def drain(self) -> list[Any]:
        """Take the buffered events (oldest first) and allow the next notice."""
        with self._lock:
            events = list(self._buffer)
            self._buffer.clear()
            self._pending = False
        return events
