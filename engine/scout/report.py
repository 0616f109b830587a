"""The scout report (pure): what a wallet's swaps say about its trading, from realised PnL to flip speed."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.constants import WSOL_MINT
from engine.scout.model import WalletSwap, chronological

FLIP_WINDOW_MS = 60_000  # a buy sold again this soon is a flip too fast to copy
TOO_FAST_SHARE = 0.5  # from this share of flipped buys on, the wallet is flagged "too fast to copy"
CREATION_WINDOW_SLOTS = 5  # a buy this many slots after the mint's creation counts as "at creation"
MIN_DAYS = 1.0  # a history shorter than a day is counted as one day for swaps per day


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """One sell matched FIFO against earlier buys of the same token (only the matched part counts)."""

    mint: str
    sell_signature: str
    tokens: int
    cost_lamports: int
    proceeds_lamports: int
    opened_ms: int  # the buy time of the oldest lot it closed
    closed_ms: int
    hold_ms: int  # token-weighted mean time the sold tokens were held

    @property
    def pnl_lamports(self) -> int:
        return self.proceeds_lamports - self.cost_lamports


@dataclass
class _Lot:
    tokens: int
    cost_lamports: int
    bought_ms: int


@dataclass
class FifoBook:
    """Open lots per token and the round trips closed so far; shared by the report and the replay."""

    lots: dict[str, deque[_Lot]] = field(default_factory=dict)
    closed: list[RoundTrip] = field(default_factory=list)
    unmatched_sells: int = 0  # sells with nothing bought before them in this history
    unmatched_tokens: int = 0

    def buy(self, mint: str, tokens: int, cost_lamports: int, at_ms: int) -> None:
        if tokens > 0:
            self.lots.setdefault(mint, deque()).append(_Lot(tokens, cost_lamports, at_ms))

    def sell(
        self, mint: str, tokens: int, proceeds_lamports: int, at_ms: int, signature: str
    ) -> RoundTrip | None:
        """Match `tokens` FIFO; proceeds are shared out pro rata when only part of the sell is matched."""
        queue = self.lots.get(mint)
        left = tokens
        matched = cost = weighted_hold = 0
        opened_ms: int | None = None
        while queue and left > 0:
            lot = queue[0]
            take = min(lot.tokens, left)
            # The last piece of a lot takes the rest of its cost, so a lot sold in parts costs exactly its
            # price in total (no lamport lost to rounding).
            piece = lot.cost_lamports if take == lot.tokens else lot.cost_lamports * take // lot.tokens
            lot.tokens -= take
            lot.cost_lamports -= piece
            cost += piece
            matched += take
            left -= take
            weighted_hold += take * (at_ms - lot.bought_ms)
            opened_ms = lot.bought_ms if opened_ms is None else opened_ms
            if lot.tokens == 0:
                queue.popleft()
        if queue is not None and not queue:
            del self.lots[mint]
        if left > 0:
            self.unmatched_tokens += left
            if matched == 0:
                self.unmatched_sells += 1
                return None
        proceeds = proceeds_lamports if left == 0 else proceeds_lamports * matched // tokens
        trip = RoundTrip(
            mint,
            signature,
            matched,
            cost,
            proceeds,
            opened_ms if opened_ms is not None else at_ms,
            at_ms,
            weighted_hold // matched,
        )
        self.closed.append(trip)
        return trip

    def holding(self, mint: str) -> int:
        return sum(lot.tokens for lot in self.lots.get(mint, ()))

    def open_cost_lamports(self) -> int:
        return sum(lot.cost_lamports for queue in self.lots.values() for lot in queue)


def is_sol_trade(swap: WalletSwap) -> bool:
    return swap.side in ("buy", "sell") and swap.quote_mint == WSOL_MINT


def median_int(values: Sequence[int]) -> int | None:
    """The median of whole numbers; the mean of the two middle values (floored) when there is an even count."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) // 2


def percentile_int(values: Sequence[int], share: float) -> int | None:
    """Nearest-rank percentile: the smallest value with at least `share` of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    per_mille = round(share * 1000)
    rank = max(1, -(-(per_mille * len(ordered)) // 1000))  # ceil(share * n) in whole numbers
    return ordered[min(rank, len(ordered)) - 1]


def realised(swaps: Sequence[WalletSwap]) -> FifoBook:
    """The wallet's own round trips, FIFO per token, over its SOL buys and sells (oldest first)."""
    book = FifoBook()
    for swap in chronological(list(swaps)):
        if not is_sol_trade(swap):
            continue
        at_ms = swap.time_ms or 0
        if swap.side == "buy":
            book.buy(swap.mint, swap.token_amount, swap.quote_amount, at_ms)
        else:
            book.sell(swap.mint, swap.token_amount, swap.quote_amount, at_ms, swap.signature)
    return book


def _flips(ordered: list[WalletSwap]) -> tuple[int, int]:
    """(SOL buys, of them bought and sold again within FLIP_WINDOW_MS)."""
    buys = flipped = 0
    for index, swap in enumerate(ordered):
        if not (is_sol_trade(swap) and swap.side == "buy"):
            continue
        buys += 1
        bought_ms = swap.time_ms or 0
        for later in ordered[index + 1 :]:
            if (later.time_ms or 0) - bought_ms > FLIP_WINDOW_MS:
                break
            if later.mint == swap.mint and later.side == "sell" and is_sol_trade(later):
                flipped += 1
                break
    return buys, flipped


