"""The header: mode, chain, wallet and balance, PnL, today's spend against its cap, exposure, health and badges."""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.widgets import Static

from engine.amounts import sol_to_lamports
from engine.config_tables import LimitsSettings
from engine.state import EngineSnapshot
from zapbot_tui.format import duration, fit, rpc_reason, short_key, signed_sol, sol, wrap_chunks
from zapbot_tui.panes.base import tones

# Skip reasons that stop every buy (not just one token's or one trader's): the header names them as a badge.
BUY_STOPPING_REASONS = (
    "daily spend cap",
    "max open positions",
    "exposure cap",
    "reserve",
    "insufficient balance",
    "balance unknown",
    "kill switch",
)
RECENT_SKIP_S = 120.0  # a limit skip this recent still stops buys, as far as the operator can tell
DETAIL_WIDTH = 40  # a health light's reason is fitted to this, at a word boundary


def utc_today(at: float | None = None) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(at))


def spent_today(snapshot: EngineSnapshot) -> int:
    """Today's spend; 0 once the UTC day has turned since the engine last read it."""
    return snapshot.spent_today_lamports if snapshot.today == utc_today(snapshot.taken_at) else 0


def total_pnl(snapshot: EngineSnapshot) -> int:
    """Realised PnL of every trader plus what the open positions would make at the last price."""
    realised = sum(trader.pnl_lamports for trader in snapshot.traders)
    return realised + sum(p.unrealized_pnl_lamports or 0 for p in snapshot.positions)


def exposure(snapshot: EngineSnapshot) -> int:
    """SOL at cost held in open positions."""
    return sum(position.cost_lamports for position in snapshot.positions)


def buy_limit(snapshot: EngineSnapshot, limits: Any = None) -> str:
    """Why buys are stopped right now, or "": a cap reached by the numbers, else the latest buy skipped for a
    reason that stops every buy within the last two minutes."""
    if limits is not None:
        cap = sol_to_lamports(limits.daily_spend_cap_sol)
        if cap and spent_today(snapshot) >= cap:
            return f"daily spend cap reached ({sol(cap, 2)} SOL)"
        max_exposure = sol_to_lamports(getattr(limits, "max_open_exposure_sol", 0) or 0)
        if max_exposure and exposure(snapshot) >= max_exposure:
            return f"exposure cap reached ({sol(max_exposure, 2)} SOL)"
        max_positions = int(getattr(limits, "max_open_positions", 0) or 0)
        if max_positions and len(snapshot.positions) >= max_positions:
            return f"max open positions ({max_positions}) reached"
    if snapshot.buys_stopped:  # the engine's own record of it (engine/state.py), else the recent trades
        return snapshot.buys_stopped
    for trade in snapshot.trades:
        if trade.side != "buy" or trade.detected_at is None:
            continue
        if snapshot.taken_at - trade.detected_at > RECENT_SKIP_S:
            break
        if trade.status == "skipped" and trade.reason.startswith(BUY_STOPPING_REASONS):
            return trade.reason
        if trade.status in ("executed", "sent", "queued"):
            break  # a later buy went through: nothing stops buys now
    return ""


def send_health(snapshot: EngineSnapshot) -> tuple[bool | None, str]:
    """The send light from the last real sends: (ok, reason); None before anything was sent."""
    return snapshot.health.send_ok, rpc_reason(snapshot.health.send_detail)


