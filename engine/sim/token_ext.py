"""Token-2022 extension data for the local cluster: the TLV bytes of the extensions its mints and token
accounts carry (written into genesis state, then executed by the real Token-2022 program in LiteSVM) and
their jsonParsed form, as agave's account decoder renders it (`extensions: [{"extension", "state"}]`).

Layout (spl-token-2022 `StateWithExtensions`): the base state (82 bytes for a mint, 165 for an account),
a mint padded with zeros to 165 bytes, one account-type byte (1 = mint, 2 = account), then TLV entries:
u16 extension type, u16 length, the extension's bytes.
"""

from __future__ import annotations

import struct
from typing import Any

from solders.account import Account
from solders.pubkey import Pubkey

from engine.chain.token_meta import (
    EXT_TOKEN_METADATA,
    METADATA_PROGRAM,
    MetadataFields,
    TokenMetaError,
    metadata_pda,
    metadata_pointer_value,
    metaplex_metadata_bytes,
    parse_token_metadata,
    token_metadata_value,
)

BASE_MINT_LEN = 82
BASE_ACCOUNT_LEN = 165
MULTISIG_LEN = 355
ACCOUNT_TYPE_MINT = 1
ACCOUNT_TYPE_ACCOUNT = 2

EXT_TRANSFER_FEE_CONFIG = 1
EXT_TRANSFER_FEE_AMOUNT = 2
EXT_MINT_CLOSE_AUTHORITY = 3
EXT_IMMUTABLE_OWNER = 7
EXT_NON_TRANSFERABLE = 9
EXT_PERMANENT_DELEGATE = 12
EXT_NON_TRANSFERABLE_ACCOUNT = 13
EXT_TRANSFER_HOOK = 14
EXT_TRANSFER_HOOK_ACCOUNT = 15
EXT_METADATA_POINTER = 18
# EXT_TOKEN_METADATA = 19 (engine/chain/token_meta.py, with the layouts of both kinds of metadata)

U64_MAX = 2**64 - 1


def _optional_key(key: Pubkey | None) -> bytes:
    # OptionalNonZeroPubkey: all zeros means None.
    return bytes(key) if key is not None else bytes(32)


def _read_optional_key(raw: bytes) -> str | None:
    return None if raw == bytes(32) else str(Pubkey.from_bytes(raw))


def tlv(extension_type: int, value: bytes) -> bytes:
    return struct.pack("<HH", extension_type, len(value)) + value


def transfer_fee_config(
    fee_bps: int,
    authority: Pubkey | None,
    maximum_fee: int = U64_MAX,
    epoch: int = 0,
) -> bytes:
    """TransferFeeConfig: config and withdraw authorities, withheld amount, older and newer TransferFee."""
    fee = struct.pack("<QQH", epoch, maximum_fee, fee_bps)
    body = _optional_key(authority) + _optional_key(authority) + struct.pack("<Q", 0) + fee + fee
    return tlv(EXT_TRANSFER_FEE_CONFIG, body)


def permanent_delegate_config(delegate: Pubkey) -> bytes:
    return tlv(EXT_PERMANENT_DELEGATE, bytes(delegate))


def immutable_owner() -> bytes:
    return tlv(EXT_IMMUTABLE_OWNER, b"")


def transfer_fee_amount(withheld: int = 0) -> bytes:
    return tlv(EXT_TRANSFER_FEE_AMOUNT, struct.pack("<Q", withheld))


def _padded(data: bytes) -> bytes:
    # spl-token-2022 never makes an extended account of exactly Multisig's size (it would be ambiguous).
    return data + bytes(2) if len(data) == MULTISIG_LEN else data


def with_mint_extensions(base_mint: bytes, extensions: list[bytes]) -> bytes:
    """An 82-byte mint, extended when there are extensions."""
    if not extensions:
        return base_mint
    padding = bytes(BASE_ACCOUNT_LEN - BASE_MINT_LEN)
    return _padded(base_mint + padding + bytes([ACCOUNT_TYPE_MINT]) + b"".join(extensions))


def with_account_extensions(base_account: bytes, extensions: list[bytes]) -> bytes:
    """A 165-byte token account, extended when there are extensions."""
    if not extensions:
        return base_account
    return _padded(base_account + bytes([ACCOUNT_TYPE_ACCOUNT]) + b"".join(extensions))


def account_extensions_for_mint(mint_data: bytes) -> list[bytes]:
    """The extensions a token account of this mint needs (as the ATA program would create it)."""
    types = {extension_type for extension_type, _ in iter_tlv(mint_data)}
    if not types:
        return []
    needed = [immutable_owner()]
    if EXT_TRANSFER_FEE_CONFIG in types:
        needed.append(transfer_fee_amount())
    if EXT_NON_TRANSFERABLE in types:
        needed.append(tlv(EXT_NON_TRANSFERABLE_ACCOUNT, b""))
    if EXT_TRANSFER_HOOK in types:
        needed.append(tlv(EXT_TRANSFER_HOOK_ACCOUNT, b"\x00"))
    return needed


def iter_tlv(data: bytes) -> list[tuple[int, bytes]]:
    """(type, value) of each extension of an extended mint or account; [] for a base-size one."""
    if len(data) <= BASE_ACCOUNT_LEN:
        return []
    entries = []
    offset = BASE_ACCOUNT_LEN + 1
    while offset + 4 <= len(data):
        extension_type, length = struct.unpack_from("<HH", data, offset)
        if extension_type == 0:  # Uninitialized: the rest is padding
            break
        value = data[offset + 4 : offset + 4 + length]
        if len(value) < length:
            break
        entries.append((extension_type, value))
        offset += 4 + length
    return entries


