"""The installed decoder is compiled (mypyc, setup.py) and answers exactly as the source tree's does.

The suite imports the source tree (pytest puts the project first on sys.path); users run the installed
package, whose decoder modules are C extensions built from the same files. This test runs the installed one
in a subprocess started outside the project and compares every answer over the mainnet fixtures (shared and
tests/fixtures), several wallets each, and seeded mutations of each fixture. A difference means the compiled
build and the source disagree, or the installed copy is stale: `pip install .` again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.helpers import decoder_answers
from tests.helpers.paths import PROJECT_ROOT

pytestmark = pytest.mark.slow

OWN_FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "mainnet"


def test_installed_decoder_is_compiled_and_answers_as_the_source(mainnet: Path, tmp_path: Path) -> None:
    folders = [mainnet, OWN_FIXTURES]
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    completed = subprocess.run(
        [sys.executable, str(Path(decoder_answers.__file__)), *map(str, folders)],
        cwd=tmp_path,  # not the project: `import engine` finds the installed package
        env=environment,
        capture_output=True,
        timeout=240,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode()[-2000:]
    installed = orjson.loads(completed.stdout)
    if os.environ.get("ZAPBOT_PURE_PYTHON") != "1":
        assert installed["compiled"], "the installed decoder is plain Python: was it built with mypyc?"
    source = decoder_answers.answers(folders)
    assert len(source) > 1000  # every fixture, its wallets and its mutations
    assert any(answer != "DecodeError" and answer["swaps"] for *_, answer in source)
    assert any(answer == "DecodeError" for *_, answer in source)
    for expected, got in zip(source, installed["answers"], strict=True):
        assert got == expected, f"{expected[0]} ({expected[1]}): the installed decoder answers differently"
