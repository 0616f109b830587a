"""The websocket worker: pooled pubsub connections holding one logsSubscribe per followed wallet.

Each connection carries up to `engine.subscriptions_per_connection` subscriptions. Subscribe requests are
pipelined (sent back to back, replies matched by id), so 10,000 wallets subscribe in a few round trips'
time. A dropped connection reconnects with exponential backoff and jitter (tenacity), resubscribes its
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
    logs_subscribe_request,
    logs_unsubscribe_request,
    parse_logs_notification,
    subscription_reply,
)
from engine.messages import CoverageChanged, NewTransactions, StartMonitoring, StopMonitoring
from engine.worker import BaseWorker, WorkerDisabled, handles

RECONNECT_BASE_S = 0.25
RECONNECT_CAP_S = 15.0
OPEN_TIMEOUT_S = 10.0
PING_INTERVAL_S = 30.0  # providers close idle sockets (Helius: 10 minutes); a ping keeps them open
MAX_FRAME_BYTES = 8 * 1024 * 1024


class _Dropped(Exception):
    """A socket closed or never came up; the message says why."""


class _Connection:
    """One pubsub socket and the subscriptions it holds."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.wallets: set[str] = set()
        self.sub_of: dict[str, int] = {}  # wallet → confirmed subscription id
        self.wallet_of: dict[int, str] = {}  # subscription id → wallet
        self.pending: dict[int, tuple[str, str]] = {}  # request id → ("sub" | "unsub", wallet)
        self.ws: ClientConnection | None = None
        self.task: asyncio.Task | None = None
        self.covered = False  # every wallet's subscription confirmed on the live socket
        self.awaiting_cover = 0  # subscribe replies still outstanding from the (re)connect batch
        self.down_since: float = time.time()
        self.connected_before = False
        self.closing = False

    def forget_subscriptions(self) -> None:
        self.sub_of.clear()
        self.wallet_of.clear()
        self.pending.clear()
        self.covered = False
        self.awaiting_cover = 0


class WebsocketWorker(BaseWorker):
    name = "websocket"

    async def setup(self) -> None:
        url = self.ctx.endpoints.ws_url
        if not url:
            raise WorkerDisabled("no WebSocket URL; detection relies on polling")
        self.url = url
        self.per_connection = self.ctx.settings.engine.subscriptions_per_connection
        self.commitment = self.ctx.settings.rpc.commitment
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
                conn.wallet_of.pop(sub_id, None)
                await self._unsubscribe(conn, wallet, sub_id)
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

    async def _subscribe(self, conn: _Connection, wallets: list[str], *, initial: bool) -> None:
        ws = conn.ws
        if ws is None:
            return
        if initial:
            conn.awaiting_cover = len(wallets)
            if not wallets:
                self._covered(conn)
        for wallet in wallets:
            request_id = next(self.ids)
            conn.pending[request_id] = ("sub", wallet)
            # Sent back to back without awaiting each reply: replies are matched by id in _on_frame.
            await ws.send(logs_subscribe_request(request_id, wallet, self.commitment))

    async def _unsubscribe(self, conn: _Connection, wallet: str, sub_id: int) -> None:
        ws = conn.ws
        if ws is None:
            return
        request_id = next(self.ids)
        conn.pending[request_id] = ("unsub", wallet)
        try:
            await ws.send(logs_unsubscribe_request(request_id, sub_id))
        except websockets.WebSocketException:
            pass  # the socket is going away; its subscriptions go with it

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
        if message.get("method") == "logsNotification":
            self._on_logs(conn, message.get("params"))
            return
        request_id = message.get("id")
        request = conn.pending.pop(request_id, None) if isinstance(request_id, int) else None
        if request is None:
            return
        kind, wallet = request
        if kind == "unsub":
            return
        sub_id, error = subscription_reply(message)
        if sub_id is not None:
            if wallet in conn.wallets:
                conn.sub_of[wallet] = sub_id
                conn.wallet_of[sub_id] = wallet
            else:  # stopped while the subscribe was in flight
                self.spawn(self._unsubscribe(conn, wallet, sub_id), "unsubscribe")
        else:
            self.ctx.state.bump("ws_subscribe_errors")
            self.emit_log("warning", f"logsSubscribe refused for {wallet[:8]}…: {error}")
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
        wallet = conn.wallet_of.get(note.subscription)
        if wallet is None:
            return  # a subscription being torn down
        self.ctx.state.bump("ws_notifications")
        if note.failed:
            return  # a failed transaction swaps nothing
        if not self.ctx.send("analyzer", NewTransactions(wallet, (note.signature,), "ws", (note.slot,))):
            # The analyzer is saturated: polling delivers this one later (its cut-off has not moved).
            self.ctx.state.bump("ws_dropped_notifications")

    # -- reporting ------------------------------------------------------------------------------------
    def _subscription_count(self) -> int:
        return sum(len(conn.sub_of) for conn in self.connections)

    def _show_status(self) -> str:
        """Shows this worker's health in EngineState (the one place it is kept) and returns its detail."""
        active = [conn for conn in self.connections if conn.wallets]
        up = sum(1 for conn in active if conn.covered)
        subs = self._subscription_count()
        ok = bool(active) and up == len(active)
        if not active:
            detail = "idle: no wallets followed"
        else:
            detail = f"{up}/{len(active)} connections up, {subs} subscriptions"
        self.ctx.state.set_health(ws_ok=ok, ws_detail=detail)
        self.ctx.state.set(subscriptions=subs)
        if active and up < len(active):
            self.set_state(
                "degraded" if up == 0 and any(c.connected_before for c in active) else "ready", detail
            )
        else:
            self.set_state("ready", detail)
        return detail
