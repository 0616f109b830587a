"""Paper mode against a standalone local cluster: its swaps (venue "unknown") are copied, skipped as
"unknown venue" when limits.copy_unknown_venues is off, and transactions without swaps are reported."""

from __future__ import annotations

import threading

import pytest

from engine.config import Settings
from engine.context import Endpoints, EngineContext
from engine.messages import LogEvent, NewTransactions, SwapDetected, TradeSkipped
from engine.paths import HomePaths
from engine.sim import SimCluster, SimConfig
from engine.state import EngineState
from engine.supervisor import Supervisor
from engine.traders import TraderBook, TraderConfig
from engine.worker import BaseWorker, Inbox, handles
from engine.workers.analyzer import AnalyzerWorker
from engine.workers.data import DataWorker
from tests.helpers.waiting import wait_until


class ExecutorSink(BaseWorker):
    name = "executor"
    swaps: list = []
    lock = threading.Lock()

    @handles(SwapDetected)
    def on_swap(self, msg: SwapDetected) -> None:
        with self.lock:
            type(self).swaps.append(msg)


def executor_sink() -> type[ExecutorSink]:
    return type("ExecutorSink_", (ExecutorSink,), {"swaps": []})


@pytest.fixture(scope="module")
def cluster():
    c = SimCluster(SimConfig(rpc_port=0, ws_port=0, swap_port=0, traders=2, slot_ms=100, seed=5)).start()
    yield c
    c.stop()


