"""Reads a getTransaction result in json, jsonParsed or base64 encoding into one flat, encoding-free shape."""

from __future__ import annotations

import binascii
import operator
from collections.abc import Callable
from typing import Any, cast

from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from engine.decoding.base58 import b58decode
from engine.decoding.document import (
    AccountKey,
    Meta,
    RawInstruction,
    Transaction,
    from_dict,
    instruction_accounts,
    instruction_data,
    parsed_form,
)
from engine.decoding.model import DecodeError
from engine.decoding.programs import PUMPFUN_PROGRAM, PUMPSWAP_PROGRAM

_PROGRAM_INDEX = operator.attrgetter("programIdIndex")
_PROGRAM_ID = operator.attrgetter("programId")
_PUBKEY = operator.attrgetter("pubkey")
# Programs whose instructions are read only for their self-CPI events (see walk).
EVENT_PROGRAMS = frozenset({PUMPFUN_PROGRAM, PUMPSWAP_PROGRAM})
_SIGNER = operator.attrgetter("signer")
# An inner instruction that names no program (neither programIdIndex nor programId) is malformed.
_NO_PROGRAM = "malformed transaction (an inner instruction names no program)"
_BAD_PROGRAM_INDEX = "malformed transaction (a program index outside the account keys)"


def _base64(text: str) -> bytes:
    """binascii's strict mode checks the alphabet and padding in C (b64decode's validate=True runs a regex
    first); it is twice as fast on bytes as on a str. A non-ASCII str keeps a2b_base64's own error."""
    try:
        data = text.encode("ascii")
    except UnicodeEncodeError:
        return binascii.a2b_base64(text, strict_mode=True)
    return binascii.a2b_base64(data, strict_mode=True)


def pubkey_str(raw: bytes) -> str:
    if len(raw) != 32:  # solders panics (a BaseException) on other lengths
        raise ValueError("a public key is 32 bytes")
    return str(Pubkey.from_bytes(raw))


# Plain classes with __slots__, not msgspec structs: compiled, their fields are read directly (balances.py).
class Instruction:
    """One instruction of a program the decoder reads; data stays undecoded until someone asks for it."""

    __slots__ = ("program_id", "accounts", "raw_data", "parsed", "top_level")

    def __init__(
        self,
        program_id: str,
        accounts: list[str],
        raw_data: bytes | str | None,
        parsed: dict[str, Any] | None,
        top_level: bool,
    ) -> None:
        self.program_id = program_id
        self.accounts = accounts
        self.raw_data = raw_data  # bytes (base64 wire), base58 str (json), None (jsonParsed parsed form)
        self.parsed = parsed
        self.top_level = top_level

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


class MessageKeys:
    """What every decode needs before any instruction is read: signature, keys, signers, the top level."""

    __slots__ = ("signature", "keys", "signer_count", "top", "compiled")

    def __init__(
        self, signature: str, keys: list[str], signer_count: int, top: list[Any], compiled: bool
    ) -> None:
        self.signature = signature
        self.keys = keys  # static keys, then lookup-table addresses (writable, readonly)
        self.signer_count = signer_count
        # Top-level instructions as the encoding holds them: RawInstruction (json, jsonParsed) or solders
        # CompiledInstruction (base64/base58 wire); `compiled` is False only for jsonParsed.
        self.top = top
        self.compiled = compiled


class WireTransaction:
    """read_wire's answer: the message's keys and signers, the kept instructions and the invoked programs."""

    __slots__ = ("signature", "keys", "signer_count", "instructions", "invoked")

    def __init__(
        self,
        signature: str,
        keys: list[str],
        signer_count: int,
        instructions: list[Instruction],
        invoked: dict[str, bool],
    ) -> None:
        self.signature = signature
        self.keys = keys
        self.signer_count = signer_count
        self.instructions = instructions  # only those of the programs read_wire was asked to keep, in order
        self.invoked = invoked  # every program invoked -> whether it ran as a CPI (inner instruction)


def _loaded_addresses(meta: Meta) -> list[str]:
    loaded = meta.loadedAddresses
    return loaded.writable + loaded.readonly if loaded is not None else []


