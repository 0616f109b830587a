"""The supervisor: starts the seven workers, watches heartbeats, restarts with backoff, shuts down in order."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from engine.context import EngineContext
from engine.heartbeat import Silence, check_period, credited, silence_deadline
from engine.inbox import Inbox
from engine.messages import (
    LogEvent,
    Ping,
    Pong,
    Shutdown,
    StopAcceptingTasks,
    WorkerError,
    WorkerExited,
    WorkerReady,
    WorkerRestarted,
    WorkerStatus,
)
from engine.worker import BaseWorker

log = logging.getLogger("zapbot.supervisor")

START_ORDER = ("data", "cache", "analyzer", "executor", "monitor", "websocket", "telegram")
SHUTDOWN_ORDER = ("telegram", "websocket", "monitor", "analyzer", "cache", "executor", "data")


@dataclass
class _Slot:
    name: str
    cls: type[BaseWorker]
    inbox: Inbox
    instance: int = 0
    worker: BaseWorker | None = None
    thread: threading.Thread | None = None
    task: asyncio.Task | None = None
    main_task: asyncio.Task | None = None  # the worker's run() task inside its own loop
    state: str = "initializing"
    restarts: int = 0
    restart_times: deque = field(default_factory=lambda: deque(maxlen=64))
    silence: Silence | None = None  # the current instance's silence, from its own beats (engine/heartbeat.py)
    restart_at: float | None = None
    last_error: str = ""
    exited: bool = False
    retired_instance: int = -1
    requeued: Any = None  # the last message handed over from a hung instance


class Supervisor:
    """Owns worker lifecycles. Threaded: one thread per worker plus its own. Cooperative: one loop for all."""

    def __init__(self, ctx: EngineContext, classes: dict[str, type[BaseWorker]]) -> None:
        self.ctx = ctx
        engine = ctx.settings.engine
        self.threaded = engine.threading_enabled
        self.heartbeat_s = engine.heartbeat_interval_ms / 1000.0
        self.restart_delay_s = engine.worker_restart_delay_ms / 1000.0
        self.restart_budget = engine.restart_budget
        self.restart_window_s = engine.restart_window_s
        self.slots: dict[str, _Slot] = {}
        for name in START_ORDER:
            if name in classes:
                inbox = Inbox(engine.max_queue_size)
                ctx.inboxes[name] = inbox
                self.slots[name] = _Slot(name, classes[name], inbox)
        for name in classes:
            if name not in self.slots:
                inbox = Inbox(engine.max_queue_size)
                ctx.inboxes[name] = inbox
                self.slots[name] = _Slot(name, classes[name], inbox)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self._started = threading.Event()
        self._done = threading.Event()
        self._stopping = False
        self._shutdown_requested: asyncio.Event | None = None
        self.ctx.state.queue_depth_fn = self.ctx.queue_depths

    # -- public, any thread ----------------------------------------------------------------
    def start(self) -> None:
        self.thread = threading.Thread(target=self._thread_main, name="zapbot-supervisor", daemon=True)
        self.thread.start()
        self._started.wait(10)

    def wait_ready(self, timeout: float = 10.0) -> bool:
        """Wait until no worker is still initializing (ready, disabled or otherwise settled)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = {slot.state for slot in self.slots.values()}
            if "initializing" not in states and "restarting" not in states:
                return True
            time.sleep(0.02)
        return False

    def stop(self, deadline_s: float | None = None) -> bool:
        """Ordered shutdown; returns True if everything stopped within the deadline."""
        deadline_s = deadline_s or self.ctx.settings.engine.shutdown_deadline_s
        if self.loop is None or self.thread is None:
            return True
        started = time.monotonic()
        try:
            self.loop.call_soon_threadsafe(self._request_shutdown, deadline_s)
        except RuntimeError:
            return True
        self._done.wait(deadline_s + 1.0)
        self.thread.join(max(0.0, deadline_s + 1.0 - (time.monotonic() - started)))
        return self._done.is_set()

    # -- the supervisor's own loop ---------------------------------------------------------------
    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        finally:
            self._done.set()

    def _request_shutdown(self, deadline_s: float) -> None:
        self._deadline_s = deadline_s
        assert self._shutdown_requested is not None
        self._shutdown_requested.set()

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.ctx.supervisor_inbox.bind(self.loop)
        self._shutdown_requested = asyncio.Event()
        for slot in self.slots.values():
            self._launch(slot)
        self._started.set()
        reader = asyncio.ensure_future(self._read_loop())
        beat = asyncio.ensure_future(self._heartbeat_loop())
        await self._shutdown_requested.wait()
        await self._shutdown(self._deadline_s)
        beat.cancel()
        reader.cancel()

    # -- launching --------------------------------------------------------------------------
    def _launch(self, slot: _Slot) -> None:
        slot.instance += 1
        slot.exited = False
        worker = slot.cls(self.ctx, slot.inbox, slot.instance)
        slot.worker = worker
        slot.silence = Silence(worker.beat_at)
        self._set_state(slot, "initializing" if slot.restarts == 0 else "restarting")
        if self.threaded:
            thread = threading.Thread(
                target=self._worker_thread, args=(slot, worker), name=f"zapbot-{slot.name}", daemon=True
            )
            slot.thread = thread
            thread.start()
        else:
            slot.task = asyncio.ensure_future(self._worker_task(slot, worker))

    def _worker_thread(self, slot: _Slot, worker: BaseWorker) -> None:
        clean = False
        try:
            clean = asyncio.run(self._run_worker(slot, worker))
        except BaseException as exc:  # noqa: BLE001 - report everything, including cancellation
            log.error("%s crashed outside its handlers: %r", slot.name, exc)
        finally:
            self.ctx.supervisor_inbox.put(WorkerExited(slot.name, worker.instance, clean), force=True)

    async def _worker_task(self, slot: _Slot, worker: BaseWorker) -> None:
        clean = False
        try:
            clean = await self._run_worker(slot, worker)
        except asyncio.CancelledError:
            clean = False
        except Exception as exc:
            log.error("%s crashed outside its handlers: %r", slot.name, exc)
        finally:
            self.ctx.supervisor_inbox.put(WorkerExited(slot.name, worker.instance, clean), force=True)

    async def _run_worker(self, slot: _Slot, worker: BaseWorker) -> bool:
        task = asyncio.current_task()
        slot.main_task = task
        try:
            return await worker.run()
        except asyncio.CancelledError:
            return False

    # -- message handling --------------------------------------------------------------------
    async def _read_loop(self) -> None:
        inbox = self.ctx.supervisor_inbox
        while True:
            msg = await inbox.get()
            try:
                self._handle(msg)
            except Exception:
                log.exception("supervisor failed handling %r", msg)

    def _current(self, name: str, instance: int) -> _Slot | None:
        slot = self.slots.get(name)
        if slot is None or slot.instance != instance or slot.retired_instance == instance:
            return None  # a message from a retired instance
        return slot

    def _handle(self, msg: Any) -> None:
        if isinstance(msg, Pong):
            return  # an answer to a PING someone sent by hand; liveness comes from each worker's own beat
        elif isinstance(msg, WorkerReady):
            slot = self._current(msg.worker, msg.instance)
            # A worker that said during setup that it is still busy (e.g. Telegram connecting) says
            # "ready" itself when it is; READY only means it takes messages.
            if slot and slot.state not in {"disabled", "degraded", "busy"}:
                self._set_state(slot, "ready")
        elif isinstance(msg, WorkerStatus):
            slot = self._current(msg.worker, msg.instance)
            if slot:
                self._set_state(slot, msg.state, msg.detail)
        elif isinstance(msg, WorkerError):
            slot = self._current(msg.worker, msg.instance)
            if slot:
                slot.last_error = msg.error
                self._record_error(slot.name, msg.error)
                if msg.fatal:
                    self._set_state(slot, "failed", msg.error)
        elif isinstance(msg, WorkerExited):
            slot = self._current(msg.worker, msg.instance)
            if slot is None:
                return
            slot.exited = True
            if self._stopping:
                self._set_state(slot, "stopped")
                return
            reason = slot.last_error or ("exited" if msg.clean else "crashed")
            self._schedule_restart(slot, reason)

    def _record_error(self, worker: str, message: str) -> None:
        self.ctx.publish(LogEvent("error", worker, message))
        if worker != "data" and "data" in self.ctx.inboxes:
            self.ctx.store.record_error(worker, message)

    def _set_state(self, slot: _Slot, state: str, detail: str = "") -> None:
        slot.state = state
        self.ctx.state.set_worker(
            slot.name,
            state=state,
            detail=detail,
            restarts=slot.restarts,
            instance=slot.instance,
        )

    def _schedule_restart(self, slot: _Slot, reason: str) -> None:
        now = time.monotonic()
        while slot.restart_times and now - slot.restart_times[0] > self.restart_window_s:
            slot.restart_times.popleft()
        if len(slot.restart_times) >= self.restart_budget:
            self._set_state(
                slot, "degraded", f"restart budget exhausted ({self.restart_budget}); last: {reason}"
            )
            self.ctx.publish(WorkerRestarted(slot.name, slot.restarts, reason, gave_up=True))
            return
        delay = self.restart_delay_s * (2 ** len(slot.restart_times))
        slot.restart_at = now + delay
        self._set_state(slot, "failed", reason)
        assert self.loop is not None
        self.loop.call_later(delay, self._restart, slot, slot.instance, reason)

    def _restart(self, slot: _Slot, instance: int, reason: str) -> None:
        if self._stopping or slot.instance != instance:
            return
        slot.restarts += 1
        slot.restart_times.append(time.monotonic())
        slot.restart_at = None
        slot.last_error = ""
        log.warning("restarting %s (restart %d): %s", slot.name, slot.restarts, reason)
        self.ctx.publish(WorkerRestarted(slot.name, slot.restarts, reason))
        self._launch(slot)

    # -- heartbeats ---------------------------------------------------------------------------
    async def _heartbeat_loop(self) -> None:
        """Read every worker's own beat each check: the age the console shows, and the silence that retires a
        worker (engine/heartbeat.py: a late check is not counted against the workers)."""
        period = check_period(self.heartbeat_s)
        deadline = silence_deadline(self.heartbeat_s)
        last = time.monotonic()
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            credit, last = credited(now - last, period), now
            for slot in self.slots.values():
                worker, silence = slot.worker, slot.silence
                if worker is None or silence is None or slot.exited:
                    continue
                beat_at = worker.beat_at
                self.ctx.state.set_worker(
                    slot.name,
                    last_heartbeat_age_s=round(max(0.0, now - beat_at), 3),
                    messages_handled=slot.inbox.handled,
                )
                if slot.state in {"failed", "degraded", "stopped"}:
                    continue
                if silence.observe(beat_at, credit) > deadline:
                    self._abandon(slot, silence.silent_s)

    def _abandon(self, slot: _Slot, silent_s: float) -> None:
        """The worker stopped beating: retire this instance and start another on the same inbox."""
        worker = slot.worker
        reason = f"no heartbeat for {silent_s:.1f}s"
        log.error("%s stopped beating (blocked or stuck on one message); restarting", slot.name)
        self._record_error(slot.name, reason)
        if worker is not None:
            worker.retired = True
            unfinished = worker.current
            if (
                unfinished is not None
                and not isinstance(unfinished, (Ping, Shutdown))
                and slot.requeued is not unfinished
            ):
                # Hand the message it was stuck on to the next instance, once; handlers are idempotent (the
                # executor's intents are keyed by leader signature), so a retry cannot double a trade. A message
                # that hangs a second instance too is dropped and recorded rather than hanging them all.
                worker.current = None
                slot.requeued = unfinished
                slot.inbox.put_front(unfinished)
            elif unfinished is not None and slot.requeued is unfinished:
                self._record_error(
                    slot.name, f"dropped {type(unfinished).__name__} after it hung two instances"
                )
            task = slot.main_task
            if task is not None and worker.loop is not None:
                try:
                    worker.loop.call_soon_threadsafe(task.cancel)
                except RuntimeError:
                    pass
        slot.exited = True
        slot.silence = None
        slot.retired_instance = slot.instance  # ignore whatever the hung instance says from now on
        self._schedule_restart(slot, reason)

    # -- shutdown ---------------------------------------------------------------------------
    async def _shutdown(self, deadline_s: float) -> None:
        self._stopping = True
        deadline = time.monotonic() + deadline_s
        for slot in self.slots.values():
            slot.inbox.put(StopAcceptingTasks(), force=True)
        executor = self.slots.get("executor")
        # Drain: the executor finishes trades in flight, within most of the deadline.
        while executor is not None and executor.worker is not None and time.monotonic() < deadline - 1.0:
            if executor.exited or executor.worker.in_flight() == 0:
                break
            await asyncio.sleep(0.05)
        for name in SHUTDOWN_ORDER + tuple(n for n in self.slots if n not in SHUTDOWN_ORDER):
            slot = self.slots.get(name)
            if slot is None:
                continue
            if not slot.exited:
                slot.inbox.put(Shutdown(), force=True)
            await self._wait_exit(slot, min(deadline, time.monotonic() + max(0.5, deadline_s / 4)))
            if not slot.exited and slot.worker is not None:
                # It did not stop in time; cancel it so the deadline holds.
                slot.worker.retired = True
                task = slot.main_task
                if task is not None and slot.worker.loop is not None:
                    try:
                        slot.worker.loop.call_soon_threadsafe(task.cancel)
                    except RuntimeError:
                        pass
            self._set_state(slot, "stopped")

    async def _wait_exit(self, slot: _Slot, until: float) -> None:
        while time.monotonic() < until:
            if slot.exited:
                return
            if self.threaded and slot.thread is not None and not slot.thread.is_alive():
                slot.exited = True
                return
            if not self.threaded and slot.task is not None and slot.task.done():
                slot.exited = True
                return
            msg = self.ctx.supervisor_inbox.get_nowait()
            while msg is not None:
                self._handle(msg)
                msg = self.ctx.supervisor_inbox.get_nowait()
            await asyncio.sleep(0.01)
