"""The local cluster's Jupiter-compatible swap API (/swap/v1/quote, /swap/v1/swap) and the sim's own
market views (/sim/v1/market, /sim/v1/trades)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from solders.pubkey import Pubkey

from engine.sim.amm import SwapError
from engine.sim.market import Market


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(payload), status=status, content_type="application/json")


def _bad(message: str, code: str = "INVALID_REQUEST") -> web.Response:
    return _json({"error": message, "errorCode": code}, status=400)


class SwapApiServer:
    def __init__(self, market: Market) -> None:
        self.market = market
        # Mints (scenario `sell_route = false`) that can be bought but never sold: no quote sells them.
        self.no_sell_route: set[str] = set()
        self.quotes: dict[str, int] = {}  # /quote requests per input mint (tests see a lot being valued)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/swap/v1/quote", self.quote)
        app.router.add_post("/swap/v1/swap", self.swap)
        app.router.add_get("/sim/v1/market", self.market_view)
        app.router.add_get("/sim/v1/trades", self.trades)
        return app

    async def quote(self, request: web.Request) -> web.Response:
        query = request.query
        try:
            input_mint = query["inputMint"]
            output_mint = query["outputMint"]
            amount = int(query["amount"])
            slippage_bps = int(query.get("slippageBps", "50"))
        except KeyError as missing:
            return _bad(f"Query parameter {missing.args[0]} is required")
        except ValueError:
            return _bad("amount and slippageBps must be integers")
        self.quotes[input_mint] = self.quotes.get(input_mint, 0) + 1
        if input_mint in self.no_sell_route:
            return _bad("No routes found for the input and output mints", "COULD_NOT_FIND_ANY_ROUTE")
        try:
            return _json(
                self.market.quote(
                    input_mint, output_mint, amount, slippage_bps, query.get("swapMode", "ExactIn")
                )
            )
        except SwapError as error:
            return _bad(str(error), error.code)

    async def swap(self, request: web.Request) -> web.Response:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return _bad("request body must be JSON")
        if not isinstance(body, dict) or "userPublicKey" not in body or "quoteResponse" not in body:
            return _bad("userPublicKey and quoteResponse are required")
        try:
            user = Pubkey.from_string(body["userPublicKey"])
        except (ValueError, TypeError):
            return _bad("userPublicKey is not a valid public key")
        if not isinstance(body["quoteResponse"], dict):
            return _bad("quoteResponse must be the object returned by /quote")
        try:
            return _json(
                self.market.build_swap(
                    user,
                    body["quoteResponse"],
                    body.get("prioritizationFeeLamports", "auto"),
                    bool(body.get("dynamicComputeUnitLimit", False)),
                    body.get("computeUnitPriceMicroLamports"),
                )
            )
        except SwapError as error:
            return _bad(str(error), error.code)

    async def market_view(self, request: web.Request) -> web.Response:
        return _json(self.market.market_json())

    async def trades(self, request: web.Request) -> web.Response:
        return _json([trade.as_json() for trade in list(self.market.trades)])
