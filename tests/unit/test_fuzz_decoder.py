"""Bad input for the decoder: random and mutated getTransaction JSON either decodes or raises DecodeError.

Mutations start from the real mainnet fixtures (all three encodings), so the fuzzer reaches deep into the
decoder rather than bouncing off the first type check. Bounded: the whole file runs in well under 20 s.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.decoding import DecodedTransaction, DecodeError, decode_raw, decode_transaction

# ZAPBOT_FUZZ_EXAMPLES raises the budget for a long local hunt; the default keeps the file under 20 s.
EXAMPLES = int(os.environ.get("ZAPBOT_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _fixture_docs() -> list[tuple[str, Any]]:
    from tests.helpers.paths import mainnet_dir

    root = mainnet_dir()
    if root is None:
        return []
    docs = []
    for path in sorted(root.rglob("*.json")):
        try:
            docs.append((str(path.relative_to(root)), orjson.loads(path.read_bytes())))
        except orjson.JSONDecodeError:
            continue
    return docs


DOCS = _fixture_docs()
needs_fixtures = pytest.mark.skipif(not DOCS, reason="mainnet fixtures not found (set ZAPBOT_FIXTURES)")


def _outcome_ok(fn, *args: Any, **kwargs: Any) -> None:
    """The decoder's contract: a DecodedTransaction, or DecodeError with a short one-line message."""
    try:
        result = fn(*args, **kwargs)
    except DecodeError as exc:
        text = str(exc)
        assert text and "\n" not in text and len(text) < 300, text
        return
    assert isinstance(result, DecodedTransaction)
    for swap in result.swaps:
        assert isinstance(swap.token_amount, int) and isinstance(swap.quote_amount, int)


def _dumps(doc: Any) -> bytes:
    # The stdlib writes integers of any size (orjson refuses beyond 64 bits), as a hostile server might.
    return json.dumps(doc).encode()


# -- random JSON ------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=30,
)
transaction_keys = st.sampled_from(
    ["slot", "blockTime", "meta", "transaction", "version", "result", "error", "jsonrpc", "id"]
)
meta_like = st.fixed_dictionaries(
    {},
    optional={
        "err": json_values,
        "fee": json_values,
        "preBalances": json_values,
        "postBalances": json_values,
        "preTokenBalances": json_values,
        "postTokenBalances": json_values,
        "innerInstructions": json_values,
        "logMessages": json_values,
        "loadedAddresses": json_values,
    },
)
tx_like = st.dictionaries(transaction_keys, json_values | meta_like, max_size=6)


@pytest.mark.slow
@FUZZ
@given(doc=json_values | tx_like)
def test_random_json_values(doc: Any) -> None:
    _outcome_ok(decode_transaction, doc)
    _outcome_ok(decode_raw, _dumps(doc))


@FUZZ
@given(raw=st.binary(max_size=300))
def test_random_bytes(raw: bytes) -> None:
    _outcome_ok(decode_raw, raw)


@settings(max_examples=60, deadline=None)
@given(wallet=json_values)
def test_wallet_of_any_type(wallet: Any) -> None:
    if not DOCS:
        pytest.skip("mainnet fixtures not found")
    _outcome_ok(decode_transaction, DOCS[0][1], wallet)


# -- mutations of real transactions -------------------------------------------------------------------


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside node (dict keys and list indexes)."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node[:40]):  # long lists: the first entries are enough
            found.extend(_paths(value, (*prefix, index)))
    return found


def _replace(node: Any, path: tuple, value: Any, delete: bool) -> Any:
    if not path:
        return value
    parent = node
    for part in path[:-1]:
        parent = parent[part]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return node


