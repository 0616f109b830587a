"""The exit runner: values every open lot by a sell quote at least every exits.check_interval_s (quotes spread
by engine/exits.py's lots_to_quote within a quotes-per-second budget), shows the values as unrealised PnL,
runs the lot's exit rules (engine/exits.py's check_exit) on each value, and turns a rule that fires into an
exit intent (persisted one at a time per lot, by the store) that the executor sells like any other trade.

Why it is safe across a SIGKILL: the exit intent is written, with the check that the lot has no exit in
flight, in one transaction before the executor is told; the executor's restart reconciliation resumes or
re-queues it like a copied sell, and the runner never fires a lot whose exit is still in flight. A
take-profit level counts as sold once its intent executed (or is in flight), so it fires once per lot.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from engine.amounts import sol_text
from engine.chain.swap_api import SwapApi, SwapApiError
from engine.constants import WSOL_MINT
from engine.exits import Lot, check_exit, effective_exit_rules, lots_to_quote, trigger_label
from engine.messages import ExecuteTrade
from engine.policy import MANUAL_TRADE, fee_budget_lamports, fee_fields

if TYPE_CHECKING:
    from engine.context import EngineContext
    from engine.state import LotView

TICK_S = 0.25  # the scheduler's tick; lots_to_quote spreads each interval's quotes over its ticks
VALUE_QUOTE_SLIPPAGE_BPS = 50  # a valuation only: the quote is never executed
EXIT_PRIORITY = 50  # after a manual sell (100), before a copied sell (10): it protects the operator's money
RETRY_AFTER_FAILURE_S = 5.0  # a lot whose exit failed waits this long, doubling per failure, up to a minute
MAX_RETRY_WAIT_S = 60.0
# Sell quotes a second when [exits] max_quotes_per_s is 0 (auto): the local cluster answers at once.
# Jupiter's documented limits are 0.5 requests a second keyless and 1 on the free keyed plan, shared by every
# endpoint (our buys' and sells' own quotes and swaps too), so valuations take half of that; a paid plan
# sets max_quotes_per_s to its share.
AUTO_QUOTES_PER_S = {"sim": 20.0, "keyed": 0.5, "keyless": 0.25}


def quotes_budget(max_quotes_per_s: float, mode: str, has_api_key: bool) -> float:
    """The runner's sell quotes a second: the configured figure, or the auto one for this swap API."""
    if max_quotes_per_s > 0:
        return float(max_quotes_per_s)
    if mode == "sim":
        return AUTO_QUOTES_PER_S["sim"]
    return AUTO_QUOTES_PER_S["keyed" if has_api_key else "keyless"]


def retry_wait_s(failures: int) -> float:
    """How long a lot waits after its failures-th failed exit before the next one."""
    if failures <= 0:
        return 0.0
    return min(MAX_RETRY_WAIT_S, RETRY_AFTER_FAILURE_S * 2 ** (failures - 1))


def exit_lot(view: LotView, peak: int | None, fired: frozenset[int]) -> Lot:
    """A lot as the exit rules see it. The store keeps the cost of what is still held; the rules compare
    values of the lot as bought, so the cost is scaled to it (value × bought vs cost × held is the same
    comparison as the value of what is held vs its cost)."""
    bought = max(int(view.bought_amount), int(view.amount))
    cost = view.cost_lamports * bought // view.amount if view.amount > 0 else view.cost_lamports
    return Lot(
        cost_lamports=cost,
        bought_token_amount=bought,
        token_amount=int(view.amount),
        opened_at=float(view.opened_at or 0.0),
        peak_lamports=peak,
        fired_levels=fired,
    )


@dataclass
class _Valued:
    """A lot's latest value: what a sell of `amount` (the lot's holding when asked) would pay."""

    value_lamports: int
    amount: int
    at: float


