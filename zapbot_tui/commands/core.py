"""Core sub-commands: run --headless, config init|show|check, traders list|add|edit|remove|start|stop, status."""

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
from zapbot_tui.commands.exit_options import ExitOptionError, add_exit_options, exit_fields
from zapbot_tui.commands.parsing import OneLineParser
from zapbot_tui.format import lag, mint_label, sol, token_amount


def _err(message: str, code: int = 2) -> int:
    print(message, file=sys.stderr)
    return code


# -- run ---------------------------------------------------------------------------------------


def run(argv: list[str]) -> int:
    parser = OneLineParser(prog="zapbot run", description="Run the engine.")
    parser.add_argument(
        "--headless", action="store_true", help="without the console (servers, CI): one line per event"
    )
    parser.add_argument("--duration", type=float, metavar="S", help="exit after S seconds")
    parser.add_argument("--config", type=Path, help="configuration file (default ZAPBOT_HOME/zapbot.toml)")
    parser.add_argument(
        "--live", action="store_true", help="allow live mode (headless live also needs --yes-live)"
    )
    parser.add_argument("--yes-live", action="store_true", help="confirm live trading without a prompt")
    parser.add_argument("--theme", help="console theme: zapbot-dark, zapbot-light, zapbot-contrast")
    parser.add_argument(
        "--json-log", action="store_true", help="headless: print JSON lines instead of human lines"
    )
    parser.add_argument(
        "--no-http", action="store_true", help="headless: no /workers/status, /metrics, /health endpoint"
    )
    args = parser.parse_args(argv)
    settings = load_settings(args.config)
    if args.headless and (settings.mode == "live" or args.live) and not (args.live and args.yes_live):
        return _err(
            "zapbot run: live mode headless needs --live --yes-live (there is no console to confirm in)"
        )
    refusal = refuse_live_without_flag(settings, args.live, "zapbot run")
    if refusal:
        return _err(refusal)
    if args.live:
        settings.mode = "live"
    problems = startup_problems(settings, theme=args.theme, console=not args.headless)
    running = running_engine_problem()
    if running:
        problems.append(running)
    if problems:
        for problem in problems:
            print(f"zapbot run: {problem}", file=sys.stderr)
        return 2
    if not args.headless:
        from zapbot_tui.app import run_console

        return int(
            run_console(settings=settings, theme=args.theme, live=args.live, config_path=args.config) or 0
        )
    return run_headless(
        settings,
        duration=args.duration,
        live_confirmed=args.live and args.yes_live,
        json_log=args.json_log,
        http=not args.no_http,
    )


def run_headless(
    settings: Settings,
    *,
    duration: float | None,
    live_confirmed: bool = False,
    json_log: bool = False,
    http: bool | None = None,
) -> int:
    """The engine without the console: one line per decision, fill, failure, adjustment and error on stdout
    (JSON lines with json_log), until SIGINT/SIGTERM or the duration. A busy HTTP port refuses the start."""
    import queue

    from engine.facade import Engine
    from engine.observability import event_record

    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    enabled = settings.http.enabled if http is None else http
    engine = Engine(settings, live_confirmed=live_confirmed, http=enabled, http_required=enabled)
    # Bus callbacks run on engine threads and must not block: lines are queued and printed here.
    lines: queue.SimpleQueue[str] = queue.SimpleQueue()

    def on_line(event: Any, level: str, line: str) -> None:
        # The line threading.log got, not a second formatting of the event.
        lines.put(orjson.dumps(event_record(event, level, line)).decode() if json_log else line)

    def say(text: str, **fields: Any) -> None:
        if json_log:
            record = {
                "ts": round(time.time(), 3),
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "event": "engine",
                "level": "info",
                "message": text,
            }
            print(orjson.dumps({**record, **fields}).decode(), flush=True)
        else:
            print(f"zapbot: {text}", flush=True)

    def drain() -> None:
        while True:
            try:
                print(lines.get_nowait(), flush=True)
            except queue.Empty:
                return

    engine.listen_to_lines_from_start(on_line)
    try:
        engine.start()
        snap = engine.snapshot()
        port = engine.http.bound_port if engine.http and not engine.http.error else None
        say(
            f"engine running in {snap.mode} mode"
            + (f"; status at http://{settings.http.host}:{port}/workers/status" if port else ""),
            mode=snap.mode,
            port=port,
        )
        deadline = time.monotonic() + duration if duration else None
        while not stop.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                break
            wait = 0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic()))
            try:
                print(lines.get(timeout=wait), flush=True)
            except queue.Empty:
                pass
            drain()
    finally:
        ok = engine.stop()
        drain()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    say("engine stopped" + ("" if ok else " (some workers missed the shutdown deadline)"), clean=ok)
    return 0


