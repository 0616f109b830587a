"""Malformed JSON-RPC answers against RpcPool: every one becomes a short RpcError, never another exception,
never a hang. A real aiohttp server on 127.0.0.1 answers whatever bytes the test tells it to."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.chain.rpc import RpcError, RpcPool

SIG = "5" * 87
WALLET = "11111111111111111111111111111111"
MAX_ANSWER = 64 * 1024  # the pool under test caps answers at this, so "huge" stays cheap
HANG_GUARD_S = 15.0  # any call must end well before this (the pool's own deadline is a few seconds)


class BadServer:
    """Serves one canned answer (status, headers, body or a special behaviour) to every POST."""

    def __init__(self) -> None:
        self.status = 200
        self.body: bytes = b"{}"
        self.headers: dict[str, str] = {"Content-Type": "application/json"}
        self.behaviour = "plain"  # plain | chunked | slow | cut
        self.requests = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.port = 0
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="bad-rpc", daemon=True)

    def answer(
        self,
        body: bytes | str | Any,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        behaviour: str = "plain",
        raw: bool = False,
    ) -> None:
        if raw:
            self.body = body if isinstance(body, bytes) else str(body).encode()
        else:
            self.body = json.dumps(body).encode()
        self.status = status
        self.headers = headers if headers is not None else {"Content-Type": "application/json"}
        self.behaviour = behaviour

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        await request.read()
        if self.behaviour == "slow":
            await asyncio.sleep(4)  # past the pool's 1 s timeout
        if self.behaviour in {"chunked", "cut"}:
            response = web.StreamResponse(status=self.status, headers=self.headers)
            response.enable_chunked_encoding()
            await response.prepare(request)
            half = len(self.body) // 2
            await response.write(self.body[:half])
            if self.behaviour == "cut":
                assert request.transport is not None
                request.transport.close()  # the connection dies mid-answer
                return response
            for start in range(half, len(self.body), 16384):
                await response.write(self.body[start : start + 16384])
            await response.write_eof()
            return response
        return web.Response(status=self.status, body=self.body, headers=self.headers)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop

        async def main() -> None:
            self._stop = asyncio.Event()
            app = web.Application()
            app.router.add_post("/", self._handle)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._ready.set()
            await self._stop.wait()
            await runner.cleanup()

        loop.run_until_complete(main())
        loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> "BadServer":
        self._thread.start()
        assert self._ready.wait(5)
        return self

    def stop(self) -> None:
        if self.loop is not None and self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)


@pytest.fixture(scope="module")
def server():
    srv = BadServer().start()
    yield srv
    srv.stop()


def make_pool(url: str) -> RpcPool:
    return RpcPool(
        [url], requests_per_second=1000, timeout=1.0, call_deadline_s=2.5, max_answer_bytes=MAX_ANSWER
    )


# Each typed method with a check of what it may legitimately return.
Method = Callable[[RpcPool], Awaitable[Any]]
METHODS: dict[str, tuple[Method, Callable[[Any], bool]]] = {
    "call": (lambda p: p.call("getHealth"), lambda r: True),
    "get_slot": (lambda p: p.get_slot(), lambda r: isinstance(r, int)),
    "get_block_height": (lambda p: p.get_block_height(), lambda r: isinstance(r, int)),
    "get_balance": (lambda p: p.get_balance(WALLET), lambda r: isinstance(r, int)),
    "get_latest_blockhash": (
        lambda p: p.get_latest_blockhash(),
        lambda r: isinstance(r[0], str) and isinstance(r[1], int),
    ),
    "get_signatures_for_address": (
        lambda p: p.get_signatures_for_address(WALLET),
        lambda r: isinstance(r, list) and all(isinstance(e["signature"], str) for e in r),
    ),
    "get_transaction_raw": (
        lambda p: p.get_transaction_raw(SIG),
        lambda r: r is None or isinstance(r, bytes),
    ),
    "send_raw_transaction": (lambda p: p.send_raw_transaction(b"\x01" * 10), lambda r: isinstance(r, str)),
    "get_signature_statuses": (
        lambda p: p.get_signature_statuses([SIG]),
        lambda r: isinstance(r, list) and len(r) == 1,
    ),
}

HTML = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1>" + b"x" * 500
)

# Answers no method may accept: the protocol itself is broken. (name -> answer() kwargs)
PROTOCOL_FAULTS: dict[str, dict[str, Any]] = {
    "missing_result": {"body": {"jsonrpc": "2.0", "id": 1}},
    "empty_object": {"body": {}},
    "top_level_list": {"body": [{"jsonrpc": "2.0", "id": 1, "result": 1}]},
    "top_level_string": {"body": "ok"},
    "top_level_null": {"body": None},
    "error_is_string": {"body": {"jsonrpc": "2.0", "id": 1, "error": "boom"}},
    "error_wrong_types": {"body": {"jsonrpc": "2.0", "id": 1, "error": {"code": "x", "message": 5}}},
    "error_huge_message": {
        "body": {"jsonrpc": "2.0", "id": 1, "error": {"code": -32000, "message": "e\n" * 5000}}
    },
    "html_200": {"body": HTML, "raw": True, "headers": {"Content-Type": "text/html"}},
    "html_404": {"body": HTML, "raw": True, "status": 404, "headers": {"Content-Type": "text/html"}},
    "html_502": {"body": HTML, "raw": True, "status": 502, "headers": {"Content-Type": "text/html"}},
    "html_503_retry_after": {
        "body": HTML,
        "raw": True,
        "status": 503,
        "headers": {"Content-Type": "text/html", "Retry-After": "3600"},
    },
    "rate_limited_forever": {
        "body": b"slow down",
        "raw": True,
        "status": 429,
        "headers": {"Retry-After": "1"},
    },
    "rate_limited_bad_header": {
        "body": b"",
        "raw": True,
        "status": 429,
        "headers": {"Retry-After": "soon-ish"},
    },
    "truncated_json": {"body": b'{"jsonrpc":"2.0","id":1,"result":{"value":[1,2', "raw": True},
    "non_json_text": {"body": b"OK", "raw": True, "headers": {"Content-Type": "text/plain"}},
    "empty_body": {"body": b"", "raw": True},
    "invalid_utf8": {"body": b'{"jsonrpc":"2.0","id":1,"result":"\xff\xfe"}', "raw": True},
    "nan_literal": {"body": b'{"jsonrpc":"2.0","id":1,"result":NaN}', "raw": True},
    "deep_nesting": {"body": b'{"result":' + b"[" * 5000 + b"]" * 5000 + b"}", "raw": True},
    "huge_with_length": {"body": b'{"result":"' + b"a" * (MAX_ANSWER * 4) + b'"}', "raw": True},
    "huge_chunked": {
        "body": b'{"result":"' + b"a" * (MAX_ANSWER * 4) + b'"}',
        "raw": True,
        "behaviour": "chunked",
    },
    "cut_mid_answer": {
        "body": b'{"jsonrpc":"2.0","id":1,"result":"' + b"a" * 40000 + b'"}',
        "raw": True,
        "behaviour": "cut",
    },
    "slow_past_timeout": {"body": {"jsonrpc": "2.0", "id": 1, "result": 1}, "behaviour": "slow"},
    "http_204": {"body": b"", "raw": True, "status": 204},
    "status_200_error_and_result": {
        "body": {"jsonrpc": "2.0", "id": 1, "result": 1, "error": {"code": -1, "message": "no"}}
    },
}

RETRYABLE = {
    "slow_past_timeout",
    "rate_limited_forever",
    "rate_limited_bad_header",
    "html_502",
    "html_503_retry_after",
    "cut_mid_answer",
}

# Answers that are well-formed JSON-RPC but carry results of the wrong shape for most methods.
SHAPE_FAULTS: dict[str, Any] = {
    "result_null": None,
    "result_string": "hello",
    "result_bool": True,
    "result_float": 1.5,
    "result_negative": -7,
    "result_huge_int": 2**80,
    "result_list_of_junk": [1, "two", None, {"signature": 3}],
    "result_value_missing": {"context": {"slot": 1}},
    "result_value_string": {"context": {"slot": 1}, "value": "x"},
    "result_value_null": {"context": {"slot": 1}, "value": None},
    "result_value_junk_list": {"context": {"slot": 1}, "value": [1, {"account": {}}]},
    "blockhash_wrong_types": {"context": {"slot": 1}, "value": {"blockhash": 5, "lastValidBlockHeight": "7"}},
    "token_account_missing_amount": {
        "context": {"slot": 1},
        "value": [
            {"pubkey": WALLET, "account": {"data": {"parsed": {"info": {"mint": WALLET, "tokenAmount": {}}}}}}
        ],
    },
    "token_account_amount_not_int": {
        "context": {"slot": 1},
        "value": [
            {
                "pubkey": WALLET,
                "account": {
                    "data": {
                        "parsed": {"info": {"mint": WALLET, "tokenAmount": {"amount": "lots", "decimals": 6}}}
                    }
                },
            }
        ],
    },
    "statuses_wrong_length": {"context": {"slot": 1}, "value": [None, None, None]},
    "fees_missing_field": [{"slot": 1}],
}


def _check_error(exc: RpcError) -> None:
    text = str(exc)
    assert text, "an RpcError needs a message"
    assert "\n" not in text and len(text) <= 200, f"not one short line: {text!r}"
    assert "<html" not in text.lower() and "Traceback" not in text


async def _run(pool: RpcPool, method: str) -> tuple[str, Any]:
    fn, _ = METHODS[method]
    try:
        result = await asyncio.wait_for(fn(pool), HANG_GUARD_S)
    except RpcError as exc:
        _check_error(exc)
        return "error", exc
    except TimeoutError:
        pytest.fail(f"{method} hung for {HANG_GUARD_S}s")
    return "ok", result


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(PROTOCOL_FAULTS))
async def test_protocol_fault_is_a_short_rpc_error_for_every_method(server, fault):
    server.answer(**PROTOCOL_FAULTS[fault])
    pool = make_pool(server.url)
    try:
        # Retryable faults cost the pool's whole deadline per call: three methods show it, all would be slow.
        methods = ["call", "get_slot", "get_transaction_raw"] if fault in RETRYABLE else METHODS
        for method in methods:
            outcome, value = await _run(pool, method)
            assert outcome == "error", f"{fault}: {method} accepted {value!r}"
    finally:
        await pool.close()


@pytest.mark.parametrize("fault", sorted(SHAPE_FAULTS))
async def test_wrong_shapes_are_rpc_errors_or_valid_values(server, fault):
    server.answer({"jsonrpc": "2.0", "id": 1, "result": SHAPE_FAULTS[fault]})
    pool = make_pool(server.url)
    try:
        for method, (_, valid) in METHODS.items():
            outcome, value = await _run(pool, method)
            if outcome == "ok":
                assert valid(value), f"{fault}: {method} returned {value!r}"
    finally:
        await pool.close()


def test_typed_methods_reject_what_they_cannot_use(server):
    """Spot checks that the shape faults are refused, not silently turned into zeros or empty lists."""

    async def go() -> dict[str, str]:
        pool = make_pool(server.url)
        outcomes: dict[str, str] = {}
        try:
            for fault, method in [
                ("result_string", "get_slot"),
                ("result_bool", "get_slot"),
                ("result_float", "get_block_height"),
                ("result_value_missing", "get_balance"),
                ("result_list_of_junk", "get_signatures_for_address"),
                ("blockhash_wrong_types", "get_latest_blockhash"),
                ("statuses_wrong_length", "get_signature_statuses"),
                ("result_string", "get_transaction_raw"),
                ("result_bool", "send_raw_transaction"),
            ]:
                server.answer({"jsonrpc": "2.0", "id": 1, "result": SHAPE_FAULTS[fault]})
                outcomes[f"{fault}/{method}"] = (await _run(pool, method))[0]
        finally:
            await pool.close()
        return outcomes

    outcomes = asyncio.run(go())
    assert set(outcomes.values()) == {"error"}, outcomes


json_results = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "value",
                    "context",
                    "slot",
                    "signature",
                    "blockhash",
                    "lastValidBlockHeight",
                    "err",
                    "account",
                    "data",
                    "parsed",
                    "info",
                    "mint",
                    "tokenAmount",
                    "amount",
                    "decimals",
                    "pubkey",
                    "prioritizationFee",
                    "blockTime",
                    "code",
                    "message",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@pytest.mark.slow
@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(result=json_results, error=st.none() | json_results)
def test_fuzzed_results_never_escape_as_other_exceptions(server, result, error):
    document: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "result": result}
    if error is not None:
        document["error"] = error
    server.answer(document)

    async def go() -> None:
        pool = make_pool(server.url)
        try:
            for method, (_, valid) in METHODS.items():
                outcome, value = await _run(pool, method)
                if outcome == "ok":
                    assert valid(value), f"{method} returned {value!r}"
        finally:
            await pool.close()

    asyncio.run(go())
