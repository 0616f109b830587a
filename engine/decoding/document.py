"""The getTransaction document as typed msgspec structs: only the fields the decoder reads are built.

Parsing straight into these structs is about twice as fast as building the whole JSON as dicts: fields
nobody reads (uiAmount, rewards, computeUnitsConsumed, ...) are skipped in C, balances arrive as ints
(`strict=False` turns the RPC's "amount" strings into ints), and the log lines and jsonParsed `parsed`
values stay raw bytes until someone needs them (pump events, invoke logs when inner instructions are
missing, System and Token instructions). JSON holds no reference cycles, so no struct is tracked by the
garbage collector (gc=False).
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

from engine.decoding.model import DecodeError

_NULL = msgspec.Raw(b"null")
_EMPTY_LIST = msgspec.Raw(b"[]")


class UiAmount(msgspec.Struct, gc=False):
    amount: int
    decimals: int | None = None


class TokenBalance(msgspec.Struct, gc=False):
    accountIndex: int  # noqa: N815 - the RPC's field names
    mint: str
    uiTokenAmount: UiAmount  # noqa: N815
    owner: str | None = None


class RawInstruction(msgspec.Struct, gc=False):
    """A compiled (json: programIdIndex, account indexes, base58 data) or parsed (jsonParsed: programId,
    and `parsed` or account keys and data) instruction. `accounts`, `data` and `parsed` stay raw JSON
    until the instruction is read (instruction_accounts, instruction_data, parsed_form): only System, Token
    and pump instructions ever are, and most of a routed swap's dozens of inner instructions are neither."""

    programIdIndex: int | None = None  # noqa: N815
    accounts: msgspec.Raw = _EMPTY_LIST
    data: msgspec.Raw = _NULL
    programId: str | None = None  # noqa: N815
    parsed: msgspec.Raw = _NULL


class InnerGroup(msgspec.Struct, gc=False):
    index: int
    instructions: list[RawInstruction] = []


class LoadedAddresses(msgspec.Struct, gc=False):
    writable: list[str] = []
    readonly: list[str] = []


class Meta(msgspec.Struct, gc=False):
    err: Any = None
    fee: int = 0
    preBalances: list[int] = []  # noqa: N815
    postBalances: list[int] = []  # noqa: N815
    preTokenBalances: list[TokenBalance] | None = None  # noqa: N815
    postTokenBalances: list[TokenBalance] | None = None  # noqa: N815
    innerInstructions: list[InnerGroup] | None = None  # noqa: N815
    logMessages: msgspec.Raw = _NULL  # noqa: N815 - undecoded until asked for (log_lines)
    loadedAddresses: LoadedAddresses | None = None  # noqa: N815


class AccountKey(msgspec.Struct, gc=False):
    pubkey: str
    signer: bool = False


class Header(msgspec.Struct, gc=False):
    numRequiredSignatures: int = 1  # noqa: N815


class Message(msgspec.Struct, gc=False):
    accountKeys: list[str | AccountKey] = []  # noqa: N815
    header: Header | None = None
    instructions: list[RawInstruction] = []


class Body(msgspec.Struct, gc=False):
    message: Message
    signatures: list[str] = []


class Transaction(msgspec.Struct, gc=False):
    """One getTransaction `result`; `transaction` is [data, encoding] for base64/base58, else a Body."""

    meta: Meta | None = None
    transaction: list[str] | Body | None = None
    slot: int | None = None
    blockTime: int | None = None  # noqa: N815


class Envelope(Transaction, gc=False):
    """A bare `result` (meta present) or a {jsonrpc, id, result | error} response."""

    result: Transaction | None | msgspec.UnsetType = msgspec.UNSET
    error: Any = None


_ENVELOPE = msgspec.json.Decoder(Envelope, strict=False)
_TRANSACTION = msgspec.json.Decoder(Transaction, strict=False)
_LINES = msgspec.json.Decoder(list[str] | None)
_ANY = msgspec.json.Decoder()
_ACCOUNTS = msgspec.json.Decoder(list[int | str])
_DATA = msgspec.json.Decoder(str | None)


def _malformed(exc: Exception) -> DecodeError:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return DecodeError(f"malformed transaction ({text[:160]})")


def parse_raw(raw: bytes) -> Transaction:
    """getTransaction JSON bytes (bare `result` or an RPC envelope) -> Transaction; raises DecodeError."""
    try:
        document = _ENVELOPE.decode(raw)
    except msgspec.ValidationError as exc:
        raise _malformed(exc) from None
    except (msgspec.DecodeError, TypeError):
        raise DecodeError("not valid JSON") from None
    if document.meta is None and document.result is not msgspec.UNSET:
        if document.error:
            raise DecodeError("RPC response carries an error")
        if document.result is None:
            raise DecodeError("transaction not found (result is null)")
        return document.result
    return document


def from_dict(tx: Any) -> Transaction:
    """A getTransaction `result` already parsed into dicts (tests, scout, the executor) -> Transaction."""
    if not isinstance(tx, dict):
        raise DecodeError("transaction is not a JSON object")
    try:
        return _TRANSACTION.decode(orjson.dumps(tx))
    except msgspec.ValidationError as exc:
        raise _malformed(exc) from None
    except (msgspec.DecodeError, TypeError) as exc:  # orjson.JSONEncodeError is a TypeError
        raise DecodeError(f"malformed transaction ({type(exc).__name__})") from None


def instruction_accounts(raw: RawInstruction) -> list[int | str]:
    """The instruction's accounts: key indexes (json) or keys (jsonParsed), decoded on first use."""
    return _ACCOUNTS.decode(raw.accounts)


def instruction_data(raw: RawInstruction) -> str | None:
    """The instruction's base58 data, decoded on first use."""
    return _DATA.decode(raw.data)


def parsed_form(raw: RawInstruction) -> Any:
    """A jsonParsed instruction's `parsed` value (a dict for System and Token), decoded on first use."""
    return _ANY.decode(raw.parsed)


def log_lines(meta: Meta) -> list[str] | None:
    """The log messages, decoded on first use (most transactions never need them)."""
    try:
        return _LINES.decode(meta.logMessages)
    except msgspec.ValidationError:
        return None