# -- config ---------------------------------------------------------------------------------------


def config(argv: list[str]) -> int:
    parser = OneLineParser(prog="zapbot config", description="Configuration.")
    sub = parser.add_subparsers(dest="action", required=True)
    init = sub.add_parser("init", help="write a commented starter zapbot.toml")
    init.add_argument("--config", type=Path, help="file to write (default ZAPBOT_HOME/zapbot.toml)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    show = sub.add_parser("show", help="print the effective configuration, secrets masked")
    show.add_argument("--config", type=Path, help="configuration file (default ZAPBOT_HOME/zapbot.toml)")
    show.add_argument("--json", action="store_true", help="print JSON instead of TOML")
    check = sub.add_parser("check", help="validate the configuration and traders files")
    check.add_argument("--config", type=Path, help="configuration file (default ZAPBOT_HOME/zapbot.toml)")
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

    problems = startup_problems(settings)
    try:
        traders = load_traders(traders_file)
    except ConfigError as exc:
        problems.append(str(exc))
        traders = []
    if problems:
        for problem in problems:
            print(f"zapbot config check: {problem}", file=sys.stderr)
        return 2
    source = args.config or (paths.config if paths.config.exists() else None)
    print(
        f"ok: {source or 'defaults (no config file)'}; mode {settings.mode}; "
        f"{len(traders)} trader(s) in {traders_file}"
    )
    if settings.mode == "live":
        print("note: live mode starts only with --live (and a typed LIVE, or --yes-live headless)")
    return 0


def startup_problems(settings: Settings, *, theme: str | None = None, console: bool = True) -> list[str]:
    """What `run` refuses, one line each: the engine's preflight, plus the console's theme."""
    from engine.facade import preflight

    problems = preflight(settings)
    if console:
        problem = theme_problem(theme or settings.ui.theme, from_flag=theme is not None)
        if problem:
            problems.append(problem)
    return problems


def running_engine_problem() -> str | None:
    """Another engine holds ZAPBOT_HOME's lock: say so before the console opens (the engine would refuse)."""
    from engine.facade import HomeLock

    home = home_paths().home
    pid = HomeLock(home).holder()
    if pid is None:
        return None
    return (
        f"another engine (pid {pid or '?'}) is running on {home}; "
        "stop it first, or set ZAPBOT_HOME to another folder"
    )


def theme_problem(name: str, *, from_flag: bool = False) -> str | None:
    from themes import THEME_NAMES

    if name in THEME_NAMES:
        return None
    where = "--theme" if from_flag else "ZAPBOT_THEME / [ui].theme"
    return f"{where}: unknown theme {name!r}; use one of {', '.join(THEME_NAMES)}"


def refuse_live_without_flag(settings: Settings, live_flag: bool, prog: str) -> str | None:
    """Live mode chosen by the config or ZAPBOT_MODE still needs --live: refuse before asking for LIVE."""
    if settings.mode == "live" and not live_flag:
        return (
            f"{prog}: live mode (from ZAPBOT_MODE or the config) needs --live; "
            "use sim or paper to try it without real funds"
        )
    return None


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
    parser.add_argument("--config", type=Path, help="configuration file (default ZAPBOT_HOME/zapbot.toml)")
    parser.add_argument("--file", type=Path, help="traders file to edit (default: the mode's traders.toml)")
    sub = parser.add_subparsers(dest="action", required=True)
    lst = sub.add_parser("list", help="list followed traders")
    lst.add_argument("--json", action="store_true", help="print JSON")
    add = sub.add_parser("add", help="follow a new trader")
    add.add_argument("name", help="a name for the trader (unique, matched case-insensitively)")
    add.add_argument("wallet", help="the trader's wallet address (base58)")
    add.add_argument("--fixed-sol", type=float, metavar="SOL", help="copy every buy with this many SOL")
    add.add_argument("--percent", type=float, help="copy buys at this percent of the trader's SOL amount")
    add.add_argument("--min-sol", type=float, metavar="SOL", help="with --percent: smallest copy in SOL")
    add.add_argument("--max-sol", type=float, metavar="SOL", help="with --percent: largest copy in SOL")
    add.add_argument("--slippage-bps", type=int, metavar="BPS", help="slippage tolerance, basis points")
    add.add_argument(
        "--min-leader-sol", type=float, metavar="SOL", help="ignore the trader's buys below this SOL amount"
    )
    add.add_argument(
        "--max-leader-sol", type=float, metavar="SOL", help="ignore the trader's buys above this SOL amount"
    )
    add.add_argument("--buy-once", action="store_true", help="copy at most one buy of each token")
    add.add_argument("--no-buys", action="store_true", help="do not copy buys")
    add.add_argument("--no-sells", action="store_true", help="do not copy sells")
    add.add_argument(
        "--priority-fee",
        help='micro-lamports per CU, "auto" (priced from the chain) or "jupiter" (the swap API\'s)',
    )
    add.add_argument("--jito-tip", type=int, metavar="LAMPORTS", help="Jito tip per trade, in lamports")
    add.add_argument("--inactive", action="store_true", help="add without copying yet")
    add_exit_options(add)
    edit = sub.add_parser("edit", help="change a trader's exit rules")
    edit.add_argument("name", help="trader name (case-insensitive)")
    add_exit_options(edit)
    actions = {"remove": "stop following a trader", "start": "start copying", "stop": "stop copying"}
    for name, what in actions.items():
        sub.add_parser(name, help=what).add_argument("name", help="trader name (case-insensitive)")
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
        try:
            fields.update(exit_fields(args))
        except ExitOptionError as exc:
            return _err(f"zapbot traders add: {exc}")
        if args.priority_fee is not None:
            fee = args.priority_fee.strip()
            if fee == "jupiter":
                fields["priority_fee"] = "jupiter"
            elif fee != "auto":
                try:
                    fields["priority_fee"] = int(fee)
                except ValueError:
                    return _err(
                        f'zapbot traders add: --priority-fee {fee!r}: use micro-lamports per CU, "auto" or "jupiter"'
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
    if args.action == "edit":
        return _edit_trader(book, args, path)
    try:
        if args.action == "remove":
            removed = book.remove(args.name)
            print(f"removed {removed.name} from {path}")
        else:
            updated = book.set_active(args.name, args.action == "start")
            print(f"{updated.name}: copying {'on' if args.action == 'start' else 'off'}")
    except KeyError as exc:
        return _err(f"zapbot traders {args.action}: {exc.args[0]}")
    _tell_running_engine(path)
    return 0


def _edit_trader(book: Any, args: Any, path: Path) -> int:
    from engine.traders import TraderConfig

    current = book.get(args.name)
    if current is None:
        return _err(f"zapbot traders edit: no trader named {args.name!r}")
    try:
        changes = exit_fields(args)
        trader = TraderConfig(**{**current.model_dump(), **changes})
    except Exception as exc:
        return _err(f"zapbot traders edit: {_first_error(exc)}")
    book.replace(args.name, trader)
    print(f"{trader.name}: {', '.join(sorted(changes)) or 'nothing'} changed in {path}")
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
    parser.add_argument("--json", action="store_true", help="print the status document as JSON")
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
    pause = doc.get("pause") or ("all" if doc.get("paused") else None)
    paused = {"buys": "BUYS PAUSED (sells still copied)  ", "all": "ALL PAUSED (sells too)  "}.get(pause, "")
    print(
        f"mode {doc['mode']}  {paused}uptime {doc['uptime_s']:.0f}s  "
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
    _print_lag((doc.get("latency") or {}).get("traders") or {})
    _print_positions(doc.get("positions") or [])
    return 0


def _print_positions(positions: list[dict[str, Any]]) -> None:
    """Open positions with their lots, whose ids `zapbot sell --lot` takes."""
    if not positions:
        return
    print(f"{'position':<16} {'amount':>16} {'cost SOL':>10}  lots (id trader amount)")
    for position in positions:
        label = mint_label(position["mint"], position.get("symbol") or "")
        decimals = position.get("decimals")
        lots = ", ".join(
            f"#{lot['id']} {lot['trader']} {token_amount(lot['amount'], decimals)}"
            for lot in position["lots"]
        )
        print(
            f"{label:<16} {token_amount(position['amount'], decimals):>16} "
            f"{sol(position['cost_lamports']):>10}  {lots}"
        )


def _print_lag(traders: dict[str, Any]) -> None:
    """Per trader, the medians of the recent copies: leader's block time → detected, detected → sent."""
    if not traders:
        return
    print(f"{'trader':<16} {'lag':>6} {'send':>6}  (medians: block time → detected, detected → sent)")
    for name, figures in traders.items():
        print(
            f"{name:<16} {lag(figures.get('detection_lag_p50_s')):>6} "
            f"{lag(figures.get('detect_to_send_p50_s')):>6}"
        )


def _status_url(paths: HomePaths) -> str | None:
    base = paths.http_base_url()
    return None if base is None else f"{base}/workers/status"
