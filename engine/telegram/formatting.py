"""Telegram message text: pure functions from engine events and snapshots to plain-text messages and back from command arguments."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.amounts import lamports_to_sol, sol_text
from engine.commands import resolve_position
from engine.exits import trigger_label
from engine.latency import lag_text
from engine.observability import REDACTOR
from engine.state import EngineSnapshot, PositionView, TradeView

TELEGRAM_MAX_CHARS = 4096
DEFAULT_TRADES_SHOWN = 10
MAX_TRADES_SHOWN = 50
DEFAULT_DAYS_SHOWN = 7
MAX_DAYS_SHOWN = 60
DEFAULT_LOGS_SHOWN = 10
MAX_LOGS_SHOWN = 50

COMMANDS: tuple[tuple[str, str], ...] = (
    ("status", "Engine status: mode, pause, workers, trades in flight"),
    ("traders", "Followed traders and whether each is copied"),
    ("copy", "/copy <name> on|off: start or stop copying a trader"),
    ("pause", "Pause buys (sells of open lots are still copied)"),
    ("pauseall", "Pause all copying, sells too"),
    ("resume", "Resume copying (clears the kill switch)"),
    ("trades", "/trades [n]: the last n copy decisions"),
    ("positions", "Open positions"),
    ("sell", "/sell <token> <pct>: sell part of a position (asks to confirm)"),
    ("summary", "Today's summary"),
    ("profit", "Realised and open PnL, in total and per trader"),
    ("daily", "/daily [n]: spend and PnL of the last n days (UTC)"),
    ("performance", "PnL and win rate per token and per trader"),
    ("balance", "Wallet SOL and the open positions' value"),
    ("logs", "/logs [n]: the last n log lines"),
    ("stopbuy", "Stop buying (the same as /pause)"),
    ("scout", "/scout <wallet> [days]: a wallet's trading, and what copying it would make"),
    ("help", "This list"),
)

USAGE = {
    "copy": "Usage: /copy <trader name> on|off",
    "trades": f"Usage: /trades [n] with n from 1 to {MAX_TRADES_SHOWN}",
    "sell": "Usage: /sell <mint or symbol> <percent 1-100>, e.g. /sell So11…1112 50",
    "daily": f"Usage: /daily [n] with n from 1 to {MAX_DAYS_SHOWN}",
    "logs": f"Usage: /logs [n] with n from 1 to {MAX_LOGS_SHOWN}",
    "scout": "Usage: /scout <wallet address> [days, 0 to 30; default 3]",
}


class UsageError(ValueError):
    """A command's arguments are wrong; str() is the one-line answer to send back."""


# -- numbers ----------------------------------------------------------------------------------------


def redact(exc: BaseException | str) -> str:
    """One redacted line for an error; PTB's messages can carry the bot token (e.g. InvalidToken)."""
    text = (
        str(exc)
        if isinstance(exc, str)
        else (f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    )
    return REDACTOR(text.splitlines()[0] if text else "")


def sol(lamports: int | float | None, digits: int = 4) -> str:
    if lamports is None:
        return "?"
    return f"{sol_text(int(lamports), digits)} SOL"


def signed_sol(lamports: int | None, digits: int = 4) -> str:
    if lamports is None:
        return "?"
    return f"{sol_text(lamports, digits, signed=True)} SOL"


def token_amount(amount: int, decimals: int | None) -> str:
    """Base units → a readable amount; raw units when the decimals are unknown."""
    if decimals is None:
        return f"{amount:,} units"
    value = Decimal(amount).scaleb(-decimals)  # exact: base units are integers, the edge is a Decimal
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:,.2f}"
    return f"{value:.6g}"


def price_sol(quote_lamports: int, amount: int, decimals: int | None) -> str | None:
    """SOL per whole token, or None when it cannot be known."""
    if amount <= 0 or decimals is None:
        return None
    # A ratio, not an amount of money: six significant digits of it are what a person reads.
    per_token = lamports_to_sol(quote_lamports) / Decimal(amount).scaleb(-decimals)
    return f"{float(per_token):.6g} SOL"


def short_mint(mint: str) -> str:
    return mint if len(mint) <= 12 else f"{mint[:4]}…{mint[-4:]}"


def token_label(mint: str, symbol: str = "") -> str:
    return f"{symbol} ({short_mint(mint)})" if symbol else short_mint(mint)


