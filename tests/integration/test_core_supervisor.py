"""The worker base and the supervisor: READY, PING/PONG, restarts with queued work kept, heartbeats, shutdown."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass

import pytest

from engine.config import Settings
from engine.context import Endpoints, EngineContext
from engine.messages import Ping
from engine.paths import HomePaths
from engine.state import EngineState
from engine.supervisor import Supervisor
from engine.traders import TraderBook
from engine.worker import BaseWorker, Inbox, handles
from engine.workers import WORKER_CLASSES
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.slow  # every test here starts a cluster, an engine or a subprocess


@dataclass(frozen=True)
class Job:
    value: int


@dataclass(frozen=True)
class Boom:
    pass


@dataclass(frozen=True)
class Hang:
    pass


class Recorder(BaseWorker):
    """A test worker: records jobs with its instance number, raises on Boom, hangs on Hang."""

    name = "recorder"
    seen: list[tuple[int, int]]
    lock = threading.Lock()

    @handles(Job)
    def on_job(self, msg: Job) -> None:
        with self.lock:
            type(self).seen.append((self.instance, msg.value))

    @handles(Boom)
    def on_boom(self, msg: Boom) -> None:
        raise RuntimeError("boom")

    @handles(Hang)
    async def on_hang(self, msg: Hang) -> None:
        await asyncio.sleep(3600)


def make_ctx(
    tmp_path, *, threading_enabled: bool, heartbeat_ms: int = 100, restart_ms: int = 200, budget: int = 5
) -> EngineContext:
    settings = Settings()
    settings.engine.threading_enabled = threading_enabled
    settings.engine.heartbeat_interval_ms = heartbeat_ms
    settings.engine.worker_restart_delay_ms = restart_ms
    settings.engine.restart_budget = budget
    settings.engine.shutdown_deadline_s = 3.0
    paths = HomePaths(tmp_path).ensure()
    return EngineContext(
        settings=settings,
        paths=paths,
        state=EngineState("sim"),
        traders=TraderBook(None, []),
        endpoints=Endpoints([], None, None),
        supervisor_inbox=Inbox(100_000),
        db_path=tmp_path / "t.db",
    )


@pytest.fixture(params=[True, False], ids=["threads", "cooperative"])
def threading_enabled(request) -> bool:
    return request.param


@pytest.fixture
def recorder_cls():
    cls = type("Rec", (Recorder,), {"seen": []})
    return cls


def test_every_worker_sends_ready_and_answers_ping(tmp_path, threading_enabled):
    ctx = make_ctx(tmp_path, threading_enabled=threading_enabled)
    sup = Supervisor(ctx, dict(WORKER_CLASSES))
    sup.start()
    try:
        assert sup.wait_ready(10)
        states = {v.name: v.state for v in ctx.state.snapshot().workers}
        assert set(states) == {"telegram", "monitor", "executor", "data", "websocket", "cache", "analyzer"}
        assert states["telegram"] == "disabled"
        assert all(state in {"ready", "busy", "degraded", "disabled"} for state in states.values()), states
        # Heartbeats flow: every live worker has answered a PING recently.
        wait_until(
            lambda: all(
                v.last_heartbeat_age_s is not None and v.last_heartbeat_age_s < 1.0
                for v in ctx.state.snapshot().workers
            ),
            5,
        )
        before = {n: s.inbox.handled for n, s in sup.slots.items()}
        for slot in sup.slots.values():
            slot.inbox.put(Ping(999_999), force=True)
        wait_until(lambda: all(s.inbox.handled > before[n] for n, s in sup.slots.items()), 5)
    finally:
        assert sup.stop(5)
    assert {v.state for v in ctx.state.snapshot().workers} == {"stopped"}


def test_raising_worker_is_restarted_and_keeps_queued_messages(tmp_path, threading_enabled, recorder_cls):
    ctx = make_ctx(tmp_path, threading_enabled=threading_enabled, restart_ms=300)
    sup = Supervisor(ctx, {"recorder": recorder_cls})
    sup.start()
    try:
        assert sup.wait_ready(5)
        inbox = ctx.inboxes["recorder"]
        inbox.put(Job(1))
        wait_until(lambda: (1, 1) in recorder_cls.seen, 5)
        failed_at = time.monotonic()
        inbox.put(Boom())
        for value in range(2, 12):
            inbox.put(Job(value))
        wait_until(
            lambda: len(recorder_cls.seen) == 11,
            10,
            what=lambda: f"eleven jobs seen (saw {recorder_cls.seen})",
        )
        restarted_after = time.monotonic() - failed_at
        # All ten queued jobs were processed, in order, by the second instance.
        assert recorder_cls.seen[1:] == [(2, v) for v in range(2, 12)]
        # The new instance's READY reaches the supervisor on its own inbox, so the view may lag the jobs.
        wait_until(lambda: ctx.state.snapshot().worker("recorder").state == "ready", 5)
        view = ctx.state.snapshot().worker("recorder")
        assert view.restarts == 1
        assert restarted_after >= 0.3  # not before WORKER_RESTART_DELAY
    finally:
        sup.stop(5)


def test_restart_backoff_and_budget_end_in_degraded(tmp_path, threading_enabled, recorder_cls):
    ctx = make_ctx(tmp_path, threading_enabled=threading_enabled, restart_ms=50, budget=3)
    sup = Supervisor(ctx, {"recorder": recorder_cls})
    sup.start()
    try:
        assert sup.wait_ready(5)
        for _ in range(4):
            ctx.inboxes["recorder"].put(Boom())
        wait_until(lambda: ctx.state.snapshot().worker("recorder").state == "degraded", 10)
        view = ctx.state.snapshot().worker("recorder")
        assert view.restarts == 3
        assert "restart budget exhausted" in view.detail
        times = list(sup.slots["recorder"].restart_times)
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert all(later > earlier for earlier, later in zip(gaps, gaps[1:])) or len(gaps) < 2
    finally:
        sup.stop(5)


def test_worker_that_stops_answering_heartbeats_is_restarted(tmp_path, threading_enabled, recorder_cls):
    ctx = make_ctx(tmp_path, threading_enabled=threading_enabled, heartbeat_ms=100, restart_ms=50)
    sup = Supervisor(ctx, {"recorder": recorder_cls})
    sup.start()
    try:
        assert sup.wait_ready(5)
        inbox = ctx.inboxes["recorder"]
        inbox.put(Hang())
        inbox.put(Job(7))
        wait_until(lambda: ctx.state.snapshot().worker("recorder").restarts >= 1, 10)
        # The hanging message is handed to the second instance once (it hangs that one too), then dropped;
        # the third instance processes the job queued behind it.
        wait_until(
            lambda: any(value == 7 for _, value in recorder_cls.seen),
            10,
            what=lambda: f"job 7 seen (saw {recorder_cls.seen})",
        )
        assert [instance for instance, value in recorder_cls.seen if value == 7] == [3]
        assert ctx.state.snapshot().worker("recorder").restarts == 2
        wait_until(lambda: ctx.state.snapshot().worker("recorder").state == "ready", 5)
    finally:
        sup.stop(5)


class SlowCleanup(BaseWorker):
    name = "slow"

    async def cleanup(self) -> None:
        await asyncio.sleep(30)


@dataclass(frozen=True)
class SlowOnce:
    pass


class SlowFirstTime(BaseWorker):
    """Hangs on its first SlowOnce (instance 1) and handles it on the retry: nothing is lost to a hang."""

    name = "slowonce"
    handled: list[int] = []

    @handles(SlowOnce)
    async def on_slow(self, msg: SlowOnce) -> None:
        if self.instance == 1:
            await asyncio.sleep(3600)
        type(self).handled.append(self.instance)


def test_message_of_a_hung_worker_goes_to_the_next_instance(tmp_path, threading_enabled):
    ctx = make_ctx(tmp_path, threading_enabled=threading_enabled, heartbeat_ms=100, restart_ms=50)
    cls = type("Slow", (SlowFirstTime,), {"handled": []})
    sup = Supervisor(ctx, {"slowonce": cls})
    sup.start()
    try:
        assert sup.wait_ready(5)
        ctx.inboxes["slowonce"].put(SlowOnce())
        wait_until(lambda: cls.handled == [2], 10, what=lambda: f"only job 2 handled (saw {cls.handled})")
    finally:
        sup.stop(5)


def test_shutdown_finishes_within_its_deadline(tmp_path, threading_enabled):
    ctx = make_ctx(tmp_path, threading_enabled=threading_enabled)
    classes = dict(WORKER_CLASSES)
    classes["slow"] = SlowCleanup
    sup = Supervisor(ctx, classes)
    sup.start()
    assert sup.wait_ready(5)
    started = time.monotonic()
    sup.stop(2.0)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0 + 1.5, elapsed
    assert {v.state for v in ctx.state.snapshot().workers} == {"stopped"}


class TickRaises(BaseWorker):
    """Its first instance's tick raises; later instances tick fine."""

    name = "ticky"
    tick_interval = 0.05
    ticks: list[int] = []

    async def tick(self) -> None:
        type(self).ticks.append(self.instance)
        if self.instance == 1:
            raise RuntimeError("tick bug")


def test_raising_tick_restarts_the_worker(tmp_path, threading_enabled):
    ctx = make_ctx(tmp_path, threading_enabled=threading_enabled, restart_ms=50)
    cls = type("Ticky", (TickRaises,), {"ticks": []})
    sup = Supervisor(ctx, {"ticky": cls})
    sup.start()
    try:
        assert sup.wait_ready(5)
        wait_until(lambda: 2 in cls.ticks, 10, what=lambda: f"a tick from instance 2 (saw {cls.ticks})")
        wait_until(lambda: ctx.state.snapshot().worker("ticky").state == "ready", 5)
        view = ctx.state.snapshot().worker("ticky")
        assert view.restarts == 1
        assert cls.ticks.count(1) == 1  # the failing instance stopped ticking
    finally:
        sup.stop(5)
