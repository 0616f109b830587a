"""The Workers pane: each worker's state, restarts, inbox depth and heartbeat age."""

from __future__ import annotations

from engine.state import EngineSnapshot
from zapbot_tui.format import age
from zapbot_tui.panes.base import Col, Row, TablePane, cell, tones

STATE_TONE = {
    "ready": "ok",
    "busy": "primary",
    "initializing": "dim",
    "restarting": "warn",
    "degraded": "warn",
    "failed": "bad",
    "stopped": "dim",
    "disabled": "dim",
}


class WorkersPane(TablePane):
    title = "Workers"
    pane_id = "workers"
    columns = (
        Col("Worker", "name", 9),
        Col("State", "state", 12),
        Col("Rst", "restarts", 3),
        Col("Inbox", "inbox", 5, drop=2),
        Col("Beat", "beat", 4, drop=1),
        Col("Detail", "detail", None, drop=3, min_width=16),
    )

    def rows(self, snapshot: EngineSnapshot) -> list[Row]:
        tone = tones(self.app)
        rows: list[Row] = []
        for worker in snapshot.workers:
            state_style = tone[STATE_TONE.get(worker.state, "plain")]
            rows.append(
                (
                    worker.name,
                    (
                        cell(worker.name),
                        cell(worker.state, state_style),
                        cell(worker.restarts, tone["warn"] if worker.restarts else "", "right"),
                        cell(worker.inbox_depth, "", "right"),
                        cell(age(worker.last_heartbeat_age_s), "", "right"),
                        cell(worker.detail, "dim"),
                    ),
                )
            )
        return rows
