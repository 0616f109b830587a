"""DecodePool: child processes decode, a killed child's job is retried once, memory is capped per child."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from engine.decoding import DecodeError, decode_raw
from engine.decoding.pool import DecodePool, diagnostic_allocate_job, diagnostic_sleep_job

pytestmark = pytest.mark.slow  # every test here starts a cluster, an engine or a subprocess


@pytest.fixture
def pool():
    decode_pool = DecodePool(2, max_tasks_per_child=50)
    yield decode_pool
    decode_pool.close()


def _raws(mainnet: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(mainnet.rglob("*.json"))]


def test_pool_matches_in_process_decoding(pool: DecodePool, mainnet: Path) -> None:
    raws = _raws(mainnet)
    results = pool.decode_many(raws + [b"not json"])
    assert results[:-1] == [decode_raw(raw) for raw in raws]
    assert isinstance(results[-1], DecodeError)
    wallet = "4DdrfiDHpmx55i4SPssxVzS9ZaKLb8qr45NKY9Er9nNh"
    one = pool.submit((mainnet / "pumpfun/ZEu54dZe_buy.json").read_bytes(), wallet).result(timeout=60)
    assert [s.wallet for s in one.swaps] == [wallet]
    with pytest.raises(DecodeError):
        pool.submit(b"{").result(timeout=60)


def _shm_path(pool: DecodePool) -> Path:
    segment = pool._arena._segment
    assert segment is not None, "decode_many did not use the shared input arena"
    return Path("/dev/shm") / segment.name.lstrip("/")


def test_decode_many_through_the_arena_and_without_it_gives_the_same_answers(
    pool: DecodePool, mainnet: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raws = _raws(mainnet)
    batch = raws * 3 + [b"not json", raws[0][:-5]]  # repeats, bad JSON and a cut-off document
    wallet = "4DdrfiDHpmx55i4SPssxVzS9ZaKLb8qr45NKY9Er9nNh"
    expected: list[object] = []
    for raw in batch:
        try:
            expected.append(decode_raw(raw, wallet))
        except DecodeError as exc:
            expected.append(str(exc))

    def answers(results: list) -> list[object]:
        return [str(r) if isinstance(r, DecodeError) else r for r in results]

    assert answers(pool.decode_many(batch, wallet, chunksize=37)) == expected
    first_segment = _shm_path(pool)
    assert first_segment.exists()

    # The arena busy (another thread's batch): the chunks are pickled instead, with the same answers.
    with pool._arena.lock:
        assert answers(pool.decode_many(batch, wallet, chunksize=50)) == expected

    # A batch bigger than the arena may grow to: pickled as well.
    monkeypatch.setattr(type(pool._arena), "MAX_BYTES", 1000)
    assert answers(pool.decode_many(batch, wallet)) == expected
    monkeypatch.undo()

    # A batch bigger than the arena: a new, larger segment replaces it, the old one is unlinked, and the
    # children map the new one.
    big = [bytes(bytearray(raw)) for raw in raws for _ in range(3)]  # distinct objects, each copied
    assert sum(map(len, big)) > first_segment.stat().st_size
    assert answers(pool.decode_many(big, wallet)) == [e for e in expected[: len(raws)] for _ in range(3)]
    assert not first_segment.exists()
    second_segment = _shm_path(pool)
    assert second_segment.stat().st_size >= sum(map(len, big))

    pool.close()
    assert not second_segment.exists()


async def test_async_decode(pool: DecodePool, mainnet: Path) -> None:
    raw = (mainnet / "pumpfun/JBnrBbgq_buy_x3_bundle.json").read_bytes()
    decoded = await asyncio.wait_for(pool.decode(raw), 60)
    assert len(decoded.swaps) == 4


def test_killed_child_job_is_retried_once(pool: DecodePool, tmp_path: Path, mainnet: Path) -> None:
    pid_file = tmp_path / "pids"
    future = pool._submit_fn(diagnostic_sleep_job, 1.5, str(pid_file))
    deadline = time.monotonic() + 30
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    first_pid = int(pid_file.read_text().split()[0])
    os.kill(first_pid, signal.SIGKILL)
    finished_pid = future.result(timeout=60)
    pids = [int(p) for p in pid_file.read_text().split()]
    assert len(pids) == 2 and finished_pid == pids[1] != first_pid
    assert pool.restarts == 1 and pool.retries == 1
    # The replaced pool keeps decoding.
    raw = (mainnet / "pumpfun/ZEu54dZe_buy.json").read_bytes()
    assert pool.submit(raw).result(timeout=60).swaps


def test_job_that_kills_its_child_twice_fails_with_decode_error(pool: DecodePool, tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    future = pool._submit_fn(diagnostic_sleep_job, 30, str(pid_file))
    for attempt in (1, 2):
        deadline = time.monotonic() + 30
        while (
            not pid_file.exists() or len(pid_file.read_text().split()) < attempt
        ) and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(int(pid_file.read_text().split()[attempt - 1]), signal.SIGKILL)
    with pytest.raises(DecodeError, match="died twice"):
        future.result(timeout=60)
    assert pool.restarts == 2 and pool.retries == 1


def test_memory_limit_applies_per_child() -> None:
    with DecodePool(1, max_memory_bytes=1 << 30) as limited:
        assert limited._submit_fn(diagnostic_allocate_job, 1 << 20).result(timeout=60) == 1 << 20
        with pytest.raises(DecodeError, match="memory"):
            limited._submit_fn(diagnostic_allocate_job, 2 << 30).result(timeout=60)
