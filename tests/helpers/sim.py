"""Markers on the local cluster's own event loop, for checks that the sim did not do something."""

from __future__ import annotations

import asyncio
from typing import Any


async def cluster_loop_ran(cluster: Any, seconds: float) -> None:
    """Return once the cluster's loop has run `seconds` of its own time from now.

    Its timers fire in time order, so every slot-clock wake-up due before then has been handled: unlike a
    sleep in the test, this cannot pass early because the cluster's thread was starved on a busy machine.
    """
    assert cluster._loop is not None, "the cluster is not running"
    done = asyncio.run_coroutine_threadsafe(asyncio.sleep(seconds), cluster._loop)
    await asyncio.wrap_future(done)
