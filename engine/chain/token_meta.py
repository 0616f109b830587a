"""Token names from the chain, pure: the Metaplex metadata PDA and `Metadata` account (SPL Token), the
Token-2022 metadata-pointer and `TokenMetadata` extensions, a mint's decimals, and the bytes of both
layouts (the local cluster writes its tokens' metadata with them).

Layouts, as the programs define them:
- Metaplex (mpl-token-metadata `Metadata`, borsh): key u8 (4 = MetadataV1), update_authority [32],
  mint [32], name / symbol / uri as u32-length strings that the program pads with NULs to 32 / 10 / 200
  bytes, seller_fee_basis_points u16, creators Option<Vec<Creator>>, primary_sale_happened bool,
  is_mutable bool, edition_nonce Option<u8>, token_standard Option<u8>, then optional fields; the account
  is 679 bytes at the PDA of ["metadata", program id, mint], owned by the metadata program.
- Token-2022 (`StateWithExtensions`): the 82-byte mint, zeros to 165, the account type byte (1 = mint),
  then TLV entries (u16 type, u16 length, value). MetadataPointer (18) = authority [32] | metadata
  address [32] (zeros = None); TokenMetadata (19, spl-token-metadata-interface, borsh) = update_authority
  [32] (zeros = None) | mint [32] | name | symbol | uri (u32-length strings) | additional_metadata
  Vec<(String, String)>.

Bad data is a `TokenMetaError` with one line; `token_meta_from_accounts` turns it into None.
"""

from __future__ import annotations

import base64
import struct
import unicodedata
from dataclasses import dataclass
from typing import Any

from solders.pubkey import Pubkey

from engine.constants import TOKEN_2022_PROGRAM, TOKEN_PROGRAM

METADATA_PROGRAM = "metaqbxxUerdq28cj1RbAWkYQm3ybzjb6a8bt518x1s"
METADATA_KEY_V1 = 4
MAX_NAME_LENGTH, MAX_SYMBOL_LENGTH, MAX_URI_LENGTH = 32, 10, 200  # what the Metaplex program pads to
MAX_METADATA_LEN = 679  # the Metaplex program's fixed account size
TOKEN_STANDARD_FUNGIBLE = 2

BASE_MINT_LEN = 82
BASE_ACCOUNT_LEN = 165
ACCOUNT_TYPE_MINT = 1
EXT_METADATA_POINTER = 18
EXT_TOKEN_METADATA = 19

# What a parser accepts: far above any real token's, low enough that bad data cannot allocate much.
MAX_STRING_BYTES = 1024
MAX_ADDITIONAL_FIELDS = 64
# What is shown: a symbol or name past these is cut (a symbol is a column in the console).
SHOWN_SYMBOL_CHARS = 16
SHOWN_NAME_CHARS = 48


class TokenMetaError(ValueError):
    """Token metadata bytes that do not parse; the message is one line."""


@dataclass(frozen=True, slots=True)
class TokenMeta:
    """What the console shows of a token: symbol and name ("" when it has none) and its decimals."""

    mint: str
    symbol: str = ""
    name: str = ""
    decimals: int | None = None
    source: str = "none"  # metaplex | token2022 | none (no metadata: the short mint is shown)


@dataclass(frozen=True, slots=True)
class MetadataFields:
    """The fields both layouts share."""

    update_authority: str | None
    mint: str
    name: str
    symbol: str
    uri: str
    additional: tuple[tuple[str, str], ...] = ()


# -- reading ------------------------------------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes, what: str) -> None:
        self.data, self.offset, self.what = data, 0, what

    def take(self, count: int, field: str) -> bytes:
        end = self.offset + count
        if count < 0 or end > len(self.data):
            raise TokenMetaError(f"{self.what}: {field} runs past the end ({len(self.data)} bytes)")
        chunk = self.data[self.offset : end]
        self.offset = end
        return chunk

    def u8(self, field: str) -> int:
        return self.take(1, field)[0]

    def u32(self, field: str) -> int:
        return struct.unpack("<I", self.take(4, field))[0]

    def key(self, field: str) -> str:
        return str(Pubkey.from_bytes(self.take(32, field)))

    def string(self, field: str) -> str:
        length = self.u32(field)
        if length > MAX_STRING_BYTES:
            raise TokenMetaError(f"{self.what}: {field} is {length} bytes long (at most {MAX_STRING_BYTES})")
        raw = self.take(length, field)
        # Metaplex pads its strings with NULs to a fixed size; they are not part of the text.
        return raw.rstrip(b"\0").decode("utf-8", errors="replace")


MARKUP_SAFE = str.maketrans("[]", "()")  # the console reads "[...]" as markup: a name must not style it


