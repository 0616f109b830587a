"""SQLite store (WAL, migrations by user_version): intents, trade attempts, positions, skips, errors, trader state.

Only the data worker writes through a Store; CLI commands open their own read connections.
"""

from engine.store.base import StoreError, utc_day
from engine.store.core import Store
from engine.store.decisions import DECISION_KEYS, decisions
from engine.store.schema import connect, migrate

__all__ = [
    "DECISION_KEYS",
    "Store",
    "StoreError",
    "connect",
    "decisions",
    "migrate",
    "utc_day",
]
