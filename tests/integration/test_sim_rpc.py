"""The local cluster's JSON-RPC and pubsub, driven with the real clients (solana-py, websockets)."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
import websockets
from solana.rpc.async_api import AsyncClient
from solana.rpc.core import RPCException
from solana.rpc.models import TxOpts
from solana.rpc.websocket_api import SolanaWsClient
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.rpc.config import RpcTransactionLogsFilterMentions
from solders.system_program import CreateAccountParams, TransferParams, create_account, transfer
from solders.token.associated import get_associated_token_address
from solders.transaction import VersionedTransaction

from engine.constants import TOKEN_PROGRAM
from engine.sim.swap_tx import create_idempotent_ata_ix

pytestmark = pytest.mark.slow  # every test here starts a cluster, an engine or a subprocess

SOL = 10**9


async def _raw(url: str, method: str, params: list) -> dict:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        ) as resp:
            return await resp.json()


async def _funded(client: AsyncClient, lamports: int = 10 * SOL) -> Keypair:
    keypair = Keypair()
    await client.request_airdrop(keypair.pubkey(), lamports)
    return keypair


async def _transfer(client: AsyncClient, sender: Keypair, to: Pubkey, lamports: int, **opts) -> str:
    blockhash = (await client.get_latest_blockhash()).value.blockhash
    msg = MessageV0.try_compile(
        sender.pubkey(),
        [transfer(TransferParams(from_pubkey=sender.pubkey(), to_pubkey=to, lamports=lamports))],
        [],
        blockhash,
    )
    resp = await client.send_transaction(
        VersionedTransaction(msg, [sender]), TxOpts(**opts) if opts else None
    )
    return resp.value


async def test_airdrop_and_sol_transfer(sim_cluster):
    async with AsyncClient(sim_cluster.rpc_url) as client:
        assert await client.is_connected()
        sender = await _funded(client)
        assert (await client.get_balance(sender.pubkey())).value == 10 * SOL
        receiver = Keypair().pubkey()
        signature = await _transfer(client, sender, receiver, SOL)
        assert (await client.get_balance(receiver)).value == SOL
        assert (await client.get_balance(sender.pubkey())).value == 9 * SOL - 5_000
        status = (await client.get_signature_statuses([signature])).value[0]
        assert status.err is None and status.slot >= 1


@pytest.fixture
def token_ixs():
    """Minimal SPL Token instruction builders (solana-py 0.41 dropped its spl helpers' sync client)."""
    import struct

    from solders.instruction import AccountMeta, Instruction

    program = Pubkey.from_string(TOKEN_PROGRAM)

    def initialize_mint2(mint: Pubkey, authority: Pubkey, decimals: int) -> Instruction:
        return Instruction(
            program,
            bytes([20, decimals]) + bytes(authority) + b"\x00" + bytes(32),
            [AccountMeta(mint, False, True)],
        )

    def mint_to(mint: Pubkey, account: Pubkey, authority: Pubkey, amount: int) -> Instruction:
        return Instruction(
            program,
            b"\x07" + struct.pack("<Q", amount),
            [
                AccountMeta(mint, False, True),
                AccountMeta(account, False, True),
                AccountMeta(authority, True, False),
            ],
        )

    return initialize_mint2, mint_to


async def test_spl_token_mint(sim_cluster, token_ixs):
    initialize_mint2, mint_to = token_ixs
    async with AsyncClient(sim_cluster.rpc_url) as client:
        owner = await _funded(client)
        mint = Keypair()
        program = Pubkey.from_string(TOKEN_PROGRAM)
        rent = (await client.get_minimum_balance_for_rent_exemption(82)).value
        ata = get_associated_token_address(owner.pubkey(), mint.pubkey(), program)
        ixs = [
            create_account(
                CreateAccountParams(
                    from_pubkey=owner.pubkey(),
                    to_pubkey=mint.pubkey(),
                    lamports=rent,
                    space=82,
                    owner=program,
                )
            ),
            initialize_mint2(mint.pubkey(), owner.pubkey(), 6),
            create_idempotent_ata_ix(owner.pubkey(), owner.pubkey(), mint.pubkey(), program),
            mint_to(mint.pubkey(), ata, owner.pubkey(), 1_234_500_000),
        ]
        blockhash = (await client.get_latest_blockhash()).value.blockhash
        msg = MessageV0.try_compile(owner.pubkey(), ixs, [], blockhash)
        signature = (await client.send_transaction(VersionedTransaction(msg, [owner, mint]))).value

        balance = (await client.get_token_account_balance(ata)).value
        assert (
            balance.amount == "1234500000" and balance.decimals == 6 and balance.ui_amount_string == "1234.5"
        )
        raw = await _raw(
            sim_cluster.rpc_url,
            "getTokenAccountsByOwner",
            [str(owner.pubkey()), {"mint": str(mint.pubkey())}, {"encoding": "jsonParsed"}],
        )
        (entry,) = raw["result"]["value"]
        assert entry["pubkey"] == str(ata)
        info = entry["account"]["data"]["parsed"]["info"]
        assert info["tokenAmount"]["amount"] == "1234500000" and info["owner"] == str(owner.pubkey())
        raw64 = await _raw(
            sim_cluster.rpc_url,
            "getTokenAccountsByOwner",
            [str(owner.pubkey()), {"programId": TOKEN_PROGRAM}, {"encoding": "base64"}],
        )
        assert raw64["result"]["value"][0]["account"]["data"][1] == "base64"

        tx = await client.get_transaction(
            signature, encoding="jsonParsed", max_supported_transaction_version=0
        )
        parsed = json.loads(tx.value.to_json())
        kinds = [ix.get("parsed", {}).get("type") for ix in parsed["transaction"]["message"]["instructions"]]
        assert kinds == ["createAccount", "initializeMint2", "createIdempotent", "mintTo"]
        post = parsed["meta"]["postTokenBalances"]
        assert post[0]["mint"] == str(mint.pubkey()) and post[0]["uiTokenAmount"]["uiAmount"] == 1234.5


async def test_signatures_for_address_paging(sim_cluster):
    async with AsyncClient(sim_cluster.rpc_url) as client:
        sender = await _funded(client)
        sink = Keypair().pubkey()
        sent = [await _transfer(client, sender, sink, SOL // 10 + i) for i in range(5)]
        newest_first = (await client.get_signatures_for_address(sender.pubkey())).value
        assert [s.signature for s in newest_first][:5] == list(reversed(sent))
        assert len(newest_first) == 6  # five transfers and the airdrop
        page = (await client.get_signatures_for_address(sender.pubkey(), before=sent[3], limit=2)).value
        assert [s.signature for s in page] == [sent[2], sent[1]]
        tail = (await client.get_signatures_for_address(sender.pubkey(), until=sent[1])).value
        assert [s.signature for s in tail] == [sent[4], sent[3], sent[2]]
        assert all(s.err is None for s in tail)


async def test_get_transaction_encodings_and_v0_error(sim_cluster):
    async with AsyncClient(sim_cluster.rpc_url) as client:
        sender = await _funded(client)
        signature = await _transfer(client, sender, Keypair().pubkey(), SOL)
    url = sim_cluster.rpc_url
    as_json = (
        await _raw(
            url, "getTransaction", [str(signature), {"encoding": "json", "maxSupportedTransactionVersion": 0}]
        )
    )["result"]
    assert as_json["version"] == 0
    assert as_json["transaction"]["message"]["accountKeys"][0] == str(sender.pubkey())
    assert (
        as_json["meta"]["preBalances"][0] - as_json["meta"]["postBalances"][0] == SOL + as_json["meta"]["fee"]
    )
    parsed = (
        await _raw(
            url,
            "getTransaction",
            [str(signature), {"encoding": "jsonParsed", "maxSupportedTransactionVersion": 0}],
        )
    )["result"]
    ix = parsed["transaction"]["message"]["instructions"][0]
    assert ix["program"] == "system" and ix["parsed"]["type"] == "transfer"
    assert ix["parsed"]["info"]["lamports"] == SOL
    assert "loadedAddresses" not in parsed["meta"]
    b64 = (
        await _raw(
            url,
            "getTransaction",
            [str(signature), {"encoding": "base64", "maxSupportedTransactionVersion": 0}],
        )
    )["result"]
    wire = VersionedTransaction.from_bytes(__import__("base64").b64decode(b64["transaction"][0]))
    assert b64["transaction"][1] == "base64" and wire.signatures[0] == signature
    error = (await _raw(url, "getTransaction", [str(signature), {"encoding": "json"}]))["error"]
    assert error == {
        "code": -32015,
        "message": "Transaction version (0) is not supported by the requesting "
        "client. Please try the request again with the following configuration parameter: "
        '"maxSupportedTransactionVersion": 0',
    }


async def test_rpc_error_shapes_and_batch(sim_cluster):
    url = sim_cluster.rpc_url
    assert (await _raw(url, "noSuchMethod", []))["error"] == {"code": -32601, "message": "Method not found"}
    assert (await _raw(url, "getBalance", ["not-a-key"]))["error"]["code"] == -32602
    async with aiohttp.ClientSession() as http:
        batch = [
            {"jsonrpc": "2.0", "id": 1, "method": "getSlot"},
            {"jsonrpc": "2.0", "id": 2, "method": "getHealth"},
            {"jsonrpc": "2.0", "id": 3, "method": "getVersion"},
        ]
        async with http.post(url, json=batch) as resp:
            replies = await resp.json()
    assert [r["id"] for r in replies] == [1, 2, 3]
    assert replies[1]["result"] == "ok" and "solana-core" in replies[2]["result"]
    async with AsyncClient(url) as client:
        poor = await _funded(client, SOL)
        with pytest.raises(RPCException) as caught:
            await _transfer(client, poor, Keypair().pubkey(), 5 * SOL)
    failure = caught.value.args[0]
    assert failure.message.startswith(
        "Transaction simulation failed: Error processing Instruction 0: custom program error: 0x1"
    )
    assert "insufficient lamports" in " ".join(failure.data.logs)


async def test_logs_and_signature_subscriptions(sim_cluster):
    async with AsyncClient(sim_cluster.rpc_url) as client:
        sender = await _funded(client)
        async with SolanaWsClient(sim_cluster.ws_url) as ws:
            logs_sub = await ws.logs_subscribe(
                filter_=RpcTransactionLogsFilterMentions(sender.pubkey()), commitment="confirmed"
            )
            signature = await _transfer(client, sender, Keypair().pubkey(), SOL, skip_preflight=True)
            note = await asyncio.wait_for(ws.recv(), 5)
            assert note.subscription == logs_sub.subscription_id
            assert note.result.value.signature == signature and note.result.value.err is None
            assert any("11111111111111111111111111111111 success" in line for line in note.result.value.logs)

        # signatureSubscribe before sending: one-shot notification with mainnet's exact bytes.
        blockhash = (await client.get_latest_blockhash()).value.blockhash
        msg = MessageV0.try_compile(
            sender.pubkey(),
            [
                transfer(
                    TransferParams(from_pubkey=sender.pubkey(), to_pubkey=Keypair().pubkey(), lamports=SOL)
                )
            ],
            [],
            blockhash,
        )
        tx = VersionedTransaction(msg, [sender])
        async with websockets.connect(sim_cluster.ws_url) as raw_ws:
            await raw_ws.send(
                json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "id": 9,
                        "method": "signatureSubscribe",
                        "params": [str(tx.signatures[0]), {"commitment": "confirmed"}],
                    }
                )
            )
            sub_id = json.loads(await raw_ws.recv())["result"]
            await client.send_raw_transaction(bytes(tx))
            note = json.loads(await asyncio.wait_for(raw_ws.recv(), 5))
            slot = note["params"]["result"]["context"]["slot"]
            assert note == {
                "jsonrpc": "2.0",
                "method": "signatureNotification",
                "params": {
                    "result": {"context": {"slot": slot}, "value": {"err": None}},
                    "subscription": sub_id,
                },
            }
            await raw_ws.send(
                json.dumps({"jsonrpc": "2.0", "id": 10, "method": "signatureUnsubscribe", "params": [sub_id]})
            )
            assert json.loads(await raw_ws.recv())["error"]["message"] == "Invalid subscription id."


async def test_logs_subscribe_shapes_and_limits(sim_cluster):
    wallet = Keypair()
    async with websockets.connect(sim_cluster.ws_url) as ws:
        await ws.send(
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "logsSubscribe",
                    "params": [{"mentions": [str(wallet.pubkey()), str(Keypair().pubkey())]}],
                }
            )
        )
        error = json.loads(await ws.recv())
        assert error["error"] == {"code": -32602, "message": "Invalid Request: Only 1 address supported"}
        await ws.send(
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": 2,
                    "method": "logsSubscribe",
                    "params": [{"mentions": [str(wallet.pubkey())]}, {"commitment": "processed"}],
                }
            )
        )
        sub_id = json.loads(await ws.recv())["result"]
        airdrop_sig = sim_cluster.airdrop(wallet.pubkey(), SOL)  # from another thread than the server's loop
        note = json.loads(await asyncio.wait_for(ws.recv(), 5))
        landed = sim_cluster.ledger.get_tx(airdrop_sig)
        assert note == {
            "jsonrpc": "2.0",
            "method": "logsNotification",
            "params": {
                "result": {
                    "context": {"slot": landed.slot},
                    "value": {"signature": airdrop_sig, "err": None, "logs": landed.logs},
                },
                "subscription": sub_id,
            },
        }


