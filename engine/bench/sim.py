"""`zapbot bench sim`: how many transactions per second the local cluster lands, each one delivered as a
logsNotification to a WebSocket subscriber."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import time
from typing import Any

import aiohttp
import orjson
import websockets
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from engine.constants import WSOL_MINT
from engine.sim.cluster import SimCluster
from engine.sim.config import SimConfig
from engine.sim.swap_tx import sign_swap_transaction

BATCH_SIZE = 50
SENDERS = 16
MAX_RATE_PER_S = 3_000  # pre-signed transactions per second of run time, an upper bound on what we send


def _prepare_transfers(cluster: SimCluster, senders: list[Keypair], count: int) -> list[str]:
    blockhash = Hash.from_string(cluster.ledger.latest_blockhash_info()[0])
    sink = Keypair().pubkey()
    cluster.airdrop(sink, 10**9)
    out = []
    for index in range(count):
        sender = senders[index % len(senders)]
        ix = transfer(TransferParams(from_pubkey=sender.pubkey(), to_pubkey=sink, lamports=1_000 + index))
        msg = MessageV0.try_compile(sender.pubkey(), [ix], [], blockhash)
        out.append(base64.b64encode(bytes(VersionedTransaction(msg, [sender]))).decode())
    return out


def _prepare_swaps(cluster: SimCluster, senders: list[Keypair], count: int) -> list[str]:
    mints = cluster.mints
    out = []
    for index in range(count):
        sender = senders[index % len(senders)]
        quote = cluster.market.quote(
            WSOL_MINT, mints[index % len(mints)], 1_000_000 + index, slippage_bps=5_000
        )
        swap = cluster.market.build_swap(sender.pubkey(), quote, 1_000)
        unsigned = VersionedTransaction.from_bytes(base64.b64decode(swap["swapTransaction"]))
        out.append(base64.b64encode(bytes(sign_swap_transaction(unsigned, sender))).decode())
    return out


async def _run(
    cluster: SimCluster, senders: list[Keypair], encoded: list[str], seconds: float
) -> dict[str, Any]:
    received = 0
    last_arrival = 0.0
    done = asyncio.Event()
    async with websockets.connect(cluster.ws_url, max_size=None) as ws:
        for index, sender in enumerate(senders):
            await ws.send(
                json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "id": index,
                        "method": "logsSubscribe",
                        "params": [{"mentions": [str(sender.pubkey())]}, {"commitment": "processed"}],
                    }
                )
            )
        for _ in senders:
            await ws.recv()

        async def reader() -> None:
            nonlocal received, last_arrival
            async for message in ws:
                if '"logsNotification"' in message:
                    received += 1
                    last_arrival = time.perf_counter()
                    if received >= target and sending_done.is_set():
                        done.set()

        sending_done = asyncio.Event()
        target = len(encoded)
        reader_task = asyncio.ensure_future(reader())
        sent = 0
        started = time.perf_counter()
        deadline = started + seconds
        async with aiohttp.ClientSession() as http:
            for offset in range(0, len(encoded), BATCH_SIZE):
                if time.perf_counter() >= deadline:
                    break
                batch = [
                    {
                        "jsonrpc": "2.0",
                        "id": offset + i,
                        "method": "sendTransaction",
                        "params": [tx, {"encoding": "base64", "skipPreflight": True}],
                    }
                    for i, tx in enumerate(encoded[offset : offset + BATCH_SIZE])
                ]
                async with http.post(
                    cluster.rpc_url, data=orjson.dumps(batch), headers={"content-type": "application/json"}
                ) as response:
                    replies = orjson.loads(await response.read())
                sent += sum(1 for reply in replies if "result" in reply)
        target = sent
        sending_done.set()
        if received >= target:
            done.set()
        try:
            await asyncio.wait_for(done.wait(), timeout=10)
        except TimeoutError:
            pass
        reader_task.cancel()
        elapsed = (last_arrival or time.perf_counter()) - started
    return {
        "sent": sent,
        "notified": received,
        "elapsed_s": round(elapsed, 3),
        "landed_tx_per_s": round(received / elapsed, 1) if elapsed > 0 else 0.0,
    }


def run_bench(seconds: float = 5.0, kind: str = "swap") -> dict[str, Any]:
    config = SimConfig(rpc_port=0, ws_port=0, swap_port=0, traders=0, tokens=3)
    with SimCluster(config) as cluster:
        senders = [Keypair() for _ in range(SENDERS)]
        for sender in senders:
            cluster.airdrop(sender.pubkey(), 10_000 * 10**9)
        count = int(seconds * MAX_RATE_PER_S)
        prepare = _prepare_swaps if kind == "swap" else _prepare_transfers
        encoded = prepare(cluster, senders, count)
        before = cluster.ledger.landed_count()
        result = asyncio.run(_run(cluster, senders, encoded, seconds))
        result["landed"] = cluster.ledger.landed_count() - before
        result["kind"] = kind
        result["seconds"] = seconds
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zapbot bench sim", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="sending window (default 5)")
    parser.add_argument(
        "--kind", choices=("swap", "transfer"), default="swap", help="transactions to send (default swap)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if not 0 < args.seconds <= 25:
        print("zapbot bench sim: --seconds must be between 0 and 25", file=sys.stderr)
        return 2
    result = run_bench(args.seconds, args.kind)
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"landed {result['landed']} {args.kind} transactions, {result['notified']} notified in "
            f"{result['elapsed_s']} s: {result['landed_tx_per_s']} tx/s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
