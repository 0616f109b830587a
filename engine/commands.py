"""Operator commands shared by the facade (console, CLI) and Telegram, so both act exactly alike."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from engine.messages import LogEvent, ManualSell, StartMonitoring, StopMonitoring
from engine.state import PositionView, TraderView
from engine.token_names import label
from engine.trader_model import validate_address

if TYPE_CHECKING:
    from engine.context import EngineContext
    from engine.traders import TraderConfig, TradersChange

log = logging.getLogger("zapbot.traders")

MANUAL_QUOTE_SLIPPAGE_BPS = 300  # the slippage a manual sell's estimate is quoted at (a trader's default)


def show_trader(ctx: "EngineContext", trader: "TraderConfig") -> None:
    """Put a trader's settings in the snapshot, keeping its copy statistics."""
    old = ctx.state.traders.get(trader.name)
    ctx.state.set_trader(
        TraderView(
            name=trader.name,
            wallet=trader.wallet,
            active=trader.active,
            sizing=trader.sizing_summary(),
            last_trade_at=old.last_trade_at if old else None,
            trades_copied=old.trades_copied if old else 0,
            pnl_lamports=old.pnl_lamports if old else 0,
            paused_reason=old.paused_reason if old else "",
        )
    )


def monitor(ctx: "EngineContext", wallets: list[str], *, start: bool) -> None:
    """Start or stop watching wallets: both the websocket (subscriptions) and the monitor (polling)."""
    msg: Any = StartMonitoring(tuple(wallets)) if start else StopMonitoring(tuple(wallets))
    for worker in ("monitor", "websocket"):
        ctx.send(worker, msg, force=True)


def set_copying(
    ctx: "EngineContext", name: str, active: bool, *, source: str = "engine"
) -> tuple["TraderConfig", bool]:
    """Start or stop copying one trader; persists traders.toml. Returns (trader, changed)."""
    before = ctx.traders.get(name)
    if before is None:
        raise KeyError(f"no trader named {name!r}")
    trader = ctx.traders.set_active(name, active)
    show_trader(ctx, trader)
    changed = before.active != active
    if changed or not active:  # stopping an auto-paused trader (still watched for its sells) stops that too
        monitor(ctx, [trader.wallet], start=active)
        ctx.publish(LogEvent("info", source, f"copying {name} {'started' if active else 'stopped'}"))
    return trader, changed


def apply_traders_change(ctx: "EngineContext", change: "TradersChange", *, source: str = "data") -> None:
    """Make the running engine follow what a reload of traders.toml changed. The book already holds the new
    traders (the executor reads it on every decision), so a stopped trader is not copied from here on; this
    subscribes and unsubscribes, and updates the console. Removals go first: a renamed trader keeps its
    wallet, which must end up subscribed."""
    for trader in change.removed:
        ctx.state.remove_trader(trader.name)
        if trader.active:
            monitor(ctx, [trader.wallet], start=False)
        _say(ctx, source, f"traders.toml: trader {trader.name} removed")
    for before, after in change.changed:
        show_trader(ctx, after)
        if before.wallet != after.wallet or before.active != after.active:
            if before.active:
                monitor(ctx, [before.wallet], start=False)
            if after.active:
                monitor(ctx, [after.wallet], start=True)
        _say(ctx, source, f"traders.toml: trader {after.name} {_what_changed(before, after)}")
    for trader in change.added:
        show_trader(ctx, trader)
        if trader.active:
            monitor(ctx, [trader.wallet], start=True)
        state = "copied" if trader.active else "not copied (active = false)"
        _say(ctx, source, f"traders.toml: trader {trader.name} added, {state}")


def _say(ctx: "EngineContext", source: str, message: str) -> None:
    """One line in the log pane and in the log file."""
    log.info(message)
    ctx.publish(LogEvent("info", source, message))


def _what_changed(before: "TraderConfig", after: "TraderConfig") -> str:
    old, new = before.model_dump(), after.model_dump()
    parts = []
    if before.active != after.active:
        parts.append("copying started" if after.active else "copying stopped")
    keys = [key for key in new if key != "active" and old.get(key) != new[key]]
    if keys:
        parts.append("updated: " + ", ".join(keys))
    return "; ".join(parts)


PAUSE_BUYS = "buys"  # no new buys; leaders' sells and exits of open lots are still copied
PAUSE_ALL = "all"  # nothing is copied, sells and exits included
PAUSE_TEXT = {
    PAUSE_BUYS: "buying paused; sells and exits of open lots are still copied",
    PAUSE_ALL: "all copying paused, sells and exits too",
}


