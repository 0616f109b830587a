"""Solana pubsub wire format of the three detection streams: request frames and notification parsing (pure).

* logsSubscribe (standard): one wallet per subscription; the notification names a signature only.
* blockSubscribe (standard, "unstable"; solana.com/docs/rpc/websocket/blocksubscribe): one account per
  subscription (`mentionsAccountOrProgram` takes one pubkey); with `transactionDetails: "full"` each
  blockNotification carries the block's transactions that mention it, each `{transaction, meta, version}`.
* transactionSubscribe (Helius enhanced websockets; helius.dev/docs/api-reference/enhanced-websockets/
  transactionsubscribe): `accountInclude` takes up to 50,000 addresses in one subscription; each
  transactionNotification carries `{transaction: {transaction, meta, version}, signature, slot,
  transactionIndex}` (the `FullTransactionNotification` of helius-labs/helius-rust-sdk
  src/types/enhanced_websocket.rs).

Raw `websockets` + orjson rather than solana-py's SolanaWsClient: one client per connection awaits each
subscription's confirmation in turn, while 10,000 wallets need pipelined requests matched by id (and its
solders parser does not know transactionNotification).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import orjson
from solders.transaction import VersionedTransaction

from engine.decoding.wire import b58decode

# Helius: "Supports up to 50,000 addresses" in accountInclude (helius.dev …/transactionsubscribe).
HELIUS_MAX_ACCOUNT_INCLUDE = 50_000
# blockSubscribe does not take `processed` (Agave checks the commitment is at least confirmed).
BLOCK_COMMITMENTS = ("confirmed", "finalized")
# What each stream's request asks for. blockSubscribe: "json", the getTransaction encoding the analyzer
# already decodes. Helius offers base58 | base64 | base64+zstd | jsonParsed (no "json"): jsonParsed lists
# every account key (lookup tables resolved) in the message, which is what routes a transaction to wallets.
BLOCK_ENCODING = "json"
HELIUS_ENCODING = "jsonParsed"
UNSUBSCRIBE_METHOD = {
    "logs": "logsUnsubscribe",
    "block": "blockUnsubscribe",
    "helius": "transactionUnsubscribe",
}
NOTIFICATION_METHOD = {
    "logsNotification": "logs",
    "blockNotification": "block",
    "transactionNotification": "helius",
}


@dataclass(frozen=True, slots=True)
class LogsNotification:
    """One logsNotification: which subscription, which transaction, whether it failed."""

    subscription: int
    signature: str
    failed: bool
    slot: int | None


def logs_subscribe_request(request_id: int, wallet: str, commitment: str) -> str:
    """logsSubscribe for transactions mentioning one wallet (the server takes exactly one address)."""
    return orjson.dumps(
        {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": "logsSubscribe",
            "params": [{"mentions": [wallet]}, {"commitment": commitment}],
        }
    ).decode()


def logs_unsubscribe_request(request_id: int, subscription: int) -> str:
    return unsubscribe_request("logs", request_id, subscription)


def unsubscribe_request(stream: str, request_id: int, subscription: int) -> str:
    """logsUnsubscribe / blockUnsubscribe / transactionUnsubscribe of one subscription id."""
    return orjson.dumps(
        {"jsonrpc": "2.0", "id": request_id, "method": UNSUBSCRIBE_METHOD[stream], "params": [subscription]}
    ).decode()


def block_subscribe_request(request_id: int, wallet: str, commitment: str) -> str:
    """blockSubscribe for the blocks holding transactions that mention one wallet, with those transactions
    in full. `processed` is not accepted by blockSubscribe: it asks for `confirmed` then."""
    return orjson.dumps(
        {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": "blockSubscribe",
            "params": [
                {"mentionsAccountOrProgram": wallet},
                {
                    "commitment": commitment if commitment in BLOCK_COMMITMENTS else "confirmed",
                    "encoding": BLOCK_ENCODING,
                    "transactionDetails": "full",
                    "maxSupportedTransactionVersion": 0,
                    "showRewards": False,
                },
            ],
        }
    ).decode()


def transaction_subscribe_request(request_id: int, wallets: list[str], commitment: str) -> str:
    """Helius transactionSubscribe for every successful, non-vote transaction that includes any of
    `wallets` (at most HELIUS_MAX_ACCOUNT_INCLUDE), in full."""
    if not 1 <= len(wallets) <= HELIUS_MAX_ACCOUNT_INCLUDE:
        raise ValueError(f"accountInclude takes 1 to {HELIUS_MAX_ACCOUNT_INCLUDE} addresses")
    return orjson.dumps(
        {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": "transactionSubscribe",
            "params": [
                {"accountInclude": wallets, "failed": False, "vote": False},
                {
                    "commitment": commitment,
                    "encoding": HELIUS_ENCODING,
                    "transactionDetails": "full",
                    "showRewards": False,
                    "maxSupportedTransactionVersion": 0,
                },
            ],
        }
    ).decode()


@dataclass(frozen=True, slots=True)
class StreamedTransaction:
    """One full transaction out of a blockNotification or transactionNotification.

    `raw` is a getTransaction `result` document as JSON bytes ({slot, blockTime, transaction, meta,
    version}), ready for decode_raw; `account_keys` are all its keys (lookup-table addresses included)."""

    signature: str
    slot: int
    failed: bool
    account_keys: tuple[str, ...]
    raw: bytes


@dataclass(frozen=True, slots=True)
class StreamNotification:
    """A blockNotification or transactionNotification: its subscription and the transactions it carried."""

    subscription: int
    slot: int | None
    transactions: tuple[StreamedTransaction, ...]
    error: Any = None  # a blockNotification's `err` (the block could not be sent); None otherwise


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _keys_and_signature(entry: dict[str, Any]) -> tuple[tuple[str, ...], str]:
    """All account keys and the first signature of one `{transaction, meta}` entry (json, jsonParsed or an
    encoded [data, encoding] pair); raises KeyError/TypeError/ValueError on a malformed one."""
    body = entry["transaction"]
    meta = entry.get("meta") or {}
    loaded = meta.get("loadedAddresses") or {}
    extra = [*(loaded.get("writable") or ()), *(loaded.get("readonly") or ())]
    if isinstance(body, list):
        data, encoding = body
        wire = base64.b64decode(data) if encoding == "base64" else b58decode(data)
        tx = VersionedTransaction.from_bytes(wire)
        return tuple([str(k) for k in tx.message.account_keys] + extra), str(tx.signatures[0])
    keys = body["message"]["accountKeys"]
    if keys and isinstance(keys[0], dict):  # jsonParsed: every key, lookup-table ones included
        return tuple(str(k["pubkey"]) for k in keys), str(body["signatures"][0])
    return tuple([str(k) for k in keys] + extra), str(body["signatures"][0])


def _streamed(entry: Any, slot: int, block_time: Any) -> StreamedTransaction:
    keys, signature = _keys_and_signature(entry)
    meta = entry["meta"]
    document = {
        "blockTime": _int(block_time),
        "meta": meta,
        "slot": slot,
        "transaction": entry["transaction"],
        "version": entry.get("version"),
    }
    return StreamedTransaction(signature, slot, meta.get("err") is not None, keys, orjson.dumps(document))


def parse_block_notification(params: Any) -> StreamNotification | None:
    """The `params` of a blockNotification (transactionDetails "full"), or None when it is malformed.

    Shape (solana.com/docs/rpc/websocket/blocksubscribe): {"result": {"context": {"slot"}, "value": {"slot",
    "err", "block": {"blockhash", "previousBlockhash", "parentSlot", "blockTime", "blockHeight",
    "transactions": [{"transaction", "meta", "version"}]}}}, "subscription"}."""
    try:
        subscription = params["subscription"]
        value = params["result"]["value"]
        slot = _int(value["slot"])
        block = value.get("block")
        error = value.get("err")
        if not isinstance(subscription, int) or slot is None:
            return None
        if block is None:
            return StreamNotification(subscription, slot, (), error if error is not None else "no block")
        block_time = block.get("blockTime")
        transactions = tuple(_streamed(entry, slot, block_time) for entry in block.get("transactions") or ())
    except (KeyError, TypeError, AttributeError, ValueError, IndexError):
        return None
    return StreamNotification(subscription, slot, transactions, error)


def parse_transaction_notification(params: Any) -> StreamNotification | None:
    """The `params` of a Helius transactionNotification (transactionDetails "full"), or None when malformed.

    Shape: {"subscription", "result": {"transaction": {"transaction", "meta", "version"}, "signature",
    "slot", "transactionIndex"}}."""
    try:
        subscription = params["subscription"]
        result = params["result"]
        slot = _int(result["slot"])
        if not isinstance(subscription, int) or slot is None:
            return None
        streamed = _streamed(result["transaction"], slot, result.get("blockTime"))
        signature = result.get("signature")
        if isinstance(signature, str) and signature != streamed.signature:
            return None  # the notification and its transaction disagree: trust neither
    except (KeyError, TypeError, AttributeError, ValueError, IndexError):
        return None
    return StreamNotification(subscription, slot, (streamed,))


def parse_logs_notification(params: Any) -> LogsNotification | None:
    """The `params` of a logsNotification, or None when it is malformed."""
    try:
        subscription = params["subscription"]
        result = params["result"]
        value = result["value"]
        signature = value["signature"]
        context = result.get("context") or {}
        slot = context.get("slot") if isinstance(context, dict) else None
    except (KeyError, TypeError, AttributeError):
        return None
    if not isinstance(subscription, int) or not isinstance(signature, str):
        return None
    return LogsNotification(
        subscription,
        signature,
        value.get("err") is not None,
        slot if isinstance(slot, int) and not isinstance(slot, bool) else None,
    )


def subscription_reply(message: dict[str, Any]) -> tuple[int | None, str | None]:
    """(subscription id, None) for a successful reply; (None, error text) for a refusal."""
    result = message.get("result")
    if isinstance(result, int) and not isinstance(result, bool):
        return result, None
    error = message.get("error")
    text = error.get("message") if isinstance(error, dict) else None
    return None, str(text or "bad reply")[:120]


def method_not_found(message: dict[str, Any]) -> bool:
    """The reply refuses the method itself (JSON-RPC -32601): the provider does not offer this stream."""
    error = message.get("error")
    return isinstance(error, dict) and error.get("code") == -32601
