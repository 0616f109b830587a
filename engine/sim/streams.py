"""The local cluster's full-transaction streams: blockSubscribe and Helius's transactionSubscribe, their
request validation and their notification shapes (pure functions over landed transactions).

Shapes followed:
* blockSubscribe / blockNotification: solana.com/docs/rpc/websocket/blocksubscribe (the block object of
  getBlock; with a `mentionsAccountOrProgram` filter only the transactions that mention the account, and no
  notification for a block without one). `processed` is refused as Agave does.
* transactionSubscribe / transactionNotification: helius.dev/docs/api-reference/enhanced-websockets/
  transactionsubscribe (filter accountInclude / accountExclude / accountRequired of up to 50,000 addresses,
  vote, failed, signature; options commitment, encoding, transactionDetails, showRewards,
  maxSupportedTransactionVersion, required for "full"); the result `{transaction: {transaction, meta,
  version}, signature, slot, transactionIndex}` as helius-labs/helius-rust-sdk's FullTransactionNotification.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from solders.pubkey import Pubkey

from engine.sim.landed import LandedTx
from engine.sim.rpc_params import RpcError

HELIUS_MAX_ADDRESSES = 50_000
BLOCK_ENCODINGS = ("json", "jsonParsed", "base64", "base58")
HELIUS_ENCODINGS = ("base58", "base64", "jsonParsed")


def _invalid(message: str) -> RpcError:
    return RpcError(-32602, message)


def _pubkey(value: Any) -> str:
    try:
        return str(Pubkey.from_string(value))
    except (ValueError, TypeError):
        raise _invalid("Invalid Request: Invalid pubkey provided") from None


def _commitment(config: dict[str, Any], *, at_least_confirmed: bool) -> str:
    commitment = config.get("commitment") or "finalized"
    if commitment not in ("processed", "confirmed", "finalized"):
        raise _invalid(f"Invalid params: unknown variant `{commitment}`")
    if at_least_confirmed and commitment == "processed":
        raise _invalid("Method does not support commitment below `confirmed`")
    return commitment


def _max_version(config: dict[str, Any]) -> int | None:
    value = config.get("maxSupportedTransactionVersion")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _invalid("Invalid params: invalid maxSupportedTransactionVersion.")
    return value


@dataclass(frozen=True)
class BlockSubscription:
    """One blockSubscribe: the account it mentions (None = "all") and how it wants the block."""

    mentions: str | None
    encoding: str
    details: str
    show_rewards: bool
    max_version: int | None


def parse_block_subscribe(params: list[Any]) -> BlockSubscription:
    flt = params[0] if params else None
    if flt == "all":
        mentions = None
    elif isinstance(flt, dict) and isinstance(flt.get("mentionsAccountOrProgram"), str):
        mentions = _pubkey(flt["mentionsAccountOrProgram"])
    else:
        raise _invalid('Invalid params: expected "all" or {"mentionsAccountOrProgram": <pubkey>}.')
    config = params[1] if len(params) > 1 and isinstance(params[1], dict) else {}
    _commitment(config, at_least_confirmed=True)
    encoding = config.get("encoding") or "json"
    if encoding not in BLOCK_ENCODINGS:
        raise _invalid(f"Invalid params: unknown variant `{encoding}`")
    details = config.get("transactionDetails") or "full"
    if details not in ("full", "signatures", "none"):
        raise _invalid(f"the local cluster does not serve transactionDetails `{details}`")
    return BlockSubscription(
        mentions, encoding, details, bool(config.get("showRewards", True)), _max_version(config)
    )


def _entry(landed: LandedTx, encoding: str, max_version: int | None, show_rewards: bool) -> dict[str, Any]:
    """A transaction inside a block or a Helius notification: {transaction, meta[, version]}."""
    result = landed.result(encoding)
    meta = result["meta"]
    if not show_rewards:
        meta = {k: v for k, v in meta.items() if k != "rewards"}
    entry: dict[str, Any] = {"transaction": result["transaction"], "meta": meta}
    if max_version is not None:  # Agave reports a version only to a client that named the highest it takes
        entry["version"] = result["version"]
    return entry


def block_value(
    sub: BlockSubscription,
    slot: int,
    txs: list[LandedTx],
    *,
    blockhash: str,
    previous_blockhash: str,
    block_height: int,
    block_time: int,
) -> dict[str, Any]:
    """blockNotification `value` for the transactions of one slot this subscription wants."""
    if sub.max_version is None and any(tx.version != "legacy" for tx in txs):
        return {"slot": slot, "err": {"UnsupportedTransactionVersion": 0}, "block": None}
    block: dict[str, Any] = {
        "blockHeight": block_height,
        "blockTime": block_time,
        "blockhash": blockhash,
        "parentSlot": slot - 1,
        "previousBlockhash": previous_blockhash,
    }
    if sub.details == "full":
        block["transactions"] = [_entry(tx, sub.encoding, sub.max_version, sub.show_rewards) for tx in txs]
    elif sub.details == "signatures":
        block["signatures"] = [tx.signature for tx in txs]
    if sub.show_rewards:
        block["rewards"] = []
    return {"slot": slot, "block": block, "err": None}


@dataclass(frozen=True)
class TransactionSubscription:
    """One Helius transactionSubscribe: its filter and options."""

    include: frozenset[str]
    exclude: frozenset[str]
    required: frozenset[str]
    failed: bool | None
    signature: str | None
    encoding: str
    show_rewards: bool
    max_version: int

    def wants(self, landed: LandedTx) -> bool:
        if self.failed is False and landed.err is not None:
            return False
        if self.signature is not None and landed.signature != self.signature:
            return False
        keys = set(landed.account_keys)
        if self.include and keys.isdisjoint(self.include):
            return False
        if self.exclude and not keys.isdisjoint(self.exclude):
            return False
        return not self.required or self.required <= keys


def _addresses(flt: dict[str, Any], name: str) -> frozenset[str]:
    values = flt.get(name)
    if values is None:
        return frozenset()
    if not isinstance(values, list):
        raise _invalid(f"Invalid params: {name} must be a list of addresses")
    if len(values) > HELIUS_MAX_ADDRESSES:
        raise _invalid(f"Invalid params: {name} takes at most {HELIUS_MAX_ADDRESSES} addresses")
    return frozenset(_pubkey(value) for value in values)


def parse_transaction_subscribe(params: list[Any]) -> TransactionSubscription:
    flt = params[0] if params else None
    if not isinstance(flt, dict):
        raise _invalid("Invalid params: expected a TransactionSubscribeFilter object")
    config = params[1] if len(params) > 1 and isinstance(params[1], dict) else {}
    _commitment(config, at_least_confirmed=False)
    encoding = config.get("encoding") or "base58"
    if encoding not in HELIUS_ENCODINGS:
        raise _invalid(f"the local cluster does not serve encoding `{encoding}`")
    details = config.get("transactionDetails") or "full"
    if details != "full":
        raise _invalid(f"the local cluster does not serve transactionDetails `{details}`")
    max_version = _max_version(config)
    if max_version is None:
        raise _invalid('maxSupportedTransactionVersion is required when transactionDetails is "full"')
    failed = flt.get("failed")
    signature = flt.get("signature")
    return TransactionSubscription(
        _addresses(flt, "accountInclude"),
        _addresses(flt, "accountExclude"),
        _addresses(flt, "accountRequired"),
        failed if isinstance(failed, bool) else None,
        signature if isinstance(signature, str) else None,
        encoding,
        bool(config.get("showRewards", False)),
        max_version,
    )


def transaction_result(sub: TransactionSubscription, landed: LandedTx, index: int) -> dict[str, Any]:
    """transactionNotification `result` for one landed transaction."""
    return {
        "transaction": _entry(landed, sub.encoding, sub.max_version, sub.show_rewards),
        "signature": landed.signature,
        "slot": landed.slot,
        "transactionIndex": index,
    }
