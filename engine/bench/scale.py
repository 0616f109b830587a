"""`zapbot bench scale`: how the engine copes with following many wallets — time until N wallets are
subscribed, the memory that adds, subscriptions per WebSocket connection and RPC calls per minute at rest."""

from __future__ import annotations

import gc
import math
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from solders.pubkey import Pubkey

from engine.bench.common import (
    MB,
    BenchParser,
    ClusterProcess,
    RequestCounter,
    bench_settings,
    emit,
    parse_or_explain,
    rss_bytes,
    table,
    temp_home,
)
from engine.messages import StartMonitoring

DEFAULT_TRADERS = 10_000
MAX_TRADERS = 10_000
DEFAULT_IDLE_S = 20.0
SETTLE_S = 1.0  # after all subscriptions: let replies, GC and allocator settle before reading RSS
TARGET_SUBSCRIBE_S = 5.0
TARGET_RSS_MB = 200.0
_CONNECTIONS_RE = re.compile(r"(\d+)/(\d+) connections up")


def random_wallets(count: int, seed: int) -> list[str]:
    """count distinct random public keys (they need not exist on chain, nor ever trade)."""
    rng = random.Random(seed)
    wallets: set[str] = set()
    while len(wallets) < count:
        wallets.add(str(Pubkey(rng.randbytes(32))))
    return sorted(wallets)


def start_monitoring(engine: Any, wallets: Sequence[str]) -> None:
    """What the facade does for active traders: one StartMonitoring batch to the monitor and the websocket."""
    message = StartMonitoring(tuple(wallets))
    for worker in ("monitor", "websocket"):
        engine.ctx.send(worker, message, force=True)


def connection_count(snapshot: Any, traders: int, per_connection: int) -> int:
    match = _CONNECTIONS_RE.search(snapshot.health.ws_detail or "")
    if match:
        return int(match.group(2))
    return math.ceil(traders / per_connection)


class _Cluster:
    """Either a child-process cluster (default) or an in-process one, behind one small surface."""

    def __init__(self, in_process: bool, seed: int) -> None:
        self.in_process = in_process
        self.sim: Any = None
        self.child: ClusterProcess | None = None
        if in_process:
            from engine.sim import SimCluster, SimConfig

            self.sim = SimCluster(SimConfig(seed=seed, rpc_port=0, ws_port=0, swap_port=0, traders=0)).start()
            self.counter = RequestCounter(self.sim)
        else:
            self.child = ClusterProcess(traders=0, seed=seed)

    def configure(self, settings: Any) -> None:
        if self.child is not None:
            settings.rpc.urls = [self.child.rpc_url]
            settings.rpc.ws_url = self.child.ws_url
            settings.swap_api.url = self.child.swap_api_url

    def requests(self) -> tuple[int, Counter[str]]:
        if self.child is not None:
            stats = self.child.stats()
            return int(stats["requests"]), Counter(stats["by_method"])
        counts = self.counter.snapshot()
        return sum(counts.values()), counts

    def rss(self) -> int | None:
        if self.child is not None:
            return int(self.child.stats()["rss_bytes"])
        return None

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()
        if self.sim is not None:
            self.sim.stop()


def run_scale(
    traders: int = DEFAULT_TRADERS,
    *,
    idle_s: float = DEFAULT_IDLE_S,
    seed: int = 7,
    in_process: bool = False,
    timeout_s: float = 120.0,
) -> dict[str, Any]:
    """Start the real Engine (sim mode) against a local cluster, follow `traders` random wallets, measure."""
    from engine.facade import Engine

    wallets = random_wallets(traders, seed)
    cluster = _Cluster(in_process, seed)
    try:
        with temp_home() as home:
            settings = bench_settings(home)
            settings.mode = "sim"
            settings.sim.traders = 0
            cluster.configure(settings)
            engine = Engine(settings, paths=home, cluster=cluster.sim, http=False)
            engine.start(wait_ready=30)
            try:
                return _measure(engine, cluster, wallets, idle_s, timeout_s)
            finally:
                engine.stop()
    finally:
        cluster.stop()


