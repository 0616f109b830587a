"""The same signed bytes through several senders against the local cluster: one fill, and a sender that
refuses or hangs neither blocks the copy nor is hidden from the console's send light."""

from __future__ import annotations

import asyncio
import socket

import pytest
from solana.rpc.async_api import AsyncClient
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from engine.chain.senders import Sender, SendError, SenderSet, senders_from_config

pytestmark = pytest.mark.slow
SOL = 1_000_000_000


async def _until(predicate, timeout: float = 20.0) -> None:
    """Await until predicate() holds (async tests cannot block on the sync helpers)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not met"
        await asyncio.sleep(0.02)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _signed_transfer(client: AsyncClient, cluster, lamports: int) -> tuple[bytes, Keypair, Keypair]:
    payer, dest = Keypair(), Keypair()
    cluster.airdrop(payer.pubkey(), 2 * SOL)
    blockhash = (await client.get_latest_blockhash()).value.blockhash
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=dest.pubkey(), lamports=lamports))
    tx = VersionedTransaction(MessageV0.try_compile(payer.pubkey(), [ix], [], blockhash), [payer])
    return bytes(tx), payer, dest


async def _balance(client: AsyncClient, kp: Keypair) -> int:
    return (await client.get_balance(kp.pubkey(), commitment="confirmed")).value


def test_same_bytes_two_senders_land_once_and_a_dead_one_does_not_delay(sim_cluster) -> None:
    async def run() -> None:
        async with AsyncClient(sim_cluster.rpc_url) as client:
            raw, _payer, dest = await _signed_transfer(client, sim_cluster, SOL // 10)
            # A listener that accepts and never answers: the hanging sender.
            hang = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
            hang_port = hang.sockets[0].getsockname()[1]
            senders = senders_from_config(
                [
                    {"url": sim_cluster.rpc_url, "name": "a"},
                    {"url": sim_cluster.rpc_url, "name": "b"},
                    {"url": f"http://127.0.0.1:{_closed_port()}", "name": "refuses", "timeout_s": 30},
                    {"url": f"http://127.0.0.1:{hang_port}", "name": "hangs", "timeout_s": 30},
                ]
            )
            sset = SenderSet(senders)
            before = sim_cluster.rpc.counts().get("sendTransaction", 0)
            accepted: list[str] = []
            sig = await sset.send(raw, lambda s, _sig: accepted.append(s.name))
            by = {s.name: s.health for s in senders}
            # The copy is freed while the hanging sender is still in flight (neither accepted nor failed).
            assert accepted and accepted[0] in ("a", "b")
            assert by["hangs"].accepted == 0 and by["hangs"].failed == 0
            await _until(lambda: by["a"].accepted + by["b"].accepted == 2)
            assert sim_cluster.rpc.counts()["sendTransaction"] - before == 2
            await _until(lambda: by["refuses"].failed == 1)
            assert not by["refuses"].up and "refuses" in by["refuses"].reason
            # One signature, one fill: the destination got the amount exactly once.
            for _ in range(400):
                if await _balance(client, dest) > 0:
                    break
                await asyncio.sleep(0.05)
            assert await _balance(client, dest) == SOL // 10
            statuses = (
                await client.get_signature_statuses([VersionedTransaction.from_bytes(raw).signatures[0]])
            ).value
            assert statuses[0] is not None and statuses[0].err is None
            assert str(VersionedTransaction.from_bytes(raw).signatures[0]) == sig
            # The refusing sender is skipped on the next copy while it is down.
            assert "refuses" not in [s.name for s in sset._active()]
            for task in list(sset._tasks):
                task.cancel()
            hang.close()
            await sset.close()

    asyncio.run(run())


def test_all_senders_failing_is_one_clear_error() -> None:
    async def run() -> None:
        sset = SenderSet([Sender(f"http://127.0.0.1:{_closed_port()}", name="x", timeout_s=5)])
        with pytest.raises(SendError, match="every sender failed: x:"):
            await sset.send(b"\x01" * 10)
        await sset.close()

    asyncio.run(run())


def test_bad_sender_config_is_one_line() -> None:
    with pytest.raises(ValueError, match="kind must be rpc or jito"):
        senders_from_config([{"url": "http://x", "kind": "smtp"}])
    with pytest.raises(ValueError, match="needs a url"):
        senders_from_config([{"kind": "rpc"}])
