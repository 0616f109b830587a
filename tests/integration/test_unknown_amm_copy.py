"""A real mainnet swap through AMMs in no table (Jupiter v2 -> Mercurial, tests/fixtures/mainnet/unknown) reaches
the executor with venue "unknown" as a copy, and is a skip when limits.copy_unknown_venues is off. A local
JSON-RPC server answers getTransaction with the recorded mainnet answer (the local cluster cannot hold a
mainnet transaction)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from engine.config import Settings
from engine.context import Endpoints, EngineContext
from engine.decoding.programs import USDC_MINT, USDT_MINT
from engine.messages import NewTransactions, SwapDetected, TradeSkipped
from engine.paths import HomePaths
from engine.state import EngineState
from engine.supervisor import Supervisor
from engine.traders import TraderBook, TraderConfig
from engine.worker import BaseWorker, Inbox, handles
from engine.workers.analyzer import AnalyzerWorker
from engine.workers.data import DataWorker
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.slow

FIXTURE = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "mainnet"
    / "unknown"
    / "3QhMnVeS_unknown_venue_b64.json"
)
SIGNATURE = "3QhMnVeS2yjqyt1LpprGnK8qTsvnXeWYuFJBEquqPc6G5EWzfCZMaH5E2swkkYuUr6Ctd7a5ggetR8c6zHX1WLep"
WALLET = "CFRdMhAUBs7NcWv2AXS4gnkAaL2AB5ntK5EBdKHJVEAW"
USDC, USDT = USDC_MINT, USDT_MINT


class Executor(BaseWorker):
    name = "executor"
    got: list[SwapDetected] = []

    @handles(SwapDetected)
    def on_swap(self, msg: SwapDetected) -> None:
        type(self).got.append(msg)


@pytest.fixture
def rpc_url():
    answer = b'{"jsonrpc":"2.0","id":1,"result":' + FIXTURE.read_bytes() + b"}"
    loop = asyncio.new_event_loop()

    async def handle(request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        found = body.get("method") == "getTransaction" and body["params"][0] == SIGNATURE
        raw = answer if found else b'{"jsonrpc":"2.0","id":1,"result":null}'
        return web.Response(body=raw, content_type="application/json")

    runner = web.AppRunner(web.Application())
    runner.app.router.add_post("/", handle)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def _engine(tmp_path, url: str, *, copy_unknown: bool) -> tuple[EngineContext, Supervisor, type[Executor]]:
    settings = Settings()
    settings.engine.heartbeat_interval_ms = 500
    settings.engine.decode_processes = 0
    settings.rpc.requests_per_second = 1000
    settings.limits.copy_unknown_venues = copy_unknown
    ctx = EngineContext(
        settings=settings,
        paths=HomePaths(tmp_path).ensure(),
        state=EngineState("paper"),
        traders=TraderBook(None, [TraderConfig(name="leader", wallet=WALLET)]),
        endpoints=Endpoints([url], None, None),
        supervisor_inbox=Inbox(100_000),
        db_path=tmp_path / "t.db",
    )
    executor = type("Executor_", (Executor,), {"got": []})
    return (
        ctx,
        Supervisor(ctx, {"data": DataWorker, "analyzer": AnalyzerWorker, "executor": executor}),
        executor,
    )


@pytest.mark.timeout(60)
def test_unknown_amm_swap_is_copied(tmp_path, rpc_url):
    ctx, sup, executor = _engine(tmp_path, rpc_url, copy_unknown=True)
    sup.start()
    try:
        assert sup.wait_ready(15)
        ctx.send("analyzer", NewTransactions(WALLET, (SIGNATURE,), "poll"))
        wait_until(lambda: len(executor.got) == 1)
        (swap,) = executor.got
        # By hand from the balances: USDT 129,942 -> 942, USDC 1,930,919 -> 2,059,891 (SOURCES.md).
        assert (swap.venue, swap.side, swap.mint, swap.token_amount, swap.quote_mint, swap.quote_amount) == (
            "unknown",
            "swap",
            USDC,
            128972,
            USDT,
            129000,
        )
        assert (swap.leader_pre_amount, swap.leader_post_amount) == (1930919, 2059891)
    finally:
        sup.stop()


@pytest.mark.timeout(60)
def test_unknown_amm_swap_is_a_skip_when_copy_unknown_venues_is_off(tmp_path, rpc_url):
    ctx, sup, executor = _engine(tmp_path, rpc_url, copy_unknown=False)
    skips: list[TradeSkipped] = []
    ctx.bus.subscribe(lambda e: skips.append(e) if isinstance(e, TradeSkipped) else None)
    sup.start()
    try:
        assert sup.wait_ready(15)
        ctx.send("analyzer", NewTransactions(WALLET, (SIGNATURE,), "poll"))
        wait_until(lambda: len(skips) == 1)
        assert (skips[0].reason, skips[0].leader_signature) == ("unknown venue", SIGNATURE)
        assert executor.got == []
    finally:
        sup.stop()
