"""Exit rules for open lots as pure functions: take profit (one level or a ladder), stop loss, trailing stop
and max hold, evaluated in a fixed order with integer lamport arithmetic, plus the quote scheduler that
decides which lots to re-value on each tick.

Order of evaluation (the first rule that fires wins; one exit per check, so one exit at a time per lot):

1. ``stop_loss``: the lot is worth at most cost × (1 − pct/100). It sells the whole lot.
2. ``trailing_stop``: armed, and the lot is worth at most peak × (1 − pct/100). It sells the whole lot.
3. ``max_hold``: the lot is older than max_hold_minutes. It sells the whole lot.
4. ``take_profit``: the lowest level not yet fired whose gain is reached. It sells that level's share.

Why this order: a rule that sells everything settles the whole exposure, so it goes before one that sells
part. When the price is falling through a stop, selling a take-profit share first would leave the rest of
the lot exposed to the fall, and re-quoting twice costs time while the price moves. Stop loss is checked
before trailing because it is the operator's hard floor: when both hold, the record says the floor was hit.
Max hold comes after the two stops so that a lot that is both old and falling is recorded as the stop
that protected it. Take profit fires one level per check (the lowest reached); a jump past two levels
fires the next one on the next check, after the first sale's result is known.

Values are compared per token held, so a lot that has already sold part of itself (a take-profit level)
is judged on the cost of what it still holds: value × bought ≥ cost × held × (1 + pct/100), all in
integers (percentages become basis points).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

BPS = 10_000
FULL_SHARE_BPS = BPS

ExitTrigger = Literal["take_profit", "stop_loss", "trailing_stop", "max_hold"]
EXIT_TRIGGERS: tuple[ExitTrigger, ...] = ("stop_loss", "trailing_stop", "max_hold", "take_profit")

# What each intent's trigger is called where a person reads it (console, Telegram, log lines).
TRIGGER_LABELS = {
    "leader": "leader",
    "manual": "manual",
    "reconcile": "reconcile",
    "take_profit": "take profit",
    "stop_loss": "stop loss",
    "trailing_stop": "trailing stop",
    "max_hold": "max hold",
}


def trigger_label(trigger: str | None) -> str:
    """'take_profit' → 'take profit'; an unknown trigger is shown as it is."""
    return TRIGGER_LABELS.get(trigger or "leader", str(trigger))


# The keys of [exits] that a trader may override (None on the trader = use [exits]).
EXIT_RULE_KEYS = (
    "take_profit_pct",
    "take_profit_sell_pct",
    "take_profit_levels",
    "stop_loss_pct",
    "trailing_stop_pct",
    "trailing_arm_pct",
    "max_hold_minutes",
    "follow_leader_sells",
)

DEFAULT_CHECK_INTERVAL_S = 2.0


def pct_to_bps(pct: float | int | None) -> int:
    """A percentage as whole basis points (12.5 → 1250); None, 0 or negative → 0 (off)."""
    if not pct or pct <= 0:
        return 0
    return int((Decimal(str(pct)) * 100).to_integral_value())


@dataclass(frozen=True)
class TakeProfitLevel:
    """Sell share_bps of the lot (as bought) once its value has gained gain_bps over cost."""

    gain_bps: int
    share_bps: int


@dataclass(frozen=True)
class ExitRules:
    """The effective exit rules of one lot's trader; every gain or loss is in basis points, 0 = off."""

    take_profit_levels: tuple[TakeProfitLevel, ...] = ()
    stop_loss_bps: int = 0
    trailing_stop_bps: int = 0
    trailing_arm_bps: int = 0
    max_hold_s: float = 0.0
    follow_leader_sells: bool = True

    @property
    def any_exit(self) -> bool:
        """True when some rule can fire, so the lot needs quoting at all."""
        return bool(
            self.take_profit_levels or self.stop_loss_bps or self.trailing_stop_bps or self.max_hold_s
        )

    @classmethod
    def from_values(
        cls,
        *,
        take_profit_pct: float | None = None,
        take_profit_sell_pct: float | None = None,
        take_profit_levels: Sequence[Sequence[float]] | None = None,
        stop_loss_pct: float | None = None,
        trailing_stop_pct: float | None = None,
        trailing_arm_pct: float | None = None,
        max_hold_minutes: float | None = None,
        follow_leader_sells: bool | None = None,
    ) -> ExitRules:
        """Rules from the configuration's percentages. take_profit_pct (selling take_profit_sell_pct,
        default 100) and take_profit_levels together form one ladder, sorted by gain; a gain listed twice
        keeps the larger share."""
        ladder: dict[int, int] = {}
        pairs: list[tuple[float, float]] = [
            (float(pct), float(share)) for pct, share in take_profit_levels or ()
        ]
        if take_profit_pct:
            pairs.append((float(take_profit_pct), float(take_profit_sell_pct or 100)))
        for pct, share in pairs:
            gain, share_bps = pct_to_bps(pct), min(pct_to_bps(share), FULL_SHARE_BPS)
            if gain and share_bps:
                ladder[gain] = max(share_bps, ladder.get(gain, 0))
        return cls(
            take_profit_levels=tuple(TakeProfitLevel(gain, ladder[gain]) for gain in sorted(ladder)),
            stop_loss_bps=min(pct_to_bps(stop_loss_pct), BPS),
            trailing_stop_bps=min(pct_to_bps(trailing_stop_pct), BPS),
            trailing_arm_bps=pct_to_bps(trailing_arm_pct),
            max_hold_s=float(max_hold_minutes or 0) * 60.0 if (max_hold_minutes or 0) > 0 else 0.0,
            follow_leader_sells=True if follow_leader_sells is None else bool(follow_leader_sells),
        )