def pause(ctx: "EngineContext", mode: str = PAUSE_BUYS, *, source: str = "engine") -> bool:
    """Pause buys (what `p`, Telegram /pause, auto-pause and the kill switch do) or everything; True if this
    changed anything. Pausing buys while all is paused narrows the pause to buys."""
    if mode not in PAUSE_TEXT:
        raise ValueError(f"pause what? {mode!r} (buys or all)")
    changed = ctx.state.pause != mode
    ctx.paused_event.set()
    ctx.state.set(paused=True, pause=mode)
    if changed:
        ctx.publish(LogEvent("warning", source, PAUSE_TEXT[mode]))
    return changed


def pause_buys(ctx: "EngineContext", *, source: str = "engine") -> bool:
    return pause(ctx, PAUSE_BUYS, source=source)


def pause_all(ctx: "EngineContext", *, source: str = "engine") -> bool:
    """Pause all copying, sells and exits too; True if this changed anything."""
    return pause(ctx, PAUSE_ALL, source=source)


def resume_all(ctx: "EngineContext", *, source: str = "engine") -> tuple[bool, str]:
    """Resume copying and clear the kill switch; returns (changed, the kill-switch reason that was cleared)."""
    changed = ctx.paused or bool(ctx.state.kill_switch)
    cleared = ctx.state.kill_switch
    ctx.paused_event.clear()
    ctx.state.set(paused=False, pause="", kill_switch="")
    if changed:
        ctx.publish(LogEvent("info", source, "copying resumed"))
    return changed, cleared


def request_manual_sell(ctx: "EngineContext", mint: str, percent: float, lot_id: int | None = None) -> Future:
    """Ask the executor to sell percent (0-100] of our position in mint, split over its lots pro rata, or of
    the one lot `lot_id` names; the future resolves to the intent id."""
    future: Future = Future()
    if not 0 < percent <= 100:
        future.set_exception(ValueError("percent must be between 0 and 100"))
        return future
    if not ctx.send("executor", ManualSell(mint, float(percent), future, lot_id), force=True):
        future.set_exception(RuntimeError("the executor is not running"))
    return future


@dataclass(frozen=True)
class SellQuote:
    """What a manual sell would return now, from the swap API's quote (nothing signed or sent)."""

    mint: str
    token_amount: int  # raw units to sell
    decimals: int | None
    expected_lamports: int  # the quote's outAmount
    min_lamports: int  # otherAmountThreshold: the least it may return at the quote's slippage
    price_impact_pct: Decimal | None


async def quote_manual_sell(
    ctx: "EngineContext", mint: str, percent: float, lot_id: int | None = None
) -> SellQuote:
    """Quote selling percent (0-100] of the position in mint, or of one lot, as the executor would size it."""
    from engine.chain.swap_api import swap_api_from_context
    from engine.constants import WSOL_MINT
    from engine.safety import price_impact_pct

    if not 0 < percent <= 100:
        raise ValueError("percent must be between 0 and 100")
    snapshot = ctx.state.snapshot()
    if lot_id is not None:
        held = next((lot for lot in snapshot.lots if lot.id == lot_id and lot.mint == mint), None)
    else:
        held = next((position for position in snapshot.positions if position.mint == mint), None)
    if held is None or held.amount <= 0:
        raise ValueError(f"no open position in {mint}")
    amount = held.amount if percent >= 100 else int(held.amount * percent) // 100
    if amount <= 0:
        raise ValueError(f"{percent:g}% of the position rounds to zero")
    api = swap_api_from_context(ctx)
    if api is None:
        raise RuntimeError("no swap API is configured to quote with")
    try:
        quote = await api.quote(mint, WSOL_MINT, amount, MANUAL_QUOTE_SLIPPAGE_BPS)
    finally:
        await api.close()
    return SellQuote(
        mint=mint,
        token_amount=amount,
        decimals=held.decimals,
        expected_lamports=int(quote["outAmount"]),
        min_lamports=int(quote["otherAmountThreshold"]),
        price_impact_pct=price_impact_pct(quote),
    )


def resolve_position(positions: Iterable[PositionView], token: str) -> PositionView:
    """The open position a mint address or symbol names; ValueError with one line otherwise."""
    held = [p for p in positions if p.amount > 0]
    by_symbol = [p for p in held if p.symbol and p.symbol.lower() == token.lower()]
    if len(by_symbol) == 1:
        return by_symbol[0]
    if len(by_symbol) > 1:
        raise ValueError(f"several positions are called {token}; use the mint address")
    try:
        mint = validate_address(token)
    except ValueError:
        raise ValueError(f"{token!r} is not a mint address or the symbol of an open position") from None
    for position in held:
        if position.mint == mint:
            return position
    raise ValueError(f"no open position in {label(mint, None)}")