def ago(at: float | None, now: float | None = None) -> str:
    if at is None:
        return "never"
    seconds = max(0.0, (now or time.time()) - at)
    if seconds < 60:
        return f"{seconds:.0f}s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m ago"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h ago"
    return f"{seconds / 86400:.1f}d ago"


def duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


# -- splitting ----------------------------------------------------------------------------------------


def split_message(text: str, limit: int = TELEGRAM_MAX_CHARS) -> list[str]:
    """Split text into parts of at most limit characters, at line breaks where possible."""
    if limit <= 0:
        raise ValueError("limit must be positive")
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > limit:  # a single line longer than a message: cut it hard
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        if len(current) + len(line) > limit:
            parts.append(current)
            current = ""
        current += line
    if current:
        parts.append(current)
    # The line break a part ends on is where it was split; the message boundary stands in for it.
    return [part[:-1] if part.endswith("\n") and len(part) > 1 else part for part in parts]


# -- notifications --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TradeContext:
    """What the engine knows about a trade's token beyond the event itself."""

    decimals: int | None = None
    symbol: str = ""
    realized_pnl_lamports: int | None = None  # the position's realized PnL after this fill (sells)
    cost_lamports: int | None = None


def tx_link(explorer_url: str, signature: str) -> str:
    return f"{explorer_url}{signature}"


def trade_executed_text(event: Any, info: TradeContext, explorer_url: str) -> str:
    """TradeExecuted → message."""
    side = str(event.side).upper()
    lines = [
        f"✅ {side} {token_label(event.mint, info.symbol)} {_why(event)}",
        f"Size: {token_amount(event.token_amount, info.decimals)} for {sol(event.quote_amount)}",
    ]
    price = price_sol(event.quote_amount, event.token_amount, info.decimals)
    if price:
        lines.append(f"Price: {price}")
    if event.fee_lamports:
        lines.append(f"Fee: {sol(event.fee_lamports, 6)}")
    if event.side == "sell" and info.realized_pnl_lamports is not None:
        lines.append(f"Realized PnL on this token: {signed_sol(info.realized_pnl_lamports)}")
    lines.append(f"Token: {event.mint}")
    lines.append(tx_link(explorer_url, event.signature))
    return "\n".join(lines)


def _why(event: Any) -> str:
    """What made the trade: a copy of the leader, the operator's sell, or an exit rule of the trader's lot."""
    trigger = getattr(event, "trigger", "leader")
    if trigger == "leader":
        return f"copied from {event.trader}"
    if trigger == "manual":
        return "sold by hand"
    return f"by {trigger_label(trigger)} ({event.trader}'s lot)"


def trade_failed_text(event: Any, info: TradeContext, explorer_url: str) -> str:
    side = str(event.side).upper()
    trigger = getattr(event, "trigger", "leader")
    why = "" if trigger == "leader" else f" ({trigger_label(trigger)})"
    lines = [
        f"❌ {side} {token_label(event.mint, info.symbol)} for {event.trader}{why} failed",
        f"Reason: {event.reason}",
        f"Token: {event.mint}",
    ]
    if event.signature:
        lines.append(tx_link(explorer_url, event.signature))
    return "\n".join(lines)


def skip_text(event: Any, symbol: str = "") -> str:
    return f"⏭ Skipped {event.side} {token_label(event.mint, symbol)} from {event.trader}: {event.reason}"


def worker_error_text(worker: str, message: str) -> str:
    return f"⚠️ Worker {worker} failed: {message}"


def worker_restarted_text(event: Any) -> str:
    if event.gave_up:
        return (
            f"🛑 Worker {event.worker} gave up after {event.restarts} restarts: {event.reason}. "
            "Check the log; restart ZapBot once fixed."
        )
    return f"🔄 Worker {event.worker} restarted (restart {event.restarts}): {event.reason}"


def kill_switch_text(reason: str) -> str:
    return (
        f"🛑 Kill switch triggered: {reason}\nAll copying is paused. /resume clears it once you have checked."
    )


