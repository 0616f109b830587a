"""The `zapbot` command line: the console by default, plus run, config, traders, trades, status, sell,
pause, resume, sim, decode, scout and bench."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from importlib import import_module
from pathlib import Path

from zapbot_tui.commands.parsing import OneLineParser

# Sub-commands implemented elsewhere take the rest of argv: name -> "module:function".
DELEGATED: dict[str, str] = {
    "sim": "engine.sim.cli:main",
    "decode": "engine.decoding.cli:main",
    "trades": "zapbot_tui.commands.trades:main",
    "scout": "zapbot_tui.commands.scout:main",
}
BENCHMARKS: dict[str, str] = {
    "decode": "engine.bench.decode:main",
    "pipeline": "engine.bench.pipeline:main",
    "scale": "engine.bench.scale:main",
    "soak": "engine.bench.soak:main",
    "scout": "engine.bench.scout:main",
    "sim": "engine.bench.sim:main",
}

BENCH_HELP = """\
usage: zapbot bench {decode,pipeline,scale,soak,scout,sim} [options]

Benchmarks; each prints a table, or one JSON object with --json.

subcommands:
  decode    decode throughput of the mainnet fixtures, one process versus the decode pool
  pipeline  the copy path's latency: leader swap landed -> detected -> sent -> confirmed
  scale     following many wallets: time to subscribe, memory, RPC calls per minute at rest
  soak      leaders trading under chaos (and a SIGKILL): missed, doubled, left open, landed -> send
  scout     the copy path's latency alone and with a scout reading histories, side by side
  sim       transactions per second the local cluster lands and notifies

`zapbot bench NAME --help` lists a benchmark's options.
"""

USAGE = """\
zapbot [--config FILE] [--theme NAME] [--live]        open the console (sim mode on the embedded cluster by default)
zapbot run --headless [--duration S] [--config FILE]  run the engine without the console
zapbot config init|show|check [--config FILE]         write, show (secrets masked) or validate the configuration
zapbot traders list|add|remove|start|stop ...         manage followed traders
zapbot trades [--json] [--csv FILE]                   copy decisions, newest first
zapbot status [--json]                                status of a running engine, its positions and lots
zapbot sell TOKEN PERCENT [--lot ID] [--yes]          sell part of a position of the running engine
zapbot pause [buys|all] | zapbot resume               pause buys (sells still copied) or all; resume
zapbot sim [options]                                  run the local cluster standalone
zapbot decode FILE... [--wallet W]                    decode getTransaction JSON files
zapbot scout WALLET [--days N | --limit N] [--json]   a wallet's trading, and what copying it would make
zapbot bench decode|pipeline|scale|scout|sim [--json]       benchmarks
"""


def _load(target: str) -> Callable[[list[str]], int]:
    module_name, _, function = target.partition(":")
    return getattr(import_module(module_name), function)


def _console_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="zapbot", usage=USAGE, add_help=True, description="Operator console for Solana copy trading."
    )
    parser.add_argument("--config", type=Path, help="configuration file (default ZAPBOT_HOME/zapbot.toml)")
    parser.add_argument("--theme", help="console theme: zapbot-dark, zapbot-light, zapbot-contrast")
    parser.add_argument(
        "--live", action="store_true", help="allow live trading (asks for a typed confirmation)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a user-fixable problem gets one line, never a traceback
        from engine.config import ConfigError

        if isinstance(exc, ConfigError):
            print(f"zapbot: {exc}", file=sys.stderr)
            return 2
        raise


def _dispatch(args: list[str]) -> int:
    command = args[0] if args and not args[0].startswith("-") else None
    if command is None:
        return _console(args)
    rest = args[1:]
    if command in DELEGATED:
        return int(_load(DELEGATED[command])(rest) or 0)
    if command == "bench":
        if rest and rest[0] in {"-h", "--help"}:
            print(BENCH_HELP, end="")
            return 0
        if not rest or rest[0] not in BENCHMARKS:
            print(
                f"zapbot bench: choose one of {', '.join(BENCHMARKS)} (see `zapbot bench --help`)",
                file=sys.stderr,
            )
            return 2
        return int(_load(BENCHMARKS[rest[0]])(rest[1:]) or 0)
    from zapbot_tui.commands import control, core

    handlers = {
        "run": core.run,
        "config": core.config,
        "traders": core.traders,
        "status": core.status,
        "sell": control.sell,
        "pause": control.pause,
        "resume": control.resume,
    }
    if command not in handlers:
        print(f"zapbot: unknown command {command!r}; see `zapbot --help`", file=sys.stderr)
        return 2
    return handlers[command](rest)


def _console(args: list[str]) -> int:
    parsed = _console_parser().parse_args(args)
    from engine.config import load_settings

    settings = load_settings(parsed.config)
    from zapbot_tui.commands.core import refuse_live_without_flag, running_engine_problem, startup_problems

    refusal = refuse_live_without_flag(settings, parsed.live, "zapbot")
    if refusal:
        print(refusal, file=sys.stderr)
        return 2
    if parsed.live:
        settings.mode = "live"
    problems = startup_problems(settings, theme=parsed.theme)
    running = running_engine_problem()
    if running:
        problems.append(running)
    if problems:
        for problem in problems:
            print(f"zapbot: {problem}", file=sys.stderr)
        return 2
    from zapbot_tui.app import run_console

    return int(
        run_console(settings=settings, theme=parsed.theme, live=parsed.live, config_path=parsed.config) or 0
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
