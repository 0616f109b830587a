"""Token metadata parsing (engine/chain/token_meta.py) against real account bytes (tests/fixtures/token_meta,
sources in its SOURCES.md), the bytes the local cluster writes, and bad data (an error, never a crash)."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

import pytest

from engine.chain.token_meta import (
    EXT_METADATA_POINTER,
    EXT_TOKEN_METADATA,
    MAX_METADATA_LEN,
    METADATA_PROGRAM,
    TokenMetaError,
    metadata_pda,
    metadata_pointer,
    metaplex_metadata_bytes,
    mint_decimals,
    mint_extensions,
    parse_metaplex_metadata,
    parse_token_metadata,
    read_token_meta,
    token_meta_from_accounts,
    token_metadata_value,
)
from engine.constants import TOKEN_2022_PROGRAM, TOKEN_PROGRAM

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "token_meta"
GOOBERG_MINT = "BghihYzykKNX1dMyS1snAR266G8czLi28xFK45ShCiMB"
GOOBERG_METADATA = "9VHphpWFmUxVHxzWyeYJYYbQADWZ7X6PLzyWER8Lc3k2"
MEGA_MINT = "5gSwsLGzyCwgwPJSnxjsQCaFeE19ZFaibHMLky9TDFim"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def raw(account: dict) -> bytes:
    return base64.b64decode(account["data"][0])


def b64_account(data: bytes, owner: str) -> dict:
    return {"data": [base64.b64encode(data).decode(), "base64"], "owner": owner, "lamports": 1}


def spl_mint(decimals: int = 6) -> bytes:
    # COption mint authority (none), supply, decimals, initialized, COption freeze authority (none)
    return bytes(4) + bytes(32) + struct.pack("<Q", 10**15) + bytes([decimals, 1]) + bytes(4) + bytes(32)


def test_the_metadata_pda_of_a_real_mint_is_its_metadata_account():
    assert metadata_pda(GOOBERG_MINT) == GOOBERG_METADATA


def test_a_real_metaplex_account_parses_with_its_padding_stripped():
    account = load("metaplex_gooberg_2235.json")
    data = raw(account)
    assert len(data) == MAX_METADATA_LEN and account["owner"] == METADATA_PROGRAM
    fields = parse_metaplex_metadata(data)
    assert fields.mint == GOOBERG_MINT
    assert fields.name == "Gooberg #2235" and fields.symbol == "TGB"  # 32 / 10 bytes on chain, NULs gone
    assert fields.uri.startswith("https://nftstorage.link/ipfs/") and fields.uri.endswith("/2235.json")
    assert "\0" not in fields.name + fields.symbol + fields.uri


def test_a_real_token_2022_mint_reads_its_own_metadata_extension():
    account = load("token2022_megatoken_mint.json")["account"]
    data = raw(account)
    assert len(data) == account["space"] == 1110
    extensions = mint_extensions(data)
    types = [extension_type for extension_type, _ in extensions]
    assert EXT_METADATA_POINTER in types and EXT_TOKEN_METADATA in types and len(types) == 14
    assert metadata_pointer(extensions) == MEGA_MINT  # the mint keeps its metadata in itself
    fields = parse_token_metadata(dict(extensions)[EXT_TOKEN_METADATA])
    assert (fields.mint, fields.name, fields.symbol) == (MEGA_MINT, "MegaToken", "MT")
    assert fields.uri == "https://spl.solana.com/token-2022"
    assert fields.additional == (("Mega", "Token"),)
    assert mint_decimals(data) == 9
    meta = read_token_meta(MEGA_MINT, account, None)
    assert (meta.symbol, meta.name, meta.decimals, meta.source) == ("MT", "MegaToken", 9, "token2022")


def test_an_spl_mint_with_the_real_metaplex_account():
    meta = read_token_meta(
        GOOBERG_MINT, b64_account(spl_mint(0), TOKEN_PROGRAM), load("metaplex_gooberg_2235.json")
    )
    assert (meta.symbol, meta.name, meta.decimals, meta.source) == ("TGB", "Gooberg #2235", 0, "metaplex")


def test_no_metadata_leaves_the_symbol_empty_with_the_decimals():
    meta = read_token_meta(GOOBERG_MINT, b64_account(spl_mint(6), TOKEN_PROGRAM), None)
    assert (meta.symbol, meta.name, meta.decimals, meta.source) == ("", "", 6, "none")


def test_the_bytes_the_local_cluster_writes_parse_back():
    authority = GOOBERG_METADATA
    data = metaplex_metadata_bytes(GOOBERG_MINT, authority, "Zap Token", "ZAP", "", edition_nonce=254)
    assert len(data) == MAX_METADATA_LEN
    fields = parse_metaplex_metadata(data)
    assert (fields.update_authority, fields.mint, fields.name, fields.symbol) == (
        authority,
        GOOBERG_MINT,
        "Zap Token",
        "ZAP",
    )
    # the same layout as the real account around the strings: u32 lengths of 32, 10 and 200
    assert struct.unpack_from("<I", data, 65)[0] == 32 and struct.unpack_from("<I", data, 101)[0] == 10
    value = token_metadata_value(MEGA_MINT, None, "Mega", "MG", "u", (("k", "v"),))
    parsed = parse_token_metadata(value)
    assert parsed.update_authority is None and parsed.additional == (("k", "v"),)
    with pytest.raises(TokenMetaError, match="longer than 10 bytes"):
        metaplex_metadata_bytes(GOOBERG_MINT, authority, "x", "WAYTOOLONGSYMBOL", "")


def test_symbols_are_cleaned_of_control_characters_and_capped():
    evil = metaplex_metadata_bytes(GOOBERG_MINT, GOOBERG_METADATA, "A\x1b[31mB", "\x07Z\nP", "")
    meta = read_token_meta(
        GOOBERG_MINT, b64_account(spl_mint(), TOKEN_PROGRAM), b64_account(evil, METADATA_PROGRAM)
    )
    assert meta.symbol == "ZP" and meta.name == "A(31mB"  # the escape and bell are gone, no markup left
    markup = metaplex_metadata_bytes(GOOBERG_MINT, GOOBERG_METADATA, "[/]", "[b]X", "")
    meta = read_token_meta(
        GOOBERG_MINT, b64_account(spl_mint(), TOKEN_PROGRAM), b64_account(markup, METADATA_PROGRAM)
    )
    assert (meta.symbol, meta.name) == ("(b)X", "(/)")
    long_symbol = token_metadata_value(MEGA_MINT, None, "n", "S" * 300, "")
    fields = parse_token_metadata(long_symbol)
    assert len(fields.symbol) == 300  # the parser keeps it; what is shown is capped
    built = _token_2022_mint(MEGA_MINT, long_symbol)
    assert len(read_token_meta(MEGA_MINT, built, None).symbol) == 16


def _token_2022_mint(mint: str, metadata_value: bytes) -> dict:
    from solders.pubkey import Pubkey

    pointer = bytes(32) + bytes(Pubkey.from_string(mint))
    body = spl_mint(6) + bytes(165 - 82) + b"\x01"
    body += struct.pack("<HH", EXT_METADATA_POINTER, 64) + pointer
    body += struct.pack("<HH", EXT_TOKEN_METADATA, len(metadata_value)) + metadata_value
    return b64_account(body, TOKEN_2022_PROGRAM)


@pytest.mark.parametrize(
    ("mint_account", "metadata_account", "error"),
    [
        (None, {"data": ["!!!", "base64"], "owner": METADATA_PROGRAM}, "not valid base64"),
        (None, {"data": ["", "base58"], "owner": METADATA_PROGRAM}, "not base64-encoded"),
        (None, b64_account(b"\x04" + bytes(10), METADATA_PROGRAM), "runs past the end"),
        (None, b64_account(b"\x06" + bytes(100), METADATA_PROGRAM), "not MetadataV1"),
        (
            None,
            b64_account(b"\x04" + bytes(64) + struct.pack("<I", 2**31), METADATA_PROGRAM),
            "at most 1024",
        ),
        (b64_account(bytes(40), TOKEN_PROGRAM), None, "a mint has at least 82"),
        (b64_account(spl_mint(), "11111111111111111111111111111111"), None, "is not a token mint"),
        (
            None,
            b64_account(metaplex_metadata_bytes(MEGA_MINT, MEGA_MINT, "a", "b", ""), METADATA_PROGRAM),
            "not " + GOOBERG_MINT,
        ),
    ],
)
def test_bad_data_is_a_one_line_error_and_never_a_crash(mint_account, metadata_account, error):
    with pytest.raises(TokenMetaError, match=error):
        read_token_meta(GOOBERG_MINT, mint_account, metadata_account)
    meta, reason = token_meta_from_accounts(GOOBERG_MINT, mint_account, metadata_account)
    assert meta is None and error in reason and "\n" not in reason


def test_a_metaplex_account_not_owned_by_the_metadata_program_is_ignored():
    spoof = metaplex_metadata_bytes(GOOBERG_MINT, GOOBERG_MINT, "Fake", "USDC", "")
    meta = read_token_meta(
        GOOBERG_MINT, b64_account(spl_mint(), TOKEN_PROGRAM), b64_account(spoof, TOKEN_PROGRAM)
    )
    assert meta.symbol == "" and meta.source == "none"


def test_truncated_token_2022_extensions_are_an_error():
    account = load("token2022_megatoken_mint.json")["account"]
    data = raw(account)[:1000]
    with pytest.raises(TokenMetaError, match="runs past the end"):
        read_token_meta(MEGA_MINT, b64_account(data, TOKEN_2022_PROGRAM), None)