def read_message(tx: Transaction) -> MessageKeys:
    """Signature, account keys (with lookup-table addresses), signer count and the top-level instructions."""
    meta = tx.meta
    if meta is None:
        raise DecodeError("transaction has no meta")
    body = tx.transaction
    if isinstance(body, list):
        if len(body) != 2 or body[1] not in ("base64", "base58"):
            raise DecodeError("transaction must be [data, 'base64'|'base58']")
        wire = _base64(body[0]) if body[1] == "base64" else b58decode(body[0])
        try:
            versioned = VersionedTransaction.from_bytes(wire)
        except Exception as exc:
            raise DecodeError("transaction bytes do not parse") from exc
        wire_message = versioned.message
        keys = list(map(str, wire_message.account_keys)) + _loaded_addresses(meta)
        signatures = versioned.signatures
        return MessageKeys(
            str(signatures[0]) if signatures else "",
            keys,
            wire_message.header.num_required_signatures,
            list(wire_message.instructions),
            True,
        )
    if body is None:
        raise DecodeError("transaction field missing")
    message = body.message
    raw_keys = message.accountKeys
    signature = body.signatures[0] if body.signatures else ""
    # One type throughout is the RPC's shape (checked in C); a list mixing both is read entry by entry.
    uniform = len(set(map(type, raw_keys))) <= 1
    if raw_keys and isinstance(raw_keys[0], AccountKey):  # jsonParsed: {pubkey, signer, source, ...}
        if uniform:
            keys = list(map(_PUBKEY, raw_keys))
            signer_count = sum(map(_SIGNER, raw_keys))
        else:
            keys = [k.pubkey if isinstance(k, AccountKey) else k for k in raw_keys]
            signer_count = sum(1 for k in raw_keys if isinstance(k, AccountKey) and k.signer)
    else:
        if uniform:
            keys = cast(list[str], raw_keys) + _loaded_addresses(meta)  # all str
        else:
            keys = [k if isinstance(k, str) else k.pubkey for k in raw_keys] + _loaded_addresses(meta)
        signer_count = message.header.numRequiredSignatures if message.header is not None else 1
    top = message.instructions
    return MessageKeys(signature, keys, signer_count, top, not top or top[0].programIdIndex is not None)


def _top_program_indexes(message: MessageKeys) -> list[int]:
    top = message.top
    indexes: list[int] = []
    if top and isinstance(top[0], RawInstruction):
        for raw in top:
            program_index = raw.programIdIndex
            if program_index is None:  # json instructions mixed with jsonParsed ones
                raise DecodeError(_NO_PROGRAM)
            indexes.append(program_index)
        return indexes
    for ix in top:
        indexes.append(ix.program_id_index)
    return indexes


def _parsed_ix(raw: RawInstruction, top_level: bool) -> Instruction:
    # jsonParsed: either {"programId", "parsed"} or {"programId", "accounts": [pubkey...], "data"}.
    parsed = parsed_form(raw)
    return Instruction(
        str(raw.programId),
        [str(a) for a in instruction_accounts(raw)],
        None if parsed is not None else (instruction_data(raw) or ""),
        parsed if isinstance(parsed, dict) else None,
        top_level,
    )


def _kept_program(program_index: int, keys: list[str], keep: frozenset[str], seen: dict[int, str]) -> str:
    """The program id at this key index if it is kept, else "": each index is looked up once, so only the
    keys of invoked programs are hashed, not every key of the message."""
    program = seen.get(program_index)
    if program is None:
        if not 0 <= program_index < len(keys):
            raise DecodeError(_BAD_PROGRAM_INDEX)
        key = keys[program_index]
        program = key if key in keep else ""
        seen[program_index] = program
    return program


