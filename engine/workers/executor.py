"""The executor worker (being built; see its issue)."""
from __future__ import annotations

from engine.worker import BaseWorker


class ExecutorWorker(BaseWorker):
    name = "executor"


def request_manual_sell(ctx, mint: str, percent: float):  # type: ignore[no-untyped-def]
    raise RuntimeError("manual sells are not available yet")
