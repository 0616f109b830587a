"""One scout end to end for the engine's own surfaces (the Scout screen, Telegram's /scout): the figures and
the what-if replay of a read history, a short plain-text summary, and a scout over the engine's endpoints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.amounts import sol_text
from engine.scout.decoding import shared_decoder
from engine.scout.exit_rules import trader_exits
from engine.scout.history import History, scout_rate_for, scout_wallet
from engine.scout.replay import DEFAULT_DELAY_MS, ReplayResult, replay
from engine.scout.report import CREATION_WINDOW_SLOTS, ScoutReport, build_report
from engine.traders import TraderConfig

DEFAULT_DAYS = 3.0


@dataclass
class ScoutOutcome:
    """One scout's figures and its what-if replay, with the settings it was replayed with."""

    history: History
    report: ScoutReport
    result: ReplayResult
    trader: TraderConfig
    followed: str | None


def analyse(
    history: History,
    trader: TraderConfig,
    limits: Any,
    *,
    delay_ms: int = DEFAULT_DELAY_MS,
    days: float | None = None,
    allow_unknown_venue: bool = False,
    followed: str | None = None,
    exits_settings: Any = None,
) -> ScoutOutcome:
    """The report and the replay; with exits_settings ([exits]) the trader's exit rules run in the replay."""
    swaps = history.swaps(allow_unknown_venue=allow_unknown_venue)
    report = build_report(history.wallet, swaps, days=days, creation_slots=history.creation_slots())
    exits, follow = trader_exits(exits_settings, trader) if exits_settings is not None else ([], True)
    result = replay(swaps, trader, limits, delay_ms=delay_ms, exits=exits, follow_leader_sells=follow)
    return ScoutOutcome(history, report, result, trader, followed)


def _sol(lamports: int | None, signed: bool = True) -> str:
    if lamports is None:
        return "-"
    return f"{sol_text(lamports, signed=signed)} SOL"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _hold(ms: int | None) -> str:
    if ms is None:
        return "-"
    seconds = ms // 1000
    if seconds < 60:
        return f"{ms / 1000:.1f}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    return f"{seconds / 3600:.1f}h"


def summary_text(outcome: ScoutOutcome) -> str:
    """The figures that decide whether to follow, in a dozen lines (units a person reads)."""
    r, c, h = outcome.report, outcome.result, outcome.history
    data = c.to_json_dict()
    skipped = ", ".join(f"{reason} {count}" for reason, count in c.skipped.most_common(3)) or "none"
    creation = (
        "unknown"
        if r.creation_share is None
        else f"{r.creation_buys_early} of {r.creation_buys_known} ({_share(r.creation_share)})"
    )
    lines = [
        f"🔎 Scout {r.wallet[:4]}…{r.wallet[-4:]}"
        + (f" (followed as {outcome.followed})" if outcome.followed else ""),
        f"{r.swaps} swaps over {r.days:g} day(s) ({r.swaps_per_day:.1f}/day), {r.distinct_tokens} tokens, "
        f"median buy {_sol(r.median_buy_lamports, signed=False)}",
        f"Realised {_sol(r.realised_pnl_lamports)} over {r.round_trips} round trips, win rate "
        f"{_share(r.win_rate)}",
        f"Hold: median {_hold(r.median_hold_ms)}, p90 {_hold(r.p90_hold_ms)}",
        f"Sold within 60 s: {r.flipped_buys} of {r.buys} buys ({_share(r.flip_share)})"
        + (" — TOO FAST TO COPY" if r.too_fast_to_copy else ""),
        f"Bought within {CREATION_WINDOW_SLOTS} slots of creation: {creation}",
        f"If copied ({outcome.trader.sizing_summary()}, {c.delay_ms} ms late): net "
        f"{_sol(c.copy_net_pnl_lamports)}, return {_share(data['copy_return'])} against the leader's "
        f"{_share(data['leader_return'])}; skipped: {skipped}",
    ]
    if h.cancelled:
        lines.append("(cancelled: a partial history)")
    return "\n".join(lines)


async def scout_for_engine(
    ctx: Any,
    wallet: str,
    *,
    days: float = DEFAULT_DAYS,
    delay_ms: int = DEFAULT_DELAY_MS,
    cancel: Any = None,
) -> ScoutOutcome:
    """Scout over the running engine's endpoints, in its shared budget as a low-priority pool, cached in its
    home, and replay with the followed trader's settings (else the defaults) under its limits."""
    urls = list(ctx.endpoints.rpc_urls)
    settings = ctx.settings
    history = await scout_wallet(
        wallet,
        urls,
        days=days,
        cache_path=ctx.paths.home / "scout.db",
        requests_per_second=scout_rate_for(urls),
        cancel=cancel,
        commitment=settings.rpc.commitment,
        state=ctx.state,
        engine_rate=settings.rpc.requests_per_second,
        decoder=shared_decoder(settings.engine.max_worker_memory_bytes),
    )
    followed = ctx.traders.by_wallet(wallet)
    trader = followed or TraderConfig(name="scout", wallet=wallet)
    return analyse(
        history,
        trader,
        settings.limits,
        delay_ms=delay_ms,
        days=days,
        allow_unknown_venue=settings.mode == "sim",
        followed=followed.name if followed else None,
        exits_settings=settings.exits,
    )