def _walk_compiled(
    message: MessageKeys, meta: Meta, keys: list[str], keep: frozenset[str]
) -> tuple[list[Instruction], dict[str, bool]]:
    """_walk for json and wire messages whose inner groups have the RPC's usual shape (one per top-level
    index, ascending; else _walk_merged): top-level instructions are read in the form the encoding holds
    them (solders objects are converted only when kept), and only a group with a kept program is read
    instruction by instruction. Plain loops, not map/compress: compiled, they are several times faster."""
    top = message.top
    top_indexes = _top_program_indexes(message)
    count = len(top_indexes)
    seen: dict[int, str] = {}  # program index -> its id if kept, else ""
    top_kept: list[int] = []
    for index in range(count):
        if _kept_program(top_indexes[index], keys, keep, seen):
            top_kept.append(index)
    wire_form = bool(top_kept) and not isinstance(top[0], RawInstruction)
    instructions: list[Instruction] = []
    inner_programs: set[int] = set()
    position = 0  # next entry of top_kept
    last = -1
    for group in meta.innerInstructions or ():
        index = group.index
        if not last < index < count:
            return _walk_merged(message, meta, keys, _keep_index(keys, keep))
        last = index
        raws = group.instructions
        if not raws:
            continue
        program_indexes: list[int] = []
        kept_here = False
        for raw in raws:
            program_index = raw.programIdIndex
            if program_index is None:  # a jsonParsed group inside a compiled message
                return _walk_merged(message, meta, keys, _keep_index(keys, keep))
            program_indexes.append(program_index)
            if _kept_program(program_index, keys, keep, seen):
                kept_here = True
        while position < len(top_kept) and top_kept[position] <= index:
            at = top_kept[position]
            _keep_top(instructions, top[at], seen[top_indexes[at]], keys, wire_form)
            position += 1
        inner_programs |= set(program_indexes)
        if not kept_here:
            continue
        for at in range(len(raws)):
            program = seen[program_indexes[at]]
            if not program:
                continue
            raw = raws[at]
            accounts_of: list[str] = []
            if program not in EVENT_PROGRAMS:
                for account in instruction_accounts(raw):
                    accounts_of.append(keys[cast(int, account)])
            instructions.append(Instruction(program, accounts_of, instruction_data(raw), None, False))
    for at in top_kept[position:]:
        _keep_top(instructions, top[at], seen[top_indexes[at]], keys, wire_form)
    invoked: dict[str, bool] = {}
    for program_index in top_indexes:
        invoked[keys[program_index]] = False
    for program_index in inner_programs:
        invoked[keys[program_index]] = True
    return instructions, invoked


def _keep_top(
    instructions: list[Instruction], ix: Any, program: str, keys: list[str], wire_form: bool
) -> None:
    """A kept top-level instruction (the pump programs' own top-level buys and sells are never read)."""
    if program in EVENT_PROGRAMS:
        return
    accounts: Any
    data: bytes | str
    if wire_form:
        accounts, data = bytes(ix.accounts), bytes(ix.data)
    else:
        accounts, data = instruction_accounts(ix), instruction_data(ix) or ""
    accounts_of: list[str] = []
    for account in accounts:
        accounts_of.append(keys[account])
    instructions.append(Instruction(program, accounts_of, data, None, True))


def _group_programs(group: list[RawInstruction], program_of: Callable[[RawInstruction], Any]) -> set[Any]:
    """The programs (indexes or ids, as `program_of` reads them) an inner group invokes; one that names
    no program makes the transaction malformed."""
    programs = set(map(program_of, group))
    if None in programs:
        raise DecodeError(_NO_PROGRAM)
    return programs


def _walk_merged(
    message: MessageKeys, meta: Meta, keys: list[str], keep_index: dict[int, str]
) -> tuple[list[Instruction], dict[str, bool]]:
    """_walk_compiled for any shape of inner groups: groups of one index are merged, groups outside the top
    level are ignored, and a jsonParsed group is read as such."""
    top = message.top
    wire_form = bool(top) and not isinstance(top[0], RawInstruction)
    top_indexes = _top_program_indexes(message)
    invoked = dict.fromkeys([keys[index] for index in top_indexes], False)
    instructions: list[Instruction] = []
    inner: dict[int, list[RawInstruction]] = {}
    for recorded in meta.innerInstructions or ():
        inner.setdefault(recorded.index, []).extend(recorded.instructions)
    inner_programs: set[Any] = set()
    for index, program_index in enumerate(top_indexes):
        if program_index in keep_index:
            _keep_top(instructions, top[index], keep_index[program_index], keys, wire_form)
        group = inner.get(index)
        if not group:
            continue
        if group[0].programIdIndex is None:  # a jsonParsed group inside a compiled message
            programs = _group_programs(group, _PROGRAM_ID)
            inner_programs |= programs
            kept_ids = set(keep_index.values())
            instructions.extend(_parsed_ix(raw, False) for raw in group if raw.programId in kept_ids)
            continue
        programs = _group_programs(group, _PROGRAM_INDEX)
        inner_programs |= programs
        if programs.isdisjoint(keep_index):
            continue
        for raw in group:
            kept = keep_index.get(cast(int, raw.programIdIndex))
            if kept is not None:
                accounts_of = (
                    []
                    if kept in EVENT_PROGRAMS
                    else [keys[i] for i in cast(list[int], instruction_accounts(raw))]
                )
                instructions.append(Instruction(kept, accounts_of, instruction_data(raw), None, False))
    for program in inner_programs:
        invoked[keys[program] if isinstance(program, int) else program] = True
    return instructions, invoked


