"""The local cluster's token safety and USDC support: mints without authorities by default, scenario tokens
that keep them or carry real Token-2022 extensions (shown by getAccountInfo jsonParsed as mainnet shows
them, and executed by the Token-2022 program), USDC pools that quote and trade, and price moves by traders
nobody follows."""

from __future__ import annotations

import aiohttp
import pytest

from engine.constants import TOKEN_2022_PROGRAM, TOKEN_PROGRAM, USDC_MINT, WSOL_MINT
from engine.safety import SafetyRules, check_mint, parse_mint_account
from engine.sim import SimCluster, SimConfig
from engine.sim.scenario import ScenarioError, load_scenario
from tests.helpers.copying import scenario_cluster

pytestmark = pytest.mark.slow

SOL = 10**9

SCENARIO = """
seed = 5
[[tokens]]
symbol = "PLAIN"
[[tokens]]
symbol = "MINTY"
mint_authority = true
[[tokens]]
symbol = "FROZEN"
freeze_authority = true
[[tokens]]
symbol = "FEE"
transfer_fee_bps = 250
[[tokens]]
symbol = "DELEG"
permanent_delegate = true
[[tokens]]
symbol = "DUAL"
usdc_pool = true
usdc_reserve = 3000
[[traders]]
name = "whale"
sol = 500
[[traders]]
name = "pumper"
sol = 500
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    yield from scenario_cluster(tmp_path_factory, SCENARIO, "safety")


async def rpc(cluster: SimCluster, method: str, params: list) -> dict:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            cluster.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        ) as resp:
            return (await resp.json())["result"]


async def mint_account(cluster: SimCluster, symbol: str) -> dict:
    result = await rpc(cluster, "getAccountInfo", [cluster.resolve_mint(symbol), {"encoding": "jsonParsed"}])
    return result["value"]


async def test_default_tokens_have_no_authorities(sim_cluster):
    for mint in sim_cluster.mints:
        info = (await mint_account(sim_cluster, mint))["data"]["parsed"]["info"]
        assert info["mintAuthority"] is None and info["freezeAuthority"] is None
        account = await mint_account(sim_cluster, mint)
        if account["owner"] == TOKEN_PROGRAM:
            assert "extensions" not in info  # mainnet leaves the key out when a mint has none
        else:  # a Token-2022 mint keeps its name in itself: the metadata pointer and the metadata
            assert [e["extension"] for e in info["extensions"]] == ["metadataPointer", "tokenMetadata"]
        facts = parse_mint_account(mint, await mint_account(sim_cluster, mint))
        assert check_mint(facts, SafetyRules()) is None


async def test_scenario_authorities_show_in_json_parsed(cluster):
    minty = await mint_account(cluster, "MINTY")
    info = minty["data"]["parsed"]["info"]
    assert minty["owner"] == TOKEN_PROGRAM and minty["space"] == 82
    assert info["mintAuthority"] == str(cluster.market.mint_authority.pubkey())
    assert info["freezeAuthority"] is None
    frozen = (await mint_account(cluster, "FROZEN"))["data"]["parsed"]["info"]
    assert frozen["mintAuthority"] is None and frozen["freezeAuthority"] is not None
    reasons = {
        symbol: check_mint(
            parse_mint_account(cluster.resolve_mint(symbol), await mint_account(cluster, symbol)),
            SafetyRules(),
        )
        for symbol in ("PLAIN", "MINTY", "FROZEN")
    }
    assert reasons["PLAIN"] is None
    assert reasons["MINTY"].reason == "mint authority"
    assert reasons["FROZEN"].reason == "freeze authority"


async def test_token_2022_extensions_show_as_mainnet_does(cluster):
    creator = str(cluster.market.mint_authority.pubkey())
    fee = await mint_account(cluster, "FEE")
    assert fee["owner"] == TOKEN_2022_PROGRAM
    # 82-byte base, padding to 165, account type, TransferFeeConfig TLV (4 + 108 bytes), then its name:
    # MetadataPointer (4 + 64) and TokenMetadata (4 + 64 + name, symbol, uri and an empty list: 4+9, 4+3, 4, 4).
    assert fee["space"] == 278 + 68 + 4 + 64 + 13 + 7 + 4 + 4 and fee["data"]["program"] == "spl-token-2022"
    extension, pointer, metadata = fee["data"]["parsed"]["info"]["extensions"]
    assert (pointer["extension"], metadata["extension"]) == ("metadataPointer", "tokenMetadata")
    assert metadata["state"]["symbol"] == "FEE" and metadata["state"]["name"] == "Fee Token"
    transfer_fee = {"epoch": 0, "maximumFee": 2**64 - 1, "transferFeeBasisPoints": 250}
    assert extension == {
        "extension": "transferFeeConfig",
        "state": {
            "transferFeeConfigAuthority": creator,
            "withdrawWithheldAuthority": creator,
            "withheldAmount": 0,
            "olderTransferFee": transfer_fee,
            "newerTransferFee": transfer_fee,
        },
    }
    deleg = await mint_account(cluster, "DELEG")
    assert deleg["data"]["parsed"]["info"]["extensions"][0] == {
        "extension": "permanentDelegate",
        "state": {"delegate": creator},
    }
    skip = check_mint(parse_mint_account(cluster.resolve_mint("FEE"), fee), SafetyRules())
    assert skip is not None and skip.reason == "token extension" and "250 bps" in skip.detail
    skip = check_mint(parse_mint_account(cluster.resolve_mint("DELEG"), deleg), SafetyRules())
    assert skip is not None and skip.reason == "token extension" and "permanent delegate" in skip.detail


async def test_transfer_fee_is_charged_by_token_2022(cluster):
    wallet = dict(cluster.traders)["whale"]
    trade = cluster.trader_swap("whale", "buy", "FEE", quote_lamports=SOL)
    received = cluster.token_balance(wallet, "FEE")
    withheld = -(-trade.token_amount * 250 // 10_000)  # Token-2022 rounds the fee up
    assert received == trade.token_amount - withheld
    accounts = await rpc(
        cluster,
        "getTokenAccountsByOwner",
        [wallet, {"mint": cluster.resolve_mint("FEE")}, {"encoding": "jsonParsed"}],
    )
    (account,) = accounts["value"]
    info = account["account"]["data"]["parsed"]["info"]
    assert info["extensions"] == [
        {"extension": "immutableOwner"},
        {"extension": "transferFeeAmount", "state": {"withheldAmount": withheld}},
    ]


async def test_usdc_pool_quotes_and_trades(cluster):
    usdc = await mint_account(cluster, "USDC")
    assert cluster.resolve_mint("USDC") == USDC_MINT
    assert usdc["data"]["parsed"]["info"]["decimals"] == 6
    dual = cluster.resolve_mint("DUAL")
    async with aiohttp.ClientSession() as http:
        params = {"inputMint": USDC_MINT, "outputMint": dual, "amount": str(100 * 10**6), "slippageBps": "50"}
        async with http.get(f"{cluster.swap_api_url}/quote", params=params) as resp:
            assert resp.status == 200
            quote = await resp.json()
        params = {"inputMint": WSOL_MINT, "outputMint": USDC_MINT, "amount": str(SOL)}
        async with http.get(f"{cluster.swap_api_url}/quote", params=params) as resp:
            sol_in_usdc = int((await resp.json())["outAmount"])
    assert int(quote["outAmount"]) > 0
    assert quote["routePlan"][0]["swapInfo"]["feeMint"] == USDC_MINT
    assert 149 * 10**6 < sol_in_usdc < 150 * 10**6  # 150 USDC per SOL less the pool fee
    wallet = dict(cluster.traders)["whale"]
    usdc_before = cluster.token_balance(wallet, "USDC")
    buy = cluster.trader_swap("whale", "buy", "DUAL", quote_lamports=100 * 10**6, quote="USDC")
    assert buy.quote_mint == USDC_MINT and buy.quote_amount == 100 * 10**6
    assert cluster.token_balance(wallet, "USDC") == usdc_before - 100 * 10**6
    assert cluster.token_balance(wallet, "DUAL") == buy.token_amount
    sell = cluster.trader_swap("whale", "sell", "DUAL", token_fraction=1.0, quote="USDC")
    assert cluster.token_balance(wallet, "USDC") == usdc_before - 100 * 10**6 + sell.quote_amount
    transaction = await rpc(
        cluster,
        "getTransaction",
        [buy.signature, {"encoding": "jsonParsed", "maxSupportedTransactionVersion": 0}],
    )
    mints = {balance["mint"] for balance in transaction["meta"]["postTokenBalances"]}
    assert {USDC_MINT, dual} <= mints


def test_traders_nobody_follows_pump_and_dump(cluster):
    before = cluster.price("PLAIN")
    cluster.move_price("pumper", "PLAIN", 60)
    pumped = cluster.price("PLAIN")
    assert pumped / before == pytest.approx(1.6, rel=0.01)
    cluster.move_price("pumper", "PLAIN", -30)  # it sells part of what the pump bought
    assert cluster.price("PLAIN") / pumped == pytest.approx(0.7, rel=0.01)
    # A dump deeper than the trader's tokens allow sells them all and stops there.
    cluster.move_price("pumper", "PLAIN", -90)
    assert cluster.token_balance(dict(cluster.traders)["pumper"], "PLAIN") == 0
    with pytest.raises(ValueError, match="holds no"):
        cluster.move_price("whale", "DELEG", -10)


def test_scenario_rejects_extensions_without_token_2022(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[[tokens]]\nsymbol = "X"\ntoken2022 = false\ntransfer_fee_bps = 10\n')
    with pytest.raises(ScenarioError, match="need token2022"):
        load_scenario(path)
    path.write_text('[[timeline]]\nat = 1\ntrader = "a"\ntoken = "X"\nprice_pct = -100\n')
    with pytest.raises(ScenarioError, match="price_pct"):
        load_scenario(path)


def test_usdc_on_the_default_cluster():
    config = SimConfig(rpc_port=0, ws_port=0, swap_port=0, slot_ms=100, usdc=True)
    with SimCluster(config) as cluster:
        assert USDC_MINT in cluster.mints
        for _, wallet in cluster.traders:
            assert cluster.token_balance(wallet, "USDC") == 100_000 * 10**6
        assert cluster.price("USDC") == pytest.approx(1 / 150)
        trade = cluster.trader_swap("trader1", "sell", "USDC", token_amount=150 * 10**6)
        assert 0.99 * SOL < trade.quote_amount < SOL
