"""A tiny local JSON-RPC server for RpcPool tests: each request's answer comes from a behaviour function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

Handler = Callable[[dict[str, Any]], Any]


class FakeRpc:
    """A tiny JSON-RPC server; `behaviour(request)` returns a web.Response or a result value."""

    def __init__(self, behaviour: Handler) -> None:
        self.behaviour = behaviour
        self.requests: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        self.requests.append(body)
        outcome = self.behaviour(body)
        if isinstance(outcome, web.StreamResponse):
            return outcome
        return web.Response(
            body=orjson.dumps({"jsonrpc": "2.0", "id": body["id"], "result": outcome}),
            content_type="application/json",
        )

    async def start(self) -> "FakeRpc":
        app = web.Application()
        app.router.add_post("/", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/"
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
