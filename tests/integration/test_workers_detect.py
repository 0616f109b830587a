"""Detection workers one at a time under a real Supervisor: websocket scale and unsubscribe, analyzer dedup
and bad transactions, the monitor's cut-offs, the cache handle, and the pubsub wire helpers."""

from __future__ import annotations

import asyncio
import threading
import time

import orjson
import pytest
from aiohttp import web
from solders.pubkey import Pubkey

from engine.caches import ChainCache, SeenSignatures, TtlCache
from engine.chain.pubsub import logs_subscribe_request, parse_logs_notification, subscription_reply
from engine.config import Settings
from engine.context import Endpoints, EngineContext
from engine.messages import CoverageChanged, NewTransactions, StartMonitoring, StopMonitoring, SwapDetected
from engine.paths import HomePaths
from engine.sim import SimCluster, SimConfig
from engine.state import EngineState
from engine.supervisor import Supervisor
from engine.traders import TraderBook, TraderConfig
from engine.worker import BaseWorker, Inbox, handles
from engine.workers.analyzer import AnalyzerWorker
from engine.workers.cache import CacheWorker
from engine.workers.monitor import MonitorWorker
from engine.workers.websocket import WebsocketWorker
from tests.helpers.waiting import wait_poll_round, wait_until


class Sink(BaseWorker):
    """Collects whatever is sent to it (stands in for executor or analyzer)."""

    messages: list = []
    lock = threading.Lock()

    @handles(SwapDetected, NewTransactions, CoverageChanged)
    def on_any(self, msg) -> None:
        with self.lock:
            type(self).messages.append(msg)


def sink(name: str) -> type[Sink]:
    return type(f"Sink_{name}", (Sink,), {"name": name, "messages": []})


def make_ctx(
    tmp_path, endpoints: Endpoints, *, threaded: bool = True, traders=(), cluster=None
) -> EngineContext:
    settings = Settings()
    settings.engine.threading_enabled = threaded
    settings.engine.heartbeat_interval_ms = 1000
    settings.engine.worker_restart_delay_ms = 200
    settings.engine.shutdown_deadline_s = 5.0
    settings.engine.decode_processes = 0
    settings.engine.poll_interval_s = 0.5
    settings.engine.poll_interval_ws_down_s = 0.2
    settings.rpc.requests_per_second = 500
    return EngineContext(
        settings=settings,
        paths=HomePaths(tmp_path).ensure(),
        state=EngineState("sim"),
        traders=TraderBook(None, list(traders)),
        endpoints=endpoints,
        supervisor_inbox=Inbox(100_000),
        db_path=tmp_path / "t.db",
        cluster=cluster,
    )


