"""`zapbot bench scout`: does scouting slow copying? The copy path of `zapbot bench pipeline`, measured in
alternating phases on one local cluster (with days of history), alone and with a scout reading wallet
histories through the same engine's RPC budget at the same time; prints both side by side."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.bench import pipeline
from engine.bench.common import BenchParser, emit, parse_or_explain, summary, table
from engine.bench.timing import Timings, instrument
from engine.scout.history import LOCAL_SCOUT_RPS

DEFAULT_SWAPS = 40
DEFAULT_ROUNDS = 3  # three alone phases: their spread is the noise a change is judged against
DECODE_MODES = ("pool", "inline")  # the scout's decode pool (as in the engine), or the engine's own process
DEFAULT_HISTORY_DAYS = 2.0
DEFAULT_SCOUT_RPS = LOCAL_SCOUT_RPS  # what `zapbot scout` and the Scout screen use against 127.0.0.1
ALONE, SCOUTING = "alone", "with scout"
MEASURES = (
    ("land_to_send_ms", "landed → sent"),
    ("detect_to_send_ms", "detected → sent"),
    ("land_to_detect_ms", "landed → detected"),
    ("detect_to_confirm_ms", "detected → confirmed"),
)


@dataclass
class ScoutLoad:
    """Scouts the cluster's styled wallets over and over (a fresh cache each pass, so every transaction is
    fetched) from its own thread and loop, as the console's Scout screen does inside the engine."""

    rpc_url: str
    wallets: list[str]
    requests_per_second: float
    folder: Path
    decoder: Any = None  # engine.scout.decoding.ScoutDecoder; None decodes in the engine's process
    passes: int = 0
    fetched: int = 0
    creation_calls: int = 0  # getSignaturesForAddress/getTransaction on bought mints (made in this process)
    seconds: float = 0.0
    error: str | None = None

    @contextlib.contextmanager
    def running(self, engine: Any) -> Iterator[None]:
        stop = threading.Event()
        thread = threading.Thread(target=self._run, args=(engine, stop), name="bench-scout", daemon=True)
        started = time.monotonic()
        thread.start()
        passes = self.passes
        try:
            yield
        finally:
            # A scout phase holds at least one whole pass, so the scout surely ran alongside the copies
            # (the copies' timings are already taken; waiting here measures nothing more).
            deadline = time.monotonic() + 60
            while self.passes == passes and self.error is None and thread.is_alive():
                if time.monotonic() > deadline:
                    break
                thread.join(timeout=0.05)
            stop.set()
            thread.join(timeout=30)
            self.seconds += time.monotonic() - started

    def _run(self, engine: Any, stop: threading.Event) -> None:
        try:
            asyncio.run(self._scout_until(engine, stop))
        except Exception as exc:  # the bench reports it; the copy phase still finishes
            self.error = f"{type(exc).__name__}: {exc}"

    async def _scout_until(self, engine: Any, stop: threading.Event) -> None:
        from engine.scout.cache import ScoutCache
        from engine.scout.history import fetch_history, make_scout_pool

        # One pool for the whole phase, so the scout keeps to its rate (a new pool starts with a full burst).
        async with make_scout_pool(
            [self.rpc_url],
            requests_per_second=self.requests_per_second,
            state=engine.ctx.state,
            engine_rate=engine.settings.rpc.requests_per_second,
        ) as pool:
            while not stop.is_set():
                for wallet in self.wallets:
                    if stop.is_set():
                        break
                    with ScoutCache(self.folder / f"scout-{self.passes}.db") as cache:
                        history = await fetch_history(
                            pool, wallet, limit=1000, cache=cache, cancel=stop, decoder=self.decoder
                        )
                    self.fetched += history.fetched
                    self.creation_calls += history.creation_lookups + history.creation_fetched
                self.passes += 1


