"""The local cluster's pubsub WebSocket: logs, signature, slot, account and block subscriptions with mainnet's
notification shapes and Helius's transactionSubscribe with its own, pushed the moment a transaction lands.

The cluster confirms a transaction as it lands, so a blockNotification goes out at the same moment as the
transaction's logsNotification (on mainnet both wait for the block's confirmation), holding every
transaction that landed in the same slot in that burst. Chaos applies to the streams as to logs: dropped
sockets (ws_drop_every_s), dropped notifications (drop_notification_ratio), socket latency (ws_latency_ms).
Requests are counted per method (`request_counts`, GET /sim/v1/stats on this port)."""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
import time
from collections import Counter
from typing import Any

import orjson
from aiohttp import WSMsgType, web
from solders.pubkey import Pubkey

from engine.sim.landed import LandedTx
from engine.sim.ledger import Ledger
from engine.sim.rpc_accounts import encode_account
from engine.sim.rpc_params import RpcError
from engine.sim.streams import (
    BlockSubscription,
    TransactionSubscription,
    block_value,
    parse_block_subscribe,
    parse_transaction_subscribe,
    transaction_result,
)

BLOCKHASH_MEMORY = 512  # slots whose blockhash is kept for blockNotification's previousBlockhash


class Connection:
    """One client socket: an ordered outbound queue drained by a writer task."""

    __slots__ = ("chaos", "queue", "subs", "writer", "ws")

    def __init__(self, ws: web.WebSocketResponse, chaos: Any = None) -> None:
        self.ws = ws
        self.chaos = chaos
        # (when it may go out, text): chaos ws_latency_ms delays each frame without reordering them
        self.queue: asyncio.Queue[tuple[float, str] | None] = asyncio.Queue()
        self.subs: dict[int, tuple[str, Any]] = {}
        self.writer: asyncio.Task[None] | None = None

    def send(self, text: str) -> None:
        latency_ms = self.chaos.ws_latency_ms if self.chaos is not None else 0.0
        self.queue.put_nowait((time.monotonic() + latency_ms / 1000 if latency_ms > 0 else 0.0, text))

    async def write_loop(self) -> None:
        ws = self.ws
        queue = self.queue
        try:
            while True:
                item = await queue.get()
                if item is None or ws.closed:
                    return
                due, text = item
                if due:
                    delay = due - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
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
        self.block_mentions: dict[str, dict[int, tuple[Connection, BlockSubscription]]] = {}
        self.block_all: dict[int, tuple[Connection, BlockSubscription]] = {}
        self.transaction_subs: dict[int, tuple[Connection, TransactionSubscription]] = {}
        self.request_counts: Counter[str] = Counter()  # per method, as received (tests: what was asked)
        self._pending_block: list[LandedTx] = []  # landed since the last blockNotification flush
        self._blockhash_of: dict[int, str] = {ledger.slot: ledger.latest_blockhash}
        self._slot_index: tuple[int, int] = (0, 0)  # (slot, transactions landed in it so far)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.loop_thread: int | None = None
        ledger.landed_listeners.append(self.on_landed)
        ledger.slot_listeners.append(self.on_slot)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self.handle)
        app.router.add_get("/sim/v1/stats", self.stats)
        return app

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"requests": dict(self.request_counts), "subscriptions": self.subscription_count()}
        )

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.loop_thread = threading.get_ident()

    # -- socket handling ----------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=16 * 1024 * 1024, heartbeat=None, autoping=True)
        await ws.prepare(request)
        conn = Connection(ws, self.chaos)
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
        self.request_counts[method] += 1
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

    def sub_blockSubscribe(self, conn: Connection, request_id: Any, params: list[Any]) -> str:
        try:
            sub = parse_block_subscribe(params)
        except RpcError as error:
            return _error(request_id, error.code, error.message)
        sub_id = next(self.ids)
        if sub.mentions is None:
            self.block_all[sub_id] = (conn, sub)
        else:
            self.block_mentions.setdefault(sub.mentions, {})[sub_id] = (conn, sub)
        conn.subs[sub_id] = ("block", sub.mentions)
        return self._ok(request_id, sub_id)

    def sub_transactionSubscribe(self, conn: Connection, request_id: Any, params: list[Any]) -> str:
        try:
            sub = parse_transaction_subscribe(params)
        except RpcError as error:
            return _error(request_id, error.code, error.message)
        sub_id = next(self.ids)
        self.transaction_subs[sub_id] = (conn, sub)
        conn.subs[sub_id] = ("transaction", None)
        return self._ok(request_id, sub_id)

    def unsubscribe(self, conn: Connection, request_id: Any, params: list[Any], kind: str) -> str:
        expected = {
            "logs": "logs",
            "signature": "signature",
            "slot": "slot",
            "account": "account",
            "block": "block",
            "transaction": "transaction",
        }.get(kind)
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
        elif kind == "block":
            if key is None:
                self.block_all.pop(sub_id, None)
            else:
                block_subs = self.block_mentions.get(key)
                if block_subs is not None:
                    block_subs.pop(sub_id, None)
                    if not block_subs:
                        del self.block_mentions[key]
        elif kind == "transaction":
            self.transaction_subs.pop(sub_id, None)
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
        blockhashes = self._blockhash_of
        blockhashes[slot] = self.ledger.latest_blockhash
        blockhashes.pop(slot - BLOCKHASH_MEMORY, None)
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
        slot, index = self._slot_index
        index = index if slot == landed.slot else 0
        self._slot_index = (landed.slot, index + 1)
        if self.transaction_subs:
            self._dispatch_transaction(landed, index)
        if self.block_all or self.block_mentions:
            if not self._pending_block:
                # After the callbacks already queued: a burst of landings in one slot becomes one block.
                asyncio.get_running_loop().call_soon(self._flush_blocks)
            self._pending_block.append(landed)
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

    def _dispatch_transaction(self, landed: LandedTx, index: int) -> None:
        for sub_id, (conn, sub) in list(self.transaction_subs.items()):
            if not sub.wants(landed) or self._dropped():
                continue
            result = orjson.dumps(transaction_result(sub, landed, index)).decode()
            conn.send(
                '{"jsonrpc":"2.0","method":"transactionNotification","params":{"subscription":'
                f'{sub_id},"result":{result}}}}}'
            )

    def _flush_blocks(self) -> None:
        landed, self._pending_block = self._pending_block, []
        by_slot: dict[int, list[LandedTx]] = {}
        for tx in landed:
            by_slot.setdefault(tx.slot, []).append(tx)
        ledger = self.ledger
        height_offset = ledger.slot - ledger.block_height  # slots and block heights advance together
        for slot, txs in by_slot.items():
            wanted: dict[int, tuple[Connection, BlockSubscription, list[LandedTx]]] = {
                sub_id: (conn, sub, txs) for sub_id, (conn, sub) in self.block_all.items()
            }
            for tx in txs:
                for key in set(tx.account_keys):
                    for sub_id, (conn, sub) in self.block_mentions.get(key, {}).items():
                        entry = wanted.setdefault(sub_id, (conn, sub, []))
                        if not entry[2] or entry[2][-1] is not tx:
                            entry[2].append(tx)
            for sub_id, (conn, sub, sub_txs) in wanted.items():
                if self._dropped():
                    continue
                value = block_value(
                    sub,
                    slot,
                    sub_txs,
                    blockhash=self._blockhash_of.get(slot, ledger.latest_blockhash),
                    previous_blockhash=self._blockhash_of.get(slot - 1, ""),
                    block_height=slot - height_offset,
                    block_time=txs[0].block_time,
                )
                conn.send(
                    '{"jsonrpc":"2.0","method":"blockNotification","params":{"result":{"context":{"slot":'
                    f'{slot}}},"value":{orjson.dumps(value).decode()}}},"subscription":{sub_id}}}}}'
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
