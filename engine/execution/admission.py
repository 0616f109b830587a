"""Admission of trades: at most engine.max_concurrent_trades are being quoted, built or sent at once, and
the trades waiting for a slot get it in one documented order (docs/RELIABILITY.md, "Queue and admission").

A trade holds its slot from quote to the first send of its signed bytes. Waiting for the confirmation holds
none (that is most of a trade's life on a congested cluster, and it needs no quote and no build), so a burst of
signals is never stuck behind trades that are only waiting. A trade whose blockhash expired takes a slot again
before it is re-quoted.

The order, first to last:
  0. manual sells (the operator asked)
  1. every other sell: copied, exit rules, recovered from a previous run (getting out matters more than price)
  2. new buys, oldest signal first
  3. buys recovered from a previous run (they are old already; new signals never wait behind them)
A trade left `sent` by a previous run needs no slot at all: it only waits for its confirmation.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable

from engine.execution.job import Job

MANUAL_SELL, SELL, BUY, RECOVERED_BUY = range(4)


def queue_class(job: Job) -> int:
    """The trade's place in the order above."""
    if job.side == "sell":
        return MANUAL_SELL if job.manual else SELL
    return RECOVERED_BUY if job.recovered else BUY


class TradeSlots:
    """A priority gate: `acquire` waits for one of `limit` slots, best queue_class first, then FIFO."""

    def __init__(self, limit: int, on_admit: Callable[[float], None] | None = None) -> None:
        self.limit = max(1, int(limit))
        self.on_admit = on_admit  # told how long each trade waited for its first slot (the queue wait)
        self.holders: set[int] = set()  # intent ids holding a slot
        self._waiters: list[tuple[tuple[int, int], int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def waiting(self) -> int:
        return sum(1 for *_, future in self._waiters if not future.done())

    def holds(self, job: Job) -> bool:
        return job.intent_id in self.holders

    async def acquire(self, job: Job) -> None:
        if job.intent_id in self.holders:
            return
        if len(self.holders) < self.limit and not self.waiting():
            self.holders.add(job.intent_id)
            self._admitted(job, 0.0)
            return
        started = time.monotonic()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(
            self._waiters, ((queue_class(job), -job.priority), next(self._seq), job.intent_id, future)
        )
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release(job)  # granted just as it was cancelled: hand the slot on
            raise
        self._admitted(job, time.monotonic() - started)

    def _admitted(self, job: Job, waited_s: float) -> None:
        # A trade's first slot ends its time in the queue; a re-quote's slot (rounds used) is not queue time.
        if self.on_admit is not None and job.rounds_used == 0:
            self.on_admit(waited_s)

    def release(self, job: Job) -> None:
        if job.intent_id not in self.holders:
            return
        self.holders.discard(job.intent_id)
        self._grant()

    def _grant(self) -> None:
        while self._waiters and len(self.holders) < self.limit:
            _, _, intent_id, future = heapq.heappop(self._waiters)
            if future.done():
                continue  # its trade was cancelled while waiting
            self.holders.add(intent_id)
            future.set_result(None)