def _spread(values: list[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return round(max(known) - min(known), 2) if len(known) >= 2 else None


def _combined(phases: list[dict[str, Any]], key: str) -> list[float]:
    return [value for phase in phases for value in phase["_raw"][key]]


def run_scout_bench(
    swaps: int = DEFAULT_SWAPS,
    *,
    rounds: int = DEFAULT_ROUNDS,
    seed: int = 7,
    rate: float = pipeline.DEFAULT_RATE,
    history_days: float = DEFAULT_HISTORY_DAYS,
    scout_rps: float = DEFAULT_SCOUT_RPS,
    decode: str = "pool",
) -> dict[str, Any]:
    from engine.scout.decoding import ScoutDecoder
    from engine.sim import SimCluster, SimConfig

    if decode not in DECODE_MODES:
        raise ValueError(f"decode must be one of {', '.join(DECODE_MODES)}")

    timings = Timings()
    cluster = SimCluster(
        SimConfig(
            seed=seed,
            rpc_port=0,
            ws_port=0,
            swap_port=0,
            slot_ms=pipeline.SLOT_MS,
            traders=pipeline.DEFAULT_TRADERS,
            history_days=history_days,
        )
    ).start()
    cluster.ledger.landed_listeners.insert(
        0, lambda landed: timings.landed_at.__setitem__(landed.signature, time.time())
    )
    assert cluster.history is not None
    wallets = list(cluster.history.wallets.values())
    started = time.monotonic()
    phases: list[dict[str, Any]] = []
    decoder = ScoutDecoder() if decode == "pool" else None
    if decoder is not None:
        decoder.warm()  # its child starts off the clock, as the engine's does before the first scout ends
    with tempfile.TemporaryDirectory(prefix="zapbot-bench-scout-") as folder:
        load = ScoutLoad(cluster.rpc_url, wallets, scout_rps, Path(folder), decoder)
        try:
            with instrument(timings):
                for round_index in range(rounds):
                    # Alternate which goes first, so a drift over the run (a warming cache, a busier
                    # machine) does not always land on the same side.
                    order = (ALONE, SCOUTING) if round_index % 2 == 0 else (SCOUTING, ALONE)
                    for kind in order:
                        before = cluster.rpc.counts().get("getTransaction", 0)
                        fetched = load.fetched
                        result = pipeline.run_phase(
                            f"{kind.replace(' ', '-')}-{round_index + 1}",
                            cluster,
                            timings,
                            swaps,
                            rate,
                            seed + 2 * len(phases),
                            polling_only=False,
                            during=load.running if kind == SCOUTING else None,
                        )
                        data = result.as_json()
                        data["_raw"] = {key: getattr(result, key) for key, _ in MEASURES}
                        data["kind"] = kind
                        data["round"] = round_index + 1
                        data["scout_get_transaction"] = load.fetched - fetched
                        data["get_transaction_served"] = (
                            cluster.rpc.counts().get("getTransaction", 0) - before
                        )
                        phases.append(data)
                        time.sleep(pipeline.PHASE_GAP_S)
        finally:
            cluster.stop()
            if decoder is not None:
                decoder.close()
    by_kind = {kind: [p for p in phases if p["kind"] == kind] for kind in (ALONE, SCOUTING)}
    combined = {
        kind: {key: summary(_combined(items, key)) for key, _ in MEASURES} for kind, items in by_kind.items()
    }
    alone, scouting = combined[ALONE]["land_to_send_ms"], combined[SCOUTING]["land_to_send_ms"]
    scout_seconds = load.seconds or 1.0
    for phase in phases:
        del phase["_raw"]
    change = {
        q: round(scouting[q] - alone[q], 2) if None not in (alone[q], scouting[q]) else None
        for q in ("p50", "p95")
    }
    noise = {q: _spread([p["land_to_send_ms"][q] for p in by_kind[ALONE]]) for q in ("p50", "p95")}
    return {
        "phases": phases,
        "combined": combined,
        "land_to_send_p50_change_ms": change["p50"],
        "land_to_send_p95_change_ms": change["p95"],
        # The noise: how far apart the alone phases' own figures lie (max minus min). A change no larger
        # than that cannot be told from the machine's run-to-run noise.
        "alone_p50_spread_ms": noise["p50"],
        "alone_p95_spread_ms": noise["p95"],
        "within_noise": (
            all(abs(change[q]) <= noise[q] for q in ("p50", "p95"))  # type: ignore[arg-type]
            if None not in (*change.values(), *noise.values())
            else None
        ),
        "decode": decode,
        "scout": {
            "wallets": len(wallets),
            "passes": load.passes,
            "get_transaction": load.fetched,
            "get_transaction_per_s": round(load.fetched / scout_seconds, 1),
            "requests_per_second_share": scout_rps,
            "decoded_in_pool": decoder.transactions if decoder is not None else 0,
            "creation_calls": load.creation_calls,
            "error": load.error,
        },
        "copies": sum(p["copies"] for p in phases),
        "missed": sum(p["missed"] for p in phases),
        "duplicated": sum(p["duplicated"] for p in phases),
        "swaps_per_phase": swaps,
        "rounds": rounds,
        "rate_per_s": rate,
        "history_days": history_days,
        "history_swaps": sum(cluster.history.swaps.values()),
        "seconds": round(time.monotonic() - started, 1),
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} ms"


def render(result: dict[str, Any]) -> str:
    rows = []
    for key, label in MEASURES:
        for kind in (ALONE, SCOUTING):
            stats = result["combined"][kind][key]
            rows.append((f"{label}, {kind}", stats["p50"], stats["p95"], stats["p99"]))
    phase_rows = [
        (
            f"{p['round']}: {p['kind']}",
            p["land_to_send_ms"]["p50"],
            p["land_to_send_ms"]["p95"],
            p["copies"],
            p["missed"],
            p["scout_get_transaction"],
        )
        for p in result["phases"]
    ]
    scout = result["scout"]
    lines = [
        f"scout benchmark: {result['rounds']} round(s) of {result['swaps_per_phase']} leader swaps per phase at "
        f"{result['rate_per_s']:g}/s, alone and with a scout, alternating; the cluster holds "
        f"{result['history_days']:g} days of history ({result['history_swaps']} swaps)",
        table(("ms (all phases of a kind)", "p50", "p95", "p99"), rows, digits=1),
        "",
        table(("phase", "landed→sent p50", "p95", "copies", "missed", "scout getTx"), phase_rows, digits=1),
        "",
        f"landed → sent with a scout running: p50 {result['land_to_send_p50_change_ms']:+} ms, "
        f"p95 {result['land_to_send_p95_change_ms']:+} ms against copying alone"
        if result["land_to_send_p50_change_ms"] is not None
        else "landed → sent: not enough copies to compare",
        f"noise: the alone phases' own landed → sent p50 lie {_ms(result['alone_p50_spread_ms'])} apart, p95 "
        f"{_ms(result['alone_p95_spread_ms'])}; the change is "
        + {True: "within it", False: "OUTSIDE it", None: "not comparable (fewer than 2 alone phases)"}[
            result["within_noise"]
        ],
        f"scout: {scout['passes']} passes over {scout['wallets']} wallets, {scout['get_transaction']} "
        f"getTransaction ({scout['get_transaction_per_s']:g}/s, share {scout['requests_per_second_share']:g}/s, "
        "low priority in the engine's budget), decoded "
        + (
            f"in the scout's decode pool's child, which also fetched them ({scout['decoded_in_pool']}); "
            f"{scout['creation_calls']} creation look-ups in the engine's process"
            if result["decode"] == "pool"
            else "in the engine's process"
        )
        + (f"; error: {scout['error']}" if scout["error"] else ""),
        f"total: {result['copies']} copies, {result['missed']} missed, {result['duplicated']} duplicated in "
        f"{result['seconds']:g} s",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = BenchParser(prog="zapbot bench scout", description=__doc__)
    parser.add_argument(
        "--swaps", type=int, default=DEFAULT_SWAPS, help=f"leader swaps per phase (default {DEFAULT_SWAPS})"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=DEFAULT_ROUNDS,
        help=f"pairs of phases, alone and with a scout (default {DEFAULT_ROUNDS})",
    )
    parser.add_argument("--rate", type=float, default=pipeline.DEFAULT_RATE, help="leader swaps per second")
    parser.add_argument(
        "--history-days",
        type=float,
        default=DEFAULT_HISTORY_DAYS,
        help=f"days of history on the cluster for the scout to read (default {DEFAULT_HISTORY_DAYS:g})",
    )
    parser.add_argument(
        "--scout-rps",
        type=float,
        default=DEFAULT_SCOUT_RPS,
        help=f"the scout's requests per second (default {DEFAULT_SCOUT_RPS:g})",
    )
    parser.add_argument(
        "--decode",
        choices=DECODE_MODES,
        default="pool",
        help="where the scout decodes: its own low-priority decode pool, as in the engine (default), or "
        "inline in the engine's process (the old way, for comparison)",
    )
    parser.add_argument("--seed", type=int, default=7, help="local cluster seed (default 7)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parse_or_explain(parser, sys.argv[1:] if argv is None else argv)
    if args is None:
        return 2
    problems = [
        (not 1 <= args.swaps <= pipeline.MAX_SWAPS, f"--swaps must be between 1 and {pipeline.MAX_SWAPS:,}"),
        (not 1 <= args.rounds <= 10, "--rounds must be between 1 and 10"),
        (not 0 < args.rate <= 50, "--rate must be between 0 and 50 per second"),
        (not 0 < args.history_days <= 30, "--history-days must be above 0 and at most 30"),
        (not 0 < args.scout_rps <= 1000, "--scout-rps must be above 0 and at most 1000"),
    ]
    for bad, message in problems:
        if bad:
            print(f"zapbot bench scout: {message}", file=sys.stderr)
            return 2
    try:
        result = run_scout_bench(
            args.swaps,
            rounds=args.rounds,
            seed=args.seed,
            rate=args.rate,
            history_days=args.history_days,
            scout_rps=args.scout_rps,
            decode=args.decode,
        )
    except RuntimeError as exc:
        print(f"zapbot bench scout: {exc}", file=sys.stderr)
        return 1
    emit(result, args.json, render)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
