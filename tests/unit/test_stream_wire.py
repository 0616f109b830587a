"""The full-transaction streams' wire format (engine/chain/pubsub.py): request frames as the providers document
them, and notification parsing of the documented shapes, malformed ones included."""

from __future__ import annotations

import orjson
import pytest

from engine.chain.pubsub import (
    HELIUS_MAX_ACCOUNT_INCLUDE,
    block_subscribe_request,
    method_not_found,
    parse_block_notification,
    parse_transaction_notification,
    transaction_subscribe_request,
    unsubscribe_request,
)
from engine.decoding import decode_raw

WALLET = "6ep6xqhZxKLGpLyD1aP5NcaRTuSC71ULbQVwUSVnDhik"
OTHER = "LieKvPRE8XeX3Y2xVNHjKlpAScD12lYySBVQ4HqoJ5op"
SIGNATURE = "5j7s1QzqC6rA2FvR2gSzRcbfh4PE9eU7mVnxvKnZtWaAD9vqvR2rB8g4SfQ4ZBqS8PyZt7aX8ybX42kVhbZu8P7w"


def json_entry(err=None) -> dict:
    """A `{transaction, meta, version}` entry in "json" encoding: the wallet pays 0.1 SOL in a transfer."""
    return {
        "transaction": {
            "message": {
                "accountKeys": [WALLET, OTHER, "11111111111111111111111111111111"],
                "header": {
                    "numReadonlySignedAccounts": 0,
                    "numReadonlyUnsignedAccounts": 1,
                    "numRequiredSignatures": 1,
                },
                "instructions": [],
                "recentBlockhash": "6TScP1N3f4n23Y5f1cZ1YmLMgwYyb6PTvQQjoNn4XDFz",
            },
            "signatures": [SIGNATURE],
        },
        "meta": {
            "err": err,
            "fee": 5000,
            "preBalances": [1_000_000_000, 0, 1],
            "postBalances": [899_995_000, 100_000_000, 1],
            "preTokenBalances": [],
            "postTokenBalances": [],
            "innerInstructions": [],
            "logMessages": [],
            "loadedAddresses": {"writable": [], "readonly": []},
        },
        "version": 0,
    }


def test_block_subscribe_request_is_the_documented_one():
    frame = orjson.loads(block_subscribe_request(7, WALLET, "confirmed"))
    assert frame == {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "blockSubscribe",
        "params": [
            {"mentionsAccountOrProgram": WALLET},
            {
                "commitment": "confirmed",
                "encoding": "json",
                "transactionDetails": "full",
                "maxSupportedTransactionVersion": 0,
                "showRewards": False,
            },
        ],
    }
    # blockSubscribe does not take "processed"
    assert (
        orjson.loads(block_subscribe_request(8, WALLET, "processed"))["params"][1]["commitment"]
        == "confirmed"
    )


def test_transaction_subscribe_request_is_the_documented_one():
    frame = orjson.loads(transaction_subscribe_request(9, [WALLET, OTHER], "processed"))
    assert frame["method"] == "transactionSubscribe"
    assert frame["params"][0] == {"accountInclude": [WALLET, OTHER], "failed": False, "vote": False}
    assert frame["params"][1] == {
        "commitment": "processed",
        "encoding": "jsonParsed",
        "transactionDetails": "full",
        "showRewards": False,
        "maxSupportedTransactionVersion": 0,
    }
    with pytest.raises(ValueError):
        transaction_subscribe_request(1, [WALLET] * (HELIUS_MAX_ACCOUNT_INCLUDE + 1), "confirmed")
    with pytest.raises(ValueError):
        transaction_subscribe_request(1, [], "confirmed")
    assert orjson.loads(unsubscribe_request("helius", 3, 42))["method"] == "transactionUnsubscribe"
    assert orjson.loads(unsubscribe_request("block", 3, 42))["method"] == "blockUnsubscribe"


