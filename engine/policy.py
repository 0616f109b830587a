"""The copy policy: pure functions that turn a leader's swap into Copy(size, fees) or Skip(reason).

Nothing here touches threads, the network or the database: the executor gathers a PolicyState (balances,
spend so far, positions, in-flight commitments) and asks `decide`. Money rules, in order of application:

* Buys are sized (fixed SOL, or percent of the leader's SOL amount clamped to [min_sol, max_sol]), then
  *sized down* by the per-trade cap, the daily spend cap and the wallet reserve. If what is left is below
  the dust minimum (limits.min_trade_sol) the buy is skipped with the reason of the limit that bound it.
* The reserve counts the worst-case fees of the trade (signatures, the priority-fee cap, the Jito tip and
  the rent of a new token account) and every in-flight buy, so SOL balance never drops below
  min_reserve_sol because of us.
* Sells are never blocked by caps, the kill switch or black/whitelists: they reduce risk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from engine.amounts import sol_to_lamports
from engine.constants import (
    SIGNATURE_FEE_LAMPORTS,
    TOKEN_ACCOUNT_RENT_LAMPORTS,
    WSOL_MINT,
)
from engine.safety import SAFETY_SKIP_REASONS

BASE_FEE_PER_SIGNATURE = SIGNATURE_FEE_LAMPORTS
# A swap may carry a co-signer (RFQ market maker) and we budget for two signatures to stay conservative.
SIGNATURES_BUDGETED = 2
MAX_COMPUTE_UNITS = 1_400_000

# The stable skip vocabulary (tests and the console rely on these exact strings).
SKIP_REASONS = (
    "paused",
    "buys paused",
    "kill switch",
    "trader inactive",
    "trader paused",
    "copy buys off",
    "copy sells off",
    "not a SOL trade",
    "leader size below min",
    "leader size above max",
    "blacklisted",
    "not whitelisted",
    "already bought",
    "max open positions",
    "daily spend cap",
    "per-trade cap",
    "reserve",
    "insufficient balance",
    "balance unknown",
    "no position",
    "dust",
    "duplicate",
    "queue full",
    "stale",
    "shutting down",
    "error",
    "unknown venue",
    # engine/copy_rules.py, after the policy sized a buy
    "token cooldown",
    "per-token cap",
    "exposure cap",
    # engine/safety.py, the token safety checks before a buy
    *SAFETY_SKIP_REASONS,
)


@dataclass(frozen=True, slots=True)
class Copy:
    """Trade: amount_in is lamports for a buy, token base units for a sell."""

    side: str
    amount_in: int
    slippage_bps: int
    priority: int = 0
    priority_fee_micro_lamports: int | None = None
    priority_fee_cap_lamports: int | None = None
    jito_tip_lamports: int = 0
    fee_budget_lamports: int = 0
    close: bool = False  # a sell of the whole position
    note: str = ""  # why the size differs from the trader's setting (e.g. "sized down: daily spend cap")


@dataclass(frozen=True, slots=True)
class Skip:
    """Do not trade; reason is one of SKIP_REASONS."""

    reason: str
    detail: str = ""


Decision = Copy | Skip


@dataclass(frozen=True, slots=True)
class PolicyState:
    """What the policy needs to know besides the swap and the settings; built by the executor."""

    paused: bool = False  # "pause all": nothing is copied, sells included
    buys_paused: bool = False  # "pause buys": no buys; sells of open lots are still copied
    kill_switch: bool = False
    # Our SOL balance; None means there is no wallet (paper mode): balance and reserve checks do not apply.
    balance_lamports: int | None = None
    spent_today_lamports: int = 0  # executed buys today (UTC)
    realized_pnl_today_lamports: int = 0
    in_flight_buy_lamports: int = 0  # amount_in of buys queued or sent but not finished
    in_flight_fee_budget_lamports: int = 0  # their worst-case fees
    open_positions: int = 0  # mints we hold, plus in-flight buys of mints we do not hold yet
    position_amount: int = 0  # our holding of this mint, minus in-flight sells of it
    bought_before: bool = False  # this trader's mint was bought (or is being bought) before
    trader_paused_reason: str = ""
    duplicate: bool = False
    current_slot: int | None = None
    # Seconds since the leader's swap landed (signal_age_s of its signal_at); None when not known.
    signal_age_s: float | None = None
    leader_pre_amount: int | None = None  # the leader's holding of this mint before their trade
    leader_post_amount: int | None = None  # ... and after it
    follow_leader_sells: bool = (
        True  # the trader's exit setting (else [exits]): false skips the leader's sells
    )


@dataclass(frozen=True, slots=True)
class LimitsView:
    """The limits in lamports (built once from LimitsSettings by `limits_view`)."""

    max_per_trade_lamports: int
    daily_spend_cap_lamports: int
    daily_loss_cap_lamports: int
    max_open_positions: int
    min_reserve_lamports: int
    min_trade_lamports: int
    max_signal_age_s: float
    blacklist: frozenset[str] = field(default_factory=frozenset)
    whitelist: frozenset[str] = field(default_factory=frozenset)


def limits_view(limits: Any) -> LimitsView:
    return LimitsView(
        max_per_trade_lamports=sol_to_lamports(limits.max_sol_per_trade),
        daily_spend_cap_lamports=sol_to_lamports(limits.daily_spend_cap_sol),
        daily_loss_cap_lamports=sol_to_lamports(limits.daily_loss_cap_sol),
        max_open_positions=int(limits.max_open_positions),
        min_reserve_lamports=sol_to_lamports(limits.min_reserve_sol),
        min_trade_lamports=sol_to_lamports(getattr(limits, "min_trade_sol", 0.001)),
        max_signal_age_s=float(limits.max_signal_age_s),
        blacklist=frozenset(limits.blacklist),
        whitelist=frozenset(limits.whitelist),
    )


def fee_budget_lamports(trader: Any, side: str) -> int:
    """Worst-case lamports a trade can cost on top of amount_in (what the reserve must also cover)."""
    if trader.priority_fee in ("auto", "jupiter"):
        priority = int(trader.priority_fee_cap_lamports)
    else:
        priority = -(-int(trader.priority_fee) * MAX_COMPUTE_UNITS // 1_000_000)
        priority = (
            min(priority, int(trader.priority_fee_cap_lamports))
            if trader.priority_fee_cap_lamports
            else priority
        )
    rent = TOKEN_ACCOUNT_RENT_LAMPORTS if side == "buy" else 0
    return BASE_FEE_PER_SIGNATURE * SIGNATURES_BUDGETED + priority + int(trader.jito_tip_lamports) + rent


@dataclass(frozen=True, slots=True)
class ManualTradeSettings:
    """The fee and slippage settings of a trade no trader's settings cover: a manual sell from the console or
    Telegram, or a recovered intent whose trader is no longer in traders.toml."""

    slippage_bps: int = 500
    priority_fee: str = "auto"
    priority_fee_cap_lamports: int = 200_000
    jito_tip_lamports: int = 0


MANUAL_TRADE = ManualTradeSettings()


def manual_fee_budget_lamports(side: str) -> int:
    """fee_budget_lamports for a trade made with MANUAL_TRADE's settings."""
    return fee_budget_lamports(MANUAL_TRADE, side)


