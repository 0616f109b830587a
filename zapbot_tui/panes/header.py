"""The header: mode, wallet, balance, RPC/WS health, slot, uptime and the PAUSED / KILL SWITCH / LIVE badges."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from engine.state import EngineSnapshot
from zapbot_tui.format import duration, short_key, sol
from zapbot_tui.panes.base import tones


class HeaderPane(Static):
    """Two lines (three in live mode) that always fit 80 columns; badges go first so they are never cut."""

    DEFAULT_CSS = """
    HeaderPane { height: auto; padding: 0 1; background: $panel; }
    """

    def __init__(self) -> None:
        super().__init__(id="header")
        self.badges: list[str] = []
        self._shown: Text | None = None

    def refresh_from(
        self, snapshot: EngineSnapshot | None, *, phase: str = "running", live_pending: bool = False
    ) -> None:
        tone = tones(self.app)
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("⚡ ZapBot ", style="bold")
        mode = snapshot.mode if snapshot else "…"
        mode_style = f"bold reverse {tone['bad']}" if mode == "live" else f"bold {tone['primary']}"
        text.append(f" {mode.upper()} ", style=mode_style)
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
        if snapshot is not None:
            if snapshot.paused:
                badges.append(("PAUSED", f"bold reverse {tone['warn']}"))
            if snapshot.kill_switch:
                badges.append((f"KILL SWITCH: {snapshot.kill_switch}", f"bold reverse {tone['bad']}"))
        self.badges = [label for label, _ in badges]
        for label, style in badges:
            text.append(" ")
            text.append(f" {label} ", style=style)
        if snapshot is not None:
            text.append("  ")
            text.append(short_key(snapshot.wallet), style=tone["accent"])
            text.append(f"  {sol(snapshot.sol_balance_lamports, 3)} SOL", style="bold")
        line2 = Text(no_wrap=True, overflow="ellipsis")
        if snapshot is not None:
            health = snapshot.health
            for label, ok, detail in (
                ("RPC", health.rpc_ok, health.rpc_detail),
                ("WS", health.ws_ok, health.ws_detail),
            ):
                line2.append(f"{label} ")
                line2.append("● ok" if ok else "● down", style=tone["ok"] if ok else tone["bad"])
                if detail and not ok:
                    line2.append(f" ({detail[:18]})", style="dim")
                line2.append("  ")
            line2.append(f"slot {health.slot if health.slot is not None else '—'}  ")
            line2.append(f"up {duration(snapshot.uptime_s)}  ")
            active = sum(1 for trader in snapshot.traders if trader.active)
            line2.append(f"copying {active}/{len(snapshot.traders)}  ")
            line2.append(f"in flight {snapshot.in_flight}")
        else:
            line2.append("engine starting…", style="dim")
        text.append("\n")
        text.append_text(line2)
        if snapshot is not None and snapshot.mode == "live":
            text.append("\n")
            text.append(
                " LIVE MODE — real SOL is spent from this wallet on every copied trade ",
                style=f"bold reverse {tone['bad']}",
            )
        if text != self._shown:  # an unchanged header costs no layout pass
            self._shown = text
            self.update(text)
