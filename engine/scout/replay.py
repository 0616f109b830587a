"""What if I had copied it (pure): a wallet's history replayed through the copy policy, filled after a delay.

Each leader swap is put to `engine.policy.decide` with a PolicyState built from the replayed book (our
balance, today's spend and realised PnL, positions, what this trader was bought before), exactly as the
executor would build it. A copy is filled at the price of the next known trade in that token at or after
the delay; with none known, at the leader's own price moved against us by the configured slippage.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from engine.constants import TOKEN_ACCOUNT_RENT_LAMPORTS
from engine.copy_rules import CopyRules, TokenBook, apply_copy_rules
from engine.policy import Copy, LimitsView, PolicyState, Skip, decide, fee_budget_lamports, limits_view
from engine.scout.model import MS_PER_SLOT, WalletSwap, chronological
from engine.scout.report import FifoBook, is_sol_trade, realised

DEFAULT_DELAY_MS = 1000
# A known trade this long after the copy's moment says little about the price then: the fill falls back to
# the leader's price with slippage instead (otherwise a buy held for hours would fill at the leader's sell).
NEXT_TRADE_WINDOW_MS = 30_000
PRICE_NEXT_TRADE = "next trade"
PRICE_SLIPPAGE = "leader price + slippage"
DAY_MS = 86_400_000
SKIP_NOT_FOLLOWING_SELLS = "leader sells not followed"


@dataclass(frozen=True, slots=True)
class PricePoint:
    """A known trade price of a token: lamports per token base unit at a time."""

    time_ms: int
    order: int  # position in the merged history, so trades in the same second keep their order
    lamports_per_unit: Fraction


@dataclass(frozen=True, slots=True)
class OpenPosition:
    """What an exit rule sees of one replayed holding."""

    mint: str
    tokens: int
    cost_lamports: int
    opened_ms: int


# The seam for exits (take profit, stop loss, trailing stop, max hold; engine/scout/exit_rules.py adapts the
# engine's own). A rule looks at a holding and a later known price of that token and answers how many tokens
# to sell then (None or 0: hold), optionally with the name of what fired: (tokens, trigger).
ExitRule = Callable[[OpenPosition, PricePoint], "int | tuple[int, str] | None"]


@dataclass(frozen=True, slots=True)
class CopyFill:
    """One replayed copy: what we would have sent and what it would have filled at."""

    leader_signature: str
    side: str
    mint: str
    amount_in: int  # lamports for a buy, token base units for a sell
    amount_out: int  # token base units for a buy, lamports for a sell
    fee_lamports: int
    price_source: str
    fill_ms: int
    reason: str = ""  # "exit: <rule>" for a sell an exit rule made; the policy's note otherwise

    def to_json_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]


@dataclass
class ReplayResult:
    """The copy's outcome next to the leader's own over the same history."""

    delay_ms: int
    copies: list[CopyFill] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    copy_realised_pnl_lamports: int = 0  # closed round trips, before fees
    copy_fees_lamports: int = 0  # every copy's network fee + priority budget + tip
    copy_round_trips: int = 0
    copy_wins: int = 0
    copy_closed_cost_lamports: int = 0
    copy_open_tokens: int = 0
    copy_open_cost_lamports: int = 0
    leader_realised_pnl_lamports: int = 0
    leader_closed_cost_lamports: int = 0
    fills_at_next_trade: int = 0
    fills_at_slippage: int = 0
    end_balance_lamports: int | None = None

    @property
    def copy_net_pnl_lamports(self) -> int:
        return self.copy_realised_pnl_lamports - self.copy_fees_lamports

    @property
    def gap_lamports(self) -> int:
        """The copy's net realised PnL minus the leader's realised PnL."""
        return self.copy_net_pnl_lamports - self.leader_realised_pnl_lamports

    @property
    def copy_return(self) -> float | None:
        """Net realised PnL per lamport the copy's closed round trips cost."""
        cost = self.copy_closed_cost_lamports
        return self.copy_net_pnl_lamports / cost if cost else None

    @property
    def leader_return(self) -> float | None:
        cost = self.leader_closed_cost_lamports
        return self.leader_realised_pnl_lamports / cost if cost else None

    @property
    def copy_win_rate(self) -> float | None:
        return self.copy_wins / self.copy_round_trips if self.copy_round_trips else None

    def to_json_dict(self) -> dict[str, Any]:
        copy_return, leader_return = self.copy_return, self.leader_return
        return {
            "delay_ms": self.delay_ms,
            "copies": len(self.copies),
            "skipped": dict(self.skipped.most_common()),
            "copy_realised_pnl_lamports": self.copy_realised_pnl_lamports,
            "copy_fees_lamports": self.copy_fees_lamports,
            "copy_net_pnl_lamports": self.copy_net_pnl_lamports,
            "copy_round_trips": self.copy_round_trips,
            "copy_wins": self.copy_wins,
            "copy_win_rate": self.copy_win_rate,
            "copy_open_tokens": self.copy_open_tokens,
            "copy_open_cost_lamports": self.copy_open_cost_lamports,
            "copy_return": copy_return,
            "leader_realised_pnl_lamports": self.leader_realised_pnl_lamports,
            "leader_return": leader_return,
            "gap_lamports": self.gap_lamports,
            "gap_return": (
                copy_return - leader_return if copy_return is not None and leader_return is not None else None
            ),
            "fills_at_next_trade": self.fills_at_next_trade,
            "fills_at_slippage": self.fills_at_slippage,
            "end_balance_lamports": self.end_balance_lamports,
            "fills": [fill.to_json_dict() for fill in self.copies],
        }


