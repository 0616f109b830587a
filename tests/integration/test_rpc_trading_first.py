"""The RPC budget serves trading first: under a spent budget and under 429s, a trading call (the path from a
leader's swap to our send) is never queued behind polling, cache refreshes or exit valuation; a rate-limited
endpoint is skipped for its Retry-After while the other URLs serve, and used again after it.

Local aiohttp JSON-RPC servers on 127.0.0.1. Assertions are on the order requests reached the servers and on
counters; the only clock readings are lower bounds (nothing reached an endpoint before its Retry-After ran
out), which a slow machine cannot break.
"""

from __future__ import annotations

import asyncio
import email.utils
import time

import pytest
from aiohttp import web

from engine.chain.rate_limit import shared_bucket
from engine.chain.rpc import RpcPool
from engine.state import EngineState
from tests.helpers.fake_rpc import FakeRpc
from tests.helpers.waiting import async_wait_until

TRADING = "getTransaction"  # stands for the copy path's calls; the server tells them apart by method
BACKGROUND = "getSignaturesForAddress"
POLLS = 8


class Recorder:
    """A fake endpoint's behaviour: answers 429 (with the given Retry-After) to the listed request numbers,
    else 1; remembers each request's method and wall-clock arrival."""

    def __init__(self, limited: dict[int, str] | None = None) -> None:
        self.limited = limited or {}
        self.arrivals: list[tuple[str, float]] = []

    def __call__(self, body):
        self.arrivals.append((body["method"], time.time()))
        retry_after = self.limited.get(len(self.arrivals))
        if retry_after is not None:
            return web.Response(status=429, headers={"Retry-After": retry_after}, text="slow down")
        return 1

    def methods(self) -> list[str]:
        return [method for method, _ in self.arrivals]


async def start(recorder: Recorder) -> FakeRpc:
    return await FakeRpc(recorder).start()


def pools(urls: list[str], state: EngineState, engine_rate: float) -> tuple[RpcPool, RpcPool]:
    """A trading pool (as the analyzer's and the executor's) and a background one (as the monitor's and the
    cache worker's) of one engine: their own shares are generous, the engine's budget is what binds."""
    trading = RpcPool(urls, requests_per_second=100, state=state, engine_rate=engine_rate)
    background = RpcPool(
        urls, requests_per_second=100, state=state, engine_rate=engine_rate, low_priority=True
    )
    return trading, background


@pytest.mark.slow
async def test_trading_calls_are_served_before_queued_background_calls_when_the_budget_is_spent():
    recorder = Recorder()
    server = await start(recorder)
    state = EngineState("sim")
    trading, background = pools([server.url], state, engine_rate=2.0)  # burst 2: spent at once
    try:
        queued = [asyncio.ensure_future(background.call(BACKGROUND)) for _ in range(POLLS)]
        await async_wait_until(lambda: recorder.methods().count(BACKGROUND) >= 1, 10, what="polling started")
        bucket = shared_bucket(state, server.url, 2.0)
        # The polls not yet served when the trades come are queued on the spent budget (a slow machine may
        # have served more of them before this point; that only makes the check below weaker, never wrong).
        still_queued = POLLS - bucket.served["background"]
        assert still_queued >= 2, "the polls were all served before the trades came"
        results = await asyncio.gather(*(trading.call(TRADING) for _ in range(4)))
        assert results == [1, 1, 1, 1]
        assert bucket.served["trading"] == 4
        # The trading calls reached the endpoint one after another, no poll between them ...
        methods = recorder.methods()
        first, last = methods.index(TRADING), len(methods) - 1 - methods[::-1].index(TRADING)
        assert methods[first : last + 1] == [TRADING] * 4, methods
        await asyncio.gather(*queued)
        # ... and the polls that were queued came after them (one may already have been on its way).
        assert recorder.methods().count(BACKGROUND) == POLLS
        assert recorder.methods()[last + 1 :].count(BACKGROUND) >= still_queued - 1, recorder.methods()
    finally:
        await trading.close()
        await background.close()
        await server.stop()


