"""The scout decodes in a decode pool of its own (engine.scout.decoding): at a lower CPU priority than the
copy path, apart from the analyzer's pool, and with the same figures as decoding in the process."""

from __future__ import annotations

import asyncio
import os

import pytest

import engine.scout.history as history_module
from engine.chain.rate_limit import shared_bucket
from engine.chain.rpc import RpcPool
from engine.scout.decoding import SCOUT_DECODE_NICE, ScoutDecoder
from engine.scout.history import fetch_history, make_scout_pool, scout_wallet
from tests.integration.test_scout_sim import MethodCounter, trade_a_history

pytestmark = pytest.mark.slow


def test_the_scout_decode_child_runs_at_a_lower_priority():
    with ScoutDecoder(max_memory_bytes=None) as decoder:
        child_nice = decoder.pool.submit_call(os.nice, 0).result(timeout=60)
        child_pid = decoder.pool.submit_call(os.getpid).result(timeout=60)
    assert child_pid != os.getpid()
    assert child_nice == min(19, os.nice(0) + SCOUT_DECODE_NICE)


def test_with_a_decoder_the_child_fetches_and_decodes_with_the_same_result(
    sim_cluster, tmp_path, monkeypatch
):
    patient, _ = trade_a_history(sim_cluster)

    async def scout(decoder):
        async with make_scout_pool([sim_cluster.rpc_url], requests_per_second=1000) as pool:
            return await fetch_history(pool, patient, decoder=decoder, creations=False)

    inline = asyncio.run(scout(None))

    def not_here(*args, **kwargs):
        raise AssertionError("done in the engine's process")

    # With a decoder, the engine's process neither fetches a transaction nor decodes one.
    monkeypatch.setattr(history_module, "decode_batch", not_here)
    monkeypatch.setattr(RpcPool, "get_transaction_raw", not_here)
    with ScoutDecoder(max_memory_bytes=None) as decoder:
        pooled = asyncio.run(scout(decoder))
        assert decoder.transactions == pooled.fetched == 6 and decoder.batches == 1
    assert pooled.transactions == inline.transactions and pooled.decode_errors == 0
    assert pooled.swaps(allow_unknown_venue=True) == inline.swaps(allow_unknown_venue=True)


def test_inside_the_engine_every_scout_call_draws_low_priority_from_its_budget(
    sim_cluster, tmp_path, monkeypatch
):
    counter = MethodCounter(sim_cluster)
    patient, _ = trade_a_history(sim_cluster)

    class EngineState:  # what the RpcPool needs of the engine's state (its shared budget is keyed by it)
        def set_health(self, **fields) -> None:
            pass

    state = EngineState()
    budget = shared_bucket(state, sim_cluster.rpc_url, 100)
    draws: list[bool] = []
    real_acquire = budget.acquire

    async def counted(low_priority: bool = False) -> None:
        draws.append(low_priority)
        await real_acquire(low_priority)

    budget.acquire = counted  # type: ignore[method-assign]
    with ScoutDecoder(max_memory_bytes=None) as decoder:
        monkeypatch.setattr(history_module, "shared_decoder", lambda: decoder)
        history = asyncio.run(
            scout_wallet(
                patient, [sim_cluster.rpc_url], cache_path=tmp_path / "scout.db", state=state, engine_rate=100
            )
        )
        # With the engine's state the scout used the process's scout decoder: its child read the history.
        assert decoder.transactions == history.fetched == 6
    served = sum(counter.counts.values())
    assert served == len(draws) and all(draws), "a scout request did not draw low priority from the budget"
