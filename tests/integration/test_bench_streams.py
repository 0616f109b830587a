"""`zapbot bench pipeline --stream all` in a tiny configuration: one phase per stream mode side by side on one
cluster, with the requests on the critical path by method (keys and counts, never timings)."""

from __future__ import annotations

import json

import pytest

from engine.bench import pipeline

pytestmark = pytest.mark.slow

PERCENTILES = ("p50", "p95", "p99")


@pytest.mark.timeout(240)
def test_pipeline_streams_side_by_side(capsys, monkeypatch):
    monkeypatch.setattr(pipeline, "WARMUP_SWAPS", 1)
    monkeypatch.setattr(pipeline, "PHASE_GAP_S", 1.5)
    assert pipeline.main(["--swaps", "4", "--rate", "10", "--stream", "all", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert list(result["streams"]) == ["logs", "block", "helius"]
    assert result["ws"] == result["streams"]["logs"]
    for mode, data in result["streams"].items():
        assert data["stream"] == mode
        for key in ("land_to_detect_ms", "detect_to_send_ms", "land_to_send_ms"):
            assert set(PERCENTILES) <= set(data[key]), (mode, key)
        requests = data["critical_path_requests"]
        assert requests["sendTransaction"] >= 1 and requests["total"] >= 3, (mode, requests)
        assert data["missed"] == 0 and data["duplicated"] == 0, mode
    assert result["polling"]["stream"] is None
    # logs fetches every leader transaction; the full-transaction streams only a proportional sell's (the
    # executor reads the leader's holding from it)
    assert result["streams"]["logs"]["critical_path_requests"]["getTransaction"] >= 1
    for mode in ("block", "helius"):
        assert result["streams"][mode]["critical_path_requests"].get("getTransaction", 0) < 1, mode
        assert set(result["comparison"][f"{mode}_vs_logs"]) >= {
            "land_to_send_p50_ms",
            "logs_land_to_send_p50_ms",
            "critical_path_requests_saved",
        }
    assert result["leader_swaps"] == 4 * (4 + 1)
    assert result["copies"] == result["leader_swaps"] and result["duplicated"] == 0


def test_stream_argument_is_checked(capsys):
    assert pipeline.main(["--stream", "grpc"]) == 2
    assert pipeline.main(["--rpc-latency-ms", "-5"]) == 2