def fee_fields(trader: Any) -> dict[str, Any]:
    """The trade's fee settings as a Copy carries them (priority fee None: "auto" or "jupiter", which the
    executor tells apart by the trader's setting when it builds the swap)."""
    fee = trader.priority_fee
    return {
        "priority_fee_micro_lamports": None if fee in ("auto", "jupiter") else int(fee),
        "priority_fee_cap_lamports": int(trader.priority_fee_cap_lamports),
        "jito_tip_lamports": int(trader.jito_tip_lamports),
    }


def kill_switch_tripped(realized_pnl_today_lamports: int, limits: LimitsView) -> bool:
    """The daily realised loss reached the cap: all buying stops until the operator resumes."""
    return -realized_pnl_today_lamports >= limits.daily_loss_cap_lamports


def target_buy_lamports(leader_quote_lamports: int, trader: Any) -> int:
    """The trader's sizing rule alone: fixed SOL, or percent of the leader's SOL clamped to [min, max]."""
    if trader.sizing == "fixed":
        return sol_to_lamports(trader.fixed_sol)
    raw = int(
        (Decimal(leader_quote_lamports) * Decimal(str(trader.percent)) / 100).to_integral_value(
            rounding=ROUND_FLOOR
        )
    )
    return max(sol_to_lamports(trader.min_sol), min(raw, sol_to_lamports(trader.max_sol)))


