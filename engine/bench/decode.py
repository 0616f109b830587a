"""`zapbot bench decode`: decode throughput of the mainnet fixtures: a naive baseline, one process, DecodePool."""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
import time
from pathlib import Path

import orjson
from solders.pubkey import Pubkey

from engine.decoding.decoder import decode_raw
from engine.decoding.model import DecodeError
from engine.decoding.pool import DecodePool
from engine.decoding.wire import b58decode

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Baseline, single process and pool alternate round by round; each figure is the median over ROUNDS.
# About 15-25 s in total on a 2-core box.
ROUNDS = 7
DEFAULT_REPEAT = 300
TARGET_SINGLE_VS_BASELINE = 0.6
TARGET_POOL_VS_SINGLE = 1.6


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


def naive_read(raw: bytes) -> tuple[int, dict[str, int]]:
    """The baseline a decoder is measured against: parse the JSON and take the fee payer's SOL and
    per-mint token deltas from the balances, with no instruction, venue, tip or event reading."""
    document = orjson.loads(raw)
    tx = document["result"] if "meta" not in document and "result" in document else document
    meta = tx["meta"]
    body = tx["transaction"]
    if isinstance(body, dict):
        first = body["message"]["accountKeys"][0]
        payer = first["pubkey"] if isinstance(first, dict) else first
    else:  # [base64 wire, "base64"]: the fee payer is the message's first key, right after the header
        wire = base64.b64decode(body[0]) if body[1] == "base64" else b58decode(body[0])
        offset = 1 + 64 * wire[0]  # signature count (< 128), signatures
        offset += 1 if wire[offset] & 0x80 else 0  # version prefix of a v0 message
        offset += 4  # header (3 bytes) and the key count (< 128)
        payer = str(Pubkey.from_bytes(wire[offset : offset + 32]))
    sol_delta = meta["postBalances"][0] - meta["preBalances"][0] + meta["fee"]
    token_deltas: dict[str, int] = {}
    for field, sign in (("preTokenBalances", -1), ("postTokenBalances", 1)):
        for entry in meta.get(field) or ():
            if entry.get("owner") == payer:
                mint = entry["mint"]
                token_deltas[mint] = token_deltas.get(mint, 0) + sign * int(entry["uiTokenAmount"]["amount"])
    return sol_delta, token_deltas


def _naive_all(raws: list[bytes]) -> None:
    for raw in raws:
        try:
            naive_read(raw)
        except (KeyError, TypeError, IndexError, ValueError):
            pass


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
    # Baseline, single process and pool alternate, round by round, on the same inputs, and each side's
    # median round counts: a burst of load from elsewhere on a noisy machine then hits one round, not one
    # side. The ratios are medians of the per-round ratios, for the same reason.
    baseline_times: list[float] = []
    single_times: list[float] = []
    pool_times: list[float] = []
    # Two chunks per worker and round: each chunk costs the parent a fixed share of CPU (thread wake-ups,
    # unpacking its results) that on two cores comes out of the children's time. Since the inputs go
    # through shared memory, four to sixteen chunks a round measured the same within the noise.
    chunksize = max(16, -(-len(per_round) // (args.workers * 2)))
    load_before = os.getloadavg()[0]
    with DecodePool(args.workers) as pool:
        # Off the clock: start the children and run one whole round of each reader, so the pool is
        # measured in its steady state (children forked and warm) and no reader pays first-call costs.
        _naive_all(per_round)
        _decode_all_single(per_round)
        pool.decode_many(per_round, chunksize=chunksize)
        for _ in range(rounds):
            started = time.perf_counter()
            _naive_all(per_round)
            baseline_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            _decode_all_single(per_round)
            single_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            pool.decode_many(per_round, chunksize=chunksize)
            pool_times.append(time.perf_counter() - started)
    baseline_seconds = statistics.median(baseline_times) * rounds
    single_seconds = statistics.median(single_times) * rounds
    pool_seconds = statistics.median(pool_times) * rounds
    single_vs_baseline = statistics.median(b / s for b, s in zip(baseline_times, single_times, strict=True))
    pool_vs_single = statistics.median(s / p for s, p in zip(single_times, pool_times, strict=True))

    baseline_rate = len(raws) / baseline_seconds
    single_rate = len(raws) / single_seconds
    pool_rate = len(raws) / pool_seconds
    load_after = os.getloadavg()[0]
    result = {
        "transactions": len(raws),
        "fixtures": len(files),
        "repeat": args.repeat,
        "rounds": rounds,
        "baseline_tx_per_s": round(baseline_rate, 1),
        "single_tx_per_s": round(single_rate, 1),
        "pool_tx_per_s": round(pool_rate, 1),
        "pool_workers": args.workers,
        "single_vs_baseline": round(single_vs_baseline, 2),
        "pool_vs_single": round(pool_vs_single, 2),
        "ratio": round(pool_rate / single_rate, 2),
        "targets": {"single_vs_baseline": TARGET_SINGLE_VS_BASELINE, "pool_vs_single": TARGET_POOL_VS_SINGLE},
        # The 1-minute load average before and after the run: the figures only mean something beside it.
        "load_avg_1m": [round(load_before, 2), round(load_after, 2)],
        "pool_chunksize": chunksize,
    }
    if args.json:
        print(orjson.dumps(result).decode())
        return 0
    print(f"decode benchmark: {len(files)} fixtures x {args.repeat} = {len(raws)} transactions")
    print(f"{'mode':<26}{'seconds':>10}{'tx/s':>12}")
    print(f"{'naive baseline':<26}{baseline_seconds:>10.2f}{baseline_rate:>12.0f}")
    print(f"{'single process':<26}{single_seconds:>10.2f}{single_rate:>12.0f}")
    print(f"{f'DecodePool ({args.workers} workers)':<26}{pool_seconds:>10.2f}{pool_rate:>12.0f}")
    print(
        f"single vs baseline {single_vs_baseline:.2f} (target {TARGET_SINGLE_VS_BASELINE}), "
        f"pool vs single {pool_vs_single:.2f}x (target {TARGET_POOL_VS_SINGLE})"
    )
    print(f"load average (1 min) {load_before:.2f} before, {load_after:.2f} after")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
