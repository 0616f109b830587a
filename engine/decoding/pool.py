"""A process pool that runs the pure decoder in child processes, replacing the pool when a child dies."""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
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


# A batch's results go back to the parent as one msgpack message: each entry a DecodedTransaction or the
# DecodeError's message. Encoding and decoding structs is done in C and is several times cheaper than
# pickling the result objects one by one, which on 2 cores ate much of what the second process gained.
_BATCH_ENCODER = msgspec.msgpack.Encoder()
_BATCH_DECODER = msgspec.msgpack.Decoder(list[DecodedTransaction | str])


def _decode_batch(raws: Sequence[bytes], wallet: str | None, allow_unknown_venue: bool) -> bytes:
    """Child side of decode_many: decode a chunk in order; a bad input yields its error message in place."""
    out: list[DecodedTransaction | str] = []
    for raw in raws:
        try:
            out.append(_decode_job(raw, wallet, allow_unknown_venue))
        except DecodeError as exc:
            out.append(str(exc))
    return _BATCH_ENCODER.encode(out)


def _unpack_batch(message: bytes) -> list[DecodedTransaction | DecodeError]:
    return [DecodeError(item) if isinstance(item, str) else item for item in _BATCH_DECODER.decode(message)]


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
        chunks = [raws[start : start + chunksize] for start in range(0, len(raws), chunksize)]
        for first in (True, False):
            with self._lock:
                if self._closed:
                    raise DecodeError("decode pool is closed")
                executor = self._executor
            try:
                futures = [
                    executor.submit(_decode_batch, chunk, wallet, allow_unknown_venue) for chunk in chunks
                ]
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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
