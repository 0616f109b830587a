"""The typed way workers reach the data worker: one method per store operation, each a DataCall.

The data worker is the single SQLite writer. A worker never names a Store method as a string: it calls
`await ctx.store.record_intent(...)`, which queues a DataCall whose operation calls `Store.record_intent`
in the data worker's thread and resolves the caller's future. Where an operation changes what the console
shows, its `mirror` updates EngineState right there, in the same place, once: no other code writes trades,
skips or positions into the state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from engine.inbox import Inbox
from engine.messages import DataCall
from engine.state import EngineState, lot_view, position_view, skip_view, trade_view
from engine.store import Store
from engine.store.base import utc_day
from engine.token_names import TokenView

T = TypeVar("T")


class StoreClient:
    """Typed calls into the data worker's Store; every method returns what the Store method returns."""

    def __init__(self, inboxes: dict[str, Inbox], state: EngineState) -> None:
        self._inboxes = inboxes
        self._state = state

    # -- plumbing -----------------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        """False before the data worker's inbox exists (no call could be answered)."""
        return "data" in self._inboxes

    def _submit(
        self,
        name: str,
        operation: Callable[[Store], T],
        mirror: Callable[[Store, T], None] | None = None,
    ) -> Future:
        future: Future = Future()
        inbox = self._inboxes.get("data")
        if inbox is None:
            future.set_exception(RuntimeError("the data worker is not running"))
            return future
        inbox.put(DataCall(name, operation, future, mirror), force=True)
        return future

    async def _call(
        self,
        name: str,
        operation: Callable[[Store], T],
        mirror: Callable[[Store, T], None] | None = None,
    ) -> T:
        return await asyncio.wrap_future(self._submit(name, operation, mirror))

    # -- mirrors into the live state (run in the data worker, right after the write) ----------------
    def _show_intent(self, _store: Store, row: dict[str, Any]) -> None:
        self._state.upsert_trade(trade_view(row))

    def _show_new_intent(self, store: Store, result: tuple[int, bool]) -> None:
        self._state.upsert_trade(trade_view(store.get_intent(result[0])))

    def _show_settled(self, store: Store, result: dict[str, Any]) -> None:
        intent = result["intent"]
        self._state.upsert_trade(trade_view(intent))
        day = utc_day()
        self._state.set_daily(day, store.daily(day))
        position = result["position"]
        self._state.set_position(position_view(position) if position else None, intent["mint"])
        for lot in result.get("lots") or ():
            self._state.set_lot(lot_view(lot))

    # -- reads ----------------------------------------------------------------------------------------
    async def all_trader_state(self) -> dict[str, dict[str, Any]]:
        return await self._call("all_trader_state", lambda store: store.all_trader_state())

    async def daily(self, day: str | None = None) -> dict[str, int]:
        return await self._call("daily", lambda store: store.daily(day))

    async def intents_in_flight(self) -> list[dict[str, Any]]:
        return await self._call("intents_in_flight", lambda store: store.intents_in_flight())

    async def get_intent(self, intent_id: int) -> dict[str, Any]:
        return await self._call("get_intent", lambda store: store.get_intent(intent_id))

    async def policy_inputs(
        self,
        *,
        trader: str,
        mint: str,
        wallet: str,
        leader_signature: str | None = None,
        leader: str | None = None,
    ) -> dict[str, Any]:
        return await self._call(
            "policy_inputs",
            lambda store: store.policy_inputs(
                trader=trader, mint=mint, wallet=wallet, leader_signature=leader_signature, leader=leader
            ),
        )

    # -- lots (engine/store/lots.py) ----------------------------------------------------------------------
    async def lots(
        self, mint: str | None = None, *, open_only: bool = True, leader: str | None = None
    ) -> list[dict[str, Any]]:
        return await self._call("lots", lambda store: store.lots(mint, open_only=open_only, leader=leader))

    async def lot(self, lot_id: int) -> dict[str, Any] | None:
        return await self._call("lot", lambda store: store.lot(lot_id))

    async def open_lot(self, leader: str, mint: str) -> dict[str, Any] | None:
        return await self._call("open_lot", lambda store: store.open_lot(leader, mint))

    async def lot_available(self, lot_id: int) -> int:
        """The lot's amount less the sells of it in flight: what a new sell (an exit) may take."""
        return await self._call("lot_available", lambda store: store.lot_available(lot_id))

    async def lot_moves(self, lot_id: int) -> list[dict[str, Any]]:
        return await self._call("lot_moves", lambda store: store.lot_moves(lot_id))

    async def adjust_lots(self, mint: str, chain_amount: int, *, reason: str) -> dict[str, Any]:
        """Bring the mint's lots to what the chain holds (reconciliation); shown like a trade."""

        def show(_store: Store, result: dict[str, Any]) -> None:
            if result["intent"] is None:
                return
            self._state.upsert_trade(trade_view(result["intent"]))
            position = result["position"]
            self._state.set_position(position_view(position) if position else None, mint)
            for lot in result["lots"]:
                self._state.set_lot(lot_view(lot))

        return await self._call(
            "adjust_lots", lambda store: store.adjust_lots(mint, chain_amount, reason=reason), show
        )

    async def trader_books(self) -> dict[str, dict[str, Any]]:
        """Per leader: realised PnL, open and closed lots, wins and win rate."""
        return await self._call("trader_books", lambda store: store.trader_books())

    # -- exits of lots (engine/store/exit_state.py) --------------------------------------------------------
    async def exit_states(self, lot_ids: list[int]) -> dict[int, dict[str, Any]]:
        return await self._call("exit_states", lambda store: store.exit_states(lot_ids))

    async def note_exit_value(
        self, lot_id: int, *, value_lamports: int, peak_lamports: int, at: float
    ) -> None:
        await self._call(
            "note_exit_value",
            lambda store: store.note_exit_value(
                lot_id, value_lamports=value_lamports, peak_lamports=peak_lamports, at=at
            ),
        )

    async def record_exit(
        self, *, lot_id: int, trigger: str, token_amount: int, exit_level: int | None = None
    ) -> tuple[int | None, str]:
        """Persist an exit of a lot (one at a time per lot): (intent id, "") or (None, why not)."""

        def show(store: Store, result: tuple[int | None, str]) -> None:
            if result[0] is not None:
                self._state.upsert_trade(trade_view(store.get_intent(result[0])))

        return await self._call(
            "record_exit",
            lambda store: store.record_exit(
                lot_id=lot_id, trigger=trigger, token_amount=token_amount, exit_level=exit_level
            ),
            show,
        )

    # -- intents and their outcomes --------------------------------------------------------------------
    async def record_intent(
        self,
        *,
        leader_signature: str,
        trader: str,
        wallet: str,
        side: str,
        mint: str,
        amount_in: int,
        leader_token_amount: int = 0,
        leader_quote_amount: int = 0,
        token_decimals: int | None = None,
        detected_at: float | None = None,
        status: str = "pending",
        queued_at: float | None = None,
        trigger: str = "leader",
        exit_level: int | None = None,
        leader: str = "",
        lot_id: int | None = None,
        signal_at: float | None = None,
        leader_slot: int | None = None,
    ) -> tuple[int, bool]:
        """Persist a copy intent before anything is sent: (id, created); created is False for a repeat.
        `leader` is the leader's wallet (whose lot a buy adds to); a sell with `lot_id` sells that lot only;
        `signal_at` / `leader_slot`: when the leader's swap landed, kept so a restart knows the signal's age."""
        return await self._call(
            "record_intent",
            lambda store: store.record_intent(
                leader_signature=leader_signature,
                trader=trader,
                wallet=wallet,
                side=side,
                mint=mint,
                amount_in=amount_in,
                leader_token_amount=leader_token_amount,
                leader_quote_amount=leader_quote_amount,
                token_decimals=token_decimals,
                detected_at=detected_at,
                status=status,
                queued_at=queued_at,
                trigger=trigger,
                exit_level=exit_level,
                leader=leader,
                lot_id=lot_id,
                signal_at=signal_at,
                leader_slot=leader_slot,
            ),
            self._show_new_intent,
        )

    async def update_intent(self, intent_id: int, **fields: Any) -> dict[str, Any]:
        return await self._call(
            "update_intent", lambda store: store.update_intent(intent_id, **fields), self._show_intent
        )

    async def mark_sent(
        self,
        intent_id: int,
        *,
        signature: str,
        signed_tx: bytes,
        last_valid_block_height: int,
        attempts: int,
    ) -> dict[str, Any]:
        return await self._call(
            "mark_sent",
            lambda store: store.mark_sent(
                intent_id,
                signature=signature,
                signed_tx=signed_tx,
                last_valid_block_height=last_valid_block_height,
                attempts=attempts,
            ),
            self._show_intent,
        )

    async def close_attempt(
        self, signature: str, *, status: str, err: str = "", fee_lamports: int = 0
    ) -> None:
        await self._call(
            "close_attempt",
            lambda store: store.close_attempt(signature, status=status, err=err, fee_lamports=fee_lamports),
        )

    async def settle_intent(
        self,
        intent_id: int,
        *,
        token_amount: int,
        quote_amount: int,
        fee_lamports: int = 0,
        decimals: int | None = None,
        signature: str | None = None,
        reason: str = "",
    ) -> dict[str, Any]:
        """Apply a fill to the position and close the intent atomically (idempotent)."""
        return await self._call(
            "settle_intent",
            lambda store: store.settle_intent(
                intent_id,
                token_amount=token_amount,
                quote_amount=quote_amount,
                fee_lamports=fee_lamports,
                decimals=decimals,
                signature=signature,
                reason=reason,
            ),
            self._show_settled,
        )

    async def fail_intent(
        self, intent_id: int, *, reason: str, fee_lamports: int = 0, status: str = "failed"
    ) -> dict[str, Any]:
        return await self._call(
            "fail_intent",
            lambda store: store.fail_intent(
                intent_id, reason=reason, fee_lamports=fee_lamports, status=status
            ),
            self._show_intent,
        )

    # -- skips, errors, trader state ---------------------------------------------------------------------
    async def record_skip(
        self,
        *,
        leader_signature: str,
        trader: str,
        side: str,
        mint: str,
        reason: str,
        detected_at: float | None = None,
        detail: str = "",
    ) -> int | None:
        """The one path of every skip: written here, shown in the trades pane by the mirror; None (nothing
        written or shown) when the leader swap has its record already."""

        def show(_store: Store, skip_id: int | None) -> None:
            if skip_id is None:
                self._state.bump("skips_already_decided")
                return
            self._state.upsert_trade(
                skip_view(
                    skip_id,
                    leader_signature=leader_signature,
                    trader=trader,
                    side=side,
                    mint=mint,
                    reason=reason,
                    detected_at=detected_at,
                    detail=detail,
                )
            )
            self._state.bump("skips")

        return await self._call(
            "record_skip",
            lambda store: store.record_skip(
                leader_signature=leader_signature,
                trader=trader,
                side=side,
                mint=mint,
                reason=reason,
                detected_at=detected_at,
                detail=detail,
            ),
            show,
        )

    def record_error(self, worker: str, message: str) -> Future:
        """Fire and forget (the supervisor must not wait on the data worker it supervises)."""
        return self._submit("record_error", lambda store: store.record_error(worker, message))

    async def set_trader_state(self, wallet: str, name: str, **fields: Any) -> None:
        await self._call("set_trader_state", lambda store: store.set_trader_state(wallet, name, **fields))

    def set_cutoffs(self, cutoffs: dict[str, tuple[str, str]]) -> Future:
        """wallet → (name, cut-off signature); fire and forget, the future reports a failure."""
        return self._submit("set_cutoffs", lambda store: store.set_cutoffs(cutoffs))

    # -- report reads (Telegram /profit, /daily, /performance): additive, read only -------------------------
    async def executed_fills(self) -> list[dict[str, Any]]:
        from engine.store.reports import executed_fills

        return await self._call(
            "executed_fills", lambda store: executed_fills(store.conn, store.chain, store.wallet)
        )

    async def daily_totals(self, days: int) -> list[dict[str, Any]]:
        from engine.store.reports import daily_totals

        return await self._call(
            "daily_totals", lambda store: daily_totals(store.conn, days, store.chain, store.wallet)
        )

    # -- token names (the cache worker reads each mint's metadata once) -------------------------------------
    async def all_token_meta(self) -> list[dict[str, Any]]:
        return await self._call("all_token_meta", lambda store: store.all_token_meta())

    async def put_token_meta(
        self, mint: str, *, symbol: str, name: str, decimals: int | None, source: str
    ) -> dict[str, Any]:
        def show(_store: Store, row: dict[str, Any]) -> None:
            self._state.set_token(mint, TokenView(row["symbol"], row["name"], row["decimals"]))

        return await self._call(
            "put_token_meta",
            lambda store: store.put_token_meta(
                mint, symbol=symbol, name=name, decimals=decimals, source=source
            ),
            show,
        )
