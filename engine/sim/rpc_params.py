"""What every local-cluster RPC method shares: its error answer, parameter checks, the context wrapper and
decoding a wire transaction."""

from __future__ import annotations

import base64
from typing import Any

from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from engine.sim.ledger import Ledger
from engine.sim.txformat import b58decode

API_VERSION = "2.3.6"


class RpcError(Exception):
    """A JSON-RPC error answer: code, message and optional data, in mainnet's shape."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def as_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def invalid_params(message: str) -> RpcError:
    return RpcError(-32602, message)


def pubkey_param(value: Any) -> Pubkey:
    if not isinstance(value, str):
        raise invalid_params("Invalid params: invalid type: expected a base-58 encoded public key string.")
    try:
        return Pubkey.from_string(value)
    except ValueError:
        raise invalid_params("Invalid param: Invalid") from None


def config_param(params: list[Any], index: int) -> dict[str, Any]:
    if len(params) > index and params[index] is not None:
        if not isinstance(params[index], dict):
            raise invalid_params("Invalid params: invalid type: expected a config object.")
        return params[index]
    return {}


def param(params: list[Any], index: int, what: str) -> Any:
    if len(params) <= index:
        raise invalid_params(f"Invalid params: missing {what}.")
    return params[index]


def decode_wire_transaction(encoded: Any, encoding: str) -> tuple[VersionedTransaction, bytes]:
    if not isinstance(encoded, str):
        raise invalid_params("Invalid params: invalid type: expected an encoded transaction string.")
    try:
        raw = base64.b64decode(encoded, validate=True) if encoding == "base64" else b58decode(encoded)
    except (ValueError, KeyError):
        raise invalid_params(f"invalid {encoding} encoding: {encoding} decode error") from None
    try:
        tx = VersionedTransaction.from_bytes(raw)
    except Exception:  # noqa: BLE001 - solders raises its own error types for bad wire bytes
        raise invalid_params(
            "failed to deserialize solana_transaction::versioned::VersionedTransaction: "
            "io error: failed to fill whole buffer"
        ) from None
    if len(tx.signatures) != tx.message.header.num_required_signatures:
        raise RpcError(-32013, "Transaction signature length mismatch")
    return tx, raw


class MethodGroup:
    """A group of RPC methods over the ledger; each `rpc_<name>` method answers JSON-RPC `<name>`."""

    ledger: Ledger

    def _context(self, value: Any) -> dict[str, Any]:
        return {"context": {"apiVersion": API_VERSION, "slot": self.ledger.slot}, "value": value}

    def _min_context(self, config: dict[str, Any]) -> None:
        wanted = config.get("minContextSlot")
        if isinstance(wanted, int) and wanted > self.ledger.slot:
            raise RpcError(
                -32016, "Minimum context slot has not been reached", {"contextSlot": self.ledger.slot}
            )
