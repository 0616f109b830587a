"""Shared harness for the fault-injection suite: run the real engine on a local cluster with chaos, make
leader swaps, wait until every one is decided, and count what the database (and the chain) say happened."""

from __future__ import annotations

import collections
import json
import re
import sqlite3
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.config import Settings, load_settings
from engine.facade import Engine, default_worker_classes
from engine.sim import SimCluster, SimConfig
from engine.worker import BaseWorker
from tests.helpers.waiting import engine_poll_round, poll_until, wait_poll_round, wait_until

SOL = 1_000_000_000
FINAL_INTENT_STATUSES = ("executed", "failed", "skipped")
SETTLED_WORKER_STATES = {"ready", "disabled"}


def db_rows(db: Path, sql: str, *params: Any) -> list[dict[str, Any]]:
    """Rows from a read-only connection; [] while the database or its schema does not exist yet."""
    if not Path(db).exists():
        return []
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error:
        return []
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params).fetchall()]
    except sqlite3.Error:
        return []
    finally:
        conn.close()


def integrity(db: Path) -> str:
    conn = sqlite3.connect(str(db), timeout=10)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


@dataclass
class Counts:
    """What happened to each leader swap, from the database (and our landed transactions on the chain)."""

    leader_swaps: int
    decided: int  # leader swaps with exactly one final decision
    executed: int
    failed: int
    skipped: int
    in_flight: int  # intents still pending/queued/sent
    duplicates: int  # leader swaps with more than one intent, or an intent and a skip, or two skips
    duplicate_refusals: int  # "duplicate" skips: a repeat signal refused (not a second decision)
    missing: list[str] = field(default_factory=list)
    landed_copies: int = -1  # our swap transactions on the chain (-1 when not counted)
    skip_reasons: dict[str, int] = field(default_factory=dict)
    fail_reasons: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        return (
            f"leader_swaps={self.leader_swaps} decided={self.decided} executed={self.executed} "
            f"failed={self.failed} skipped={self.skipped} in_flight={self.in_flight} "
            f"duplicates={self.duplicates} duplicate_refusals={self.duplicate_refusals} "
            f"missing={len(self.missing)} landed_copies={self.landed_copies} skip_reasons={self.skip_reasons} "
            f"fail_reasons={self.fail_reasons}"
        )


def count_decisions(
    db: Path, leader_signatures: Iterable[str], cluster: SimCluster | None = None, wallet: str | None = None
) -> Counts:
    expected = list(leader_signatures)
    intents = db_rows(db, "SELECT leader_signature, status, reason, signature FROM intents")
    skips = db_rows(db, "SELECT leader_signature, reason FROM skips")
    by_sig: dict[str, list[tuple[str, str, str]]] = collections.defaultdict(list)
    refusals = 0
    for row in intents:
        by_sig[row["leader_signature"]].append(("intent", row["status"], row["reason"] or ""))
    for row in skips:
        if row["reason"] == "duplicate":
            refusals += 1
            continue
        by_sig[row["leader_signature"]].append(("skip", "skipped", row["reason"] or ""))
    executed = failed = skipped = in_flight = decided = duplicates = 0
    missing: list[str] = []
    skip_reasons: collections.Counter[str] = collections.Counter()
    fail_reasons: collections.Counter[str] = collections.Counter()
    for sig in expected:
        entries = by_sig.get(sig, [])
        if not entries:
            missing.append(sig)
            continue
        if len(entries) > 1:
            duplicates += 1
        kind, status, reason = entries[0]
        if kind == "skip" or status == "skipped":  # an intent skipped before it was sent (stale, shutdown)
            skipped += 1
            decided += 1
            skip_reasons[reason.split(":")[0][:40]] += 1
        elif status == "executed":
            executed += 1
            decided += 1
        elif status == "failed":
            failed += 1
            decided += 1
            fail_reasons[reason[:40]] += 1
        else:
            in_flight += 1
    # Decisions about swaps nobody made (e.g. the operator's own) would be extra rows: count them too.
    extra = set(by_sig) - set(expected)
    duplicates += len(extra)
    landed = -1
    if cluster is not None and wallet is not None:
        landed = sum(
            1
            for t in cluster.ledger.signatures_for(wallet)
            if t.memo and "zapsim:quote" in t.memo and t.err is None
        )
    return Counts(
        len(expected),
        decided,
        executed,
        failed,
        skipped,
        in_flight,
        duplicates,
        refusals,
        missing,
        landed,
        dict(skip_reasons),
        dict(fail_reasons),
    )


