"""Driving the real Engine (data + executor workers) on the local cluster: start it, feed it detections, read
its intents back. Shared by the copy end-to-end and executor tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from engine.config import load_settings
from engine.facade import Engine
from engine.messages import SwapDetected
from engine.policy import WSOL_MINT
from engine.sim.cluster import SimCluster, SimConfig
from engine.store import connect
from engine.workers.data import DataWorker
from engine.workers.executor import ExecutorWorker
from tests.helpers.waiting import wait_until

SOL = 1_000_000_000


def detected(trade, decimals: int = 6) -> SwapDetected:
    now = time.time()
    return SwapDetected(
        leader_signature=trade.signature,
        wallet=trade.wallet,
        trader=trade.trader,
        side=trade.side,
        mint=trade.mint,
        token_amount=trade.token_amount,
        token_decimals=decimals,
        quote_mint=getattr(trade, "quote_mint", WSOL_MINT),
        quote_amount=trade.quote_amount,
        venue="unknown",
        router=None,
        slot=trade.slot,
        source="test",
        seen_at=now,
        detected_at=now,
    )


def start_engine(cluster, *, workers: dict[str, type] | None = None, **overrides: Any) -> Engine:
    settings = load_settings()
    settings.http.enabled = False
    settings.engine.heartbeat_interval_ms = 500
    settings.engine.worker_restart_delay_ms = 100
    for key, value in overrides.items():
        table, name = key.split("__")
        setattr(getattr(settings, table), name, value)
    engine = Engine(
        settings,
        cluster=cluster,
        worker_classes=workers or {"data": DataWorker, "executor": ExecutorWorker},
        http=False,
    )
    engine.start(wait_ready=15)
    return engine


def intent_rows(engine: Engine, leader_signature: str | None = None) -> list[dict[str, Any]]:
    conn = connect(engine.ctx.db_path, readonly=True)
    try:
        if leader_signature:
            rows = conn.execute(
                "SELECT * FROM intents WHERE leader_signature=?", (leader_signature,)
            ).fetchall()
        else:
            rows = conn.execute("SELECT * FROM intents ORDER BY id").fetchall()
        return [dict(r) for r in rows]
    finally:
        conn.close()


def query(engine: Engine, sql: str, *params: Any) -> list[dict[str, Any]]:
    conn = connect(engine.ctx.db_path, readonly=True)
    try:
        return [dict(r) for r in conn.execute(sql, params).fetchall()]
    finally:
        conn.close()


def finished(engine: Engine, leader_signature: str) -> dict[str, Any] | None:
    rows = intent_rows(engine, leader_signature)
    if rows and rows[0]["status"] in ("executed", "failed"):
        return rows[0]
    return None


def engine_factory(sim_cluster) -> Iterator[Callable[..., Engine]]:
    """Start engines (data + executor) on the cluster; stopped, with chaos reset, afterwards."""
    engines: list[Engine] = []

    def make(*, workers: dict[str, type] | None = None, **overrides: Any) -> Engine:
        engine = start_engine(sim_cluster, workers=workers, **overrides)
        engines.append(engine)
        wallet = engine.ctx.state.wallet
        wait_until(lambda: sim_cluster.balance(wallet) > 0, what="the sim airdrop")
        return engine

    yield make
    sim_cluster.set_chaos(send_fail_ratio=0.0, pause_slots=False, blockhash_ttl_slots=None)
    for engine in engines:
        engine.stop()


def scenario_cluster(tmp_path_factory, scenario: str, name: str) -> Iterator[SimCluster]:
    """A local cluster started from a scenario TOML text (written under a temp dir as NAME.toml), stopped after."""
    path = tmp_path_factory.mktemp("scenario") / f"{name}.toml"
    path.write_text(scenario)
    cluster = SimCluster(SimConfig(rpc_port=0, ws_port=0, swap_port=0, slot_ms=100, scenario=path)).start()
    try:
        yield cluster
    finally:
        cluster.stop()