def clean_text(text: str, limit: int) -> str:
    """Printable text only (control characters and NULs dropped, runs of space collapsed, square brackets
    made round), at most `limit` characters: a token's creator chooses these bytes, and they end up in the
    console, its notifications and Telegram."""
    kept = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C").translate(MARKUP_SAFE)
    return " ".join(kept.split())[:limit]


def metadata_pda(mint: str) -> str:
    """The Metaplex metadata account of a mint: the PDA of ["metadata", metadata program, mint]."""
    program = Pubkey.from_string(METADATA_PROGRAM)
    address, _bump = Pubkey.find_program_address(
        [b"metadata", bytes(program), bytes(Pubkey.from_string(mint))], program
    )
    return str(address)


def parse_metaplex_metadata(data: bytes) -> MetadataFields:
    """The name, symbol and uri of a Metaplex `Metadata` account's data (the rest is not needed)."""
    reader = _Reader(data, "Metaplex metadata")
    key = reader.u8("key")
    if key != METADATA_KEY_V1:
        raise TokenMetaError(f"Metaplex metadata: key is {key}, not MetadataV1 ({METADATA_KEY_V1})")
    update_authority = reader.key("update_authority")
    mint = reader.key("mint")
    name = reader.string("name")
    symbol = reader.string("symbol")
    uri = reader.string("uri")
    return MetadataFields(update_authority, mint, name, symbol, uri)


def parse_token_metadata(value: bytes) -> MetadataFields:
    """A Token-2022 `TokenMetadata` extension's value (the TLV entry's bytes after type and length)."""
    reader = _Reader(value, "Token-2022 TokenMetadata")
    raw_authority = reader.take(32, "update_authority")
    mint = reader.key("mint")
    name = reader.string("name")
    symbol = reader.string("symbol")
    uri = reader.string("uri")
    count = reader.u32("additional_metadata")
    if count > MAX_ADDITIONAL_FIELDS:
        raise TokenMetaError(
            f"Token-2022 TokenMetadata: {count} additional fields (at most {MAX_ADDITIONAL_FIELDS})"
        )
    additional = tuple(
        (reader.string("additional key"), reader.string("additional value")) for _ in range(count)
    )
    authority = None if raw_authority == bytes(32) else str(Pubkey.from_bytes(raw_authority))
    return MetadataFields(authority, mint, name, symbol, uri, additional)


def mint_decimals(data: bytes) -> int:
    """The decimals of an SPL Token or Token-2022 mint's data."""
    if len(data) < BASE_MINT_LEN:
        raise TokenMetaError(f"mint: {len(data)} bytes, a mint has at least {BASE_MINT_LEN}")
    if data[45] != 1:
        raise TokenMetaError("mint: not initialized")
    return data[44]


def mint_extensions(data: bytes) -> list[tuple[int, bytes]]:
    """(type, value) of each Token-2022 extension of a mint's data; [] for a base-size mint."""
    if len(data) <= BASE_ACCOUNT_LEN:
        return []
    if data[BASE_ACCOUNT_LEN] != ACCOUNT_TYPE_MINT:
        raise TokenMetaError(f"Token-2022 mint: account type byte is {data[BASE_ACCOUNT_LEN]}, not a mint")
    entries = []
    offset = BASE_ACCOUNT_LEN + 1
    while offset + 4 <= len(data):
        extension_type, length = struct.unpack_from("<HH", data, offset)
        if extension_type == 0:  # Uninitialized: the rest is padding
            break
        value = data[offset + 4 : offset + 4 + length]
        if len(value) < length:
            raise TokenMetaError(f"Token-2022 mint: extension {extension_type} runs past the end")
        entries.append((extension_type, value))
        offset += 4 + length
    return entries


def metadata_pointer(extensions: list[tuple[int, bytes]]) -> str | None:
    """Where a Token-2022 mint says its metadata is (None without the pointer, or when it points nowhere)."""
    for extension_type, value in extensions:
        if extension_type == EXT_METADATA_POINTER:
            if len(value) != 64:
                raise TokenMetaError(f"Token-2022 MetadataPointer: {len(value)} bytes, not 64")
            address = value[32:64]
            return None if address == bytes(32) else str(Pubkey.from_bytes(address))
    return None


def _account_bytes(account: dict[str, Any] | None) -> tuple[bytes, str] | None:
    """(data, owner) of an account in the RPC's base64 UiAccount shape; None when there is no account."""
    if not account:
        return None
    data = account.get("data")
    if not isinstance(data, list) or len(data) != 2 or data[1] != "base64" or not isinstance(data[0], str):
        raise TokenMetaError("account data is not base64-encoded")
    try:
        return base64.b64decode(data[0], validate=True), str(account.get("owner") or "")
    except ValueError:
        raise TokenMetaError("account data is not valid base64") from None