class HeaderPane(Static):
    """Pieces of state packed into as many lines as the width needs; a line breaks between pieces, never in
    one, and a piece's free text (a health reason) is shortened at a word boundary. Badges come first."""

    DEFAULT_CSS = """
    HeaderPane { height: auto; padding: 0 1; background: $panel; }
    """

    def __init__(self) -> None:
        super().__init__(id="header")
        self.badges: list[str] = []
        self.pieces: list[str] = []
        self.lines: list[str] = []  # the header as shown, line by line (tests and the layout check read it)
        self._shown: Text | None = None
        self._last: tuple[Any, str, bool] | None = None

    def on_resize(self, _event: Any) -> None:
        if self._last is not None:
            snapshot, phase, live_pending = self._last
            self.refresh_from(snapshot, phase=phase, live_pending=live_pending)

    def _limits(self) -> Any:
        settings = getattr(getattr(self.app, "engine", None), "settings", None)
        return settings.limits if settings is not None else LimitsSettings()

    def refresh_from(
        self, snapshot: EngineSnapshot | None, *, phase: str = "running", live_pending: bool = False
    ) -> None:
        self._last = (snapshot, phase, live_pending)
        tone = tones(self.app)
        pieces: list[Text] = []

        def piece(*parts: tuple[str, str]) -> None:
            text = Text(no_wrap=True)
            for part, style in parts:
                text.append(part, style=style)
            pieces.append(text)

        mode = snapshot.mode if snapshot else "…"
        mode_style = f"bold reverse {tone['bad']}" if mode == "live" else f"bold {tone['primary']}"
        piece(("⚡ ZapBot ", "bold"), (f" {mode.upper()} ", mode_style))
        badges: list[tuple[str, str]] = []
        if phase == "starting":
            badges.append(("STARTING…", f"bold {tone['primary']}"))
        elif phase == "stopping":
            badges.append(("STOPPING…", f"bold reverse {tone['warn']}"))
        elif phase == "stopped":
            badges.append(("STOPPED", f"bold reverse {tone['bad']}"))
        elif phase == "failed":
            badges.append(("ENGINE FAILED", f"bold reverse {tone['bad']}"))
        if live_pending:
            badges.append(("LIVE: NOT CONFIRMED", f"bold reverse {tone['bad']}"))
        limit = ""
        if snapshot is not None:
            if snapshot.pause == "all" and snapshot.paused:
                badges.append(("ALL PAUSED", f"bold reverse {tone['bad']}"))
            elif snapshot.paused:
                badges.append(("BUYS PAUSED", f"bold reverse {tone['warn']}"))
            if snapshot.kill_switch:
                badges.append(
                    (f"KILL SWITCH: {fit(snapshot.kill_switch, DETAIL_WIDTH)}", f"bold reverse {tone['bad']}")
                )
            else:
                limit = buy_limit(snapshot, self._limits())
                if limit:
                    badges.append(
                        (f"BUYS STOPPED: {fit(limit, DETAIL_WIDTH)}", f"bold reverse {tone['warn']}")
                    )
        self.badges = [label for label, _ in badges]
        for label, style in badges:
            piece((f" {label} ", style))
        if snapshot is not None:
            self._state_pieces(snapshot, piece, tone)
        else:
            piece(("engine starting…", "dim"))
        if snapshot is not None and snapshot.mode == "live":
            piece(
                (
                    " LIVE MODE — real SOL is spent from this wallet on every copied trade ",
                    f"bold reverse {tone['bad']}",
                )
            )
        width = max(20, (self.size.width or 80) - 2)
        for index, text in enumerate(pieces):
            if text.cell_len > width:  # only a badge's text can be this long: shorten it at a word
                pieces[index] = Text(fit(text.plain, width), style=text.spans[0].style if text.spans else "")
        self.pieces = [text.plain for text in pieces]
        lines = wrap_chunks(self.pieces, width)
        out = Text(no_wrap=True)
        for number, line in enumerate(lines):
            if number:
                out.append("\n")
            for position, index in enumerate(line):
                if position:
                    out.append("  ")
                out.append_text(pieces[index])
        self.lines = out.plain.splitlines()
        if out != self._shown:  # an unchanged header costs no layout pass
            self._shown = out
            self.update(out)

    def _state_pieces(self, snapshot: EngineSnapshot, piece: Any, tone: dict[str, str]) -> None:
        if snapshot.chain_label:
            piece((snapshot.chain_label, tone["primary"]))
        piece(
            (short_key(snapshot.wallet), tone["accent"]),
            (f" {sol(snapshot.sol_balance_lamports, 3)} SOL", "bold"),
        )
        pnl = total_pnl(snapshot)
        today = snapshot.realized_pnl_today_lamports if snapshot.today == utc_today(snapshot.taken_at) else 0

        def pnl_tone(value: int) -> str:
            return tone["ok"] if value > 0 else tone["bad"] if value < 0 else ""

        piece(
            ("PnL ", "dim"),
            (signed_sol(pnl, 3), pnl_tone(pnl)),
            (" today ", "dim"),
            (signed_sol(today, 3), pnl_tone(today)),
        )
        limits = self._limits()
        spent = spent_today(snapshot)
        if limits is not None:
            cap = sol_to_lamports(limits.daily_spend_cap_sol)
            used = spent / cap if cap else 0.0
            style = tone["bad"] if used >= 1 else tone["warn"] if used >= 0.8 else ""
            piece(("spent ", "dim"), (f"{sol(spent, 2)}/{sol(cap, 2)}", style), (" SOL today", "dim"))
        else:
            piece(("spent ", "dim"), (f"{sol(spent, 2)}", ""), (" SOL today", "dim"))
        piece(("exposure ", "dim"), (f"{sol(exposure(snapshot), 3)} SOL", ""))
        health = snapshot.health
        send_ok, send_detail = send_health(snapshot)
        for label, ok, detail in (
            ("RPC", health.rpc_ok, health.rpc_detail),
            ("WS", health.ws_ok, health.ws_detail),
            ("send", send_ok, send_detail),
        ):
            if ok is None:
                piece((f"{label} ", ""), ("● —", "dim"))
                continue
            word = "● ok" if ok else ("● refused" if label == "send" else "● down")
            parts: list[tuple[str, str]] = [(f"{label} ", ""), (word, tone["ok"] if ok else tone["bad"])]
            if detail and not ok:
                parts.append((f" {fit(detail, DETAIL_WIDTH)}", tone["bad"]))
            piece(*parts)
        piece((f"slot {health.slot if health.slot is not None else '—'}", "dim"))
        piece((f"up {duration(snapshot.uptime_s)}", "dim"))
        active = sum(1 for trader in snapshot.traders if trader.active)
        piece((f"copying {active}/{len(snapshot.traders)}", ""))
        piece((f"in flight {snapshot.in_flight}", ""))
