"""`zapbot scout WALLET`: read a wallet's history, report how it trades, and replay it as a copy."""

from __future__ import annotations

import argparse
import asyncio
import sys
import urllib.request
from pathlib import Path
from typing import Any, TextIO

import orjson

from engine.amounts import sol_text, sol_to_lamports
from engine.chain.rpc import RpcError
from engine.config import ConfigError, Settings, load_settings
from engine.paths import home_paths
from engine.scout.exit_rules import trader_exits
from engine.scout.history import (
    DEFAULT_SCOUT_RPS,
    LOCAL_SCOUT_RPS,
    History,
    Progress,
    scout_rate_for,
    scout_wallet,
)
from engine.scout.replay import DEFAULT_DELAY_MS, ReplayResult, replay
from engine.scout.report import CREATION_WINDOW_SLOTS, FLIP_WINDOW_MS, ScoutReport, build_report
from engine.traders import TraderConfig, load_traders, validate_address

DEFAULT_LIMIT = 1000  # signatures, when neither --days nor --limit is given
# `zapbot sim` listens here unless told otherwise; sim mode with no RPC configured reads from it.
LOCAL_CLUSTER_RPC = "http://127.0.0.1:8899"
PROG = "zapbot scout"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: {message}", file=sys.stderr)
        raise SystemExit(2)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("use 1 or more")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("use 0 or more")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("use a number above 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Scout a wallet: its trading figures, and what copying it would have made.",
    )
    parser.add_argument("wallet", help="the wallet address (base58)")
    window = parser.add_mutually_exclusive_group()
    window.add_argument("--days", type=_positive_float, metavar="N", help="read the last N days of history")
    window.add_argument(
        "--limit",
        type=_positive_int,
        metavar="N",
        help=f"read the last N signatures (default {DEFAULT_LIMIT})",
    )
    parser.add_argument(
        "--delay-ms",
        type=_non_negative_int,
        default=DEFAULT_DELAY_MS,
        metavar="MS",
        help=f"copy delay of the what-if replay (default {DEFAULT_DELAY_MS})",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--rpc-url", metavar="URL", help="read the history from this RPC endpoint")
    parser.add_argument("--config", type=Path, help="configuration file (default ZAPBOT_HOME/zapbot.toml)")
    sizing = parser.add_mutually_exclusive_group()
    sizing.add_argument(
        "--fixed-sol", type=_positive_float, metavar="SOL", help="replay with a fixed buy size"
    )
    sizing.add_argument(
        "--percent", type=_positive_float, metavar="P", help="replay buying P%% of the leader's size"
    )
    parser.add_argument(
        "--balance-sol",
        type=_positive_float,
        metavar="SOL",
        help="replay with this starting balance (default: no balance checks, as in paper mode)",
    )
    parser.add_argument(
        "--requests-per-second",
        type=_positive_float,
        default=None,
        metavar="N",
        help=f"the scout's share of the RPC budget (default {DEFAULT_SCOUT_RPS:g}; "
        f"{LOCAL_SCOUT_RPS:g} for a node on 127.0.0.1)",
    )
    return parser


# -- where to read from -------------------------------------------------------------------------------
def _answers(url: str, timeout: float = 1.0) -> bool:
    request = urllib.request.Request(
        url,
        data=orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "getHealth"}),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - a local URL
            return response.status == 200
    except (OSError, ValueError):
        return False


def resolve_rpc_urls(settings: Settings, rpc_url: str | None) -> list[str]:
    """--rpc-url, else the configured RPC, else (sim mode) a running `zapbot sim`; ConfigError otherwise."""
    if rpc_url:
        if not rpc_url.startswith(("http://", "https://")):
            raise ConfigError(f"--rpc-url: {rpc_url!r} is not an http(s) URL")
        return [rpc_url]
    if settings.rpc.urls:
        return list(settings.rpc.urls)
    if settings.mode == "sim" and _answers(LOCAL_CLUSTER_RPC):
        return [LOCAL_CLUSTER_RPC]
    if settings.mode == "sim":
        raise ConfigError(
            "sim mode has no RPC to read a history from: pass --rpc-url URL or start `zapbot sim` "
            f"(it listens on {LOCAL_CLUSTER_RPC})"
        )
    raise ConfigError("no RPC configured: set rpc.urls (RPC_URL) or pass --rpc-url URL")