def read_token_meta(
    mint: str, mint_account: dict[str, Any] | None, metadata_account: dict[str, Any] | None
) -> TokenMeta:
    """A mint's symbol, name and decimals from its mint account and its Metaplex PDA account (both as
    getMultipleAccounts answers them, base64). A Token-2022 mint's own TokenMetadata extension wins, when
    its metadata pointer points at the mint; otherwise the Metaplex account, when it is owned by the
    metadata program and names this mint. Raises TokenMetaError on bad data."""
    decimals: int | None = None
    fields: MetadataFields | None = None
    source = "none"
    mint_bytes = _account_bytes(mint_account)
    if mint_bytes is not None:
        data, owner = mint_bytes
        if owner not in (TOKEN_PROGRAM, TOKEN_2022_PROGRAM):
            raise TokenMetaError(f"{mint} is not a token mint (owned by {owner})")
        decimals = mint_decimals(data)
        if owner == TOKEN_2022_PROGRAM:
            extensions = mint_extensions(data)
            if metadata_pointer(extensions) == mint:
                embedded = next((v for t, v in extensions if t == EXT_TOKEN_METADATA), None)
                if embedded is not None:
                    fields, source = parse_token_metadata(embedded), "token2022"
    if fields is None:
        metadata_bytes = _account_bytes(metadata_account)
        if metadata_bytes is not None and metadata_bytes[1] == METADATA_PROGRAM:
            fields, source = parse_metaplex_metadata(metadata_bytes[0]), "metaplex"
    if fields is not None and fields.mint != mint:
        raise TokenMetaError(f"metadata names mint {fields.mint}, not {mint}")
    if fields is None:
        return TokenMeta(mint, decimals=decimals)
    return TokenMeta(
        mint,
        symbol=clean_text(fields.symbol, SHOWN_SYMBOL_CHARS),
        name=clean_text(fields.name, SHOWN_NAME_CHARS),
        decimals=decimals,
        source=source,
    )


def token_meta_from_accounts(
    mint: str, mint_account: dict[str, Any] | None, metadata_account: dict[str, Any] | None
) -> tuple[TokenMeta | None, str]:
    """read_token_meta that never raises: (meta, "") or (None, the one-line reason)."""
    try:
        return read_token_meta(mint, mint_account, metadata_account), ""
    except (TokenMetaError, ValueError) as exc:
        return None, str(exc)


# -- writing (the local cluster's tokens) ---------------------------------------------------------------


def _string(text: str, pad_to: int | None = None) -> bytes:
    raw = text.encode()
    if pad_to is not None:
        if len(raw) > pad_to:
            raise TokenMetaError(f"{text!r} is longer than {pad_to} bytes")
        raw = raw.ljust(pad_to, b"\0")
    return struct.pack("<I", len(raw)) + raw


def metaplex_metadata_bytes(
    mint: str,
    update_authority: str,
    name: str,
    symbol: str,
    uri: str,
    *,
    edition_nonce: int | None = None,
    token_standard: int = TOKEN_STANDARD_FUNGIBLE,
    is_mutable: bool = True,
) -> bytes:
    """A Metaplex `Metadata` account's 679 bytes as CreateMetadataAccountV3 leaves them: strings padded
    with NULs, no creators, not sold yet, no collection, uses or programmable config."""
    body = (
        bytes([METADATA_KEY_V1])
        + bytes(Pubkey.from_string(update_authority))
        + bytes(Pubkey.from_string(mint))
        + _string(name, MAX_NAME_LENGTH)
        + _string(symbol, MAX_SYMBOL_LENGTH)
        + _string(uri, MAX_URI_LENGTH)
        + struct.pack("<H", 0)  # seller_fee_basis_points
        + b"\x00"  # creators: None
        + b"\x00"  # primary_sale_happened
        + (b"\x01" if is_mutable else b"\x00")
        + (b"\x00" if edition_nonce is None else bytes([1, edition_nonce]))
        + bytes([1, token_standard])
        + b"\x00\x00\x00\x00"  # collection, uses, collection_details, programmable_config: None
    )
    return body.ljust(MAX_METADATA_LEN, b"\0")


def token_metadata_value(
    mint: str,
    update_authority: str | None,
    name: str,
    symbol: str,
    uri: str,
    additional: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """A Token-2022 `TokenMetadata` extension's value (borsh, unpadded)."""
    authority = bytes(Pubkey.from_string(update_authority)) if update_authority else bytes(32)
    pairs = b"".join(_string(key) + _string(value) for key, value in additional)
    return (
        authority
        + bytes(Pubkey.from_string(mint))
        + _string(name)
        + _string(symbol)
        + _string(uri)
        + struct.pack("<I", len(additional))
        + pairs
    )


def metadata_pointer_value(authority: str | None, metadata_address: str) -> bytes:
    """A Token-2022 `MetadataPointer` extension's value."""
    return (bytes(Pubkey.from_string(authority)) if authority else bytes(32)) + bytes(
        Pubkey.from_string(metadata_address)
    )
