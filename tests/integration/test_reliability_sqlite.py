"""SQLite failing on write: the disk fills up (a tiny tmpfs as ZAPBOT_HOME) or another process holds the write
lock past the busy timeout. The error is surfaced (log, counter), the database is never corrupted
(PRAGMA integrity_check), and once the fault clears every leader swap is decided exactly once."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.helpers.reliability import FaultRun, assert_exact, count_decisions, integrity
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.slow  # every test here starts a cluster, an engine or a subprocess

# Once a bug: ExecutorWorker.on_swap let the StoreError of record_intent escape, so the executor crashed on
# that message, the swap was lost, and a disk that stayed full crash-looped it into `degraded`. Fixed in
# 5d42a34 (held and retried on tick). Set this back to True only to document a regression while it is fixed.
KNOWN_EXECUTOR_STORE_BUG = False


def exact_or_known_bug(counts, run: FaultRun) -> None:
    try:
        assert_exact(counts, expect_swaps=12)
        run.wait_all_ready()
    except AssertionError as exc:
        if KNOWN_EXECUTOR_STORE_BUG:
            pytest.xfail(f"known executor bug (swaps lost on StoreError): {exc}")
        raise


def _mount_tmpfs(target: Path, size: str) -> bool:
    target.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)], capture_output=True, text=True
    )
    return result.returncode == 0


def _fill(directory: Path) -> Path:
    """Write zeros until the filesystem is full; returns the filler file."""
    filler = directory / "filler.bin"
    chunk = b"\0" * 65536
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(chunk)
        except OSError:
            pass
        try:
            while True:  # the last few bytes one small write at a time
                handle.write(b"\0" * 512)
        except OSError:
            pass
    return filler


# A blocked SQLite write holds the data worker (and every worker awaiting it) for up to the 5 s busy timeout;
# the fault suite's usual 0.5 s heartbeat would count that as a hang. Use the 30 s default's scale instead.
SLOW_HEARTBEAT = {"engine__heartbeat_interval_ms": 5000}


@pytest.fixture
def tiny_home(tmp_path, monkeypatch):
    home = tmp_path / "tmpfs_home"
    if os.geteuid() != 0 or not _mount_tmpfs(home, "16m"):
        pytest.skip("needs root to mount a tmpfs for the disk-full fault")
    for name in ("ZAPBOT_MODE", "RPC_URL", "WS_URL", "SWAP_API_URL", "KEYPAIR_PATH", "TELEGRAM_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ZAPBOT_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    try:
        yield home
    finally:
        subprocess.run(["umount", "-l", str(home)], capture_output=True)


@pytest.mark.timeout(120)
def test_disk_full_is_surfaced_and_nothing_is_corrupted(tiny_home):
    run = FaultRun(**SLOW_HEARTBEAT).start()
    try:
        run.make_swaps(3, spread_s=1)
        wait_until(
            lambda: not run.counts().missing and run.counts().in_flight == 0, 30, what="calm swaps decided"
        )
        filler = _fill(tiny_home)
        detected_before = run.engine.snapshot().counters.get("swaps_detected", 0)
        swaps_before = len(run.swaps)
        run.make_swaps(6, spread_s=3)  # swaps 4..9, decided while no write can succeed
        full = len(run.swaps) - swaps_before
        # The disk stays full until the engine has seen every one of them and reported a failed write.
        during = wait_until(
            lambda: (
                (snap := run.engine.snapshot()).counters.get("swaps_detected", 0) >= detected_before + full
                and snap.counters.get("store_errors", 0) > 0
                and any("full" in line.message.lower() for line in snap.logs)
                and snap
            ),
            30,
            what="the swaps made while the disk is full to be seen and the failed writes reported",
        )
        store_errors = during.counters.get("store_errors", 0)
        surfaced = [line.message for line in during.logs if "full" in line.message.lower()]
        filler.unlink()
        run.make_swaps(3, spread_s=1)
        counts = run.wait_decided(25)
        print(
            f"\nRELIABILITY SQLite disk full: {counts.line()} store_errors={store_errors} "
            f"surfaced_lines={len(surfaced)}"
        )
        assert store_errors > 0 and surfaced, "the write failures were not surfaced"
        assert integrity(run.db) == "ok"
        assert counts.duplicates == 0 and counts.in_flight == 0 and counts.landed_copies == counts.executed
        exact_or_known_bug(counts, run)
    finally:
        run.stop()
    assert integrity(run.db) == "ok"


@pytest.mark.timeout(120)
def test_database_locked_by_another_process(zapbot_home):
    """Another connection holds the write lock for 7 s (past the 5 s busy timeout) while leaders trade."""
    run = FaultRun(**SLOW_HEARTBEAT).start()
    try:
        run.make_swaps(3, spread_s=1)
        wait_until(
            lambda: not run.counts().missing and run.counts().in_flight == 0, 30, what="calm swaps decided"
        )
        locker = sqlite3.connect(str(run.db), timeout=1, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            run.make_swaps(6, spread_s=2)
            # The lock is held past the 5 s busy timeout: until the engine reports a failed write.
            during = wait_until(
                lambda: (
                    (snap := run.engine.snapshot()).counters.get("store_errors", 0) > 0
                    and any("locked" in line.message.lower() for line in snap.logs)
                    and snap
                ),
                30,
                what="a write to fail on the lock and be reported",
            )
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        store_errors = during.counters.get("store_errors", 0)
        surfaced = [line.message for line in during.logs if "locked" in line.message.lower()]
        run.make_swaps(3, spread_s=1)
        counts = run.wait_decided(25)
        print(
            f"\nRELIABILITY SQLite locked 7 s: {counts.line()} store_errors={store_errors} "
            f"surfaced_lines={len(surfaced)}"
        )
        assert store_errors > 0 and surfaced, "the lock was not surfaced"
        assert integrity(run.db) == "ok"
        assert counts.duplicates == 0 and counts.in_flight == 0 and counts.landed_copies == counts.executed
        exact_or_known_bug(counts, run)
    finally:
        run.stop()


_ = count_decisions