@dataclass(frozen=True)
class ScoutReport:
    """Every figure of `zapbot scout` (lamports and token base units; shares in 0..1)."""

    wallet: str
    swaps: int
    buys: int
    sells: int
    other_swaps: int  # token-to-token or against a stablecoin: counted, not in PnL
    days: float
    swaps_per_day: float
    distinct_tokens: int
    median_buy_lamports: int | None
    realised_pnl_lamports: int
    round_trips: int
    wins: int
    losses: int
    win_rate: float | None
    largest_win_lamports: int | None
    largest_loss_lamports: int | None
    median_hold_ms: int | None
    p90_hold_ms: int | None
    fees_lamports: int
    unmatched_sells: int
    open_tokens: int
    open_cost_lamports: int
    venues: dict[str, int]
    routers: dict[str, int]
    flipped_buys: int
    flip_share: float | None
    too_fast_to_copy: bool
    creation_buys_known: int  # buys of a token whose creation this history shows
    creation_buys_early: int
    creation_share: float | None  # None: "unknown", the history shows no creation of a bought token
    first_ms: int | None
    last_ms: int | None
    pnl_curve: list[tuple[int, int]]  # (closed at ms, cumulative realised PnL lamports)
    hold_times_ms: list[int]
    token_decimals: dict[str, int]
    per_token: dict[str, dict[str, int]]  # mint -> swaps, bought / sold (base units), realised PnL lamports

    def to_json_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["pnl_curve"] = [list(point) for point in self.pnl_curve]
        data["creation"] = "unknown" if self.creation_share is None else self.creation_share
        return data


def build_report(
    wallet: str,
    swaps: Sequence[WalletSwap],
    *,
    days: float | None = None,
    creation_slots: Mapping[str, int] | None = None,
) -> ScoutReport:
    """The report over `swaps` (any order). `days` is the window asked for (--days); without it, the span
    from the first swap to the last (at least MIN_DAYS). `creation_slots`: mint -> slot it was created in."""
    ordered = chronological(list(swaps))
    sol_trades = [s for s in ordered if is_sol_trade(s)]
    buys = [s for s in sol_trades if s.side == "buy"]
    sells = [s for s in sol_trades if s.side == "sell"]
    times = [s.time_ms for s in ordered if s.time_ms is not None]
    first_ms, last_ms = (min(times), max(times)) if times else (None, None)
    if days is None:
        span_days = ((last_ms - first_ms) / 86_400_000) if times else 0.0  # type: ignore[operator]
        days = max(span_days, MIN_DAYS)
    book = realised(ordered)
    pnls = [trip.pnl_lamports for trip in book.closed]
    wins = sum(1 for pnl in pnls if pnl > 0)
    losses = sum(1 for pnl in pnls if pnl < 0)
    holds = [trip.hold_ms for trip in book.closed]
    curve: list[tuple[int, int]] = []
    running = 0
    for trip in book.closed:
        running += trip.pnl_lamports
        curve.append((trip.closed_ms, running))
    buy_count, flipped = _flips(ordered)
    flip_share = flipped / buy_count if buy_count else None
    creation = creation_slots or {}
    known = [s for s in buys if s.mint in creation and s.slot is not None]
    early = sum(1 for s in known if 0 <= s.slot - creation[s.mint] <= CREATION_WINDOW_SLOTS)  # type: ignore[operator]
    fees = {s.signature: s.fee_lamports for s in ordered}
    decimals = {s.mint: s.token_decimals for s in ordered if s.token_decimals is not None}
    per_token: dict[str, dict[str, int]] = {}
    for s in ordered:
        entry = per_token.setdefault(s.mint, {"swaps": 0, "bought": 0, "sold": 0, "realised_pnl_lamports": 0})
        entry["swaps"] += 1
        if is_sol_trade(s):
            entry["bought" if s.side == "buy" else "sold"] += s.token_amount
    for trip in book.closed:
        per_token[trip.mint]["realised_pnl_lamports"] += trip.pnl_lamports
    return ScoutReport(
        wallet=wallet,
        swaps=len(ordered),
        buys=len(buys),
        sells=len(sells),
        other_swaps=len(ordered) - len(sol_trades),
        days=days,
        swaps_per_day=len(ordered) / days if days > 0 else 0.0,
        distinct_tokens=len({s.mint for s in ordered}),
        median_buy_lamports=median_int([s.quote_amount for s in buys]),
        realised_pnl_lamports=sum(pnls),
        round_trips=len(pnls),
        wins=wins,
        losses=losses,
        win_rate=wins / len(pnls) if pnls else None,
        largest_win_lamports=max(pnls) if wins else None,
        largest_loss_lamports=min(pnls) if losses else None,
        median_hold_ms=median_int(holds),
        p90_hold_ms=percentile_int(holds, 0.9),
        fees_lamports=sum(fees.values()),
        unmatched_sells=book.unmatched_sells,
        open_tokens=len(book.lots),
        open_cost_lamports=book.open_cost_lamports(),
        venues=dict(Counter(s.venue for s in ordered).most_common()),
        routers=dict(Counter(s.router for s in ordered if s.router).most_common()),
        flipped_buys=flipped,
        flip_share=flip_share,
        too_fast_to_copy=flip_share is not None and flip_share >= TOO_FAST_SHARE,
        creation_buys_known=len(known),
        creation_buys_early=early,
        creation_share=early / len(known) if known else None,
        first_ms=first_ms,
        last_ms=last_ms,
        pnl_curve=curve,
        hold_times_ms=holds,
        token_decimals=decimals,
        per_token=per_token,
    )