def fault_settings(**overrides: Any) -> Settings:
    """Settings for fault runs: fast heartbeats and restarts, fast polling, limits that never get in the way."""
    settings = load_settings()
    settings.http.enabled = False
    # 5 s, not the 30 s default, so a real hang is caught within a test; not shorter: a worker waiting on a
    # slow or rate-limited RPC answer (Retry-After 1 s, latency spikes) is not hung, and a heartbeat under a
    # few seconds makes the supervisor abandon it mid-message (see docs/RELIABILITY.md, bug 10).
    settings.engine.heartbeat_interval_ms = 5000
    settings.engine.worker_restart_delay_ms = 100
    settings.engine.decode_processes = 1
    settings.engine.poll_interval_s = 2.0
    settings.engine.poll_interval_ws_down_s = 0.5
    settings.engine.shutdown_deadline_s = 5.0
    settings.rpc.requests_per_second = 500
    # Faults make trades fail; auto-pausing the trader would stop following it, and the test would lose
    # sight of its later swaps by design. The fault suite checks bookkeeping, so it never auto-pauses.
    settings.limits.auto_pause_after_failures = 10_000
    settings.limits.daily_spend_cap_sol = 1_000
    settings.limits.daily_loss_cap_sol = 1_000
    settings.limits.max_open_positions = 1_000
    settings.limits.max_signal_age_s = 100_000
    for key, value in overrides.items():
        table, name = key.split("__")
        setattr(getattr(settings, table), name, value)
    return settings


def leader_plan(cluster: SimCluster, count: int) -> list[tuple[str, str, str]]:
    """(trader, side, mint) for count swaps: each trader buys twice, then sells half, round robin."""
    traders = [name for name, _ in cluster.traders]
    mints = cluster.mints
    plan = []
    for i in range(count):
        trader_index = i % len(traders)
        round_ = i // len(traders)
        side = "sell" if round_ % 3 == 2 else "buy"
        plan.append((traders[trader_index], side, mints[trader_index % len(mints)]))
    return plan


