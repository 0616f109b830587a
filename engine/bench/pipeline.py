"""`zapbot bench pipeline`: the copy path as a user feels it — leader swaps land on the local cluster, the real
Engine (sim mode) detects and copies them; measures landing→detected, detected→sent, landing→sent,
detected→confirmed, the engine's own overhead and the network requests on the critical path (by method), per
stream mode (`--stream logs|block|helius|all`, side by side on one cluster) and for polling-only detection,
and counts missed and duplicated copies against the cluster's ledger."""

from __future__ import annotations

import contextlib
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.bench.common import (
    BenchParser,
    bench_settings,
    emit,
    parse_or_explain,
    summary,
    temp_home,
)
from engine.bench.pipeline_render import render
from engine.bench.timing import Timings, instrument, ms, waited
from engine.testing.waiting import poll_until

DEFAULT_SWAPS = 100
MAX_SWAPS = 2_000
DEFAULT_RATE = 5.0  # leader swaps per second: a busy set of leaders, well inside what the sim lands
DEFAULT_TRADERS = 4
POLL_INTERVAL_S = 0.5  # the polling-only phase: how often each wallet is polled
SLOT_MS = 400.0  # mainnet's slot time
SETTLE_TIMEOUT_S = 30.0  # after the last leader swap: how long copies may take to conclude
PHASE_GAP_S = 2.5  # the monitor's first poll counts swaps from the last second as new: keep apart
WARMUP_SWAPS = 2  # per phase, before the measured ones: the first copy pays for cold start-up
SELL_EVERY = 3  # every third swap is a sell, where we hold the token (a proportional sell)
SOL = 1_000_000_000
STREAMS = ("logs", "block", "helius")


# -- one phase -------------------------------------------------------------------------------------------------------
@dataclass
class PhaseResult:
    name: str
    leader_swaps: int
    copies: int
    missed: int
    duplicated: int
    land_to_detect_ms: list[float]
    detect_to_send_ms: list[float]
    detect_to_confirm_ms: list[float]
    overhead_ms: list[float]
    wait_ms: list[float]
    land_to_send_ms: list[float]
    not_detected: int
    skipped: Counter[str]
    failed: Counter[str]
    sources: Counter[str]
    seconds: float
    trades: list[dict[str, Any]] = field(default_factory=list)
    warmup: int = 0
    cold_land_to_detect_ms: float | None = None
    stream: str | None = None  # the websocket worker's [rpc] stream; None in the polling-only phase
    # per timed copy: method → requests made for it from its landing to its send (the send included)
    critical_path: list[Counter[str]] = field(default_factory=list)
    critical_sides: list[str] = field(default_factory=list)  # ... and the copy's side, in the same order

    def critical_path_requests(self) -> dict[str, float]:
        """Mean requests per copy on the critical path (landed → sent), by method, and their total."""
        if not self.critical_path:
            return {}
        total: Counter[str] = Counter()
        for calls in self.critical_path:
            total.update(calls)
        means = {method: round(count / len(self.critical_path), 2) for method, count in sorted(total.items())}
        means["total"] = round(sum(total.values()) / len(self.critical_path), 2)
        return means

    def quotes_per_copy(self) -> dict[str, float]:
        """Mean swap-API /quote calls per copy on the critical path, for buys, sells and all copies."""
        by_side: dict[str, list[int]] = defaultdict(list)
        for side, calls in zip(self.critical_sides, self.critical_path):
            count = calls.get("swap-api /quote", 0)
            by_side[side].append(count)
            by_side["all"].append(count)
        return {side: round(sum(counts) / len(counts), 2) for side, counts in sorted(by_side.items())}

    def as_json(self, detail: bool = False) -> dict[str, Any]:
        out = {
            "detect_to_send_ms": summary(self.detect_to_send_ms),
            "detect_to_confirm_ms": summary(self.detect_to_confirm_ms),
            "overhead_ms": summary(self.overhead_ms),
            "land_to_detect_ms": summary(self.land_to_detect_ms),
            "land_to_send_ms": summary(self.land_to_send_ms),
            "rpc_and_swap_api_wait_ms": summary(self.wait_ms),
            "leader_swaps": self.leader_swaps,
            "copies": self.copies,
            "missed": self.missed,
            "duplicated": self.duplicated,
            "not_detected": self.not_detected,
            "skipped": dict(self.skipped),
            "failed": dict(self.failed),
            "seconds": round(self.seconds, 1),
            "warmup_swaps": self.warmup,
            "cold_land_to_detect_ms": self.cold_land_to_detect_ms,
            "detected_by": dict(Counter(t["source"] for t in self.trades if t["source"])),
            "stream": self.stream,
            "critical_path_requests": self.critical_path_requests(),
            "quotes_per_copy": self.quotes_per_copy(),
        }
        if detail:
            out["trades"] = self.trades
        return out


