"""Reading a wallet's history over RPC (getSignaturesForAddress paged, then getTransaction), decoded by the
project's decoder and cached, within the scout's own small share of the RPC budget."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.chain.rpc import RpcError, RpcPool
from engine.decoding import DecodeError
from engine.scout.cache import ScoutCache
from engine.scout.creation import find_creations
from engine.scout.decoding import (
    READ_JOB,
    Outcome,
    ScoutDecoder,
    created_mints,
    decode_batch,
    scouted_from_raw,
    shared_decoder,
    take_budget,
)
from engine.scout.model import ScoutedTransaction, WalletSwap, chronological

__all__ = ["History", "fetch_history", "make_scout_pool", "scout_wallet", "scouted_from_raw"]

# Scouting must never slow copying: a few requests a second, and as a low-priority pool it leaves a quarter
# of each endpoint's shared burst to the trading calls when it runs inside the engine.
DEFAULT_SCOUT_RPS = 5.0
# A node on this machine has no provider's limit to share: the scout reads it faster by default.
LOCAL_SCOUT_RPS = 50.0
DEFAULT_CONCURRENCY = 4
PAGE_SIZE = 1000  # getSignaturesForAddress's own maximum
# Transactions are fetched, decoded and cached a batch at a time, so a cancelled or failed scout keeps what it
# already read, and the scout pauses between batches so its thread gives the GIL back to the copy path.
BATCH_SIZE = 50
BATCH_PAUSE_S = 0.01

Progress = Callable[[str, int, int], None]  # (phase "signatures" | "transactions", done, total)


@dataclass
class History:
    """What one scout read: the wallet's transactions oldest first, and how they were obtained."""

    wallet: str
    transactions: list[ScoutedTransaction] = field(default_factory=list)
    signatures: int = 0  # signatures listed within the window
    failed: int = 0  # of those, transactions that failed on chain (not fetched)
    fetched: int = 0  # getTransaction calls made
    cached: int = 0  # transactions served from the cache
    missing: int = 0  # getTransaction answered null (not visible on this node)
    fetch_errors: int = 0
    decode_errors: int = 0
    cancelled: bool = False
    since: int | None = None  # unix seconds: the --days cutoff, when one was given
    days: float | None = None
    creation_lookups: int = 0  # getSignaturesForAddress calls on bought mints (engine.scout.creation)
    creation_fetched: int = 0  # getTransaction calls for those mints' oldest transactions
    creations: dict[str, int] = field(default_factory=dict)  # mint -> slot its buys are judged by

    def swaps(self, *, allow_unknown_venue: bool = False) -> list[WalletSwap]:
        """Every swap of the wallet, oldest first. Swaps in transactions with no known DEX program (venue
        "unknown") count only with allow_unknown_venue, exactly as the analyzer decides in that mode."""
        found = [
            swap
            for tx in self.transactions
            if not tx.failed
            for swap in tx.swaps
            if allow_unknown_venue or swap.venue != "unknown"
        ]
        return chronological(found)

    def creation_slots(self) -> dict[str, int]:
        """Mints whose creation is known, with the slot the wallet's buys are judged by: the slot the
        wallet's own transaction created it in, or what engine.scout.creation found."""
        slots = self.own_creations()
        for mint, slot in self.creations.items():
            slots.setdefault(mint, slot)
        return slots

    def own_creations(self) -> dict[str, int]:
        """Mints the wallet's own transactions created, with the slot."""
        slots: dict[str, int] = {}
        for tx in self.transactions:
            for mint in tx.created_mints:
                if tx.slot is not None and mint not in slots:
                    slots[mint] = tx.slot
        return slots


