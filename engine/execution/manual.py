"""A manual sell from the console, the CLI or Telegram: sized from our position, its intent persisted, and
returned as the trade the executor queues (first in the order of engine/execution/admission.py)."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

from engine.execution.inputs import DecisionInputs
from engine.execution.job import MANUAL_PRIORITY
from engine.messages import ExecuteTrade
from engine.policy import MANUAL_TRADE, fee_fields, manual_fee_budget_lamports

if TYPE_CHECKING:
    from engine.context import EngineContext


async def record_manual_sell(
    ctx: EngineContext,
    inputs: DecisionInputs,
    wallet: str,
    mint: str,
    percent: float,
    lot_id: int | None = None,
) -> ExecuteTrade:
    """percent of what we hold of mint (less sells in flight), or of one open lot, as a queued intent."""
    found = await inputs.policy_inputs(trader="manual", mint=mint, wallet=wallet)
    if lot_id is not None:
        lot = await ctx.store.lot(lot_id)
        if lot is None or lot["mint"] != mint or lot["closed_at"] is not None:
            raise ValueError(f"no open lot {lot_id} in {mint}")
        available = await ctx.store.lot_available(lot_id)
    else:
        available = found["position_amount"] - found["in_flight_sell_amount"]
    if available <= 0:
        raise ValueError(f"no open position in {mint}")
    amount = available if percent >= 100 else int(available * percent) // 100
    if amount <= 0:
        raise ValueError(f"{percent:g}% of the position rounds to zero")
    leader_signature = f"manual-{uuid.uuid4().hex}"
    now = time.time()
    intent_id, _ = await ctx.store.record_intent(
        leader_signature=leader_signature,
        trader="manual",
        wallet=wallet,
        side="sell",
        mint=mint,
        amount_in=amount,
        token_decimals=found["decimals"],
        detected_at=now,
        status="queued",
        queued_at=now,
        trigger="manual",
        lot_id=lot_id,
    )
    return ExecuteTrade(
        intent_id=intent_id,
        leader_signature=leader_signature,
        trader="manual",
        side="sell",
        mint=mint,
        amount_in=amount,
        slippage_bps=MANUAL_TRADE.slippage_bps,
        priority=MANUAL_PRIORITY,
        detected_at=now,
        manual=True,
        fee_budget_lamports=manual_fee_budget_lamports("sell"),
        token_decimals=found["decimals"],
        trigger="manual",
        **fee_fields(MANUAL_TRADE),
    )
