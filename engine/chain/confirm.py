"""Confirmation of our own transactions by signatureSubscribe: one pubsub socket per event loop, a future per
signature, resolved by its signatureNotification. getSignatureStatuses stays the fallback (the caller polls
it slowly while this socket is up, fast while it is down), so a dropped notification or socket only delays."""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

import orjson
import websockets

OPEN_TIMEOUT_S = 5.0
RECONNECT_S = (0.2, 0.5, 1.0, 2.0)  # backoff between connection attempts; the last repeats
MAX_FRAME_BYTES = 1 << 20


class SignatureWatcher:
    """signatureSubscribe at `commitment` for every signature someone waits on; reconnects and resubscribes."""

    def __init__(self, url: str, commitment: str = "confirmed", log: logging.Logger | None = None) -> None:
        self.url = url
        self.commitment = commitment
        self.log = log or logging.getLogger(__name__)
        self._futures: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._by_request: dict[int, str] = {}
        self._by_sub: dict[int, str] = {}
        self._ids = itertools.count(1)
        self._ws: Any = None
        self._task: asyncio.Task | None = None
        self.notifications = 0

    @property
    def up(self) -> bool:
        return self._ws is not None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="signature watcher")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - closing
                pass
            self._task = None
        for future in self._futures.values():
            if not future.done():
                future.cancel()
        self._futures.clear()

    async def wait(self, signature: str, timeout: float) -> dict[str, Any] | None:
        """The signature's status ({err, slot, confirmationStatus}) once notified, or None after timeout."""
        future = self._futures.get(signature)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._futures[signature] = future
            await self._subscribe(signature)
        if future.done():
            return future.result()
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            return None

    def forget(self, signature: str) -> None:
        """Stop watching (the trade has its outcome); a subscription still open ends with the socket's
        next notification for it, or is simply dropped."""
        future = self._futures.pop(signature, None)
        if future is not None and not future.done():
            future.cancel()
        for sub_id, sig in list(self._by_sub.items()):
            if sig == signature:
                del self._by_sub[sub_id]

    # -- the socket ---------------------------------------------------------------------------------------
    async def _subscribe(self, signature: str) -> None:
        ws = self._ws
        if ws is None:
            return  # subscribed when the socket is (re)opened
        request_id = next(self._ids)
        self._by_request[request_id] = signature
        request = {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": "signatureSubscribe",
            "params": [signature, {"commitment": self.commitment}],
        }
        try:
            await ws.send(orjson.dumps(request).decode())
        except websockets.WebSocketException as exc:
            self.log.debug("signatureSubscribe %s: %s", signature[:8], exc)

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                async with websockets.connect(
                    self.url, open_timeout=OPEN_TIMEOUT_S, max_size=MAX_FRAME_BYTES, compression=None
                ) as ws:
                    self._ws = ws
                    failures = 0
                    for signature, future in list(self._futures.items()):
                        if not future.done():
                            await self._subscribe(signature)
                    async for frame in ws:
                        self._on_frame(frame)
            except asyncio.CancelledError:
                raise
            except (TimeoutError, OSError, websockets.WebSocketException) as exc:
                self.log.debug("signature socket: %s", exc)
            finally:
                self._ws = None
                self._by_request.clear()
                self._by_sub.clear()
            await asyncio.sleep(RECONNECT_S[min(failures, len(RECONNECT_S) - 1)])
            failures += 1

    def _on_frame(self, frame: str | bytes) -> None:
        try:
            message = orjson.loads(frame)
        except orjson.JSONDecodeError:
            return
        if not isinstance(message, dict):
            return
        if "id" in message:
            signature = self._by_request.pop(message.get("id"), None)  # type: ignore[arg-type]
            if signature is not None and isinstance(message.get("result"), int):
                self._by_sub[message["result"]] = signature
            return
        if message.get("method") != "signatureNotification":
            return
        params = message.get("params") or {}
        result = params.get("result") or {}
        value = result.get("value")
        if not isinstance(value, dict):
            return  # "receivedSignature": not yet in a block
        signature = self._by_sub.pop(params.get("subscription"), None)  # one notification ends it
        if signature is None:
            return  # a subscription we no longer follow
        future = self._futures.get(signature)
        if future is not None and not future.done():
            self.notifications += 1
            slot = (result.get("context") or {}).get("slot")
            future.set_result({"err": value.get("err"), "slot": slot, "confirmationStatus": self.commitment})
