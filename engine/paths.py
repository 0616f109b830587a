"""Where ZapBot keeps its state: ZAPBOT_HOME and the files inside it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def zapbot_home() -> Path:
    """ZAPBOT_HOME, default ~/.zapbot (created on demand by the callers that write)."""
    raw = os.environ.get("ZAPBOT_HOME")
    return Path(raw).expanduser() if raw else Path.home() / ".zapbot"


@dataclass(frozen=True)
class HomePaths:
    """The files of one ZapBot home."""

    home: Path

    @property
    def config(self) -> Path:
        return self.home / "zapbot.toml"

    @property
    def traders(self) -> Path:
        return self.home / "traders.toml"

    @property
    def db(self) -> Path:
        return self.home / "zapbot.db"

    @property
    def paper_db(self) -> Path:
        return self.home / "zapbot-paper.db"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def log_file(self) -> Path:
        return self.logs / "threading.log"

    @property
    def sim_keypair(self) -> Path:
        return self.home / "sim-keypair.json"

    @property
    def runtime(self) -> Path:
        """Written by a running engine so `zapbot status` can find its HTTP endpoint."""
        return self.home / "runtime.json"

    def db_for_mode(self, mode: str) -> Path:
        return self.paper_db if mode == "paper" else self.db

    def ensure(self) -> "HomePaths":
        self.home.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        return self


def home_paths(home: Path | None = None) -> HomePaths:
    return HomePaths(home or zapbot_home())