def _engine_settings(home: Any, polling_only: bool, stream: str = "logs") -> Any:
    settings = bench_settings(home)
    settings.mode = "sim"
    settings.rpc.stream = stream
    # Caps sized so the policy never refuses a copy for money reasons during the run.
    settings.limits.daily_spend_cap_sol = 1_000_000.0
    settings.limits.daily_loss_cap_sol = 1_000_000.0
    settings.sim.operator_airdrop_sol = 10_000.0
    if polling_only:
        settings.engine.poll_interval_ws_down_s = POLL_INTERVAL_S
    return settings


def _leader_swaps(cluster: Any, engine: Any, count: int, rate: float, rng: random.Random) -> list[str]:
    """count leader swaps at `rate` per second; a sell only where the leader holds the token and we hold a
    lot of that leader's copies in it (a leader's sell sells its own lot only)."""
    names = [name for name, _ in cluster.traders]
    mints = cluster.mints
    signatures: list[str] = []
    interval = 1.0 / rate
    next_at = time.monotonic()
    for index in range(count):
        name = names[index % len(names)]
        mint = mints[(index // len(names)) % len(mints)]
        wallet = dict(cluster.traders)[name]
        our_lots = {(lot.leader, lot.mint) for lot in engine.snapshot().lots if lot.amount > 0}
        trade = None
        if (
            index % SELL_EVERY == SELL_EVERY - 1
            and (wallet, mint) in our_lots
            and cluster.token_balance(wallet, mint) > 0
        ):
            trade = cluster.trader_swap(name, "sell", mint, token_fraction=0.5)
        else:
            trade = cluster.trader_swap(name, "buy", mint, quote_lamports=rng.randint(2, 20) * SOL // 100)
        signatures.append(trade.signature)
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))
    return signatures


def _our_swaps(cluster: Any, wallet: str) -> int:
    """Our successful swap transactions on the ledger (the market maker's memo marks a swap)."""
    with cluster.ledger.lock:
        txs = list(cluster.ledger.txs.values())
    return sum(
        1
        for tx in txs
        if tx.account_keys
        and tx.account_keys[0] == wallet
        and tx.err is None
        and (tx.memo or "").startswith("zapsim:quote:")
    )


def run_phase(
    name: str,
    cluster: Any,
    timings: Timings,
    count: int,
    rate: float,
    seed: int,
    polling_only: bool,
    stream: str = "logs",
    during: Callable[[Any], contextlib.AbstractContextManager[Any]] | None = None,
) -> PhaseResult:
    """One engine over the shared cluster: warm-up swaps, then `count` measured ones. `during(engine)`, when
    given, is entered once the engine is ready and left when the measured copies concluded (a load that
    runs alongside, such as `zapbot bench scout`'s scout)."""
    from engine.facade import Engine, default_worker_classes
    from engine.store import connect

    classes = default_worker_classes()
    if polling_only:
        # As with no WS URL configured: the monitor alone detects, at its websocket-down interval.
        classes.pop("websocket", None)
    started = time.monotonic()
    with temp_home(f"zapbot-bench-{name}-") as home:
        engine = Engine(
            _engine_settings(home, polling_only, stream),
            paths=home,
            cluster=cluster,
            worker_classes=classes,
            http=False,
        )
        engine.start(wait_ready=30)
        engine.subscribe(timings.on_event)
        try:
            wallet = engine.ctx.state.wallet
            leaders = len(cluster.traders)
            ready = poll_until(lambda: (engine.snapshot().sol_balance_lamports or 0) > 0, 15)
            if not polling_only:
                ready = ready and poll_until(lambda: engine.snapshot().subscriptions >= leaders, 15)
            # Let every wallet's first poll set its cut-off, so nothing earlier counts as new.
            ready = ready and poll_until(lambda: engine.snapshot().counters.get("polls", 0) >= leaders, 15)
            if not ready:
                raise RuntimeError(
                    f"{name} phase: the engine did not get ready (funds, subscriptions, polls)"
                )

            def concluded(wanted: set[str]) -> bool:
                conn = connect(engine.ctx.db_path, readonly=True)
                try:
                    done = {
                        r[0]
                        for r in conn.execute(
                            "SELECT leader_signature FROM intents WHERE status IN ('executed','failed')"
                        )
                    }
                    done |= {r[0] for r in conn.execute("SELECT leader_signature FROM skips")}
                finally:
                    conn.close()
                return wanted <= done

            rng = random.Random(seed)
            with during(engine) if during is not None else contextlib.nullcontext():
                warmup = _leader_swaps(cluster, engine, WARMUP_SWAPS, rate, rng)
                poll_until(lambda: concluded(set(warmup)), SETTLE_TIMEOUT_S, step=0.1)
                signatures = _leader_swaps(cluster, engine, count, rate, rng)
                wanted = set(signatures)
                poll_until(lambda: concluded(wanted), SETTLE_TIMEOUT_S, step=0.2)
            conn = connect(engine.ctx.db_path, readonly=True)
            try:
                intents = [dict(r) for r in conn.execute("SELECT * FROM intents ORDER BY id")]
                skips = [dict(r) for r in conn.execute("SELECT * FROM skips ORDER BY id")]
            finally:
                conn.close()
            on_chain = _our_swaps(cluster, wallet)
            sources = Counter({k: v for k, v in engine.snapshot().counters.items() if k.startswith("seen_")})
        finally:
            engine.stop()
    result = _analyse(
        name,
        warmup + signatures,
        intents,
        skips,
        on_chain,
        timings,
        sources,
        time.monotonic() - started,
        measured=set(signatures),
    )
    first = timings.detections.get(warmup[0]) if warmup else None
    landed = timings.landed_at.get(warmup[0]) if warmup else None
    if first is not None and landed is not None:
        result.cold_land_to_detect_ms = ms(first[2] - landed)
    result.warmup = len(warmup)
    result.stream = None if polling_only else stream
    return result


def _analyse(
    name: str,
    signatures: list[str],
    intents: list[dict[str, Any]],
    skips: list[dict[str, Any]],
    on_chain: int,
    timings: Timings,
    sources: Counter[str],
    seconds: float,
    measured: set[str] | None = None,
) -> PhaseResult:
    by_leader: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in intents:
        by_leader[row["leader_signature"]].append(row)
    skipped_by_leader = {row["leader_signature"]: row["reason"] for row in skips}
    result = PhaseResult(
        name, len(signatures), 0, 0, 0, [], [], [], [], [], [], 0, Counter(), Counter(), sources, seconds
    )
    executed_intents = 0
    for signature in signatures:
        rows = by_leader.get(signature, [])
        executed = [r for r in rows if r["status"] == "executed"]
        executed_intents += len(executed)
        if len(rows) > 1:
            result.duplicated += len(rows) - 1
        if not executed:
            result.missed += 1
            if rows:
                result.failed[rows[0]["reason"] or rows[0]["status"]] += 1
            elif signature in skipped_by_leader:
                result.skipped[skipped_by_leader[signature]] += 1
            else:
                result.not_detected += 1
            continue
        result.copies += 1
        if measured is not None and signature not in measured:
            continue  # a warm-up swap: checked for missed/duplicated copies, not timed
        row = executed[0]
        calls = timings.of(signature)
        sends = [s for s, _, what in calls if what == "sendTransaction"]
        detected, confirmed = row["detected_at"], row["confirmed_at"]
        sent = min(sends) if sends else row["sent_at"]
        landed = timings.landed_at.get(signature)
        if detected is None or sent is None:
            continue
        detect_to_send = sent - detected
        wait = waited(calls, detected, sent)
        result.detect_to_send_ms.append(detect_to_send * 1000)
        result.wait_ms.append(wait * 1000)
        result.overhead_ms.append((detect_to_send - wait) * 1000)
        if confirmed is not None:
            result.detect_to_confirm_ms.append((confirmed - detected) * 1000)
        if landed is not None:
            result.land_to_detect_ms.append((detected - landed) * 1000)
            result.land_to_send_ms.append((sent - landed) * 1000)
            # Nothing is asked about a leader swap before it lands: this is every request from its landing
            # to our send (getTransaction for logs, the quote and swap requests, the send itself).
            result.critical_path.append(Counter(what for s, _, what in calls if landed <= s <= sent))
            result.critical_sides.append(row["side"])
        seen = timings.detections.get(signature)
        result.trades.append(
            {
                "leader_signature": signature,
                "side": row["side"],
                "source": seen[0] if seen else None,
                "landed_to_seen_ms": ms(seen[1] - landed) if seen and landed else None,
                "landed_to_detected_ms": ms(detected - landed) if landed else None,
                "detected_to_queued_ms": ms(row["queued_at"] - detected) if row["queued_at"] else None,
                "detected_to_sent_ms": ms(detect_to_send),
                "detected_to_confirmed_ms": ms(confirmed - detected) if confirmed else None,
                "wait_ms": ms(wait),
                "calls": [(what, ms(s - detected), ms(e - s)) for s, e, what in sorted(calls)],
            }
        )
    # Copies of ours on chain beyond the executed intents: the same leader swap bought twice.
    result.duplicated += max(0, on_chain - executed_intents)
    return result


def _compare(streams: dict[str, PhaseResult]) -> dict[str, Any]:
    """Each full-transaction stream against logs, from the same run on the same cluster."""
    logs = streams.get("logs")
    if logs is None:
        return {}
    base_p50 = summary(logs.land_to_send_ms)["p50"]
    base_requests = logs.critical_path_requests().get("total")
    out: dict[str, Any] = {}
    for mode, phase in streams.items():
        if mode == "logs":
            continue
        p50 = summary(phase.land_to_send_ms)["p50"]
        requests = phase.critical_path_requests().get("total")
        out[f"{mode}_vs_logs"] = {
            "land_to_send_p50_ms": p50,
            "logs_land_to_send_p50_ms": base_p50,
            "land_to_send_p50_saved_ms": round(base_p50 - p50, 2) if None not in (p50, base_p50) else None,
            "critical_path_requests": requests,
            "logs_critical_path_requests": base_requests,
            "critical_path_requests_saved": (
                round(base_requests - requests, 2) if None not in (requests, base_requests) else None
            ),
        }
    return out


def run_pipeline(
    swaps: int = DEFAULT_SWAPS,
    *,
    seed: int = 7,
    rate: float = DEFAULT_RATE,
    traders: int = DEFAULT_TRADERS,
    detail: bool = False,
    streams: Sequence[str] = ("logs",),
    rpc_latency_ms: float = 0.0,
) -> dict[str, Any]:
    from engine.sim import SimCluster, SimConfig

    timings = Timings()
    cluster = SimCluster(
        SimConfig(seed=seed, rpc_port=0, ws_port=0, swap_port=0, slot_ms=SLOT_MS, traders=traders)
    ).start()
    if rpc_latency_ms > 0:
        # Every HTTP RPC answer waits this long: a round trip to a remote node, as on mainnet.
        cluster.set_chaos(rpc_latency_ms=rpc_latency_ms)
    # First in line on the landing path, before the pubsub notification: the leader swap's landing moment.
    cluster.ledger.landed_listeners.insert(
        0, lambda landed: timings.landed_at.__setitem__(landed.signature, time.time())
    )
    started = time.monotonic()
    by_stream: dict[str, PhaseResult] = {}
    try:
        with instrument(timings):
            for offset, stream in enumerate(streams):
                name = "ws" if len(streams) == 1 else stream
                by_stream[stream] = run_phase(
                    name, cluster, timings, swaps, rate, seed + 2 * offset, polling_only=False, stream=stream
                )
                time.sleep(PHASE_GAP_S)
            polling = run_phase("polling", cluster, timings, swaps, rate, seed + 1, polling_only=True)
    finally:
        cluster.stop()
    phases = (*by_stream.values(), polling)
    stream_json = {stream: phase.as_json(detail) for stream, phase in by_stream.items()}
    return {
        # "ws": the first stream's phase (the only one unless several --stream modes ran)
        "ws": stream_json[streams[0]],
        "streams": stream_json,
        "comparison": _compare(by_stream),
        "polling": polling.as_json(detail),
        "leader_swaps": sum(p.leader_swaps for p in phases),
        "copies": sum(p.copies for p in phases),
        "missed": sum(p.missed for p in phases),
        "duplicated": sum(p.duplicated for p in phases),
        "swaps_per_phase": swaps,
        "rate_per_s": rate,
        "leaders": traders,
        "poll_interval_s": POLL_INTERVAL_S,
        "rpc_latency_ms": rpc_latency_ms,
        "seconds": round(time.monotonic() - started, 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = BenchParser(prog="zapbot bench pipeline", description=__doc__)
    parser.add_argument(
        "--swaps", type=int, default=DEFAULT_SWAPS, help=f"leader swaps per phase (default {DEFAULT_SWAPS})"
    )
    parser.add_argument(
        "--rate", type=float, default=DEFAULT_RATE, help="leader swaps per second (default 5)"
    )
    parser.add_argument("--seed", type=int, default=7, help="local cluster seed (default 7)")
    parser.add_argument(
        "--stream",
        choices=(*STREAMS, "all"),
        default="logs",
        help="the websocket phase's [rpc] stream; all = one phase per stream, side by side (default logs)",
    )
    parser.add_argument(
        "--rpc-latency-ms",
        type=float,
        default=0.0,
        help="delay every RPC answer this long, as a remote node's round trip would (default 0)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--detail", action="store_true", help="with --json: every copy's timings and calls")
    args = parse_or_explain(parser, sys.argv[1:] if argv is None else argv)
    if args is None:
        return 2
    if not 1 <= args.swaps <= MAX_SWAPS:
        print(f"zapbot bench pipeline: --swaps must be between 1 and {MAX_SWAPS:,}", file=sys.stderr)
        return 2
    if not 0 < args.rate <= 50:
        print("zapbot bench pipeline: --rate must be between 0 and 50 per second", file=sys.stderr)
        return 2
    if not 0 <= args.rpc_latency_ms <= 2_000:
        print("zapbot bench pipeline: --rpc-latency-ms must be between 0 and 2000", file=sys.stderr)
        return 2
    streams = STREAMS if args.stream == "all" else (args.stream,)
    try:
        result = run_pipeline(
            args.swaps,
            seed=args.seed,
            rate=args.rate,
            detail=args.detail,
            streams=streams,
            rpc_latency_ms=args.rpc_latency_ms,
        )
    except RuntimeError as exc:
        print(f"zapbot bench pipeline: {exc}", file=sys.stderr)
        return 1
    emit(result, args.json, render)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
