"""Detection end to end on the local cluster: every swap of every followed wallet is seen exactly once.

The real Engine runs data, cache, analyzer, monitor and websocket workers against a SimCluster; the
executor is a recorder (nothing is traded). 20 synthetic traders make 200 swaps while the test watches
SwapDetected events, then compares them with the cluster's own /sim/v1/trades list. The chaos variant
drops every WebSocket every few seconds and answers 10% of RPC calls with 429.
"""

from __future__ import annotations

import threading
import time
import urllib.request

import orjson
import pytest

from engine.config import load_settings
from engine.facade import Engine
from engine.messages import SwapDetected
from engine.sim import SimCluster, SimConfig
from engine.worker import BaseWorker, handles
from engine.workers.analyzer import AnalyzerWorker
from engine.workers.cache import CacheWorker
from engine.workers.data import DataWorker
from engine.workers.monitor import MonitorWorker
from engine.workers.websocket import WebsocketWorker
from tests.helpers.waiting import engine_poll_round, poll_until, wait_until

pytestmark = pytest.mark.slow  # every test here starts a cluster, an engine or a subprocess

TRADERS = 20
SWAPS = 200


class RecordingExecutor(BaseWorker):
    """Stands in for the executor: remembers what it was sent, trades nothing."""

    name = "executor"
    received: list[SwapDetected] = []
    lock = threading.Lock()

    @handles(SwapDetected)
    def on_swap(self, msg: SwapDetected) -> None:
        with self.lock:
            type(self).received.append(msg)


def cluster_trades(cluster: SimCluster) -> list[dict]:
    url = cluster.market_url.replace("/sim/v1/market", "/sim/v1/trades")
    with urllib.request.urlopen(url, timeout=10) as response:  # 127.0.0.1 only
        return orjson.loads(response.read())


def make_swaps(cluster: SimCluster, count: int, spread_s: float) -> None:
    """count landed swaps by random traders, spaced over about spread_s seconds."""
    landed = 0
    pause = spread_s / count
    while landed < count:
        if cluster.market.random_trade() is not None:
            landed += 1
        time.sleep(pause)


def run_detection(zapbot_home, threaded: bool, chaos: dict[str, float]) -> None:
    RecordingExecutor.received = []
    cluster = SimCluster(
        SimConfig(rpc_port=0, ws_port=0, swap_port=0, traders=TRADERS, slot_ms=100, seed=11)
    ).start()
    settings = load_settings()
    settings.http.enabled = False
    settings.engine.threading_enabled = threaded
    settings.engine.heartbeat_interval_ms = 2000
    settings.engine.worker_restart_delay_ms = 200
    settings.engine.decode_processes = 1 if threaded else 0
    settings.engine.poll_interval_s = 3.0
    settings.engine.poll_interval_ws_down_s = 0.5
    settings.engine.subscriptions_per_connection = 8  # several connections even for 20 wallets
    settings.rpc.requests_per_second = 200
    classes = {
        "data": DataWorker,
        "cache": CacheWorker,
        "analyzer": AnalyzerWorker,
        "executor": RecordingExecutor,
        "monitor": MonitorWorker,
        "websocket": WebsocketWorker,
    }
    engine = Engine(settings, worker_classes=classes, cluster=cluster, http=False)
    detected: list[SwapDetected] = []
    lock = threading.Lock()

    def on_event(event: object) -> None:
        if isinstance(event, SwapDetected):
            with lock:
                detected.append(event)

    try:
        engine.start(wait_ready=20)
        engine.subscribe(on_event)
        wait_until(
            lambda: engine.snapshot().subscriptions == TRADERS,
            20,
            what=lambda: f"every trader subscribed (health {engine.snapshot().health})",
        )
        # the monitor takes the wallets in on its own thread, so its count may trail the subscriptions
        wait_until(lambda: engine.snapshot().monitored_wallets == TRADERS, 20, what="every trader monitored")
        cluster.set_chaos(**chaos)
        make_swaps(cluster, SWAPS, spread_s=8.0)
        trades = cluster_trades(cluster)
        expected = {t["signature"] for t in trades}
        assert len(trades) == SWAPS and len(expected) == SWAPS

        def all_seen() -> bool:
            with lock:
                return expected <= {e.leader_signature for e in detected}

        poll_until(all_seen, 40)  # the assertions below say what is missing
        engine_poll_round(engine, TRADERS)  # a late duplicate would have shown up by now
        with lock:
            events = list(detected)
        signatures = [e.leader_signature for e in events]
        missing = expected - set(signatures)
        assert not missing, f"{len(missing)} swaps never detected; counters {engine.snapshot().counters}"
        assert len(signatures) == len(set(signatures)), "a swap was detected twice"
        assert set(signatures) == expected
        assert len(events) == SWAPS
        by_signature = {t["signature"]: t for t in trades}
        wallets = dict(cluster.traders)
        for event in events:
            trade = by_signature[event.leader_signature]
            assert event.wallet == trade["wallet"]
            assert event.trader == trade["trader"] and wallets[event.trader] == event.wallet
            assert event.side == trade["side"]
            assert event.mint == trade["mint"]
            assert event.token_amount == trade["token_amount"]
        with RecordingExecutor.lock:
            assert sorted(e.leader_signature for e in RecordingExecutor.received) == sorted(signatures)
        snap = engine.snapshot()
        assert snap.counters.get("swaps_detected") == SWAPS
        assert snap.health.rpc_calls > 0
        if chaos.get("rpc_429_ratio"):
            assert snap.health.rpc_429s > 0
        if chaos.get("ws_drop_every_s"):
            assert snap.counters.get("ws_disconnects", 0) > 0
            assert snap.counters.get("seen_poll", 0) > 0, "polling never had to fill a websocket gap"
    finally:
        engine.stop()
        cluster.stop()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("threaded", [True, False], ids=["threads", "cooperative"])
def test_every_swap_detected_once(zapbot_home, threaded):
    run_detection(zapbot_home, threaded, {})


@pytest.mark.timeout(120)
def test_every_swap_detected_once_under_chaos(zapbot_home):
    run_detection(zapbot_home, True, {"ws_drop_every_s": 2.5, "rpc_429_ratio": 0.1})
