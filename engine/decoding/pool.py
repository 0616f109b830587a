"""A process pool that runs the pure decoder in child processes, replacing the pool when a child dies."""

from __future__ import annotations

import asyncio
import gc
import mmap
import multiprocessing
import os
import signal
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import shared_memory
from typing import Any, Self

import msgspec

from engine.decoding import programs
from engine.decoding.decoder import decode_raw
from engine.decoding.model import DecodedTransaction, DecodeError

# forkserver: children are forked from a clean single-threaded server, so threads in the parent (the
# engine has many) cannot leave locks held in a child, and max_tasks_per_child is allowed (not with fork).
DEFAULT_CONTEXT = "forkserver"


def _watch_owner(owner_pid: int) -> None:
    """Exit when the process that owns the pool is gone (e.g. SIGKILLed), instead of lingering as an orphan."""
    import os
    import threading
    import time

    def watch() -> None:
        while True:
            time.sleep(1.0)
            try:
                os.kill(owner_pid, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:
                pass

    threading.Thread(target=watch, name="owner-watch", daemon=True).start()


def _init_child(
    max_memory_bytes: int | None,
    venues: dict[str, tuple[str, str]],
    owner_pid: int | None = None,
    nice: int = 0,
) -> None:
    # Ctrl-C in a terminal reaches the whole process group: the owner stops the pool; a child that took the
    # KeyboardInterrupt itself would print a traceback and could drop the batch it holds.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if owner_pid is not None:
        _watch_owner(owner_pid)
    if nice:
        # A background pool's children (the scout's) give way to the copy path's processes for the CPU.
        os.nice(nice)
    if max_memory_bytes is not None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (max_memory_bytes, max_memory_bytes))
    programs.VENUE_PROGRAMS.update(venues)  # type: ignore[arg-type]
    # A child only decodes: what it imported is moved out of the collector's reach (frozen), and young
    # collections run ten times less often. Decoding makes few reference cycles (the msgspec structs are
    # untracked); the collections measured 1-3 % of a decode.
    gc.freeze()
    gc.set_threshold(7000, 10, 10)


def _decode_job(raw: bytes, wallet: str | None, allow_unknown_venue: bool) -> DecodedTransaction:
    try:
        return decode_raw(raw, wallet, allow_unknown_venue=allow_unknown_venue)
    except MemoryError:
        raise DecodeError("decoder ran out of memory (MAX_WORKER_MEMORY)") from None


# A batch's results go back to the parent as one msgpack array: each entry a DecodedTransaction or the
# DecodeError's message. Encoding and decoding structs is done in C and is several times cheaper than
# pickling the result objects one by one, which on 2 cores ate much of what the second process gained.
# Each result is appended to the message as soon as it is decoded, so a child's memory stays flat over a
# batch instead of holding a thousand results until the end.
_BATCH_ENCODER = msgspec.msgpack.Encoder()
_BATCH_DECODER = msgspec.msgpack.Decoder(list[DecodedTransaction | str])


def _batch_message(raws: Iterable[Any], count: int, wallet: str | None, allow_unknown_venue: bool) -> bytes:
    message = bytearray(b"\xdd" + count.to_bytes(4, "big"))  # a msgpack array 32 header
    for raw in raws:
        try:
            item: DecodedTransaction | str = _decode_job(raw, wallet, allow_unknown_venue)
        except DecodeError as exc:
            item = str(exc)
        _BATCH_ENCODER.encode_into(item, message, -1)
    return bytes(message)


def _decode_batch(raws: Sequence[bytes], wallet: str | None, allow_unknown_venue: bool) -> bytes:
    """Child side of decode_many without the arena: decode a pickled chunk in order; a bad input yields its
    error message in place."""
    return _batch_message(raws, len(raws), wallet, allow_unknown_venue)


# The child's read-only maps of the parent's input arena, by segment name (see _InputArena).
_ARENA_MAPS: dict[str, mmap.mmap] = {}