def test_block_notification_gives_decodable_transactions():
    params = {
        "result": {
            "context": {"slot": 112301554},
            "value": {
                "slot": 112301554,
                "block": {
                    "previousBlockhash": "GJp125YAN4ufCSUvZJVdCyWQJ7RPWMmwxoyUQySydZA",
                    "blockhash": "6ojMHjctdqfB55JDpEpqfHnP96fiaHEcvzEQ2NNcxzHP",
                    "parentSlot": 112301553,
                    "transactions": [json_entry(), json_entry(err={"InstructionError": [0, "Custom"]})],
                    "blockTime": 1639926816,
                    "blockHeight": 101210751,
                },
                "err": None,
            },
        },
        "subscription": 14,
    }
    note = parse_block_notification(params)
    assert note is not None and note.subscription == 14 and note.slot == 112301554 and note.error is None
    ok, failed = note.transactions
    assert (ok.signature, ok.failed, failed.failed) == (SIGNATURE, False, True)
    assert ok.account_keys[0] == WALLET
    decoded = decode_raw(ok.raw, WALLET, allow_unknown_venue=True)
    assert decoded.slot == 112301554 and decoded.block_time == 1639926816 and decoded.fee == 5000


def test_block_notification_error_and_malformed():
    error = {
        "result": {"context": {"slot": 5}, "value": {"slot": 5, "block": None, "err": "BlockStoreError"}}
    }
    note = parse_block_notification({**error, "subscription": 1})
    assert note is not None and note.error == "BlockStoreError" and note.transactions == ()
    for params in (None, {}, {"subscription": 1}, {"subscription": "x", "result": error["result"]}):
        assert parse_block_notification(params) is None
    broken = {"subscription": 1, "result": {"value": {"slot": 5, "block": {"transactions": [{"meta": {}}]}}}}
    assert parse_block_notification(broken) is None


def test_transaction_notification_gives_a_decodable_transaction():
    params = {
        "subscription": 4743323479349712,
        "result": {
            "transaction": json_entry(),
            "signature": SIGNATURE,
            "slot": 224341380,
            "transactionIndex": 3,
        },
    }
    note = parse_transaction_notification(params)
    assert note is not None and note.slot == 224341380
    (tx,) = note.transactions
    assert tx.signature == SIGNATURE and not tx.failed and set(tx.account_keys) >= {WALLET, OTHER}
    assert decode_raw(tx.raw, WALLET, allow_unknown_venue=True).slot == 224341380
    # a notification whose signature and transaction disagree is refused, as is a malformed one
    assert (
        parse_transaction_notification({**params, "result": {**params["result"], "signature": "x"}}) is None
    )
    assert parse_transaction_notification({"subscription": 1, "result": {"slot": 1}}) is None


def test_method_not_found_is_the_fallback_signal():
    assert method_not_found({"error": {"code": -32601, "message": "Method not found"}, "id": 1})
    assert not method_not_found({"error": {"code": -32602, "message": "Invalid params"}, "id": 1})
    assert not method_not_found({"result": 3, "id": 1})


def test_stream_settings_and_the_helius_key(zapbot_home, monkeypatch):
    from engine.config import ConfigError, load_settings, masked_dict
    from engine.workers.websocket import helius_url

    settings = load_settings()
    assert settings.rpc.stream == "logs" and settings.rpc.helius_ws_url == "wss://mainnet.helius-rpc.com"
    monkeypatch.setenv("RPC_STREAM", "helius")
    monkeypatch.setenv("HELIUS_API_KEY", "k3y-value-123")
    settings = load_settings()
    assert settings.rpc.stream == "helius"
    assert settings.rpc.helius_api_key.get_secret_value() == "k3y-value-123"
    assert masked_dict(settings)["rpc"]["helius_api_key"] == "********"
    assert "k3y-value-123" not in repr(settings)
    assert helius_url(settings.rpc.helius_ws_url, "K") == "wss://mainnet.helius-rpc.com/?api-key=K"
    assert helius_url("wss://example.test/ws?x=1", "K") == "wss://example.test/ws?x=1&api-key=K"
    monkeypatch.setenv("RPC_STREAM", "grpc")
    with pytest.raises(ConfigError):
        load_settings()
