"""Swaps through the local cluster's Jupiter v1 API and its synthetic traders, compared with mainnet shapes."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import aiohttp
import pytest
from solana.rpc.async_api import AsyncClient
from solana.rpc.core import RPCException
from solana.rpc.models import TxOpts
from solders.keypair import Keypair
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from engine.constants import WSOL_MINT
from engine.sim import SimCluster, SimConfig, sign_swap_transaction

pytestmark = pytest.mark.slow  # every test here starts a cluster, an engine or a subprocess

SOL = 10**9
ATA_RENT = 2_039_280


async def _quote_and_swap(
    cluster: SimCluster, user: Keypair, input_mint: str, output_mint: str, amount: int, slippage_bps: int = 50
) -> tuple[dict, dict]:
    async with aiohttp.ClientSession(headers={"x-api-key": "local-test-key"}) as http:
        async with http.get(
            f"{cluster.swap_api_url}/quote",
            params={
                "inputMint": input_mint,
                "outputMint": output_mint,
                "amount": str(amount),
                "slippageBps": str(slippage_bps),
                "swapMode": "ExactIn",
            },
        ) as resp:
            assert resp.status == 200
            quote = await resp.json()
        async with http.post(
            f"{cluster.swap_api_url}/swap",
            json={
                "userPublicKey": str(user.pubkey()),
                "quoteResponse": quote,
                "wrapAndUnwrapSol": True,
                "prioritizationFeeLamports": 10_000,
                "dynamicComputeUnitLimit": True,
            },
        ) as resp:
            assert resp.status == 200
            swap = await resp.json()
    return quote, swap


def _shape_paths(value, prefix: str = "", out: dict | None = None) -> dict[str, set[str]]:
    """JSON path -> JSON type names; subtrees of parsed instructions are skipped (they vary by program)."""
    out = {} if out is None else out
    if isinstance(value, dict):
        out.setdefault(prefix, set()).add("object")
        for key, item in value.items():
            if key != "parsed":
                _shape_paths(item, f"{prefix}.{key}", out)
    elif isinstance(value, list):
        out.setdefault(prefix, set()).add("array")
        for item in value:
            _shape_paths(item, f"{prefix}[]", out)
    else:
        kind = (
            "null"
            if value is None
            else "bool"
            if isinstance(value, bool)
            else "number"
            if isinstance(value, int | float)
            else "string"
        )
        out.setdefault(prefix, set()).add(kind)
    return out


def _fixture_shapes(mainnet: Path, suffix: str) -> tuple[dict[str, set[str]], set[str]]:
    paths: dict[str, set[str]] = {}
    common_meta: set[str] | None = None
    for file in sorted(mainnet.glob("*/*.json")):
        name = file.name
        kind = "_b64" if name.endswith("_b64.json") else "_parsed" if name.endswith("_parsed.json") else ""
        if kind != suffix:
            continue
        data = json.loads(file.read_text())
        if data.get("version") != 0 or "slot" not in data:
            continue
        for path, kinds in _shape_paths(data).items():
            paths.setdefault(path, set()).update(kinds)
        keys = set(data["meta"])
        common_meta = keys if common_meta is None else common_meta & keys
    return paths, common_meta or set()


async def test_quote_swap_lands_and_matches_mainnet_shapes(sim_cluster, mainnet):
    mint = sim_cluster.mints[0]
    user = Keypair()
    sim_cluster.airdrop(user.pubkey(), 5 * SOL)
    quote, swap = await _quote_and_swap(sim_cluster, user, WSOL_MINT, mint, SOL)
    assert (
        quote["routePlan"][0]["swapInfo"]["feeMint"] == WSOL_MINT and quote["routePlan"][0]["percent"] == 100
    )
    assert int(quote["otherAmountThreshold"]) == int(quote["outAmount"]) * 9950 // 10000
    assert swap["lastValidBlockHeight"] > sim_cluster.block_height and swap["computeUnitLimit"] < 1_400_000

    unsigned = VersionedTransaction.from_bytes(base64.b64decode(swap["swapTransaction"]))
    assert unsigned.message.account_keys[0] == user.pubkey()
    assert unsigned.verify_with_results()[0] is False and unsigned.verify_with_results()[1] is True
    with pytest.raises(Exception, match="not enough signers"):
        VersionedTransaction(unsigned.message, [user])  # the mainnet-Jupiter call cannot co-sign
    signed = sign_swap_transaction(unsigned, user)
    assert all(signed.verify_with_results())

    async with AsyncClient(sim_cluster.rpc_url) as client:
        signature = (await client.send_raw_transaction(bytes(signed), TxOpts(skip_preflight=True))).value
        results = {}
        for encoding in ("json", "jsonParsed", "base64"):
            resp = await client.get_transaction(
                signature, encoding=encoding, max_supported_transaction_version=0
            )
            results[encoding] = json.loads(resp.value.to_json())
        # Raw wire results too: solders' round trip may drop keys the server sent.
        raw = {}
        async with aiohttp.ClientSession() as http:
            for encoding in ("json", "jsonParsed", "base64"):
                async with http.post(
                    sim_cluster.rpc_url,
                    json={
                        "jsonrpc": "2.0",
                        "id": 1,
                        "method": "getTransaction",
                        "params": [
                            str(signature),
                            {"encoding": encoding, "maxSupportedTransactionVersion": 0},
                        ],
                    },
                ) as resp:
                    raw[encoding] = (await resp.json())["result"]

    meta = raw["json"]["meta"]
    assert meta["err"] is None and meta["fee"] == 10_000 + swap["prioritizationFeeLamports"]
    keys = raw["json"]["transaction"]["message"]["accountKeys"]
    user_index = keys.index(str(user.pubkey()))
    spent = meta["preBalances"][user_index] - meta["postBalances"][user_index]
    assert spent == int(quote["inAmount"]) + meta["fee"] + ATA_RENT
    received = [b for b in meta["postTokenBalances"] if b["owner"] == str(user.pubkey())]
    assert received[0]["uiTokenAmount"]["amount"] == quote["outAmount"]
    assert sim_cluster.token_balance(user.pubkey(), mint) == int(quote["outAmount"])
    assert results["json"]["meta"]["fee"] == meta["fee"]

    for encoding, suffix in (("json", ""), ("jsonParsed", "_parsed"), ("base64", "_b64")):
        fixture_paths, common_meta = _fixture_shapes(mainnet, suffix)
        ours = raw[encoding]
        assert set(ours) == {"blockTime", "meta", "slot", "transaction", "version"}
        # returnData is present only when the last instruction set return data (mainnet skips it otherwise;
        # the base64 fixtures' parser filled an empty one in).
        required = common_meta - {"returnData"}
        assert required <= set(ours["meta"]), (encoding, required - set(ours["meta"]))
        for path, kinds in _shape_paths(ours).items():
            assert path in fixture_paths, (encoding, path)
            assert kinds <= fixture_paths[path], (encoding, path, kinds, fixture_paths[path])


async def test_slippage_past_tolerance_fails_like_mainnet(sim_cluster):
    mint = sim_cluster.mints[1]
    user = Keypair()
    sim_cluster.airdrop(user.pubkey(), 5 * SOL)
    quote, swap = await _quote_and_swap(sim_cluster, user, WSOL_MINT, mint, SOL, slippage_bps=50)
    sim_cluster.trader_swap("trader1", "buy", mint, quote_lamports=10 * SOL)  # the price runs away
    signed = sign_swap_transaction(
        VersionedTransaction.from_bytes(base64.b64decode(swap["swapTransaction"])), user
    )
    async with AsyncClient(sim_cluster.rpc_url) as client:
        with pytest.raises(RPCException) as caught:
            await client.send_raw_transaction(bytes(signed))
        assert "custom program error: 0x1771" in caught.value.args[0].message
        before = (await client.get_balance(user.pubkey())).value
        signature = (await client.send_raw_transaction(bytes(signed), TxOpts(skip_preflight=True))).value
        status = (await client.get_signature_statuses([signature])).value[0]
        assert status is not None
        tx = json.loads(
            (await client.get_transaction(signature, max_supported_transaction_version=0)).value.to_json()
        )
        after = (await client.get_balance(user.pubkey())).value
    assert tx["meta"]["err"] == {"InstructionError": [3, {"Custom": 6001}]}
    assert tx["meta"]["status"] == {"Err": {"InstructionError": [3, {"Custom": 6001}]}}
    assert before - after == tx["meta"]["fee"] > 0
    assert any("custom program error: 0x1771" in line for line in tx["meta"]["logMessages"])
    assert tx["meta"]["postTokenBalances"] == tx["meta"]["preTokenBalances"]
    assert sim_cluster.token_balance(user.pubkey(), mint) == 0


async def test_trader_trades_decode_to_reported_amounts(sim_cluster):
    from engine.decoding.decoder import decode_transaction

    mint = sim_cluster.mints[2]  # the Token-2022 mint
    name, wallet = sim_cluster.traders[0]
    buy = sim_cluster.trader_swap(name, "buy", mint, quote_lamports=2 * SOL)  # leader buys
    half = sim_cluster.trader_swap(wallet, "sell", mint, token_fraction=0.5)  # leader sells half
    rest = sim_cluster.trader_swap(name, "sell", mint, token_fraction=1.0)  # leader sells the rest
    assert half.token_amount == buy.token_amount // 2
    assert half.token_amount + rest.token_amount == buy.token_amount
    assert sim_cluster.token_balance(wallet, mint) == 0

    async with aiohttp.ClientSession() as http:
        async with http.get(sim_cluster.market_url.replace("/market", "/trades")) as resp:
            reported = {t["signature"]: t for t in await resp.json()}
        async with http.get(sim_cluster.market_url) as resp:
            market = await resp.json()
    assert {t["mint"] for t in market["tokens"]} == set(sim_cluster.mints)
    assert [t["wallet"] for t in market["traders"]] == [w for _, w in sim_cluster.traders]
    async with AsyncClient(sim_cluster.rpc_url) as client:
        for trade in (buy, half, rest):
            resp = await client.get_transaction(
                Signature.from_string(trade.signature), max_supported_transaction_version=0
            )
            decoded = decode_transaction(json.loads(resp.value.to_json()), wallet, allow_unknown_venue=True)
            (swap,) = decoded.swaps
            assert swap.side == reported[trade.signature]["side"] == trade.side
            assert swap.mint == mint
            assert swap.token_amount == reported[trade.signature]["token_amount"]


def test_scenario_timeline_runs(tmp_path):
    scenario = tmp_path / "scenario.toml"
    scenario.write_text("""
