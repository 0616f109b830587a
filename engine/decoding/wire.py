"""Reads a getTransaction result in json, jsonParsed or base64 encoding into one flat, encoding-free shape."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from engine.decoding.model import DecodeError

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {char: value for value, char in enumerate(_B58_ALPHABET)}


def b58decode(text: str) -> bytes:
    """Decode base58 (instruction data in json encoding); raises ValueError on a bad character."""
    number = 0
    for char in text:
        number = number * 58 + _B58_INDEX[char]
    leading_zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\x00" * leading_zeros + body


def pubkey_str(raw: bytes) -> str:
    if len(raw) != 32:  # solders panics (a BaseException) on other lengths
        raise ValueError("a public key is 32 bytes")
    return str(Pubkey.from_bytes(raw))


@dataclass(slots=True)
class Instruction:
    """One instruction, top level or inner; data stays undecoded until someone asks for it."""

    program_id: str
    accounts: list[str]
    raw_data: bytes | str | None  # bytes (base64 wire), base58 str (json), None (jsonParsed parsed form)
    parsed: dict[str, Any] | None
    top_level: bool

    def data(self) -> bytes:
        raw = self.raw_data
        if raw is None:
            return b""
        if isinstance(raw, bytes):
            return raw
        decoded = b58decode(raw)
        self.raw_data = decoded
        return decoded


@dataclass(slots=True)
class WireTransaction:
    signature: str
    keys: list[str]
    signer_count: int
    instructions: list[Instruction]


def _loaded_addresses(meta: dict[str, Any]) -> list[str]:
    loaded = meta.get("loadedAddresses") or {}
    return list(loaded.get("writable") or []) + list(loaded.get("readonly") or [])


def _inner_groups(meta: dict[str, Any]) -> dict[int, list[dict[str, Any]]]:
    groups: dict[int, list[dict[str, Any]]] = {}
    for group in meta.get("innerInstructions") or []:
        groups.setdefault(int(group["index"]), []).extend(group.get("instructions") or [])
    return groups


def _indexed_ix(raw: dict[str, Any], keys: list[str], top_level: bool) -> Instruction:
    if "programIdIndex" in raw:
        return Instruction(
            program_id=keys[raw["programIdIndex"]],
            accounts=[keys[i] for i in raw.get("accounts") or []],
            raw_data=raw.get("data") or "",
            parsed=None,
            top_level=top_level,
        )
    # jsonParsed: either {"programId", "parsed"} or {"programId", "accounts": [pubkey...], "data"}.
    parsed = raw.get("parsed")
    return Instruction(
        program_id=str(raw["programId"]),
        accounts=[str(a) for a in raw.get("accounts") or []],
        raw_data=None if parsed is not None else (raw.get("data") or ""),
        parsed=parsed if isinstance(parsed, dict) else None,
        top_level=top_level,
    )


def _flatten(
    top: list[Instruction], inner: dict[int, list[dict[str, Any]]], keys: list[str]
) -> list[Instruction]:
    flat: list[Instruction] = []
    for index, instruction in enumerate(top):
        flat.append(instruction)
        flat.extend(_indexed_ix(raw, keys, False) for raw in inner.get(index, ()))
    return flat


def read_wire(tx: dict[str, Any]) -> WireTransaction:
    """Account keys (with lookup-table addresses), signer count and all instructions of tx."""
    meta = tx["meta"]
    body = tx.get("transaction")
    inner = _inner_groups(meta)
    if isinstance(body, list):
        if len(body) != 2 or body[1] not in ("base64", "base58"):
            raise DecodeError("transaction must be [data, 'base64'|'base58']")
        wire = base64.b64decode(body[0], validate=True) if body[1] == "base64" else b58decode(body[0])
        try:
            versioned = VersionedTransaction.from_bytes(wire)
        except Exception as exc:
            raise DecodeError("transaction bytes do not parse") from exc
        message = versioned.message
        keys = [str(k) for k in message.account_keys] + _loaded_addresses(meta)
        top = [
            Instruction(
                keys[ix.program_id_index], [keys[i] for i in bytes(ix.accounts)], bytes(ix.data), None, True
            )
            for ix in message.instructions
        ]
        signature = str(versioned.signatures[0]) if versioned.signatures else ""
        return WireTransaction(
            signature, keys, message.header.num_required_signatures, _flatten(top, inner, keys)
        )
    if not isinstance(body, dict):
        raise DecodeError("transaction field missing")
    message = body["message"]
    raw_keys = message["accountKeys"]
    signatures = body.get("signatures") or [""]
    if raw_keys and isinstance(raw_keys[0], dict):
        keys = [str(k["pubkey"]) for k in raw_keys]
        signer_count = sum(1 for k in raw_keys if k.get("signer"))
    else:
        keys = [str(k) for k in raw_keys] + _loaded_addresses(meta)
        signer_count = int((message.get("header") or {}).get("numRequiredSignatures", 1))
    top = [_indexed_ix(raw, keys, True) for raw in message.get("instructions") or []]
    return WireTransaction(str(signatures[0]), keys, signer_count, _flatten(top, inner, keys))
