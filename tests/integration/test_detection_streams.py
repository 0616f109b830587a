"""Full-transaction streams on the local cluster, with the real client libraries: blockSubscribe (websockets
and solana-py's SolanaWsClient) and Helius's transactionSubscribe (websockets; SolanaWsClient's parser does
not know transactionNotification) deliver a followed wallet's swap in full, chaos applies to them, and the
real Engine copies the swap without a getTransaction for it, shown by the cluster's request counter."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest
import websockets
from solana.rpc.websocket_api import RpcBlockSubscribeFilterMentions, SolanaWsClient, TransactionDetails
from solders.pubkey import Pubkey

from engine.chain.pubsub import (
    block_subscribe_request,
    parse_block_notification,
    parse_transaction_notification,
    transaction_subscribe_request,
)
from engine.config import load_settings
from engine.decoding import decode_raw
from engine.facade import Engine
from engine.store import connect
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.slow

SOL = 1_000_000_000


def swap(cluster, index: int = 0):
    name, _ = cluster.traders[index]
    return cluster.trader_swap(name, "buy", cluster.mints[0], quote_lamports=SOL // 10)


async def recv_json(ws, timeout: float = 10.0) -> dict:
    return orjson.loads(await asyncio.wait_for(ws.recv(), timeout))


async def subscribed(ws, frame: str) -> int:
    await ws.send(frame)
    reply = await recv_json(ws)
    assert isinstance(reply.get("result"), int), reply
    return reply["result"]


def test_block_subscribe_delivers_the_swap_in_full(sim_cluster):
    _, wallet = sim_cluster.traders[0]

    async def run() -> None:
        async with websockets.connect(sim_cluster.ws_url) as ws:
            sub_id = await subscribed(ws, block_subscribe_request(1, wallet, "confirmed"))
            swap(sim_cluster, 1)  # another trader's swap: no block mentions the wallet, no notification
            trade = await asyncio.to_thread(swap, sim_cluster, 0)
            message = await recv_json(ws)
        assert message["method"] == "blockNotification"
        value = message["params"]["result"]["value"]
        assert value["err"] is None and set(value["block"]) == {
            "blockHeight",
            "blockTime",
            "blockhash",
            "parentSlot",
            "previousBlockhash",
            "transactions",  # showRewards false: no "rewards"
        }
        (entry,) = value["block"]["transactions"]
        assert set(entry) == {"transaction", "meta", "version"}
        note = parse_block_notification(message["params"])
        assert note is not None and note.subscription == sub_id and note.slot == trade.slot
        (tx,) = note.transactions
        assert tx.signature == trade.signature and not tx.failed
        (event,) = decode_raw(tx.raw, wallet, allow_unknown_venue=True).swaps
        assert (event.side, event.mint, event.token_amount) == ("buy", trade.mint, trade.token_amount)

    asyncio.run(run())
    assert sim_cluster.rpc.counts().get("getTransaction", 0) == 0
    assert sim_cluster.pubsub.request_counts["blockSubscribe"] == 1


def test_block_subscribe_with_solana_py(sim_cluster):
    _, wallet = sim_cluster.traders[0]

    async def run() -> None:
        async with SolanaWsClient(sim_cluster.ws_url) as ws:
            await ws.block_subscribe(
                filter_=RpcBlockSubscribeFilterMentions(Pubkey.from_string(wallet)),
                commitment="confirmed",
                encoding="json",
                transaction_details=TransactionDetails.Full,
                show_rewards=False,
                max_supported_transaction_version=0,
            )
            trade = await asyncio.to_thread(swap, sim_cluster, 0)
            note = await asyncio.wait_for(ws.recv(), 10)
        block = note.result.value.block
        assert note.result.value.slot == trade.slot
        assert [str(t.transaction.signatures[0]) for t in block.transactions] == [trade.signature]
        assert block.transactions[0].meta.pre_balances  # the meta came with it

    asyncio.run(run())
    assert sim_cluster.rpc.counts().get("getTransaction", 0) == 0


def test_block_subscribe_refuses_processed_and_bad_filters(sim_cluster):
    async def run() -> list[dict]:
        async with websockets.connect(sim_cluster.ws_url) as ws:
            replies = []
            for params in (
                [{"mentionsAccountOrProgram": sim_cluster.traders[0][1]}, {"commitment": "processed"}],
                [{"mentionsAccountOrProgram": "not-a-key"}],
                [{"accountInclude": []}],
            ):
                await ws.send(
                    orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "blockSubscribe", "params": params})
                )
                replies.append(await recv_json(ws))
            return replies

    for reply in asyncio.run(run()):
        assert reply["error"]["code"] == -32602, reply


def test_transaction_subscribe_covers_many_wallets_in_one_subscription(sim_cluster):
    wallets = [wallet for _, wallet in sim_cluster.traders]

    async def run() -> None:
        async with websockets.connect(sim_cluster.ws_url) as ws:
            sub_id = await subscribed(ws, transaction_subscribe_request(1, wallets, "confirmed"))
            trades = [await asyncio.to_thread(swap, sim_cluster, index) for index in range(len(wallets))]
            messages = [await recv_json(ws) for _ in trades]
        for trade, message in zip(trades, messages):
            assert message["method"] == "transactionNotification"
            result = message["params"]["result"]
            assert set(result) == {"transaction", "signature", "slot", "transactionIndex"}
            assert result["signature"] == trade.signature and result["slot"] == trade.slot
            note = parse_transaction_notification(message["params"])
            assert note is not None and note.subscription == sub_id
            (tx,) = note.transactions
            assert trade.wallet in tx.account_keys
            (event,) = decode_raw(tx.raw, trade.wallet, allow_unknown_venue=True).swaps
            assert event.token_amount == trade.token_amount

    asyncio.run(run())
    assert sim_cluster.rpc.counts().get("getTransaction", 0) == 0
    assert sim_cluster.pubsub.request_counts["transactionSubscribe"] == 1


def test_chaos_applies_to_the_streams(sim_cluster):
    _, wallet = sim_cluster.traders[0]

    async def run() -> None:
        async with websockets.connect(sim_cluster.ws_url) as ws:
            await subscribed(ws, block_subscribe_request(1, wallet, "confirmed"))
            await subscribed(ws, transaction_subscribe_request(2, [wallet], "confirmed"))
            # dropped notifications: the first swap's two notifications never come, the second's do
            sim_cluster.set_chaos(drop_notification_ratio=1.0)
            await asyncio.to_thread(swap, sim_cluster, 0)
            # the drop is decided on the cluster's loop, after the swap lands: let it decide before chaos ends
            await cluster_loop_caught_up(sim_cluster)
            sim_cluster.set_chaos(drop_notification_ratio=0.0, ws_latency_ms=150)
            landed_at = time.monotonic()
            second = await asyncio.to_thread(swap, sim_cluster, 0)
            messages = [await recv_json(ws) for _ in range(2)]
            assert time.monotonic() - landed_at >= 0.15  # latency on the socket
            sim_cluster.set_chaos(ws_latency_ms=0)
            assert {m["method"] for m in messages} == {"blockNotification", "transactionNotification"}
            for message in messages:
                parse = parse_block_notification if message["method"] == "blockNotification" else None
                note = (parse or parse_transaction_notification)(message["params"])
                assert [tx.signature for tx in note.transactions] == [second.signature]
            # dropped connections
            await sim_cluster_close_all(sim_cluster)
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)

    try:
        asyncio.run(run())
    finally:
        sim_cluster.set_chaos(drop_notification_ratio=0.0, ws_latency_ms=0)


async def cluster_loop_caught_up(cluster) -> None:
    """Return once the cluster's loop has run every callback queued before this call (and what they queued)."""

    async def barrier() -> None:
        for _ in range(3):
            await asyncio.sleep(0)

    await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(barrier(), cluster._loop))


