"""Build script: compiles the swap decoder's core with mypyc (ZAPBOT_PURE_PYTHON=1 installs it as plain Python).

Everything else about the package is declared in pyproject.toml. The compiled modules are the same source
files as the Python ones; the decoder's figures with and without compiling are in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import os

from setuptools import setup

# The decoder's hot path. Its entry points and records are typed for mypyc (which checks declared types
# at run time); document.py and model.py hold msgspec structs and stay Python.
COMPILED_MODULES = [
    "engine/decoding/balances.py",
    "engine/decoding/base58.py",
    "engine/decoding/decoder.py",
    "engine/decoding/events.py",
    "engine/decoding/flows.py",
    "engine/decoding/venue.py",
    "engine/decoding/wire.py",
]


def _extensions() -> list:
    if os.environ.get("ZAPBOT_PURE_PYTHON") == "1":
        return []
    from mypyc.build import mypycify

    # Modules outside the list are read for their types only (silently), so the build needs no more than
    # the packages named in [build-system] requires.
    return mypycify(
        ["--ignore-missing-imports", "--follow-imports=silent", *COMPILED_MODULES],
        opt_level="3",
    )


setup(ext_modules=_extensions())
