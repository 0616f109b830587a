"""The Queues pane: each inbox's depth now and a Sparkline of the last few minutes."""

from __future__ import annotations

import time
from collections import deque

from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Label, Sparkline

from engine.state import WORKER_NAMES, EngineSnapshot
from zapbot_tui.panes.base import Pane

HISTORY_SAMPLES = 180  # one sample a second: three minutes of history
SAMPLE_EVERY_S = 1.0


class QueueRow(Horizontal):
    DEFAULT_CSS = """
    QueueRow { height: 1; }
    QueueRow > .queue-name { width: 10; }
    QueueRow > .queue-depth { width: 6; text-align: right; padding-right: 1; }
    QueueRow > Sparkline { width: 1fr; height: 1; }
    """

    def __init__(self, name: str) -> None:
        super().__init__(id=f"queue-{name}")
        self.queue_name = name
        self.history: deque[float] = deque([0.0] * HISTORY_SAMPLES, maxlen=HISTORY_SAMPLES)
        self.depth_label = Label("0", classes="queue-depth")
        self.sparkline = Sparkline(list(self.history))

    def compose(self):  # type: ignore[no-untyped-def]
        yield Label(self.queue_name, classes="queue-name")
        yield self.depth_label
        yield self.sparkline


class QueuesPane(Pane):
    title = "Queues"
    pane_id = "queues"

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, QueueRow] = {}
        self.scroller = VerticalScroll(id="queues-body", can_focus=True)
        self._last_sample = 0.0

    def compose(self):  # type: ignore[no-untyped-def]
        with self.scroller:
            for name in WORKER_NAMES:
                row = QueueRow(name)
                self.rows[name] = row
                yield row

    def focus_target(self) -> VerticalScroll:
        return self.scroller

    def refresh_from(self, snapshot: EngineSnapshot) -> None:
        now = time.monotonic()
        sample = now - self._last_sample >= SAMPLE_EVERY_S
        depths = dict(snapshot.queues)
        for worker in snapshot.workers:
            depths.setdefault(worker.name, worker.inbox_depth)
        for name, depth in depths.items():
            row = self.rows.get(name)
            if row is None:
                row = QueueRow(name)
                self.rows[name] = row
                self.scroller.mount(row)
            text = str(depth)
            if str(row.depth_label.content) != text:
                row.depth_label.update(text)
            if sample:
                row.history.append(float(depth))
                row.sparkline.data = list(row.history)
        if sample:
            self._last_sample = now
