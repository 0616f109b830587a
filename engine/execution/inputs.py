"""The copy decision's inputs: the policy's reads from a read-only Store connection, our SOL balance and slot,
and the leader's holding of the mint before and after their trade."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.amounts import sol_plain
from engine.exits import effective_exit_values
from engine.messages import SwapDetected
from engine.policy import PolicyState
from engine.store import Store

if TYPE_CHECKING:
    from engine.chain.rpc import RpcPool
    from engine.context import EngineContext

BALANCE_REFRESH_S = 2.0
BALANCE_MAX_AGE_S = 5.0  # a buy decision refreshes an older balance first
BALANCE_STALE_S = 30.0  # with the RPC down, a balance this old still decides buys


class BalanceUnknown(Exception):
    """Our SOL balance cannot be read, so a buy cannot be checked against the reserve."""


class Balance:
    """Our wallet's SOL balance and the newest slot it was read at; never moves back to an older slot."""

    def __init__(self, ctx: EngineContext, rpc: RpcPool | None, wallet: str, has_wallet: bool) -> None:
        self.ctx = ctx
        self.rpc = rpc
        self.wallet = wallet
        self.has_wallet = has_wallet
        self.lamports: int | None = None
        self.slot: int | None = None  # the newest slot a balance read answered at
        self._lamports_slot = -1
        self._read_at = 0.0

    async def refresh(self, *, force: bool = False, max_age: float = BALANCE_REFRESH_S) -> None:
        if self.rpc is None or not self.has_wallet:
            return
        if not force and time.monotonic() - self._read_at < max_age:
            return
        result = await self.rpc.call("getBalance", [self.wallet, {"commitment": self.rpc.commitment}])
        slot = int(result["context"]["slot"])
        self._read_at = time.monotonic()
        self.slot = max(self.slot or 0, slot)
        self._take(slot, int(result["value"]))

    async def refresh_for_buy(self) -> None:
        """A recent balance before a buy; raises BalanceUnknown when none is recent enough."""
        if not self.has_wallet:
            return
        try:
            await self.refresh(max_age=BALANCE_MAX_AGE_S)
        except Exception as exc:  # noqa: BLE001 - a recent balance is still good enough, none is not
            if self.lamports is None or time.monotonic() - self._read_at > BALANCE_STALE_S:
                raise BalanceUnknown(f"balance unavailable: {exc}") from None

    def note_from_tx(self, tx: dict[str, Any]) -> None:
        """Our own transaction tells our exact balance at its slot (the fee payer is account 0)."""
        try:
            slot = int(tx["slot"])
            balance = int(tx["meta"]["postBalances"][0])
        except (KeyError, IndexError, TypeError, ValueError):
            return
        self._take(slot, balance)

    def _take(self, slot: int, lamports: int) -> None:
        if slot >= self._lamports_slot:
            self._lamports_slot = slot
            self.lamports = lamports
            self.ctx.state.set(sol_balance=lamports)

    async def airdrop(self, lamports: int, emit_log: Callable[[str, str], None]) -> None:
        """Fund the sim wallet (an unfunded one would only skip every buy)."""
        assert self.rpc is not None
        try:
            await self.rpc.call("requestAirdrop", [self.wallet, lamports])
            await self.refresh(force=True)
            emit_log("info", f"sim wallet funded with {sol_plain(lamports)} SOL")
        except Exception as exc:  # noqa: BLE001 - an unfunded sim wallet only means skips
            emit_log("warning", f"sim airdrop failed: {exc}")


class LeaderHoldings:
    """Each leader's holding per mint as their detected trades add up: the fallback when the swap event does
    not carry the leader's holding before and after."""

    def __init__(self) -> None:
        self._held: dict[tuple[str, str], int] = {}

    def track(self, msg: SwapDetected) -> int:
        """Count this trade in; returns the holding before it."""
        key = (msg.trader, msg.mint)
        held = self._held.get(key, 0)
        if msg.side == "buy":
            self._held[key] = held + int(msg.token_amount)
        elif msg.side == "sell":
            self._held[key] = max(0, held - int(msg.token_amount))
        return held