def trader_for(wallet: str, args: argparse.Namespace) -> tuple[TraderConfig, str | None]:
    """The operator's settings for this wallet when it is followed, else the defaults; flags override."""
    followed = None
    try:
        followed = next((t for t in load_traders(home_paths().traders) if t.wallet == wallet), None)
    except ConfigError:
        followed = None  # a broken traders file must not stop a scout: it falls back to the defaults
    trader = followed or TraderConfig(name="scout", wallet=wallet)
    if args.fixed_sol is not None:
        trader = trader.model_copy(update={"sizing": "fixed", "fixed_sol": args.fixed_sol})
    if args.percent is not None:
        trader = trader.model_copy(update={"sizing": "percent", "percent": args.percent})
    return trader, followed.name if followed else None


# -- the progress bar ---------------------------------------------------------------------------------
def progress_bar(stream: TextIO, width: int = 30) -> Progress:
    """A one-line bar redrawn in place on a terminal; on a pipe, one line per finished phase."""
    interactive = stream.isatty()
    last: dict[str, Any] = {"drawn": None}

    def draw(phase: str, done: int, total: int) -> None:
        if phase == "signatures":
            line = f"scout: {done} signatures listed"
        else:
            filled = width * done // total if total else width
            line = f"scout: [{'#' * filled}{'.' * (width - filled)}] {done}/{total} transactions"
        finished = phase == "transactions" and done >= total
        if interactive:
            if line != last["drawn"]:
                stream.write("\r" + line + ("\n" if finished else ""))
                stream.flush()
        elif finished:
            stream.write(line + "\n")
        last["drawn"] = line

    return draw


# -- human output -------------------------------------------------------------------------------------
def sol(lamports: int | None, signed: bool = False, places: int = 4) -> str:
    if lamports is None:
        return "-"
    return f"{sol_text(lamports, places, signed=signed)} SOL"


def tokens(amount: int, decimals: int | None) -> str:
    if decimals is None:
        return f"{amount} units"
    return f"{amount / 10**decimals:,.{min(decimals, 4)}f}"


def duration(ms: int | None) -> str:
    if ms is None:
        return "-"
    seconds = ms // 1000
    if seconds < 60:
        return f"{ms / 1000:.1f}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86_400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86_400}d{seconds % 86_400 // 3600:02d}h"


def share(value: float | None, places: int = 0) -> str:
    return "-" if value is None else f"{value * 100:.{places}f}%"


def _short(text: str, keep: int = 8) -> str:
    return text if len(text) <= keep + 1 else text[:keep] + "…"


def human(
    report: ScoutReport, history: History, result: ReplayResult, trader: TraderConfig, followed: str | None
) -> str:
    lines = [
        f"Wallet {report.wallet}" + (f" (followed as {followed})" if followed else " (not followed)"),
        f"History: {history.signatures} signatures ({history.failed} failed), "
        f"{len(history.transactions)} transactions ({history.fetched} fetched, {history.cached} from cache)"
        + (", cancelled" if history.cancelled else "")
        + (f", {history.fetch_errors} unreadable" if history.fetch_errors else ""),
        f"Swaps: {report.swaps} ({report.buys} buys, {report.sells} sells, {report.other_swaps} other) "
        f"= {report.swaps_per_day:.1f}/day over {report.days:g} day(s); {report.distinct_tokens} tokens; "
        f"median buy {sol(report.median_buy_lamports)}",
        f"Realised PnL: {sol(report.realised_pnl_lamports, True)} over {report.round_trips} round trips, "
        f"win rate {share(report.win_rate)} ({report.wins} won, {report.losses} lost)",
        f"Largest win {sol(report.largest_win_lamports, True)}, "
        f"largest loss {sol(report.largest_loss_lamports, True)}",
        f"Hold time: median {duration(report.median_hold_ms)}, p90 {duration(report.p90_hold_ms)}",
        f"Fees paid {sol(report.fees_lamports, places=6)}; still open: {report.open_tokens} token(s) "
        f"costing {sol(report.open_cost_lamports)}; sells with no buy in the history: {report.unmatched_sells}",
        "Venues: "
        + (", ".join(f"{k} {v}" for k, v in report.venues.items()) or "-")
        + "; routers: "
        + (", ".join(f"{k} {v}" for k, v in report.routers.items()) or "-"),
        f"Sold again within {FLIP_WINDOW_MS // 1000} s: {report.flipped_buys} of {report.buys} buys "
        f"({share(report.flip_share)})" + ("  TOO FAST TO COPY" if report.too_fast_to_copy else ""),
        f"Bought within {CREATION_WINDOW_SLOTS} slots of the token's creation: "
        + (
            "unknown (no bought token's creation could be seen)"
            if report.creation_share is None
            else f"{report.creation_buys_early} of {report.creation_buys_known} ({share(report.creation_share)})"
        ),
    ]
    if report.per_token:
        lines.append("")
        lines.append(f"{'token':<12}{'swaps':>6}{'bought':>18}{'sold':>18}{'realised':>16}")
        ranked = sorted(report.per_token.items(), key=lambda item: -abs(item[1]["realised_pnl_lamports"]))
        for mint, entry in ranked[:10]:
            decimals = report.token_decimals.get(mint)
            lines.append(
                f"{_short(mint, 10):<12}{entry['swaps']:>6}{tokens(entry['bought'], decimals):>18}"
                f"{tokens(entry['sold'], decimals):>18}{sol(entry['realised_pnl_lamports'], True):>16}"
            )
        if len(ranked) > 10:
            lines.append(f"… and {len(ranked) - 10} more")
    copy = result.to_json_dict()
    skipped = ", ".join(f"{reason} {count}" for reason, count in result.skipped.most_common()) or "none"
    lines += [
        "",
        f"What if you had copied it ({trader.sizing_summary()}, delay {result.delay_ms} ms, "
        f"slippage {trader.slippage_bps / 100:g}%):",
        f"  copies {len(result.copies)} (filled at the next trade: {result.fills_at_next_trade}, at the "
        f"leader's price with slippage: {result.fills_at_slippage}); skipped: {skipped}",
        f"  copy: {sol(result.copy_realised_pnl_lamports, True)} realised, {sol(result.copy_fees_lamports, places=6)} "
        f"fees, {sol(result.copy_net_pnl_lamports, True)} net over {result.copy_round_trips} round trips "
        f"(return {share(copy['copy_return'], 1)}, win rate {share(result.copy_win_rate)})",
        f"  leader: {sol(result.leader_realised_pnl_lamports, True)} realised "
        f"(return {share(copy['leader_return'], 1)}); gap {sol(result.gap_lamports, True)}"
        + (f" ({copy['gap_return'] * 100:+.1f} points of return)" if copy["gap_return"] is not None else ""),
    ]
    if result.copy_open_tokens:
        lines.append(
            f"  still holding {result.copy_open_tokens} token(s) costing {sol(result.copy_open_cost_lamports)}"
        )
    return "\n".join(lines)