def paper_ctx(tmp_path, cluster, *, copy_unknown: bool) -> EngineContext:
    name, wallet = cluster.traders[0]
    settings = Settings(mode="paper")
    settings.rpc.urls = [cluster.rpc_url]
    settings.engine.decode_processes = 0
    settings.engine.heartbeat_interval_ms = 1000
    settings.engine.shutdown_deadline_s = 5.0
    settings.rpc.requests_per_second = 500
    settings.limits.copy_unknown_venues = copy_unknown
    return EngineContext(
        settings=settings,
        paths=HomePaths(tmp_path).ensure(),
        state=EngineState("paper"),
        traders=TraderBook(None, [TraderConfig(name=name, wallet=wallet)]),
        endpoints=Endpoints([cluster.rpc_url], cluster.ws_url, None),
        supervisor_inbox=Inbox(100_000),
        db_path=tmp_path / "paper.db",
        cluster=None,
    )


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_paper_mode_copies_a_local_cluster_swap(tmp_path, cluster):
    name, wallet = cluster.traders[0]
    trade = cluster.trader_swap(name, "buy", cluster.mints[0], quote_lamports=10**8)
    ctx = paper_ctx(tmp_path, cluster, copy_unknown=True)
    executor = executor_sink()
    sup = Supervisor(ctx, {"data": DataWorker, "analyzer": AnalyzerWorker, "executor": executor})
    sup.start()
    try:
        assert sup.wait_ready(15)
        ctx.send("analyzer", NewTransactions(wallet, (trade.signature,), "poll"))
        wait_until(lambda: len(executor.swaps) == 1)
        assert executor.swaps[0].venue == "unknown" and executor.swaps[0].side == "buy"
    finally:
        sup.stop()


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_unknown_venue_is_a_skip_when_copy_unknown_venues_is_off(tmp_path, cluster):
    name, wallet = cluster.traders[0]
    trade = cluster.trader_swap(name, "buy", cluster.mints[1], quote_lamports=10**8)
    airdrop = cluster.airdrop(wallet, 10**9)  # touches the wallet, swaps nothing
    ctx = paper_ctx(tmp_path, cluster, copy_unknown=False)
    skips: list[TradeSkipped] = []
    logs: list[LogEvent] = []
    ctx.bus.subscribe(lambda e: skips.append(e) if isinstance(e, TradeSkipped) else None)
    ctx.bus.subscribe(lambda e: logs.append(e) if isinstance(e, LogEvent) else None)
    executor = executor_sink()
    sup = Supervisor(ctx, {"data": DataWorker, "analyzer": AnalyzerWorker, "executor": executor})
    sup.start()
    try:
        assert sup.wait_ready(15)
        ctx.send("analyzer", NewTransactions(wallet, (airdrop,), "poll"))
        wait_until(lambda: ctx.state.counters.get("transactions_without_swaps", 0) == 1)
        wait_until(lambda: any("no swap" in e.message for e in logs))
        wait_until(lambda: "no swaps found" in ctx.state.snapshot().worker("analyzer").detail)
        ctx.send("analyzer", NewTransactions(wallet, (trade.signature,), "poll"))
        wait_until(lambda: len(skips) == 1)
        assert skips[0].reason == "unknown venue" and skips[0].leader_signature == trade.signature
        assert executor.swaps == []
        assert sum("no swap" in e.message for e in logs) == 1
    finally:
        sup.stop()


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_an_unknown_venue_skip_is_recorded_once_across_a_restart(tmp_path, cluster):
    """The same leader signature fetched again after a restart (its cut-off had not moved yet) keeps its one
    skip: no second row, no second announcement."""
    from engine.store import connect

    name, wallet = cluster.traders[0]
    trade = cluster.trader_swap(name, "buy", cluster.mints[2], quote_lamports=10**8)
    announced: list[TradeSkipped] = []
    for run in range(2):
        ctx = paper_ctx(tmp_path, cluster, copy_unknown=False)  # the same database each run
        ctx.bus.subscribe(lambda e: announced.append(e) if isinstance(e, TradeSkipped) else None)
        sup = Supervisor(ctx, {"data": DataWorker, "analyzer": AnalyzerWorker, "executor": executor_sink()})
        sup.start()
        try:
            assert sup.wait_ready(15)
            ctx.send("analyzer", NewTransactions(wallet, (trade.signature,), "poll"))
            counter = "skips" if run == 0 else "skips_already_decided"
            counts = ctx.state.counters
            wait_until(lambda c=counts, k=counter: c.get(k, 0) == 1, what=lambda c=counts: dict(c))
            # Fetched and decoded again in the second run: the swap was seen, its record already there.
            assert ctx.state.counters.get("swaps_detected") == 1
        finally:
            sup.stop()
    conn = connect(tmp_path / "paper.db", readonly=True)
    try:
        rows = conn.execute(
            "SELECT reason FROM skips WHERE leader_signature=?", (trade.signature,)
        ).fetchall()
    finally:
        conn.close()
    assert [row["reason"] for row in rows] == ["unknown venue"]
    assert [e.reason for e in announced] == ["unknown venue"]


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_an_executor_skip_is_announced_once_across_a_restart(tmp_path, cluster):
    """The executor's own skips follow the analyzer's rule: a swap that has its record already (here "copy
    buys off", then after a restart the trader is no longer followed) gets no second row and no second
    announcement."""
    from engine.store import connect
    from engine.workers.executor import ExecutorWorker

    class RecordingExecutor(ExecutorWorker):
        received: list[SwapDetected] = []

        @handles(SwapDetected)
        async def on_swap(self, msg: SwapDetected) -> None:
            type(self).received.append(msg)
            await super().on_swap(msg)

    name, wallet = cluster.traders[1]
    trade = cluster.trader_swap(name, "buy", cluster.mints[0], quote_lamports=10**8)
    announced: list[TradeSkipped] = []
    for run in range(2):
        ctx = paper_ctx(tmp_path, cluster, copy_unknown=True)
        followed = [TraderConfig(name=name, wallet=wallet, copy_buys=False)] if run == 0 else []
        ctx.traders = TraderBook(None, followed)
        ctx.endpoints = Endpoints([cluster.rpc_url], cluster.ws_url, cluster.swap_api_url)
        ctx.bus.subscribe(lambda e: announced.append(e) if isinstance(e, TradeSkipped) else None)
        sup = Supervisor(ctx, {"data": DataWorker, "analyzer": AnalyzerWorker, "executor": RecordingExecutor})
        sup.start()
        try:
            assert sup.wait_ready(15)
            counts = ctx.state.counters
            if run == 0:
                ctx.send("analyzer", NewTransactions(wallet, (trade.signature,), "poll"))
                wait_until(lambda c=counts: c.get("skips", 0) == 1, what=lambda c=counts: dict(c))
            else:  # the same signal again, to an executor that no longer follows its trader
                ctx.send("executor", RecordingExecutor.received[0])
                wait_until(
                    lambda c=counts: c.get("skips_already_decided", 0) == 1, what=lambda c=counts: dict(c)
                )
        finally:
            sup.stop()
    conn = connect(tmp_path / "paper.db", readonly=True)
    try:
        rows = conn.execute(
            "SELECT reason FROM skips WHERE leader_signature=?", (trade.signature,)
        ).fetchall()
    finally:
        conn.close()
    assert [row["reason"] for row in rows] == ["copy buys off"]
    assert [e.reason for e in announced] == ["copy buys off"]
