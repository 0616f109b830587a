"""The websocket worker under a real Supervisor in the full-transaction stream modes, on the local cluster:
Helius's transactionSubscribe packs 10,000 wallets into one subscription, grows by one subscription per
added batch, keeps a subscription while it covers a followed wallet and repacks on reconnect; blockSubscribe
holds one subscription per wallet; both hand the analyzer full transactions."""

from __future__ import annotations

import asyncio
import threading

import pytest
from solders.pubkey import Pubkey

from engine.config import Settings
from engine.context import Endpoints, EngineContext
from engine.decoding import decode_raw
from engine.messages import CoverageChanged, NewTransactions, StartMonitoring, StopMonitoring
from engine.paths import HomePaths
from engine.sim import SimCluster, SimConfig
from engine.state import EngineState
from engine.supervisor import Supervisor
from engine.traders import TraderBook
from engine.worker import BaseWorker, Inbox, handles
from engine.workers.websocket import WebsocketWorker
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.slow


class Sink(BaseWorker):
    """Collects what is sent to it (stands in for the analyzer or the monitor)."""

    messages: list = []
    lock = threading.Lock()

    @handles(NewTransactions, CoverageChanged)
    def on_any(self, msg) -> None:
        with self.lock:
            type(self).messages.append(msg)


def sink(name: str) -> type[Sink]:
    return type(f"Sink_{name}", (Sink,), {"name": name, "messages": []})


def make_ctx(tmp_path, cluster: SimCluster, stream: str) -> EngineContext:
    settings = Settings()
    settings.engine.heartbeat_interval_ms = 1000
    settings.engine.worker_restart_delay_ms = 200
    settings.engine.shutdown_deadline_s = 5.0
    settings.rpc.stream = stream
    return EngineContext(
        settings=settings,
        paths=HomePaths(tmp_path).ensure(),
        state=EngineState("sim"),
        traders=TraderBook(None, []),
        endpoints=Endpoints([cluster.rpc_url], cluster.ws_url, None),
        supervisor_inbox=Inbox(100_000),
        db_path=tmp_path / "t.db",
        cluster=cluster,
    )


@pytest.fixture
def cluster():
    c = SimCluster(SimConfig(rpc_port=0, ws_port=0, swap_port=0, traders=2, slot_ms=100, seed=5)).start()
    yield c
    c.stop()


def streamed(analyzer: type[Sink], signature: str) -> NewTransactions | None:
    with analyzer.lock:
        return next((m for m in analyzer.messages if signature in m.signatures), None)


@pytest.mark.timeout(120)
def test_helius_packs_wallets_into_one_subscription(tmp_path, cluster):
    leader_name, leader = cluster.traders[0]
    wallets = (leader, *(str(Pubkey.new_unique()) for _ in range(9_999)))
    ctx = make_ctx(tmp_path, cluster, "helius")
    analyzer, monitor = sink("analyzer"), sink("monitor")
    sup = Supervisor(ctx, {"websocket": WebsocketWorker, "monitor": monitor, "analyzer": analyzer})
    sup.start()
    try:
        assert sup.wait_ready(10)
        ctx.send("websocket", StartMonitoring(wallets), force=True)
        wait_until(lambda: ctx.state.subscriptions == 10_000, 60, what=lambda: ctx.state.health)
        assert cluster.pubsub.request_counts["transactionSubscribe"] == 1
        assert cluster.pubsub.subscription_count() == 1 and len(cluster.pubsub.connections) == 1
        assert "10000 wallets in 1 transactionSubscribe" in ctx.state.snapshot().health.ws_detail

        trade = cluster.trader_swap(leader_name, "buy", cluster.mints[0], quote_lamports=10**8)
        wait_until(lambda: streamed(analyzer, trade.signature) is not None)
        message = streamed(analyzer, trade.signature)
        assert message.wallet == leader and message.source == "ws" and message.slots == (trade.slot,)
        (raw,) = message.transactions
        (event,) = decode_raw(raw, leader, allow_unknown_venue=True).swaps
        assert event.token_amount == trade.token_amount

        # One wallet added on the live socket: one more subscription, for it alone.
        _, other = cluster.traders[1]
        ctx.send("websocket", StartMonitoring((other,)), force=True)
        wait_until(lambda: ctx.state.subscriptions == 10_001)
        assert cluster.pubsub.request_counts["transactionSubscribe"] == 2
        # Stopping most wallets keeps the subscription that still covers the leader...
        ctx.send("websocket", StopMonitoring(wallets[1:]), force=True)
        wait_until(lambda: ctx.state.subscriptions == 2)
        assert cluster.pubsub.subscription_count() == 2
        # ...and the last one of it unsubscribes it.
        ctx.send("websocket", StopMonitoring((other,)), force=True)
        wait_until(lambda: cluster.pubsub.subscription_count() == 1)
        assert cluster.pubsub.request_counts["transactionUnsubscribe"] == 1

        # A reconnect packs what is followed into as few subscriptions as possible, and reports the gap.
        ctx.send("websocket", StartMonitoring((other,)), force=True)
        wait_until(lambda: ctx.state.subscriptions == 2)
        before = cluster.pubsub.request_counts["transactionSubscribe"]
        asyncio.run_coroutine_threadsafe(cluster.pubsub.close_all(), cluster._loop).result(5)
        wait_until(lambda: cluster.pubsub.request_counts["transactionSubscribe"] == before + 1)
        wait_until(lambda: cluster.pubsub.subscription_count() == 1 and ctx.state.subscriptions == 2)
        wait_until(
            lambda: any(
                isinstance(m, CoverageChanged) and m.gap and other in m.wallets for m in monitor.messages
            )
        )
    finally:
        sup.stop()


@pytest.mark.timeout(60)
def test_block_holds_one_subscription_per_wallet(tmp_path, cluster):
    wallets = tuple(wallet for _, wallet in cluster.traders)
    ctx = make_ctx(tmp_path, cluster, "block")
    analyzer = sink("analyzer")
    sup = Supervisor(ctx, {"websocket": WebsocketWorker, "monitor": sink("monitor"), "analyzer": analyzer})
    sup.start()
    try:
        assert sup.wait_ready(10)
        ctx.send("websocket", StartMonitoring(wallets), force=True)
        wait_until(lambda: ctx.state.subscriptions == len(wallets))
        assert cluster.pubsub.request_counts["blockSubscribe"] == len(wallets)
        assert "(blockSubscribe)" in ctx.state.snapshot().health.ws_detail
        trades = [
            cluster.trader_swap(name, "buy", cluster.mints[0], quote_lamports=10**8)
            for name, _ in cluster.traders
        ]
        for trade in trades:
            wait_until(lambda trade=trade: streamed(analyzer, trade.signature) is not None)
            message = streamed(analyzer, trade.signature)
            assert message.wallet == trade.wallet and len(message.transactions) == len(message.signatures)
        ctx.send("websocket", StopMonitoring(wallets[:1]), force=True)
        wait_until(lambda: cluster.pubsub.subscription_count() == len(wallets) - 1)
        assert cluster.pubsub.request_counts["blockUnsubscribe"] == 1
        assert cluster.rpc.counts().get("getTransaction", 0) == 0
    finally:
        sup.stop()