def _arena_view(name: str) -> memoryview:
    mapped = _ARENA_MAPS.get(name)
    if mapped is None:
        for stale in list(_ARENA_MAPS):  # the parent replaced its arena with a bigger one
            try:
                _ARENA_MAPS.pop(stale).close()
            except BufferError:
                pass
        # Opened by path rather than as a SharedMemory, which would register the segment with the
        # resource tracker a second time: the parent alone owns the segment and unlinks it.
        fd = os.open(f"/dev/shm/{name.lstrip('/')}", os.O_RDONLY)
        try:
            mapped = _ARENA_MAPS[name] = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        finally:
            os.close(fd)
    return memoryview(mapped)


def _decode_arena_batch(name: str, spans: bytes, wallet: str | None, allow_unknown_venue: bool) -> bytes:
    """Child side of decode_many with the arena: spans holds (offset, length) pairs into the parent's
    arena, and each transaction is decoded straight from the shared pages, with no copy."""
    view = _arena_view(name)
    pairs = memoryview(spans).cast("q")
    count = len(pairs) // 2
    raws = (view[pairs[2 * i] : pairs[2 * i] + pairs[2 * i + 1]] for i in range(count))
    return _batch_message(raws, count, wallet, allow_unknown_venue)


def _unpack_batch(message: bytes) -> list[DecodedTransaction | DecodeError]:
    return [DecodeError(item) if isinstance(item, str) else item for item in _BATCH_DECODER.decode(message)]


class _InputArena:
    """Shared memory the parent copies a batch's transactions into, so that a chunk goes to a child as a few
    bytes of offsets instead of being pickled, piped and unpickled: on 2 cores that transfer sat on the
    critical path of every chunk, and the parent's share of it came out of the children's CPU.

    One decode_many uses the arena at a time; one that finds it busy pickles its chunks as before. So does
    a batch larger than MAX_BYTES, and every batch on a machine without room in /dev/shm."""

    MAX_BYTES = 64 << 20  # mapped in every child, inside its max_memory_bytes
    _MIN_BYTES = 4 << 20

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._segment: shared_memory.SharedMemory | None = None
        self._unavailable = False

    def fill(self, raws: Sequence[bytes]) -> tuple[str, array[int]] | None:
        """Copy raws into the arena, each distinct object once -> (segment name, offset and length pairs),
        or None when the batch does not fit. The caller holds self.lock until the children are done."""
        placed: dict[int, int] = {}
        distinct: list[bytes] = []
        needed = 0
        spans = array("q")
        for raw in raws:
            offset = placed.get(id(raw))
            if offset is None:
                offset = placed[id(raw)] = needed
                distinct.append(raw)
                needed += len(raw)
            spans.append(offset)
            spans.append(len(raw))
        segment = self._segment_for(needed)
        if segment is None:
            return None
        buffer = segment.buf
        assert buffer is not None  # None only after close()
        offset = 0
        for raw in distinct:
            buffer[offset : offset + len(raw)] = raw
            offset += len(raw)
        return segment.name, spans

    def _segment_for(self, needed: int) -> shared_memory.SharedMemory | None:
        if self._unavailable or needed > self.MAX_BYTES:
            return None
        if self._segment is not None and self._segment.size >= needed:
            return self._segment
        size = max(self._MIN_BYTES, 1 << (needed - 1).bit_length())
        try:
            segment = shared_memory.SharedMemory(create=True, size=size)
        except OSError:
            self._unavailable = True
            return None
        try:
            if not os.path.exists(
                f"/dev/shm/{segment.name.lstrip('/')}"
            ):  # the children open it by that path
                raise OSError("no /dev/shm")
            # Reserve the pages now: tmpfs grants a sparse segment it may not be able to back, and a write
            # to such a page kills the process with SIGBUS instead of raising.
            os.posix_fallocate(segment._fd, 0, size)  # type: ignore[attr-defined]
        except OSError:
            segment.close()
            segment.unlink()
            self._unavailable = True
            return None
        self.close()
        self._segment = segment
        return segment

    def close(self) -> None:
        if self._segment is not None:
            self._segment.close()
            self._segment.unlink()
            self._segment = None


