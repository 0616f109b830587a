"""Which leader signatures are durably decided: the monitor's stored cut-off per wallet moves only past them.

At-least-once detection (docs/DETECTION.md, "Nothing lost"): a signature is *done* when every swap of the
wallet in it has its record on disk (an intent or a skip), or when it holds nothing to record (a failed
transaction, no swap of the wallet's, an undecodable one). Being fetched, notified or queued is not done.
The analyzer opens a signature with its number of swaps; whoever writes a swap's record (the executor, or the
analyzer for the skips it records itself) closes one. The monitor advances a wallet's cut-off over the
oldest-first run of done signatures of its listing, so after a crash everything newer than the stored cut-off
is fetched again, and the intent key (leader signature, trader, wallet) keeps the copy exactly-once.

Shared through the context like SeenSignatures: thread-safe, bounded, outliving worker restarts.
"""

from __future__ import annotations

import threading

from cachetools import LRUCache

CAPACITY = 200_000  # signatures remembered; the cut-off passes them long before this matters


class DetectionLedger:
    """(wallet, signature) → swaps still without a durable record (0 = done)."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._open: LRUCache[tuple[str, str], int] = LRUCache(maxsize=capacity)
        self._lock = threading.Lock()

    def opened(self, wallet: str, signature: str, swaps: int) -> None:
        """The analyzer found `swaps` swaps of the wallet in it (0: nothing to record, done at once)."""
        with self._lock:
            self._open[(wallet, signature)] = max(0, int(swaps))

    def closed(self, wallet: str, signature: str) -> None:
        """One swap of it has its record on disk."""
        key = (wallet, signature)
        with self._lock:
            left = self._open.get(key)
            if left is not None:
                self._open[key] = max(0, left - 1)

    def done(self, wallet: str, signature: str) -> bool:
        with self._lock:
            return self._open.get((wallet, signature)) == 0

    def forget(self, wallet: str, signatures: list[str]) -> None:
        """Behind the stored cut-off now: no longer needed."""
        with self._lock:
            for signature in signatures:
                self._open.pop((wallet, signature), None)