def sell_amount(
    position: int, leader_sold: int, leader_pre: int | None, leader_post: int | None, proportional: bool
) -> tuple[int, bool]:
    """(tokens to sell, closes the position). Sell the fraction the leader sold; all of it when they close.

    leader_pre is the leader's holding before the trade (read from their transaction's token balances);
    when unknown the sell is treated as a close, the safe side for a follower (never left holding a bag
    the leader dumped).
    """
    if position <= 0:
        return 0, False
    if not proportional or leader_pre is None or leader_pre <= 0:
        return position, True
    if leader_post is not None and leader_post <= 0:
        return position, True
    if leader_sold >= leader_pre:
        return position, True
    amount = position * leader_sold // leader_pre
    return amount, amount >= position


def decide(swap: Any, trader: Any, limits: Any, book: PolicyState) -> Decision:
    """The copy decision for one leader swap. swap: a SwapDetected (or anything with its fields)."""
    view = limits if isinstance(limits, LimitsView) else limits_view(limits)
    side = swap.side
    if book.duplicate:
        return Skip("duplicate")
    if book.paused:
        return Skip("paused")
    if not trader.active and not (side == "sell" and book.trader_paused_reason):
        # An auto-paused trader (failures) has only its buys paused: its sells of open lots are still copied.
        return Skip(
            "trader paused" if book.trader_paused_reason else "trader inactive", book.trader_paused_reason
        )
    if side not in ("buy", "sell") or swap.quote_mint != WSOL_MINT:
        return Skip("not a SOL trade", f"{side} against {swap.quote_mint}")
    if side == "sell":
        return _decide_sell(swap, trader, book)
    return _decide_buy(swap, trader, view, book)


def _decide_sell(swap: Any, trader: Any, book: PolicyState) -> Decision:
    if not trader.copy_sells:
        return Skip("copy sells off")
    if not book.follow_leader_sells:
        return Skip("copy sells off", "follow_leader_sells = false: the lot's exit rules sell it")
    if book.position_amount <= 0:
        return Skip("no position")
    amount, closes = sell_amount(
        book.position_amount,
        int(swap.token_amount),
        book.leader_pre_amount,
        book.leader_post_amount,
        bool(trader.proportional_sells),
    )
    if amount <= 0:
        return Skip("dust", "proportional share rounds to zero")
    # Sells jump the queue: getting out late costs more than getting in late.
    return Copy(
        "sell",
        amount,
        int(trader.slippage_bps),
        priority=10,
        close=closes,
        fee_budget_lamports=fee_budget_lamports(trader, "sell"),
        **fee_fields(trader),
    )


