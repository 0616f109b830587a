"""The cache worker's reading of token names against a small JSON-RPC server: mints go in batches of at most
100 keys (each mint and its Metaplex PDA), bad metadata is remembered as none with one log line, an
unanswered batch is asked again only after its retry time, and a named mint is never asked again."""

from __future__ import annotations

import base64
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web
from solders.keypair import Keypair

from engine.caches import ChainCache
from engine.chain.rpc import RpcPool
from engine.chain.token_meta import METADATA_PROGRAM, metadata_pda, metaplex_metadata_bytes
from engine.constants import TOKEN_PROGRAM
from engine.state import EngineState, skip_view
from engine.token_names import TokenView
from engine.workers import cache as cache_module
from engine.workers.cache import CacheWorker
from tests.helpers.fake_rpc import FakeRpc

pytestmark = pytest.mark.slow  # the unanswered batch waits out the pool's call deadline (about 2 s)

MINT_DATA = bytes(4) + bytes(32) + (10**15).to_bytes(8, "little") + bytes([6, 1]) + bytes(36)


def account(data: bytes, owner: str) -> dict[str, Any]:
    return {
        "data": [base64.b64encode(data).decode(), "base64"],
        "owner": owner,
        "lamports": 1,
        "executable": False,
    }


class Books:
    """The data worker's part (put_token_meta with its mirror into the state)."""

    def __init__(self, state: EngineState) -> None:
        self.state = state
        self.rows: dict[str, dict[str, Any]] = {}

    async def put_token_meta(self, mint, *, symbol, name, decimals, source):
        row = {"mint": mint, "symbol": symbol, "name": name, "decimals": decimals, "source": source}
        self.rows[mint] = row
        self.state.set_token(mint, TokenView(symbol, name, decimals))
        return row


def worker(rpc: RpcPool, state: EngineState) -> tuple[CacheWorker, Books, list[str]]:
    logs: list[str] = []
    books = Books(state)
    instance = CacheWorker.__new__(CacheWorker)
    instance.ctx = SimpleNamespace(state=state, store=books)
    instance.cache = ChainCache()
    instance.rpc = rpc
    instance.emit_log = lambda level, message: logs.append(f"{level}: {message}")
    instance._names_asked, instance._names_retry_at, instance._names_failing = set(), {}, False
    return instance, books, logs


def show(state: EngineState, mints: list[str]) -> None:
    for index, mint in enumerate(mints, start=1):
        state.upsert_trade(
            skip_view(index, leader_signature=f"s{index}", trader="t", side="buy", mint=mint, reason="paused")
        )


async def test_batches_bad_data_retries_and_once():
    mints = [str(Keypair().pubkey()) for _ in range(120)]
    bad = mints[7]
    named = {metadata_pda(m): m for m in mints}
    down = {"on": False}

    def behaviour(request: dict[str, Any]) -> Any:
        assert request["method"] == "getMultipleAccounts"
        if down["on"]:
            return web.Response(status=503, text="unavailable")
        answers = []
        for key in request["params"][0]:
            if key in named:  # a Metaplex PDA
                mint = named[key]
                data = (
                    b"\x04garbage"
                    if mint == bad
                    else metaplex_metadata_bytes(mint, mint, f"T{mint[:3]}", mint[:3], "")
                )
                answers.append(account(data, METADATA_PROGRAM))
            else:
                answers.append(account(MINT_DATA, TOKEN_PROGRAM))
        return {"context": {"slot": 1}, "value": answers}

    server = await FakeRpc(behaviour).start()
    rpc = RpcPool([server.url], requests_per_second=1000, call_deadline_s=2.0, timeout=1.0)
    try:
        state = EngineState("sim")
        instance, books, logs = worker(rpc, state)
        show(state, mints)
        assert await instance.fetch_token_names() == 120
        calls = [len(r["params"][0]) for r in server.requests]
        assert calls == [100, 100, 40]  # 50 mints a call, each with its PDA
        assert state.symbol(mints[0]) == mints[0][:3] and instance.cache.get_decimals(mints[0]) == 6
        assert books.rows[bad]["source"] == "none" and state.symbol(bad) == ""
        assert [line for line in logs if "unreadable" in line] == [
            f"warning: token metadata of {bad[:4]}…{bad[-4:]} unreadable: Metaplex metadata: update_authority runs"
            " past the end (8 bytes)"
        ]
        # named once: nothing more is asked
        assert await instance.fetch_token_names() == 0 and len(server.requests) == 3

        # an unanswered batch: one warning, no row, asked again only after the retry time
        late = [str(Keypair().pubkey()) for _ in range(2)]
        for mint in late:
            named[metadata_pda(mint)] = mint
        show(state, late)
        down["on"] = True
        assert await instance.fetch_token_names() == 0
        assert all(mint not in books.rows for mint in late)
        asked = len(server.requests)
        assert await instance.fetch_token_names() == 0 and len(server.requests) == asked  # not yet
        warnings = [line for line in logs if "unavailable" in line]
        assert len(warnings) == 1
        down["on"] = False
        for mint in late:
            instance._names_retry_at[mint] -= cache_module.META_RETRY_S
        assert await instance.fetch_token_names() == 2 and state.symbol(late[1]) == late[1][:3]
    finally:
        await rpc.close()
        await server.stop()