@pytest.fixture
def cluster():
    c = SimCluster(SimConfig(rpc_port=0, ws_port=0, swap_port=0, traders=2, slot_ms=100, seed=3)).start()
    yield c
    c.stop()


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_websocket_subscribes_ten_thousand_wallets_and_unsubscribes(tmp_path, cluster):
    wallets = tuple(str(Pubkey.new_unique()) for _ in range(10_000))
    ctx = make_ctx(tmp_path, Endpoints([cluster.rpc_url], cluster.ws_url, None))
    sup = Supervisor(ctx, {"websocket": WebsocketWorker, "monitor": sink("monitor")})
    sup.start()
    try:
        assert sup.wait_ready(10)
        ctx.send("websocket", StartMonitoring(wallets), force=True)
        wait_until(
            lambda: ctx.state.subscriptions == 10_000,
            60,
            what=lambda: f"10,000 subscriptions (health {ctx.state.health})",
        )
        assert cluster.pubsub.subscription_count() == 10_000
        # 1,000 per connection by default: ten sockets.
        assert len(cluster.pubsub.connections) == 10
        assert ctx.state.snapshot().health.ws_ok
        ctx.send("websocket", StopMonitoring(wallets[:4_000]), force=True)
        wait_until(lambda: cluster.pubsub.subscription_count() == 6_000, 30)
        wait_until(lambda: ctx.state.subscriptions == 6_000)
    finally:
        sup.stop()


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_websocket_resubscribes_and_reports_the_gap(tmp_path, cluster):
    wallet = cluster.traders[0][1]
    ctx = make_ctx(tmp_path, Endpoints([cluster.rpc_url], cluster.ws_url, None))
    analyzer, monitor = sink("analyzer"), sink("monitor")
    sup = Supervisor(ctx, {"websocket": WebsocketWorker, "monitor": monitor, "analyzer": analyzer})
    sup.start()
    try:
        assert sup.wait_ready(10)
        ctx.send("websocket", StartMonitoring((wallet,)), force=True)
        wait_until(lambda: ctx.state.subscriptions == 1)
        first = cluster.trader_swap(cluster.traders[0][0], "buy", cluster.mints[0], quote_lamports=10**8)
        wait_until(lambda: any(first.signature in m.signatures for m in analyzer.messages))
        assert not any(
            isinstance(m, CoverageChanged) and m.gap for m in monitor.messages
        )  # the first connect is no gap
        asyncio.run_coroutine_threadsafe(cluster.pubsub.close_all(), cluster._loop).result(5)
        wait_until(
            lambda: any(
                isinstance(m, CoverageChanged) and m.gap and wallet in m.wallets for m in monitor.messages
            )
        )
        wait_until(lambda: cluster.pubsub.subscription_count() == 1)
        second = cluster.trader_swap(cluster.traders[0][0], "sell", cluster.mints[0], token_fraction=0.5)
        wait_until(lambda: any(second.signature in m.signatures for m in analyzer.messages))
        note = next(m for m in analyzer.messages if second.signature in m.signatures)
        assert note.source == "ws" and note.wallet == wallet
        assert ctx.state.counters.get("ws_disconnects", 0) >= 1
    finally:
        sup.stop()


@pytest.mark.slow
@pytest.mark.timeout(60)
@pytest.mark.parametrize("threaded", [True, False], ids=["threads", "cooperative"])
def test_analyzer_dedups_and_skips_non_swaps(tmp_path, cluster, threaded):
    name, wallet = cluster.traders[0]
    trade = cluster.trader_swap(name, "buy", cluster.mints[1], quote_lamports=2 * 10**8)
    airdrop = cluster.airdrop(wallet, 10**9)  # touches the wallet, swaps nothing
    ctx = make_ctx(
        tmp_path,
        Endpoints([cluster.rpc_url], cluster.ws_url, None),
        threaded=threaded,
        traders=[TraderConfig(name=name, wallet=wallet)],
        cluster=cluster,
    )
    executor = sink("executor")
    sup = Supervisor(ctx, {"analyzer": AnalyzerWorker, "executor": executor})
    sup.start()
    try:
        assert sup.wait_ready(15)
        ctx.send("analyzer", NewTransactions(wallet, (trade.signature,), "ws"))
        ctx.send("analyzer", NewTransactions(wallet, (airdrop, trade.signature), "poll"))
        counters = ctx.state.counters
        # Every one of the three sightings is accounted for (two analysed, one a duplicate) and every swap
        # the analyzer detected has reached the executor: nothing more is coming.
        wait_until(
            lambda: (
                counters.get("transactions_analyzed", 0) == 2
                and counters.get("duplicates_skipped", 0) == 1
                and len([m for m in executor.messages if isinstance(m, SwapDetected)])
                >= counters.get("swaps_detected", 0)
            ),
            what=lambda: f"both transactions analysed and delivered (counters {dict(counters)})",
        )
        swaps = [m for m in executor.messages if isinstance(m, SwapDetected)]
        assert len(swaps) == 1
        swap = swaps[0]
        assert (swap.leader_signature, swap.trader, swap.side, swap.mint) == (
            trade.signature,
            name,
            "buy",
            cluster.mints[1],
        )
        assert swap.token_amount == trade.token_amount and swap.source == "ws"
        assert ctx.state.counters["duplicates_skipped"] == 1
        assert ctx.cache.get_decimals(cluster.mints[1]) == swap.token_decimals
    finally:
        sup.stop()