def _measure(
    engine: Any, cluster: _Cluster, wallets: list[str], idle_s: float, timeout_s: float
) -> dict[str, Any]:
    traders = len(wallets)
    per_connection = engine.settings.engine.subscriptions_per_connection
    time.sleep(0.5)  # the executor's start-up calls (balance, airdrop) are not part of the figure
    gc.collect()
    engine_rss_before = rss_bytes()
    cluster_rss_before = cluster.rss()

    started = time.perf_counter()
    start_monitoring(engine, wallets)
    monitored_at: float | None = None
    subscribed_at: float | None = None
    deadline = started + timeout_s
    while time.perf_counter() < deadline:
        snap = engine.snapshot()
        now = time.perf_counter()
        if monitored_at is None and snap.monitored_wallets >= traders:
            monitored_at = now
        if subscribed_at is None and snap.subscriptions >= traders:
            subscribed_at = now
        if monitored_at is not None and subscribed_at is not None:
            break
        time.sleep(0.005)
    snap = engine.snapshot()

    time.sleep(SETTLE_S)
    gc.collect()
    engine_rss_after = rss_bytes()
    cluster_rss_after = cluster.rss()

    # At rest: nobody trades; whatever the engine asks the node now is its steady background load.
    before_total, before_methods = cluster.requests()
    engine_calls_before = engine.snapshot().health.rpc_calls
    polls_before = engine.snapshot().counters.get("polls", 0)
    time.sleep(idle_s)
    after_total, after_methods = cluster.requests()
    idle_snap = engine.snapshot()
    per_minute = 60.0 / idle_s if idle_s > 0 else 0.0
    polls = idle_snap.counters.get("polls", 0) - polls_before
    connections = connection_count(idle_snap, traders, per_connection)
    by_method = {
        method: round((after_methods[method] - before_methods.get(method, 0)) * per_minute, 1)
        for method in sorted(after_methods)
        if after_methods[method] - before_methods.get(method, 0)
    }
    return {
        "traders": traders,
        "subscribe_s": None if subscribed_at is None else round(subscribed_at - started, 3),
        "rss_added_mb": round((engine_rss_after - engine_rss_before) / MB, 1),
        "subscriptions_per_connection": round(snap.subscriptions / connections, 1) if connections else None,
        "rpc_calls_per_min_idle": round((after_total - before_total) * per_minute, 1),
        # extra detail
        "monitored_s": None if monitored_at is None else round(monitored_at - started, 3),
        "subscriptions": snap.subscriptions,
        "monitored_wallets": snap.monitored_wallets,
        "connections": connections,
        "engine_rss_mb": round(engine_rss_after / MB, 1),
        "cluster_rss_added_mb": (
            None
            if cluster_rss_before is None or cluster_rss_after is None
            else round((cluster_rss_after - cluster_rss_before) / MB, 1)
        ),
        "cluster": "in-process" if cluster.in_process else "child process",
        "engine_rpc_calls_per_min_idle": round(
            (idle_snap.health.rpc_calls - engine_calls_before) * per_minute, 1
        ),
        "rpc_by_method_per_min_idle": by_method,
        "polls_per_min_idle": round(polls * per_minute, 1),
        # how long one polling pass over every wallet takes at the rate seen at rest
        "poll_cycle_s": round(traders / (polls / idle_s), 1) if polls > 0 and idle_s > 0 else None,
        "idle_s": idle_s,
        "targets": {"subscribe_s": TARGET_SUBSCRIBE_S, "rss_added_mb": TARGET_RSS_MB},
    }


def render(result: dict[str, Any]) -> str:
    subscribe = result["subscribe_s"]
    rows = [
        ("wallets followed", result["traders"], ""),
        (
            "time until all subscribed (s)",
            subscribe if subscribe is not None else "not reached",
            f"<= {TARGET_SUBSCRIBE_S:g} s: "
            + ("met" if subscribe is not None and subscribe <= TARGET_SUBSCRIBE_S else "NOT met"),
        ),
        ("time until all monitored (s)", result["monitored_s"], ""),
        (
            "added RSS, engine (MB)",
            result["rss_added_mb"],
            f"<= {TARGET_RSS_MB:g} MB: " + ("met" if result["rss_added_mb"] <= TARGET_RSS_MB else "NOT met"),
        ),
        ("added RSS, cluster (MB)", result["cluster_rss_added_mb"], result["cluster"]),
        ("WebSocket connections", result["connections"], ""),
        ("subscriptions per connection", result["subscriptions_per_connection"], ""),
        (
            "RPC calls/min at rest (node side)",
            result["rpc_calls_per_min_idle"],
            f"over {result['idle_s']:g} s",
        ),
        ("RPC calls/min at rest (engine count)", result["engine_rpc_calls_per_min_idle"], ""),
        ("polls/min at rest", result["polls_per_min_idle"], ""),
        ("one polling pass over all wallets (s)", result["poll_cycle_s"], ""),
    ]
    methods = ", ".join(f"{m} {v:g}" for m, v in result["rpc_by_method_per_min_idle"].items()) or "none"
    return (
        f"scale benchmark: {result['traders']:,} followed wallets\n"
        + table(("measure", "value", "note"), rows, digits=2)
        + f"\nRPC at rest by method (per min): {methods}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = BenchParser(prog="zapbot bench scale", description=__doc__)
    parser.add_argument(
        "--traders",
        type=int,
        default=DEFAULT_TRADERS,
        help=f"wallets to follow, 1..{MAX_TRADERS} (default {DEFAULT_TRADERS})",
    )
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=DEFAULT_IDLE_S,
        help="how long to count RPC calls at rest (default 20)",
    )
    parser.add_argument("--seed", type=int, default=7, help="local cluster seed (default 7)")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run the local cluster in this process (its memory then counts as the engine's)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parse_or_explain(parser, sys.argv[1:] if argv is None else argv)
    if args is None:
        return 2
    if not 1 <= args.traders <= MAX_TRADERS:
        print(f"zapbot bench scale: --traders must be between 1 and {MAX_TRADERS:,}", file=sys.stderr)
        return 2
    if not 0 < args.idle_seconds <= 300:
        print("zapbot bench scale: --idle-seconds must be between 0 and 300", file=sys.stderr)
        return 2
    result = run_scale(args.traders, idle_s=args.idle_seconds, seed=args.seed, in_process=args.in_process)
    emit(result, args.json, render)
    return 0 if result["subscribe_s"] is not None else 1


if __name__ == "__main__":
    raise SystemExit(main())
