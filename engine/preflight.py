"""Start-up chores outside the workers: the embedded cluster, the checks `run` refuses on, blocking RPC calls."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.config import ConfigError, Settings


def _embedded_cluster(settings: Settings) -> Any:
    """The in-process local cluster for sim mode, on ephemeral ports so it never clashes with a standalone one."""
    from engine.sim import SimCluster, SimConfig, parse_chaos_args

    sim = settings.sim
    config = SimConfig(
        seed=sim.seed,
        rpc_port=0,
        ws_port=0,
        swap_port=0,
        slot_ms=float(sim.slot_ms),
        traders=sim.traders,
        trade_rate=sim.trade_rate,
        trade_duration=sim.trade_duration_s or 0.0,
        scenario=Path(sim.scenario).expanduser() if sim.scenario else None,
        history_days=sim.history_days,
    )
    if sim.chaos:
        parse_chaos_args([f"{key}={value}" for key, value in sim.chaos.items()], config.chaos)
    return SimCluster(config)


# The embedded cluster's demo: its traders trade about 0.25 copied buys a second at 0.1 SOL each, so the
# real-money defaults (10 SOL a day spent, 5 SOL lost) would stop buys after a few minutes. On this play
# chain (100 SOL airdropped) the caps are set so the demo copies for hours; a value the user set stays.
EMBEDDED_LIMITS = {"daily_spend_cap_sol": 1000.0, "daily_loss_cap_sol": 50.0}


def apply_embedded_defaults(settings: Settings) -> dict[str, float]:
    """Sim mode on the embedded cluster: raise the limits the user left at their defaults to the demo's
    (EMBEDDED_LIMITS); returns what it changed."""
    limits = settings.limits
    changed = {k: v for k, v in EMBEDDED_LIMITS.items() if k not in limits.model_fields_set}
    for key, value in changed.items():
        setattr(limits, key, value)
    return changed


def preflight(settings: Settings) -> list[str]:
    """Every configuration problem `Engine.start` would refuse, one line each (empty when it can start).

    `zapbot config check` prints these, and the CLI refuses with them before it opens the console, so a
    check that says ok means the engine starts. The messages are the ones Engine.start raises.
    """
    from engine.chain.wallet import load_keypair

    problems: list[str] = []
    if settings.mode in ("paper", "live") and not settings.rpc.urls:
        problems.append(f"{settings.mode} mode needs RPC_URL (or [rpc].urls)")
    path = settings.wallet.keypair_path
    if path:
        try:
            load_keypair(path)  # also refuses a keypair file others can read (it must be mode 0600)
        except ConfigError as exc:
            problems.append(str(exc))
        except Exception as exc:  # noqa: BLE001 - any failure to read a keypair is one line, no key material
            problems.append(f"{path}: cannot use the keypair: {type(exc).__name__}")
    elif settings.mode == "live":
        problems.append("live mode needs a keypair: set KEYPAIR_PATH or [wallet].keypair_path")
    return problems


def _rpc_call(url: str, method: str, params: list[Any], timeout: float = 5.0) -> Any:
    """One blocking JSON-RPC call, for start-up chores only (workers use the async RpcPool)."""
    import urllib.request

    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer = json.loads(response.read())
    if "error" in answer:
        raise RuntimeError(answer["error"].get("message", "RPC error"))
    return answer["result"]


def _ws_from_http(url: str) -> str:
    """The WebSocket URL Solana's clients derive from an RPC URL: ws for http, wss for https, and an
    explicit port plus one (a validator serves RPC on 8899 and PubSub on 8900); no port stays no port."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme)
    if scheme is None:
        return url
    netloc = parts.netloc
    if parts.port is not None:
        host = netloc.rsplit(":", 1)[0]
        netloc = f"{host}:{parts.port + 1}"
    return urlunsplit((scheme, netloc, parts.path, parts.query, parts.fragment))