def daily_summary_text(day: str, daily: dict[str, int], snapshot: EngineSnapshot) -> str:
    """The end-of-day message: spend, PnL, decisions today, open positions, pause state."""
    counts = {"executed": 0, "failed": 0, "skipped": 0}
    for trade in snapshot.trades:
        stamp = trade.confirmed_at or trade.queued_at or trade.detected_at
        if (
            stamp is not None
            and time.strftime("%Y-%m-%d", time.gmtime(stamp)) == day
            and trade.status in counts
        ):
            counts[trade.status] += 1
    lines = [
        f"📊 ZapBot daily summary {day} ({snapshot.mode})",
        f"Spent: {sol(daily.get('spent_lamports', 0))}",
        f"Realized PnL: {signed_sol(daily.get('realized_pnl_lamports', 0))}",
        f"Trades: {counts['executed']} executed, {counts['failed']} failed, {counts['skipped']} skipped",
        f"Open positions: {len(snapshot.positions)}",
    ]
    if snapshot.kill_switch:
        lines.append(f"Kill switch: {snapshot.kill_switch}")
    elif snapshot.pause_mode == "all":
        lines.append("All copying is paused, sells too.")
    elif snapshot.pause_mode == "buys":
        lines.append("Buying is paused; sells are still copied.")
    return "\n".join(lines)


def books_adjusted_text(event: Any, symbol: str = "", decimals: int | None = None) -> str:
    """The notice of a reconciliation adjustment: which token, why, and what the books now hold."""
    label = token_label(event.mint, symbol)
    decimals = event.decimals if event.decimals is not None else decimals
    return (
        f"⚖️ Books adjusted ({event.reason}): {label} held {token_amount(event.books_amount, decimals)}"
        f" in the lots, {token_amount(event.chain_amount, decimals)} on chain; the lots now match the"
        " chain. Nothing was sold."
    )


# -- command answers -----------------------------------------------------------------------------------


def help_text() -> str:
    lines = ["ZapBot commands:"]
    for name, description in COMMANDS:
        lines.append(f"/{name} — {description}")
    return "\n".join(lines)


def status_text(snapshot: EngineSnapshot) -> str:
    if snapshot.pause_mode == "all":
        copying = "ALL PAUSED (sells too)"
    elif snapshot.kill_switch:
        copying = f"BUYS PAUSED by kill switch: {snapshot.kill_switch}; sells still copied"
    elif snapshot.pause_mode == "buys":
        copying = "BUYS PAUSED (sells of open lots still copied)"
    elif snapshot.buys_stopped:
        copying = f"BUYS STOPPED by a limit: {snapshot.buys_stopped}; sells still copied"
    else:
        copying = "running"
    active = sum(1 for t in snapshot.traders if t.active)
    lines = [
        f"ZapBot {snapshot.mode} mode, up {duration(snapshot.uptime_s)}",
        f"Copying: {copying}",
        f"Traders: {active} of {len(snapshot.traders)} copied; {snapshot.monitored_wallets} wallets monitored",
        f"In flight: {snapshot.in_flight}",
        f"Wallet: {short_mint(snapshot.wallet) if snapshot.wallet else 'none'}"
        + (f", {sol(snapshot.sol_balance_lamports)}" if snapshot.sol_balance_lamports is not None else ""),
        f"RPC {'ok' if snapshot.health.rpc_ok else 'down'}, WebSocket {'ok' if snapshot.health.ws_ok else 'down'}"
        + (f", slot {snapshot.health.slot}" if snapshot.health.slot is not None else ""),
        "Workers:",
    ]
    for view in snapshot.workers:
        detail = f" ({view.detail})" if view.detail else ""
        restarts = f", {view.restarts} restarts" if view.restarts else ""
        lines.append(f"  {view.name}: {view.state}{detail}{restarts}")
    if snapshot.latency.traders:
        lines.append("Copy lag (medians, detected after the leader / sent after detection):")
        for name, figures in sorted(snapshot.latency.traders.items()):
            lines.append(
                f"  {name}: {lag_text(figures.detection_lag_p50_s)} / {lag_text(figures.detect_to_send_p50_s)}"
            )
    return "\n".join(lines)


def traders_text(snapshot: EngineSnapshot) -> str:
    if not snapshot.traders:
        return "No traders followed yet. Add one in the console or with `zapbot traders add`."
    lines = ["Traders:"]
    for trader in sorted(snapshot.traders, key=lambda t: t.name.lower()):
        state = "copying" if trader.active else "off"
        extra = f", paused: {trader.paused_reason}" if trader.paused_reason else ""
        lines.append(
            f"{'🟢' if trader.active else '⚪'} {trader.name} ({short_mint(trader.wallet)}) {state}, "
            f"{trader.sizing}, {trader.trades_copied} copied, PnL {signed_sol(trader.pnl_lamports)}, "
            f"last {ago(trader.last_trade_at)}{extra}"
        )
    return "\n".join(lines)