def _tweak(value: Any, choice: int) -> Any:
    """Type-aware nasty variants of a value."""
    if isinstance(value, bool):
        return [None, not value, "true", 1][choice % 4]
    if isinstance(value, int):
        return [None, -value - 1, 2**64, 2**200, str(value), float(value) + 0.5, -1, 0][choice % 8]
    if isinstance(value, str):
        return [None, "", value[: len(value) // 2], value + "!", value[::-1], "0" * 3000, "\u00e9\u0000", 7][
            choice % 8
        ]
    if isinstance(value, list):
        return [None, [], value[:-1], value + value[-1:], value[::-1], [None] * 3, {"0": value}, "x"][
            choice % 8
        ]
    if isinstance(value, dict):
        return [None, {}, [], dict(list(value.items())[:-1]), "x", 0][choice % 6]
    return [0, "x", [], {}][choice % 4]


mutation = st.tuples(
    st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=10**6), st.booleans()
)


@needs_fixtures
@FUZZ
@given(
    which=st.integers(min_value=0, max_value=max(0, len(DOCS) - 1)),
    mutations=st.lists(mutation, min_size=1, max_size=4),
)
def test_mutated_fixtures(which: int, mutations: list[tuple[int, int, bool]]) -> None:
    name, original = DOCS[which]
    doc = copy.deepcopy(original)
    for pick, choice, delete in mutations:
        paths = _paths(doc)
        path = paths[pick % len(paths)]
        if not path:
            continue
        try:
            parent = doc
            for part in path[:-1]:
                parent = parent[part]
            current = parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue
        doc = _replace(doc, path, _tweak(current, choice), delete and isinstance(parent, dict))
    _outcome_ok(decode_transaction, doc)
    _outcome_ok(decode_raw, _dumps(doc))
    _outcome_ok(decode_transaction, doc, "11111111111111111111111111111111")


@needs_fixtures
@FUZZ
@given(
    which=st.integers(min_value=0, max_value=max(0, len(DOCS) - 1)),
    cut=st.integers(min_value=0),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=1, max_value=255)), max_size=4),
)
def test_byte_level_mutations(which: int, cut: int, flips: list[tuple[int, int]]) -> None:
    """Flipped bytes and truncation anywhere in the raw answer (including inside base64 wire transactions)."""
    raw = bytearray(_dumps(DOCS[which][1]))
    for position, mask in flips:
        raw[position % len(raw)] ^= mask
    raw = raw[: max(1, cut % (len(raw) + 1))] if cut % 3 == 0 else raw
    _outcome_ok(decode_raw, bytes(raw))


@needs_fixtures
@FUZZ
@given(which=st.integers(min_value=0, max_value=max(0, len(DOCS) - 1)), data=st.data())
def test_wire_transaction_bytes_mutated(which: int, data: st.DataObject) -> None:
    """The base64 wire transaction itself mutated (bad lengths, indexes, lookup tables): solders must not panic."""
    import base64

    name, original = DOCS[which]
    tx = original.get("transaction") if isinstance(original, dict) else None
    if not (isinstance(tx, list) and len(tx) == 2 and tx[1] == "base64"):
        # Pick a base64 fixture instead.
        b64 = [d for _, d in DOCS if isinstance(d.get("transaction"), list)]
        assert b64, "the mainnet fixtures hold no base64 transaction"
        original = b64[which % len(b64)]
        tx = original["transaction"]
    wire = bytearray(base64.b64decode(tx[0]))
    for _ in range(data.draw(st.integers(min_value=1, max_value=6))):
        position = data.draw(st.integers(min_value=0, max_value=len(wire) - 1))
        wire[position] = data.draw(st.integers(min_value=0, max_value=255))
    if data.draw(st.booleans()):
        wire = wire[: data.draw(st.integers(min_value=0, max_value=len(wire)))]
    doc = copy.deepcopy(original)
    doc["transaction"] = [base64.b64encode(bytes(wire)).decode(), "base64"]
    _outcome_ok(decode_transaction, doc)


def test_fixture_count_is_what_the_fuzzer_mutates(mainnet: Path) -> None:
    """Guards against the fuzzer silently running on nothing (fails in CI when the fixtures are missing)."""
    assert len(DOCS) == len(list(Path(mainnet).rglob("*.json"))) >= 90
