"""The seven workers, by name."""

from __future__ import annotations

from engine.worker import BaseWorker
from engine.workers.analyzer import AnalyzerWorker
from engine.workers.cache import CacheWorker
from engine.workers.data import DataWorker
from engine.workers.executor import ExecutorWorker
from engine.workers.monitor import MonitorWorker
from engine.workers.telegram import TelegramWorker
from engine.workers.websocket import WebsocketWorker

WORKER_CLASSES: dict[str, type[BaseWorker]] = {
    "telegram": TelegramWorker,
    "monitor": MonitorWorker,
    "executor": ExecutorWorker,
    "data": DataWorker,
    "websocket": WebsocketWorker,
    "cache": CacheWorker,
    "analyzer": AnalyzerWorker,
}
