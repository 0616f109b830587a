"""What a finished trade changes besides its intent: each trader's runtime state (failures, copies, realised
PnL), the auto-pause after repeated failures and the daily-loss kill switch."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.amounts import sol_plain, sol_text
from engine.execution.job import Job
from engine.messages import KillSwitchTripped, LogEvent, StartMonitoring, TradeFailed, TradeSkipped
from engine.policy import LimitsView, kill_switch_tripped

if TYPE_CHECKING:
    from engine.context import EngineContext

EmitLog = Callable[[str, str], None]  # (level, message), the worker's emit_log


class Outcomes:
    """Records failures and successes against the trader and the day; owns the traders' runtime state."""

    def __init__(self, ctx: EngineContext, limits: LimitsView, emit_log: EmitLog, worker_name: str) -> None:
        self.ctx = ctx
        self.limits = limits
        self.emit_log = emit_log
        self.worker_name = worker_name
        self.trader_state: dict[str, dict[str, Any]] = {}

    async def load(self) -> None:
        """Read every trader's runtime state and show it in the console. An auto-paused trader with open lots
        is watched again, so its sells are still copied after a restart."""
        self.trader_state = await self.ctx.store.all_trader_state()
        holding = {lot.leader for lot in self.ctx.state.snapshot().lots}
        for trader in self.ctx.traders.all():
            st = self.trader_state.get(trader.wallet)
            if st and not trader.active and st["paused_reason"] and trader.wallet in holding:
                for worker in ("monitor", "websocket"):
                    self.ctx.send(worker, StartMonitoring((trader.wallet,)), force=True)
            if st:
                self.ctx.state.update_trader(
                    trader.name,
                    trades_copied=int(st["trades_copied"] or 0),
                    last_trade_at=st["last_trade_at"],
                    pnl_lamports=int(st["realized_pnl_lamports"] or 0),
                    paused_reason=st["paused_reason"] or "",
                )

    def paused_reason(self, wallet: str) -> str:
        return (self.trader_state.get(wallet) or {}).get("paused_reason") or ""

    async def clear_pause(self, name: str, wallet: str) -> None:
        """The operator started copying again after an auto-pause: forget the old failures."""
        await self.save_trader_state(name, wallet, consecutive_failures=0, paused_reason="")

    async def fail(
        self, job: Job, reason: str, signature: str | None = None, *, count_failure: bool = True
    ) -> None:
        row = await self.ctx.store.fail_intent(job.intent_id, reason=reason, fee_lamports=job.fees_paid)
        if row["status"] != "failed":
            return  # it had executed after all
        self.ctx.publish(
            TradeFailed(job.intent_id, job.trader, job.side, job.mint, reason, signature, trigger=job.trigger)
        )
        self.emit_log("warning", f"trade {job.intent_id} ({job.trader} {job.side}) failed: {reason}")
        trader = self.ctx.traders.get(job.trader)
        if job.manual or trader is None or not count_failure:
            return
        state = self.trader_state.get(trader.wallet) or {}
        failures = int(state.get("consecutive_failures") or 0) + 1
        changes: dict[str, Any] = {"consecutive_failures": failures}
        limit = self.ctx.settings.limits.auto_pause_after_failures
        if failures >= limit and trader.active:
            # Auto-pause is a pause of buys: the trader is set inactive (so `start` resumes it) but stays
            # watched, and its sells of open lots are still copied (policy.decide).
            why = f"auto-paused after {failures} failed trades; buys paused, sells still copied"
            changes["paused_reason"] = why
            # The reason is known before the trader turns inactive, so no signal in between reads a plain stop.
            self.trader_state.setdefault(trader.wallet, {"wallet": trader.wallet, "name": trader.name})[
                "paused_reason"
            ] = why
            try:
                self.ctx.traders.set_active(trader.name, False)
            except KeyError:
                pass
            self.ctx.state.update_trader(trader.name, active=False, paused_reason=why)
            self.emit_log("warning", f"{trader.name}: {why}")
        await self.save_trader_state(trader.name, trader.wallet, **changes)

    async def skip(self, job: Job, reason: str, detail: str = "") -> None:
        """The trade ends without anything of it on the chain (a buy gone stale, a buy queued at shutdown):
        its intent is 'skipped' with the reason, the one record of its leader swap; no failure is counted."""
        text = f"{reason}: {detail}" if detail else reason
        row = await self.ctx.store.fail_intent(job.intent_id, reason=text, status="skipped")
        if row["status"] != "skipped":
            return  # it had executed after all
        self.ctx.publish(TradeSkipped(job.leader_signature, job.trader, job.side, job.mint, reason))
        self.emit_log("info", f"trade {job.intent_id} ({job.trader} {job.side}) skipped: {text}")

    async def succeeded(self, job: Job, realized_delta: int) -> None:
        trader = self.ctx.traders.get(job.trader)
        if trader is not None and not job.manual:
            state = self.trader_state.get(trader.wallet) or {}
            copied = int(state.get("trades_copied") or 0) + 1
            pnl = int(state.get("realized_pnl_lamports") or 0) + realized_delta
            now = time.time()
            await self.save_trader_state(
                trader.name,
                trader.wallet,
                consecutive_failures=0,
                trades_copied=copied,
                last_trade_at=now,
                realized_pnl_lamports=pnl,
            )
            self.ctx.state.update_trader(
                trader.name, trades_copied=copied, last_trade_at=now, pnl_lamports=pnl
            )
        if job.side == "sell" and realized_delta < 0:
            await self.check_daily_loss()

    async def check_daily_loss(self) -> None:
        daily = await self.ctx.store.daily()
        if kill_switch_tripped(daily["realized_pnl_lamports"], self.limits):
            self.trip_kill_switch(daily["realized_pnl_lamports"])

    def trip_kill_switch(self, realized: int) -> None:
        if self.ctx.state.kill_switch:
            return
        reason = (
            f"daily loss cap: realised {sol_text(realized, signed=True)} SOL today "
            f"(cap {sol_plain(self.limits.daily_loss_cap_lamports)} SOL); buying paused, sells still copied"
        )
        self.ctx.state.set(kill_switch=reason)
        self.ctx.publish(KillSwitchTripped(reason, realized))
        self.ctx.publish(LogEvent("error", self.worker_name, f"kill switch: {reason}"))

    async def save_trader_state(self, name: str, wallet: str, **fields_: Any) -> None:
        if not wallet:
            return
        # Memory first: a signal decided while the write is in flight must already see the new state
        # (an auto-pause's reason, or it would read the trader as merely inactive).
        state = self.trader_state.setdefault(wallet, {"wallet": wallet, "name": name})
        state.update(fields_)
        await self.ctx.store.set_trader_state(wallet, name, **fields_)
