"""The data worker: the single SQLite writer. It runs Store calls for other workers and mirrors results into state."""

from __future__ import annotations

from typing import Any

from engine.messages import (
    DataCall,
    LogEvent,
    TradeExecuted,
    TradeFailed,
    TradeQueued,
    TradeSkipped,
)
from engine.state import LogLine, PositionView, TradeView
from engine.store import Store, StoreError
from engine.worker import BaseWorker, handles


def trade_view(row: dict[str, Any]) -> TradeView:
    status = row["status"]
    return TradeView(
        id=int(row["id"]),
        leader_signature=row["leader_signature"],
        trader=row["trader"],
        side=row["side"],
        mint=row["mint"],
        status="queued" if status == "pending" else status,
        reason=row.get("reason") or "",
        signature=row.get("signature"),
        token_amount=int(row.get("token_amount") or 0),
        quote_amount=int(row.get("quote_amount") or 0),
        token_decimals=row.get("token_decimals"),
        detected_at=row.get("detected_at"),
        queued_at=row.get("queued_at"),
        sent_at=row.get("sent_at"),
        confirmed_at=row.get("confirmed_at"),
    )


def position_view(row: dict[str, Any]) -> PositionView:
    return PositionView(
        mint=row["mint"],
        amount=int(row["amount"]),
        cost_lamports=int(row["cost_lamports"]),
        realized_pnl_lamports=int(row["realized_pnl_lamports"]),
        decimals=row.get("decimals"),
        opened_at=row.get("opened_at"),
    )


# Store methods whose result changes what the console shows, and how to mirror it.
_INTENT_METHODS = {"record_intent", "update_intent"}


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
        method = getattr(self.store, msg.method, None)
        if method is None or msg.method.startswith("_"):
            msg.future.set_exception(AttributeError(f"Store has no method {msg.method}"))
            return
        try:
            result = method(*msg.args, **msg.kwargs)
        except StoreError as exc:
            # Surface it (log pane, errors, Telegram) and hand it to the caller; the worker stays up.
            self.emit_log("error", str(exc))
            self.ctx.state.bump("store_errors")
            msg.future.set_exception(exc)
            return
        except Exception as exc:
            msg.future.set_exception(exc)
            return
        self._mirror(msg.method, msg.args, msg.kwargs, result)
        msg.future.set_result(result)

    def _mirror(self, method: str, args: tuple, kwargs: dict, result: Any) -> None:
        state = self.ctx.state
        if method == "update_intent" and isinstance(result, dict):
            state.upsert_trade(trade_view(result))
        elif method == "record_intent":
            intent_id, _created = result
            state.upsert_trade(trade_view(self.store.get_intent(intent_id)))
        elif method == "apply_fill":
            row = self.store.position(result.mint)
            state.set_position(position_view(row) if row else None, result.mint)
        elif method == "record_skip":
            view = TradeView(
                id=-int(result),
                leader_signature=kwargs.get("leader_signature", ""),
                trader=kwargs.get("trader", ""),
                side=kwargs.get("side", ""),
                mint=kwargs.get("mint", ""),
                status="skipped",
                reason=kwargs.get("reason", ""),
                detected_at=kwargs.get("detected_at"),
                confirmed_at=None,
            )
            state.upsert_trade(view)
            state.bump("skips")

    # Events other workers publish straight to the data worker (fire and forget).
    @handles(TradeSkipped)
    def on_skip(self, msg: TradeSkipped) -> None:
        try:
            skip_id = self.store.record_skip(
                leader_signature=msg.leader_signature,
                trader=msg.trader,
                side=msg.side,
                mint=msg.mint,
                reason=msg.reason,
                at=msg.skipped_at,
            )
        except StoreError as exc:
            self.emit_log("error", str(exc))
            return
        self._mirror(
            "record_skip",
            (),
            {
                "leader_signature": msg.leader_signature,
                "trader": msg.trader,
                "side": msg.side,
                "mint": msg.mint,
                "reason": msg.reason,
            },
            skip_id,
        )

    @handles(LogEvent)
    def on_log(self, msg: LogEvent) -> None:
        self.ctx.state.add_log(LogLine(msg.at, msg.level, msg.worker, msg.message))

    @handles(TradeQueued, TradeExecuted, TradeFailed)
    def on_trade_event(self, msg: Any) -> None:
        # The executor writes through DataCall; these only refresh the view in case it changed.
        try:
            row = self.store.get_intent(msg.intent_id)
        except KeyError:
            return
        self.ctx.state.upsert_trade(trade_view(row))
