"""Every chaos setting of the local cluster on, the engine process SIGKILLed mid-run and started again, then a
clean stop (engine/bench/soak.py): every leader swap that landed after the first start ends with exactly one
record (executed, or skipped or failed with a reason), none is executed twice, our wallet's successful swaps on
the chain equal the executed copies, and nothing is left queued or sent after the clean stop."""

from __future__ import annotations

import pytest

from engine.bench.soak import ALL_CHAOS, run_soak

pytestmark = pytest.mark.slow


@pytest.mark.timeout(240)
def test_chaos_and_sigkill_lose_nothing_and_double_nothing():
    result = run_soak(leaders=3, rate=2.0, seconds=14.0, chaos=ALL_CHAOS, kill_at=6.0)
    print(f"\nSOAK chaos + SIGKILL: {result}")
    # The kill happens once 6 s have passed (a busy machine makes it later, never earlier).
    assert result["killed_at_s"] is not None and result["killed_at_s"] >= 6.0 and result["leader_swaps"] >= 20
    assert result["missed"] == 0, result
    assert result["doubled"] == 0, result
    assert result["left_open_after_stop"] == 0 and result["left_open"] == 0, result
    decided = result["executed"] + sum(result["skipped"].values()) + sum(result["failed"].values())
    assert decided == result["leader_swaps"], result
    assert result["on_chain_swaps"] == result["executed"], result
    assert result["clean_stop_exit"] == 0