async def sim_cluster_close_all(cluster) -> None:
    """The chaos ws_drop_every_s action, once, on the cluster's own loop."""
    future = asyncio.run_coroutine_threadsafe(cluster.pubsub.close_all(), cluster._loop)
    await asyncio.wrap_future(future)


# -- the real Engine ------------------------------------------------------------------------------------------
def executed(engine: Engine, leader_signature: str) -> dict | None:
    conn = connect(engine.ctx.db_path, readonly=True)
    try:
        row = conn.execute("SELECT * FROM intents WHERE leader_signature=?", (leader_signature,)).fetchone()
    finally:
        conn.close()
    return dict(row) if row is not None and row["status"] in ("executed", "failed") else None


@pytest.mark.timeout(120)
@pytest.mark.parametrize("stream", ["block", "helius", "logs"])
def test_engine_copies_a_streamed_swap_without_fetching_it(zapbot_home, sim_cluster, stream):
    settings = load_settings()
    settings.http.enabled = False
    settings.engine.heartbeat_interval_ms = 1000
    settings.engine.worker_restart_delay_ms = 200
    settings.rpc.stream = stream
    engine = Engine(settings, cluster=sim_cluster, http=False)
    engine.start(wait_ready=20)
    try:
        leaders = len(sim_cluster.traders)
        wait_until(lambda: (engine.snapshot().sol_balance_lamports or 0) > 0, what="the operator's airdrop")
        wait_until(lambda: engine.snapshot().subscriptions >= leaders, what="every leader subscribed")
        wait_until(lambda: engine.snapshot().counters.get("polls", 0) >= leaders, what="every first poll")
        trade = swap(sim_cluster, 0)
        row = wait_until(lambda: executed(engine, trade.signature), what="our copy")
        assert row["status"] == "executed", row["reason"]
        counters = engine.snapshot().counters
        fetched_leader = sim_cluster.rpc.fetched_signatures[trade.signature]
        if stream == "logs":
            assert fetched_leader >= 1  # the control: logsSubscribe needs the fetch
        else:
            assert fetched_leader == 0, "the leader's transaction was fetched although the stream carried it"
            assert counters.get("tx_from_stream", 0) >= 1
            # every getTransaction the cluster answered was for our own copy, not for detection
            ours = {row["signature"]}
            assert set(sim_cluster.rpc.fetched_signatures) <= ours
            method = {"block": "blockSubscribe", "helius": "transactionSubscribe"}[stream]
            expected_subscriptions = leaders if stream == "block" else 1
            assert sim_cluster.pubsub.request_counts[method] == expected_subscriptions
            assert sim_cluster.pubsub.request_counts["logsSubscribe"] == 0
        assert counters.get("seen_ws", 0) >= 1
    finally:
        engine.stop()