def as_json(
    report: ScoutReport, history: History, result: ReplayResult, trader: TraderConfig, followed: str | None
) -> dict[str, Any]:
    return {
        "wallet": report.wallet,
        "followed_as": followed,
        "history": {
            "signatures": history.signatures,
            "failed": history.failed,
            "transactions": len(history.transactions),
            "fetched": history.fetched,
            "cached": history.cached,
            "missing": history.missing,
            "fetch_errors": history.fetch_errors,
            "decode_errors": history.decode_errors,
            "creation_lookups": history.creation_lookups,
            "creation_fetched": history.creation_fetched,
            "cancelled": history.cancelled,
            "since": history.since,
        },
        "report": report.to_json_dict(),
        "replay": {"trader": trader.model_dump(mode="json"), **result.to_json_dict()},
    }


# -- the command --------------------------------------------------------------------------------------
def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        wallet = validate_address(args.wallet)
    except ValueError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    try:
        settings = load_settings(args.config)
        urls = resolve_rpc_urls(settings, args.rpc_url)
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    limit = args.limit if args.limit is not None or args.days is not None else DEFAULT_LIMIT
    trader, followed = trader_for(wallet, args)
    rps = args.requests_per_second
    if rps is None:
        rps = scout_rate_for(urls)
    try:
        history = asyncio.run(
            scout_wallet(
                wallet,
                urls,
                days=args.days,
                limit=limit,
                requests_per_second=rps,
                progress=progress_bar(sys.stderr),
                commitment=settings.rpc.commitment,
            )
        )
    except RpcError as exc:
        print(f"{PROG}: cannot read the history: {exc}", file=sys.stderr)
        return 1
    # Sim-mode histories trade through the local cluster's market maker, which no DEX program names; the
    # analyzer counts those swaps in sim mode, and so does the scout.
    swaps = history.swaps(allow_unknown_venue=settings.mode == "sim")
    report = build_report(wallet, swaps, days=args.days, creation_slots=history.creation_slots())
    start_balance = None if args.balance_sol is None else sol_to_lamports(args.balance_sol)
    exits, follow_sells = trader_exits(settings.exits, trader)
    result = replay(
        swaps,
        trader,
        settings.limits,
        delay_ms=args.delay_ms,
        start_balance_lamports=start_balance,
        exits=exits,
        follow_leader_sells=follow_sells,
    )
    if args.json:
        payload = as_json(report, history, result, trader, followed)
        sys.stdout.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(human(report, history, result, trader, followed))
    return 0
