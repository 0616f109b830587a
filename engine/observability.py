"""Logs with secrets redacted, and the HTTP endpoint: /workers/status (JSON), /metrics (Prometheus), /health."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import logging.handlers
import re
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from engine.exits import trigger_label
from engine.latency import latency_families, status_figures
from engine.state import WORKER_STATES, EngineSnapshot

if TYPE_CHECKING:
    from collections.abc import Iterator

log = logging.getLogger("zapbot.http")

# Shapes of secrets we redact even when we were not told the value: Telegram bot tokens in URLs,
# 64-byte keypairs as JSON arrays, and api-key query parameters.
_PATTERNS = [
    re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{30,}\b"),
    re.compile(r"\[\s*(?:\d{1,3}\s*,\s*){63}\d{1,3}\s*\]"),
    re.compile(r"(?i)(api[-_]?key=)[^&\s\"']+"),
]


class Redactor:
    """Replaces known secret strings and secret-shaped text with '***'."""

    def __init__(self) -> None:
        self._secrets: list[str] = []
        self._lock = threading.Lock()

    def add(self, *secrets: str | None) -> None:
        with self._lock:
            for secret in secrets:
                if secret and len(secret) >= 6 and secret not in self._secrets:
                    self._secrets.append(secret)
            self._secrets.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        for pattern in _PATTERNS:
            if pattern.groups:
                text = pattern.sub(lambda m: m.group(1) + "***", text)
            else:
                text = pattern.sub("***", text)
        return text


REDACTOR = Redactor()


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return REDACTOR(super().format(record))


_installed: dict[str, logging.Handler] = {}


def setup_logging(log_file: Path, *, level: int = logging.INFO, console: bool = False) -> None:
    """Rotating threading.log for the 'zapbot' loggers; HTTP client loggers that print URLs are quietened."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    key = str(log_file)
    if key not in _installed:
        for old_key, handler in list(_installed.items()):
            root.removeHandler(handler)
            handler.close()
            del _installed[old_key]
        handler = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=5_000_000, backupCount=3, encoding="utf-8"
        )
        handler.setFormatter(
            RedactingFormatter("%(asctime)s %(levelname)-7s [%(threadName)s] %(name)s: %(message)s")
        )
        root.addHandler(handler)
        _installed[key] = handler
    if console and "console" not in _installed:
        stream = logging.StreamHandler()
        stream.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s"))
        stream.setLevel(logging.WARNING)
        root.addHandler(stream)
        _installed["console"] = stream
    root.setLevel(min(root.level or level, level) if root.level else level)
    logging.getLogger("zapbot").setLevel(level)
    # httpx logs every request URL at INFO, and Telegram's URLs carry the bot token.
    for noisy in (
        "httpx",
        "httpcore",
        "httpx2",
        "httpcore2",
        "telegram",
        "apscheduler",
        "aiohttp.access",
        "websockets",
        "hpack",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# -- status and metrics ------------------------------------------------------------------


def status_document(snapshot: EngineSnapshot) -> dict[str, Any]:
    """The JSON of /workers/status and `zapbot status --json`."""
    return {
        "mode": snapshot.mode,
        "paused": snapshot.paused,
        "pause": snapshot.pause_mode or None,  # "buys" (sells still copied) | "all" | None
        "uptime_s": round(snapshot.uptime_s, 1),
        "wallet": snapshot.wallet,
        "workers": {
            view.name: {
                "state": view.state,
                "detail": view.detail,
                "restarts": view.restarts,
                "inbox_depth": view.inbox_depth,
                "seconds_since_heartbeat": view.last_heartbeat_age_s,
                "messages_handled": view.messages_handled,
            }
            for view in snapshot.workers
        },
        "queues": snapshot.queues,
        "traders": len(snapshot.traders),
        "traders_file": {"path": snapshot.traders_file, "sha256": snapshot.traders_digest},
        "chain": {"genesis_hash": snapshot.chain_id, "label": snapshot.chain_label},
        "monitored_wallets": snapshot.monitored_wallets,
        "subscriptions": snapshot.subscriptions,
        "in_flight": snapshot.in_flight,
        "latency": status_figures(snapshot.latency),  # per trader medians (engine/latency.py)
        "positions": [  # raw base units beside decimals; each position is the sum of its lots
            {
                "mint": position.mint,
                "symbol": position.symbol,
                "decimals": position.decimals,
                "amount": position.amount,
                "cost_lamports": position.cost_lamports,
                "lots": [
                    {"id": lot.id, "trader": lot.trader, "amount": lot.amount}
                    for lot in snapshot.lots
                    if lot.mint == position.mint and lot.amount > 0
                ],
            }
            for position in snapshot.positions
            if position.amount > 0
        ],
        "health": {
            "rpc_ok": snapshot.health.rpc_ok,
            "ws_ok": snapshot.health.ws_ok,
            "slot": snapshot.health.slot,
        },
    }


# Workers trading does not depend on: their trouble shows in /health's body, never in its status code.
OPTIONAL_WORKERS = frozenset({"telegram"})
UNHEALTHY_STATES = frozenset({"failed", "degraded"})


def health_document(snapshot: EngineSnapshot) -> dict[str, Any]:
    """/health: ok (and HTTP 200) while trading works; the optional parts (Telegram) are reported in the
    body under "optional" with their own ok, so an unreachable bot never fails a load balancer's check."""
    trading_bad = [
        v.name for v in snapshot.workers if v.name not in OPTIONAL_WORKERS and v.state in UNHEALTHY_STATES
    ]
    optional = {
        v.name: {"ok": v.state not in UNHEALTHY_STATES, "state": v.state, "detail": REDACTOR(v.detail)}
        for v in snapshot.workers
        if v.name in OPTIONAL_WORKERS
    }
    return {
        "ok": not trading_bad,
        "unhealthy": trading_bad,
        "mode": snapshot.mode,
        "paused": snapshot.paused,
        "pause": snapshot.pause_mode or None,
        "kill_switch": snapshot.kill_switch or None,
        "buys_stopped": snapshot.buys_stopped or None,  # a limit stopping every buy: the engine runs on
        "rpc_ok": snapshot.health.rpc_ok,
        "ws_ok": snapshot.health.ws_ok,
        "optional": optional,
    }


class SnapshotCollector:
    """A Prometheus collector that reads the engine snapshot at scrape time."""

    def __init__(self, snapshot_fn: Callable[[], EngineSnapshot]) -> None:
        self.snapshot_fn = snapshot_fn

    def collect(self) -> "Iterator[Any]":
        snap = self.snapshot_fn()
        depth = GaugeMetricFamily("zapbot_queue_depth", "Messages waiting per worker", labels=["worker"])
        state = GaugeMetricFamily(
            "zapbot_worker_state", "1 for the worker's current state", labels=["worker", "state"]
        )
        restarts = CounterMetricFamily("zapbot_worker_restarts", "Worker restarts", labels=["worker"])
        handled = CounterMetricFamily(
            "zapbot_messages_handled", "Messages handled per worker", labels=["worker"]
        )
        heartbeat = GaugeMetricFamily(
            "zapbot_worker_heartbeat_age_seconds",
            "Seconds since the worker's own last heartbeat",
            labels=["worker"],
        )
        for view in snap.workers:
            depth.add_metric([view.name], snap.queues.get(view.name, view.inbox_depth))
            for name in WORKER_STATES:
                state.add_metric([view.name, name], 1.0 if view.state == name else 0.0)
            restarts.add_metric([view.name], view.restarts)
            handled.add_metric([view.name], view.messages_handled)
            if view.last_heartbeat_age_s is not None:
                heartbeat.add_metric([view.name], view.last_heartbeat_age_s)
        trades = CounterMetricFamily("zapbot_trades", "Copy decisions by status", labels=["status"])
        counts: dict[str, int] = {s: 0 for s in ("queued", "sent", "executed", "failed", "skipped")}
        for trade in snap.trades:
            counts[trade.status] = counts.get(trade.status, 0) + 1
        for status, count in counts.items():
            trades.add_metric([status], count)
        yield from (depth, state, restarts, handled, heartbeat, trades)
        yield GaugeMetricFamily(
            "zapbot_paused",
            "1 when some pause is in force (buys or all)",
            value=1.0 if snap.pause_mode else 0.0,
        )
        pause = GaugeMetricFamily(
            "zapbot_pause", "1 for the pause in force: buys (sells still copied) or all", labels=["mode"]
        )
        for mode in ("buys", "all"):
            pause.add_metric([mode], 1.0 if snap.pause_mode == mode else 0.0)
        yield pause
        yield GaugeMetricFamily("zapbot_monitored_wallets", "Followed wallets", value=snap.monitored_wallets)
        yield GaugeMetricFamily(
            "zapbot_subscriptions", "Live logsSubscribe subscriptions", value=snap.subscriptions
        )
        yield GaugeMetricFamily(
            "zapbot_trades_in_flight", "Trades sent but not confirmed", value=snap.in_flight
        )
        yield GaugeMetricFamily("zapbot_uptime_seconds", "Engine uptime", value=snap.uptime_s)
        if snap.health.slot is not None:
            yield GaugeMetricFamily("zapbot_slot", "Latest slot seen", value=snap.health.slot)
        counters = CounterMetricFamily("zapbot_events", "Engine counters", labels=["name"])
        for name, value in sorted(snap.counters.items()):
            counters.add_metric([name], value)
        yield counters
        yield from latency_families(snap.latency)


def is_loopback(host: str) -> bool:
    if host in {"localhost", ""}:
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HttpServer:
    """aiohttp on its own thread, so the endpoint answers even when workers are busy."""

    def __init__(
        self,
        snapshot_fn: Callable[[], EngineSnapshot],
        host: str,
        port: int,
        bearer_token: str | None = None,
        extra_routes: Callable[[web.Application], None] | None = None,
    ) -> None:
        self.snapshot_fn = snapshot_fn
        self.extra_routes = extra_routes  # the control routes: they carry their own token
        self.host = host
        self.port = port
        self.bearer_token = bearer_token
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(SnapshotCollector(snapshot_fn))  # type: ignore[arg-type]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.error: str | None = None
        self.bound_port: int | None = None

    def _authorised(self, request: web.Request) -> bool:
        if not self.bearer_token:
            return True
        return request.headers.get("Authorization", "") == f"Bearer {self.bearer_token}"

    async def _status(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.Response(status=401, text="unauthorised\n")
        body = orjson.dumps(status_document(self.snapshot_fn()), option=orjson.OPT_INDENT_2)
        return web.Response(body=REDACTOR(body.decode()).encode(), content_type="application/json")

    async def _metrics(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.Response(status=401, text="unauthorised\n")
        return web.Response(
            body=generate_latest(self.registry), headers={"Content-Type": "text/plain; version=0.0.4"}
        )

    async def _health(self, request: web.Request) -> web.Response:
        document = health_document(self.snapshot_fn())
        return web.json_response(document, status=200 if document["ok"] else 503)

    def start(self) -> None:
        if not is_loopback(self.host):
            log.warning(
                "HTTP endpoint bound to %s, not loopback: anyone who can reach it can read status%s",
                self.host,
                "" if self.bearer_token else " (set [http].bearer_token)",
            )
        self._thread = threading.Thread(target=self._run, name="zapbot-http", daemon=True)
        self._thread.start()
        self._ready.wait(5)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        app = web.Application()
        app.router.add_get("/workers/status", self._status)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/health", self._health)
        if self.extra_routes is not None:
            self.extra_routes(app)
        runner = web.AppRunner(app, access_log=None)
        self._runner = runner
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
            loop.run_until_complete(site.start())
            sockets = getattr(site._server, "sockets", None) or []  # noqa: SLF001 - aiohttp exposes no port getter
            self.bound_port = sockets[0].getsockname()[1] if sockets else self.port
        except OSError as exc:
            # aiohttp's strerror repeats the address ("error while attempting to bind on address (...): address
            # already in use"): keep the OS's reason only, for one short line.
            reason = str(exc.strerror or exc).rsplit("): ", 1)[-1]
            self.error = f"cannot listen on {self.host}:{self.port}: {reason}"
            log.error(self.error)
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)


# -- event lines (headless stdout and threading.log) -------------------------------------------------

# Bus events that are plumbing, not something the operator acts on; everything else gets a line.
QUIET_EVENTS = frozenset({"SwapDetected", "CoverageChanged", "WorkerStatus", "WorkerReady", "Ping", "Pong"})
LAMPORTS = 1_000_000_000


def _sol(lamports: int | None) -> str:
    return "? SOL" if lamports is None else f"{lamports / LAMPORTS:.4f} SOL"


def _tokens(amount: int, decimals: int | None) -> str:
    if decimals is None:
        return f"{amount:,} units"
    value = Decimal(amount).scaleb(-decimals)  # exact at the edge
    if value >= 1_000_000:
        return f"{value / 1_000_000:.2f}M"
    if value >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.4g}"


def _why(event: Any) -> str:
    """', take profit' for an exit's event; nothing for a leader copy (the usual case)."""
    trigger = getattr(event, "trigger", "leader")
    return "" if trigger == "leader" else f", {trigger_label(trigger)}"


def _mint(mint: str, symbol: str = "") -> str:
    """'ZAP (7xKX…s9fQ)' once the token's metadata is read, else the short mint."""
    short = mint if len(mint) <= 12 else f"{mint[:4]}…{mint[-4:]}"
    return f"{symbol} ({short})" if symbol else short


def event_line(
    event: Any,
    decimals_of: Callable[[str], int | None] = lambda _mint: None,
    symbol_of: Callable[[str], str] = lambda _mint: "",
) -> tuple[str, str] | None:
    """(level, one human line) for an engine bus event, or None for plumbing events.

    Decisions (copy queued or skipped), fills, failures, restarts and log lines (which carry the executor's
    exits and size adjustments and every worker error) each get one line; unknown event kinds get a
    generic line so a new event is never silent.
    """
    kind = type(event).__name__
    if kind in QUIET_EVENTS:
        return None
    if kind == "LogEvent":
        if event.level == "debug":
            return None
        return event.level, REDACTOR(f"[{event.worker}] {event.message}")
    if kind == "TradeSkipped":
        return (
            "info",
            f"skip   {event.side} {_mint(event.mint, symbol_of(event.mint))} from {event.trader or '?'}: {event.reason}",
        )
    if kind == "TradeQueued":
        return (
            "info",
            f"copy   {event.side} {_mint(event.mint, symbol_of(event.mint))} for {event.trader} (intent #{event.intent_id})",
        )
    if kind == "TradeExecuted":
        tokens = _tokens(event.token_amount, decimals_of(event.mint))
        verb = "bought" if event.side == "buy" else "sold"
        tx = f", tx {event.signature[:12]}…" if event.signature else ""  # paper fills have no transaction
        why = _why(event)
        return "info", (
            f"filled {verb} {tokens} {_mint(event.mint, symbol_of(event.mint))} for {_sol(event.quote_amount)} "
            f"({event.trader}{why}, fee {event.fee_lamports / LAMPORTS:.6f} SOL{tx})"
        )
    if kind == "TradeFailed":
        return "error", REDACTOR(
            f"failed {event.side} {_mint(event.mint, symbol_of(event.mint))} for {event.trader}{_why(event)}: {event.reason}"
        )
    if kind == "KillSwitchTripped":
        return None  # the executor logs "kill switch: …" as an error line at the same moment
    if kind == "WorkerRestarted":
        if event.gave_up:
            return "error", f"worker {event.worker} gave up after {event.restarts} restarts: {event.reason}"
        return "warning", f"worker {event.worker} restarted (restart {event.restarts}): {event.reason}"
    fields = getattr(event, "__dataclass_fields__", None) or {}
    detail = ", ".join(f"{name}={getattr(event, name)!r}" for name in fields)
    return "info", REDACTOR(f"{kind}: {detail}"[:300])


def event_record(event: Any, level: str, line: str) -> dict[str, Any]:
    """The JSON-lines form of an event (`zapbot run --headless --json-log`): when, what, and its fields."""
    import dataclasses
    import time as _time

    record: dict[str, Any] = {
        "ts": round(_time.time(), 3),
        "time": _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime()),
        "event": type(event).__name__,
        "level": level,
        "message": line,
    }
    if dataclasses.is_dataclass(event):
        for item in dataclasses.fields(event):
            value = getattr(event, item.name)
            if isinstance(value, (str, int, float, bool)) or value is None:
                record.setdefault(item.name, REDACTOR(value) if isinstance(value, str) else value)
    return record


trade_log = logging.getLogger("zapbot.events")


def log_event_line(
    event: Any,
    decimals_of: Callable[[str], int | None] = lambda _mint: None,
    symbol_of: Callable[[str], str] = lambda _mint: "",
) -> tuple[str, str] | None:
    """Write the event's line to threading.log and return its (level, line); LogEvents are there already
    (their worker logged them), and give None like the events that have no line."""
    if type(event).__name__ == "LogEvent":
        return None
    formatted = event_line(event, decimals_of, symbol_of)
    if formatted is not None:
        level, line = formatted
        getattr(trade_log, level, trade_log.info)(line)
    return formatted
