"""The local cluster's Jito-compatible block engine through the engine's senders: a bundle lands atomically
with its tip in a tip account, a bundle with one failing transaction lands nothing, the statuses answer in
Jito's shapes, and the same bytes through an RPC sender and a block engine sender land once."""

from __future__ import annotations

import asyncio

import pytest
from solana.rpc.async_api import AsyncClient
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from engine.chain.senders import Sender, SendError, SenderSet
from engine.sim.block_engine import JITO_TIP_ACCOUNTS

pytestmark = pytest.mark.slow
SOL = 1_000_000_000
TIP = 50_000


async def _transfer(client: AsyncClient, payer: Keypair, to: Pubkey, lamports: int) -> bytes:
    blockhash = (await client.get_latest_blockhash()).value.blockhash
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=to, lamports=lamports))
    return bytes(VersionedTransaction(MessageV0.try_compile(payer.pubkey(), [ix], [], blockhash), [payer]))


def _sig(raw: bytes) -> str:
    return str(VersionedTransaction.from_bytes(raw).signatures[0])


async def _balance(client: AsyncClient, key: Pubkey) -> int:
    return (await client.get_balance(key, commitment="confirmed")).value


def test_bundle_lands_atomically_with_its_tip_or_not_at_all(sim_cluster) -> None:
    async def run() -> None:
        jito = Sender(sim_cluster.block_engine_url, kind="jito", name="jito")
        tip_accounts = await jito.tip_accounts()
        assert tip_accounts == list(JITO_TIP_ACCOUNTS) and len(tip_accounts) == 8
        tip_account = Pubkey.from_string(tip_accounts[3])
        async with AsyncClient(sim_cluster.rpc_url) as client:
            tip_before = await _balance(client, tip_account)
            payer, dest = Keypair(), Keypair()
            sim_cluster.airdrop(payer.pubkey(), SOL)
            swap = await _transfer(client, payer, dest.pubkey(), SOL // 10)
            tip = await _transfer(client, payer, tip_account, TIP)
            bundle_id = await jito.send_bundle([swap, tip])
            assert len(bundle_id) == 64
            statuses = await jito.call("getBundleStatuses", [[bundle_id]])
            (status,) = statuses["value"]
            assert status["bundle_id"] == bundle_id
            assert status["transactions"] == [_sig(swap), _sig(tip)]
            assert status["err"] == {"Ok": None} and status["confirmation_status"] == "confirmed"
            assert isinstance(status["slot"], int) and statuses["context"]["slot"] >= status["slot"]
            assert await _balance(client, dest.pubkey()) == SOL // 10
            assert await _balance(client, tip_account) == tip_before + TIP
            sigs = (
                await client.get_signature_statuses([VersionedTransaction.from_bytes(swap).signatures[0]])
            ).value
            assert sigs[0] is not None and sigs[0].err is None

            # One failing transaction (a transfer of more than the payer holds): nothing of the bundle lands,
            # not even the first transfer, the tip or a fee.
            poor, dest2 = Keypair(), Keypair()
            sim_cluster.airdrop(poor.pubkey(), SOL // 10)
            poor_before = await _balance(client, poor.pubkey())
            ok = await _transfer(client, poor, dest2.pubkey(), SOL // 100)
            tip2 = await _transfer(client, poor, tip_account, TIP)
            too_much = await _transfer(client, poor, dest2.pubkey(), SOL)
            failed_id = await jito.send_bundle([ok, tip2, too_much])
            assert (await jito.call("getBundleStatuses", [[failed_id]]))["value"] == [None]
            inflight = await jito.call("getInflightBundleStatuses", [[failed_id, "0" * 64]])
            assert [v["status"] for v in inflight["value"]] == ["Failed", "Invalid"]
            assert await _balance(client, dest2.pubkey()) == 0
            assert await _balance(client, poor.pubkey()) == poor_before
            assert await _balance(client, tip_account) == tip_before + TIP
            none = (
                await client.get_signature_statuses(
                    [VersionedTransaction.from_bytes(r).signatures[0] for r in (ok, tip2, too_much)]
                )
            ).value
            assert none == [None, None, None]

            # A bundle with no tip is refused outright, with the reason.
            untipped = await _transfer(client, payer, dest.pubkey(), 1)
            with pytest.raises(SendError, match="tip account"):
                await jito.send_bundle([untipped])
        await jito.close()

    asyncio.run(run())


def test_same_bytes_through_rpc_and_block_engine_land_once(sim_cluster) -> None:
    async def run() -> None:
        async with AsyncClient(sim_cluster.rpc_url) as client:
            payer, dest = Keypair(), Keypair()
            sim_cluster.airdrop(payer.pubkey(), SOL)
            raw = await _transfer(client, payer, dest.pubkey(), SOL // 10)
            senders = SenderSet(
                [
                    Sender(sim_cluster.rpc_url, kind="rpc", name="rpc"),
                    Sender(sim_cluster.block_engine_url, kind="jito", name="jito"),
                ]
            )
            before = sim_cluster.rpc.counts()
            assert await senders.send(raw) == _sig(raw)
            await senders.drain()
            after = sim_cluster.rpc.counts()
            assert after.get("sendTransaction", 0) - before.get("sendTransaction", 0) == 1
            assert after.get("jito:sendTransaction", 0) - before.get("jito:sendTransaction", 0) == 1
            assert all(h.accepted == 1 and h.up for h in senders.health())
            assert await _balance(client, dest.pubkey()) == SOL // 10
            await senders.close()

    asyncio.run(run())
