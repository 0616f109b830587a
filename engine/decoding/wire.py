"""Reads a getTransaction result in json, jsonParsed or base64 encoding into one flat, encoding-free shape."""

from __future__ import annotations

import base64
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from engine.decoding.document import AccountKey, Meta, RawInstruction, Transaction, from_dict
from engine.decoding.model import DecodeError

_PROGRAM_INDEX = operator.attrgetter("programIdIndex")
_PROGRAM_ID = operator.attrgetter("programId")

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


# Digit value by ASCII code, -1 for characters outside the alphabet.
_B58_DIGITS = [-1] * 128
for _value, _char in enumerate(_B58_ALPHABET):
    _B58_DIGITS[ord(_char)] = _value


def b58decode(text: str) -> bytes:
    """Decode base58 (instruction data in json encoding); raises ValueError on a bad character."""
    number = 0
    digits = _B58_DIGITS
    for code in text.encode("ascii"):  # a non-ASCII character raises UnicodeEncodeError, a ValueError
        digit = digits[code]
        if digit < 0:
            raise ValueError("not base58")
        number = number * 58 + digit
    leading_zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\x00" * leading_zeros + body


def pubkey_str(raw: bytes) -> str:
    if len(raw) != 32:  # solders panics (a BaseException) on other lengths
        raise ValueError("a public key is 32 bytes")
    return str(Pubkey.from_bytes(raw))


@dataclass(slots=True)
class Instruction:
    """One instruction of a program the decoder reads; data stays undecoded until someone asks for it."""

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

    def data_len_hint(self) -> int:
        """Length of the data as stored (base58 characters in json): enough to tell a 1-byte instruction
        or a long event from a transfer without decoding."""
        raw = self.raw_data
        return 0 if raw is None else len(raw)


@dataclass(slots=True)
class WireTransaction:
    signature: str
    keys: list[str]
    signer_count: int
    instructions: list[Instruction]  # only those of the programs read_wire was asked to keep, in order
    invoked: dict[str, bool]  # every program invoked -> whether it ran as a CPI (inner instruction)


def _loaded_addresses(meta: Meta) -> list[str]:
    loaded = meta.loadedAddresses
    return loaded.writable + loaded.readonly if loaded is not None else []


def _parsed_ix(raw: RawInstruction, top_level: bool) -> Instruction:
    # jsonParsed: either {"programId", "parsed"} or {"programId", "accounts": [pubkey...], "data"}.
    parsed = raw.parsed
    return Instruction(
        str(raw.programId),
        [str(a) for a in raw.accounts],
        None if parsed is not None else (raw.data or ""),
        parsed if isinstance(parsed, dict) else None,
        top_level,
    )


def _walk(
    top: list[Any], meta: Meta, keys: list[str], keep: frozenset[str]
) -> tuple[list[Instruction], dict[str, bool]]:
    """Kept instructions in execution order and every invoked program -> ran as a CPI. `top` holds, per
    top-level instruction, (program index, account indexes, data) for wire forms or the RawInstruction for
    jsonParsed; inner instructions are read straight from meta in bulk (most belong to no kept program)."""
    keep_index = {i: key for i, key in enumerate(keys) if key in keep}
    invoked: dict[str, bool] = {}
    instructions: list[Instruction] = []
    inner: dict[int, list[RawInstruction]] = {}
    for group in meta.innerInstructions or ():
        inner.setdefault(group.index, []).extend(group.instructions)
    inner_programs: set[Any] = set()
    parsed_form = bool(top) and isinstance(top[0], RawInstruction)
    for index, ix in enumerate(top):
        if parsed_form:
            program_id = str(ix.programId)
            invoked.setdefault(program_id, False)
            if program_id in keep:
                instructions.append(_parsed_ix(ix, True))
        else:
            program_index, accounts, data = ix
            invoked.setdefault(keys[program_index], False)
            if program_index in keep_index:
                instructions.append(
                    Instruction(keep_index[program_index], [keys[i] for i in accounts], data, None, True)
                )
        group = inner.get(index)
        if not group:
            continue
        if group[0].programIdIndex is not None:
            programs = set(map(_PROGRAM_INDEX, group))
            inner_programs |= programs
            if not programs.isdisjoint(keep_index):
                instructions.extend(
                    Instruction(
                        keep_index[raw.programIdIndex], [keys[i] for i in raw.accounts], raw.data, None, False
                    )
                    for raw in group
                    if raw.programIdIndex in keep_index
                )
        else:  # jsonParsed
            programs = set(map(_PROGRAM_ID, group))
            inner_programs |= programs
            if not programs.isdisjoint(keep):
                instructions.extend(_parsed_ix(raw, False) for raw in group if raw.programId in keep)
    for program in inner_programs:
        invoked[keys[program] if isinstance(program, int) else program] = True
    return instructions, invoked


def read_wire(
    tx: Transaction | dict[str, Any],
    keep: frozenset[str] | Callable[[list[str], int], frozenset[str]] = frozenset(),
) -> WireTransaction:
    """Account keys (with lookup-table addresses), signer count, every invoked program, and the
    instructions (top level and inner, in execution order) of the programs in `keep` (or in what
    `keep(keys, signer_count)` returns, to choose once the keys are known)."""
    if isinstance(tx, dict):
        tx = from_dict(tx)
    meta = tx.meta
    if meta is None:
        raise DecodeError("transaction has no meta")
    body = tx.transaction
    if isinstance(body, list):
        if len(body) != 2 or body[1] not in ("base64", "base58"):
            raise DecodeError("transaction must be [data, 'base64'|'base58']")
        wire = base64.b64decode(body[0], validate=True) if body[1] == "base64" else b58decode(body[0])
        try:
            versioned = VersionedTransaction.from_bytes(wire)
        except Exception as exc:
            raise DecodeError("transaction bytes do not parse") from exc
        message = versioned.message
        keys = list(map(str, message.account_keys)) + _loaded_addresses(meta)
        top = [(ix.program_id_index, bytes(ix.accounts), bytes(ix.data)) for ix in message.instructions]
        signer_count = message.header.num_required_signatures
        if callable(keep):
            keep = keep(keys, signer_count)
        instructions, invoked = _walk(top, meta, keys, keep)
        signature = str(versioned.signatures[0]) if versioned.signatures else ""
        return WireTransaction(signature, keys, signer_count, instructions, invoked)
    if body is None:
        raise DecodeError("transaction field missing")
    message = body.message
    raw_keys = message.accountKeys
    raw_top = message.instructions
    if raw_keys and isinstance(raw_keys[0], AccountKey):
        keys = [k.pubkey if isinstance(k, AccountKey) else k for k in raw_keys]
        signer_count = sum(1 for k in raw_keys if isinstance(k, AccountKey) and k.signer)
    else:
        keys = [k if isinstance(k, str) else k.pubkey for k in raw_keys] + _loaded_addresses(meta)
        signer_count = message.header.numRequiredSignatures if message.header is not None else 1
    if raw_top and raw_top[0].programIdIndex is not None:
        top = [(raw.programIdIndex, raw.accounts, raw.data or "") for raw in raw_top]
    else:
        top = raw_top
    if callable(keep):
        keep = keep(keys, signer_count)
    instructions, invoked = _walk(top, meta, keys, keep)
    return WireTransaction(
        body.signatures[0] if body.signatures else "", keys, signer_count, instructions, invoked
    )