def _keep_index(keys: list[str], keep: frozenset[str]) -> dict[int, str]:
    """Index -> program id of the kept programs among the keys, found in C (keys are unique in a valid
    transaction; the runtime rejects a message that repeats one)."""
    present = keep.intersection(keys)
    if not present:
        return {}
    return {keys.index(key): key for key in present}


def _walk(
    message: MessageKeys, meta: Meta, keep: frozenset[str]
) -> tuple[list[Instruction], dict[str, bool]]:
    """Kept instructions in execution order and every invoked program -> ran as a CPI. Inner instructions
    are read straight from meta in bulk (most belong to no kept program)."""
    keys = message.keys
    if message.compiled:
        return _walk_compiled(message, meta, keys, keep)
    keep_index = _keep_index(keys, keep)
    invoked: dict[str, bool] = {}
    instructions: list[Instruction] = []
    inner: dict[int, list[RawInstruction]] = {}
    for recorded in meta.innerInstructions or ():
        inner.setdefault(recorded.index, []).extend(recorded.instructions)
    inner_programs: set[Any] = set()
    for index, ix in enumerate(message.top):  # jsonParsed
        program_id = str(ix.programId)
        invoked.setdefault(program_id, False)
        if program_id in keep and program_id not in EVENT_PROGRAMS:
            instructions.append(_parsed_ix(ix, True))
        group = inner.get(index)
        if not group:
            continue
        if group[0].programIdIndex is not None:
            programs = _group_programs(group, _PROGRAM_INDEX)
            inner_programs |= programs
            if not programs.isdisjoint(keep_index):
                instructions.extend(
                    Instruction(
                        keep_index[cast(int, raw.programIdIndex)],
                        [keys[i] for i in cast(list[int], instruction_accounts(raw))],
                        instruction_data(raw),
                        None,
                        False,
                    )
                    for raw in group
                    if raw.programIdIndex in keep_index
                )
        else:
            programs = _group_programs(group, _PROGRAM_ID)
            inner_programs |= programs
            if not programs.isdisjoint(keep):
                instructions.extend(_parsed_ix(raw, False) for raw in group if raw.programId in keep)
    for program in inner_programs:
        invoked[keys[program] if isinstance(program, int) else program] = True
    return instructions, invoked


# The instructions (top level and inner, in execution order) of the programs in `keep`, and every invoked
# program -> whether it ran as a CPI.
walk = _walk


def read_wire(
    tx: Transaction | dict[str, Any],
    keep: frozenset[str] | Callable[[list[str], int], frozenset[str]] = frozenset(),
) -> WireTransaction:
    """Account keys (with lookup-table addresses), signer count, every invoked program, and the
    instructions (top level and inner, in execution order) of the programs in `keep` (or in what
    `keep(keys, signer_count)` returns, to choose once the keys are known)."""
    if isinstance(tx, dict):
        tx = from_dict(tx)
    message = read_message(tx)
    if callable(keep):
        keep = keep(message.keys, message.signer_count)
    instructions, invoked = _walk(message, cast(Meta, tx.meta), keep)  # read_message checked meta
    return WireTransaction(message.signature, message.keys, message.signer_count, instructions, invoked)
