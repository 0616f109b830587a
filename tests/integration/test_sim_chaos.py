"""Each chaos setting of the local cluster, shown by its effect on a real client."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import aiohttp
import pytest
import websockets
from solana.rpc.async_api import AsyncClient
from solana.rpc.core import RPCException
from solana.rpc.models import TxOpts
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from engine.sim import ChaosKeyError, ChaosSettings, parse_chaos_args
from tests.helpers.sim import cluster_loop_ran

SOL = 10**9


def _signed_transfer(sender: Keypair, blockhash, lamports: int = SOL) -> VersionedTransaction:
    msg = MessageV0.try_compile(
        sender.pubkey(),
        [
            transfer(
                TransferParams(from_pubkey=sender.pubkey(), to_pubkey=Keypair().pubkey(), lamports=lamports)
            )
        ],
        [],
        blockhash,
    )
    return VersionedTransaction(msg, [sender])


async def _post(url: str, method: str, params: list) -> tuple[int, dict, dict]:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        ) as resp:
            return resp.status, dict(resp.headers), await resp.json(content_type=None)


def test_chaos_settings_parse_and_reject_bad_keys():
    chaos = parse_chaos_args(["rpc_429_ratio=0.5", "pause_slots=true", "blockhash_ttl_slots=3"])
    assert (chaos.rpc_429_ratio, chaos.pause_slots, chaos.blockhash_ttl_slots) == (0.5, True, 3)
    with pytest.raises(ChaosKeyError, match="unknown chaos key 'nope'"):
        parse_chaos_args(["nope=1"])
    with pytest.raises(ChaosKeyError, match="bad value"):
        ChaosSettings().set("rpc_429_ratio", "2")


@pytest.mark.slow
async def test_ws_drop_closes_sockets(sim_cluster):
    async with websockets.connect(sim_cluster.ws_url) as ws:
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "slotSubscribe"}))
        sim_cluster.chaos.ws_drop_every_s = 0.2
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), 5)
    sim_cluster.chaos.ws_drop_every_s = 0


@pytest.mark.slow
async def test_rpc_429_carries_retry_after(sim_cluster):
    sim_cluster.chaos.rpc_429_ratio = 1.0
    status, headers, body = await _post(sim_cluster.rpc_url, "getSlot", [])
    assert status == 429 and headers["Retry-After"] == "1" and body["error"]["code"] == 429
    sim_cluster.chaos.rpc_429_ratio = 0.0
    status, _, body = await _post(sim_cluster.rpc_url, "getSlot", [])
    assert status == 200 and isinstance(body["result"], int)


@pytest.mark.slow
async def test_rpc_latency_delays_answers(sim_cluster):
    sim_cluster.chaos.rpc_latency_ms = 300
    started = time.monotonic()
    status, _, _ = await _post(sim_cluster.rpc_url, "getHealth", [])
    assert status == 200 and time.monotonic() - started >= 0.3  # a lower bound: the delay is a sleep


@pytest.mark.slow
async def test_send_fail_refuses_sends(sim_cluster):
    async with AsyncClient(sim_cluster.rpc_url) as client:
        sender = Keypair()
        sim_cluster.airdrop(sender.pubkey(), 5 * SOL)
        tx = _signed_transfer(sender, (await client.get_latest_blockhash()).value.blockhash)
        sim_cluster.chaos.send_fail_ratio = 1.0
        with pytest.raises(RPCException, match="Node is unhealthy"):
            await client.send_raw_transaction(bytes(tx), TxOpts(skip_preflight=True))
        assert (await client.get_signature_statuses([tx.signatures[0]])).value == [None]
        sim_cluster.chaos.send_fail_ratio = 0.0
        await client.send_raw_transaction(bytes(tx), TxOpts(skip_preflight=True))  # the same bytes, resent
        assert (await client.get_signature_statuses([tx.signatures[0]])).value[0].err is None


@pytest.mark.slow
async def test_dropped_notification_is_found_by_polling(sim_cluster):
    sender = Keypair()
    sim_cluster.airdrop(sender.pubkey(), 5 * SOL)
    async with websockets.connect(sim_cluster.ws_url) as ws, AsyncClient(sim_cluster.rpc_url) as client:
        await ws.send(
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "logsSubscribe",
                    "params": [{"mentions": [str(sender.pubkey())]}],
                }
            )
        )
        await ws.recv()
        blockhash = (await client.get_latest_blockhash()).value.blockhash
        sim_cluster.chaos.drop_notification_ratio = 1.0
        dropped = (await client.send_transaction(_signed_transfer(sender, blockhash))).value
        sim_cluster.chaos.drop_notification_ratio = 0.0
        delivered = (await client.send_transaction(_signed_transfer(sender, blockhash, SOL // 2))).value
        note = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert note["params"]["result"]["value"]["signature"] == str(delivered)  # the first never came
        polled = (await client.get_signatures_for_address(sender.pubkey(), limit=2)).value
        assert [s.signature for s in polled] == [delivered, dropped]


@pytest.mark.slow
async def test_blockhash_expiry_rejects_send(sim_cluster):
    sim_cluster.chaos.pause_slots = True  # advance by hand only
    async with AsyncClient(sim_cluster.rpc_url) as client:
        sender = Keypair()
        sim_cluster.airdrop(sender.pubkey(), 5 * SOL)
        sim_cluster.chaos.blockhash_ttl_slots = 2
        latest = (await client.get_latest_blockhash()).value
        assert latest.last_valid_block_height == sim_cluster.block_height + 2
        tx = _signed_transfer(sender, latest.blockhash)
        sim_cluster.advance_slots(3)
        _, _, valid = await _post(sim_cluster.rpc_url, "isBlockhashValid", [str(latest.blockhash)])
        assert valid["result"]["value"] is False
        _, _, body = await _post(
            sim_cluster.rpc_url,
            "sendTransaction",
            [base64.b64encode(bytes(tx)).decode(), {"encoding": "base64"}],
        )
        assert body["error"]["code"] == -32002
        assert body["error"]["message"] == "Transaction simulation failed: Blockhash not found"
        assert body["error"]["data"]["err"] == "BlockhashNotFound"
        with pytest.raises(RPCException, match="Blockhash not found"):
            await client.send_raw_transaction(bytes(tx))
        # With skipPreflight the node accepts it, and it never lands: expiry is what tells the sender.
        signature = (await client.send_raw_transaction(bytes(tx), TxOpts(skip_preflight=True))).value
        assert (await client.get_signature_statuses([signature])).value == [None]


@pytest.mark.slow
async def test_pause_stops_the_slot_clock(sim_cluster):
    sim_cluster.chaos.pause_slots = True
    await cluster_loop_ran(sim_cluster, 0.15)  # a tick already under way is over
    paused_at = sim_cluster.slot
    await cluster_loop_ran(sim_cluster, 0.5)  # five slot periods of the cluster's own clock
    assert sim_cluster.slot == paused_at
    sim_cluster.chaos.pause_slots = False
    for _ in range(50):
        await asyncio.sleep(0.1)
        if sim_cluster.slot > paused_at:
            break
    assert sim_cluster.slot > paused_at
