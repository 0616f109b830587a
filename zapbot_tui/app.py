"""The operator console: ZapBotApp runs the dashboard over an engine facade; run_console is the CLI's entry."""

from __future__ import annotations

import sys
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding
from textual.message import Message

from engine.config import ConfigError, Settings
from engine.messages import TradeExecuted, TradeFailed
from themes import DEFAULT_THEME, THEME_NAMES, next_theme, register_themes
from zapbot_tui.config_io import save_theme
from zapbot_tui.events import EngineEvents, EventPump
from zapbot_tui.format import failure_sentence, sol, token_amount
from zapbot_tui.palette import ZapBotCommands
from zapbot_tui.screens.dialogs import ConfirmScreen, LiveConfirmScreen
from zapbot_tui.screens.main import MainScreen


class EngineStarted(Message):
    """The engine's start() returned (from the starter thread)."""


class EngineFailed(Message):
    """The engine could not start; text is the one line to show."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class EngineStopped(Message):
    """engine.stop() returned; clean is False if a worker missed the deadline."""

    def __init__(self, clean: bool) -> None:
        super().__init__()
        self.clean = clean


class SellFinished(Message):
    """A manual sell's intent was recorded (intent_id) or refused (error)."""

    def __init__(self, sell: "ManualSellWatch", intent_id: int | None, error: str | None) -> None:
        super().__init__()
        self.sell = sell
        self.intent_id = intent_id
        self.error = error


@dataclass
class ManualSellWatch:
    """A manual sell the operator confirmed, waiting for its fill or failure to say so in words."""

    label: str
    decimals: int | None
    intent_id: int | None = None


def fill_text(sell: ManualSellWatch, event: TradeExecuted) -> str:
    return f"filled: {token_amount(event.token_amount, sell.decimals)} {sell.label} for {sol(event.quote_amount, 3)} SOL"


def prestart_resource_tracker() -> None:
    """Start multiprocessing's resource tracker while sys.stderr is still the real one.

    Textual swaps sys.stderr for a capture object whose fileno() is -1 while the app runs; the tracker,
    started lazily by the decode process pool, passes stderr's fd to its child and fails with
    "bad value(s) in fds_to_keep". Started here, it is already running when the pool needs it.
    """
    try:
        from multiprocessing import resource_tracker

        if sys.stderr is not None and sys.stderr.fileno() >= 0:
            resource_tracker.ensure_running()
    except Exception:  # no tracker support (or no real stderr): the pool reports its own error
        pass


