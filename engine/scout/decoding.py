"""Decoding a scout's transactions: one getTransaction answer reduced to the wallet's swaps (pure), and the
scout's own small decode pool at a lower CPU priority, whose child both fetches (getTransaction) and decodes
a batch, so the copy path's decodes never queue behind a scout's and a scout's CPU (HTTP and decoding) is not
spent in the engine's process, where it would hold the GIL; the engine's process only paces the batches
within the scout's budget."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import orjson

from engine.chain.rate_limit import totals_for
from engine.chain.rpc import RpcError, RpcPool
from engine.decoding import DecodeError, decode_transaction
from engine.decoding.pool import DecodePool
from engine.decoding.programs import TOKEN_PROGRAMS
from engine.decoding.wire import read_wire
from engine.scout.model import ScoutedTransaction, WalletSwap

# One child is enough for a scout (it reads at most a few dozen transactions a second) and leaves the other
# cores to the analyzer's pool; niceness 10 makes the OS run the copy path's processes first.
SCOUT_DECODE_WORKERS = 1
SCOUT_DECODE_NICE = 10
MAX_TASKS_PER_CHILD = 200  # batches, not transactions: recycles the child now and then
DEFAULT_MEMORY_BYTES = 1 << 30  # the engine's default max_worker_memory, for a caller without settings
READ_JOB = 10  # signatures the child fetches and decodes per job (paced by the engine's process)
CHILD_RPS = 1000.0  # the child's own pool does not pace: the engine's process took the budget for each job

# SPL Token InitializeMint (0) and InitializeMint2 (20): the mint is the first account.
_INITIALIZE_MINT_TAGS = (0, 20)
_INITIALIZE_MINT_TYPES = ("initializeMint", "initializeMint2")


def _holding(meta: dict[str, Any], field_name: str, wallet: str, mint: str) -> int | None:
    entries = meta.get(field_name)
    if entries is None:
        return None
    total = 0
    for entry in entries:
        if entry.get("owner") == wallet and entry.get("mint") == mint:
            total += int(entry["uiTokenAmount"]["amount"])
    return total


def created_mints(tx: dict[str, Any]) -> tuple[str, ...]:
    """The mints a getTransaction result initialised (SPL Token InitializeMint / InitializeMint2)."""
    created: list[str] = []
    for ix in read_wire(tx, TOKEN_PROGRAMS).instructions:
        if ix.program_id not in TOKEN_PROGRAMS:
            continue
        mint: str | None = None
        if ix.parsed is not None:
            if ix.parsed.get("type") in _INITIALIZE_MINT_TYPES:
                mint = (ix.parsed.get("info") or {}).get("mint")
        else:
            data = ix.data()
            if data and data[0] in _INITIALIZE_MINT_TAGS and ix.accounts:
                mint = ix.accounts[0]
        if mint and mint not in created:
            created.append(mint)
    return tuple(created)


def scouted_from_result(tx: dict[str, Any], wallet: str) -> ScoutedTransaction:
    """One getTransaction result reduced to the wallet's swaps (every venue; see History.swaps), its holding
    of each swapped mint before and after, and the mints it created. Raises DecodeError."""
    decoded = decode_transaction(tx, wallet, allow_unknown_venue=True)
    meta = tx.get("meta") or {}
    swaps = tuple(
        WalletSwap(
            signature=decoded.signature,
            slot=decoded.slot,
            block_time=decoded.block_time,
            side=swap.side,
            mint=swap.mint,
            token_amount=swap.token_amount,
            token_decimals=swap.token_decimals,
            quote_mint=swap.quote_mint,
            quote_amount=swap.quote_amount,
            venue=swap.venue,
            router=swap.router,
            fee_lamports=decoded.fee,
            leader_pre_amount=_holding(meta, "preTokenBalances", wallet, swap.mint),
            leader_post_amount=_holding(meta, "postTokenBalances", wallet, swap.mint),
        )
        for swap in decoded.swaps
    )
    try:
        created = () if decoded.failed else created_mints(tx)
    except (DecodeError, ValueError, KeyError, TypeError):
        created = ()
    return ScoutedTransaction(
        decoded.signature, decoded.slot, decoded.block_time, decoded.failed, decoded.fee, swaps, created
    )


def scouted_from_raw(raw: bytes, wallet: str) -> ScoutedTransaction:
    """scouted_from_result on getTransaction JSON bytes (a bare result or the JSON-RPC envelope)."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise DecodeError("not valid JSON") from None
    if isinstance(document, dict) and "result" in document and "meta" not in document:
        document = document["result"]
    if not isinstance(document, dict):
        raise DecodeError("transaction not found (result is null)")
    return scouted_from_result(document, wallet)


def decode_batch(raws: Sequence[bytes], wallet: str) -> list[ScoutedTransaction | DecodeError]:
    """scouted_from_raw over a batch, in order; an unreadable answer yields its DecodeError in its place.
    This is the job the scout's decode child runs (one call per batch keeps the messages few)."""
    out: list[ScoutedTransaction | DecodeError] = []
    for raw in raws:
        try:
            out.append(scouted_from_raw(raw, wallet))
        except DecodeError as exc:
            out.append(exc)
        except MemoryError:
            out.append(DecodeError("decoder ran out of memory (MAX_WORKER_MEMORY)"))
    return out


Outcome = tuple[
    str, str, Any
]  # (signature, "tx" | "missing" | "error", ScoutedTransaction | DecodeError | str)

