"""The pipeline and scale benchmarks in tiny configurations (keys and counts, never timings), the shared
harness, and START_MONITORING for 50 and 10,000 wallets reflected in the engine's snapshot."""

from __future__ import annotations

import json

import pytest

from engine.bench import pipeline, scale
from engine.bench.common import percentile, rss_bytes, summary, table
from engine.config import load_settings
from engine.facade import Engine
from tests.helpers.waiting import wait_until

PHASE_KEYS = ("detect_to_send_ms", "detect_to_confirm_ms", "overhead_ms")
PERCENTILES = ("p50", "p95", "p99")


def test_percentiles_interpolate_and_handle_empty():
    assert percentile([], 50) is None
    assert percentile([7.0], 99) == 7.0
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert summary([]) == {"p50": None, "p95": None, "p99": None}
    assert summary([1.0, 2.0, 3.0])["p50"] == 2.0


def test_waited_merges_overlapping_calls_and_clips_to_the_window():
    calls = [(1.0, 2.0, "a"), (1.5, 2.5, "b"), (4.0, 6.0, "c"), (9.0, 10.0, "outside")]
    assert pipeline.waited(calls, 0.0, 5.0) == pytest.approx(2.5)  # [1, 2.5] + [4, 5]
    assert pipeline.waited([], 0.0, 5.0) == 0.0


def test_table_and_rss():
    text = table(("name", "value"), [("a", 1.234), ("longer name", None)], digits=2)
    lines = text.splitlines()
    assert lines[0].startswith("name") and "1.23" in lines[2] and lines[3].rstrip().endswith("-")
    assert rss_bytes() > 10 * 1024 * 1024


@pytest.mark.slow
def test_pipeline_tiny_run_prints_every_key(capsys, monkeypatch):
    monkeypatch.setattr(pipeline, "WARMUP_SWAPS", 1)
    monkeypatch.setattr(pipeline, "PHASE_GAP_S", 1.5)
    assert pipeline.main(["--swaps", "4", "--rate", "10", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    for phase in ("ws", "polling"):
        for key in PHASE_KEYS:
            assert set(PERCENTILES) <= set(result[phase][key]), (phase, key)
        assert result[phase]["detected_by"], phase
    assert result["ws"]["detected_by"].get("ws", 0) > 0
    for phase in ("ws", "polling"):
        quotes = result[phase]["quotes_per_copy"]
        assert set(quotes) >= {"all", "buy"}, quotes
        # The gate's buy quote is the swap's, and a mint's sell route is asked once: most buys (the mint
        # seen by the warm-up swap) make one /quote, where each made two (quote + sell route) before.
        assert 1.0 <= quotes["buy"] < 2.0, (phase, quotes)
    assert set(result["polling"]["detected_by"]) == {"poll"}  # no websocket in that phase
    for key in ("leader_swaps", "copies", "missed", "duplicated"):
        assert isinstance(result[key], int)
    assert result["leader_swaps"] == 2 * (4 + 1)  # two phases, each one warm-up swap plus four
    assert result["copies"] + result["missed"] == result["leader_swaps"]
    assert result["duplicated"] == 0


@pytest.mark.slow
def test_pipeline_table_output(capsys, monkeypatch):
    monkeypatch.setattr(pipeline, "WARMUP_SWAPS", 0)
    monkeypatch.setattr(pipeline, "PHASE_GAP_S", 1.5)
    assert pipeline.main(["--swaps", "2", "--rate", "10"]) == 0
    out = capsys.readouterr().out
    assert "ws: detected → sent" in out and "polling: detected → confirmed" in out and "missed" in out


@pytest.mark.slow
def test_scale_tiny_run_prints_every_key(capsys):
    assert scale.main(["--traders", "50", "--idle-seconds", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in (
        "traders",
        "subscribe_s",
        "rss_added_mb",
        "subscriptions_per_connection",
        "rpc_calls_per_min_idle",
    ):
        assert key in result
    assert result["traders"] == 50 and result["subscriptions"] == 50 and result["monitored_wallets"] == 50
    assert result["subscribe_s"] is not None
    assert result["subscriptions_per_connection"] == 50
    assert result["rpc_calls_per_min_idle"] > 0  # the polling safety net runs even at rest


def test_bad_arguments_are_one_line(capsys):
    assert scale.main(["--traders", "0"]) == 2
    assert scale.main(["--traders", "lots"]) == 2
    assert pipeline.main(["--swaps", "-1"]) == 2
    assert pipeline.main(["--bogus"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("zapbot bench") for line in err)


def test_random_wallets_are_distinct_valid_keys():
    from engine.traders import validate_address

    wallets = scale.random_wallets(500, seed=3)
    assert len(set(wallets)) == 500 and wallets == scale.random_wallets(500, seed=3)
    for wallet in wallets[:20]:
        validate_address(wallet)


@pytest.mark.slow
@pytest.mark.parametrize("count", [50, 10_000])
def test_start_monitoring_many_wallets_is_reflected_in_the_snapshot(zapbot_home, sim_cluster, count):
    """Foundation: START_MONITORING for 50 and for 10,000 traders; bench scale measures how fast."""
    settings = load_settings()
    settings.http.enabled = False
    settings.engine.heartbeat_interval_ms = 2_000
    engine = Engine(settings, cluster=sim_cluster, http=False)
    engine.start(wait_ready=20)
    try:
        followed = len(sim_cluster.traders)
        wait_until(lambda: engine.snapshot().subscriptions == followed, 20)
        wallets = scale.random_wallets(count, seed=count)
        scale.start_monitoring(engine, wallets)
        total = followed + count
        wait_until(
            lambda: engine.snapshot().monitored_wallets == total,
            30,
            what=lambda: f"{total} monitored wallets (saw {engine.snapshot().monitored_wallets})",
        )
        wait_until(
            lambda: engine.snapshot().subscriptions == total,
            30,
            what=lambda: f"{total} subscriptions (saw {engine.snapshot().subscriptions})",
        )
        snap = engine.snapshot()
        assert snap.health.ws_ok
        per_connection = settings.engine.subscriptions_per_connection
        assert (
            f"{-(-total // per_connection)}/{-(-total // per_connection)} connections up"
            in snap.health.ws_detail
        )
    finally:
        engine.stop()
