"""The local cluster's pubsub WebSocket: logs, signature, slot and account subscriptions with mainnet's
notification shapes, pushed the moment a transaction lands."""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
from typing import Any

import orjson
from aiohttp import WSMsgType, web
from solders.pubkey import Pubkey

from engine.sim.landed import LandedTx
from engine.sim.ledger import Ledger
from engine.sim.rpc_accounts import encode_account
from engine.sim.rpc_params import RpcError


class Connection:
    """One client socket: an ordered outbound queue drained by a writer task."""

    __slots__ = ("queue", "subs", "writer", "ws")

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.subs: dict[int, tuple[str, Any]] = {}
        self.writer: asyncio.Task[None] | None = None

    def send(self, text: str) -> None:
        self.queue.put_nowait(text)

    async def write_loop(self) -> None:
        ws = self.ws
        queue = self.queue
        try:
            while True:
                text = await queue.get()
                if text is None or ws.closed:
                    return
                await ws.send_str(text)
        except (ConnectionResetError, RuntimeError):
            return


def _error(request_id: Any, code: int, message: str) -> str:
    return orjson.dumps(
        {"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": request_id}
    ).decode()


class PubsubServer:
    """Subscription registry + aiohttp WebSocket handler. Dispatch runs on the server's loop."""

    def __init__(self, ledger: Ledger, rng: random.Random) -> None:
        self.ledger = ledger
        self.chaos = ledger.chaos
        self.rng = rng
        self.ids = itertools.count(1)
        self.connections: set[Connection] = set()
        self.logs_mentions: dict[str, dict[int, Connection]] = {}
        self.logs_all: dict[int, Connection] = {}
        self.signature_subs: dict[str, dict[int, tuple[Connection, bool]]] = {}
        self.slot_subs: dict[int, Connection] = {}
        self.account_subs: dict[str, dict[int, tuple[Connection, str]]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.loop_thread: int | None = None
        ledger.landed_listeners.append(self.on_landed)
        ledger.slot_listeners.append(self.on_slot)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self.handle)
        return app

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.loop_thread = threading.get_ident()

    # -- socket handling ----------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=16 * 1024 * 1024, heartbeat=None, autoping=True)
        await ws.prepare(request)
        conn = Connection(ws)
        conn.writer = asyncio.ensure_future(conn.write_loop())
        self.connections.add(conn)
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self.on_text(conn, message.data)
                elif message.type == WSMsgType.BINARY:
                    self.on_text(conn, message.data.decode("utf-8", "replace"))
                elif message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            self.drop_connection(conn)
        return ws

    def drop_connection(self, conn: Connection) -> None:
        if conn not in self.connections:
            return
        self.connections.discard(conn)
        for sub_id in list(conn.subs):
            self._remove(conn, sub_id)
        conn.queue.put_nowait(None)

    async def close_all(self, code: int = 1001) -> int:
        """Close every client socket (chaos ws_drop_every_s); returns how many were closed."""
        conns = list(self.connections)
        for conn in conns:
            self.drop_connection(conn)
            await conn.ws.close(code=code, message=b"server going away")
        return len(conns)

    def on_text(self, conn: Connection, text: str) -> None:
        try:
            payload = orjson.loads(text)
        except orjson.JSONDecodeError:
            conn.send(_error(None, -32700, "Parse error"))
            return
        if isinstance(payload, list):
            replies = [self.request(conn, item) for item in payload]
            conn.send("[" + ",".join(r for r in replies if r) + "]")
        else:
            reply = self.request(conn, payload)
            if reply:
                conn.send(reply)

    def request(self, conn: Connection, request: Any) -> str:
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return _error(None, -32600, "Invalid request")
        request_id = request.get("id")
        method = request["method"]
        params = request.get("params") or []
        if not isinstance(params, list):
            return _error(request_id, -32602, "Invalid params")
        handler = getattr(self, "sub_" + method, None)
        if handler is None:
            if method.endswith("Unsubscribe"):
                return self.unsubscribe(conn, request_id, params, method[: -len("Unsubscribe")])
            return _error(request_id, -32601, "Method not found")
        return handler(conn, request_id, params)

    def _ok(self, request_id: Any, result: Any) -> str:
        return orjson.dumps({"jsonrpc": "2.0", "result": result, "id": request_id}).decode()

    # -- subscribe methods --------------------------------------------------------------------

    def sub_logsSubscribe(self, conn: Connection, request_id: Any, params: list[Any]) -> str:
        if not params:
            return _error(request_id, -32602, "Invalid params: missing filter.")
        flt = params[0]
        sub_id = next(self.ids)
        if flt in ("all", "allWithVotes"):
            self.logs_all[sub_id] = conn
            conn.subs[sub_id] = ("logs", None)
            return self._ok(request_id, sub_id)
        if not isinstance(flt, dict) or not isinstance(flt.get("mentions"), list):
            return _error(
                request_id,
                -32602,
                'Invalid params: expected "all", "allWithVotes" or {"mentions": [<pubkey>]}.',
            )
        mentions = flt["mentions"]
        if len(mentions) != 1:
            return _error(request_id, -32602, "Invalid Request: Only 1 address supported")
        try:
            address = str(Pubkey.from_string(mentions[0]))
        except (ValueError, TypeError):
            return _error(request_id, -32602, "Invalid Request: Invalid pubkey provided")
        self.logs_mentions.setdefault(address, {})[sub_id] = conn
        conn.subs[sub_id] = ("logs", address)
        return self._ok(request_id, sub_id)

    def sub_signatureSubscribe(self, conn: Connection, request_id: Any, params: list[Any]) -> str:
        if not params or not isinstance(params[0], str) or not 64 <= len(params[0]) <= 88:
            return _error(request_id, -32602, "Invalid Request: Invalid signature provided")
        signature = params[0]
        config = params[1] if len(params) > 1 and isinstance(params[1], dict) else {}
        sub_id = next(self.ids)
        reply = self._ok(request_id, sub_id)
        landed = self.ledger.get_tx(signature)
        if landed is not None:
            # Already in a block: mainnet answers from the status cache and the subscription ends at once.
            conn.send(reply)
            conn.send(self._signature_note(landed, sub_id))
            return reply_sent
        self.signature_subs.setdefault(signature, {})[sub_id] = (
            conn,
            bool(config.get("enableReceivedNotification")),
        )
        conn.subs[sub_id] = ("signature", signature)
        return reply

    def sub_slotSubscribe(self, conn: Connection, request_id: Any, params: list[Any]) -> str:
        sub_id = next(self.ids)
        self.slot_subs[sub_id] = conn
        conn.subs[sub_id] = ("slot", None)
        return self._ok(request_id, sub_id)

    def sub_accountSubscribe(self, conn: Connection, request_id: Any, params: list[Any]) -> str:
        try:
            address = str(Pubkey.from_string(params[0]))
        except (ValueError, TypeError, IndexError):
            return _error(request_id, -32602, "Invalid Request: Invalid pubkey provided")
        config = params[1] if len(params) > 1 and isinstance(params[1], dict) else {}
        encoding = config.get("encoding") or "base58"
        sub_id = next(self.ids)
        self.account_subs.setdefault(address, {})[sub_id] = (conn, encoding)
        conn.subs[sub_id] = ("account", address)
        return self._ok(request_id, sub_id)

    def unsubscribe(self, conn: Connection, request_id: Any, params: list[Any], kind: str) -> str:
        expected = {"logs": "logs", "signature": "signature", "slot": "slot", "account": "account"}.get(kind)
        if expected is None:
            return _error(request_id, -32601, "Method not found")
        sub_id = params[0] if params else None
        entry = conn.subs.get(sub_id) if isinstance(sub_id, int) else None
        if entry is None or entry[0] != expected:
            return _error(request_id, -32602, "Invalid subscription id.")
        self._remove(conn, sub_id)
        return self._ok(request_id, True)

    def _remove(self, conn: Connection, sub_id: int) -> None:
        kind, key = conn.subs.pop(sub_id, (None, None))
        if kind == "logs":
            if key is None:
                self.logs_all.pop(sub_id, None)
            else:
                subs = self.logs_mentions.get(key)
                if subs is not None:
                    subs.pop(sub_id, None)
                    if not subs:
                        del self.logs_mentions[key]
        elif kind == "signature":
            subs = self.signature_subs.get(key)
            if subs is not None:
                subs.pop(sub_id, None)
                if not subs:
                    del self.signature_subs[key]
        elif kind == "slot":
            self.slot_subs.pop(sub_id, None)
        elif kind == "account":
            subs = self.account_subs.get(key)
            if subs is not None:
                subs.pop(sub_id, None)
                if not subs:
                    del self.account_subs[key]

    # -- notifications ------------------------------------------------------------------------

    def _on_loop(self, callback: Any, *args: Any) -> None:
        if self.loop is None:
            return
        if threading.get_ident() == self.loop_thread:
            callback(*args)
        else:
            self.loop.call_soon_threadsafe(callback, *args)

    def on_landed(self, landed: LandedTx) -> None:
        self._on_loop(self._dispatch_landed, landed)

    def on_slot(self, slot: int, parent: int) -> None:
        if self.slot_subs:
            self._on_loop(self._dispatch_slot, slot, parent)

    def _dropped(self) -> bool:
        ratio = self.chaos.drop_notification_ratio
        if ratio > 0 and self.rng.random() < ratio:
            return True
        return False

    def _signature_note(self, landed: LandedTx, sub_id: int) -> str:
        err = orjson.dumps(landed.err).decode()
        return (
            '{"jsonrpc":"2.0","method":"signatureNotification","params":{"result":{"context":{"slot":'
            f'{landed.slot}}},"value":{{"err":{err}}}}},"subscription":{sub_id}}}}}'
        )

    def _dispatch_landed(self, landed: LandedTx) -> None:
        targets: list[tuple[int, Connection]] = list(self.logs_all.items())
        mentions = self.logs_mentions
        if mentions:
            for key in set(landed.account_keys):
                subs = mentions.get(key)
                if subs:
                    targets.extend(subs.items())
        if targets:
            head = (
                '{"jsonrpc":"2.0","method":"logsNotification","params":{"result":{"context":{"slot":'
                f'{landed.slot}}},"value":' + orjson.dumps(landed.logs_value()).decode() + '},"subscription":'
            )
            for sub_id, conn in targets:
                if self._dropped():
                    continue
                conn.send(f"{head}{sub_id}}}}}")
        sig_subs = self.signature_subs.pop(landed.signature, None)
        if sig_subs:
            for sub_id, (conn, received) in sig_subs.items():
                conn.subs.pop(sub_id, None)
                if self._dropped():
                    continue
                if received:
                    conn.send(
                        '{"jsonrpc":"2.0","method":"signatureNotification","params":{"result":{"context":'
                        f'{{"slot":{landed.slot}}},"value":"receivedSignature"}},"subscription":{sub_id}}}}}'
                    )
                conn.send(self._signature_note(landed, sub_id))
        if self.account_subs:
            for key in set(landed.account_keys):
                subs = self.account_subs.get(key)
                if not subs:
                    continue
                account = self.ledger.get_account(Pubkey.from_string(key))
                for sub_id, (conn, encoding) in subs.items():
                    try:
                        value = encode_account(self.ledger, account, encoding)
                    except RpcError:  # base58 of a large account cannot be encoded; mainnet skips it too
                        value = None
                    if value is None:
                        continue
                    conn.send(
                        orjson.dumps(
                            {
                                "jsonrpc": "2.0",
                                "method": "accountNotification",
                                "params": {
                                    "result": {"context": {"slot": landed.slot}, "value": value},
                                    "subscription": sub_id,
                                },
                            }
                        ).decode()
                    )

    def _dispatch_slot(self, slot: int, parent: int) -> None:
        for sub_id, conn in list(self.slot_subs.items()):
            conn.send(
                '{"jsonrpc":"2.0","method":"slotNotification","params":{"result":{"parent":'
                f'{parent},"root":{max(parent - 1, 0)},"slot":{slot}}},"subscription":{sub_id}}}}}'
            )

    def subscription_count(self) -> int:
        return sum(len(c.subs) for c in self.connections)


reply_sent = ""  # marker: the handler already queued its reply itself