# In the child: one event loop and one RpcPool per endpoint list, kept across jobs (their connections too).
_child_pools: dict[tuple[tuple[str, ...], str, float], tuple[asyncio.AbstractEventLoop, RpcPool]] = {}


def read_batch(
    urls: Sequence[str],
    commitment: str,
    timeout: float,
    encoding: str,
    wallet: str,
    signatures: Sequence[str],
    concurrency: int,
) -> list[Outcome]:
    """The child's job: getTransaction for each signature (`concurrency` in flight), each answer decoded
    here. In order; a fetch error or a missing transaction is an outcome, never an exception."""
    key = (tuple(urls), commitment, timeout)
    if key not in _child_pools:
        loop = asyncio.new_event_loop()
        pool = RpcPool(
            urls, requests_per_second=CHILD_RPS, burst=CHILD_RPS, commitment=commitment, timeout=timeout
        )
        _child_pools[key] = (loop, pool)
    loop, pool = _child_pools[key]
    return loop.run_until_complete(_read(pool, encoding, wallet, signatures, concurrency))


async def _read(
    pool: RpcPool, encoding: str, wallet: str, signatures: Sequence[str], concurrency: int
) -> list[Outcome]:
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(signature: str) -> Outcome:
        async with gate:
            try:
                raw = await pool.get_transaction_raw(signature, encoding)
            except RpcError as exc:
                return signature, "error", str(exc)
        if raw is None:
            return signature, "missing", None
        try:
            return signature, "tx", scouted_from_raw(raw, wallet)
        except DecodeError as exc:
            return signature, "tx", exc
        except MemoryError:
            return signature, "tx", DecodeError("decoder ran out of memory (MAX_WORKER_MEMORY)")

    return list(await asyncio.gather(*(one(signature) for signature in signatures)))


async def take_budget(pool: RpcPool, count: int) -> None:
    """Take `count` requests from the scout pool's budget: its own rate and, as a low-priority pool, the
    engine's shared budget of the endpoint, so the calls its child makes count as the scout's own calls."""
    endpoint = pool.endpoints[0]
    for _ in range(count):
        await endpoint.bucket.acquire()
        if endpoint.shared is not None:
            await endpoint.shared.acquire(pool.low_priority)


def count_calls(pool: RpcPool, outcomes: Sequence[Outcome]) -> None:
    """Count the child's answered calls in the engine's RPC totals (health's rpc_calls), as the pool counts
    its own. A failed fetch is not counted: how many attempts it made stayed in the child."""
    if pool.state is None:
        return
    answered = sum(1 for _, outcome, _ in outcomes if outcome != "error")
    totals = totals_for(pool.state)
    with totals.lock:
        totals.calls += answered
        calls, limited = totals.calls, totals.rate_limited
    pool.state.set_health(rpc_calls=calls, rpc_429s=limited)


class ScoutDecoder:
    """The scout's own decode pool: SCOUT_DECODE_WORKERS children at SCOUT_DECODE_NICE, apart from the
    analyzer's pool, so no copy decode waits behind a scout batch."""

    def __init__(
        self,
        workers: int = SCOUT_DECODE_WORKERS,
        *,
        nice: int = SCOUT_DECODE_NICE,
        max_memory_bytes: int | None = DEFAULT_MEMORY_BYTES,
    ) -> None:
        self.pool = DecodePool(
            workers, nice=nice, max_memory_bytes=max_memory_bytes, max_tasks_per_child=MAX_TASKS_PER_CHILD
        )
        self.batches = 0
        self.transactions = 0

    def warm(self) -> None:
        """Start the children now (each takes about a second), not on the first batch."""
        futures = [self.pool.submit_call(decode_batch, [], "") for _ in range(self.pool.workers)]
        for future in futures:
            future.result()

    async def decode_batch(
        self, raws: Sequence[bytes], wallet: str
    ) -> list[ScoutedTransaction | DecodeError]:
        if not raws:
            return []
        self.batches += 1
        self.transactions += len(raws)
        return await asyncio.wrap_future(self.pool.submit_call(decode_batch, list(raws), wallet))

    async def read_batch(
        self,
        rpc: RpcPool,
        wallet: str,
        signatures: Sequence[str],
        *,
        encoding: str = "json",
        concurrency: int = 4,
        paced: bool = True,
    ) -> list[Outcome]:
        """Fetch and decode `signatures` in the child, after taking their budget from `rpc` here (unless
        the caller already did: paced=False)."""
        if not signatures:
            return []
        if paced:
            await take_budget(rpc, len(signatures))
        self.batches += 1
        self.transactions += len(signatures)
        urls = [endpoint.url for endpoint in rpc.endpoints]
        job = (urls, rpc.commitment, rpc.timeout, encoding, wallet, list(signatures), concurrency)
        outcomes = await asyncio.wrap_future(self.pool.submit_call(read_batch, *job))
        count_calls(rpc, outcomes)
        return outcomes

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> ScoutDecoder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


_shared: ScoutDecoder | None = None
_shared_lock = threading.Lock()


def shared_decoder(max_memory_bytes: int | None = DEFAULT_MEMORY_BYTES) -> ScoutDecoder:
    """The process's scout decode pool, started on first use and kept for later scouts (the Scout screen and
    Telegram's /scout inside the engine); its children exit with the process."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ScoutDecoder(max_memory_bytes=max_memory_bytes)
        return _shared


def close_shared_decoder() -> None:
    global _shared
    with _shared_lock:
        decoder, _shared = _shared, None
    if decoder is not None:
        decoder.close()