def is_local(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    return host in ("127.0.0.1", "localhost", "::1")


def scout_rate_for(urls: Sequence[str]) -> float:
    """The scout's default requests per second against these endpoints."""
    return LOCAL_SCOUT_RPS if urls and all(is_local(url) for url in urls) else DEFAULT_SCOUT_RPS


def make_scout_pool(
    urls: Sequence[str],
    *,
    requests_per_second: float = DEFAULT_SCOUT_RPS,
    state: Any = None,
    engine_rate: float | None = None,
    commitment: str = "confirmed",
) -> RpcPool:
    """The scout's own pool: its own rate, and low priority against the engine's shared budget (with state)."""
    return RpcPool(
        urls,
        requests_per_second=requests_per_second,
        burst=max(1.0, requests_per_second),
        state=state,
        engine_rate=engine_rate,
        commitment=commitment,
        low_priority=True,
    )


def _cancelled(cancel: Any) -> bool:
    return cancel is not None and cancel.is_set()


async def list_signatures(
    pool: RpcPool,
    wallet: str,
    *,
    days: float | None = None,
    limit: int | None = None,
    now: float | None = None,
    progress: Progress | None = None,
    cancel: asyncio.Event | threading.Event | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """The wallet's signatures newest first, within `days` of `now` or up to `limit`; (entries, cancelled)."""
    cutoff = None if days is None else int((now if now is not None else time.time()) - days * 86_400)
    entries: list[dict[str, Any]] = []
    before: str | None = None
    while True:
        if _cancelled(cancel):
            return entries, True
        want = PAGE_SIZE if limit is None else min(PAGE_SIZE, limit - len(entries))
        page = await pool.get_signatures_for_address(wallet, before=before, limit=want)
        complete = len(page) < want
        for entry in page:
            block_time = entry.get("block_time")
            if cutoff is not None and block_time is not None and block_time < cutoff:
                complete = True
                break
            entries.append(entry)
            if limit is not None and len(entries) >= limit:
                complete = True
                break
        if progress is not None:
            progress("signatures", len(entries), len(entries))
        if complete:
            return entries, False
        before = page[-1]["signature"]


async def fetch_history(
    pool: RpcPool,
    wallet: str,
    *,
    days: float | None = None,
    limit: int | None = None,
    cache: ScoutCache | None = None,
    progress: Progress | None = None,
    cancel: asyncio.Event | threading.Event | None = None,
    now: float | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    encoding: str = "json",
    creations: bool = True,
    decoder: ScoutDecoder | None = None,
) -> History:
    """Read the wallet's history. Signatures already in the cache cost no getTransaction call. Cancelling
    (setting `cancel`) returns what was read so far with cancelled=True; the cache keeps it. With
    `creations`, it then looks up when each bought token was created (engine.scout.creation). With a
    `decoder` (engine.scout.decoding) the transactions are decoded in its child process, a batch at a
    time; without one, here (the `zapbot scout` command, a process of its own)."""
    history = History(wallet, days=days)
    if days is not None:
        history.since = int((now if now is not None else time.time()) - days * 86_400)
    entries, history.cancelled = await list_signatures(
        pool, wallet, days=days, limit=limit, now=now, progress=progress, cancel=cancel
    )
    history.signatures = len(entries)
    landed = [entry for entry in entries if entry.get("err") is None]
    history.failed = len(entries) - len(landed)
    signatures = [entry["signature"] for entry in landed]
    known = cache.get_many(wallet, signatures) if cache is not None else {}
    history.cached = len(known)
    wanted = [signature for signature in signatures if signature not in known]
    results: dict[str, ScoutedTransaction] = dict(known)
    total = len(signatures)
    done = len(known)
    if progress is not None:
        progress("transactions", done, total)
    gate = asyncio.Semaphore(max(1, concurrency))

    async def fetch_one(signature: str) -> bytes | None:
        nonlocal done
        async with gate:
            if _cancelled(cancel):
                return None
            history.fetched += 1
            try:
                raw = await pool.get_transaction_raw(signature, encoding)
            except RpcError:
                history.fetch_errors += 1
                raw = None
            else:
                if raw is None:
                    history.missing += 1
            done += 1
            if progress is not None:
                progress("transactions", done, total)
            return raw

    def keep(signature: str, item: ScoutedTransaction | DecodeError, batch: list[ScoutedTransaction]) -> None:
        if isinstance(item, DecodeError):
            # Not readable by this decoder: cached as "no swaps" so it is not fetched again
            # (a new decoder bumps CACHE_FORMAT).
            history.decode_errors += 1
            item = ScoutedTransaction(signature, None, None, False, 0)
        results[signature] = item
        batch.append(item)

    async def read_in_child(chunk: list[str], batch: list[ScoutedTransaction]) -> None:
        """Fetched and decoded by the decoder's child, READ_JOB at a time; the budget is taken here for
        the next job while the child works on this one."""
        assert decoder is not None
        running: list[asyncio.Future[list[Outcome]]] = []
        try:
            for first in range(0, len(chunk), READ_JOB):
                if _cancelled(cancel):
                    break
                job = chunk[first : first + READ_JOB]
                await take_budget(pool, len(job))
                read = decoder.read_batch(
                    pool, wallet, job, encoding=encoding, concurrency=concurrency, paced=False
                )
                running.append(asyncio.ensure_future(read))
                history.fetched += len(job)
                if len(running) > 1:
                    take(await running.pop(0), batch)
            while running:
                take(await running.pop(0), batch)
        finally:
            for future in running:
                future.cancel()

    def take(outcomes: list[Outcome], batch: list[ScoutedTransaction]) -> None:
        nonlocal done
        for signature, outcome, value in outcomes:
            if outcome == "error":
                history.fetch_errors += 1
            elif outcome == "missing":
                history.missing += 1
            else:
                keep(signature, value, batch)
            done += 1
        if progress is not None:
            progress("transactions", done, total)

    for start in range(0, len(wanted), BATCH_SIZE):
        if _cancelled(cancel):
            break
        chunk = wanted[start : start + BATCH_SIZE]
        batch: list[ScoutedTransaction] = []
        if decoder is not None:
            try:
                await read_in_child(chunk, batch)
            except DecodeError:
                # The decode pool failed (closed, or its child died twice on a job): what the failed job
                # held is neither kept nor cached, so a later scout fetches it again.
                history.decode_errors += 1
        else:
            raws = await asyncio.gather(*(fetch_one(signature) for signature in chunk))
            got = [(signature, raw) for signature, raw in zip(chunk, raws, strict=True) if raw is not None]
            items = decode_batch([raw for _, raw in got], wallet)
            for (signature, _), item in zip(got, items, strict=True):
                keep(signature, item, batch)
        if cache is not None and batch:
            cache.put_many(wallet, batch)
        if start + BATCH_SIZE < len(wanted):
            await asyncio.sleep(BATCH_PAUSE_S)
    if _cancelled(cancel):
        history.cancelled = True
    # Oldest first: the chain listed them newest first.
    history.transactions = [results[s] for s in reversed(signatures) if s in results]
    if creations and not history.cancelled:
        history.creations = await find_creations(
            pool, history, cache, history.own_creations(), read_created=created_mints, cancel=cancel
        )
    return history


async def scout_wallet(
    wallet: str,
    urls: Sequence[str],
    *,
    days: float | None = None,
    limit: int | None = None,
    cache_path: Path | None = None,
    requests_per_second: float = DEFAULT_SCOUT_RPS,
    progress: Progress | None = None,
    cancel: asyncio.Event | threading.Event | None = None,
    commitment: str = "confirmed",
    state: Any = None,
    engine_rate: float | None = None,
    decoder: ScoutDecoder | None = None,
) -> History:
    """One scout from start to end: its own low-priority pool and the cache file, both closed afterwards.
    With the engine's `state` (and its per-endpoint `engine_rate`) it draws from the engine's shared budget
    as a low-priority pool, below the trading calls, and decodes in the process's scout decode pool
    (`decoder`, else engine.scout.decoding.shared_decoder()), off the engine's process. `cancel` may be a
    threading.Event (only is_set())."""
    if decoder is None and state is not None:
        decoder = shared_decoder()
    cache = ScoutCache(cache_path)
    try:
        async with make_scout_pool(
            urls,
            requests_per_second=requests_per_second,
            commitment=commitment,
            state=state,
            engine_rate=engine_rate,
        ) as pool:
            return await fetch_history(
                pool,
                wallet,
                days=days,
                limit=limit,
                cache=cache,
                progress=progress,
                cancel=cancel,
                decoder=decoder,
            )
    finally:
        cache.close()
