"""The trader book: the running engine's followed traders, kept in step with traders.toml by
read-modify-write under its lock, and reloaded when another writer changes the file."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config import ConfigError
from engine.trader_model import TraderConfig, parse_traders, validate_address
from engine.traders_file import (
    LOCK_WAIT_S,
    FileSignature,
    TradersLocked,
    atomic_write_text,
    digest_of,
    load_traders,
    parse_bytes,
    read_disk,
    save_traders,
    signature_of,
    traders_by_name,
    traders_file_lock,
)

__all__ = [  # the names callers have always imported from engine.traders
    "LOCK_WAIT_S",
    "TraderBook",
    "TraderConfig",
    "TradersChange",
    "TradersLocked",
    "atomic_write_text",
    "digest_of",
    "load_traders",
    "parse_traders",
    "save_traders",
    "stored_name",
    "traders_file_lock",
    "validate_address",
]


@dataclass(frozen=True)
class TradersChange:
    """What a reload of traders.toml changed, by trader name (a rename is a removal and an addition)."""

    added: tuple[TraderConfig, ...] = ()
    removed: tuple[TraderConfig, ...] = ()
    changed: tuple[tuple[TraderConfig, TraderConfig], ...] = ()  # (before, after)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


Edit = Callable[[dict[str, TraderConfig]], Any]


def stored_name(traders: dict[str, Any], name: str) -> str | None:
    """The stored spelling of name: exact, else the one trader whose name equals it ignoring case."""
    if name in traders:
        return name
    folded = name.casefold()
    matches = [key for key in traders if key.casefold() == folded]
    return matches[0] if len(matches) == 1 else None


class TraderBook:
    """The in-memory list of traders, persisted to traders.toml on every change.

    Every change is a read-modify-write of the file under its lock: the file on disk is read again, only
    this change is applied to it, and it is replaced atomically. Memory gets the same change; anything
    else the file holds that memory does not (another writer's edit) reaches memory through reload(), so
    the running engine applies it (subscribes, stops, resizes) rather than just remembering it.
    """

    def __init__(self, path: Path | None, traders: list[TraderConfig] | None = None) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._traders: dict[str, TraderConfig] = {}
        # The file version memory reflects: a file with another signature is read again by reload().
        self._seen: FileSignature | None = None
        self.digest = ""  # sha256 of the file memory reflects ("" until known)
        self.watched = False  # a running engine reloads this book; see watch()
        self._pending: list[Edit] = []  # changes made while the file did not parse, written once it does
        if traders is None and path is not None:
            signature, raw = read_disk(path)
            traders = parse_bytes(path, raw) if raw.strip() else []
            self._seen, self.digest = signature, digest_of(raw)
        for trader in traders or []:
            self._traders[trader.name] = trader

    def all(self) -> list[TraderConfig]:
        with self._lock:
            return list(self._traders.values())

    def get(self, name: str) -> TraderConfig | None:
        """The trader called name; names match case-insensitively (the exact spelling first)."""
        with self._lock:
            key = self._key(name)
            return self._traders.get(key) if key is not None else None

    def _key(self, name: str) -> str | None:
        return stored_name(self._traders, name)

    def by_wallet(self, wallet: str) -> TraderConfig | None:
        with self._lock:
            for trader in self._traders.values():
                if trader.wallet == wallet:
                    return trader
        return None

    # -- the running engine's view of the file ----------------------------------------------------
    def watch(self) -> None:
        """Mark this book as a running engine's: from now on a change made while the file does not parse
        applies in memory at once (stopping a trader must never wait for the operator to fix a typo) and is
        written when the file parses again."""
        self.watched = True

    def disk_signature(self) -> FileSignature | None:
        """The file's (inode, mtime_ns, size) now: one stat."""
        return signature_of(self.path) if self.path is not None else None

    def changed_on_disk(self) -> bool:
        """A cheap check (one stat) whether the file may differ from what memory reflects, or changes made
        meanwhile still wait to be written."""
        return self.path is not None and (bool(self._pending) or self.disk_signature() != self._seen)

    def reload(self) -> TradersChange:
        """Make memory what the file says; returns what changed. A file that does not parse (or is gone)
        raises a one-line ConfigError once per version of it, and the traders in memory stay in force.
        Changes made while it did not parse are written into it now, under the lock."""
        if self.path is None:
            return TradersChange()
        if self._pending:
            # No wait: the caller (the data worker's tick) must not stall; it tries again on the next one.
            with traders_file_lock(self.path, wait_s=0.0):
                return self._reload(self.path, locked=True)
        return self._reload(self.path, locked=False)

    def _reload(self, path: Path, *, locked: bool) -> TradersChange:
        with self._lock:
            signature, raw = read_disk(path)
            if signature is None and self._traders:
                # Deleted (or mid-save by an editor that deletes first): never read as "follow nobody".
                self._seen = None
                raise ConfigError(f"{path}: the file is gone; restore it, or remove traders one by one")
            if digest_of(raw) == self.digest and not (locked and self._pending):
                self._seen = signature
                return TradersChange()
            try:
                loaded = traders_by_name(path, raw)
            except ConfigError:
                self._seen = signature  # reported once; the next version of the file is read again
                raise
            if locked and self._pending:
                if self._apply_pending(loaded):
                    save_traders(path, list(loaded.values()))
                    signature, raw = read_disk(path)
            previous = self._traders
            self._traders = loaded
            self._seen, self.digest = signature, digest_of(raw)
        return TradersChange(
            added=tuple(t for name, t in loaded.items() if name not in previous),
            removed=tuple(t for name, t in previous.items() if name not in loaded),
            changed=tuple(
                (previous[name], t) for name, t in loaded.items() if name in previous and previous[name] != t
            ),
        )

    def _apply_pending(self, traders: dict[str, TraderConfig]) -> bool:
        """Apply the changes kept while the file did not parse, in order; True if that changed traders."""
        before = list(traders.values())
        for edit in self._pending:
            try:
                edit(traders)
            except (KeyError, ValueError):
                pass  # the operator's edit removed or renamed what it changed: theirs is the newer word
        self._pending.clear()
        return list(traders.values()) != before

    # -- changes ------------------------------------------------------------------------------------
    def _change(self, edit: Edit) -> Any:
        """Apply edit to the file (read again under its lock) and to memory; returns edit's result on the
        file's traders. KeyError/ValueError from the file's traders reach the caller and change nothing.

        The file lock is taken before the memory lock, so readers (the executor) never wait behind a
        writer that waits for the file."""
        if self.path is None:
            with self._lock:
                return edit(self._traders)
        try:
            with traders_file_lock(self.path):
                try:
                    signature, raw = read_disk(self.path)
                    on_disk = traders_by_name(self.path, raw)
                except ConfigError:
                    if not self.watched:
                        raise
                    return self._change_later(edit)
                with self._lock:
                    # Memory still reflects the version read: it becomes the new file, this change included.
                    in_sync = not self._pending and (signature == self._seen or digest_of(raw) == self.digest)
                    if self._pending:
                        self._apply_pending(on_disk)  # earlier changes go first, as they were made
                    result = edit(on_disk)
                    try:
                        save_traders(self.path, list(on_disk.values()))
                    except OSError as exc:
                        raise ConfigError(
                            f"{self.path}: cannot write traders file: {exc.strerror or exc}"
                        ) from None
                    if in_sync:
                        self._traders = on_disk
                        self._seen, written = read_disk(self.path)
                        self.digest = digest_of(written)
                    else:
                        # The file held a change memory has not taken in (another writer's): memory takes
                        # this change only, and reload() brings in, and applies, the rest.
                        try:
                            edit(self._traders)
                        except (KeyError, ValueError):
                            pass
                    return result
        except TradersLocked:
            if not self.watched:
                raise
            return self._change_later(edit)

    def _change_later(self, edit: Edit) -> Any:
        """The running engine's change while the file cannot be written: in force now, written by the next
        reload that can."""
        with self._lock:
            result = edit(self._traders)
            self._pending.append(edit)
            return result

    def add(self, trader: TraderConfig) -> None:
        def edit(traders: dict[str, TraderConfig]) -> None:
            existing = stored_name(traders, trader.name)
            if existing is not None:
                raise ValueError(f"a trader named {existing!r} already exists")
            if any(t.wallet == trader.wallet for t in traders.values()):
                raise ValueError(f"wallet {trader.wallet} is already followed")
            traders[trader.name] = trader

        self._change(edit)

    def replace(self, name: str, trader: TraderConfig) -> None:
        def edit(traders: dict[str, TraderConfig]) -> None:
            key = stored_name(traders, name) or name
            if key not in traders:
                raise KeyError(f"no trader named {name!r}")
            other = next((t for t in traders.values() if t.wallet == trader.wallet), None)
            if other is not None and other.name != key:
                raise ValueError(f"wallet {trader.wallet} is already followed by {other.name}")
            if trader.name != key and trader.name in traders:
                raise ValueError(f"a trader named {trader.name!r} already exists")
            items = [(trader.name, trader) if k == key else (k, v) for k, v in traders.items()]
            traders.clear()
            traders.update(items)

        self._change(edit)

    def remove(self, name: str) -> TraderConfig:
        def edit(traders: dict[str, TraderConfig]) -> TraderConfig:
            key = stored_name(traders, name) or name
            if key not in traders:
                raise KeyError(f"no trader named {name!r}")
            return traders.pop(key)

        return self._change(edit)

    def set_active(self, name: str, active: bool) -> TraderConfig:
        def edit(traders: dict[str, TraderConfig]) -> TraderConfig:
            key = stored_name(traders, name) or name
            trader = traders.get(key)
            if trader is None:
                raise KeyError(f"no trader named {name!r}")
            updated = trader.model_copy(update={"active": active})
            traders[key] = updated
            return updated

        return self._change(edit)
