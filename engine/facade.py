"""The engine's public face for the console, the CLI and Telegram: start/stop, commands, snapshot, events."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from engine import commands
from engine.config import ConfigError, Settings
from engine.context import Endpoints, EngineContext
from engine.control import ControlRoutes, remove_control_token, write_control_token
from engine.home_lock import LOCK_FILE, EngineLocked, HomeLock  # noqa: F401 (re-exported)
from engine.inbox import Inbox
from engine.messages import LogEvent
from engine.observability import REDACTOR, HttpServer, log_event_line, setup_logging
from engine.paths import HomePaths, home_paths
from engine.preflight import _embedded_cluster, _rpc_call, _ws_from_http, apply_embedded_defaults, preflight  # noqa: F401 (re-exported)
from engine.state import EngineSnapshot, EngineState, LogLine
from engine.supervisor import Supervisor
from engine.traders import TraderBook, TraderConfig, load_traders, save_traders, traders_file_lock
from engine.traders_file import atomic_write_text
from engine.worker import BaseWorker

log = logging.getLogger("zapbot.engine")

EMBEDDED_RPC_RATE = 1000.0  # requests/s to the embedded cluster when the user set no rate


def default_worker_classes() -> dict[str, type[BaseWorker]]:
    from engine.workers import WORKER_CLASSES

    return dict(WORKER_CLASSES)


class LiveNotConfirmed(ConfigError):
    """Live mode was asked for without --live and a confirmation."""


class HttpPortBusy(ConfigError):
    """The HTTP endpoint cannot listen (the port is taken) and the caller required it."""


class Engine:
    """Runs the supervisor and its workers in the background; never blocks the caller for long."""

    def __init__(
        self,
        settings: Settings,
        *,
        paths: HomePaths | None = None,
        worker_classes: dict[str, type[BaseWorker]] | None = None,
        cluster: Any = None,
        live_confirmed: bool = False,
        http: bool | None = None,
        traders_path: Path | None = None,
        http_required: bool = False,
    ) -> None:
        self.settings = settings
        self.paths = (paths or home_paths()).ensure()
        self.worker_classes = worker_classes or default_worker_classes()
        self.cluster = cluster
        self._owns_cluster = False
        self.live_confirmed = live_confirmed
        self.http_enabled = settings.http.enabled if http is None else http
        # Headless: a busy port stops the start (HttpPortBusy); the console only warns (self.http_error).
        self.http_required = http_required
        self.http_error: str | None = None
        self.lock = HomeLock(self.paths.home)
        self._wrote_runtime = False
        self._listeners: list[Callable[[Any], None]] = []
        self._line_listeners: list[Callable[[Any, str, str], None]] = []
        self.traders_path = traders_path
        self.state = EngineState(settings.mode)
        self.ctx: EngineContext | None = None
        self.supervisor: Supervisor | None = None
        self.http: HttpServer | None = None
        self.control_token = ""  # this start's secret for the control routes (ZAPBOT_HOME/control.token)
        self.started = False
        self._unsubscribe_log: Callable[[], None] | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self, *, wait_ready: float | None = 15.0) -> None:
        settings = self.settings
        setup_logging(self.paths.log_file)
        self._register_secrets()
        if settings.mode == "live" and not self.live_confirmed:
            raise LiveNotConfirmed(
                "live mode needs --live and a typed confirmation; use sim or paper to try it"
            )
        self.lock.acquire()
        if self.lock.took_over:
            self._log(
                "info",
                "engine",
                f"took over the stale lock of engine pid {self.lock.took_over} (not running)",
            )
        try:
            self._start(wait_ready)
        except BaseException:
            # A refused start leaves no lock and no endpoint behind (the caller may never call stop()).
            if not self.started:
                self._stop_http()
                self.lock.release()
            raise

    def _start(self, wait_ready: float | None) -> None:
        settings = self.settings
        keypair = self._load_wallet()
        if self.http_enabled:
            # Before anything trades: a busy port is reported at once (and refuses a headless start).
            self._start_http()
        endpoints, traders = self._resolve_chain()
        self.state.set(wallet=str(keypair.pubkey()) if keypair is not None else None)
        if settings.mode == "sim" and keypair is not None:
            self._fund_operator(endpoints.rpc_urls[0], str(keypair.pubkey()))
        ctx = EngineContext(
            settings=settings,
            paths=self.paths,
            state=self.state,
            traders=traders,
            endpoints=endpoints,
            supervisor_inbox=Inbox(1_000_000),
            keypair=keypair,
            cluster=self.cluster,
            db_path=self.paths.db_for_mode(settings.mode),
        )
        self.ctx = ctx
        self._unsubscribe_log = ctx.bus.subscribe(self._log_events)
        self._unsubscribe_lines = ctx.bus.subscribe(self._log_event_line)
        for listener in self._listeners:
            ctx.bus.subscribe(listener)
        for trader in traders.all():
            self._show_trader(trader)
        self.supervisor = Supervisor(ctx, self.worker_classes)
        self.supervisor.start()
        if wait_ready:
            self.supervisor.wait_ready(wait_ready)
        if self.http is not None and not self.http.error:
            self._write_runtime()
        active = [t.wallet for t in traders.all() if t.active]
        if active:
            self._monitor(active, start=True)
        self.started = True
        where = "the embedded local cluster" if self._owns_cluster else ", ".join(endpoints.rpc_urls)
        self._log(
            "info",
            "engine",
            f"engine started in {settings.mode} mode on {where}; "
            f"copying {len(active)} of {len(traders.all())} trader(s)",
        )

    def _start_http(self) -> None:
        settings = self.settings
        token = settings.http.bearer_token.get_secret_value() if settings.http.bearer_token else None
        self.control_token = write_control_token(self.paths.home)
        REDACTOR.add(self.control_token)
        control = ControlRoutes(lambda: self.ctx if self.started else None, self.control_token)
        self.http = HttpServer(
            self.snapshot, settings.http.host, settings.http.port, token, extra_routes=control.register
        )
        self.http.start()
        if not self.http.error:
            return
        self.http_error = (
            f"HTTP endpoint: {self.http.error}; set another port (ZAPBOT_HTTP_PORT or [http].port) "
            "or run with --no-http"
        )
        if self.http_required:
            raise HttpPortBusy(self.http_error)
        self._log("warning", "engine", f"HTTP endpoint disabled: {self.http.error}")

    def _stop_http(self) -> None:
        if self.http is not None:
            self.http.stop()
        if self.control_token:
            remove_control_token(self.paths.home, self.control_token)
            self.control_token = ""
        if self._wrote_runtime:  # only our own runtime.json: a busy port's may be another engine's
            self._wrote_runtime = False
            try:
                self.paths.runtime.unlink()
            except FileNotFoundError:
                pass

    def stop(self, deadline_s: float | None = None) -> bool:
        ok = True
        if self.supervisor is not None:
            ok = self.supervisor.stop(deadline_s)
        self._stop_http()
        if self.cluster is not None and self._owns_cluster:
            self.cluster.stop()
        self.started = False
        self.lock.release()
        return ok

    def __enter__(self) -> "Engine":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- wiring -------------------------------------------------------------------------------
    def _register_secrets(self) -> None:
        s = self.settings
        for secret in (s.swap_api.api_key, s.telegram.bot_token, s.http.bearer_token, s.rpc.helius_api_key):
            if secret is not None:
                REDACTOR.add(secret.get_secret_value())

    def _load_wallet(self) -> Any:
        from engine.chain.wallet import load_keypair, secret_forms, sim_keypair

        path = self.settings.wallet.keypair_path
        if path:
            keypair = load_keypair(path)
        elif self.settings.mode == "sim":
            keypair = sim_keypair(self.paths.sim_keypair)
        elif self.settings.mode == "paper":
            keypair = None  # paper mode never signs; fills are priced, not sent
        else:
            raise ConfigError("live mode needs a keypair: set KEYPAIR_PATH or [wallet].keypair_path")
        if keypair is not None:
            REDACTOR.add(*secret_forms(keypair))
        return keypair

    def _resolve_chain(self) -> tuple[Endpoints, TraderBook]:
        s = self.settings
        api_key = s.swap_api.api_key.get_secret_value() if s.swap_api.api_key else None
        traders_path = self.traders_path or self.paths.traders
        if s.uses_embedded_cluster:
            if self.cluster is None:
                self.cluster = _embedded_cluster(s)
                self.cluster.start()
                self._owns_cluster = True
            cluster = self.cluster
            if "requests_per_second" not in s.rpc.model_fields_set:
                # The in-process cluster has no rate limit to respect; the default budget is for real RPCs.
                s.rpc.requests_per_second = EMBEDDED_RPC_RATE
            apply_embedded_defaults(s)  # the demo's spend and loss caps, unless the user set them
            # The embedded cluster's traders are followed from the start; their file is kept apart
            # from the real traders.toml so sim wallets never leak into paper or live runs.
            traders_path = self.traders_path or traders_path_for(s, self.paths)
            with traders_file_lock(traders_path):  # a read-modify-write like every other writer's
                traders = load_traders(traders_path) if traders_path.exists() else []
                known = {t.wallet for t in traders}
                for name, wallet in cluster.traders:
                    if wallet not in known and all(t.name != name for t in traders):
                        traders.append(TraderConfig(name=name, wallet=wallet))
                save_traders(traders_path, traders)
            book = TraderBook(traders_path, traders)
            endpoints = Endpoints(
                [cluster.rpc_url], cluster.ws_url, s.swap_api.url or cluster.swap_api_url, api_key
            )
            return endpoints, book
        if not s.rpc.urls:
            raise ConfigError(f"{s.mode} mode needs RPC_URL (or [rpc].urls)")
        ws_url = s.rpc.ws_url or _ws_from_http(s.rpc.urls[0])
        book = TraderBook(traders_path)
        return Endpoints(list(s.rpc.urls), ws_url, s.swap_api_url(), api_key), book

    def _fund_operator(self, rpc_url: str, wallet: str) -> None:
        """Sim mode: top the operator wallet up by requestAirdrop, as a devnet user would."""
        target = int(self.settings.sim.operator_airdrop_sol * 1_000_000_000)
        try:
            balance = _rpc_call(rpc_url, "getBalance", [wallet])["value"]
            if balance < target // 2:
                _rpc_call(rpc_url, "requestAirdrop", [wallet, target - balance])
                balance = target
            self.state.set(sol_balance=balance)
        except Exception as exc:  # the engine still runs; the executor will report insufficient balance
            self._log("warning", "engine", f"airdrop to the operator wallet failed: {exc}")

    def _write_runtime(self) -> None:
        assert self.http is not None
        info = {
            "pid": os.getpid(),
            "host": self.settings.http.host,
            "port": self.http.bound_port,
            "mode": self.settings.mode,
            "started_at": time.time(),
        }
        # atomically: `zapbot status` and the CLI read it while the engine starts
        atomic_write_text(self.paths.runtime, json.dumps(info))
        self._wrote_runtime = True

    def _log_events(self, event: Any) -> None:
        if isinstance(event, LogEvent):
            self.state.add_log(LogLine(event.at, event.level, event.worker, REDACTOR(event.message)))

    def _log_event_line(self, event: Any) -> None:
        """Every decision, fill, failure and restart as one line in threading.log (console or headless)."""
        cache = self.ctx.cache if self.ctx is not None else None
        formatted = log_event_line(
            event, cache.get_decimals if cache is not None else (lambda _mint: None), self.state.symbol
        )
        if formatted is not None:
            for listener in self._line_listeners:
                listener(event, *formatted)

    def _log(self, level: str, worker: str, message: str) -> None:
        getattr(log, level, log.info)(message)
        self.state.add_log(LogLine(time.time(), level, worker, REDACTOR(message)))

    def _show_trader(self, trader: TraderConfig) -> None:
        assert self.ctx is not None
        commands.show_trader(self.ctx, trader)

    def _monitor(self, wallets: list[str], *, start: bool) -> None:
        assert self.ctx is not None
        commands.monitor(self.ctx, wallets, start=start)

    # -- reading ------------------------------------------------------------------------------
    def snapshot(self) -> EngineSnapshot:
        return self.state.snapshot()

    def subscribe(self, callback: Callable[[Any], None]) -> Callable[[], None]:
        """Call callback(event) for every engine event, from engine threads; it must not block."""
        if self.ctx is None:
            raise RuntimeError("engine not started")
        return self.ctx.bus.subscribe(callback)

    def listen_to_lines_from_start(self, callback: Callable[[Any, str, str], None]) -> None:
        """Before start(): call callback(event, level, line) with each line written to threading.log, the
        same string (formatted once: a token's symbol or decimals that arrive in between cannot make the
        two differ). It runs on engine threads: never block."""
        if self.ctx is not None:
            raise RuntimeError("listen_to_lines_from_start() is for before start()")
        self._line_listeners.append(callback)

    def listen_from_start(self, callback: Callable[[Any], None]) -> None:
        """Before start(): call callback(event) for every engine event from the very first one (headless
        output must not miss the trades of the first second). It runs on engine threads: never block."""
        if self.ctx is not None:
            self.ctx.bus.subscribe(callback)
        else:
            self._listeners.append(callback)

    @property
    def traders(self) -> TraderBook:
        assert self.ctx is not None
        return self.ctx.traders

    # -- commands -------------------------------------------------------------------------------
    def start_copying(self, name: str) -> TraderConfig:
        assert self.ctx is not None
        return commands.set_copying(self.ctx, name, True)[0]

    def stop_copying(self, name: str) -> TraderConfig:
        assert self.ctx is not None
        return commands.set_copying(self.ctx, name, False)[0]

    def pause_buys(self) -> bool:
        """Pause buys; sells and exits of open lots are still copied. True if this changed anything."""
        assert self.ctx is not None
        return commands.pause_buys(self.ctx)

    def pause_all(self) -> bool:
        """Pause all copying, sells and exits too; returns True if this changed anything."""
        assert self.ctx is not None
        return commands.pause_all(self.ctx)

    def resume_all(self) -> bool:
        """Resume copying (and clear a tripped kill switch); returns True if this changed anything."""
        assert self.ctx is not None
        return commands.resume_all(self.ctx)[0]

    @property
    def paused(self) -> bool:
        return self.state.paused

    @property
    def pause_mode(self) -> str:
        """ "" | "buys" | "all"."""
        return self.state.pause if self.state.paused else ""

    def add_trader(self, trader: TraderConfig) -> TraderConfig:
        self.traders.add(trader)
        self._show_trader(trader)
        if trader.active:
            self._monitor([trader.wallet], start=True)
        self._log("info", "engine", f"trader {trader.name} added")
        return trader

    def edit_trader(self, name: str, trader: TraderConfig) -> TraderConfig:
        old = self.traders.get(name)
        if old is None:
            raise KeyError(f"no trader named {name!r}")
        self.traders.replace(name, trader)
        if old.name != trader.name:
            self.state.remove_trader(old.name)
        self._show_trader(trader)
        if old.wallet != trader.wallet or old.active != trader.active:
            if old.active:
                self._monitor([old.wallet], start=False)
            if trader.active:
                self._monitor([trader.wallet], start=True)
        self._log("info", "engine", f"trader {trader.name} updated")
        return trader

    def remove_trader(self, name: str) -> TraderConfig:
        trader = self.traders.remove(name)
        self.state.remove_trader(trader.name)  # name may differ in case from the stored spelling
        self._monitor([trader.wallet], start=False)
        self._log("info", "engine", f"trader {trader.name} removed")
        return trader

    def sell_position(self, mint: str, percent: float, lot_id: int | None = None) -> Future:
        """Sell percent of our position in mint (pro rata over its lots), or of one lot. The future resolves
        to the intent id."""
        assert self.ctx is not None
        if not 0 < percent <= 100:
            raise ValueError("percent must be between 0 and 100")
        return commands.request_manual_sell(self.ctx, mint, percent, lot_id)

    def quote_sell(self, mint: str, percent: float, lot_id: int | None = None) -> commands.SellQuote:
        """What selling percent of the position (or of one lot) would return now, from the swap API's quote.
        Blocks for one HTTP call: the console calls it from a thread, before asking to confirm."""
        assert self.ctx is not None
        return asyncio.run(commands.quote_manual_sell(self.ctx, mint, percent, lot_id))

    def in_flight(self) -> int:
        return self.state.in_flight


def traders_path_for(settings: Settings, paths: HomePaths) -> Path:
    """The traders file of this mode: the embedded cluster's traders are kept apart from the real ones."""
    if settings.uses_embedded_cluster:
        return paths.home / "sim-traders.toml"
    return paths.traders
