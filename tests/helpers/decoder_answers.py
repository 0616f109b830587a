"""Every answer of whichever decoder `import engine` finds, over the mainnet fixtures and mutations of them.

Imported by a test, it answers with the source tree's decoder; run as a script from outside the project
(`python decoder_answers.py FOLDER...`), with the installed package's (the compiled one, see setup.py),
and prints {"compiled": bool, "answers": [...]} as JSON. The two lists must be equal.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import orjson

# Values a mutation puts in place of a field: wrong types, sizes and shapes a hostile server might send.
_ODD_VALUES: list[Any] = [None, 0, -1, 2**63, "x", "", [], {}, True, 1.5, [None], {"amount": "1"}]
MUTATIONS_PER_FIXTURE = 8


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node[:20]):
            found.extend(_paths(value, (*prefix, index)))
    return found


def _mutated(doc: Any, path: tuple, value: Any) -> Any:
    copy = orjson.loads(orjson.dumps(doc))
    node = copy
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return copy


def _answer(fn: Any, *args: Any, **kwargs: Any) -> Any:
    # A DecodeError's wording may differ (a compiled function checks its argument types on entry, where
    # Python fails one step later with another exception); that it is a DecodeError may not.
    from engine.decoding import DecodeError

    try:
        return fn(*args, **kwargs).to_json_dict()
    except DecodeError:
        return "DecodeError"


def _keys(doc: Any) -> list[str]:
    from engine.decoding.document import from_dict
    from engine.decoding.wire import read_message

    try:
        return read_message(from_dict(doc.get("result", doc))).keys
    except Exception:  # noqa: BLE001 - a fixture the decoder refuses has no keys to try as wallets
        return []


def answers(folders: list[Path]) -> list[Any]:
    """For each fixture: its bytes decoded with no wallet, with each of its first six keys, with unknown
    venues allowed, from a dict; then MUTATIONS_PER_FIXTURE seeded mutations of it, as bytes and dicts."""
    from engine.decoding import decode_raw, decode_transaction

    out: list[Any] = []
    for path in sorted(p for folder in folders for p in folder.rglob("*.json")):
        raw = path.read_bytes()
        doc = orjson.loads(raw)
        name = path.name
        out.append([name, "raw", _answer(decode_raw, raw)])
        out.append([name, "unknown", _answer(decode_raw, raw, allow_unknown_venue=True)])
        out.append([name, "dict", _answer(decode_transaction, doc.get("result", doc))])
        for wallet in _keys(doc)[:6]:
            out.append([name, wallet, _answer(decode_raw, raw, wallet)])
        draw = random.Random(name)
        paths = _paths(doc)
        for _ in range(MUTATIONS_PER_FIXTURE if paths else 0):
            where = draw.choice(paths)
            mutant = _mutated(doc, where, draw.choice(_ODD_VALUES))
            label = "/".join(map(str, where))
            out.append([name, label, _answer(decode_raw, orjson.dumps(mutant))])
            out.append([name, label, _answer(decode_transaction, mutant.get("result", mutant))])
    return out


def compiled() -> bool:
    import engine.decoding.decoder

    return not engine.decoding.decoder.__file__.endswith(".py")


if __name__ == "__main__":
    print(
        orjson.dumps({"compiled": compiled(), "answers": answers([Path(a) for a in sys.argv[1:]])}).decode()
    )