def leader_holding(msg: SwapDetected, tracked_before: int) -> tuple[int | None, int | None]:
    """(before, after) of the leader's holding of the mint around this trade: from the swap event when the
    analyzer read it from the transaction, else from what we saw them trade; (None, None) when unknown."""
    if msg.leader_pre_amount is not None:
        return msg.leader_pre_amount, msg.leader_post_amount
    if tracked_before >= msg.token_amount > 0:
        return tracked_before, tracked_before - int(msg.token_amount)
    return None, None


class DecisionInputs:
    """Gathers the PolicyState of one decision. Reads go to our own read-only connection (no hop to the data
    worker on the hot path); our own writes were awaited before, so they are committed and visible here."""

    def __init__(self, ctx: EngineContext, balance: Balance, wallet: str) -> None:
        self.ctx = ctx
        self.balance = balance
        self.wallet = wallet
        self._reader: Store | None = None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    async def policy_inputs(self, **query: Any) -> dict[str, Any]:
        if self._reader is None:
            try:
                self._reader = Store.reader(self.ctx.db_path)
            except Exception:  # noqa: BLE001 - the data worker may not have created the file yet
                return await self.ctx.store.policy_inputs(**query)
        # The books of the chain the data worker opened (decisions wait for it) and of our wallet.
        self._reader.chain, self._reader.wallet = (
            self.ctx.state.books_chain or self._reader.chain,
            self.wallet,
        )
        try:
            return self._reader.policy_inputs(**query)
        except sqlite3.Error:
            return await self.ctx.store.policy_inputs(**query)

    async def policy_state(
        self,
        msg: SwapDetected,
        trader: Any,
        leader_tracked_before: int,
        *,
        in_flight_fee_budget_lamports: Callable[[], int],
        trader_paused_reason: Callable[[], str],
    ) -> PolicyState:
        """The callables are read after the awaits, so trades that finished meanwhile are counted as done."""
        inputs = await self.policy_inputs(
            trader=trader.name,
            mint=msg.mint,
            wallet=self.wallet,
            leader_signature=msg.leader_signature,
            leader=trader.wallet,
        )
        # A copied sell sells this leader's lot only (the other leaders' copies are theirs to sell); a buy is
        # checked against the whole position (open positions cap).
        held = (
            inputs["lot_available"]
            if msg.side == "sell"
            else max(0, inputs["position_amount"] - inputs["in_flight_sell_amount"])
        )
        if msg.side == "buy":
            await self.balance.refresh_for_buy()
        pre = post = None
        if msg.side == "sell" and trader.proportional_sells and held > 0:
            pre, post = leader_holding(msg, leader_tracked_before)
        return PolicyState(
            paused=self.ctx.pause_mode == "all",
            buys_paused=self.ctx.pause_mode == "buys",
            kill_switch=bool(self.ctx.state.kill_switch),
            balance_lamports=self.balance.lamports if self.balance.has_wallet else None,
            spent_today_lamports=inputs["spent_today_lamports"],
            realized_pnl_today_lamports=inputs["realized_pnl_today_lamports"],
            in_flight_buy_lamports=inputs["in_flight_buy_lamports"],
            in_flight_fee_budget_lamports=in_flight_fee_budget_lamports(),
            open_positions=inputs["open_positions"],
            position_amount=held,
            bought_before=inputs["bought_before"],
            trader_paused_reason=trader_paused_reason(),
            follow_leader_sells=bool(
                effective_exit_values(self.ctx.settings.exits, trader)["follow_leader_sells"]
            ),
            duplicate=inputs["duplicate"],
            current_slot=self.balance.slot,
            leader_pre_amount=pre,
            leader_post_amount=post,
        )
