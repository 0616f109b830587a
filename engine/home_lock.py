"""ZAPBOT_HOME/engine.lock: at most one engine per home, with a crashed engine's stale lock taken over."""

from __future__ import annotations

import os
from pathlib import Path

from engine.config import ConfigError


class EngineLocked(ConfigError):
    """Another engine runs on the same ZAPBOT_HOME (its lock file names a live process)."""


LOCK_FILE = "engine.lock"


class HomeLock:
    """ZAPBOT_HOME/engine.lock: one engine per home. The file holds the owner's pid under an flock, so a
    crashed engine's lock (its pid dead, its flock gone with it) is taken over, never a reason to refuse."""

    def __init__(self, home: Path) -> None:
        self.path = home / LOCK_FILE
        self._fd: int | None = None
        self.took_over: int | None = None  # the dead pid whose stale lock we took over

    def acquire(self) -> None:
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        previous = _read_pid(fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            if previous == os.getpid():
                return  # an engine of this very process that was never stopped (a test's "crash"): go on
            raise EngineLocked(
                f"another engine (pid {previous or '?'}) is running on {self.path.parent}; "
                "stop it first, or set ZAPBOT_HOME to another folder"
            ) from None
        if previous and previous != os.getpid():
            self.took_over = previous
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        import fcntl

        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def holder(self) -> int | None:
        """The pid of another process holding this lock now (0 when unknown), or None when it is free."""
        import fcntl

        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            pid = _read_pid(fd)
            return None if pid == os.getpid() else (pid or 0)
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
