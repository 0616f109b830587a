"""Token names on the local cluster: its tokens carry real metadata (a Metaplex account at the real PDA for
SPL Token, the metadata-pointer and TokenMetadata extensions for Token-2022) in mainnet's getAccountInfo
shape, and the cache worker reads each copied mint's metadata once, stores it and names the token."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import urllib.request

import pytest
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, create_account
from solders.transaction import Transaction

from engine.chain.token_meta import MAX_METADATA_LEN, METADATA_PROGRAM, metadata_pda, read_token_meta
from engine.constants import TOKEN_2022_PROGRAM, TOKEN_PROGRAM
from engine.sim.amm import mint_data
from engine.sim.launch import launch_token, new_launcher
from engine.sim.token_ext import metadata_extensions, token_name, with_mint_extensions
from engine.workers.cache import CacheWorker
from engine.workers.data import DataWorker
from engine.workers.executor import ExecutorWorker
from tests.helpers.copying import SOL, detected, engine_factory, finished, query
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.slow


def rpc(url: str, method: str, params: list) -> dict:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        document = json.loads(answer.read())
    assert "error" not in document, document
    return document["result"]


def pool_of(cluster, program: str):
    return next(pool for pool in cluster.market.pools.values() if str(pool.token_program) == program)


def test_spl_tokens_have_a_metaplex_account_at_the_real_pda(sim_cluster):
    pool = pool_of(sim_cluster, TOKEN_PROGRAM)
    mint = pool.mint_str
    account = rpc(sim_cluster.rpc_url, "getAccountInfo", [metadata_pda(mint), {"encoding": "base64"}])[
        "value"
    ]
    assert account["owner"] == METADATA_PROGRAM and account["space"] == MAX_METADATA_LEN
    assert account["executable"] is False and set(account) == {
        "data",
        "executable",
        "lamports",
        "owner",
        "rentEpoch",
        "space",
    }
    rent = rpc(sim_cluster.rpc_url, "getMinimumBalanceForRentExemption", [MAX_METADATA_LEN])
    assert account["lamports"] == rent
    mint_account = rpc(sim_cluster.rpc_url, "getAccountInfo", [mint, {"encoding": "base64"}])["value"]
    meta = read_token_meta(mint, mint_account, account)
    assert (meta.symbol, meta.decimals, meta.source) == (pool.symbol, 6, "metaplex")
    assert meta.name == f"{pool.symbol.title()} Token"


def test_token_2022_mints_carry_the_metadata_extensions(sim_cluster):
    pool = pool_of(sim_cluster, TOKEN_2022_PROGRAM)
    mint = pool.mint_str
    parsed = rpc(sim_cluster.rpc_url, "getAccountInfo", [mint, {"encoding": "jsonParsed"}])["value"]
    extensions = {e["extension"]: e.get("state") for e in parsed["data"]["parsed"]["info"]["extensions"]}
    creator = str(sim_cluster.market.mint_authority.pubkey())
    assert extensions["metadataPointer"] == {"authority": creator, "metadataAddress": mint}
    assert extensions["tokenMetadata"] == {
        "updateAuthority": creator,
        "mint": mint,
        "name": f"{pool.symbol.title()} Token",
        "symbol": pool.symbol,
        "uri": "",
        "additionalMetadata": [],
    }
    raw = rpc(sim_cluster.rpc_url, "getAccountInfo", [mint, {"encoding": "base64"}])["value"]
    assert read_token_meta(mint, raw, None).source == "token2022"
    # no Metaplex account for a mint that keeps its metadata in itself
    assert (
        rpc(sim_cluster.rpc_url, "getAccountInfo", [metadata_pda(mint), {"encoding": "base64"}])["value"]
        is None
    )
    # the real Token-2022 program still moves the token (a trader buys and sells it)
    trader = sim_cluster.traders[0][0]
    sim_cluster.trader_swap(trader, "buy", mint, quote_lamports=SOL)
    sim_cluster.trader_swap(trader, "sell", mint, token_fraction=1.0)


def test_a_launched_token_has_its_metaplex_account(sim_cluster):
    market = sim_cluster.market
    launcher = new_launcher(market, bytes(range(32)))
    pool = launch_token(market, launcher, Keypair(), Keypair(), "NEWT")
    account = rpc(
        sim_cluster.rpc_url, "getAccountInfo", [metadata_pda(pool.mint_str), {"encoding": "base64"}]
    )
    fields = read_token_meta(pool.mint_str, None, account["value"])
    assert fields.symbol == "NEWT" and fields.source == "metaplex"
    data = base64.b64decode(account["value"]["data"][0])
    assert data[33:65] == bytes(pool.mint) and data[1:33] == bytes(launcher.pubkey())


def test_the_token_2022_bytes_are_what_the_real_program_writes():
    """The cluster writes its Token-2022 mints' metadata into genesis state; the same mint made by the real
    instructions (InitializeMetadataPointer, InitializeMint2, the interface's Initialize, which reallocs
    the mint) in LiteSVM's Token-2022 program has exactly those bytes."""
    program = Pubkey.from_string(TOKEN_2022_PROGRAM)
    svm = LiteSVM()
    payer, mint, authority = Keypair(), Keypair(), Keypair()
    svm.airdrop(payer.pubkey(), 10**10)
    symbol = "ZAP"
    name = token_name(symbol)

    def string(text: str) -> bytes:
        return struct.pack("<I", len(text)) + text.encode()

    initialize = hashlib.sha256(b"spl_token_metadata_interface:initialize_account").digest()[:8]
    pointer_space = 82 + 83 + 1 + 4 + 64
    final_space = pointer_space + 4 + 64 + len(string(name)) + len(string(symbol)) + len(string("")) + 4
    instructions = [
        create_account(
            CreateAccountParams(
                from_pubkey=payer.pubkey(),
                to_pubkey=mint.pubkey(),
                lamports=svm.minimum_balance_for_rent_exemption(final_space),
                space=pointer_space,
                owner=program,
            )
        ),
        Instruction(
            program,
            bytes([39, 0]) + bytes(authority.pubkey()) + bytes(mint.pubkey()),  # MetadataPointer Initialize
            [AccountMeta(mint.pubkey(), False, True)],
        ),
        Instruction(
            program,
            bytes([20, 6]) + bytes(authority.pubkey()) + b"\x00",
            [AccountMeta(mint.pubkey(), False, True)],
        ),
        Instruction(
            program,
            initialize + string(name) + string(symbol) + string(""),
            [
                AccountMeta(mint.pubkey(), False, True),
                AccountMeta(authority.pubkey(), False, False),
                AccountMeta(mint.pubkey(), False, False),
                AccountMeta(authority.pubkey(), True, False),
            ],
        ),
    ]
    message = Message.new_with_blockhash(instructions, payer.pubkey(), svm.latest_blockhash())
    result = svm.send_transaction(Transaction([payer, mint, authority], message, svm.latest_blockhash()))
    assert "TokenMetadataInstruction: Initialize" in " ".join(result.logs())
    real = bytes(svm.get_account(mint.pubkey()).data)
    pointer, metadata = metadata_extensions(mint.pubkey(), authority.pubkey(), symbol, name)
    written = with_mint_extensions(mint_data(authority.pubkey(), 0, 6, None), [pointer, metadata])
    assert len(real) == final_space and real == written


