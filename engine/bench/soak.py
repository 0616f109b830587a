"""`zapbot bench soak`: the real engine (`zapbot run --headless`, a child process) against a local cluster on
127.0.0.1 while its leaders trade at a steady rate, with chaos, optionally SIGKILLed at --kill-at and started
again; then a clean stop. It reports what became of every leader swap: executed, skipped and failed by reason,
missed (no record), doubled, left open (queued or sent after the clean stop), the p50/p95/p99 of leader landed
→ our first send, and our wallet's successful swaps on the chain against the executed copies.

    zapbot bench soak [--leaders N] [--rate R] [--seconds S] [--chaos K=V ...] [--kill-at S] [--json]

`--chaos all` turns on every chaos setting the issue names (websocket drops, a quarter of RPC answers 429,
added latency, a fifth of sends failing, dropped notifications, short blockhashes).
"""

from __future__ import annotations

import collections
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.bench.common import BenchParser, parse_or_explain, percentile
from engine.sim import SimCluster, SimConfig
from engine.sim.config import ChaosKeyError, ChaosSettings, parse_chaos_args

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SOL = 1_000_000_000
ALL_CHAOS = [
    "ws_drop_every_s=3",
    "rpc_429_ratio=0.25",
    "rpc_latency_ms=40",
    "send_fail_ratio=0.2",
    "drop_notification_ratio=0.2",
    "blockhash_ttl_slots=25",
]
CONFIG = """
[engine]
heartbeat_interval_ms = 5000
worker_restart_delay_ms = 100
decode_processes = 1
poll_interval_s = 2.0
poll_interval_ws_down_s = 0.5
shutdown_deadline_s = 8.0
[rpc]
requests_per_second = 500.0
[limits]
auto_pause_after_failures = 100000
daily_spend_cap_sol = 100000.0
daily_loss_cap_sol = 100000.0
max_open_positions = 100000
"""
START_TIMEOUT_S = 60.0
DECIDE_TIMEOUT_S = 60.0


def _rows(db: Path, sql: str, *params: Any) -> list[dict[str, Any]]:
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params).fetchall()]
    except sqlite3.Error:
        return []
    finally:
        conn.close()