async def test_ten_thousand_log_subscriptions(sim_cluster):
    wallets = [str(Keypair().pubkey()) for _ in range(10_000)]
    connections = [await websockets.connect(sim_cluster.ws_url, max_size=None) for _ in range(4)]
    try:
        ids: dict[str, int] = {}
        for index, ws in enumerate(connections):
            mine = wallets[index::4]
            for n, wallet in enumerate(mine):
                await ws.send(
                    json.dumps(
                        {
                            "jsonrpc": "2.0",
                            "id": n,
                            "method": "logsSubscribe",
                            "params": [{"mentions": [wallet]}],
                        }
                    )
                )
            for _ in range(len(mine)):
                reply = json.loads(await ws.recv())
                ids[mine[reply["id"]]] = reply["result"]
        assert len(set(ids.values())) == 10_000
        assert sim_cluster.pubsub.subscription_count() == 10_000
        target = wallets[4_321]
        sim_cluster.airdrop(Pubkey.from_string(target), SOL)
        note = json.loads(await asyncio.wait_for(connections[4_321 % 4].recv(), 5))
        assert note["params"]["subscription"] == ids[target]
    finally:
        for ws in connections:
            await ws.close()


async def test_slot_and_account_subscriptions(sim_cluster):
    wallet = Keypair().pubkey()
    async with websockets.connect(sim_cluster.ws_url) as ws:
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "slotSubscribe"}))
        slot_sub = json.loads(await ws.recv())["result"]
        note = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert note["method"] == "slotNotification" and note["params"]["subscription"] == slot_sub
        assert note["params"]["result"]["slot"] == note["params"]["result"]["parent"] + 1
        await ws.send(
            json.dumps({"jsonrpc": "2.0", "id": 2, "method": "slotUnsubscribe", "params": [slot_sub]})
        )
        await ws.send(
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": 3,
                    "method": "accountSubscribe",
                    "params": [str(wallet), {"encoding": "base64"}],
                }
            )
        )
        account_sub = None
        while account_sub is None:
            message = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if message.get("id") == 3:
                account_sub = message["result"]
        sim_cluster.airdrop(wallet, 3 * SOL)
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if message.get("method") == "accountNotification":
                break
        assert message["params"]["subscription"] == account_sub
        assert message["params"]["result"]["value"]["lamports"] == 3 * SOL
