"""The benchmark harness shared by `zapbot bench pipeline` and `zapbot bench scale`: argument errors as one
line, tables, --json output, percentiles, RSS, throwaway homes, RPC request counting, and a local cluster
run in a child process (so the engine's own memory and CPU can be told apart from the cluster's)."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import resource
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from engine.config import Settings, load_settings
from engine.paths import HomePaths

MB = 1024 * 1024


# -- command line -------------------------------------------------------------------------------------------
class ArgumentError(Exception):
    """A bad flag or value: printed as one line, exit status 2."""


class BenchParser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, so main() prints one clear line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ArgumentError(message)


def parse_or_explain(parser: BenchParser, argv: Sequence[str]) -> argparse.Namespace | None:
    """Parse argv; on a user error print `prog: message` to stderr and return None."""
    try:
        return parser.parse_args(list(argv))
    except ArgumentError as exc:
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return None


# -- statistics ---------------------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation between closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = math.ceil(position)
    fraction = position - low
    return float(ordered[low] + (ordered[high] - ordered[low]) * fraction)


def summary(values: Sequence[float], digits: int = 2) -> dict[str, float | None]:
    """{"p50", "p95", "p99"} of values (rounded), each None when there are no values."""
    out: dict[str, float | None] = {}
    for label, q in (("p50", 50.0), ("p95", 95.0), ("p99", 99.0)):
        value = percentile(values, q)
        out[label] = None if value is None else round(value, digits)
    return out


# -- memory -------------------------------------------------------------------------------------------------
def rss_bytes(pid: int | None = None) -> int:
    """Resident set size now, from /proc/<pid>/status (VmRSS); falls back to the peak from getrusage."""
    path = Path(f"/proc/{pid or 'self'}/status")
    try:
        for line in path.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    if pid is not None:
        return 0
    # ru_maxrss is in KiB on Linux: the peak, not the current value, but better than nothing.
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


# -- output ---------------------------------------------------------------------------------------------------
def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], digits: int = 1) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    cells = [[fmt(cell, digits) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))

    def line(parts: Sequence[str]) -> str:
        out = [parts[0].ljust(widths[0])]
        out += [part.rjust(widths[i]) for i, part in enumerate(parts[1:], start=1)]
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(list(headers)), rule, *(line(row) for row in cells)])


def emit(result: dict[str, Any], as_json: bool, render: Callable[[dict[str, Any]], str]) -> None:
    """Print one JSON object (--json) or the readable rendering."""
    if as_json:
        print(json.dumps(result, sort_keys=False))
    else:
        print(render(result))


# -- engine plumbing -------------------------------------------------------------------------------------------
@contextlib.contextmanager
def temp_home(prefix: str = "zapbot-bench-") -> Iterator[HomePaths]:
    """A throwaway ZAPBOT_HOME, so a benchmark never touches the user's database or traders."""
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        yield HomePaths(Path(folder)).ensure()


def bench_settings(home: HomePaths) -> Settings:
    """Default settings (no user config file, no environment), HTTP off, quick heartbeats."""
    settings = load_settings(home=home, use_environment=False)
    settings.http.enabled = False
    settings.engine.heartbeat_interval_ms = 2_000
    settings.engine.worker_restart_delay_ms = 200
    return settings


class RequestCounter:
    """Counts every JSON-RPC request an in-process SimCluster answers (batch items count one each).

    It wraps the RpcServer instance's dispatch, which the HTTP handler looks up per request, so it works
    on a running cluster without touching engine/sim.
    """

    def __init__(self, cluster: Any) -> None:
        self._lock = threading.Lock()
        self.by_method: Counter[str] = Counter()
        rpc = cluster.rpc
        original = rpc.dispatch

        def counting(request: Any, *args: Any, **kwargs: Any) -> Any:
            method = request.get("method") if isinstance(request, dict) else None
            with self._lock:
                self.by_method[str(method)] += 1
            return original(request, *args, **kwargs)

        rpc.dispatch = counting

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.by_method.values())

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.by_method)


# -- a local cluster in a child process ------------------------------------------------------------------------
class ClusterProcess:
    """engine.sim's SimCluster in a child process, driven by one-line JSON commands over stdin/stdout.

    Used where the engine's RSS and CPU must not include the cluster's (in production the RPC node is
    another machine). Commands: {"cmd": "stats"} → {"requests", "by_method", "rss_bytes"}; {"cmd": "stop"}.
    """

    def __init__(self, *, traders: int = 0, slot_ms: float = 400.0, seed: int = 7) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "engine.bench.common",
                "--serve-cluster",
                "--traders",
                str(traders),
                "--slot-ms",
                str(slot_ms),
                "--seed",
                str(seed),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            cwd=str(Path(__file__).resolve().parents[2]),
        )
        self._lock = threading.Lock()
        hello = self._read()
        self.rpc_url: str = hello["rpc_url"]
        self.ws_url: str = hello["ws_url"]
        self.swap_api_url: str = hello["swap_api_url"]
        self.traders: list[tuple[str, str]] = [tuple(t) for t in hello["traders"]]  # type: ignore[misc]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the local cluster child process exited")
        return json.loads(line)

    def call(self, cmd: str, **args: Any) -> dict[str, Any]:
        with self._lock:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
            self.proc.stdin.flush()
            return self._read()

    def stats(self) -> dict[str, Any]:
        return self.call("stats")

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.call("stop")
            except (OSError, RuntimeError, ValueError):
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> "ClusterProcess":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _serve_cluster(argv: Sequence[str]) -> int:
    from engine.sim import SimCluster, SimConfig

    parser = BenchParser(prog="engine.bench.common --serve-cluster")
    parser.add_argument("--serve-cluster", action="store_true", help="serve a local cluster (internal)")
    parser.add_argument("--traders", type=int, default=0, help="synthetic traders")
    parser.add_argument("--slot-ms", type=float, default=400.0, help="slot time in ms")
    parser.add_argument("--seed", type=int, default=7, help="cluster seed")
    args = parse_or_explain(parser, argv)
    if args is None:
        return 2
    config = SimConfig(
        seed=args.seed, rpc_port=0, ws_port=0, swap_port=0, slot_ms=args.slot_ms, traders=args.traders
    )
    with SimCluster(config) as cluster:
        counter = RequestCounter(cluster)
        hello = {
            "rpc_url": cluster.rpc_url,
            "ws_url": cluster.ws_url,
            "swap_api_url": cluster.swap_api_url,
            "traders": cluster.traders,
        }
        print(json.dumps(hello), flush=True)
        for line in sys.stdin:
            try:
                command = json.loads(line)
            except ValueError:
                print(json.dumps({"error": "bad command"}), flush=True)
                continue
            if command.get("cmd") == "stop":
                print(json.dumps({"ok": True}), flush=True)
                break
            if command.get("cmd") == "stats":
                counts = counter.snapshot()
                print(
                    json.dumps(
                        {
                            "requests": sum(counts.values()),
                            "by_method": dict(counts),
                            "rss_bytes": rss_bytes(),
                        }
                    ),
                    flush=True,
                )
            else:
                print(json.dumps({"error": f"unknown command {command.get('cmd')!r}"}), flush=True)
    return 0


if __name__ == "__main__":
    if "--serve-cluster" in sys.argv[1:]:
        raise SystemExit(_serve_cluster(sys.argv[1:]))
    print("engine.bench.common is a library; run `zapbot bench pipeline|scale`", file=sys.stderr)
    raise SystemExit(2)