def diagnostic_sleep_job(seconds: float, pid_path: str) -> int:
    """Diagnostics/tests only: record this child's pid, sleep, return the pid (lets a test kill a child mid-job)."""
    with open(pid_path, "a", encoding="utf-8") as handle:
        handle.write(f"{os.getpid()}\n")
    time.sleep(seconds)
    return os.getpid()


def diagnostic_allocate_job(size_bytes: int) -> int:
    """Diagnostics/tests only: allocate size_bytes, to check the per-child memory limit."""
    try:
        block = bytearray(size_bytes)
    except MemoryError:
        raise DecodeError("decoder ran out of memory (MAX_WORKER_MEMORY)") from None
    return len(block)


class DecodePool:
    """Decodes raw getTransaction bytes in child processes.

    A child that dies (OOM kill, segfault, SIGKILL) breaks the executor: the pool is replaced and each
    job that was in flight is retried once; a job that breaks the pool twice fails with DecodeError.
    """

    def __init__(
        self,
        workers: int = 2,
        *,
        max_tasks_per_child: int | None = None,
        max_memory_bytes: int | None = None,
        mp_context: str = DEFAULT_CONTEXT,
        venues: dict[str, tuple[str, str]] | None = None,
        nice: int = 0,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self.max_tasks_per_child = max_tasks_per_child
        self.max_memory_bytes = max_memory_bytes
        self.nice = nice  # added to the children's niceness: a lower-priority pool for background work
        self._context = multiprocessing.get_context(mp_context)
        if mp_context == "forkserver":
            self._context.set_forkserver_preload(["engine.decoding.pool"])
        self._venues = dict(venues) if venues is not None else programs.registered_venues()
        self._lock = threading.Lock()
        self._closed = False
        self.restarts = 0
        self.retries = 0
        self._arena = _InputArena()
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self._context,
            initializer=_init_child,
            initargs=(self.max_memory_bytes, self._venues, os.getpid(), self.nice),
            max_tasks_per_child=self.max_tasks_per_child,
        )

    def _replace(self, broken: ProcessPoolExecutor) -> ProcessPoolExecutor:
        """Swap in a fresh executor unless another job already did so for this same breakage."""
        with self._lock:
            if self._closed:
                raise DecodeError("decode pool is closed")
            if self._executor is broken:
                self._executor = self._new_executor()
                self.restarts += 1
                broken.shutdown(wait=False, cancel_futures=True)
            return self._executor

    def _submit_fn(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Run fn(*args) in a child with the retry-once-on-child-death policy."""
        outer: Future = Future()
        outer.set_running_or_notify_cancel()
        self._attempt(outer, fn, args, first=True)
        return outer

    def _attempt(self, outer: Future, fn: Callable[..., Any], args: tuple, first: bool) -> None:
        with self._lock:
            if self._closed:
                outer.set_exception(DecodeError("decode pool is closed"))
                return
            executor = self._executor
        try:
            inner = executor.submit(fn, *args)
        except BrokenProcessPool:
            self._after_break(outer, fn, args, first, executor)
            return
        except RuntimeError as exc:  # shut down underneath us by close()
            outer.set_exception(DecodeError(f"decode pool unavailable: {exc}"))
            return
        inner.add_done_callback(lambda done: self._on_done(outer, fn, args, first, executor, done))

    def _on_done(
        self,
        outer: Future,
        fn: Callable[..., Any],
        args: tuple,
        first: bool,
        executor: ProcessPoolExecutor,
        done: Future,
    ) -> None:
        if done.cancelled():
            outer.set_exception(DecodeError("decode job cancelled"))
            return
        exc = done.exception()
        if exc is None:
            outer.set_result(done.result())
        elif isinstance(exc, BrokenProcessPool):
            # The executor's own management thread runs this callback, so hand the retry to another
            # thread rather than submitting from inside the dying executor.
            threading.Thread(
                target=self._after_break,
                args=(outer, fn, args, first, executor),
                name="decode-pool-retry",
                daemon=True,
            ).start()
        elif isinstance(exc, MemoryError):
            outer.set_exception(DecodeError("decoder ran out of memory (MAX_WORKER_MEMORY)"))
        else:
            outer.set_exception(exc)

    def _after_break(
        self, outer: Future, fn: Callable[..., Any], args: tuple, first: bool, executor: ProcessPoolExecutor
    ) -> None:
        try:
            self._replace(executor)
        except DecodeError as exc:
            outer.set_exception(exc)
            return
        if not first:
            outer.set_exception(DecodeError("decoder process died twice on this transaction"))
            return
        with self._lock:
            self.retries += 1
        self._attempt(outer, fn, args, first=False)

    def submit_call(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Run a module-level pure function fn(*args) in a child, with the same retry-once policy (a
        background user such as the scout decodes its own batches this way, in a pool of its own)."""
        return self._submit_fn(fn, *args)

    def submit(
        self, raw: bytes, wallet: str | None = None, *, allow_unknown_venue: bool = False
    ) -> Future[DecodedTransaction]:
        """Decode raw getTransaction bytes in a child; the future raises DecodeError on bad input."""
        return self._submit_fn(_decode_job, bytes(raw), wallet, allow_unknown_venue)

    async def decode(
        self, raw: bytes, wallet: str | None = None, *, allow_unknown_venue: bool = False
    ) -> DecodedTransaction:
        """submit() for asyncio callers."""
        return await asyncio.wrap_future(self.submit(raw, wallet, allow_unknown_venue=allow_unknown_venue))

    def decode_many(
        self,
        raws: Sequence[bytes],
        wallet: str | None = None,
        *,
        chunksize: int | None = None,
        allow_unknown_venue: bool = False,
    ) -> list[DecodedTransaction | DecodeError]:
        """Decode a batch in order, in chunks to keep IPC small; a bad input yields its DecodeError in place."""
        if not raws:
            return []
        if chunksize is None:
            chunksize = max(1, len(raws) // (self.workers * 4))
        starts = range(0, len(raws), chunksize)
        pickled = [(raws[at : at + chunksize],) for at in starts]
        if not self._arena.lock.acquire(blocking=False):
            return self._decode_chunks(_decode_batch, pickled, wallet, allow_unknown_venue)
        try:
            filled = self._arena.fill(raws)
            if filled is None:
                return self._decode_chunks(_decode_batch, pickled, wallet, allow_unknown_venue)
            name, spans = filled
            jobs = [(name, spans[2 * at : 2 * (at + chunksize)].tobytes()) for at in starts]
            return self._decode_chunks(_decode_arena_batch, jobs, wallet, allow_unknown_venue)
        finally:
            self._arena.lock.release()

    def _decode_chunks(
        self,
        fn: Callable[..., bytes],
        jobs: list[tuple[Any, ...]],
        wallet: str | None,
        allow_unknown_venue: bool,
    ) -> list[DecodedTransaction | DecodeError]:
        for first in (True, False):
            with self._lock:
                if self._closed:
                    raise DecodeError("decode pool is closed")
                executor = self._executor
            try:
                futures = [executor.submit(fn, *job, wallet, allow_unknown_venue) for job in jobs]
                results: list[DecodedTransaction | DecodeError] = []
                for future in futures:
                    results.extend(_unpack_batch(future.result()))
                return results
            except BrokenProcessPool:
                self._replace(executor)
                if first:
                    with self._lock:
                        self.retries += 1
        raise DecodeError("decoder process died twice on this batch")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            executor = self._executor
        executor.shutdown(wait=True, cancel_futures=True)
        with self._arena.lock:
            self._arena.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
