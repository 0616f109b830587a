"""Telegram's report texts: profit, daily, performance, balance and logs, built from the engine snapshot."""

from __future__ import annotations

import time
from typing import Any

from engine.observability import REDACTOR
from engine.state import EngineSnapshot
from engine.telegram.formatting import ago, short_mint, signed_sol, sol, token_amount, token_label


def symbols_of(snapshot: EngineSnapshot) -> dict[str, str]:
    """Token symbols the engine knows (from its positions and trades); a mint without one shows shortened."""
    known: dict[str, str] = {}
    for item in (*snapshot.positions, *snapshot.trades):
        if item.symbol:
            known.setdefault(item.mint, item.symbol)
    return known


def win_rate(tally: Any) -> str:
    rate = tally.win_rate
    return (
        "no sells yet" if rate is None else f"win rate {rate:.0%} ({tally.wins}/{tally.wins + tally.losses})"
    )


def by_trader_name(books: dict[str, dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """The store's per-leader books (trader_books) keyed by the trader's name, lower-cased (names match
    case-insensitively everywhere)."""
    return {
        str(book["trader"]).lower(): book
        for leader, book in (books or {}).items()
        if leader and book.get("trader")  # lots of no leader (manual, or older rows) belong to no trader
    }


def trader_win_rate(name: str, tally: Any, books: dict[str, dict[str, Any]]) -> str:
    """A trader's win rate as freqtrade counts it, per closed trade: here a closed lot (all its copies of
    one leader's buys of a mint, sold) in profit. Without lots in the books, the sells' win rate."""
    book = books.get(name.lower())
    if book is None:
        return win_rate(tally)
    closed, wins = int(book.get("closed_lots") or 0), int(book.get("wins") or 0)
    open_lots = int(book.get("open_lots") or 0)
    if not closed:
        return f"no closed lots yet ({open_lots} open)"
    return f"win rate {wins / closed:.0%} ({wins}/{closed} closed lots)"


def _unrealized(snapshot: EngineSnapshot) -> tuple[int, int, int]:
    """(open cost, unrealised PnL of the priced positions, positions without a price)."""
    cost = sum(p.cost_lamports for p in snapshot.positions)
    priced = [p.unrealized_pnl_lamports for p in snapshot.positions if p.unrealized_pnl_lamports is not None]
    return cost, sum(priced), len(snapshot.positions) - len(priced)


def profit_text(perf: Any, snapshot: EngineSnapshot, books: dict[str, dict[str, Any]] | None = None) -> str:
    """/profit: realised PnL and its trades in total and per trader, and the open positions' PnL; a
    trader's win rate is per closed lot when the store's books (trader_books) are given."""
    total = perf.total
    named = by_trader_name(books)
    if not total.trades:
        return "No executed trades yet, so no profit to report."
    cost, unrealized, unpriced = _unrealized(snapshot)
    lines = [
        f"💰 Profit ({snapshot.mode})",
        f"Realised: {signed_sol(total.realized_pnl_lamports)} over {total.sells} sell(s); {win_rate(total)}",
        f"Open: {len(snapshot.positions)} position(s), cost {sol(cost)}, unrealised {signed_sol(unrealized)}"
        + (f" ({unpriced} not priced yet)" if unpriced else ""),
        f"Total: {signed_sol(total.realized_pnl_lamports + unrealized)}",
        f"Trades: {total.buys} buy(s), {total.sells} sell(s); bought {sol(total.spent_lamports)}",
        f"First trade {ago(perf.first_at)}, latest {ago(total.last_at)}",
        "Per trader:",
    ]
    ranked = sorted(perf.by_trader.items(), key=lambda item: item[1].realized_pnl_lamports, reverse=True)
    for name, tally in ranked:
        lines.append(
            f"  {name}: {signed_sol(tally.realized_pnl_lamports)}, {tally.buys} buy(s) {tally.sells} sell(s), "
            f"{trader_win_rate(name, tally, named)}"
        )
    return "\n".join(lines)


def daily_text(
    rows: list[dict[str, Any]], fills: list[dict[str, Any]], days: int, now: float | None = None
) -> str:
    """/daily [n]: one line per UTC day, newest first: spend, realised PnL and trades that day."""
    from engine.store.base import utc_day

    trades_per_day: dict[str, int] = {}
    for fill in fills:
        if fill.get("confirmed_at"):
            day = utc_day(fill["confirmed_at"])
            trades_per_day[day] = trades_per_day.get(day, 0) + 1
    totals = {row["day"]: row for row in rows}
    stamp = now if now is not None else time.time()
    lines = [f"📅 Daily PnL, last {days} day(s) (UTC):"]
    for offset in range(days):
        day = utc_day(stamp - offset * 86400)
        row = totals.get(day, {})
        lines.append(
            f"{day}: PnL {signed_sol(row.get('realized_pnl_lamports', 0))}, "
            f"spent {sol(row.get('spent_lamports', 0))}, {trades_per_day.get(day, 0)} trade(s)"
        )
    return "\n".join(lines)


def performance_text(
    perf: Any, snapshot: EngineSnapshot, limit: int = 15, books: dict[str, dict[str, Any]] | None = None
) -> str:
    """/performance: realised PnL, trades and win rate per token (per sell) and per trader (per closed lot
    when the store's books are given), best first."""
    named = by_trader_name(books)
    if not perf.total.trades:
        return "No executed trades yet."
    symbols = symbols_of(snapshot)
    lines = ["📈 Performance per token (realised):"]
    tokens = sorted(perf.by_mint.items(), key=lambda item: item[1].realized_pnl_lamports, reverse=True)
    for rank, (mint, tally) in enumerate(tokens[:limit], start=1):
        lines.append(
            f"{rank}. {token_label(mint, symbols.get(mint, ''))}: {signed_sol(tally.realized_pnl_lamports)}, "
            f"{tally.trades} trade(s), {win_rate(tally)}"
        )
    if len(tokens) > limit:
        lines.append(f"… and {len(tokens) - limit} more token(s)")
    lines.append("Per trader:")
    traders = sorted(perf.by_trader.items(), key=lambda item: item[1].realized_pnl_lamports, reverse=True)
    for name, tally in traders:
        lines.append(
            f"  {name}: {signed_sol(tally.realized_pnl_lamports)}, {tally.trades} trade(s), "
            f"{trader_win_rate(name, tally, named)}"
        )
    return "\n".join(lines)


def balance_text(snapshot: EngineSnapshot) -> str:
    """/balance: the wallet's SOL and each open position (amount, cost, value where priced)."""
    if snapshot.wallet:
        wallet = f"Wallet {short_mint(snapshot.wallet)}: {sol(snapshot.sol_balance_lamports)}"
    else:
        wallet = "No wallet (paper mode: fills are priced, nothing is spent)"
    lines = [f"👛 Balance ({snapshot.mode})", wallet]
    if not snapshot.positions:
        lines.append("No open positions.")
        return "\n".join(lines)
    cost, unrealized, unpriced = _unrealized(snapshot)
    for position in snapshot.positions:
        value = (
            f", value {sol(position.cost_lamports + position.unrealized_pnl_lamports)}"
            if position.unrealized_pnl_lamports is not None
            else ""
        )
        lines.append(
            f"{token_label(position.mint, position.symbol)}: {token_amount(position.amount, position.decimals)}, "
            f"cost {sol(position.cost_lamports)}{value}"
        )
    value_line = f"Positions: cost {sol(cost)}, value {sol(cost + unrealized)}"
    if unpriced:
        value_line += f" ({unpriced} at cost, not priced yet)"
    lines.append(value_line)
    if snapshot.sol_balance_lamports is not None:
        lines.append(f"Total: {sol(snapshot.sol_balance_lamports + cost + unrealized)}")
    return "\n".join(lines)


def logs_text(snapshot: EngineSnapshot, count: int) -> str:
    """/logs [n]: the newest n log lines, oldest of them first, as the log pane shows them."""
    lines = list(snapshot.logs)[-count:]
    if not lines:
        return "No log lines yet."
    body = [
        f"{time.strftime('%H:%M:%S', time.gmtime(line.at))} {line.level[:4].upper():<4} {line.worker}: "
        f"{REDACTOR(line.message)}"
        for line in lines
    ]
    return "\n".join([f"🧾 Last {len(lines)} log line(s) (UTC):", *body])
