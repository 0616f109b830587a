"""The per-token copy rules as a pure function: buy a mint once across all traders, a cooldown between buys of
one mint, and caps on the SOL held at cost in one mint and in all open lots; they run after the policy sized
a buy, and may size it down or skip it (every skip has a reason)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from engine.amounts import sol_to_lamports
from engine.policy import Copy, Skip

SKIP_TOKEN_BOUGHT = "already bought"  # the policy's reason, with a detail naming the rule
SKIP_TOKEN_COOLDOWN = "token cooldown"
SKIP_TOKEN_CAP = "per-token cap"
SKIP_EXPOSURE_CAP = "exposure cap"
COPY_RULE_SKIP_REASONS = (SKIP_TOKEN_COOLDOWN, SKIP_TOKEN_CAP, SKIP_EXPOSURE_CAP)


@dataclass(frozen=True, slots=True)
class TokenBook:
    """What the rules need to know of the mint and of all open lots, read in one go by the executor."""

    bought_by: str | None = None  # a trader whose buy of this mint executed or is in flight (None: none)
    last_buy_at: float | None = None  # when the last such buy was queued
    mint_cost_lamports: int = 0  # SOL held in this mint at cost, plus in-flight buys of it
    open_cost_lamports: int = 0  # SOL held in all open lots at cost, plus every in-flight buy


@dataclass(frozen=True, slots=True)
class CopyRules:
    """[limits]' per-token rules in lamports and seconds; 0 / False is off."""

    buy_once_per_token: bool = False
    token_cooldown_s: float = 0.0
    max_per_token_lamports: int = 0
    max_open_exposure_lamports: int = 0
    min_trade_lamports: int = 1

    @classmethod
    def from_limits(cls, limits: Any) -> CopyRules:
        return cls(
            buy_once_per_token=bool(limits.buy_once_per_token),
            token_cooldown_s=float(limits.token_cooldown_s),
            max_per_token_lamports=sol_to_lamports(limits.max_sol_per_token),
            max_open_exposure_lamports=sol_to_lamports(limits.max_open_exposure_sol),
            min_trade_lamports=max(1, sol_to_lamports(limits.min_trade_sol)),
        )

    @property
    def any(self) -> bool:
        return bool(
            self.buy_once_per_token
            or self.token_cooldown_s
            or self.max_per_token_lamports
            or self.max_open_exposure_lamports
        )


def apply_copy_rules(buy: Copy, book: TokenBook, rules: CopyRules, now: float) -> Copy | Skip:
    """The buy, sized down by the caps, or the skip of the first rule it breaks. Order: buy once per
    token, cooldown, per-token cap, exposure cap."""
    if rules.buy_once_per_token and book.bought_by is not None:
        return Skip(SKIP_TOKEN_BOUGHT, f"limits.buy_once_per_token: bought by {book.bought_by}")
    if rules.token_cooldown_s and book.last_buy_at is not None:
        waited = now - book.last_buy_at
        if waited < rules.token_cooldown_s:
            return Skip(
                SKIP_TOKEN_COOLDOWN, f"last buy {waited:.1f}s ago (cooldown {rules.token_cooldown_s:g}s)"
            )
    amount, bound = buy.amount_in, ""
    for cap, held, reason in (
        (rules.max_per_token_lamports, book.mint_cost_lamports, SKIP_TOKEN_CAP),
        (rules.max_open_exposure_lamports, book.open_cost_lamports, SKIP_EXPOSURE_CAP),
    ):
        if cap and amount > cap - held:
            amount, bound = max(cap - held, 0), reason
    if amount == buy.amount_in:
        return buy
    if amount < rules.min_trade_lamports:
        return Skip(bound, f"{amount} lamports left under the cap")
    note = f"{buy.note}; sized down: {bound}" if buy.note else f"sized down: {bound}"
    return replace(buy, amount_in=amount, note=note)
