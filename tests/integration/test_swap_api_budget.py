"""The swap API's 429s: every client of one engine shares the Retry-After, a trading quote waits it out and
asks again, and exit valuation (a background client) is served after the trading calls, never before.

A local aiohttp server answers Jupiter's GET /quote shape on 127.0.0.1; assertions are on the order of the
requests it received and on lower bounds of their times (nothing arrived during a Retry-After).
"""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp import web

from engine.chain.rate_limit import shared_gate
from engine.chain.swap_api import SwapApi, SwapApiError
from engine.state import EngineState
from tests.helpers.waiting import async_wait_until

WSOL = "So11111111111111111111111111111111111111112"
MINT = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
TRADE_AMOUNT = 1_000_000  # the trade's quote is told apart from the valuations by its amount


class FakeJupiter:
    """GET /quote: answers 429 with the given Retry-After to the listed request numbers, else a quote."""

    def __init__(self, limited: dict[int, str]) -> None:
        self.limited = limited
        self.arrivals: list[tuple[int, float]] = []  # (amount, wall-clock time)
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def quote(self, request: web.Request) -> web.Response:
        amount = int(request.query["amount"])
        self.arrivals.append((amount, time.time()))
        retry_after = self.limited.get(len(self.arrivals))
        if retry_after is not None:
            return web.json_response(
                {"error": "Rate limit exceeded"}, status=429, headers={"Retry-After": retry_after}
            )
        return web.json_response(
            {
                "inputMint": request.query["inputMint"],
                "outputMint": request.query["outputMint"],
                "inAmount": str(amount),
                "outAmount": str(amount * 2),
                "otherAmountThreshold": str(amount * 2 - amount // 100),
                "swapMode": "ExactIn",
                "slippageBps": int(request.query["slippageBps"]),
                "routePlan": [],
            }
        )

    async def start(self) -> "FakeJupiter":
        app = web.Application()
        app.router.add_get("/swap/v1/quote", self.quote)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/swap/v1"
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.mark.slow
async def test_a_trade_quote_goes_before_the_valuations_waiting_out_a_retry_after():
    server = await FakeJupiter({1: "3"}).start()  # the first valuation is answered 429, Retry-After 3 s
    state = EngineState("sim")
    executor = SwapApi(server.url, state=state)  # the executor's client: trading
    cache = SwapApi(server.url, state=state, low_priority=True)  # the exit runner's: valuation
    gate = shared_gate(state, f"swap-api {server.url}")
    try:
        with pytest.raises(SwapApiError) as info:
            await cache.quote(MINT, WSOL, 5, 50)
        assert info.value.status == 429 and info.value.retry_after == 3.0
        assert len(server.arrivals) == 1, "a valuation answered 429 is not asked again at once"
        valuations = [asyncio.ensure_future(cache.quote(MINT, WSOL, 10 + i, 50)) for i in range(4)]
        trade = asyncio.ensure_future(executor.quote(WSOL, MINT, TRADE_AMOUNT, 100))
        await async_wait_until(lambda: gate.trading_waiting == 1, 10, what="the trade's quote waiting")
        assert gate.blocked_for() > 0
        assert int((await trade)["inAmount"]) == TRADE_AMOUNT
        for valuation in valuations:
            assert int((await valuation)["outAmount"]) > 0
        amounts = [amount for amount, _ in server.arrivals]
        assert amounts[1] == TRADE_AMOUNT, (
            f"the first request after the Retry-After must be the trade's: {amounts}"
        )
        assert sorted(amounts[2:]) == [10, 11, 12, 13]
        limited_at = server.arrivals[0][1]
        assert all(at - limited_at >= 2.9 for _, at in server.arrivals[1:]), "nothing during Retry-After"
    finally:
        await executor.close()
        await cache.close()
        await server.stop()


@pytest.mark.slow
async def test_a_trade_quote_answered_429_waits_the_retry_after_and_asks_again():
    server = await FakeJupiter({1: "1"}).start()
    state = EngineState("sim")
    executor = SwapApi(server.url, state=state)
    try:
        quote = await executor.quote(WSOL, MINT, TRADE_AMOUNT, 100)
        assert int(quote["inAmount"]) == TRADE_AMOUNT
        assert len(server.arrivals) == 2
        assert server.arrivals[1][1] - server.arrivals[0][1] >= 0.95
    finally:
        await executor.close()
        await server.stop()


async def test_a_retry_after_longer_than_the_timeout_fails_at_once_without_a_request():
    server = await FakeJupiter({1: "20"}).start()
    state = EngineState("sim")
    executor = SwapApi(server.url, state=state, timeout=2)
    cache = SwapApi(server.url, state=state, timeout=2, low_priority=True)
    try:
        with pytest.raises(SwapApiError) as info:
            await executor.quote(WSOL, MINT, TRADE_AMOUNT, 100)
        assert info.value.status == 429 and info.value.retryable
        for client in (executor, cache):  # the engine's other clients know too: no request is sent
            with pytest.raises(SwapApiError) as info:
                await client.quote(WSOL, MINT, TRADE_AMOUNT, 100)
            assert "rate limited (retry after" in str(info.value)
        assert len(server.arrivals) == 1
        other = SwapApi(server.url, state=EngineState("sim"), timeout=2)  # another engine: its own gate
        assert int((await other.quote(WSOL, MINT, 7, 100))["inAmount"]) == 7
        await other.close()
    finally:
        await executor.close()
        await cache.close()
        await server.stop()