class _Prices:
    """Known trade prices per token, in time order, for the delay model."""

    def __init__(self, trades: Sequence[WalletSwap]) -> None:
        self.points: dict[str, list[PricePoint]] = {}
        self.keys: dict[str, list[tuple[int, int]]] = {}
        for order, swap in enumerate(trades):
            if not is_sol_trade(swap) or swap.token_amount <= 0 or swap.time_ms is None:
                continue
            point = PricePoint(swap.time_ms, order, Fraction(swap.quote_amount, swap.token_amount))
            self.points.setdefault(swap.mint, []).append(point)
            self.keys.setdefault(swap.mint, []).append((point.time_ms, point.order))

    def next_at_or_after(
        self, mint: str, at_ms: int, after_order: int, within_ms: int | None = None
    ) -> PricePoint | None:
        """The first known trade of mint at or after at_ms that comes after the trade at after_order (and
        no later than at_ms + within_ms, when given)."""
        keys = self.keys.get(mint)
        if not keys:
            return None
        index = bisect.bisect_left(keys, (at_ms, after_order + 1))
        points = self.points[mint]
        while index < len(points) and points[index].order <= after_order:
            index += 1
        if index >= len(points):
            return None
        point = points[index]
        return None if within_ms is not None and point.time_ms > at_ms + within_ms else point


def _copy_fee(copy: Copy) -> int:
    # The rent of a new token account is a deposit returned when the account is closed, not a cost.
    rent = TOKEN_ACCOUNT_RENT_LAMPORTS if copy.side == "buy" else 0
    return max(0, copy.fee_budget_lamports - rent)


