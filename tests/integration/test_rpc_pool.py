"""RpcPool against local aiohttp JSON-RPC servers: 429 + Retry-After, failover, malformed answers."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest
from aiohttp import web

from engine.chain.rate_limit import TokenBucket, parse_retry_after
from engine.chain.rpc import RpcError, RpcPool
from engine.state import EngineState
from tests.helpers.fake_rpc import FakeRpc, Handler


@pytest.fixture
async def servers():
    started: list[FakeRpc] = []

    async def make(behaviour: Handler) -> FakeRpc:
        server = await FakeRpc(behaviour).start()
        started.append(server)
        return server

    yield make
    for server in started:
        await server.stop()


@pytest.mark.slow
async def test_429_retry_after_is_waited_out_on_a_single_endpoint(servers):
    calls = {"n": 0}

    def behaviour(req):
        calls["n"] += 1
        if calls["n"] == 1:
            return web.Response(status=429, headers={"Retry-After": "1"}, text="slow down")
        return 1234

    server = await servers(behaviour)
    state = EngineState("sim")
    pool = RpcPool([server.url], requests_per_second=100, state=state)
    try:
        started = time.monotonic()
        slot = await pool.get_slot()
        waited = time.monotonic() - started
    finally:
        await pool.close()
    assert slot == 1234
    assert calls["n"] == 2
    assert waited >= 0.9, "the second request must come after Retry-After"
    health = state.snapshot().health
    assert health.rpc_429s == 1
    assert health.rpc_calls == 2
    assert health.rpc_ok is True


async def test_429_fails_over_to_the_second_url_without_waiting(servers):
    limited = await servers(lambda req: web.Response(status=429, headers={"Retry-After": "20"}))
    healthy = await servers(lambda req: {"context": {"slot": 1}, "value": 5_000})
    pool = RpcPool([limited.url, healthy.url], requests_per_second=100)
    try:
        assert await pool.get_balance("11111111111111111111111111111111") == 5_000
        # The limited endpoint is now avoided: the next call goes straight to the healthy one.
        assert await pool.get_balance("11111111111111111111111111111111") == 5_000
    finally:
        await pool.close()
    assert len(limited.requests) == 1
    assert len(healthy.requests) == 2


async def test_connection_error_and_5xx_fail_over(servers):
    broken = await servers(lambda req: web.Response(status=503, text="<html>bad gateway</html>"))
    healthy = await servers(
        lambda req: {"context": {"slot": 1}, "value": {"blockhash": "abc", "lastValidBlockHeight": 99}}
    )
    # Port 9 on localhost: nothing listens there, so the connection is refused.
    pool = RpcPool(["http://127.0.0.1:9/", broken.url, healthy.url], requests_per_second=100, timeout=2)
    try:
        assert await pool.get_latest_blockhash() == ("abc", 99)
    finally:
        await pool.close()
    assert len(broken.requests) == 1
    assert len(healthy.requests) == 1


@pytest.mark.slow
async def test_all_endpoints_down_gives_one_rpc_error():
    state = EngineState("sim")
    pool = RpcPool(
        ["http://127.0.0.1:9/"], requests_per_second=100, timeout=1, call_deadline_s=3, state=state
    )
    try:
        with pytest.raises(RpcError) as info:
            await pool.get_slot()
    finally:
        await pool.close()
    assert "getSlot" in str(info.value)
    assert "\n" not in str(info.value)
    assert state.snapshot().health.rpc_ok is False


@pytest.mark.parametrize(
    "response, fragment",
    [
        (
            lambda: web.Response(
                status=200, text="<html><body>502 Bad Gateway</body></html>", content_type="text/html"
            ),
            "HTML",
        ),
        (lambda: web.Response(status=200, body=b"[1, 2, 3]", content_type="application/json"), "malformed"),
        (
            lambda: web.Response(
                status=200, body=b'{"jsonrpc":"2.0","id":1}', content_type="application/json"
            ),
            "no result",
        ),
        (
            lambda: web.Response(
                status=200, body=b'{"jsonrpc":"2.0","id":1,"result":"soon"}', content_type="application/json"
            ),
            "malformed",
        ),
        (
            lambda: web.Response(
                status=200,
                body=b'{"jsonrpc":"2.0","id":1,"result":{"value":{"blockhash":7}}}',
                content_type="application/json",
            ),
            "malformed",
        ),
        (
            lambda: web.Response(status=200, body=b"x" * (2 * 1024 * 1024), content_type="application/json"),
            "too large",
        ),
        (
            lambda: web.Response(
                status=200,
                body=b'{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid param"}}',
                content_type="application/json",
            ),
            "Invalid param",
        ),
        (lambda: web.Response(status=404, text="not here"), "HTTP 404"),
    ],
)
async def test_malformed_answers_raise_rpc_error(servers, response, fragment):
    server = await servers(lambda req: response())
    pool = RpcPool([server.url], requests_per_second=100, max_answer_bytes=1024 * 1024)
    try:
        with pytest.raises(RpcError) as info:
            await pool.get_latest_blockhash()
    finally:
        await pool.close()
    assert fragment.lower() in str(info.value).lower()
    assert len(str(info.value)) < 200


async def test_get_signatures_and_transaction_shapes(servers):
    sigs = [
        {"signature": "s3", "slot": 3, "err": None, "memo": None},
        {"signature": "s2", "slot": 2, "err": {"InstructionError": [0, "x"]}},
    ]

    def behaviour(req):
        if req["method"] == "getSignaturesForAddress":
            return sigs
        if req["method"] == "getTransaction":
            return None if req["params"][0] == "missing" else {"slot": 5, "meta": {}, "transaction": {}}
        raise AssertionError(req["method"])

    server = await servers(behaviour)
    pool = RpcPool([server.url], requests_per_second=100)
    try:
        entries = await pool.get_signatures_for_address("W", until="s1", limit=10)
        raw = await pool.get_transaction_raw("present")
        missing = await pool.get_transaction_raw("missing")
    finally:
        await pool.close()
    assert entries == [
        {"signature": "s3", "slot": 3, "err": None, "block_time": None},
        {"signature": "s2", "slot": 2, "err": {"InstructionError": [0, "x"]}, "block_time": None},
    ]
    sent = server.requests[0]["params"]
    assert sent[0] == "W" and sent[1]["until"] == "s1" and sent[1]["limit"] == 10 and "before" not in sent[1]
    assert orjson.loads(raw)["result"]["slot"] == 5
    assert missing is None
    tx_options = server.requests[1]["params"][1]
    assert tx_options["maxSupportedTransactionVersion"] == 0
    assert tx_options["commitment"] == "confirmed"


async def test_rate_limit_spaces_requests(servers):
    server = await servers(lambda req: 1)
    pool = RpcPool([server.url], requests_per_second=10, burst=1)
    try:
        started = time.monotonic()
        await asyncio.gather(*(pool.get_slot() for _ in range(6)))
        elapsed = time.monotonic() - started
    finally:
        await pool.close()
    # Six calls at 10/s with no burst need at least five refill intervals.
    assert elapsed >= 0.45
    assert len(server.requests) == 6


def test_retry_after_forms():
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(None) == 1.0
    assert parse_retry_after("garbage") == 1.0
    assert parse_retry_after("100000") == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_token_bucket_starts_full():
    bucket = TokenBucket(5, capacity=3)
    assert bucket.wait_time() == 0.0
    bucket.tokens = 0
    assert 0.1 < bucket.wait_time() <= 0.2
