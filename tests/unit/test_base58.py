"""base58 decoding: the merged-slot fast path agrees with the digit-by-digit definition at every length."""

from __future__ import annotations

import random

import pytest
from solders.pubkey import Pubkey
from solders.signature import Signature

from engine.decoding.base58 import ALPHABET, b58decode


def _encode(data: bytes) -> str:
    """The textbook encoder (leading zero bytes become '1's), as the reference."""
    number = int.from_bytes(data, "big")
    out = []
    while number:
        number, digit = divmod(number, 58)
        out.append(ALPHABET[digit])
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + "".join(reversed(out))


@pytest.mark.parametrize("length", [0, 1, 2, 12, 17, 18, 19, 32, 33, 64, 100, 255, 256, 341, 512, 1232, 4000])
def test_round_trip_at_every_length(length: int) -> None:
    rng = random.Random(length)
    for zeros in (0, 1, 3):
        data = b"\0" * zeros + rng.randbytes(length)
        assert b58decode(_encode(data)) == data


def test_matches_solders_keys_and_signatures() -> None:
    rng = random.Random(7)
    for _ in range(50):
        key = Pubkey.from_bytes(rng.randbytes(32))
        signature = Signature.from_bytes(rng.randbytes(64))
        assert b58decode(str(key)) == bytes(key)
        assert b58decode(str(signature)) == bytes(signature)


@pytest.mark.parametrize("text", ["0", "O", "I", "l", "abc0def", "x" * 40 + "l", "é", "1" * 30 + "+"])
def test_bad_characters_raise_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        b58decode(text)
