"""A swap API client whose builds of one mint wait for the test: holds a trade in 'quoted, being built', the
state that takes a trade slot, for as long as a test needs (no sleeps)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

import engine.workers.executor as executor_module
from engine.chain.swap_api import SwapApi


class GatedSwapApi(SwapApi):
    """The real client; building a swap whose output is `held_mint` waits until `gate` is set."""

    held_mint: str | None = None
    gate = threading.Event()
    holding = threading.Event()

    async def swap(self, user_pubkey, quote, **options):
        if quote.get("outputMint") == self.held_mint:
            GatedSwapApi.holding.set()
            await asyncio.get_running_loop().run_in_executor(None, self.gate.wait)
        return await super().swap(user_pubkey, quote, **options)


def gate_swap_builds(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[GatedSwapApi]]:
    """For a fixture: the executor builds through GatedSwapApi; the gate is opened at the end."""
    GatedSwapApi.held_mint = None
    GatedSwapApi.gate = threading.Event()
    GatedSwapApi.holding = threading.Event()

    def factory(ctx):
        return GatedSwapApi(ctx.endpoints.swap_api_url, ctx.endpoints.swap_api_key)

    monkeypatch.setattr(executor_module, "swap_api_from_context", factory)
    yield GatedSwapApi
    GatedSwapApi.gate.set()