def effective_exit_values(defaults: Any, trader: Any | None) -> dict[str, Any]:
    """Each exit key's value: the trader's own where it is not None, else the [exits] default."""
    values: dict[str, Any] = {}
    for key in EXIT_RULE_KEYS:
        own = getattr(trader, key, None) if trader is not None else None
        values[key] = own if own is not None else getattr(defaults, key, None)
    return values


def effective_exit_rules(defaults: Any, trader: Any | None) -> ExitRules:
    """The ExitRules of a trader's lots: [exits] (an ExitsSettings) overridden key by key by the trader."""
    return ExitRules.from_values(**effective_exit_values(defaults, trader))


@dataclass(frozen=True)
class Lot:
    """What the exit rules need to know of one open lot (one copied buy and what is left of it)."""

    cost_lamports: int  # SOL spent on the buy, fees included as the PnL counts them
    bought_token_amount: int  # raw token units the buy brought in
    token_amount: int  # raw token units still held (less after a partial take profit)
    opened_at: float  # unix seconds of the buy
    peak_lamports: int | None = None  # highest full-lot value seen since the buy (None: none yet)
    fired_levels: frozenset[int] = frozenset()  # indexes into ExitRules.take_profit_levels


@dataclass(frozen=True)
class ExitDecision:
    """Sell token_amount (share_bps of the lot as bought, capped at what is held) because of trigger."""

    trigger: ExitTrigger
    share_bps: int
    token_amount: int
    level: int | None = None  # take profit: the index of the level in ExitRules.take_profit_levels


@dataclass(frozen=True)
class ExitCheck:
    """The result of one check: the exit to take (or None) and the peak to remember for the lot."""

    decision: ExitDecision | None
    peak_lamports: int | None


def _full_lot_value(lot: Lot, value_lamports: int) -> int:
    # The value of what is held, scaled to the lot as bought, so cost and peak stay comparable after a
    # partial sale.
    if lot.token_amount == lot.bought_token_amount or lot.token_amount <= 0:
        return value_lamports
    return value_lamports * lot.bought_token_amount // lot.token_amount