@pytest.fixture
def make_engine(zapbot_home, sim_cluster):
    yield from engine_factory(sim_cluster)


def test_the_cache_worker_names_a_copied_token_once_and_stores_it(sim_cluster, make_engine):
    workers = {"data": DataWorker, "executor": ExecutorWorker, "cache": CacheWorker}
    engine = make_engine(workers=workers)
    spl = pool_of(sim_cluster, TOKEN_PROGRAM)
    t22 = pool_of(sim_cluster, TOKEN_2022_PROGRAM)
    leader = sim_cluster.traders[0][0]
    for pool in (spl, t22):
        buy = sim_cluster.trader_swap(leader, "buy", pool.mint_str, quote_lamports=SOL)
        assert engine.ctx.send("executor", detected(buy))
        row = wait_until(lambda buy=buy: finished(engine, buy.signature), what=f"our {pool.symbol} buy")
        assert row["status"] == "executed", row["reason"]
    snap = wait_until(
        lambda: (
            (s := engine.snapshot()) and {p.symbol for p in s.positions} == {spl.symbol, t22.symbol} and s
        ),
        what="the positions named",
    )
    assert all(t.symbol in (spl.symbol, t22.symbol) for t in snap.trades)
    assert (
        snap.tokens[spl.mint_str].decimals == 6
        and snap.tokens[t22.mint_str].name == f"{t22.symbol.title()} Token"
    )
    rows = query(engine, "SELECT mint, symbol, name, decimals, source FROM token_meta ORDER BY symbol")
    assert {(r["mint"], r["symbol"], r["source"]) for r in rows} == {
        (spl.mint_str, spl.symbol, "metaplex"),
        (t22.mint_str, t22.symbol, "token2022"),
    }
    chain = query(engine, "SELECT chain FROM books")[0]["chain"]
    assert {r["chain"] for r in query(engine, "SELECT chain FROM token_meta")} == {chain}
    # once: every mint shown is named, so the next ticks ask for nothing; each was read one time
    assert engine.ctx.state.unnamed_mints() == set()
    assert snap.counters.get("token_names_read") == 2