def token_name(symbol: str) -> str:
    """The name the local cluster gives a token of this symbol (its metadata's `name`)."""
    return f"{symbol.title()} Token"


def metadata_extensions(mint: Pubkey, authority: Pubkey, symbol: str, name: str) -> tuple[bytes, bytes]:
    """(MetadataPointer, TokenMetadata) TLV entries of a Token-2022 mint that keeps its metadata in itself,
    as InitializeMetadataPointer (before InitializeMint) and the interface's Initialize (after) leave them;
    the pointer goes with the mint's other extensions, the metadata last (it is appended by a realloc)."""
    pointer = tlv(EXT_METADATA_POINTER, metadata_pointer_value(str(authority), str(mint)))
    metadata = tlv(EXT_TOKEN_METADATA, token_metadata_value(str(mint), str(authority), name, symbol, ""))
    return pointer, metadata


def metaplex_account(
    mint: Pubkey, authority: Pubkey, symbol: str, name: str, rent_exempt: int
) -> tuple[Pubkey, Account]:
    """An SPL Token mint's Metaplex metadata account (address, account) as CreateMetadataAccountV3 leaves
    it: at the PDA of ["metadata", program, mint], owned by the metadata program, 679 bytes, fungible,
    its edition nonce the bump of the mint's edition PDA."""
    program = Pubkey.from_string(METADATA_PROGRAM)
    _edition, edition_bump = Pubkey.find_program_address(
        [b"metadata", bytes(program), bytes(mint), b"edition"], program
    )
    data = metaplex_metadata_bytes(str(mint), str(authority), name, symbol, "", edition_nonce=edition_bump)
    return Pubkey.from_string(metadata_pda(str(mint))), Account(rent_exempt, data, program, False, 0)


def _token_metadata_state(value: bytes) -> dict[str, Any] | None:
    try:
        fields: MetadataFields = parse_token_metadata(value)
    except TokenMetaError:
        return None
    return {
        "updateAuthority": fields.update_authority,
        "mint": fields.mint,
        "name": fields.name,
        "symbol": fields.symbol,
        "uri": fields.uri,
        "additionalMetadata": [list(pair) for pair in fields.additional],
    }


def _transfer_fee(raw: bytes) -> dict[str, int]:
    epoch, maximum_fee, bps = struct.unpack("<QQH", raw)
    return {"epoch": epoch, "maximumFee": maximum_fee, "transferFeeBasisPoints": bps}


def _ui_extension(extension_type: int, value: bytes) -> dict[str, Any]:
    # Field names and order as agave's UiExtension (account-decoder-client-types/src/token.rs).
    if extension_type == EXT_TRANSFER_FEE_CONFIG and len(value) == 108:
        return {
            "extension": "transferFeeConfig",
            "state": {
                "transferFeeConfigAuthority": _read_optional_key(value[0:32]),
                "withdrawWithheldAuthority": _read_optional_key(value[32:64]),
                "withheldAmount": struct.unpack_from("<Q", value, 64)[0],
                "olderTransferFee": _transfer_fee(value[72:90]),
                "newerTransferFee": _transfer_fee(value[90:108]),
            },
        }
    if extension_type == EXT_TRANSFER_FEE_AMOUNT and len(value) == 8:
        return {"extension": "transferFeeAmount", "state": {"withheldAmount": struct.unpack("<Q", value)[0]}}
    if extension_type == EXT_MINT_CLOSE_AUTHORITY and len(value) == 32:
        return {"extension": "mintCloseAuthority", "state": {"closeAuthority": _read_optional_key(value)}}
    if extension_type == EXT_PERMANENT_DELEGATE and len(value) == 32:
        return {"extension": "permanentDelegate", "state": {"delegate": _read_optional_key(value)}}
    if extension_type == EXT_TRANSFER_HOOK and len(value) == 64:
        return {
            "extension": "transferHook",
            "state": {
                "authority": _read_optional_key(value[0:32]),
                "programId": _read_optional_key(value[32:64]),
            },
        }
    if extension_type == EXT_TRANSFER_HOOK_ACCOUNT and len(value) == 1:
        return {"extension": "transferHookAccount", "state": {"transferring": bool(value[0])}}
    if extension_type == EXT_METADATA_POINTER and len(value) == 64:
        return {
            "extension": "metadataPointer",
            "state": {
                "authority": _read_optional_key(value[0:32]),
                "metadataAddress": _read_optional_key(value[32:64]),
            },
        }
    if extension_type == EXT_TOKEN_METADATA:
        state = _token_metadata_state(value)
        if state is not None:
            return {"extension": "tokenMetadata", "state": state}
    unit = {
        EXT_IMMUTABLE_OWNER: "immutableOwner",
        EXT_NON_TRANSFERABLE: "nonTransferable",
        EXT_NON_TRANSFERABLE_ACCOUNT: "nonTransferableAccount",
    }
    if extension_type in unit:
        return {"extension": unit[extension_type]}
    return {"extension": "unparseableExtension"}


def ui_extensions(data: bytes) -> list[dict[str, Any]]:
    """The jsonParsed `extensions` list of a token-program account (empty: the key is left out)."""
    return [_ui_extension(extension_type, value) for extension_type, value in iter_tlv(data)]