def _decide_buy(swap: Any, trader: Any, view: LimitsView, book: PolicyState) -> Decision:
    if book.buys_paused:
        return Skip("buys paused")
    if book.signal_age_s is not None:
        stale = stale_skip("buy", book.signal_age_s, view.max_signal_age_s)
        if stale is not None:
            return stale
    if book.kill_switch or kill_switch_tripped(book.realized_pnl_today_lamports, view):
        return Skip("kill switch")
    if not trader.copy_buys:
        return Skip("copy buys off")
    leader_lamports = int(swap.quote_amount)
    if leader_lamports < sol_to_lamports(trader.min_leader_sol):
        return Skip("leader size below min")
    if trader.max_leader_sol is not None and leader_lamports > sol_to_lamports(trader.max_leader_sol):
        return Skip("leader size above max")
    if swap.mint in view.blacklist:
        return Skip("blacklisted")
    if view.whitelist and swap.mint not in view.whitelist:
        return Skip("not whitelisted")
    if trader.buy_once and book.bought_before:
        return Skip("already bought")
    if book.position_amount <= 0 and book.open_positions >= view.max_open_positions:
        return Skip("max open positions")

    fee_budget = fee_budget_lamports(trader, "buy")
    amount = target_buy_lamports(leader_lamports, trader)
    # Each limit may size the buy down; remember which one bound last so a skip names it.
    bound = ""
    if amount > view.max_per_trade_lamports:
        amount, bound = view.max_per_trade_lamports, "per-trade cap"
    daily_left = view.daily_spend_cap_lamports - book.spent_today_lamports - book.in_flight_buy_lamports
    if amount > daily_left:
        amount, bound = max(daily_left, 0), "daily spend cap"
    if book.balance_lamports is not None:
        spendable = (
            book.balance_lamports
            - book.in_flight_buy_lamports
            - book.in_flight_fee_budget_lamports
            - fee_budget
        )
        above_reserve = spendable - view.min_reserve_lamports
        if amount > above_reserve:
            amount = max(above_reserve, 0)
            bound = "reserve" if spendable > 0 else "insufficient balance"
    if amount < max(view.min_trade_lamports, 1):
        return Skip(bound or "dust", f"{amount} lamports left")
    note = f"sized down: {bound}" if bound else ""
    return Copy(
        "buy",
        amount,
        int(trader.slippage_bps),
        priority=0,
        fee_budget_lamports=fee_budget,
        note=note,
        **fee_fields(trader),
    )


# -- the signal's age -------------------------------------------------------------------------------------
SLOT_SECONDS = 0.4  # mainnet's target slot time: the age of a swap whose block time is not known


def signal_time(
    block_time: int | None, slot: int | None, current_slot: int | None, detected_at: float
) -> float:
    """When the leader's swap landed (unix seconds): its block time; else estimated from how many slots
    behind the current one it is; else the detection time (an age of zero is the lenient side, and rare).

    Block time has one-second resolution, so an age measured from it reads up to a second old."""
    if block_time is not None:
        return float(block_time)
    if slot is not None and current_slot is not None:
        return detected_at - max(0, current_slot - slot) * SLOT_SECONDS
    return detected_at


def stale_skip(side: str, age_s: float | None, max_age_s: float) -> Skip | None:
    """Skip("stale") for a buy older than limits.max_signal_age_s; None for a fresh buy and for every sell
    (getting out matters more than the price). Checked at the decision, when the trade leaves the queue and
    before every re-quote."""
    if side != "buy" or age_s is None or age_s <= max_age_s:
        return None
    return Skip("stale", f"{age_s:.1f} s old (limits.max_signal_age_s = {max_age_s:g})")


# -- venue ------------------------------------------------------------------------------------------------
UNKNOWN_VENUE = "unknown"  # the decoder's venue for a swap seen only as balance changes


def venue_skip(venue: str, limits: Any) -> Skip | None:
    """Skip("unknown venue") for a swap through no known DEX program when limits.copy_unknown_venues is
    false; None (go on deciding) otherwise. A local cluster's swaps are all of this kind."""
    if venue == UNKNOWN_VENUE and not getattr(limits, "copy_unknown_venues", True):
        return Skip("unknown venue", "limits.copy_unknown_venues is false")
    return None
