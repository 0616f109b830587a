"""The Log pane: engine log lines and copy skips with their reasons, newest first and live like the trades."""

from __future__ import annotations

from engine.state import EngineSnapshot, LogLine
from zapbot_tui.format import clock, mint_label
from zapbot_tui.panes.base import Col, Row, TablePane, cell, tones

LEVEL_TONE = {"error": "bad", "critical": "bad", "warning": "warn", "info": "plain", "debug": "dim"}
MAX_LOG_ROWS = 400


def line_keys(logs: tuple[LogLine, ...]) -> list[str]:
    """A stable key per log line: its time, worker and message, numbered when the very same line repeats."""
    seen: dict[tuple[float, str, str], int] = {}
    keys = []
    for line in logs:
        ident = (line.at, line.worker, line.message)
        count = seen.get(ident, 0)
        seen[ident] = count + 1
        keys.append(f"log:{line.at!r}:{line.worker}:{hash(line.message) & 0xFFFFFFFF:x}:{count}")
    return keys


class LogPane(TablePane):
    title = "Log and skips"
    pane_id = "log"
    live_tail = True
    detail_line = True
    detail_when_cut = True
    max_rows = MAX_LOG_ROWS
    columns = (
        Col("Time", "time", 8),
        Col("Lvl", "level", 4),
        Col("Who", "who", 9, drop=1),
        Col("Message", "message", None, min_width=20),
    )

    def describe(self, key: str, cells: tuple) -> str:  # type: ignore[type-arg]
        time, level, who, message = (c.plain for c in cells)
        return f"{time} {level} {who}: {message}"

    def rows(self, snapshot: EngineSnapshot) -> list[Row]:
        tone = tones(self.app)
        timed: list[tuple[float, int, Row]] = []
        for seq, (key, line) in enumerate(zip(line_keys(snapshot.logs), snapshot.logs)):
            cells = (
                cell(clock(line.at), "dim"),
                cell(line.level[:4], tone[LEVEL_TONE.get(line.level, "plain")]),
                cell(line.worker, "dim"),
                cell(line.message),
            )
            timed.append((line.at, seq, (key, cells)))
        for seq, trade in enumerate(reversed(snapshot.trades)):
            if trade.status != "skipped":
                continue
            cells = (
                cell(clock(trade.detected_at), "dim"),
                cell("skip", tone["warn"]),
                cell(trade.trader, "dim"),
                cell(f"{trade.side} {mint_label(trade.mint, trade.symbol)}: {trade.reason}"),
            )
            timed.append((trade.detected_at or 0.0, seq, (f"skip:{trade.id}", cells)))
        timed.sort(key=lambda item: (item[0], item[1]), reverse=True)
        return [row for _, _, row in timed]
