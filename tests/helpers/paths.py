"""Where the project and its test fixtures live, for tests that start subprocesses or read mainnet fixtures."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def fixtures_root() -> Path:
    return Path(os.environ.get("ZAPBOT_FIXTURES") or PROJECT_ROOT.parent / "shared" / "fixtures")


def mainnet_dir() -> Path | None:
    path = fixtures_root() / "mainnet"
    return path if path.is_dir() else None
