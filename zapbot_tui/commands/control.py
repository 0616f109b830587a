"""`zapbot sell`, `zapbot pause` and `zapbot resume`: the operator's actions sent to the running engine."""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request
from decimal import Decimal
from typing import Any

import orjson

from engine.control import TOKEN_HEADER, read_control_token
from engine.paths import HomePaths, home_paths
from zapbot_tui.commands.parsing import OneLineParser
from zapbot_tui.format import mint_label, sol, token_amount

NO_ENGINE = "no running engine found (start one with `zapbot` or `zapbot run --headless`)"
DEFAULT_WAIT_S = 60.0  # how long `zapbot sell` waits for the fill before it leaves the sell to the engine


class ControlError(Exception):
    """One line for the operator, with the exit code it means (1: the engine said no or is away)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _engine_base(paths: HomePaths) -> str:
    if paths.running_engine_pid() is None:
        raise ControlError(NO_ENGINE)
    base = paths.http_base_url()
    if base is None:
        raise ControlError("the running engine serves no HTTP endpoint (it was started with --no-http)")
    return base


def call(path: str, body: dict[str, Any] | None = None, *, paths: HomePaths | None = None) -> dict[str, Any]:
    """POST body (or GET when None) to the running engine's control route; its JSON answer."""
    paths = paths or home_paths()
    base = _engine_base(paths)
    token = read_control_token(paths.home)
    if token is None:
        raise ControlError(f"cannot read {paths.home / 'control.token'}; is this the engine's ZAPBOT_HOME?")
    data = None if body is None else orjson.dumps(body)
    request = urllib.request.Request(base + path, data=data, method="GET" if body is None else "POST")
    request.add_header(TOKEN_HEADER, token)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return orjson.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = orjson.loads(exc.read()).get("error") or exc.reason
        except (orjson.JSONDecodeError, AttributeError):
            message = exc.reason
        raise ControlError(str(message), 2 if exc.code == 400 else 1) from None
    except (urllib.error.URLError, OSError) as exc:
        raise ControlError(f"cannot reach the engine at {base}: {getattr(exc, 'reason', exc)}") from None


def _run(prog: str, action: Any) -> int:
    try:
        return action()
    except ControlError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return exc.code


# -- sell -------------------------------------------------------------------------------------------


def sell(argv: list[str]) -> int:
    parser = OneLineParser(
        prog="zapbot sell",
        description="Sell part of a position of the running engine: shows the quote, asks, then sells.",
    )
    parser.add_argument("token", help="the token's symbol or mint address (an open position)")
    parser.add_argument("percent", help="how much of the position to sell, above 0 and at most 100")
    parser.add_argument("--lot", type=int, help="sell from this lot only (its id, from `zapbot status`)")
    parser.add_argument("--yes", action="store_true", help="sell without asking")
    parser.add_argument(
        "--wait",
        type=float,
        default=DEFAULT_WAIT_S,
        help=f"seconds to wait for the fill (default {DEFAULT_WAIT_S:g}; 0 returns once the sell is queued)",
    )
    args = parser.parse_args(argv)
    try:
        percent = float(args.percent.rstrip("%"))
    except ValueError:
        print(f"zapbot sell: {args.percent!r} is not a percentage", file=sys.stderr)
        return 2
    if not 0 < percent <= 100:
        print("zapbot sell: percent must be above 0 and at most 100", file=sys.stderr)
        return 2
    return _run("zapbot sell", lambda: _sell(args.token, percent, args.lot, args.yes, args.wait))


def _sell(token: str, percent: float, lot_id: int | None, yes: bool, wait_s: float) -> int:
    request = {"token": token, "percent": percent, "lot_id": lot_id}
    quote = call("/control/sell", request)
    label = mint_label(quote["mint"], quote.get("symbol") or "")
    decimals = quote.get("decimals")
    where = f" of lot {lot_id}" if lot_id is not None else ""
    impact = quote.get("price_impact_pct")
    print(
        f"sell {percent:g}%{where} of {label}: {token_amount(quote['token_amount'], decimals)} {label} "
        f"for about {sol(quote['expected_lamports'])} SOL "
        f"(at least {sol(quote['min_lamports'])} SOL"
        + (f", price impact {Decimal(impact):.2f}%" if impact is not None else "")
        + ")"
    )
    if not yes:
        if not sys.stdin.isatty():
            print("zapbot sell: not confirmed (no terminal to ask on); pass --yes to sell", file=sys.stderr)
            return 1
        answer = input("Sell? [y/N] ").strip().lower()
        if answer not in {"y", "yes"}:
            print("not sold")
            return 1
    accepted = call("/control/sell", {**request, "confirm": True})
    intent_id = accepted["intent_id"]
    print(f"sell queued as trade {intent_id}")
    if wait_s <= 0:
        return 0
    return _wait_for_fill(intent_id, label, wait_s)


def _wait_for_fill(intent_id: int, label: str, wait_s: float) -> int:
    deadline = time.monotonic() + wait_s
    trade: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            trade = call(f"/control/trades/{intent_id}")
        except ControlError:
            trade = {}
        status = trade.get("status")
        if status == "executed":
            amount = token_amount(trade["token_amount"], trade.get("token_decimals"))
            print(
                f"sold {amount} {label} for {sol(trade['quote_lamports'])} SOL "
                f"(fee {sol(trade.get('fee_lamports') or 0, 6)} SOL, tx {trade.get('signature') or '?'})"
            )
            return 0
        if status in {"failed", "skipped"}:
            print(
                f"zapbot sell: trade {intent_id} {status}: {trade.get('reason') or 'no reason given'}",
                file=sys.stderr,
            )
            return 1
        time.sleep(0.25)
    state = trade.get("status") or "unknown"
    print(
        f"trade {intent_id} is still {state} after {wait_s:g} s; the engine goes on with it (`zapbot trades`)"
    )
    return 1


# -- pause / resume -----------------------------------------------------------------------------------


def pause(argv: list[str]) -> int:
    parser = OneLineParser(
        prog="zapbot pause",
        description="Pause the running engine: buys (sells of open lots are still copied), or all copying.",
    )
    parser.add_argument(
        "what", nargs="?", default="buys", choices=["buys", "all"], help="buys (default) or all"
    )
    args = parser.parse_args(argv)

    def act() -> int:
        answer = call("/control/pause", {"mode": args.what})
        print(answer["text"] if answer.get("changed") else f"already paused ({answer['text']})")
        return 0

    return _run("zapbot pause", act)


def resume(argv: list[str]) -> int:
    parser = OneLineParser(prog="zapbot resume", description="Resume copying and clear the kill switch.")
    parser.parse_args(argv)

    def act() -> int:
        answer = call("/control/resume", {})
        if not answer.get("changed"):
            print("copying was not paused")
        elif answer.get("kill_switch_cleared"):
            print(f"copying resumed; kill switch cleared ({answer['kill_switch_cleared']})")
        else:
            print("copying resumed")
        return 0

    return _run("zapbot resume", act)
