"""Days of synthetic trading history made at the local cluster's start (`zapbot sim --history-days N`):
real signed swaps through the market, and launches of new tokens, on a clock jumped forward so their slots
and block times span the days asked for, by traders of distinct styles for the scout to tell apart."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from solders.keypair import Keypair

from engine.constants import USDC_MINT
from engine.sim.launch import launch_token, new_launcher
from engine.sim.ledger import Ledger
from engine.sim.market import Market, TraderTrade

DAY_S = 86_400
SLOT_S = 0.4  # mainnet's target pace: history slots and block times keep it
SOL = 10**9

# The scouted styles, in the order their traders are added, and the crowd whose trades move the prices.
STYLES: dict[str, str] = {
    "patient": "patient winner: buys before the crowd, holds for hours",
    "sniper": "sniper: sells every buy within seconds",
    "loser": "steady loser: buys after the crowd's pump, sells after its dump",
}
CROWD = "crowd"
# How often each style's episode is picked when a token is free (the sniper's are short, so it trades most).
_WEIGHTS = {"patient": 3, "sniper": 5, "loser": 3}
LAUNCHES_PER_DAY = 6  # new tokens created during the history; the sniper buys each a few slots in


@dataclass
class HistorySummary:
    """What the generated history holds: per style its wallet and landed swaps, and the time it spans."""

    days: float
    started_at: int  # unix seconds of the first possible trade
    ended_at: int  # ... and of the clock when the generation finished
    first_slot: int
    last_slot: int
    wallets: dict[str, str] = field(default_factory=dict)  # style -> wallet
    swaps: Counter[str] = field(default_factory=Counter)  # trader name -> landed swaps
    skipped: int = 0  # planned trades that could not be made (nothing left to sell)
    launches: list[str] = field(default_factory=list)  # mints created during the history, in order
    seconds: float = 0.0  # how long the generation took

    def as_json(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "first_slot": self.first_slot,
            "last_slot": self.last_slot,
            "styles": {
                style: {"wallet": wallet, "description": STYLES[style], "swaps": self.swaps[style]}
                for style, wallet in self.wallets.items()
            },
            "crowd_swaps": self.swaps[CROWD],
            "launches": list(self.launches),
            "skipped": self.skipped,
            "seconds": round(self.seconds, 3),
        }


Action = Callable[[], TraderTrade | str | None]  # a landed trade, a launched mint, or nothing made


class _Plan:
    """Trades to make, each at a second after the history's start; made in time order."""

    def __init__(self) -> None:
        self.events: list[tuple[float, int, Action]] = []

    def at(self, t: float, action: Action) -> None:
        self.events.append((t, len(self.events), action))


class _Episode:
    """One trade idea on one token: later trades sell exactly what this episode's own buys got."""

    def __init__(self, market: Market, mint: str | None) -> None:
        self.market = market
        self.mint = mint
        self.bought: Counter[str] = Counter()

    def buy(self, trader: str, lamports: int) -> Action:
        def act() -> TraderTrade | None:
            if self.mint is None:
                return None  # its launch failed
            trade = self.market.trader_swap(trader, "buy", self.mint, quote_lamports=lamports)
            self.bought[trader] += trade.token_amount
            return trade

        return act

    def sell(self, trader: str) -> Action:
        def act() -> TraderTrade | None:
            amount = self.bought.pop(trader, 0)
            if amount <= 0 or self.mint is None:
                return None
            return self.market.trader_swap(trader, "sell", self.mint, token_amount=amount)

        return act


def _sol(rng: random.Random, low: float, high: float) -> int:
    """A size between low and high SOL, in steps of 0.01 SOL (as people type them)."""
    return rng.randint(round(low * 100), round(high * 100)) * SOL // 100


def _patient(plan: _Plan, ep: _Episode, rng: random.Random, t: float) -> float:
    plan.at(t, ep.buy("patient", _sol(rng, 0.3, 1.5)))
    hold = rng.uniform(45 * 60, 4 * 3600)
    if rng.random() < 0.75:  # the crowd follows it in, and is still in when it sells
        plan.at(t + rng.uniform(5 * 60, 40 * 60), ep.buy(CROWD, _sol(rng, 2, 5)))
        plan.at(t + hold, ep.sell("patient"))
        end = t + hold + rng.uniform(5 * 60, 30 * 60)
        plan.at(end, ep.sell(CROWD))
        return end
    plan.at(t + hold, ep.sell("patient"))  # nobody came: out with the fees lost
    return t + hold


def _sniper(plan: _Plan, ep: _Episode, rng: random.Random, t: float) -> float:
    plan.at(t, ep.buy("sniper", _sol(rng, 0.1, 0.5)))
    if rng.random() < 0.65:  # it got in just ahead of a buyer
        plan.at(t + rng.uniform(1, 4), ep.buy(CROWD, _sol(rng, 1, 3)))
        plan.at(t + rng.uniform(5, 20), ep.sell("sniper"))
        end = t + rng.uniform(2 * 60, 10 * 60)
        plan.at(end, ep.sell(CROWD))
        return end
    end = t + rng.uniform(3, 15)
    plan.at(end, ep.sell("sniper"))
    return end


