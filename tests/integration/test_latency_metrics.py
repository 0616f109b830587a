"""Copy latency on the local cluster: after a few copies found by the real analyzer, /metrics has the
signal-age and queue-wait histograms counting every send, and the trader's detection lag and detect → send
series (histograms and the console's medians), labelled only with followed traders."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine.config import load_settings
from engine.facade import Engine
from engine.messages import NewTransactions
from engine.workers.analyzer import AnalyzerWorker
from engine.workers.cache import CacheWorker
from engine.workers.data import DataWorker
from engine.workers.executor import ExecutorWorker
from tests.helpers.copying import SOL, finished, query
from tests.helpers.waiting import wait_until
from zapbot_tui.commands.core import status

pytestmark = pytest.mark.slow  # a local cluster and an engine

COPIES = 3


@pytest.fixture
def engine(zapbot_home, sim_cluster):
    settings = load_settings()
    settings.http.enabled = True
    settings.http.port = 0  # an ephemeral port
    settings.engine.decode_processes = 0
    settings.engine.heartbeat_interval_ms = 500
    workers = {
        "data": DataWorker,
        "cache": CacheWorker,
        "analyzer": AnalyzerWorker,
        "executor": ExecutorWorker,
    }
    engine = Engine(settings, cluster=sim_cluster, worker_classes=workers, http=True)
    engine.start(wait_ready=15)
    try:
        wait_until(lambda: sim_cluster.balance(engine.ctx.state.wallet) > 0, what="the sim airdrop")
        yield engine
    finally:
        engine.stop()


def metrics(engine: Engine) -> dict[str, list]:
    url = f"http://127.0.0.1:{engine.http.bound_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:  # 127.0.0.1 only
        text = response.read().decode()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def value(samples: list, name: str, **labels: str) -> float | None:
    found = [
        s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    return found[0] if found else None


def test_metrics_show_signal_age_queue_wait_and_the_traders_lag(engine, sim_cluster, capsys):
    name, wallet = sim_cluster.traders[0]
    assert engine.ctx.traders.by_wallet(wallet) is not None
    signatures = []
    for index in range(COPIES):
        trade = sim_cluster.trader_swap(name, "buy", sim_cluster.mints[index], quote_lamports=SOL // 10)
        signatures.append(trade.signature)
        # As polling would hand it over: the analyzer fetches, decodes and detects it.
        engine.ctx.send("analyzer", NewTransactions(wallet, (trade.signature,), "poll"))
    for signature in signatures:
        row = wait_until(lambda s=signature: finished(engine, s), 60, what=f"copy of {signature[:8]}")
        assert row["status"] == "executed", row
        assert row["signal_at"] is not None and row["leader_slot"] is not None  # the leader time is kept
    sends = query(engine, "SELECT COUNT(*) AS n FROM trades")[0]["n"]
    assert sends >= COPIES

    families = metrics(engine)
    age = families["zapbot_signal_age_seconds"]
    assert value(age, "zapbot_signal_age_seconds_count") >= sends
    assert value(age, "zapbot_signal_age_seconds_bucket", le="+Inf") == value(
        age, "zapbot_signal_age_seconds_count"
    )
    wait = families["zapbot_queue_wait_seconds"]
    assert value(wait, "zapbot_queue_wait_seconds_count") >= COPIES  # one per trade, at its first slot
    lag = families["zapbot_detection_lag_seconds"]
    assert value(lag, "zapbot_detection_lag_seconds_count", trader=name) == COPIES
    to_send = families["zapbot_detect_to_send_seconds"]
    assert value(to_send, "zapbot_detect_to_send_seconds_count", trader=name) == COPIES
    medians = families["zapbot_trader_latency_p50_seconds"]
    assert value(medians, "zapbot_trader_latency_p50_seconds", trader=name, stage="detection") is not None
    send_p50 = value(medians, "zapbot_trader_latency_p50_seconds", trader=name, stage="send")
    assert send_p50 is not None and send_p50 >= 0
    # The trader label takes only followed traders' names.
    followed = {t.name for t in engine.ctx.traders.all()}
    labelled = {s.labels["trader"] for f in (lag, to_send, medians) for s in f}
    assert labelled and labelled <= followed
    # The console reads the same figures from the snapshot.
    figures = engine.snapshot().latency.trader(name)
    assert figures is not None and figures.detections == COPIES and figures.sends == COPIES
    # `zapbot status` prints each trader's medians with their units.
    capsys.readouterr()
    assert status(["--url", f"http://127.0.0.1:{engine.http.bound_port}/workers/status"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(name))
    assert line.split()[1].endswith(("ms", "s")) and line.split()[2].endswith(("ms", "s")), line
