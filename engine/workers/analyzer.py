"""The analyzer worker (being built; see its issue)."""
from __future__ import annotations

from engine.worker import BaseWorker


class AnalyzerWorker(BaseWorker):
    name = "analyzer"
