"""Core sub-commands: run --headless, config init|show|check, traders list|add|remove|start|stop, status."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from engine.config import STARTER_CONFIG, ConfigError, Settings, load_settings, masked_dict
from engine.paths import HomePaths, home_paths
from zapbot_tui.commands.parsing import OneLineParser


def _err(message: str, code: int = 2) -> int:
    print(message, file=sys.stderr)
    return code


# -- run ---------------------------------------------------------------------------------------


def run(argv: list[str]) -> int:
    parser = OneLineParser(prog="zapbot run", description="Run the engine.")
    parser.add_argument("--headless", action="store_true", help="without the console (servers, CI)")
    parser.add_argument("--duration", type=float, help="exit after S seconds")
    parser.add_argument("--config", type=Path)
    parser.add_argument(
        "--live", action="store_true", help="allow live mode (headless live also needs --yes-live)"
    )
    parser.add_argument("--yes-live", action="store_true", help="confirm live trading without a prompt")
    parser.add_argument("--theme")
    args = parser.parse_args(argv)
    settings = load_settings(args.config)
    if args.live:
        settings.mode = "live"
    if not args.headless:
        from zapbot_tui.app import run_console

        return int(
            run_console(settings=settings, theme=args.theme, live=args.live, config_path=args.config) or 0
        )
    if settings.mode == "live" and not (args.live and args.yes_live):
        return _err(
            "zapbot run: live mode headless needs --live --yes-live (there is no console to confirm in)"
        )
    return run_headless(settings, duration=args.duration, live_confirmed=args.live and args.yes_live)


def run_headless(settings: Settings, *, duration: float | None, live_confirmed: bool = False) -> int:
    from engine.facade import Engine

    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    engine = Engine(settings, live_confirmed=live_confirmed)
    try:
        engine.start()
        snap = engine.snapshot()
        port = engine.http.bound_port if engine.http else None
        print(
            f"zapbot: engine running in {snap.mode} mode"
            + (f"; status at http://{settings.http.host}:{port}/workers/status" if port else ""),
            flush=True,
        )
        deadline = time.monotonic() + duration if duration else None
        while not stop.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                break
            stop.wait(0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic())))
    finally:
        ok = engine.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(
        "zapbot: engine stopped" + ("" if ok else " (some workers missed the shutdown deadline)"), flush=True
    )
    return 0


# -- config ---------------------------------------------------------------------------------------


def config(argv: list[str]) -> int:
    parser = OneLineParser(prog="zapbot config", description="Configuration.")
    sub = parser.add_subparsers(dest="action", required=True)
    init = sub.add_parser("init", help="write a commented starter zapbot.toml")
    init.add_argument("--config", type=Path)
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    show = sub.add_parser("show", help="print the effective configuration, secrets masked")
    show.add_argument("--config", type=Path)
    show.add_argument("--json", action="store_true")
    check = sub.add_parser("check", help="validate the configuration and traders files")
    check.add_argument("--config", type=Path)
    check.add_argument("--traders", type=Path, help="traders file (default: the mode's traders.toml)")
    args = parser.parse_args(argv)
    paths = home_paths()
    if args.action == "init":
        target: Path = args.config or paths.config
        if target.exists() and not args.force:
            return _err(f"zapbot config init: {target} exists; use --force to overwrite it")
        from engine.traders import atomic_write_text

        atomic_write_text(target, STARTER_CONFIG)
        print(f"wrote {target}")
        return 0
    if args.action == "show":
        settings = load_settings(args.config)
        data = masked_dict(settings)
        if args.json:
            print(json.dumps(data, indent=2, default=str))
        else:
            import tomli_w

            print(tomli_w.dumps(_drop_none(data)), end="")
        return 0
    settings = load_settings(args.config)
    traders_file = args.traders or _traders_path(settings, paths)
    from engine.traders import load_traders

    traders = load_traders(traders_file)
    source = args.config or (paths.config if paths.config.exists() else None)
    print(
        f"ok: {source or 'defaults (no config file)'}; mode {settings.mode}; "
        f"{len(traders)} trader(s) in {traders_file}"
    )
    return 0


def _drop_none(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _drop_none(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_drop_none(v) for v in node]
    return node


def _traders_path(settings: Settings, paths: HomePaths) -> Path:
    from engine.facade import traders_path_for

    return traders_path_for(settings, paths)


# -- traders ---------------------------------------------------------------------------------------


def traders(argv: list[str]) -> int:
    parser = OneLineParser(
        prog="zapbot traders", description="Followed traders (edits the mode's traders.toml)."
    )
    parser.add_argument("--config", type=Path)
    parser.add_argument("--file", type=Path, help="traders file to edit (default: the mode's traders.toml)")
    sub = parser.add_subparsers(dest="action", required=True)
    lst = sub.add_parser("list")
    lst.add_argument("--json", action="store_true")
    add = sub.add_parser("add")
    add.add_argument("name")
    add.add_argument("wallet")
    add.add_argument("--fixed-sol", type=float)
    add.add_argument("--percent", type=float)
    add.add_argument("--min-sol", type=float)
    add.add_argument("--max-sol", type=float)
    add.add_argument("--slippage-bps", type=int)
    add.add_argument("--min-leader-sol", type=float)
    add.add_argument("--max-leader-sol", type=float)
    add.add_argument("--buy-once", action="store_true")
    add.add_argument("--no-buys", action="store_true", help="do not copy buys")
    add.add_argument("--no-sells", action="store_true", help="do not copy sells")
    add.add_argument("--priority-fee", help='micro-lamports per CU, or "auto"')
    add.add_argument("--jito-tip", type=int, help="lamports")
    add.add_argument("--inactive", action="store_true")
    for name in ("remove", "start", "stop"):
        sub.add_parser(name).add_argument("name")
    args = parser.parse_args(argv)
    settings = load_settings(args.config)
    path = args.file or _traders_path(settings, home_paths())
    from engine.traders import TraderBook, TraderConfig

    book = TraderBook(path)
    if args.action == "list":
        items = book.all()
        if args.json:
            print(json.dumps([t.to_toml_dict() for t in items], indent=2))
        elif not items:
            print(f"no traders in {path}; add one with `zapbot traders add NAME WALLET`")
        else:
            print(f"{'name':<16} {'wallet':<45} {'active':<7} sizing")
            for t in items:
                print(f"{t.name:<16} {t.wallet:<45} {'yes' if t.active else 'no':<7} {t.sizing_summary()}")
        return 0
    if args.action == "add":
        fields: dict[str, Any] = {"name": args.name, "wallet": args.wallet, "active": not args.inactive}
        if args.percent is not None:
            fields.update(sizing="percent", percent=args.percent)
        if args.fixed_sol is not None:
            fields.update(sizing="fixed", fixed_sol=args.fixed_sol)
        optional = {
            "min_sol": args.min_sol,
            "max_sol": args.max_sol,
            "slippage_bps": args.slippage_bps,
            "min_leader_sol": args.min_leader_sol,
            "max_leader_sol": args.max_leader_sol,
            "jito_tip_lamports": args.jito_tip,
        }
        fields.update({k: v for k, v in optional.items() if v is not None})
        if args.buy_once:
            fields["buy_once"] = True
        if args.no_buys:
            fields["copy_buys"] = False
        if args.no_sells:
            fields["copy_sells"] = False
        if args.priority_fee is not None:
            fee = args.priority_fee.strip()
            if fee != "auto":
                try:
                    fields["priority_fee"] = int(fee)
                except ValueError:
                    return _err(
                        f'zapbot traders add: --priority-fee {fee!r}: use micro-lamports per CU or "auto"'
                    )
        try:
            trader = TraderConfig(**fields)
        except Exception as exc:
            return _err(f"zapbot traders add: {_first_error(exc)}")
        try:
            book.add(trader)
        except ValueError as exc:
            return _err(f"zapbot traders add: {exc}")
        print(f"added {trader.name} ({trader.wallet}) to {path}")
        _tell_running_engine(path)
        return 0
    try:
        if args.action == "remove":
            book.remove(args.name)
            print(f"removed {args.name} from {path}")
        else:
            book.set_active(args.name, args.action == "start")
            print(f"{args.name}: copying {'on' if args.action == 'start' else 'off'}")
    except KeyError as exc:
        return _err(f"zapbot traders {args.action}: {exc.args[0]}")
    _tell_running_engine(path)
    return 0


def _first_error(exc: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        key = ".".join(str(p) for p in error["loc"]) or "value"
        return f"{key}: {error['msg'].removeprefix('Value error, ')}"
    return str(exc)


def _tell_running_engine(path: Path, wait_s: float = 5.0) -> None:
    """Say whether a running engine has taken the edit in: it rereads traders.toml within a second, and its
    /workers/status names the file and the digest of the version in force."""
    paths = home_paths()
    pid = paths.running_engine_pid()
    if pid is None:
        return
    from engine.traders import digest_of

    try:
        wanted = digest_of(path.read_bytes())
    except OSError:
        return
    url = _status_url(paths)
    deadline = time.monotonic() + wait_s
    while url is not None:
        doc = _fetch_status(url)
        if doc is None:
            break  # no answer (an engine without HTTP, or a stale runtime.json)
        held = doc.get("traders_file") or {}
        if held.get("path") and Path(held["path"]) != path.resolve():
            print(f"note: the running engine (pid {pid}) follows {held['path']}, not this file")
            return
        if held.get("sha256") == wanted:
            print("applied to the running engine")
            return
        if time.monotonic() >= deadline:
            print(f"note: the running engine (pid {pid}) has not applied this yet; see its log")
            return
        time.sleep(0.1)
    print(f"the running engine (pid {pid}) applies this within 2 s")


def _fetch_status(url: str) -> dict[str, Any] | None:
    request = urllib.request.Request(url)
    try:
        settings = load_settings()
        if settings.http.bearer_token is not None:
            request.add_header("Authorization", f"Bearer {settings.http.bearer_token.get_secret_value()}")
    except ConfigError:
        pass
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return orjson.loads(response.read())
    except (urllib.error.URLError, OSError, orjson.JSONDecodeError):
        return None


# -- status -----------------------------------------------------------------------------------------


def status(argv: list[str]) -> int:
    parser = OneLineParser(prog="zapbot status", description="Status of a running engine.")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--url", help="status URL (default: the running engine's, from ZAPBOT_HOME/runtime.json)"
    )
    args = parser.parse_args(argv)
    url = args.url or _status_url(home_paths())
    if url is None:
        return _err(
            "zapbot status: no running engine found (start one with `zapbot` or `zapbot run --headless`)", 1
        )
    request = urllib.request.Request(url)
    try:
        settings = load_settings()
        if settings.http.bearer_token is not None:
            request.add_header("Authorization", f"Bearer {settings.http.bearer_token.get_secret_value()}")
    except ConfigError:
        pass
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            doc = orjson.loads(response.read())
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return _err(f"zapbot status: cannot reach {url}: {reason}", 1)
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(
        f"mode {doc['mode']}  {'PAUSED  ' if doc.get('paused') else ''}uptime {doc['uptime_s']:.0f}s  "
        f"traders {doc.get('traders', 0)}  in flight {doc.get('in_flight', 0)}"
    )
    print(f"{'worker':<10} {'state':<12} {'restarts':>8} {'inbox':>6} {'heartbeat':>10}  detail")
    for name, worker in doc["workers"].items():
        age = worker.get("seconds_since_heartbeat")
        beat = f"{age:.1f}s" if isinstance(age, (int, float)) else "-"
        print(
            f"{name:<10} {worker['state']:<12} {worker['restarts']:>8} {worker['inbox_depth']:>6} {beat:>10}  "
            f"{worker.get('detail', '')}"
        )
    return 0


def _status_url(paths: HomePaths) -> str | None:
    try:
        info = json.loads(paths.runtime.read_text())
    except (FileNotFoundError, ValueError):
        return None
    host = info.get("host") or "127.0.0.1"
    if host in {"0.0.0.0", "::"}:
        host = "127.0.0.1"
    return f"http://{host}:{info['port']}/workers/status"
