"""`zapbot sim`: run the local cluster standalone until Ctrl-C / SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path

import tomli_w

from engine.sim.cluster import SimCluster
from engine.sim.config import ChaosKeyError, SimConfig, parse_chaos_args
from engine.sim.scenario import ScenarioError

# Synthetic trades a second when --trade-rate is not given, as the embedded cluster's [sim] trade_rate: a
# user who starts `zapbot sim` and points paper or sim mode at it sees its traders trade, and copies.
DEFAULT_TRADE_RATE = 0.5


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zapbot sim", description="Run the embedded local Solana cluster.")
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic market (default 7)")
    parser.add_argument("--rpc-port", type=int, default=8899, help="JSON-RPC port (default 8899)")
    parser.add_argument("--ws-port", type=int, default=8900, help="PubSub WebSocket port (default 8900)")
    parser.add_argument("--swap-port", type=int, default=8080, help="swap API port (default 8080)")
    parser.add_argument("--slot-ms", type=float, default=400.0, help="slot time in ms (default 400)")
    parser.add_argument("--traders", type=int, default=3, help="synthetic traders (default 3)")
    parser.add_argument("--tokens", type=int, default=3, help="tokens with a pool (default 3)")
    parser.add_argument(
        "--trade-rate",
        type=float,
        default=None,
        metavar="PER_S",
        help=f"synthetic trades per second, all traders together (default {DEFAULT_TRADE_RATE:g}; "
        "0 with --scenario, whose timeline trades; 0 = none on a schedule)",
    )
    parser.add_argument("--trade-duration", type=float, default=0.0, help="seconds of trading (0 = forever)")
    parser.add_argument(
        "--history-days",
        type=float,
        default=0.0,
        metavar="N",
        help="make N days of trading history at start (patient, sniper, loser and crowd traders)",
    )
    parser.add_argument("--scenario", type=Path, default=None, help="scenario TOML file")
    parser.add_argument(
        "--usdc", action="store_true", help="the USDC mint, a SOL/USDC pool and USDC in every trader's wallet"
    )
    parser.add_argument(
        "--chaos", action="append", default=[], metavar="KEY=VALUE", help="a fault to inject (repeatable)"
    )
    parser.add_argument(
        "--write-traders",
        type=Path,
        default=None,
        metavar="FILE",
        help="write the synthetic traders as a traders.toml",
    )
    return parser


def write_traders_file(path: Path, traders: list[tuple[str, str]]) -> None:
    """traders.toml in the engine's format ([[traders]] name, wallet, active), replaced atomically."""
    # One [[traders]] table per trader (tomli-w alone would write an inline array for short lists).
    text = "".join(
        "[[traders]]\n" + tomli_w.dumps({"name": name, "wallet": wallet, "active": True}) + "\n"
        for name, wallet in traders
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".traders.", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def trading_line(rate: float, duration: float, scenario: bool) -> str:
    """What the traders do on their own, and how to change it (one line at start)."""
    if rate > 0:
        span = f"for {duration:g} s" if duration > 0 else "until stopped"
        return f"{rate:g} synthetic trades a second, buys and sells, {span} (--trade-rate 0 for none)"
    told = "the scenario's timeline or " if scenario else ""
    return f"no synthetic trades: traders trade only by {told}the market API (--trade-rate 0.5 for some)"


def main(argv: list[str] | None = None, *, stop_event: threading.Event | None = None) -> int:
    """Run until Ctrl-C/SIGTERM (or until stop_event is set, for tests). Returns the exit code."""
    args = build_parser().parse_args(argv)
    trade_rate = args.trade_rate
    if trade_rate is None:
        trade_rate = 0.0 if args.scenario is not None else DEFAULT_TRADE_RATE
    if not trade_rate >= 0:  # also refuses nan
        print("zapbot sim: --trade-rate must be 0 or more trades a second", file=sys.stderr)
        return 2
    try:
        chaos = parse_chaos_args(args.chaos)
    except ChaosKeyError as error:
        print(f"zapbot sim: {error}", file=sys.stderr)
        return 2
    config = SimConfig(
        seed=args.seed,
        rpc_port=args.rpc_port,
        ws_port=args.ws_port,
        swap_port=args.swap_port,
        slot_ms=args.slot_ms,
        traders=args.traders,
        tokens=args.tokens,
        trade_rate=trade_rate,
        trade_duration=args.trade_duration,
        scenario=args.scenario,
        chaos=chaos,
        usdc=args.usdc,
        history_days=args.history_days,
    )
    if not 0 <= args.history_days <= 30:
        print("zapbot sim: --history-days must be between 0 and 30", file=sys.stderr)
        return 2
    try:
        cluster = SimCluster(config).start()
    except (ScenarioError, ChaosKeyError, OSError) as error:
        print(f"zapbot sim: {error}", file=sys.stderr)
        return 2
    stop = stop_event or threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        print(f"rpc      {cluster.rpc_url}")
        print(f"ws       {cluster.ws_url}")
        print(f"swap api {cluster.swap_api_url}")
        print(f"market   {cluster.market_url}")
        for name, wallet in cluster.traders:
            print(f"trader   {name} {wallet}")
        print(f"trading  {trading_line(trade_rate, args.trade_duration, args.scenario is not None)}")
        if cluster.history is not None:
            made = cluster.history
            print(
                f"history  {made.days:g} days, {sum(made.swaps.values())} swaps, made in {made.seconds:.1f} s "
                f"(styles: {', '.join(f'{style} {count}' for style, count in made.swaps.items())})"
            )
        if args.write_traders:
            write_traders_file(args.write_traders, cluster.traders)
            print(f"traders written to {args.write_traders}")
        sys.stdout.flush()
        while not stop.wait(0.2):
            pass
    finally:
        cluster.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
