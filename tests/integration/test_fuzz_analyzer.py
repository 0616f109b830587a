"""The analyzer never crashes on a bad transaction: a local JSON-RPC server answers getTransaction with mutated
mainnet fixtures (and garbage); the analyzer logs and skips each bad one, keeps running (no restart) and
still detects the good transaction sent after them. Decoding inline and in a DecodePool child."""

from __future__ import annotations

import asyncio
import copy
import json
import random
import threading
import time
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from engine.config import Settings
from engine.context import Endpoints, EngineContext
from engine.messages import NewTransactions, SwapDetected
from engine.paths import HomePaths
from engine.state import EngineState
from engine.supervisor import Supervisor
from engine.traders import TraderBook, TraderConfig
from engine.worker import BaseWorker, Inbox, handles
from engine.workers.analyzer import AnalyzerWorker

pytestmark = pytest.mark.slow  # every test here starts a cluster, an engine or a subprocess

BAD_COUNT = 120
PUMP_BUY = "pumpfun/ZEu54dZe_buy.json"


def _mutate(doc, rng: random.Random):
    """One to three type-changing edits anywhere in the document."""
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 3)):
        node, parent, key = doc, None, None
        for _depth in range(rng.randint(1, 6)):
            if isinstance(node, dict) and node:
                key = rng.choice(list(node))
            elif isinstance(node, list) and node:
                key = rng.randrange(len(node))
            else:
                break
            parent, node = node, node[key]
        if parent is None:
            continue
        parent[key] = rng.choice([None, -1, 2**70, "x", "", [], {}, [None], {"a": 1}, True, 1.5])
    return doc


class Collector(BaseWorker):
    name = "executor"
    got: list[SwapDetected] = []

    @handles(SwapDetected)
    def on_swap(self, msg: SwapDetected) -> None:
        type(self).got.append(msg)


@pytest.fixture
def answers(mainnet: Path):
    """A getTransaction server: signature -> raw answer bytes; the good one is a real pump.fun buy."""
    rng = random.Random(1234)
    docs = [orjson.loads(p.read_bytes()) for p in sorted(mainnet.rglob("*.json"))]
    table: dict[str, bytes] = {}
    for index in range(BAD_COUNT):
        kind = index % 6
        if kind == 5:
            raw = rng.choice(
                [
                    b"",
                    b"<html>oops</html>",
                    b'{"jsonrpc":"2.0","id":1,"result":',
                    b"[1,2]",
                    b'{"jsonrpc":"2.0","id":1,"result":"tx"}',
                ]
            )
        else:
            body = _mutate(rng.choice(docs), rng)
            raw = json.dumps({"jsonrpc": "2.0", "id": 1, "result": body}).encode()
        table[f"bad{index}"] = raw
    good = (mainnet / PUMP_BUY).read_bytes()
    table["good"] = b'{"jsonrpc":"2.0","id":1,"result":' + good + b"}"
    wallet = orjson.loads(good)
    return table, wallet


def _serve(table: dict[str, bytes]):
    loop = asyncio.new_event_loop()

    async def handle(request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        raw = table.get(body["params"][0], b'{"jsonrpc":"2.0","id":1,"result":null}')
        return web.Response(body=raw, content_type="application/json")

    runner = web.AppRunner(web.Application())
    runner.app.router.add_post("/", handle)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def stop() -> None:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)

    return f"http://127.0.0.1:{port}/", stop


@pytest.mark.timeout(90)
@pytest.mark.parametrize("processes", [0, 1], ids=["inline", "decode-pool"])
def test_analyzer_logs_and_skips_mutated_transactions(tmp_path, answers, processes):
    from engine.decoding import decode_raw

    table, _ = answers
    good_swap = decode_raw(table["good"]).swaps[0]
    wallet = good_swap.wallet
    url, stop_server = _serve(table)
    settings = Settings()
    settings.engine.heartbeat_interval_ms = 500
    settings.engine.worker_restart_delay_ms = 100
    settings.engine.decode_processes = processes
    settings.rpc.requests_per_second = 1000
    ctx = EngineContext(
        settings=settings,
        paths=HomePaths(tmp_path).ensure(),
        state=EngineState("sim"),
        traders=TraderBook(None, [TraderConfig(name="leader", wallet=wallet)]),
        endpoints=Endpoints([url], None, None),
        supervisor_inbox=Inbox(100_000),
        db_path=tmp_path / "t.db",
    )
    Collector.got = []
    sup = Supervisor(ctx, {"analyzer": AnalyzerWorker, "executor": Collector})
    sup.start()
    try:
        assert sup.wait_ready(15)
        bad = tuple(f"bad{i}" for i in range(BAD_COUNT))
        for start in range(0, BAD_COUNT, 20):
            assert ctx.send("analyzer", NewTransactions(wallet, bad[start : start + 20], "poll"))
        assert ctx.send("analyzer", NewTransactions(wallet, ("good",), "poll"))
        outcomes = ("decode_errors", "tx_fetch_failed", "tx_not_found", "transactions_analyzed")

        def handled_count() -> int:
            counters = ctx.state.snapshot().counters
            return sum(counters.get(k, 0) for k in outcomes)

        # Answers of `result: null` are asked again a few times (a fresh transaction may not be visible yet).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and handled_count() < BAD_COUNT + 1:
            time.sleep(0.05)
        counters = ctx.state.snapshot().counters
        analyzer = ctx.state.snapshot().worker("analyzer")
        print(
            f"\nRELIABILITY analyzer fuzz ({'pool' if processes else 'inline'}): counters="
            f"{ {k: v for k, v in counters.items() if k in (*outcomes, 'analyzer_errors', 'swaps_detected')} }"
        )
        assert any(m.leader_signature == "good" for m in Collector.got), counters
        good = [m for m in Collector.got if m.leader_signature == "good"]
        assert len(good) == 1 and good[0].token_amount == good_swap.token_amount
        assert analyzer.restarts == 0 and analyzer.state in {"ready", "busy"}, analyzer
        assert counters.get("analyzer_errors", 0) == 0, "an exception escaped decoding (not a DecodeError)"
        handled = sum(counters.get(k, 0) for k in outcomes)
        assert handled == BAD_COUNT + 1, counters
        assert (
            counters.get("decode_errors", 0) >= BAD_COUNT // 4
            and counters.get("tx_fetch_failed", 0) >= BAD_COUNT // 6
        )
    finally:
        sup.stop()
        stop_server()
