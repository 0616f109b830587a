"""Solana pubsub wire format for logs subscriptions: request frames and notification parsing (pure functions).

Raw `websockets` + orjson rather than solana-py's SolanaWsClient: one client per connection awaits each
subscription's confirmation in turn, while 10,000 wallets need pipelined requests matched by id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson


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
    return orjson.dumps(
        {"jsonrpc": "2.0", "id": request_id, "method": "logsUnsubscribe", "params": [subscription]}
    ).decode()


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