seed = 11
slot_ms = 50
[[tokens]]
symbol = "ALPHA"
sol_reserve = 40
token_reserve = 500000000
[[traders]]
name = "whale"
sol = 100
[[timeline]]
at = 0.0
trader = "whale"
side = "buy"
token = "ALPHA"
sol = 2.0
[[timeline]]
at = 0.05
trader = "whale"
side = "sell"
token = "ALPHA"
fraction = 0.5
[[timeline]]
at = 0.1
chaos = { rpc_latency_ms = 5 }
""")
    with SimCluster(SimConfig(rpc_port=0, ws_port=0, swap_port=0, scenario=scenario)) as cluster:
        assert [name for name, _ in cluster.traders] == ["whale"]
        for _ in range(100):
            if len(cluster.landed_trades()) == 2 and cluster.chaos.rpc_latency_ms == 5:
                break
            asyncio.run(asyncio.sleep(0.05))
        trades = cluster.landed_trades()
    assert [t.side for t in trades] == ["buy", "sell"]
    assert trades[1].token_amount == trades[0].token_amount // 2
    assert cluster.timeline_errors == []


def test_scheduled_random_trades_land():
    config = SimConfig(rpc_port=0, ws_port=0, swap_port=0, slot_ms=50, trade_rate=200, trade_duration=0.3)
    with SimCluster(config) as cluster:
        for _ in range(100):
            if len(cluster.landed_trades()) >= 5:
                break
            asyncio.run(asyncio.sleep(0.05))
        trades = cluster.landed_trades()
    assert len(trades) >= 5
    assert {t.wallet for t in trades} <= {w for _, w in cluster.traders}
