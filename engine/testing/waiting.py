"""Polling waits for tests and benchmarks: wait until a condition holds, or fail saying what never happened."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

DEFAULT_TIMEOUT_S = 20.0
# Short enough that a wait adds little latency, long enough that polling does not starve a loaded 2-core box.
DEFAULT_STEP_S = 0.02

Description = str | Callable[[], str]


class WaitTimeout(AssertionError):
    """A wait_until that ran out of time; an AssertionError so pytest reports it as a failed check."""


def poll_until(predicate: Callable[[], Any], timeout: float, step: float = DEFAULT_STEP_S) -> Any:
    """Call predicate until it returns something truthy or timeout seconds pass; returns its last value.

    The predicate is always called once more at the deadline, so a slow poll never loses a late success.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return value
        time.sleep(min(step, remaining))


def wait_until(
    predicate: Callable[[], Any],
    timeout: float = DEFAULT_TIMEOUT_S,
    what: Description = "condition",
    step: float = DEFAULT_STEP_S,
) -> Any:
    """Wait until predicate() is truthy and return that value; raise WaitTimeout naming `what` otherwise.

    `what` may be a callable, evaluated only on timeout, to report the state that was observed then.
    """
    value = poll_until(predicate, timeout, step)
    if value:
        return value
    raise WaitTimeout(f"timed out after {timeout:g} s waiting for {_describe(what)} (last value {value!r})")


async def async_wait_until(
    predicate: Callable[[], Any],
    timeout: float = DEFAULT_TIMEOUT_S,
    what: Description = "condition",
    step: float = DEFAULT_STEP_S,
) -> Any:
    """wait_until for coroutines: polls without blocking the event loop the predicate may depend on."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout(
                f"timed out after {timeout:g} s waiting for {_describe(what)} (last value {value!r})"
            )
        await asyncio.sleep(min(step, remaining))


def _describe(what: Description) -> str:
    return what() if callable(what) else what