def replay(
    swaps: Sequence[WalletSwap],
    trader: Any,
    limits: Any,
    *,
    delay_ms: int = DEFAULT_DELAY_MS,
    start_balance_lamports: int | None = None,
    market_trades: Sequence[WalletSwap] = (),
    exits: Sequence[tuple[str, ExitRule]] = (),
    next_trade_window_ms: int | None = NEXT_TRADE_WINDOW_MS,
    follow_leader_sells: bool = True,
) -> ReplayResult:
    """Replay the leader's `swaps` as copies by `trader` (a TraderConfig) under `limits` (LimitsSettings or
    LimitsView). start_balance_lamports None: no wallet, so balance and reserve checks do not apply (as in
    paper mode). market_trades: other known trades of the same tokens, used only as prices. exits: named
    ExitRules tried at every later known price of a held token. next_trade_window_ms: how far after the
    delay a known trade may be and still price the fill (None: any later trade)."""
    view: LimitsView = limits if isinstance(limits, LimitsView) else limits_view(limits)
    # The per-token rules (buy once, cooldown, per-token and exposure caps) run after the policy, as in the
    # executor; a bare LimitsView carries none of them.
    rules = CopyRules() if isinstance(limits, LimitsView) else CopyRules.from_limits(limits)
    last_buy_s: dict[str, float] = {}
    if not getattr(trader, "active", True):
        trader = trader.model_copy(update={"active": True})  # the replay asks "if I had followed it"
    leader = chronological(list(swaps))
    leader_ids = {id(swap) for swap in leader}
    merged = chronological(list(leader) + list(market_trades))
    order_of = {id(swap): order for order, swap in enumerate(merged)}
    prices = _Prices(merged)
    delay_slots = -(-delay_ms // MS_PER_SLOT)
    result = ReplayResult(delay_ms=delay_ms)
    book = FifoBook()
    bought: set[str] = set()
    balance = start_balance_lamports
    day: int | None = None
    spent_today = pnl_today = 0

    def fill(
        signature: str,
        side: str,
        mint: str,
        amount_in: int,
        fee: int,
        point: PricePoint | None,
        fallback: Fraction,
        at_ms: int,
        reason: str,
    ) -> CopyFill | None:
        nonlocal balance, spent_today, pnl_today
        price = point.lamports_per_unit if point is not None else fallback
        source = PRICE_NEXT_TRADE if point is not None else PRICE_SLIPPAGE
        fill_ms = point.time_ms if point is not None else at_ms
        if side == "buy":
            amount_out = int(amount_in / price) if price > 0 else 0
            if amount_out <= 0:
                return None
            new_account = mint not in book.lots
            book.buy(mint, amount_out, amount_in, fill_ms)
            bought.add(mint)
            spent_today += amount_in
            if balance is not None:
                # A new token account's rent is locked while we hold the token: out of the balance too.
                balance -= amount_in + fee + (TOKEN_ACCOUNT_RENT_LAMPORTS if new_account else 0)
        else:
            amount_out = int(amount_in * price)
            trip = book.sell(mint, amount_in, amount_out, fill_ms, signature)
            if trip is not None:
                pnl_today += trip.pnl_lamports
            if balance is not None:
                balance += amount_out - fee
        if point is not None:
            result.fills_at_next_trade += 1
        else:
            result.fills_at_slippage += 1
        result.copy_fees_lamports += fee
        done = CopyFill(signature, side, mint, amount_in, amount_out, fee, source, fill_ms, reason)
        result.copies.append(done)
        return done

    for swap in merged:
        at_ms = swap.time_ms or 0
        if exits and swap.mint in book.lots and is_sol_trade(swap) and swap.token_amount > 0:
            _run_exits(book, swap, at_ms, order_of[id(swap)], exits, trader, fill)
        if id(swap) not in leader_ids:
            continue
        if not follow_leader_sells and swap.side == "sell":
            result.skipped[SKIP_NOT_FOLLOWING_SELLS] += 1  # the exits alone close positions
            continue
        if day != at_ms // DAY_MS:
            day, spent_today, pnl_today = at_ms // DAY_MS, 0, 0
        position = book.holding(swap.mint)
        state = PolicyState(
            balance_lamports=balance,
            spent_today_lamports=spent_today,
            realized_pnl_today_lamports=pnl_today,
            open_positions=len(book.lots),
            position_amount=position,
            bought_before=swap.mint in bought,
            current_slot=swap.slot + delay_slots if swap.slot is not None else None,
            leader_pre_amount=swap.leader_pre_amount,
            leader_post_amount=swap.leader_post_amount,
        )
        decision = decide(swap, trader, view, state)
        if isinstance(decision, Copy) and decision.side == "buy" and rules.any:
            token = TokenBook(
                bought_by=trader.name if swap.mint in bought else None,
                last_buy_at=last_buy_s.get(swap.mint),
                mint_cost_lamports=sum(lot.cost_lamports for lot in book.lots.get(swap.mint, ())),
                open_cost_lamports=book.open_cost_lamports(),
            )
            decision = apply_copy_rules(decision, token, rules, at_ms / 1000)
        if isinstance(decision, Skip):
            result.skipped[decision.reason] += 1
            continue
        leader_price = Fraction(swap.quote_amount, swap.token_amount) if swap.token_amount else Fraction(0)
        slip = Fraction(int(decision.slippage_bps), 10_000)
        fallback = leader_price * (1 + slip) if decision.side == "buy" else leader_price * (1 - slip)
        point = prices.next_at_or_after(swap.mint, at_ms + delay_ms, order_of[id(swap)], next_trade_window_ms)
        made = fill(
            swap.signature,
            decision.side,
            swap.mint,
            decision.amount_in,
            _copy_fee(decision),
            point,
            fallback,
            at_ms + delay_ms,
            decision.note,
        )
        if made is None:
            result.skipped["dust"] += 1
        elif made.side == "buy":
            last_buy_s[swap.mint] = at_ms / 1000

    for trip in book.closed:
        result.copy_realised_pnl_lamports += trip.pnl_lamports
        result.copy_closed_cost_lamports += trip.cost_lamports
        result.copy_round_trips += 1
        result.copy_wins += trip.pnl_lamports > 0
    result.copy_open_tokens = len(book.lots)
    result.copy_open_cost_lamports = book.open_cost_lamports()
    leader_book = realised(leader)
    result.leader_realised_pnl_lamports = sum(trip.pnl_lamports for trip in leader_book.closed)
    result.leader_closed_cost_lamports = sum(trip.cost_lamports for trip in leader_book.closed)
    result.end_balance_lamports = balance
    return result


def _run_exits(
    book: FifoBook,
    swap: WalletSwap,
    at_ms: int,
    order: int,
    exits: Sequence[tuple[str, ExitRule]],
    trader: Any,
    fill: Callable[..., CopyFill | None],
) -> None:
    point = PricePoint(at_ms, order, Fraction(swap.quote_amount, swap.token_amount))
    for name, rule in exits:
        lots = book.lots.get(swap.mint)
        if not lots or lots[0].bought_ms > at_ms:
            return  # the copy is decided already but fills later (the delay): nothing held yet
        position = OpenPosition(
            swap.mint,
            sum(lot.tokens for lot in lots),
            sum(lot.cost_lamports for lot in lots),
            lots[0].bought_ms,
        )
        answer = rule(position, point)
        # A rule may name what fired (e.g. "stop_loss") with its answer: (tokens, trigger).
        trigger = name
        if isinstance(answer, tuple):
            answer, trigger = answer
        tokens = min(int(answer or 0), position.tokens)
        if tokens > 0:
            fill(
                f"exit:{name}:{swap.signature}",
                "sell",
                swap.mint,
                tokens,
                fee_budget_lamports(trader, "sell"),
                point,
                point.lamports_per_unit,
                at_ms,
                f"exit: {trigger}",
            )
