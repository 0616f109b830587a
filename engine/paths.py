"""Where ZapBot keeps its state: ZAPBOT_HOME and the files inside it."""

from __future__ import annotations

import json
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
    def sim_db(self) -> Path:
        """Sim's own books: nothing the local cluster does can touch the live file."""
        return self.home / "zapbot-sim.db"

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

    @property
    def engine_lock(self) -> Path:
        """A plain pid file (the pid in decimal) held by a running engine of this home."""
        return self.home / "engine.lock"

    def running_engine_pid(self) -> int | None:
        """The pid of a live engine using this home: from engine.lock, else from runtime.json (an engine
        serving HTTP); None when neither names a live process (a crashed engine leaves stale files)."""
        for pid in (_pid_in(self.engine_lock), _runtime_pid(self.runtime)):
            if pid is not None and _alive(pid):
                return pid
        return None

    def http_base_url(self) -> str | None:
        """The running engine's HTTP endpoint (http://host:port), from runtime.json; None without one. A
        wildcard bind is reached on loopback."""
        try:
            info = json.loads(self.runtime.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(info, dict) or "port" not in info:
            return None
        host = info.get("host") or "127.0.0.1"
        if host in {"0.0.0.0", "::"}:
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{info['port']}"

    def db_for_mode(self, mode: str) -> Path:
        """zapbot.db is live's alone; paper and sim each keep their own file beside it."""
        return {"paper": self.paper_db, "sim": self.sim_db}.get(mode, self.db)

    def ensure(self) -> "HomePaths":
        self.home.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        return self


def home_paths(home: Path | None = None) -> HomePaths:
    return HomePaths(home or zapbot_home())


def _pid_in(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _runtime_pid(path: Path) -> int | None:
    try:
        pid = json.loads(path.read_text()).get("pid")
    except (OSError, ValueError, AttributeError):
        return None
    return pid if isinstance(pid, int) else None


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True