class ZapBotApp(App[int]):
    """The console. Give it an Engine (or any object with the facade's methods) and run it.

    start_engine: start the engine in a background thread on mount (skipped if engine.started).
    stop_engine: stop it gracefully on quit. refresh_hz overrides settings.ui.refresh_hz.
    cursor_blink=False keeps snapshots stable. config_path is where the theme choice is remembered.
    """

    TITLE = "ZapBot"
    COMMANDS: ClassVar = App.COMMANDS | {ZapBotCommands}
    BINDINGS: ClassVar = [
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, tooltip="Quit gracefully"),
        Binding("ctrl+c", "help_quit", show=False, system=True),
    ]

    def __init__(
        self,
        engine: Any,
        *,
        theme: str | None = None,
        config_path: Path | None = None,
        start_engine: bool = True,
        stop_engine: bool = True,
        refresh_hz: float | None = None,
        cursor_blink: bool = True,
        persist_theme: bool = True,
    ) -> None:
        super().__init__()
        prestart_resource_tracker()
        self.engine = engine
        settings: Settings | None = getattr(engine, "settings", None)
        ui = settings.ui if settings is not None else None
        self.refresh_hz = refresh_hz or (ui.refresh_hz if ui else 4.0)
        self.cursor_blink = cursor_blink
        self.config_path = config_path
        self.persist_theme = persist_theme
        self.start_engine = start_engine
        self.stop_engine = stop_engine
        self.mode = settings.mode if settings is not None else getattr(engine.snapshot(), "mode", "sim")
        self.live_pending = False
        self.phase = "running" if getattr(engine, "started", False) else "starting"
        self.error_line: str | None = None
        self.pump = EventPump(self.post_message)
        self._unsubscribe: Any = None
        self._start_done = threading.Event()
        if self.phase == "running":
            self._start_done.set()
        self.events_seen = 0
        self.sells: dict[int, ManualSellWatch] = {}  # by intent id, until filled or failed
        self.outcomes: dict[int, Any] = {}  # recent fills and failures, for a sell whose id comes after them
        self.sell_messages: list[str] = []  # what the manual sells said, in order (tests read it)
        register_themes(self)
        wanted = theme or (ui.theme if ui else None) or DEFAULT_THEME
        self.theme_warning = None
        if wanted not in THEME_NAMES and wanted not in self.available_themes:
            self.theme_warning = f"unknown theme {wanted!r}; using {DEFAULT_THEME} ({', '.join(THEME_NAMES)})"
            wanted = DEFAULT_THEME
        self.theme = wanted
        self.main = MainScreen()

    # -- lifecycle -------------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.push_screen(self.main)
        if self.theme_warning:
            self.notify(self.theme_warning, severity="warning")
        if self.phase == "running":
            self._subscribe()
        elif self.start_engine:
            if self.mode == "live":
                self._confirm_live()
            else:
                self._start()
        else:
            self.phase = "stopped"

    def _confirm_live(self) -> None:
        # Nothing is started (so nothing can trade) until the operator types LIVE.
        self.live_pending = True
        keypair = getattr(getattr(self.engine, "settings", None), "wallet", None)
        wallet = getattr(keypair, "keypair_path", None) or "the configured keypair"

        def answered(text: str | None) -> None:
            self.live_pending = False
            if text is None:
                self.phase = "stopped"
                self._start_done.set()
                self.exit(1)
                return
            self._start()

        self.push_screen(LiveConfirmScreen(str(wallet)), answered)

    def _start(self) -> None:
        self.phase = "starting"
        self.run_worker(self._start_in_thread, thread=True, name="engine-start", exit_on_error=False)

    def _start_in_thread(self) -> None:
        try:
            self.engine.start()
        except ConfigError as exc:
            self.post_message(EngineFailed(str(exc)))
        except Exception as exc:  # an unexpected failure still gets one line, not a traceback
            self.post_message(EngineFailed(f"engine failed to start: {type(exc).__name__}: {exc}"))
        else:
            self.post_message(EngineStarted())
        finally:
            self._start_done.set()

    def on_engine_started(self, _: EngineStarted) -> None:
        if self.phase == "starting":
            self.phase = "running"
            self._subscribe()
            self.main.refresh_view()

    def on_engine_failed(self, event: EngineFailed) -> None:
        self.phase = "failed"
        self.error_line = event.text
        self.notify(event.text, title="engine", severity="error", timeout=30)
        self.main.refresh_view()

    def _subscribe(self) -> None:
        try:
            self._unsubscribe = self.engine.subscribe(self.pump)
        except Exception:
            self._unsubscribe = None

    def take_snapshot(self) -> Any:
        if self.phase in ("running", "stopping") or getattr(self.engine, "started", False):
            try:
                return self.engine.snapshot()
            except Exception:
                return None
        return None

    # -- events from engine threads --------------------------------------------------------------
    def on_engine_events(self, _: EngineEvents) -> None:
        events = self.pump.drain()
        self.events_seen += len(events)
        failed = []
        for event in events:
            if isinstance(event, (TradeExecuted, TradeFailed)):
                self.outcomes[event.intent_id] = event
                sell = self.sells.pop(event.intent_id, None)
                if sell is not None:
                    self._say_outcome(sell, event)
                elif isinstance(event, TradeFailed):
                    failed.append(event)
        while len(self.outcomes) > 500:
            self.outcomes.pop(next(iter(self.outcomes)))
        if failed:
            last = failed[-1]
            more = f" (+{len(failed) - 1} more)" if len(failed) > 1 else ""
            text = f"{last.trader} {last.side} failed: {failure_sentence(last.reason)}{more}"
            self.notify(text, severity="error")
        if self.screen is self.main:
            self.main.refresh_soon()

    def _say(self, text: str, severity: str = "information") -> None:
        self.sell_messages.append(text)
        self.notify(text, severity=severity, timeout=10)  # type: ignore[arg-type]

    def _say_outcome(self, sell: ManualSellWatch, event: Any) -> None:
        if isinstance(event, TradeExecuted):
            self._say(fill_text(sell, event))
        else:
            self._say(f"sell of {sell.label} failed: {failure_sentence(event.reason)}", "error")

    def track_sell(self, label: str, decimals: int | None, future: Future) -> None:
        """Follow a confirmed manual sell: its intent id comes from future (on an engine thread), then its
        TRADE_EXECUTED or TRADE_FAILED says "filled: 1.23M ZAP for 0.052 SOL" or why it failed."""
        sell = ManualSellWatch(label, decimals)

        def done(resolved: Future) -> None:
            try:
                intent_id = int(resolved.result(timeout=0))
            except Exception as exc:
                self.post_message(SellFinished(sell, None, str(exc) or type(exc).__name__))
            else:
                self.post_message(SellFinished(sell, intent_id, None))

        future.add_done_callback(done)

    def on_sell_finished(self, event: SellFinished) -> None:
        if event.error or event.intent_id is None:
            self._say(f"sell {event.sell.label} refused: {event.error}", "error")
            return
        event.sell.intent_id = event.intent_id
        outcome = self.outcomes.get(event.intent_id)
        if outcome is not None:  # it landed before its id came back
            self._say_outcome(event.sell, outcome)
        else:
            self.sells[event.intent_id] = event.sell
            self.notify(f"sell {event.sell.label} queued (trade #{event.intent_id})")

    # -- theme -------------------------------------------------------------------------------------
    def cycle_theme(self) -> str:
        self.theme = next_theme(self.theme)
        self.notify(f"theme: {self.theme}", timeout=2)
        self.remember_theme()
        self.main.refresh_view()
        return self.theme

    def theme_config_path(self) -> Path | None:
        if self.config_path is not None:
            return Path(self.config_path)
        paths = getattr(self.engine, "paths", None)
        return getattr(paths, "config", None)

    def remember_theme(self) -> None:
        path = self.theme_config_path()
        if not self.persist_theme or path is None:
            return
        try:
            save_theme(path, self.theme)
        except Exception as exc:  # a read-only or broken config must not break the console
            self.notify(f"could not remember the theme in {path}: {exc}", severity="warning")

    # -- quitting ----------------------------------------------------------------------------------
    async def action_quit(self) -> None:
        self.request_quit()

    def request_quit(self) -> None:
        """q: ask first if trades are in flight, then stop the engine gracefully and exit."""
        if self.phase in ("stopping",):
            return
        snapshot = self.take_snapshot()
        in_flight = getattr(snapshot, "in_flight", 0) if snapshot is not None else 0
        if in_flight:

            def answered(yes: bool | None) -> None:
                if yes:
                    self.shutdown()

            self.push_screen(
                ConfirmScreen(
                    "Trades in flight",
                    f"{in_flight} trade(s) are still in flight. Quit anyway? The engine lets them finish "
                    "(up to its shutdown deadline) before it exits.",
                    yes="Quit",
                ),
                answered,
            )
            return
        self.shutdown()

    def shutdown(self) -> None:
        if self.phase == "stopping":
            return
        previous = self.phase
        self.phase = "stopping"
        self.main.refresh_view()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if (
            not self.stop_engine
            or previous in ("failed", "stopped")
            and not getattr(self.engine, "started", False)
        ):
            self.exit(0 if previous != "failed" else 2)
            return
        self.run_worker(self._stop_in_thread, thread=True, name="engine-stop", exit_on_error=False)

    def _stop_in_thread(self) -> None:
        self._start_done.wait(timeout=60)
        clean = True
        try:
            if getattr(self.engine, "started", False):
                clean = bool(self.engine.stop())
        except Exception:
            clean = False
        self.post_message(EngineStopped(clean))

    def on_engine_stopped(self, event: EngineStopped) -> None:
        self.phase = "stopped"
        self.exit(0 if event.clean else 1)


def run_console(*, settings: Settings, theme: str | None, live: bool, config_path: Path | None) -> int:
    """`zapbot` with no subcommand: build the engine, run the console, stop everything, return an exit code."""
    from engine.facade import Engine

    if theme is not None and theme not in THEME_NAMES:
        print(f"zapbot: unknown theme {theme!r}; use one of {', '.join(THEME_NAMES)}", file=sys.stderr)
        return 2
    engine = Engine(settings, live_confirmed=live)
    app = ZapBotApp(engine, theme=theme, config_path=config_path)
    if theme is not None:
        app.remember_theme()
    try:
        code = app.run()
    finally:
        if engine.started:  # the app crashed before its graceful stop
            engine.stop()
    if app.error_line:
        print(f"zapbot: {app.error_line}", file=sys.stderr)
        return 2
    return int(code or 0)
