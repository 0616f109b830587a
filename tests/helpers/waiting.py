"""The tests' waits: the engine-side polling helpers, plus the marker that proves an absence is real."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.testing.waiting import WaitTimeout, async_wait_until, poll_until, wait_until

__all__ = [
    "WaitTimeout",
    "async_wait_until",
    "engine_poll_round",
    "poll_until",
    "wait_poll_round",
    "wait_until",
]


def wait_poll_round(
    polls: Callable[[], int], wallets: int, queues_empty: Callable[[], bool], timeout: float = 30.0
) -> None:
    """Wait until the monitor has polled `wallets` more times and no worker has anything queued.

    A swap the engine could see twice (websocket and poll) or late reaches the workers within one poll round
    of every wallet; once that round is done and the queues are drained, "nothing else happened" is a fact
    about the engine, not about how long the test slept.
    """
    target = polls() + wallets
    wait_until(
        lambda: polls() >= target and queues_empty(),
        timeout,
        what=lambda: f"{wallets} more polls (at {polls()} of {target}) and empty queues",
    )


def engine_poll_round(engine: Any, wallets: int, timeout: float = 30.0) -> None:
    """wait_poll_round for an in-process Engine."""
    wait_poll_round(
        lambda: engine.snapshot().counters.get("polls", 0),
        wallets,
        lambda: not any(engine.snapshot().queues.values()),
        timeout,
    )
