"""The Scout screen (key S): read a wallet's history, show its figures and charts and what copying it would
have made, and add it as a trader with the settings tried (a)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Label, ProgressBar, Static
from textual_plotext import PlotextPlot

from engine.chain.rpc import RpcError
from engine.config import ConfigError, LimitsSettings
from engine.scout.history import scout_rate_for, scout_wallet
from engine.scout.replay import DEFAULT_DELAY_MS
from engine.scout.report import ScoutReport
from engine.scout.summary import DEFAULT_DAYS, ScoutOutcome, analyse
from engine.traders import TraderConfig, validate_address
from zapbot_tui.commands.scout import duration, resolve_rpc_urls, share, sol
from zapbot_tui.panes.footer import KeyFooter

# Hold-time histogram buckets: (upper bound in ms, label); the last is open-ended.
HOLD_BUCKETS: tuple[tuple[int | None, str], ...] = (
    (10_000, "<10s"),
    (60_000, "10-60s"),
    (600_000, "1-10m"),
    (3_600_000, "10-60m"),
    (4 * 3_600_000, "1-4h"),
    (None, ">4h"),
)


def hold_histogram(holds_ms: list[int]) -> list[tuple[str, int]]:
    """Round trips per hold-time bucket (pure)."""
    counts = [0] * len(HOLD_BUCKETS)
    for hold in holds_ms:
        for index, (upper, _) in enumerate(HOLD_BUCKETS):
            if upper is None or hold < upper:
                counts[index] += 1
                break
    return [(label, count) for (_, label), count in zip(HOLD_BUCKETS, counts)]


def pnl_series(report: ScoutReport) -> tuple[list[float], list[float]]:
    """Cumulative realised PnL in SOL against hours since the first swap (pure)."""
    start = report.first_ms or 0
    hours = [(at - start) / 3_600_000 for at, _ in report.pnl_curve]
    return hours, [pnl / 1e9 for _, pnl in report.pnl_curve]


def report_text(outcome: ScoutOutcome) -> Text:
    """The figures in the report column (about 58 characters wide)."""
    r, h, c = outcome.report, outcome.history, outcome.result
    copy = c.to_json_dict()
    skipped = ", ".join(f"{reason} {count}" for reason, count in c.skipped.most_common(3)) or "none"
    text = Text()

    def line(label: str, value: str, style: str = "") -> None:
        text.append(f"{label:<11}", style="bold")
        text.append(value + "\n", style=style)

    line("Wallet", f"{r.wallet[:20]}…" + (f" ({outcome.followed})" if outcome.followed else ""))
    line(
        "History",
        f"{h.signatures} sigs, {h.fetched} fetched, {h.cached} cached"
        + (", CANCELLED" if h.cancelled else ""),
    )
    line("Swaps", f"{r.swaps} ({r.buys} buys, {r.sells} sells), {r.swaps_per_day:.1f}/day")
    line("Tokens", f"{r.distinct_tokens}, median buy {sol(r.median_buy_lamports)}")
    pnl_style = "green" if r.realised_pnl_lamports > 0 else "red" if r.realised_pnl_lamports < 0 else ""
    line("Realised", f"{sol(r.realised_pnl_lamports, True)} over {r.round_trips} round trips", pnl_style)
    line("Win rate", f"{share(r.win_rate)} ({r.wins} won, {r.losses} lost)")
    line("Best/worst", f"{sol(r.largest_win_lamports, True)} / {sol(r.largest_loss_lamports, True)}")
    line("Hold", f"median {duration(r.median_hold_ms)}, p90 {duration(r.p90_hold_ms)}")
    line("Venues", ", ".join(f"{k} {v}" for k, v in list(r.venues.items())[:3]) or "-")
    flips = f"{r.flipped_buys} of {r.buys} buys sold <60s ({share(r.flip_share)})"
    line(
        "Flips",
        flips + ("  TOO FAST TO COPY" if r.too_fast_to_copy else ""),
        "bold red" if r.too_fast_to_copy else "",
    )
    creation = (
        "unknown" if r.creation_share is None else f"{r.creation_buys_early} of {r.creation_buys_known} buys"
    )
    line("At launch", creation)
    line("Fees", f"{sol(r.fees_lamports, places=6)}, {r.open_tokens} token(s) still open")
    text.append("\n")
    text.append(
        f"If copied: {outcome.trader.sizing_summary()}, {c.delay_ms} ms delay\n", style="bold underline"
    )
    line("Copies", f"{len(c.copies)}; skipped: {skipped}")
    net_style = "green" if c.copy_net_pnl_lamports > 0 else "red" if c.copy_net_pnl_lamports < 0 else ""
    line(
        "Copy net",
        f"{sol(c.copy_net_pnl_lamports, True)} (return {share(copy['copy_return'], 1)})",
        net_style,
    )
    line("Leader", f"{sol(c.leader_realised_pnl_lamports, True)} (return {share(copy['leader_return'], 1)})")
    gap = copy["gap_return"]
    line("Gap", f"{sol(c.gap_lamports, True)}" + (f" ({gap * 100:+.1f} points)" if gap is not None else ""))
    ranked = sorted(r.per_token.items(), key=lambda item: -abs(item[1]["realised_pnl_lamports"]))
    if ranked:
        text.append("\nTokens by realised PnL\n", style="bold underline")
        for mint, entry in ranked[:5]:
            text.append(
                f"  {mint[:8]}…  {entry['swaps']:>4} swaps  {sol(entry['realised_pnl_lamports'], True):>16}\n"
            )
        if len(ranked) > 5:
            text.append(f"  … and {len(ranked) - 5} more\n", style="dim")
    text.append("\na: add as a trader with these settings", style="dim")
    return text


class ScoutProgress(Message):
    def __init__(self, phase: str, done: int, total: int) -> None:
        super().__init__()
        self.phase, self.done, self.total = phase, done, total


class ScoutFinished(Message):
    def __init__(self, outcome: ScoutOutcome | None, error: str | None) -> None:
        super().__init__()
        self.outcome, self.error = outcome, error


class ScoutScreen(Screen):
    """Wallet, days, delay and size on one line; the report on the left, the two charts on the right."""

    BINDINGS: ClassVar = [
        Binding("escape", "back", "Back", tooltip="Cancel a running scout, else back to the dashboard"),
        Binding("a", "add_trader", "Add trader", tooltip="Follow this wallet with the settings tried"),
        Binding("ctrl+r", "scout", "Scout", tooltip="Scout the wallet (also enter in a field)"),
    ]

    DEFAULT_CSS = """
    ScoutScreen { layout: vertical; }
    #scout-form { height: 1; padding: 0 1; }
    #scout-form Label { width: auto; margin: 0 1 0 1; color: $text-muted; }
    #f-wallet { width: 1fr; }
    #f-days, #f-delay, #f-sol { width: 8; }
    #scout-status-row { height: 1; padding: 0 1; }
    #scout-progress { width: 42; }
    #scout-status { width: 1fr; padding-left: 1; }
    #scout-body { height: 1fr; }
    #scout-report { width: 62; border: round $border; padding: 0 1; border-title-color: $primary; }
    #scout-charts { width: 1fr; }
    #pnl-chart, #hold-chart { border: round $border-blurred; height: 1fr; border-title-color: $text-muted; }
    """

    def __init__(
        self,
        engine: Any,
        wallet: str = "",
        *,
        rpc_urls: list[str] | None = None,
        cache_path: Path | None = None,
        outcome: ScoutOutcome | None = None,
    ) -> None:
        super().__init__(id="scout")
        self.engine = engine
        self.initial_wallet = wallet
        self.rpc_urls = rpc_urls
        self.cache_path = cache_path
        self.outcome = outcome
        self.cancel: threading.Event | None = None
        self.running = False
        self.progress: tuple[str, int, int] | None = None

    # -- layout ---------------------------------------------------------------------------------
    def compose(self):  # type: ignore[no-untyped-def]
        trader = self._followed(self.initial_wallet)
        size = trader.fixed_sol if trader is not None else TraderConfig.model_fields["fixed_sol"].default
        with Horizontal(id="scout-form"):
            yield Label("Wallet")
            yield Input(
                self.initial_wallet, placeholder="base58 address, enter to scout", id="f-wallet", compact=True
            )
            yield Label("Days")
            yield Input(f"{DEFAULT_DAYS:g}", id="f-days", compact=True)
            yield Label("Delay ms")
            yield Input(str(DEFAULT_DELAY_MS), id="f-delay", compact=True)
            yield Label("SOL")
            yield Input(f"{size:g}", id="f-sol", compact=True)
        with Horizontal(id="scout-status-row"):
            yield ProgressBar(total=None, show_eta=False, id="scout-progress")
            yield Label("enter a wallet and press enter", id="scout-status")
        with Horizontal(id="scout-body"):
            report = VerticalScroll(Static("", id="scout-report-text"), id="scout-report")
            report.border_title = "Scout"
            report.can_focus = True
            yield report
            with Vertical(id="scout-charts"):
                pnl = PlotextPlot(id="pnl-chart")
                pnl.border_title = "Cumulative realised PnL (SOL) by hour"
                yield pnl
                hold = PlotextPlot(id="hold-chart")
                hold.border_title = "Hold time of round trips"
                yield hold
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        if not getattr(self.app, "cursor_blink", True):
            for field in self.query(Input):
                field.cursor_blink = False
        if self.outcome is not None:
            self.show_outcome(self.outcome)
            self.query_one("#scout-report").focus()
        else:
            self.query_one("#f-wallet", Input).focus()

    # -- settings -------------------------------------------------------------------------------
    def _followed(self, wallet: str) -> TraderConfig | None:
        book = getattr(self.engine, "traders", None)
        return book.by_wallet(wallet) if book is not None and wallet else None

    def _limits(self) -> Any:
        settings = getattr(self.engine, "settings", None)
        return settings.limits if settings is not None else LimitsSettings()

    def _mode(self) -> str:
        settings = getattr(self.engine, "settings", None)
        return settings.mode if settings is not None else getattr(self.app, "mode", "sim")

    def read_form(self) -> tuple[str, float, int, TraderConfig] | str:
        """(wallet, days, delay ms, trader to replay) or the one-line error."""
        raw = {
            key: self.query_one(f"#f-{key}", Input).value.strip()
            for key in ("wallet", "days", "delay", "sol")
        }
        try:
            wallet = validate_address(raw["wallet"])
        except ValueError as exc:
            return "enter a wallet address" if not raw["wallet"] else str(exc)
        try:
            days = float(raw["days"])
            delay = int(raw["delay"])
            size = float(raw["sol"])
        except ValueError:
            return "days and SOL are numbers, the delay whole milliseconds"
        if not (0 < days <= 365 and 0 <= delay and size > 0):
            return "days must be above 0 (at most 365), the delay 0 or more, SOL above 0"
        followed = self._followed(wallet)
        base = followed or TraderConfig(name="scout", wallet=wallet)
        try:
            trader = TraderConfig(**{**base.model_dump(), "sizing": "fixed", "fixed_sol": size})
        except ValueError as exc:
            return str(exc).splitlines()[0]
        return wallet, days, delay, trader

    def _sources(self) -> tuple[list[str], Any, float | None]:
        """RPC URLs, and the engine's state and rate when it runs, so the scout shares its budget."""
        ctx = getattr(self.engine, "ctx", None)
        state = getattr(self.engine, "state", None) if ctx is not None else None
        settings = getattr(self.engine, "settings", None)
        rate = settings.rpc.requests_per_second if settings is not None and state is not None else None
        if self.rpc_urls:
            return list(self.rpc_urls), state, rate
        if ctx is not None:
            return list(ctx.endpoints.rpc_urls), state, rate
        if settings is None:
            raise ConfigError("no RPC to read a history from")
        return resolve_rpc_urls(settings, None), None, None

    # -- actions --------------------------------------------------------------------------------
    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_scout()

    def action_scout(self) -> None:
        if self.running:
            self.notify("a scout is running (esc cancels it)", severity="warning")
            return
        form = self.read_form()
        if isinstance(form, str):
            self._status(form, error=True)
            return
        wallet, days, delay, trader = form
        try:
            urls, state, rate = self._sources()
        except ConfigError as exc:
            self._status(str(exc), error=True)
            return
        self.running = True
        self.cancel = threading.Event()
        bar = self.query_one("#scout-progress", ProgressBar)
        bar.update(total=None, progress=0)
        self._status(f"listing {wallet[:8]}…'s signatures")
        followed = self._followed(wallet)
        args = (wallet, days, delay, trader, urls, state, rate, followed.name if followed else None)
        self.run_worker(lambda: self._scout_thread(*args), thread=True, group="scout", exit_on_error=False)

    def _scout_thread(
        self,
        wallet: str,
        days: float,
        delay: int,
        trader: TraderConfig,
        urls: list[str],
        state: Any,
        rate: float | None,
        followed: str | None,
    ) -> None:
        rps = scout_rate_for(urls)
        try:
            history = asyncio.run(
                scout_wallet(
                    wallet,
                    urls,
                    days=days,
                    cache_path=self.cache_path,
                    requests_per_second=rps,
                    progress=lambda phase, done, total: self.post_message(ScoutProgress(phase, done, total)),
                    cancel=self.cancel,
                    state=state,
                    engine_rate=rate,
                )
            )
            outcome = analyse(
                history,
                trader,
                self._limits(),
                delay_ms=delay,
                days=days,
                allow_unknown_venue=self._mode() == "sim",
                followed=followed,
                exits_settings=getattr(getattr(self.engine, "settings", None), "exits", None),
            )
        except (RpcError, OSError, ValueError) as exc:
            self.post_message(ScoutFinished(None, f"cannot read the history: {exc}"))
        except Exception as exc:  # the screen must leave its running state whatever happened
            self.post_message(ScoutFinished(None, f"scout failed: {type(exc).__name__}: {exc}"))
        else:
            self.post_message(ScoutFinished(outcome, None))

    def on_scout_progress(self, event: ScoutProgress) -> None:
        self.progress = (event.phase, event.done, event.total)
        bar = self.query_one("#scout-progress", ProgressBar)
        if event.phase == "signatures":
            self._status(f"{event.done} signatures listed")
        else:
            bar.update(total=max(event.total, 1), progress=event.done)
            self._status(f"{event.done}/{event.total} transactions (esc cancels)")

    def on_scout_finished(self, event: ScoutFinished) -> None:
        self.running = False
        if event.outcome is None:
            self._status(event.error or "scout failed", error=True)
            return
        self.show_outcome(event.outcome)
        self.query_one("#scout-report").focus()

    def show_outcome(self, outcome: ScoutOutcome) -> None:
        self.outcome = outcome
        history = outcome.history
        bar = self.query_one("#scout-progress", ProgressBar)
        total = max(history.signatures - history.failed, 1)
        bar.update(total=total, progress=total if not history.cancelled else len(history.transactions))
        done = "cancelled: partial history" if history.cancelled else "done"
        self._status(f"{done}: {len(history.transactions)} transactions ({history.cached} from the cache)")
        self.query_one("#scout-report-text", Static).update(report_text(outcome))
        self.query_one("#scout-report").border_title = f"Scout {outcome.report.wallet[:8]}…"
        self._draw_charts(outcome.report)

    def _draw_charts(self, report: ScoutReport) -> None:
        pnl = self.query_one("#pnl-chart", PlotextPlot)
        plt = pnl.plt
        plt.clear_data()
        plt.clear_figure()
        hours, values = pnl_series(report)
        if hours:
            plt.plot(hours, values, marker="braille")
        plt.xlabel("hours since the first swap")
        pnl.refresh()
        hold = self.query_one("#hold-chart", PlotextPlot)
        plt = hold.plt
        plt.clear_data()
        plt.clear_figure()
        buckets = hold_histogram(report.hold_times_ms)
        plt.bar([label for label, _ in buckets], [count for _, count in buckets], width=0.6)
        plt.ylabel("round trips")
        hold.refresh()

    def _status(self, text: str, *, error: bool = False) -> None:
        label = self.query_one("#scout-status", Label)
        label.update(Text(text, style="bold red" if error else ""))

    def action_back(self) -> None:
        if self.running and self.cancel is not None:
            self.cancel.set()
            self._status("cancelling…")
            return
        self.app.pop_screen()

    def action_add_trader(self) -> None:
        outcome = self.outcome
        if outcome is None:
            self.notify("scout a wallet first", severity="warning")
            return
        wallet = outcome.report.wallet
        followed = self._followed(wallet)
        if followed is not None:
            self.notify(f"{wallet[:8]}… is already followed as {followed.name}", severity="warning")
            return
        book = getattr(self.engine, "traders", None)
        names = {t.name for t in book.all()} if book is not None else set()
        name, number = f"scout-{wallet[:6]}", 2
        while name in names:
            name, number = f"scout-{wallet[:6]}-{number}", number + 1
        trader = TraderConfig(
            **{**outcome.trader.model_dump(), "name": name, "wallet": wallet, "active": True}
        )
        try:
            self.engine.add_trader(trader)
        except (KeyError, ValueError, RuntimeError, OSError) as exc:
            self.notify(f"add trader: {exc.args[0] if exc.args else exc}", severity="error")
            return
        self.notify(f"trader {name} added ({trader.sizing_summary()})")
