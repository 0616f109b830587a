"""The engine's exit rules (engine/exits.py: stop loss, trailing stop, max hold, take profit) as the what-if
replay's ExitRule: each replayed position is one lot, checked at every later known price of its token."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.exits import ExitRules, Lot, check_exit, effective_exit_rules
from engine.scout.replay import ExitRule, OpenPosition, PricePoint


@dataclass
class _LotState:
    bought: int
    peak: int | None = None
    fired: frozenset[int] = field(default_factory=frozenset)


def replay_exits(rules: ExitRules) -> list[tuple[str, ExitRule]]:
    """[("exits", rule)] for the replay, or [] when no rule can fire."""
    if not rules.any_exit:
        return []
    lots: dict[tuple[str, int], _LotState] = {}

    def rule(position: OpenPosition, point: PricePoint) -> tuple[int, str] | None:
        # A position is one lot from its first buy until it is sold out (then a new buy opens another).
        state = lots.setdefault((position.mint, position.opened_ms), _LotState(position.tokens))
        state.bought = max(state.bought, position.tokens)
        lot = Lot(
            cost_lamports=position.cost_lamports,
            bought_token_amount=state.bought,
            token_amount=position.tokens,
            opened_at=position.opened_ms / 1000,
            peak_lamports=state.peak,
            fired_levels=state.fired,
        )
        value = int(point.lamports_per_unit * position.tokens)
        check = check_exit(lot, value, point.time_ms / 1000, rules)
        state.peak = check.peak_lamports
        decision = check.decision
        if decision is None:
            return None
        if decision.level is not None:
            state.fired = state.fired | {decision.level}
        return decision.token_amount, decision.trigger

    return [("exits", rule)]


def trader_exits(exits_settings: Any, trader: Any) -> tuple[list[tuple[str, ExitRule]], bool]:
    """The trader's effective exit rules ([exits] overridden by the trader) for the replay, and whether
    leader sells are followed."""
    rules = effective_exit_rules(exits_settings, trader)
    return replay_exits(rules), rules.follow_leader_sells