class FaultRun:
    """A cluster + the full engine (all seven workers, telegram disabled) for one fault scenario."""

    def __init__(
        self,
        *,
        traders: int = 3,
        seed: int = 21,
        slot_ms: float = 100.0,
        extra_workers: dict[str, type[BaseWorker]] | None = None,
        worker_overrides: dict[str, type[BaseWorker]] | None = None,
        **settings: Any,
    ) -> None:
        self.cluster = SimCluster(
            SimConfig(rpc_port=0, ws_port=0, swap_port=0, traders=traders, slot_ms=slot_ms, seed=seed)
        ).start()
        self.settings = fault_settings(**settings)
        classes = default_worker_classes()
        classes.update(worker_overrides or {})
        classes.update(extra_workers or {})
        self.engine = Engine(self.settings, worker_classes=classes, cluster=self.cluster, http=False)
        self.swaps: list[Any] = []
        self.swap_errors: list[str] = []

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> "FaultRun":
        self.engine.start(wait_ready=20)
        traders = len(self.cluster.traders)
        wait_until(
            lambda: self.engine.snapshot().subscriptions == traders, 20, what="every trader subscribed"
        )
        wait_until(lambda: self.cluster.balance(self.wallet) > 0, 10, what="the operator airdrop")
        return self

    def stop(self) -> None:
        try:
            self.engine.stop()
        finally:
            self.cluster.stop()

    def __enter__(self) -> "FaultRun":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def wallet(self) -> str:
        wallet = self.engine.snapshot().wallet
        assert wallet
        return wallet

    @property
    def db(self) -> Path:
        assert self.engine.ctx is not None
        return Path(self.engine.ctx.db_path)

    # -- leader swaps -----------------------------------------------------------------------------
    def make_swaps(
        self, count: int, spread_s: float, *, between: Callable[[int], None] | None = None
    ) -> list[Any]:
        """count leader swaps straight on the cluster (buys of 0.3 SOL, sells of half), spaced over spread_s."""
        pause = spread_s / max(1, count)
        for index, (trader, side, mint) in enumerate(leader_plan(self.cluster, count)):
            if between is not None:
                between(index)
            try:
                if side == "buy":
                    trade = self.cluster.trader_swap(trader, "buy", mint, quote_lamports=3 * SOL // 10)
                else:
                    trade = self.cluster.trader_swap(trader, "sell", mint, token_fraction=0.5)
            except Exception as exc:  # noqa: BLE001 - the market refusing a swap is not a leader swap
                self.swap_errors.append(f"{trader} {side}: {exc}")
                continue
            self.swaps.append(trade)
            time.sleep(pause)
        return self.swaps

    def leader_signatures(self) -> list[str]:
        """Every leader swap that landed, from the cluster's own record (not from what we detected)."""
        ours = {name for name, _ in self.cluster.traders}
        return [t.signature for t in self.cluster.landed_trades() if t.trader in ours]

    def counts(self) -> Counts:
        return count_decisions(self.db, self.leader_signatures(), self.cluster, self.wallet)

    def wait_decided(self, timeout: float = 40.0) -> Counts:
        """Until every leader swap has a final decision (or timeout); returns the counts either way."""

        def decided() -> bool:
            counts = self.counts()
            return (
                counts.decided + counts.duplicates >= counts.leader_swaps
                and counts.in_flight == 0
                and not counts.missing
            )

        poll_until(decided, timeout, step=0.25)
        # A late duplicate would come from a later poll: wait for one more round, and count after it.
        engine_poll_round(self.engine, len(self.cluster.traders))
        return self.counts()

    def worker_states(self) -> dict[str, str]:
        return {v.name: v.state for v in self.engine.snapshot().workers}

    def wait_all_ready(self, timeout: float = 20.0, *, except_: Iterable[str] = ()) -> dict[str, str]:
        skip = set(except_)

        def settled() -> dict[str, str] | None:
            states = self.worker_states()
            ok = all(state in SETTLED_WORKER_STATES for name, state in states.items() if name not in skip)
            return states if ok else None

        try:
            return wait_until(settled, timeout, what="every worker ready")
        except AssertionError:
            raise AssertionError(f"workers did not recover: {self.worker_states()}") from None


def assert_exact(counts: Counts, *, expect_swaps: int | None = None) -> None:
    """The suite's invariant: every leader swap decided exactly once; no duplicate copy on the chain."""
    detail = counts.line()
    if expect_swaps is not None:
        assert counts.leader_swaps == expect_swaps, detail
    assert counts.missing == [], detail
    assert counts.in_flight == 0, detail
    assert counts.duplicates == 0, detail
    assert counts.decided == counts.leader_swaps, detail
    assert counts.executed + counts.failed + counts.skipped == counts.leader_swaps, detail
    if counts.landed_copies >= 0:
        assert counts.landed_copies == counts.executed, detail


# -- an engine in another process, through its HTTP endpoint --------------------------------------------------
_COUNTER_LINE = re.compile(r'^zapbot_events_total\{name="([^"]+)"\} ([0-9.e+]+)$')


def http_counters(port: int) -> dict[str, int]:
    """The engine's counters from /metrics (the zapbot_events family)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        lines = response.read().decode().splitlines()
    return {m.group(1): int(float(m.group(2))) for m in map(_COUNTER_LINE.match, lines) if m}


def http_status(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/workers/status", timeout=5) as response:
        return json.loads(response.read())


def http_poll_round(port: int, wallets: int, timeout: float = 30.0) -> None:
    """wait_poll_round for an engine process: its polls counter and queue depths over HTTP."""
    wait_poll_round(
        lambda: http_counters(port).get("polls", 0),
        wallets,
        lambda: not any(http_status(port)["queues"].values()),
        timeout,
    )
