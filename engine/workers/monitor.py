"""The monitor worker (being built; see its issue)."""
from __future__ import annotations

from engine.worker import BaseWorker


class MonitorWorker(BaseWorker):
    name = "monitor"