def _loser(plan: _Plan, ep: _Episode, rng: random.Random, t: float) -> float:
    plan.at(t, ep.buy(CROWD, _sol(rng, 2, 5)))  # the pump it chases
    bought_at = t + rng.uniform(20, 90)
    plan.at(bought_at, ep.buy("loser", _sol(rng, 0.3, 1.5)))
    hold = rng.uniform(40 * 60, 3 * 3600)
    if rng.random() < 0.85:  # the crowd dumps before it sells
        plan.at(bought_at + rng.uniform(3 * 60, 20 * 60), ep.sell(CROWD))
        plan.at(bought_at + hold, ep.sell("loser"))
        return bought_at + hold
    second = _Episode(ep.market, ep.mint)  # now and then a second pump carries it
    plan.at(bought_at + rng.uniform(5 * 60, 20 * 60), second.buy(CROWD, _sol(rng, 2, 5)))
    plan.at(bought_at + hold, ep.sell("loser"))
    end = bought_at + hold + rng.uniform(60, 10 * 60)
    plan.at(end, ep.sell(CROWD))
    plan.at(end + 1, second.sell(CROWD))
    return end + 1


def _launch(plan: _Plan, ep: _Episode, rng: random.Random, t: float, launcher: Keypair, symbol: str) -> None:
    """A new token is created at t; the sniper buys it 1 to 3 slots later and flips it within seconds."""
    mint, authority = Keypair.from_seed(rng.randbytes(32)), Keypair.from_seed(rng.randbytes(32))

    def act() -> str:
        ep.mint = str(launch_token(ep.market, launcher, mint, authority, symbol).mint)
        return ep.mint

    plan.at(t, act)
    bought_at = t + rng.choice((1, 2, 3)) * SLOT_S
    plan.at(bought_at, ep.buy("sniper", _sol(rng, 0.1, 0.5)))
    crowd = rng.random() < 0.65
    if crowd:
        plan.at(bought_at + rng.uniform(1, 4), ep.buy(CROWD, _sol(rng, 1, 3)))
    plan.at(bought_at + rng.uniform(5, 20), ep.sell("sniper"))
    if crowd:
        plan.at(bought_at + rng.uniform(2 * 60, 10 * 60), ep.sell(CROWD))


_STYLE_PLANS = {"patient": _patient, "sniper": _sniper, "loser": _loser}


def _warp(ledger: Ledger, slot: int, block_time: int) -> None:
    """Move the clock to slot (never back) with this block time, and issue a blockhash for it."""
    with ledger.lock:
        if slot > ledger.slot:
            ledger.block_height += slot - ledger.slot
            ledger.slot = slot
            ledger.svm.warp_to_slot(slot)
        ledger.slot_block_time = block_time
        ledger._rotate_blockhash()  # noqa: SLF001 - the one blockhash of the jumped-to slot


def generate_history(
    ledger: Ledger, market: Market, days: float, seed: int, *, now: float | None = None
) -> HistorySummary:
    """Add the style traders and the crowd, then make `days` of their trades ending before `now`. Every
    token (not USDC) gets back-to-back episodes, so one episode's price moves are its own."""
    started = time.perf_counter()
    rng = random.Random(seed * 7919 + 19)
    for name in (*STYLES, CROWD):
        if name not in market.traders:
            market.add_trader(name)
    end_time = int(now if now is not None else time.time())
    start_time = end_time - int(days * DAY_S)
    first_slot = ledger.slot + 1
    span = days * DAY_S
    plan = _Plan()
    styles, weights = list(_WEIGHTS), list(_WEIGHTS.values())
    for mint in [mint for mint in market.pools if mint != USDC_MINT]:
        cursor = rng.uniform(0, 30 * 60)
        while cursor < span:
            style = rng.choices(styles, weights)[0]
            finished = _STYLE_PLANS[style](plan, _Episode(market, mint), rng, cursor)
            cursor = finished + rng.uniform(2 * 60, 45 * 60)
    launcher = new_launcher(market, rng.randbytes(32))
    for index in range(int(days * LAUNCHES_PER_DAY)):
        start = rng.uniform(0, max(span - 15 * 60, 1))
        _launch(plan, _Episode(market, None), rng, start, launcher, f"NEW{index + 1}")
    summary = HistorySummary(
        days=days,
        started_at=start_time,
        ended_at=end_time,
        first_slot=first_slot,
        last_slot=first_slot,
        wallets={style: str(market.traders[style].pubkey()) for style in STYLES},
    )
    for t, _, action in sorted(plan.events, key=lambda event: (event[0], event[1])):
        if t >= span:
            continue  # an episode running past the end: its rest never happened (still open)
        _warp(ledger, first_slot + int(t / SLOT_S), start_time + int(t))
        try:
            trade = action()
        except (RuntimeError, ValueError, KeyError):
            trade = None
        if trade is None:
            summary.skipped += 1
        elif isinstance(trade, str):
            summary.launches.append(trade)
        else:
            summary.swaps[trade.trader] += 1
    summary.last_slot = first_slot + int(span / SLOT_S)
    _warp(ledger, summary.last_slot, end_time)
    summary.seconds = time.perf_counter() - started
    return summary
