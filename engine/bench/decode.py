"""`zapbot bench decode`: decode throughput of the mainnet fixtures, one process versus DecodePool."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import orjson

from engine.decoding.decoder import decode_raw
from engine.decoding.model import DecodeError
from engine.decoding.pool import DecodePool

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# About 10-20 s in total (single process, then the pool) on a 2-core box at ~0.3 ms per fixture.
ROUNDS = 5
DEFAULT_REPEAT = 300


class _ArgumentError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        raise _ArgumentError(message)


def fixture_dir(explicit: str | None) -> Path:
    """--fixtures, else $ZAPBOT_FIXTURES/mainnet, else ../shared/fixtures/mainnet beside the project."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("ZAPBOT_FIXTURES")
    if env:
        return Path(env) / "mainnet"
    return PROJECT_ROOT.parent / "shared" / "fixtures" / "mainnet"


def _decode_all_single(raws: list[bytes]) -> int:
    decoded = 0
    for raw in raws:
        try:
            decode_raw(raw)
        except DecodeError:
            pass
        decoded += 1
    return decoded


def main(argv: list[str]) -> int:
    parser = _Parser(prog="zapbot bench decode")
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT, help="passes over the fixtures")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--workers", type=int, default=2, help="decode pool processes (default 2)")
    parser.add_argument("--fixtures", help="folder of getTransaction JSON files (searched recursively)")
    try:
        args = parser.parse_args(argv)
    except _ArgumentError as exc:
        print(f"zapbot bench decode: {exc}", file=sys.stderr)
        return 2
    if args.repeat < 1 or args.workers < 1:
        print("zapbot bench decode: --repeat and --workers must be at least 1", file=sys.stderr)
        return 2
    folder = fixture_dir(args.fixtures)
    files = sorted(folder.rglob("*.json")) if folder.is_dir() else []
    if not files:
        print(
            f"zapbot bench decode: no fixture files under {folder} (use --fixtures or ZAPBOT_FIXTURES)",
            file=sys.stderr,
        )
        return 1
    rounds = max(1, min(ROUNDS, args.repeat))
    per_round = [path.read_bytes() for path in files] * max(1, args.repeat // rounds)
    raws = per_round * rounds
    # Single process and pool alternate, round by round, on the same inputs, and each side's median round
    # counts: a burst of load from elsewhere on a noisy machine then hits one round, not one side.
    single_times: list[float] = []
    pool_times: list[float] = []
    with DecodePool(args.workers) as pool:
        pool.decode_many(
            per_round[: min(len(per_round), 4 * args.workers)]
        )  # start the children off the clock
        chunksize = max(16, len(per_round) // (args.workers * 8))
        for _ in range(rounds):
            started = time.perf_counter()
            _decode_all_single(per_round)
            single_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            pool.decode_many(per_round, chunksize=chunksize)
            pool_times.append(time.perf_counter() - started)
    single_seconds = statistics.median(single_times) * rounds
    pool_seconds = statistics.median(pool_times) * rounds

    single_rate = len(raws) / single_seconds
    pool_rate = len(raws) / pool_seconds
    result = {
        "transactions": len(raws),
        "fixtures": len(files),
        "repeat": args.repeat,
        "rounds": rounds,
        "single_tx_per_s": round(single_rate, 1),
        "pool_tx_per_s": round(pool_rate, 1),
        "pool_workers": args.workers,
        "ratio": round(pool_rate / single_rate, 2),
    }
    if args.json:
        print(orjson.dumps(result).decode())
        return 0
    print(f"decode benchmark: {len(files)} fixtures x {args.repeat} = {len(raws)} transactions")
    print(f"{'mode':<24}{'seconds':>10}{'tx/s':>12}")
    print(f"{'single process':<24}{single_seconds:>10.2f}{single_rate:>12.0f}")
    print(f"{f'DecodePool ({args.workers} workers)':<24}{pool_seconds:>10.2f}{pool_rate:>12.0f}")
    print(f"{'speed-up':<24}{'':>10}{result['ratio']:>11.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