class EngineProcess:
    """`zapbot run --headless` in a child process on a throwaway home, pointed at the cluster."""

    def __init__(self, home: Path, cluster: SimCluster) -> None:
        self.home = home
        self.cluster = cluster
        self.proc: subprocess.Popen | None = None

    def start(self) -> str:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("ZAPBOT_", "RPC_", "WS_", "SWAP_API", "TELEGRAM_", "KEYPAIR_"))
        }
        env.update(
            ZAPBOT_HOME=str(self.home),
            ZAPBOT_MODE="sim",
            RPC_URL=self.cluster.rpc_url,
            WS_URL=self.cluster.ws_url,
            SWAP_API_URL=self.cluster.swap_api_url,
            ZAPBOT_HTTP_PORT="0",
            PYTHONPATH=str(PROJECT_ROOT),
        )
        runtime = self.home / "runtime.json"
        runtime.unlink(missing_ok=True)  # a SIGKILLed engine leaves its runtime.json behind
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "zapbot_tui.cli", "run", "--headless", "--duration", "600"],
            env=env,
            cwd=str(self.home),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the engine exited with {self.proc.returncode} while starting")
            if runtime.exists():
                try:
                    status = self.status()
                    if status["subscriptions"] == len(self.cluster.traders) and status.get("wallet"):
                        return str(status["wallet"])
                except (OSError, ValueError, KeyError):
                    pass
            time.sleep(0.2)
        raise RuntimeError("the engine did not start within 60 s")

    def status(self) -> dict[str, Any]:
        port = json.loads((self.home / "runtime.json").read_text())["port"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/workers/status", timeout=5) as response:
            return json.loads(response.read())

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        """A clean stop (SIGINT, as Ctrl-C); its exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return int(self.proc.returncode)


def leader_swap(cluster: SimCluster, index: int) -> Any:
    """Round robin over the leaders and mints: each leader buys twice, then sells half."""
    name = cluster.traders[index % len(cluster.traders)][0]
    mint = cluster.mints[index % len(cluster.mints)]
    if (index // len(cluster.traders)) % 3 == 2:
        return cluster.trader_swap(name, "sell", mint, token_fraction=0.5)
    return cluster.trader_swap(name, "buy", mint, quote_lamports=SOL // 10)


def tally(db: Path, landed: dict[str, float], cluster: SimCluster, wallet: str) -> dict[str, Any]:
    """What became of each leader swap, from the database, and our landed swaps from the chain."""
    records: dict[str, list[tuple[str, str]]] = collections.defaultdict(list)
    for row in _rows(db, "SELECT leader_signature, status, reason FROM intents"):
        records[row["leader_signature"]].append((row["status"], row["reason"] or ""))
    for row in _rows(db, "SELECT leader_signature, reason FROM skips WHERE reason != 'duplicate'"):
        records[row["leader_signature"]].append(("skipped", row["reason"] or ""))
    sent = {
        row["leader_signature"]: row["first_sent"]
        for row in _rows(
            db,
            "SELECT i.leader_signature, MIN(t.sent_at) AS first_sent FROM intents i"
            " JOIN trades t ON t.intent_id = i.id GROUP BY i.id",
        )
    }
    outcome: collections.Counter[str] = collections.Counter()
    skipped: collections.Counter[str] = collections.Counter()
    failed: collections.Counter[str] = collections.Counter()
    missed = doubled = open_ = 0
    missing: list[int] = []
    order = list(landed)
    for signature in landed:
        entries = records.get(signature, [])
        if not entries:
            missed += 1
            missing.append(order.index(signature))
            continue
        doubled += len(entries) > 1
        status, reason = entries[0]
        outcome[status] += 1
        short = reason.split(";")[0].split(":")[0][:40]
        if status == "skipped":
            skipped[short] += 1
        elif status == "failed":
            failed[short] += 1
        elif status != "executed":
            open_ += 1
    waits = [sent[s] - t for s, t in landed.items() if s in sent]
    on_chain = sum(
        1
        for t in cluster.ledger.signatures_for(wallet)
        if t.memo and "zapsim:quote" in t.memo and t.err is None
    )

    def ms(q: float) -> float | None:
        value = percentile(waits, q)
        return None if value is None else round(value * 1000, 1)

    return {
        "leader_swaps": len(landed),
        "executed": outcome["executed"],
        "skipped": dict(skipped),
        "failed": dict(failed),
        "missed": missed,
        "missed_indexes": missing,
        "doubled": doubled,
        "left_open": open_,
        "landed_to_send_ms": {"p50": ms(50), "p95": ms(95), "p99": ms(99), "count": len(waits)},
        "on_chain_swaps": on_chain,
        "on_chain_equals_executed": on_chain == outcome["executed"],
    }


def run_soak(
    leaders: int = 3,
    rate: float = 2.0,
    seconds: float = 20.0,
    chaos: Sequence[str] = (),
    kill_at: float | None = None,
) -> dict[str, Any]:
    settings = parse_chaos_args(list(chaos))
    cluster = SimCluster(SimConfig(rpc_port=0, ws_port=0, swap_port=0, traders=leaders, slot_ms=100, seed=41))
    cluster.start()
    home = Path(tempfile.mkdtemp(prefix="zapbot-soak-"))
    (home / "zapbot.toml").write_text(CONFIG)
    (home / "traders.toml").write_text(
        "".join(f'[[traders]]\nname = "{name}"\nwallet = "{wallet}"\n' for name, wallet in cluster.traders)
    )
    engine = EngineProcess(home, cluster)
    landed: dict[str, float] = {}
    killed_at: float | None = None
    try:
        wallet = engine.start()
        cluster.chaos.__dict__.update(settings.__dict__)
        began = time.monotonic()
        index = 0
        while time.monotonic() - began < seconds:
            if kill_at is not None and killed_at is None and time.monotonic() - began >= kill_at:
                engine.kill()
                killed_at = time.monotonic() - began
                # The leaders go on trading while the engine is down and starting again.
                if engine.start() != wallet:
                    raise RuntimeError("the restarted engine has another wallet")
            try:
                trade = leader_swap(cluster, index)
                landed[trade.signature] = time.time()
            except Exception:  # noqa: BLE001 - the market refused a swap (e.g. nothing to sell): not a swap
                pass
            index += 1
            time.sleep(max(0.0, began + index / rate - time.monotonic()))
        cluster.chaos.__dict__.update(ChaosSettings().__dict__)  # calm, so the end is clean

        def decided() -> bool:
            result = tally(home / "zapbot-sim.db", landed, cluster, wallet)
            return result["missed"] == 0 and result["left_open"] == 0

        deadline = time.monotonic() + DECIDE_TIMEOUT_S
        while time.monotonic() < deadline and not decided():
            time.sleep(0.5)
        exit_code = engine.stop()
        result = tally(home / "zapbot-sim.db", landed, cluster, wallet)
        left = _rows(
            home / "zapbot-sim.db",
            "SELECT status, reason FROM intents WHERE status IN ('pending','queued','sent')",
        )
        result["left_open_after_stop"] = len(left)
        result.update(
            leaders=leaders,
            rate=rate,
            seconds=seconds,
            chaos=list(chaos),
            killed_at_s=None if killed_at is None else round(killed_at, 1),
            home=str(home),
            clean_stop_exit=exit_code,
        )
        return result
    finally:
        if engine.proc is not None and engine.proc.poll() is None:
            engine.proc.kill()
            engine.proc.wait(10)
        cluster.stop()


def render(result: dict[str, Any]) -> str:
    lat = result["landed_to_send_ms"]
    lines = [
        f"leader swaps {result['leader_swaps']} over {result['seconds']:g} s from {result['leaders']} leaders"
        + (f", SIGKILL at {result['killed_at_s']} s" if result["killed_at_s"] is not None else "")
        + (f", chaos {' '.join(result['chaos'])}" if result["chaos"] else ""),
        f"executed {result['executed']}; skipped {result['skipped'] or 0}; failed {result['failed'] or 0}",
        f"missed {result['missed']}, doubled {result['doubled']}, left open {result['left_open_after_stop']}",
        f"landed -> send ms: p50 {lat['p50']} p95 {lat['p95']} p99 {lat['p99']} ({lat['count']} sends)",
        f"our swaps on chain {result['on_chain_swaps']} vs executed {result['executed']}",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = BenchParser(prog="zapbot bench soak", description=__doc__)
    parser.add_argument("--leaders", type=int, default=3, help="synthetic leader wallets followed (1-20)")
    parser.add_argument(
        "--rate", type=float, default=2.0, help="leader swaps per second, all leaders (0.1-20)"
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of leader trading (1-90)")
    parser.add_argument(
        "--chaos", nargs="*", default=[], metavar="K=V", help="cluster chaos; 'all' for every one"
    )
    parser.add_argument(
        "--kill-at", type=float, default=None, help="SIGKILL the engine at this second, restart it"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parse_or_explain(parser, sys.argv[1:] if argv is None else argv)
    if args is None:
        return 2
    chaos = [c for c in args.chaos if c != "all"] + (ALL_CHAOS if "all" in args.chaos else [])
    problems = []
    if not 1 <= args.leaders <= 20:
        problems.append("--leaders must be between 1 and 20")
    if not 0.1 <= args.rate <= 20:
        problems.append("--rate must be between 0.1 and 20")
    if not 1 <= args.seconds <= 90:
        problems.append("--seconds must be between 1 and 90")
    if args.kill_at is not None and not 0 < args.kill_at < args.seconds:
        problems.append("--kill-at must be inside the run (0 < S < --seconds)")
    try:
        parse_chaos_args(chaos)
    except ChaosKeyError as exc:
        problems.append(str(exc))
    if problems:
        print(f"zapbot bench soak: {problems[0]}", file=sys.stderr)
        return 2
    result = run_soak(args.leaders, args.rate, args.seconds, chaos, args.kill_at)
    print(json.dumps(result, indent=2) if args.json else render(result))
    ok = result["missed"] == 0 and result["doubled"] == 0 and result["left_open_after_stop"] == 0
    return 0 if ok and result["on_chain_equals_executed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
