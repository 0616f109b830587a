"""The websocket worker: pooled pubsub connections holding the detection stream's subscriptions.

`[rpc] stream` picks the stream (docs/DETECTION.md, wire format in engine/chain/pubsub.py):
* "logs": one logsSubscribe per wallet; the analyzer then fetches each transaction (getTransaction).
* "block": one blockSubscribe {"mentionsAccountOrProgram": wallet} per wallet (it takes one account); the
  full transactions come in the notification.
* "helius": Helius transactionSubscribe, one subscription with up to 50,000 wallets in accountInclude;
  the full transaction comes in the notification.
A provider that refuses the stream's method (-32601) makes the worker fall back to "logs" on every socket.
A full transaction goes to the analyzer inside NewTransactions, as getTransaction-result bytes.

Each connection carries up to `engine.subscriptions_per_connection` subscriptions (Helius: 50,000 wallets,
in subscriptions of up to 50,000 accounts each). Subscribe requests are pipelined (sent back to back,
replies matched by id), so 10,000 wallets subscribe in a few round trips' time. A dropped connection reconnects with exponential backoff and jitter (tenacity), resubscribes its
wallets, and tells the monitor each change of coverage in one message, CoverageChanged: uncovered when a
socket drops (poll fast), covered again with the time of the gap (backfill it). The worker's health is
shown in EngineState by the worker itself (health.ws_ok/ws_detail). Successful notifications become
NewTransactions(source="ws") for the analyzer, which dedups them against polling by signature.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from typing import Any

import orjson
import websockets
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential
from websockets.asyncio.client import ClientConnection

from engine.chain.pubsub import (
    HELIUS_MAX_ACCOUNT_INCLUDE,
    NOTIFICATION_METHOD,
    StreamNotification,
    block_subscribe_request,
    logs_subscribe_request,
    method_not_found,
    parse_block_notification,
    parse_logs_notification,
    parse_transaction_notification,
    subscription_reply,
    transaction_subscribe_request,
    unsubscribe_request,
)
from engine.messages import CoverageChanged, NewTransactions, StartMonitoring, StopMonitoring
from engine.worker import BaseWorker, WorkerDisabled, handles

RECONNECT_BASE_S = 0.25
RECONNECT_CAP_S = 15.0
OPEN_TIMEOUT_S = 10.0
PING_INTERVAL_S = 30.0  # providers close idle sockets (Helius: 10 minutes); a ping keeps them open
MAX_FRAME_BYTES = 8 * 1024 * 1024
SUBSCRIBE_METHOD = {"logs": "logsSubscribe", "block": "blockSubscribe", "helius": "transactionSubscribe"}


def helius_url(base: str, api_key: str) -> str:
    """The enhanced-websocket URL with its key (wss://mainnet.helius-rpc.com/?api-key=KEY); never logged."""
    if "?" in base:
        return f"{base}&api-key={api_key}"
    return f"{base.rstrip('/')}/?api-key={api_key}"


class _Dropped(Exception):
    """A socket closed or never came up; the message says why."""


class _Connection:
    """One pubsub socket and the subscriptions it holds."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.wallets: set[str] = set()
        self.sub_of: dict[str, int] = {}  # wallet → confirmed subscription id
        # subscription id → the followed wallets it covers (one, except Helius's accountInclude)
        self.wallets_of: dict[int, set[str]] = {}
        self.pending: dict[int, tuple[str, tuple[str, ...]]] = {}  # request id → ("sub" | "unsub", wallets)
        self.ws: ClientConnection | None = None
        self.task: asyncio.Task | None = None
        self.covered = False  # every wallet's subscription confirmed on the live socket
        self.awaiting_cover = 0  # subscribe replies still outstanding from the (re)connect batch
        self.down_since: float = time.time()
        self.connected_before = False
        self.closing = False

    def forget_subscriptions(self) -> None:
        self.sub_of.clear()
        self.wallets_of.clear()
        self.pending.clear()
        self.covered = False
        self.awaiting_cover = 0


class WebsocketWorker(BaseWorker):
    name = "websocket"

    async def setup(self) -> None:
        url = self.ctx.endpoints.ws_url
        if not url:
            raise WorkerDisabled("no WebSocket URL; detection relies on polling")
        rpc = self.ctx.settings.rpc
        self.stream = rpc.stream
        if self.stream == "helius" and self.ctx.settings.mode != "sim" and rpc.helius_api_key is not None:
            # Without a key, ws_url is used as it is (it may be a Helius URL with its key already).
            url = helius_url(rpc.helius_ws_url, rpc.helius_api_key.get_secret_value())
        self.url = url
        self.per_connection = self.ctx.settings.engine.subscriptions_per_connection
        if self.stream == "helius":
            self.per_connection = HELIUS_MAX_ACCOUNT_INCLUDE  # wallets, in as few subscriptions
        self.commitment = rpc.commitment
        self.connections: list[_Connection] = []
        self.conn_of: dict[str, _Connection] = {}
        self.ids = itertools.count(1)
        self.rng = random.Random()
        self.backoff = wait_exponential(multiplier=RECONNECT_BASE_S, max=RECONNECT_CAP_S)
        self._show_status()

    async def cleanup(self) -> None:
        connections = getattr(self, "connections", [])
        wallets = tuple(wallet for conn in connections for wallet in conn.wallets)
        for conn in connections:
            await self._close(conn)
        if wallets and not self._stop:
            # Going down on an error: a restarted instance starts with no sockets (and one that gave up
            # restarting has none at all), so these wallets are uncovered until they are subscribed again.
            detail = "websocket worker down"
            self.ctx.state.set_health(ws_ok=False, ws_detail=detail)
            self.ctx.send("monitor", CoverageChanged(wallets, False, time.time(), detail), force=True)

    # -- commands ---------------------------------------------------------------------------------
    @handles(StartMonitoring)
    async def on_start(self, msg: StartMonitoring) -> None:
        added: dict[int, list[str]] = {}
        for wallet in msg.wallets:
            if wallet in self.conn_of:
                continue
            conn = self._place(wallet)
            added.setdefault(conn.index, []).append(wallet)
        for index, wallets in added.items():
            conn = self.connections[index]
            if conn.task is None or conn.task.done():
                conn.closing = False
                conn.task = self.spawn(self._run(conn), f"ws connection {conn.index}")
            elif conn.ws is not None:
                try:
                    await self._subscribe(conn, wallets, initial=False)
                except websockets.WebSocketException:
                    pass  # the socket just dropped; the reconnect subscribes every wallet it holds
        self._show_status()

    @handles(StopMonitoring)
    async def on_stop(self, msg: StopMonitoring) -> None:
        for wallet in msg.wallets:
            conn = self.conn_of.pop(wallet, None)
            if conn is None:
                continue
            conn.wallets.discard(wallet)
            sub_id = conn.sub_of.pop(wallet, None)
            if sub_id is not None:
                covered = conn.wallets_of.get(sub_id, set())
                covered.discard(wallet)
                if not covered:  # a Helius subscription stays while it covers another followed wallet
                    conn.wallets_of.pop(sub_id, None)
                    await self._unsubscribe(conn, (wallet,), sub_id)
            # A subscribe still in flight is undone when its reply arrives (the wallet is gone by then).
        for conn in self.connections:
            if not conn.wallets and conn.task is not None:
                await self._close(conn)
        self._show_status()

    # -- connections --------------------------------------------------------------------------------
    def _place(self, wallet: str) -> _Connection:
        for conn in self.connections:
            if len(conn.wallets) < self.per_connection and not conn.closing:
                break
        else:
            conn = _Connection(len(self.connections))
            self.connections.append(conn)
        conn.wallets.add(wallet)
        self.conn_of[wallet] = conn
        return conn

    async def _close(self, conn: _Connection) -> None:
        conn.closing = True
        task, conn.task = conn.task, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - closing
                pass
        if conn.ws is not None:
            try:
                await conn.ws.close()
            except Exception:  # noqa: BLE001 - closing
                pass
            conn.ws = None
        conn.forget_subscriptions()
        conn.closing = False

    def _wanted(self, conn: _Connection) -> bool:
        return bool(conn.wallets) and not self._stop and not self.retired

    def _reconnect_wait(self, retry_state: RetryCallState) -> float:
        """RECONNECT_BASE_S doubling per failed attempt up to RECONNECT_CAP_S, times a jitter in [0.5, 1)."""
        return self.backoff(retry_state) * self.rng.uniform(0.5, 1.0)

    async def _run(self, conn: _Connection) -> None:
        """Keep one socket up for as long as it holds wallets.

        One tenacity run retries failed sessions with a growing backoff; a session that came up (connected
        and sent its subscribes) ends the run when it drops, so the next run's backoff starts from the base
        again, after one base-sized wait."""
        while self._wanted(conn):
            retrying = AsyncRetrying(
                retry=retry_if_exception_type(_Dropped),
                wait=self._reconnect_wait,
                stop=lambda _state: not self._wanted(conn),
                reraise=True,
            )
            try:
                await retrying(self._session, conn)
            except _Dropped:
                return  # no longer wanted
            await asyncio.sleep(RECONNECT_BASE_S * self.rng.uniform(0.5, 1.0))

    async def _session(self, conn: _Connection) -> None:
        """One socket from connect to close: returns when it came up and later dropped, raises _Dropped when
        it never came up."""
        reason = "closed"
        up = False
        try:
            async with websockets.connect(
                self.url,
                max_size=MAX_FRAME_BYTES,
                open_timeout=OPEN_TIMEOUT_S,
                ping_interval=PING_INTERVAL_S,
                ping_timeout=PING_INTERVAL_S,
                max_queue=None,
                compression=None,
            ) as ws:
                conn.ws = ws
                await self._subscribe(conn, sorted(conn.wallets), initial=True)
                up = True
                async for frame in ws:
                    self._on_frame(conn, frame)
        except (TimeoutError, OSError, websockets.WebSocketException) as exc:
            reason = type(exc).__name__
        finally:
            was_covered = conn.covered
            conn.ws = None
            conn.forget_subscriptions()
            conn.down_since = time.time()
            if conn.wallets and not conn.closing:
                self._uncovered(conn, reason, was_covered)
        if not up:
            raise _Dropped(reason)

    def _uncovered(self, conn: _Connection, reason: str, was_covered: bool) -> None:
        self.ctx.state.bump("ws_disconnects")
        if was_covered:
            self.log.info("ws connection %d lost (%s); reconnecting", conn.index, reason)
        detail = self._show_status()
        self.ctx.send(
            "monitor", CoverageChanged(tuple(conn.wallets), False, conn.down_since, detail), force=True
        )

    def _requests(self, wallets: list[str]) -> list[tuple[tuple[str, ...], Any]]:
        """(wallets covered, frame builder) per subscribe request of the current stream."""
        commitment = self.commitment
        if self.stream == "helius":
            step = HELIUS_MAX_ACCOUNT_INCLUDE
            return [
                (tuple(chunk), lambda rid, chunk=chunk: transaction_subscribe_request(rid, chunk, commitment))
                for chunk in (wallets[i : i + step] for i in range(0, len(wallets), step))
            ]
        build = block_subscribe_request if self.stream == "block" else logs_subscribe_request
        return [((wallet,), lambda rid, w=wallet: build(rid, w, commitment)) for wallet in wallets]

    async def _subscribe(self, conn: _Connection, wallets: list[str], *, initial: bool) -> None:
        ws = conn.ws
        if ws is None:
            return
        requests = self._requests(wallets)
        if initial:
            conn.awaiting_cover = len(requests)
            if not requests:
                self._covered(conn)
        for covered, frame in requests:
            request_id = next(self.ids)
            conn.pending[request_id] = ("sub", covered)
            # Sent back to back without awaiting each reply: replies are matched by id in _on_frame.
            await ws.send(frame(request_id))

    async def _unsubscribe(self, conn: _Connection, wallets: tuple[str, ...], sub_id: int) -> None:
        ws = conn.ws
        if ws is None:
            return
        request_id = next(self.ids)
        conn.pending[request_id] = ("unsub", wallets)
        try:
            await ws.send(unsubscribe_request(self.stream, request_id, sub_id))
        except websockets.WebSocketException:
            pass  # the socket is going away; its subscriptions go with it

    def _fall_back(self) -> None:
        """The provider does not offer this stream's method: detect with logsSubscribe + getTransaction.

        Every socket is closed; each reconnects and subscribes the logs way, and the drop reports its
        wallets uncovered and then covered with a gap, so the monitor backfills what landed meanwhile."""
        if self.stream == "logs":
            return
        method = SUBSCRIBE_METHOD[self.stream]
        self.stream = "logs"
        self.ctx.state.bump("ws_stream_fallbacks")
        self.emit_log(
            "warning", f"the provider does not offer {method}; detecting with logsSubscribe + getTransaction"
        )
        for other in self.connections:
            if other.ws is not None:
                self.spawn(other.ws.close(), "close for fallback")

    def _covered(self, conn: _Connection) -> None:
        conn.covered = True
        # After a drop, notifications were lost since down_since: the monitor backfills these wallets.
        gap_since = conn.down_since if conn.connected_before else None
        conn.connected_before = True
        detail = self._show_status()
        self.ctx.send("monitor", CoverageChanged(tuple(conn.wallets), True, gap_since, detail), force=True)

    # -- frames ---------------------------------------------------------------------------------------
    def _on_frame(self, conn: _Connection, frame: str | bytes) -> None:
        try:
            message = orjson.loads(frame)
        except orjson.JSONDecodeError:
            self.ctx.state.bump("ws_bad_frames")
            return
        if isinstance(message, list):
            for item in message:
                self._on_message(conn, item)
        else:
            self._on_message(conn, message)

    def _on_message(self, conn: _Connection, message: Any) -> None:
        if not isinstance(message, dict):
            self.ctx.state.bump("ws_bad_frames")
            return
        stream = NOTIFICATION_METHOD.get(message.get("method"))  # type: ignore[arg-type]
        if stream == "logs":
            self._on_logs(conn, message.get("params"))
            return
        if stream == "block":
            self._on_stream(conn, parse_block_notification(message.get("params")), by_keys=False)
            return
        if stream == "helius":
            self._on_stream(conn, parse_transaction_notification(message.get("params")), by_keys=True)
            return
        request_id = message.get("id")
        request = conn.pending.pop(request_id, None) if isinstance(request_id, int) else None
        if request is None:
            return
        kind, wallets = request
        if kind == "unsub":
            return
        sub_id, error = subscription_reply(message)
        if sub_id is not None:
            live = {wallet for wallet in wallets if wallet in conn.wallets}
            if live:
                conn.wallets_of[sub_id] = live
                for wallet in live:
                    conn.sub_of[wallet] = sub_id
            else:  # stopped while the subscribe was in flight
                self.spawn(self._unsubscribe(conn, wallets, sub_id), "unsubscribe")
        elif self.stream != "logs" and method_not_found(message):
            self._fall_back()
        else:
            self.ctx.state.bump("ws_subscribe_errors")
            who = f"{wallets[0][:8]}…" + (f" and {len(wallets) - 1} more" if len(wallets) > 1 else "")
            self.emit_log("warning", f"{SUBSCRIBE_METHOD[self.stream]} refused for {who}: {error}")
        if conn.awaiting_cover > 0:
            conn.awaiting_cover -= 1
            if conn.awaiting_cover == 0:
                self._covered(conn)
        self.ctx.state.set(subscriptions=self._subscription_count())

    def _on_logs(self, conn: _Connection, params: Any) -> None:
        note = parse_logs_notification(params)
        if note is None:
            self.ctx.state.bump("ws_bad_frames")
            return
        covered = conn.wallets_of.get(note.subscription)
        if not covered:
            return  # a subscription being torn down
        wallet = next(iter(covered))
        self.ctx.state.bump("ws_notifications")
        if note.failed:
            return  # a failed transaction swaps nothing
        if not self.ctx.send("analyzer", NewTransactions(wallet, (note.signature,), "ws", (note.slot,))):
            # The analyzer is saturated: polling delivers this one later (its cut-off has not moved).
            self.ctx.state.bump("ws_dropped_notifications")

    def _on_stream(self, conn: _Connection, note: StreamNotification | None, *, by_keys: bool) -> None:
        """A blockNotification (one wallet per subscription) or a Helius transactionNotification (the
        transaction goes to each covered wallet among its account keys): full transactions, no fetch."""
        if note is None:
            self.ctx.state.bump("ws_bad_frames")
            return
        covered = conn.wallets_of.get(note.subscription)
        if not covered:
            return  # a subscription being torn down
        self.ctx.state.bump("ws_notifications")
        if note.error is not None:
            # The node could not send this block (e.g. a transaction version it may not return): the
            # monitor's next poll of these wallets finds what it held.
            self.ctx.state.bump("ws_stream_errors")
            self.log.debug("blockNotification for slot %s carried an error: %s", note.slot, note.error)
            return
        batches: dict[str, tuple[list[str], list[int | None], list[bytes | None]]] = {}
        for tx in note.transactions:
            if tx.failed:
                continue  # a failed transaction swaps nothing
            wallets = [key for key in tx.account_keys if key in covered] if by_keys else list(covered)
            for wallet in dict.fromkeys(wallets):
                signatures, slots, raws = batches.setdefault(wallet, ([], [], []))
                signatures.append(tx.signature)
                slots.append(tx.slot)
                raws.append(tx.raw)
        for wallet, (signatures, slots, raws) in batches.items():
            message = NewTransactions(wallet, tuple(signatures), "ws", tuple(slots), transactions=tuple(raws))
            if not self.ctx.send("analyzer", message):
                self.ctx.state.bump("ws_dropped_notifications")  # polling delivers these later

    # -- reporting ------------------------------------------------------------------------------------
    def _subscription_count(self) -> int:
        """Followed wallets with a confirmed subscription (for Helius, several share one)."""
        return sum(len(conn.sub_of) for conn in self.connections)

    def _show_status(self) -> str:
        """Shows this worker's health in EngineState (the one place it is kept) and returns its detail."""
        active = [conn for conn in self.connections if conn.wallets]
        up = sum(1 for conn in active if conn.covered)
        subs = self._subscription_count()
        ok = bool(active) and up == len(active)
        if not active:
            detail = "idle: no wallets followed"
        elif self.stream == "helius":
            streams = sum(len(conn.wallets_of) for conn in self.connections)
            detail = f"{up}/{len(active)} connections up, {subs} wallets in {streams} transactionSubscribe"
        else:
            detail = f"{up}/{len(active)} connections up, {subs} subscriptions"
            if self.stream == "block":
                detail += " (blockSubscribe)"
        self.ctx.state.set_health(ws_ok=ok, ws_detail=detail)
        self.ctx.state.set(subscriptions=subs)
        if active and up < len(active):
            self.set_state(
                "degraded" if up == 0 and any(c.connected_before for c in active) else "ready", detail
            )
        else:
            self.set_state("ready", detail)
        return detail
