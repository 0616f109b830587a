"""Heartbeats on real threads: each worker's own beat age is shown (not the time since the supervisor's last
round), a worker busy on a long run of messages is not retired, and one whose loop is blocked is."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest

from engine.supervisor import Supervisor
from engine.worker import BaseWorker, handles
from engine.workers import WORKER_CLASSES
from tests.helpers.waiting import wait_until
from tests.integration.test_core_supervisor import make_ctx


@dataclass(frozen=True)
class Work:
    seconds: float


@dataclass(frozen=True)
class Block:
    release: threading.Event


class Busy(BaseWorker):
    """Synchronous work per message (its loop never idles while the inbox is full); blocks on Block."""

    name = "busy"
    done = 0

    @handles(Work)
    def on_work(self, msg: Work) -> None:
        time.sleep(msg.seconds)
        type(self).done += 1

    @handles(Block)
    def on_block(self, msg: Block) -> None:
        msg.release.wait(30)


@pytest.mark.slow
def test_every_worker_shows_its_own_beat_age_not_the_supervisors_round(tmp_path):
    # The 30 s default: the supervisor's PING round came every 30 s, so every worker showed the same age,
    # growing to 30 s. Each worker's own beat keeps its age under a second or two.
    ctx = make_ctx(tmp_path, threading_enabled=True, heartbeat_ms=30_000)
    sup = Supervisor(ctx, dict(WORKER_CLASSES))
    sup.start()
    try:
        assert sup.wait_ready(10)
        started = time.monotonic()
        wait_until(lambda: time.monotonic() - started > 4.5, 10, what="4.5 s of running")
        snapshot = ctx.state.snapshot()
        ages = {w.name: w.last_heartbeat_age_s for w in snapshot.workers}
        assert all(age is not None and age < 2.0 for age in ages.values()), ages
        assert {w.restarts for w in snapshot.workers} == {0}
    finally:
        assert sup.stop(5)


@pytest.mark.slow
def test_a_busy_worker_making_progress_is_not_retired(tmp_path):
    ctx = make_ctx(tmp_path, threading_enabled=True, heartbeat_ms=400)
    cls = type("Busy_", (Busy,), {"done": 0})
    sup = Supervisor(ctx, {"busy": cls})
    sup.start()
    try:
        assert sup.wait_ready(5)
        # 2.4 s of back-to-back work, three times the 0.8 s in which a queued PING had to be answered.
        for _ in range(120):
            ctx.inboxes["busy"].put(Work(0.02))
        wait_until(lambda: cls.done == 120, 30, what=lambda: f"120 messages handled (saw {cls.done})")
        view = ctx.state.snapshot().worker("busy")
        assert view.restarts == 0 and view.state == "ready", view
    finally:
        sup.stop(5)


@pytest.mark.slow
def test_a_worker_whose_loop_is_blocked_is_retired(tmp_path):
    ctx = make_ctx(tmp_path, threading_enabled=True, heartbeat_ms=100, restart_ms=50)
    cls = type("Busy_", (Busy,), {"done": 0})
    sup = Supervisor(ctx, {"busy": cls})
    release = threading.Event()
    sup.start()
    try:
        assert sup.wait_ready(5)
        ctx.inboxes["busy"].put(Block(release))
        wait_until(lambda: ctx.state.snapshot().worker("busy").restarts >= 1, 10, what="a restart")
        release.set()  # the retired thread ends; its Block went to the new instance once
        ctx.inboxes["busy"].put(Work(0.0))
        wait_until(lambda: cls.done == 1, 10, what="the new instance handles work")
    finally:
        release.set()
        sup.stop(5)