@pytest.mark.slow
async def test_when_the_retry_after_ends_the_trading_call_goes_before_the_background_calls_waiting():
    recorder = Recorder({1: "3"})  # the first request (a poll) is answered 429, Retry-After 3 s
    server = await start(recorder)
    state = EngineState("sim")
    trading, background = pools([server.url], state, engine_rate=20.0)
    try:
        first_poll = asyncio.ensure_future(background.call(BACKGROUND))
        await async_wait_until(lambda: state.snapshot().health.rpc_429s == 1, 10, what="the 429")
        bucket = shared_bucket(state, server.url, 20.0)
        # More polling queues up during the Retry-After, then a copy's getTransaction comes.
        polls = [asyncio.ensure_future(background.call(BACKGROUND)) for _ in range(6)]
        trade = asyncio.ensure_future(trading.call(TRADING))
        await async_wait_until(lambda: bucket.trading_waiting == 1, 10, what="the trading call waiting")
        assert bucket.blocked_for() > 0, "the trading call came during the Retry-After"
        assert await trade == 1
        await asyncio.gather(first_poll, *polls)
        methods = recorder.methods()
        assert methods[0] == BACKGROUND
        assert methods[1] == TRADING, (
            f"the first request after the Retry-After must be the trade's: {methods}"
        )
        assert methods[2:].count(BACKGROUND) == 7  # the retried first poll and the six queued
        limited_at = recorder.arrivals[0][1]
        assert all(at - limited_at >= 2.9 for _, at in recorder.arrivals[1:]), "nothing during Retry-After"
    finally:
        await trading.close()
        await background.close()
        await server.stop()


@pytest.mark.slow
async def test_a_rate_limited_url_is_skipped_for_its_retry_after_http_date_and_used_again_after():
    until = int(time.time()) + 3  # an HTTP date has whole seconds; the pause is 2 to 3 s
    first = Recorder({1: email.utils.formatdate(until, usegmt=True)})
    second = Recorder()
    limited, spare = await start(first), await start(second)
    state = EngineState("sim")
    pool = RpcPool([limited.url, spare.url], requests_per_second=20, state=state)
    try:
        calls = 0
        while len(first.arrivals) < 2:  # keep trading until the first URL is asked again
            assert await pool.call(TRADING) == 1
            calls += 1
            assert calls < 400, "the first URL was never used again"
        back_at = first.arrivals[1][1]
        assert back_at >= until - 0.05, "the limited URL got a call during its Retry-After"
        assert len(second.arrivals) >= 2, "the second URL served meanwhile"
        assert all(at <= back_at for _, at in second.arrivals)
        # Once its Retry-After is over the first URL is the preferred one again.
        for _ in range(3):
            assert await pool.call(TRADING) == 1
        assert len(second.arrivals) == calls - 1
        assert len(first.arrivals) == 5
    finally:
        await pool.close()
        await limited.stop()
        await spare.stop()


@pytest.mark.slow
async def test_when_every_url_is_limited_the_call_waits_for_the_shortest_retry_after():
    first = Recorder({1: "6"})  # the preferred URL is limited for long
    second = Recorder({2: "1"})  # the other serves once, then is limited for a second
    long_limited, short_limited = await start(first), await start(second)
    state = EngineState("sim")
    pool = RpcPool([long_limited.url, short_limited.url], requests_per_second=50, state=state)
    try:
        assert await pool.call(TRADING) == 1  # first URL 429 → second serves
        assert await pool.call(TRADING) == 1  # second 429s now: wait its 1 s, not the first's 6 s
        assert len(first.arrivals) == 1, "the long-limited URL was asked during its Retry-After"
        assert len(second.arrivals) == 3
        assert second.arrivals[2][1] - second.arrivals[1][1] >= 0.95
        assert state.snapshot().health.rpc_429s == 2
    finally:
        await pool.close()
        await long_limited.stop()
        await short_limited.stop()


def test_a_slow_endpoints_budget_still_lets_background_calls_through():
    from engine.chain.rate_limit import SharedBucket

    bucket = SharedBucket(rate=1.0)  # a burst of one token: no room for a reserve
    assert bucket._take(low_priority=True) == 0.0
    assert bucket._take(low_priority=True) > 0.0


def test_background_calls_wait_while_a_trading_call_waits_and_during_a_retry_after():
    from engine.chain.rate_limit import SharedBucket

    bucket = SharedBucket(rate=100.0)
    with bucket.trading_turn():
        assert bucket.wait_time(low_priority=True) > 0
        assert bucket._take(low_priority=True) > 0
        assert bucket._take() == 0.0  # the trading call itself is served
    assert bucket._take(low_priority=True) == 0.0
    bucket.block(5.0)
    assert bucket._take(low_priority=True) > 4.0
    assert bucket._take() == 0.0, "a pool of several URLs chose this one after its Retry-After"
    assert bucket._take(honour_block=True) > 4.0
    assert bucket.served == {"trading": 2, "background": 1}