@pytest.mark.timeout(120)
def test_a_provider_without_block_subscribe_falls_back_to_logs(zapbot_home, sim_cluster):
    # This cluster answers blockSubscribe as a node without block subscriptions does: -32601.
    sim_cluster.pubsub.sub_blockSubscribe = None
    settings = load_settings()
    settings.http.enabled = False
    settings.engine.heartbeat_interval_ms = 1000
    settings.rpc.stream = "block"
    engine = Engine(settings, cluster=sim_cluster, http=False)
    engine.start(wait_ready=20)
    try:
        leaders = len(sim_cluster.traders)
        wait_until(lambda: engine.snapshot().counters.get("ws_stream_fallbacks", 0) == 1, what="the fallback")
        wait_until(lambda: engine.snapshot().subscriptions >= leaders, what="logsSubscribe for every leader")
        wait_until(lambda: (engine.snapshot().sol_balance_lamports or 0) > 0, what="the operator's airdrop")
        trade = swap(sim_cluster, 0)
        row = wait_until(lambda: executed(engine, trade.signature), what="our copy")
        assert row["status"] == "executed", row["reason"]
        assert sim_cluster.pubsub.request_counts["logsSubscribe"] >= leaders
        assert sim_cluster.rpc.fetched_signatures[trade.signature] >= 1  # logs mode fetches it
        assert "blockSubscribe" not in engine.snapshot().health.ws_detail
    finally:
        engine.stop()