def trade_line(trade: TradeView) -> str:
    label = token_label(trade.mint, trade.symbol)
    when = trade.confirmed_at or trade.queued_at or trade.detected_at
    amount = f" {sol(trade.quote_amount)}" if trade.quote_amount else ""
    reason = f": {trade.reason}" if trade.reason and trade.status in {"failed", "skipped"} else ""
    why = "" if trade.trigger == "leader" else f", {trigger_label(trade.trigger)}"
    return f"{trade.status:<8} {trade.side} {label}{amount} ({trade.trader}{why}, {ago(when)}){reason}"


def trades_text(snapshot: EngineSnapshot, count: int) -> str:
    trades = snapshot.trades[:count]
    if not trades:
        return "No trades yet."
    return "\n".join([f"Last {len(trades)} decisions (newest first):", *(trade_line(t) for t in trades)])


def position_line(position: PositionView) -> str:
    pnl = signed_sol(position.realized_pnl_lamports)
    unrealized = (
        f", unrealized {signed_sol(position.unrealized_pnl_lamports)}"
        if position.unrealized_pnl_lamports is not None
        else ""
    )
    return (
        f"{token_label(position.mint, position.symbol)}: {token_amount(position.amount, position.decimals)}, "
        f"cost {sol(position.cost_lamports)}, realized {pnl}{unrealized}\n  {position.mint}"
    )


def positions_text(snapshot: EngineSnapshot) -> str:
    lines = ["Open positions:", *(position_line(p) for p in snapshot.positions)] if snapshot.positions else []
    if snapshot.untracked:
        lines.append("Untracked holdings (on chain, in no lot; never sold automatically):")
        for mint, amount in sorted(snapshot.untracked.items()):
            token = snapshot.tokens.get(mint)
            symbol, decimals = (token.symbol, token.decimals) if token is not None else ("", None)
            lines.append(f"{token_label(mint, symbol)}: {token_amount(amount, decimals)}\n  {mint}")
    return "\n".join(lines) if lines else "No open positions."


# -- argument parsing ----------------------------------------------------------------------------------


def parse_copy_args(args: list[str], trader_names: Iterable[str]) -> tuple[str, bool]:
    """'/copy <name> on|off' → (exact trader name, active). Names may contain spaces."""
    if len(args) < 2 or args[-1].lower() not in {"on", "off"}:
        raise UsageError(USAGE["copy"])
    wanted = " ".join(args[:-1]).strip()
    names = list(trader_names)
    match = next((n for n in names if n == wanted), None) or next(
        (n for n in names if n.lower() == wanted.lower()), None
    )
    if match is None:
        raise UsageError(f"No trader named {wanted!r}. /traders lists them. {USAGE['copy']}")
    return match, args[-1].lower() == "on"


def parse_trades_args(args: list[str]) -> int:
    return parse_count_args(args, DEFAULT_TRADES_SHOWN, MAX_TRADES_SHOWN, USAGE["trades"])


def parse_count_args(args: list[str], default: int, maximum: int, usage: str) -> int:
    """'/cmd [n]' → n in 1..maximum (default when absent); anything else is the usage line."""
    if not args:
        return default
    if len(args) != 1:
        raise UsageError(usage)
    try:
        count = int(args[0])
    except ValueError:
        raise UsageError(usage) from None
    if not 1 <= count <= maximum:
        raise UsageError(usage)
    return count


def parse_percent(text: str) -> float:
    raw = text.strip().rstrip("%")
    try:
        percent = float(raw)
    except ValueError:
        raise UsageError(f"{text!r} is not a percentage. {USAGE['sell']}") from None
    if not 0 < percent <= 100 or percent != percent:  # NaN fails both comparisons
        raise UsageError(f"Percent must be above 0 and at most 100. {USAGE['sell']}")
    return percent


def parse_sell_args(args: list[str], positions: Iterable[PositionView]) -> tuple[str, float]:
    """'/sell <mint|symbol> <pct>' → (mint, percent); the token must be an open position."""
    if len(args) != 2:
        raise UsageError(USAGE["sell"])
    token, percent_text = args
    percent = parse_percent(percent_text)
    try:
        return resolve_position(positions, token).mint, percent
    except ValueError as exc:
        text = str(exc)
        sentence = text[0].upper() + text[1:]
        if text.startswith("no open position"):
            raise UsageError(f"{sentence}. /positions lists them.") from None
        raise UsageError(f"{sentence}. {USAGE['sell']}") from None


# -- reports (/profit, /daily, /performance, /balance, /logs), after freqtrade's ------------------------------