def check_exit(lot: Lot, value_lamports: int | None, now: float, rules: ExitRules) -> ExitCheck:
    """Which exit to take now, if any. value_lamports is what a sell quote for the tokens held would pay
    now (None: no quote, so only max hold can fire). Pure: the caller persists peak_lamports and, once the
    take-profit sale is done, adds decision.level to the lot's fired_levels."""
    held = lot.token_amount
    if held <= 0 or lot.bought_token_amount <= 0:
        return ExitCheck(None, lot.peak_lamports)
    full_value = _full_lot_value(lot, value_lamports) if value_lamports is not None else None
    peak = lot.peak_lamports
    if full_value is not None:
        peak = full_value if peak is None else max(peak, full_value)
    cost = lot.cost_lamports

    def whole(trigger: ExitTrigger) -> ExitCheck:
        return ExitCheck(ExitDecision(trigger, FULL_SHARE_BPS, held), peak)

    if full_value is not None:
        if rules.stop_loss_bps and full_value * BPS <= cost * (BPS - rules.stop_loss_bps):
            return whole("stop_loss")
        if rules.trailing_stop_bps and peak is not None:
            # No arming rise set: armed from the first value seen.
            armed = not rules.trailing_arm_bps or peak * BPS >= cost * (BPS + rules.trailing_arm_bps)
            if armed and full_value * BPS <= peak * (BPS - rules.trailing_stop_bps):
                return whole("trailing_stop")
    if rules.max_hold_s and now - lot.opened_at >= rules.max_hold_s:
        return whole("max_hold")
    if full_value is not None:
        for index, level in enumerate(rules.take_profit_levels):
            if index in lot.fired_levels:
                continue
            if full_value * BPS >= cost * (BPS + level.gain_bps):
                return ExitCheck(_take_profit(lot, index, level), peak)
            break  # levels are sorted by gain: a higher one cannot be reached when this one is not
    return ExitCheck(None, peak)


def _take_profit(lot: Lot, index: int, level: TakeProfitLevel) -> ExitDecision:
    if level.share_bps >= FULL_SHARE_BPS:
        amount = lot.token_amount
    else:
        amount = min(lot.token_amount, lot.bought_token_amount * level.share_bps // BPS)
        if amount <= 0:  # a share that rounds to nothing: sell what is left rather than never exit
            amount = lot.token_amount
    return ExitDecision("take_profit", level.share_bps, amount, index)


# -- quote scheduling ------------------------------------------------------------------------------


def lots_to_quote(
    last_quoted_at: Mapping[str, float | None],
    now: float,
    tick_s: float,
    interval_s: float = DEFAULT_CHECK_INTERVAL_S,
    max_quotes_per_s: float = 10.0,
) -> list[str]:
    """The lots to quote on the tick that starts at `now` (the scheduler calls this every tick_s).

    last_quoted_at maps each open lot's id to when it was last valued (None: never). The pace is the
    lots' count / interval_s quotes per second, spread evenly over the ticks (an exact running count, so
    10 lots every 2 s at 4 ticks/s make 5 quotes a second, not 10 every other second). Lots that would
    miss their interval by the next tick are added on top; a lot valued under half an interval ago is
    never quoted early. Both are capped by max_quotes_per_s × tick_s,
    at least one a tick: when the budget cannot keep every lot within its interval, the stalest go first
    and the rest wait (never more quotes than the budget). The stalest lot comes first, never-quoted lots
    before all.
    """
    count_lots = len(last_quoted_at)
    if count_lots == 0 or tick_s <= 0:
        return []
    interval = max(interval_s, tick_s)
    # How many quotes the even pace owes between now and now + tick: floor(n·t/I) counts them exactly.
    paced = math.floor(count_lots * (now + tick_s) / interval) - math.floor(count_lots * now / interval)
    overdue = sum(1 for last in last_quoted_at.values() if last is None or now - last >= interval - tick_s)
    # A lot valued less than half an interval ago is not quoted early: the pace moves lots forward to
    # spread them, it does not re-value one that is fresh.
    eligible = [
        (lot_id, last)
        for lot_id, last in last_quoted_at.items()
        if last is None or now - last >= interval / 2
    ]
    budget = max(1, math.floor(max_quotes_per_s * tick_s))
    wanted = min(budget, len(eligible), max(paced, overdue))
    eligible.sort(key=lambda item: (item[1] is not None, item[1] or 0.0, item[0]))
    return [lot_id for lot_id, _ in eligible[:wanted]]
