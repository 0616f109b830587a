"""The scout decodes in a decode pool of its own (engine.scout.decoding): at a lower CPU priority than the
copy path, apart from the analyzer's pool, and with the same figures as decoding in the process."""

from __future__ import annotations

import asyncio
import os

import pytest

import engine.scout.history as history_module
from engine.scout.decoding import SCOUT_DECODE_NICE, ScoutDecoder, decode_batch
from engine.scout.history import fetch_history, make_scout_pool, scout_wallet
from tests.integration.test_scout_sim import trade_a_history

pytestmark = pytest.mark.slow


def test_the_scout_decode_child_runs_at_a_lower_priority():
    with ScoutDecoder(max_memory_bytes=None) as decoder:
        child_nice = decoder.pool.submit_call(os.nice, 0).result(timeout=60)
        child_pid = decoder.pool.submit_call(os.getpid).result(timeout=60)
    assert child_pid != os.getpid()
    assert child_nice == min(19, os.nice(0) + SCOUT_DECODE_NICE)


def test_a_scout_with_a_decoder_decodes_in_the_child_with_the_same_result(sim_cluster, tmp_path, monkeypatch):
    patient, _ = trade_a_history(sim_cluster)

    async def scout(decoder):
        async with make_scout_pool([sim_cluster.rpc_url], requests_per_second=1000) as pool:
            return await fetch_history(pool, patient, decoder=decoder, creations=False)

    inline = asyncio.run(scout(None))

    def not_here(raws, wallet):
        raise AssertionError("decoded in the engine's process")

    # With a decoder, the engine's process must not decode at all: the inline path would fail.
    monkeypatch.setattr(history_module, "decode_batch", not_here)
    with ScoutDecoder(max_memory_bytes=None) as decoder:
        pooled = asyncio.run(scout(decoder))
        assert decoder.transactions == pooled.fetched == 6 and decoder.batches == 1
    assert pooled.transactions == inline.transactions and pooled.decode_errors == 0
    assert pooled.swaps(allow_unknown_venue=True) == inline.swaps(allow_unknown_venue=True)


def test_inside_the_engine_the_scout_uses_the_shared_decoder(sim_cluster, tmp_path, monkeypatch):
    patient, _ = trade_a_history(sim_cluster)
    used: list[int] = []

    class Counting(ScoutDecoder):
        async def decode_batch(self, raws, wallet):
            used.append(len(raws))
            return decode_batch(raws, wallet)  # the child's job, run here: this test counts the routing

    shared = Counting.__new__(Counting)
    monkeypatch.setattr(history_module, "shared_decoder", lambda: shared)

    class EngineState:  # what the RpcPool needs of the engine's state (its shared budget is keyed by it)
        def set_health(self, **fields) -> None:
            pass

    state = EngineState()  # with the engine's state a scout draws from its budget and uses the shared decoder
    history = asyncio.run(
        scout_wallet(
            patient, [sim_cluster.rpc_url], cache_path=tmp_path / "scout.db", state=state, engine_rate=100
        )
    )
    assert used == [6] and history.fetched == 6
