"""FeeCache against the local cluster: priced from getRecentPrioritizationFees, and reading it is no request."""

from __future__ import annotations

import asyncio

import pytest

from engine.chain.fees import FeeCache, percentile_fee
from engine.chain.rpc import RpcPool

pytestmark = pytest.mark.slow


def test_fee_cache_prices_from_the_chain_off_the_path(sim_cluster) -> None:
    async def run() -> None:
        rpc = RpcPool([sim_cluster.rpc_url])
        cache = FeeCache(rpc, percentile=75)
        wallet = "11111111111111111111111111111111"
        assert cache.price([wallet]) is None
        assert sim_cluster.rpc.counts().get("getRecentPrioritizationFees", 0) == 0
        await cache.refresh()
        direct = await rpc.call("getRecentPrioritizationFees", [[wallet]])
        assert cache.price([wallet]) == percentile_fee(direct, 75)
        asked = sim_cluster.rpc.counts()["getRecentPrioritizationFees"]
        for _ in range(20):
            cache.price([wallet])
        assert sim_cluster.rpc.counts()["getRecentPrioritizationFees"] == asked
        stop = asyncio.Event()
        task = asyncio.create_task(cache.run(stop))
        before = cache.refreshes
        while cache.refreshes == before:
            await asyncio.sleep(0.02)
        stop.set()
        await task
        await rpc.close()

    asyncio.run(run())
