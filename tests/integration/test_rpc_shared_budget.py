"""All RPC pools of one engine share each endpoint's budget and its Retry-After, across worker threads."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from aiohttp import web

from engine.chain.rpc import RpcPool
from engine.state import EngineState
from tests.helpers.fake_rpc import FakeRpc
from tests.helpers.waiting import async_wait_until


def run_pool_in_thread(
    url: str, state: EngineState, calls: int, results: list[float], rate: float, engine_rate: float
) -> threading.Thread:
    """A pool on its own loop and thread, as each worker has."""

    async def work() -> None:
        pool = RpcPool([url], requests_per_second=rate, state=state, engine_rate=engine_rate, burst=1.0)
        try:
            for _ in range(calls):
                await pool.call("getSlot")
                results.append(time.monotonic())
        finally:
            await pool.close()

    thread = threading.Thread(target=lambda: asyncio.run(work()))
    thread.start()
    return thread


@pytest.mark.slow
async def test_two_pools_of_one_engine_stay_within_the_engine_rate():
    server = await FakeRpc(lambda body: 1).start()
    try:
        state = EngineState("sim")
        stamps: list[float] = []
        # Each pool alone may do 20/s; together they must not exceed the engine's 10/s.
        threads = [run_pool_in_thread(server.url, state, 12, stamps, 20.0, 10.0) for _ in range(2)]
        while any(t.is_alive() for t in threads):
            await asyncio.sleep(0.05)
        assert len(stamps) == 24
        stamps.sort()
        # 24 calls at 10/s with a burst of 10 need at least (24 - 10) / 10 = 1.4 s.
        assert stamps[-1] - stamps[0] >= 1.2
        other = EngineState("sim")  # another engine has its own budget
        alone: list[float] = []
        thread = run_pool_in_thread(server.url, other, 5, alone, 20.0, 10.0)
        while thread.is_alive():
            await asyncio.sleep(0.05)
        assert len(alone) == 5
    finally:
        await server.stop()


@pytest.mark.slow
async def test_a_429_pauses_every_pool_of_the_engine():
    times: list[float] = []

    def behaviour(body):
        times.append(time.monotonic())
        if len(times) == 1:
            return web.Response(status=429, headers={"Retry-After": "1"})
        return 1

    server = await FakeRpc(behaviour).start()
    try:
        state = EngineState("sim")
        first = RpcPool([server.url], requests_per_second=100, state=state, engine_rate=100)
        second = RpcPool([server.url], requests_per_second=100, state=state, engine_rate=100)
        first_call = asyncio.ensure_future(first.call("getSlot"))
        # The 429 has been answered and its Retry-After recorded; now another worker's pool wants the endpoint.
        await async_wait_until(lambda: state.snapshot().health.rpc_429s == 1, 10, what="the 429 answered")
        assert await second.call("getSlot") == 1
        assert await first_call == 1
        assert len(times) == 3
        # Nothing reached the endpoint while its Retry-After was running, from either pool.
        assert min(times[1:]) - times[0] >= 0.9
        await first.close()
        await second.close()
    finally:
        await server.stop()


def test_background_pools_leave_a_reserve_for_trading_calls():
    from engine.chain.rate_limit import SharedBucket

    bucket = SharedBucket(rate=8.0)  # burst 8; background work leaves 25% (2 tokens) untouched
    taken = 0
    while bucket._take(low_priority=True) == 0.0:
        taken += 1
    assert taken == 6
    # A trading call still gets through at once, twice, from the reserve.
    assert bucket._take() == 0.0
    assert bucket._take() == 0.0
    assert bucket._take() > 0.0
