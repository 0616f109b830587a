"""The executor's send paths from the settings: the [[senders]] set (its health mirrored into the state for
the console's send light) and the chain-priced fee cache of priority_fee = "auto". Paper mode sends nothing
but prices its fills' fees the same way, so it has the fee cache and no senders."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.chain.fees import FeeCache
from engine.chain.senders import SenderSet, sender_set
from engine.state import sender_views

if TYPE_CHECKING:
    from engine.context import EngineContext


def send_paths(ctx: EngineContext, rpc: Any) -> tuple[SenderSet | None, FeeCache | None]:
    settings = ctx.settings
    senders = (
        None
        if settings.mode == "paper"
        else sender_set(
            [entry.model_dump() for entry in settings.senders],
            on_change=lambda health: ctx.state.set_health(senders=sender_views(health)),
        )
    )
    fees = (
        FeeCache(rpc, percentile=settings.fees.auto_percentile, refresh_s=settings.fees.refresh_s)
        if rpc is not None
        else None
    )
    return senders, fees