class _JunkRpc:
    """getTransaction answers: junk for one signature, a real sim transaction for the other."""

    def __init__(self, good_raw: bytes) -> None:
        self.good_raw = good_raw

    async def handle(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        signature = body["params"][0]
        if signature == "junk":
            return web.json_response(
                {"jsonrpc": "2.0", "id": body["id"], "result": {"meta": 7, "transaction": []}}
            )
        return web.Response(body=self.good_raw, content_type="application/json")


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_analyzer_survives_a_bad_transaction(tmp_path, cluster):
    name, wallet = cluster.traders[1]
    trade = cluster.trader_swap(name, "buy", cluster.mints[0], quote_lamports=10**8)

    async def fetch_good() -> bytes:
        from engine.chain.rpc import RpcPool

        async with RpcPool([cluster.rpc_url]) as pool:
            raw = await pool.get_transaction_raw(trade.signature)
            assert raw is not None
            return raw

    junk = _JunkRpc(asyncio.run(fetch_good()))
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(web.Application())
    runner.app.router.add_post("/", junk.handle)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    ctx = make_ctx(
        tmp_path,
        Endpoints([f"http://127.0.0.1:{port}/"], None, None),
        traders=[TraderConfig(name=name, wallet=wallet)],
        cluster=cluster,
    )
    executor = sink("executor")
    sup = Supervisor(ctx, {"analyzer": AnalyzerWorker, "executor": executor})
    sup.start()
    try:
        assert sup.wait_ready(15)
        ctx.send("analyzer", NewTransactions(wallet, ("junk", trade.signature), "poll"))
        wait_until(lambda: any(isinstance(m, SwapDetected) for m in executor.messages))
        assert ctx.state.counters.get("decode_errors") == 1
        assert ctx.state.snapshot().worker("analyzer").restarts == 0
    finally:
        sup.stop()
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_monitor_polls_from_its_cutoff_and_stops(tmp_path, cluster):
    name, wallet = cluster.traders[0]
    before = cluster.trader_swap(name, "buy", cluster.mints[0], quote_lamports=10**8)
    ctx = make_ctx(
        tmp_path, Endpoints([cluster.rpc_url], None, None), traders=[TraderConfig(name=name, wallet=wallet)]
    )
    analyzer = sink("analyzer")
    sup = Supervisor(ctx, {"monitor": MonitorWorker, "analyzer": analyzer})
    sup.start()
    try:
        assert sup.wait_ready(10)
        ctx.send("monitor", StartMonitoring((wallet,), (before.signature,)), force=True)
        wait_until(lambda: ctx.state.monitored_wallets == 1)
        trades = [cluster.trader_swap(name, "buy", cluster.mints[0], quote_lamports=10**8) for _ in range(3)]
        expected = [t.signature for t in trades]
        wait_until(
            lambda: [s for m in analyzer.messages for s in m.signatures] == expected,
            what=lambda: f"the three signatures in order (saw {analyzer.messages})",
        )
        assert all(m.source == "poll" for m in analyzer.messages)
        ctx.send("monitor", StopMonitoring((wallet,)), force=True)
        wait_until(lambda: ctx.state.monitored_wallets == 0)
        # A wallet that never trades stays followed, so the polls counter proves the monitor kept polling.
        _, control = cluster.traders[1]
        ctx.send("monitor", StartMonitoring((control,), (None,)), force=True)
        polls = lambda: ctx.state.counters.get("polls", 0)  # noqa: E731
        wait_until(lambda: ctx.state.monitored_wallets == 1, what="the control wallet followed")
        wait_poll_round(polls, 1, lambda: True)  # any poll of the stopped wallet in flight is over
        count = len(analyzer.messages)
        cluster.trader_swap(name, "buy", cluster.mints[0], quote_lamports=10**8)
        wait_poll_round(polls, 2, lambda: not any(ctx.state.snapshot().queues.values()))  # two poll rounds
        assert len(analyzer.messages) == count
    finally:
        sup.stop()


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_monitor_backfills_a_gap_and_polls_fast_while_uncovered(tmp_path, cluster):
    """CoverageChanged, the websocket's one message to the monitor: a gap is polled at once, an uncovered
    wallet fast; with a 60 s poll interval, only those make the swaps below arrive in time."""
    name, wallet = cluster.traders[0]
    before = cluster.trader_swap(name, "buy", cluster.mints[0], quote_lamports=10**8)
    ctx = make_ctx(
        tmp_path, Endpoints([cluster.rpc_url], None, None), traders=[TraderConfig(name=name, wallet=wallet)]
    )
    ctx.settings.engine.poll_interval_s = 60.0
    ctx.state.set_health(ws_ok=True)  # as the websocket keeps it while every socket is up
    analyzer = sink("analyzer")
    sup = Supervisor(ctx, {"monitor": MonitorWorker, "analyzer": analyzer})
    sup.start()
    try:
        assert sup.wait_ready(10)
        monitor = sup.slots["monitor"].worker
        ctx.send("monitor", StartMonitoring((wallet,), (before.signature,)), force=True)
        ctx.send("monitor", CoverageChanged((wallet,), True, None), force=True)

        def slow_poll_scheduled() -> bool:
            state = monitor.wallets.get(wallet)
            return state is not None and not state.polling and state.due - time.monotonic() > 30

        def delivered(signature: str) -> bool:
            return any(signature in m.signatures and m.source == "poll" for m in analyzer.messages)

        wait_until(slow_poll_scheduled)
        missed = cluster.trader_swap(name, "buy", cluster.mints[0], quote_lamports=10**8)
        ctx.send("monitor", CoverageChanged((wallet,), True, time.time() - 1.0), force=True)  # a gap
        wait_until(lambda: delivered(missed.signature))
        assert ctx.state.counters.get("gaps_detected") == 1

        wait_until(slow_poll_scheduled)
        ctx.send("monitor", CoverageChanged((wallet,), False, time.time()), force=True)
        for _ in range(2):  # the first poll comes soon, and the next ones keep the fast interval
            trade = cluster.trader_swap(name, "buy", cluster.mints[0], quote_lamports=10**8)
            wait_until(lambda trade=trade: delivered(trade.signature))
        assert not slow_poll_scheduled()
    finally:
        sup.stop()


@pytest.mark.slow
@pytest.mark.timeout(30)
def test_cache_worker_keeps_a_blockhash(tmp_path, cluster):
    ctx = make_ctx(tmp_path, Endpoints([cluster.rpc_url], None, None))
    sup = Supervisor(ctx, {"cache": CacheWorker})
    sup.start()
    try:
        assert sup.wait_ready(10)
        wait_until(lambda: ctx.cache.latest_blockhash() is not None)
        blockhash, height = ctx.cache.latest_blockhash()
        assert len(blockhash) >= 32 and height > 0
        assert ctx.state.snapshot().health.slot is not None
    finally:
        sup.stop()


def test_caches_are_bounded():
    cache = TtlCache(3, ttl_s=60)
    for i in range(10):
        cache.put(i, i)
    assert len(cache) == 3 and cache.get(0) is None and cache.get(9) == 9
    cache.put("short", 1, ttl_s=-1)
    assert cache.get("short") is None
    chain = ChainCache()
    assert chain.latest_blockhash() is None
    chain.set_blockhash("abc", 10)
    assert chain.latest_blockhash() == ("abc", 10)
    assert chain.latest_blockhash(max_age_s=-1) is None
    seen = SeenSignatures(capacity=2)
    assert seen.add("a", "w") and not seen.add("a", "w")
    assert seen.add("b", "w") and seen.add("c", "w")
    assert ("a", "w") not in seen and len(seen) == 2


def test_pubsub_wire_helpers():
    request = orjson.loads(logs_subscribe_request(5, "W", "confirmed"))
    assert request["params"] == [{"mentions": ["W"]}, {"commitment": "confirmed"}] and request["id"] == 5
    note = parse_logs_notification(
        {"subscription": 9, "result": {"context": {"slot": 4}, "value": {"signature": "s", "err": None}}}
    )
    assert note is not None and (note.subscription, note.signature, note.failed, note.slot) == (
        9,
        "s",
        False,
        4,
    )
    failed = parse_logs_notification(
        {"subscription": 9, "result": {"value": {"signature": "s", "err": {"x": 1}}}}
    )
    assert failed is not None and failed.failed and failed.slot is None
    assert parse_logs_notification({"subscription": "x"}) is None
    assert parse_logs_notification(None) is None
    assert subscription_reply({"result": 3}) == (3, None)
    assert subscription_reply({"error": {"message": "Only 1 address supported"}}) == (
        None,
        "Only 1 address supported",
    )
