"""`zapbot bench scout` in a tiny configuration: both kinds of phase, side by side, with the scout's reads
counted (keys and counts, never timings)."""

from __future__ import annotations

import json

import pytest

from engine.bench import pipeline
from engine.bench import scout as bench_scout

pytestmark = pytest.mark.slow


def test_bench_scout_tiny_run(capsys, monkeypatch):
    monkeypatch.setattr(pipeline, "WARMUP_SWAPS", 1)
    monkeypatch.setattr(pipeline, "PHASE_GAP_S", 1.5)
    argv = ["--swaps", "3", "--rounds", "1", "--rate", "10", "--history-days", "0.25", "--json"]
    assert bench_scout.main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    kinds = [phase["kind"] for phase in result["phases"]]
    assert kinds == [bench_scout.ALONE, bench_scout.SCOUTING]
    alone, scouting = result["phases"]
    assert alone["scout_get_transaction"] == 0 and scouting["scout_get_transaction"] > 0
    assert scouting["get_transaction_served"] >= scouting["scout_get_transaction"]
    for kind in kinds:
        for key, _ in bench_scout.MEASURES:
            assert set(result["combined"][kind][key]) == {"p50", "p95", "p99"}
    assert result["scout"]["passes"] >= 1 and result["scout"]["error"] is None
    # The scout decoded every transaction it fetched in its own decode pool, none in the engine's process.
    assert result["decode"] == "pool"
    assert result["scout"]["decoded_in_pool"] == result["scout"]["get_transaction"] > 0
    # One alone phase has no spread to judge a change by.
    assert result["alone_p50_spread_ms"] is None and result["within_noise"] is None
    assert result["copies"] + result["missed"] == 2 * (3 + 1) and result["duplicated"] == 0


def test_bench_scout_refuses_bad_options(capsys):
    assert bench_scout.main(["--rounds", "0"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
