"""The Log pane: engine log lines and copy skips with their reasons, newest at the bottom."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog

from engine.state import EngineSnapshot, LogLine
from zapbot_tui.format import clock, mint_label
from zapbot_tui.panes.base import Pane, tones

MAX_LINES_PER_REFRESH = 40
LEVEL_TONE = {"error": "bad", "critical": "bad", "warning": "warn", "info": "plain", "debug": "dim"}


class LogPane(Pane):
    title = "Log and skips"
    pane_id = "log"

    def __init__(self) -> None:
        super().__init__()
        self.view = RichLog(id="log-view", max_lines=500, wrap=False, markup=False, auto_scroll=True)
        self._last_line: LogLine | None = None
        self._seen_skips: set[int] = set()
        self.lines_written = 0

    def compose(self):  # type: ignore[no-untyped-def]
        yield self.view

    def focus_target(self) -> RichLog:
        return self.view

    def refresh_from(self, snapshot: EngineSnapshot) -> None:
        tone = tones(self.app)
        logs = snapshot.logs
        start = 0
        if self._last_line is not None:
            for index in range(len(logs) - 1, -1, -1):
                if logs[index] == self._last_line:
                    start = index + 1
                    break
        # In a storm only the newest lines matter: writing hundreds of lines a frame would stall the UI.
        fresh = logs[start:][-MAX_LINES_PER_REFRESH:]
        for line in fresh:
            text = Text(no_wrap=True, overflow="ellipsis")
            text.append(f"{clock(line.at)} ", style="dim")
            text.append(f"{line.level[:4]:<4} ", style=tone[LEVEL_TONE.get(line.level, "plain")])
            text.append(f"{line.worker:<9} ", style="dim")
            text.append(line.message)
            self.view.write(text)
            self.lines_written += 1
        if logs:
            self._last_line = logs[-1]
        for trade in reversed(snapshot.trades):
            if trade.status != "skipped" or trade.id in self._seen_skips:
                continue
            self._seen_skips.add(trade.id)
            text = Text(no_wrap=True, overflow="ellipsis")
            text.append(f"{clock(trade.detected_at)} ", style="dim")
            text.append("skip ", style=tone["warn"])
            text.append(f"{trade.trader:<9} ", style="dim")
            text.append(f"{trade.side} {mint_label(trade.mint, trade.symbol)}: {trade.reason}")
            self.view.write(text)
            self.lines_written += 1
        if len(self._seen_skips) > 5000:  # bounded memory on a long run; old ids are long gone
            self._seen_skips = {trade.id for trade in snapshot.trades}
