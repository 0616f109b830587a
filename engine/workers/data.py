"""The data worker: the single SQLite writer. It runs the StoreClient's operations for other workers."""

from __future__ import annotations

from engine.messages import DataCall
from engine.state import position_view, trade_view
from engine.store import Store, StoreError
from engine.worker import BaseWorker, handles


class DataWorker(BaseWorker):
    """Owns the SQLite connection; every write in the engine goes through here."""

    name = "data"

    async def setup(self) -> None:
        self.store = Store(self.ctx.db_path)
        # Load what the console shows from the database, so a restart keeps history on screen.
        for row in reversed(self.store.intents(limit=self.ctx.state.max_trades)):
            self.ctx.state.upsert_trade(trade_view(row))
        for row in self.store.positions():
            self.ctx.state.set_position(position_view(row), row["mint"])

    async def cleanup(self) -> None:
        store = getattr(self, "store", None)
        if store is not None:
            store.close()

    @handles(DataCall)
    def on_call(self, msg: DataCall) -> None:
        if msg.future.cancelled() or not msg.future.set_running_or_notify_cancel():
            return  # the caller gave up (its worker was restarted); nothing to do
        try:
            result = msg.operation(self.store)
        except StoreError as exc:
            # Surface it (log pane, errors, Telegram) and hand it to the caller; the worker stays up.
            self.emit_log("error", str(exc))
            self.ctx.state.bump("store_errors")
            msg.future.set_exception(exc)
            return
        except Exception as exc:
            msg.future.set_exception(exc)
            return
        if msg.mirror is not None:
            msg.mirror(self.store, result)
        msg.future.set_result(result)