class ExitRunner:
    """Owns the valuations of open lots and the exits they trigger; driven by run() (or tick() in tests)."""

    def __init__(
        self,
        ctx: EngineContext,
        swap_api: SwapApi,
        *,
        accepting: Callable[[], bool],
        emit_log: Callable[[str, str], None],
        log: logging.Logger,
        tick_s: float = TICK_S,
    ) -> None:
        self.ctx = ctx
        self.swap_api = swap_api
        self.accepting = accepting
        self.emit_log = emit_log
        self.log = log
        settings = ctx.settings.exits
        self.interval_s = float(settings.check_interval_s)
        self.quotes_per_s = quotes_budget(
            float(getattr(settings, "max_quotes_per_s", 0.0) or 0.0),
            ctx.settings.mode,
            bool(ctx.endpoints.swap_api_key),
        )
        # lots_to_quote allows at least one quote a tick, so a budget under one a tick slows the tick instead.
        self.tick_s = max(tick_s, 1.0 / self.quotes_per_s)
        self.last_quoted: dict[int, float | None] = {}
        self.values: dict[int, _Valued] = {}
        self.peaks: dict[int, int] = {}  # the peak last written to lot_exits, per lot
        self._unsent: dict[int, ExecuteTrade] = {}  # exits persisted but not yet taken by the executor
        self.quotes = 0  # sell quotes asked (tests and the bench read it)
        self.exits_fired = 0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            try:
                await self.tick(time.time())
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - one bad tick must not stop the exits of every lot
                self.log.warning("exit runner tick failed: %s", exc)
            next_at += self.tick_s
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            next_at = max(next_at, loop.time() - self.tick_s)  # after a long tick, do not burst to catch up

    async def tick(self, now: float) -> None:
        """One scheduler tick: quote the lots that are due, run their exit rules, fire what fires."""
        for intent_id, trade in list(self._unsent.items()):
            if self.ctx.send("executor", trade, force=True):
                del self._unsent[intent_id]
        open_lots = tuple(lot for lot in self.ctx.state.open_lots() if lot.amount > 0)
        lots = {lot.id: lot for lot in open_lots}
        for lot_id in set(self.last_quoted) - set(lots):
            self.last_quoted.pop(lot_id, None)
            self.values.pop(lot_id, None)
            self.peaks.pop(lot_id, None)
        for lot_id in lots:
            self.last_quoted.setdefault(lot_id, None)
        due = lots_to_quote(self.last_quoted, now, self.tick_s, self.interval_s, self.quotes_per_s)
        if not due:
            return
        for lot_id in due:
            self.last_quoted[lot_id] = now
        states = await self.ctx.store.exit_states(due)
        values = await asyncio.gather(*(self._value(lots[lot_id]) for lot_id in due))
        mints: set[str] = set()
        for lot_id, value in zip(due, values, strict=True):
            view = lots[lot_id]
            if value is not None:
                self.values[lot_id] = _Valued(value, int(view.amount), now)
                mints.add(view.mint)
            await self._check(view, value, states.get(lot_id) or {}, now)
        for mint in mints:
            self._show_unrealized(mint, [lot for lot in open_lots if lot.mint == mint])

    async def _value(self, view: LotView) -> int | None:
        """What selling the lot's tokens would pay now (None: no quote, so only max hold can fire)."""
        self.quotes += 1
        try:
            quote = await self.swap_api.quote(
                view.mint, WSOL_MINT, int(view.amount), VALUE_QUOTE_SLIPPAGE_BPS
            )
            return int(quote["outAmount"])
        except (SwapApiError, KeyError, TypeError, ValueError) as exc:
            self.log.debug("no sell quote for lot %s (%s): %s", view.id, view.mint[:8], exc)
            return None

    async def _check(self, view: LotView, value: int | None, state: dict[str, Any], now: float) -> None:
        current = self.ctx.state.lots.get(view.id)
        if current is None or current.amount != view.amount:
            return  # a fill changed the lot while it was quoted: the next check values it afresh
        trader = self.ctx.traders.get(view.trader) or self.ctx.traders.by_wallet(view.leader)
        rules = effective_exit_rules(self.ctx.settings.exits, trader)
        peaks = [p for p in (state.get("peak_lamports"), self.peaks.get(view.id)) if p is not None]
        known_peak = max(peaks) if peaks else None
        fired = state.get("fired_levels") or frozenset()
        check = check_exit(exit_lot(view, known_peak, fired), value, now, rules)
        if (
            value is not None
            and check.peak_lamports is not None
            and (known_peak is None or check.peak_lamports > known_peak)
        ):
            # Written only when it rises: the trailing stop's reference must survive a restart.
            self.peaks[view.id] = check.peak_lamports
            await self.ctx.store.note_exit_value(
                view.id, value_lamports=value, peak_lamports=check.peak_lamports, at=now
            )
        decision = check.decision
        paused_all = self.ctx.pause_mode == "all"  # a pause of buys (or the kill switch) keeps exits going
        if decision is None or state.get("in_flight") or not self.accepting() or paused_all:
            return
        last_failed = state.get("last_failed_at")
        if last_failed is not None and now - last_failed < retry_wait_s(int(state.get("failures") or 0)):
            return
        intent_id, why_not = await self.ctx.store.record_exit(
            lot_id=view.id,
            trigger=decision.trigger,
            token_amount=decision.token_amount,
            exit_level=decision.level,
        )
        if intent_id is None:
            self.log.debug("exit of lot %s not recorded: %s", view.id, why_not)
            return
        self.exits_fired += 1
        settings = trader if trader is not None else MANUAL_TRADE
        row = await self.ctx.store.get_intent(intent_id)
        trade = ExecuteTrade(
            intent_id=intent_id,
            leader_signature=row["leader_signature"],
            trader=row["trader"],
            side="sell",
            mint=view.mint,
            amount_in=int(row["amount_in"]),
            slippage_bps=int(settings.slippage_bps),
            priority=EXIT_PRIORITY,
            detected_at=now,
            trader_wallet=view.leader,
            fee_budget_lamports=fee_budget_lamports(settings, "sell"),
            token_decimals=view.decimals,
            trigger=decision.trigger,
            **fee_fields(settings),
        )
        worth = f"{sol_text(value)} SOL" if value is not None else "no quote"
        self.emit_log(
            "info",
            f"{trigger_label(decision.trigger)}: selling {decision.share_bps / 100:g}% of {view.trader}'s"
            f" {view.mint[:6]} lot #{view.id} (worth {worth}, cost {sol_text(view.cost_lamports)} SOL)",
        )
        if not self.ctx.send("executor", trade, force=True):
            self._unsent[intent_id] = trade  # persisted: sent on the next tick (or resumed after a restart)

    def _show_unrealized(self, mint: str, lots: list[LotView]) -> None:
        """The position's unrealised PnL from its lots' values, once every open lot of it has a current one."""
        state = self.ctx.state
        position = state.positions.get(mint)
        if position is None or position.amount <= 0:
            return
        total = 0
        for lot in lots:
            valued = self.values.get(lot.id)
            if valued is None or valued.amount != lot.amount:
                return
            total += valued.value_lamports
        if sum(lot.amount for lot in lots) != position.amount:
            return  # a fill is being mirrored: its own settle shows the new position
        state.set_position(replace(position, unrealized_pnl_lamports=total - position.cost_lamports), mint)
