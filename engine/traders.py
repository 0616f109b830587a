"""Followed traders: the TraderConfig model and traders.toml (read with tomllib; a file a person has edited
is changed with tomlkit to keep its comments and layout, else written afresh with tomli-w, atomically)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import tomli_w
import tomlkit
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from solders.pubkey import Pubkey
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Item, Key, Table

from engine.config import ConfigError, check_take_profit_levels, read_toml, validation_line

LAMPORTS_PER_SOL = 1_000_000_000


def validate_address(value: str) -> str:
    """A base58 Solana address of 32 bytes, or ValueError with a short reason."""
    text = str(value).strip()
    try:
        key = Pubkey.from_string(text)
    except Exception:
        raise ValueError(f"{text!r} is not a valid Solana address (base58, 32 bytes)") from None
    if str(key) != text:
        raise ValueError(f"{text!r} is not a valid Solana address (base58, 32 bytes)")
    return text


class TraderConfig(BaseModel):
    """One followed wallet and how to copy it."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    name: str = Field(min_length=1, max_length=40)
    wallet: str
    active: bool = True
    sizing: Literal["fixed", "percent"] = "fixed"
    fixed_sol: float = Field(0.1, gt=0)
    percent: float = Field(10.0, gt=0, le=1000)
    min_sol: float = Field(0.01, ge=0)
    max_sol: float = Field(1.0, gt=0)
    copy_buys: bool = True
    copy_sells: bool = True
    proportional_sells: bool = True
    min_leader_sol: float = Field(0.0, ge=0)
    max_leader_sol: float | None = Field(None, gt=0)
    buy_once: bool = False
    slippage_bps: int = Field(300, ge=1, le=5000)
    priority_fee: int | Literal["auto"] = "auto"
    priority_fee_cap_lamports: int = Field(200_000, ge=0)
    jito_tip_lamports: int = Field(0, ge=0)
    # Exit rules of this trader's lots; None = use [exits] (0 = off for this trader).
    take_profit_pct: float | None = Field(None, ge=0)
    take_profit_sell_pct: float | None = Field(None, gt=0, le=100)
    take_profit_levels: list[list[float]] | None = None
    stop_loss_pct: float | None = Field(None, ge=0, lt=100)
    trailing_stop_pct: float | None = Field(None, ge=0, lt=100)
    trailing_arm_pct: float | None = Field(None, ge=0)
    max_hold_minutes: float | None = Field(None, ge=0)
    follow_leader_sells: bool | None = None

    @field_validator("wallet")
    @classmethod
    def _wallet(cls, value: str) -> str:
        return validate_address(value)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not value or any(ch in value for ch in "\n\r\t"):
            raise ValueError("use a short name without tabs or newlines")
        return value

    @field_validator("take_profit_levels")
    @classmethod
    def _levels(cls, value: list[list[float]] | None) -> list[list[float]] | None:
        return check_take_profit_levels(value)

    @field_validator("priority_fee", mode="before")
    @classmethod
    def _fee_type(cls, value: Any) -> Any:
        if isinstance(value, bool):  # TOML true/false would otherwise pass as 1/0
            raise ValueError('use micro-lamports per CU (a whole number) or "auto"')
        return value

    @field_validator("priority_fee")
    @classmethod
    def _fee(cls, value: Any) -> Any:
        if isinstance(value, int) and value < 0:
            raise ValueError('use a non-negative micro-lamports per CU, or "auto"')
        return value

    @model_validator(mode="after")
    def _clamp_order(self) -> "TraderConfig":
        if self.min_sol > self.max_sol:
            raise ValueError(f"min_sol ({self.min_sol}) is above max_sol ({self.max_sol})")
        if self.max_leader_sol is not None and self.min_leader_sol > self.max_leader_sol:
            raise ValueError("min_leader_sol is above max_leader_sol")
        return self

    def sizing_summary(self) -> str:
        if self.sizing == "fixed":
            return f"{self.fixed_sol:g} SOL"
        return f"{self.percent:g}% [{self.min_sol:g}-{self.max_sol:g}]"

    def to_toml_dict(self) -> dict[str, Any]:
        data = self.model_dump(mode="python", exclude_none=True)
        return data


def parse_traders(data: dict[str, Any], source: str) -> list[TraderConfig]:
    """Validate the traders.toml tree; one-line ConfigError on the first problem."""
    unknown = set(data) - {"traders"}
    if unknown:
        raise ConfigError(
            f"{source}: {sorted(unknown)[0]}: unknown key; the file holds [[traders]] tables only"
        )
    raw = data.get("traders", [])
    if not isinstance(raw, list):
        raise ConfigError(f"{source}: traders: must be an array of tables ([[traders]])")
    traders: list[TraderConfig] = []
    names: set[str] = set()
    wallets: set[str] = set()
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise ConfigError(f"{source}: traders[{index}]: must be a table")
        try:
            trader = TraderConfig(**entry)
        except ValidationError as exc:
            line = validation_line(source, exc, {})
            label = entry.get("name", index)
            raise ConfigError(line.replace(f"{source}: ", f"{source}: traders[{label}].", 1)) from None
        if trader.name in names:
            raise ConfigError(
                f"{source}: traders[{trader.name}]: duplicate name; give each trader its own name"
            )
        if trader.wallet in wallets:
            raise ConfigError(f"{source}: traders[{trader.name}].wallet: {trader.wallet} is listed twice")
        names.add(trader.name)
        wallets.add(trader.wallet)
        traders.append(trader)
    return traders


def load_traders(path: Path) -> list[TraderConfig]:
    if path.exists() and not path.is_file():
        raise ConfigError(f"{path}: is not a file; remove it or point --file at a traders.toml")
    if not path.is_file():
        return []
    return parse_traders(read_toml(path, "traders"), str(path))


def atomic_write_text(path: Path, text: str) -> None:
    """Write text to path via a temp file and rename, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _trader_table(trader: TraderConfig) -> Table:
    table = tomlkit.table()
    for key, value in trader.to_toml_dict().items():
        table[key] = value
    return table


def _fresh_document(traders: list[TraderConfig]) -> str:
    # Byte for byte what tomlkit would write for a new file, at a thirtieth of the cost (the embedded
    # cluster may bring thousands of traders); tomlkit is for editing a file a person has touched.
    return tomli_w.dumps({"traders": [trader.to_toml_dict() for trader in traders]})


def _read_back(text: str, source: str) -> list[TraderConfig] | None:
    try:
        return parse_traders(tomllib.loads(text), source)
    except (tomllib.TOMLDecodeError, ConfigError):
        return None


BodyEntry = tuple[Key | None, Item]


def _split_trailing(table: Table) -> tuple[list[BodyEntry], list[BodyEntry]]:
    """The table's keys (with comments between them), and the comments and blank lines after its last
    key: in TOML those sit above the next [[traders]] header and so belong to the next trader."""
    body = list(table.value.body)
    cut = len(body)
    while cut and body[cut - 1][0] is None:
        cut -= 1
    return body[:cut], body[cut:]


def table_with_keys(
    table: Table, additions: dict[str, Any], trailing: list[BodyEntry] | None = None
) -> Table:
    """A copy of a parsed table (no sub-tables) with keys added after its last key, and its trailing
    lines replaced if given; tomlkit alone would add them below the comments that head the next table."""
    keys, own_trailing = _split_trailing(table)
    rebuilt = tomlkit.table()
    for key, item in keys:
        rebuilt.raw_append(key, item)
    for key, value in additions.items():
        rebuilt.raw_append(key, value)
    for key, item in own_trailing if trailing is None else trailing:
        rebuilt.raw_append(key, item)
    for part in ("indent", "comment_ws", "comment", "trail"):  # the header line's own comment
        setattr(rebuilt.trivia, part, getattr(table.trivia, part))
    return rebuilt


def _edit_table(table: Table, trader: TraderConfig) -> Table:
    """Change only the keys whose value differs; a key the user left out stays out while it is the default."""
    wanted = trader.to_toml_dict()
    current = table.unwrap()
    for key in [key for key in current if key not in wanted]:
        del table[key]
    additions: dict[str, Any] = {}
    for key, value in wanted.items():
        if key in current:
            if current[key] != value:
                table[key] = value
        elif value != TraderConfig.model_fields[key].default:
            additions[key] = value
    return table_with_keys(table, additions) if additions else table


def _edited_document(text: str, traders: list[TraderConfig]) -> str | None:
    """text with its [[traders]] tables edited in place to match traders, or None if it cannot be edited."""
    try:
        document = tomlkit.parse(text)
    except TOMLKitError:
        return None
    if not document:  # only comments so far
        document["traders"] = tomlkit.aot()
    tables = document.get("traders")
    if set(document) - {"traders"} or not isinstance(tables, AoT):
        return None
    # A table is the same trader if its name matches, else its wallet (a rename).
    by_name = {trader.name: trader for trader in traders}
    by_wallet = {trader.wallet: trader for trader in traders}
    index = 0
    while index < len(tables):
        table = tables[index]
        current = table.unwrap()
        trader = by_name.get(current.get("name"))
        if trader is None:
            trader = by_wallet.get(current.get("wallet"))
        if trader is None:
            # Removed: the lines above the next header move up to the previous trader; its own go.
            del tables[index]
            if index > 0:
                _replace(tables, index - 1, table_with_keys(tables[index - 1], {}, _split_trailing(table)[1]))
            continue
        del by_name[trader.name], by_wallet[trader.wallet]
        _replace(tables, index, _edit_table(table, trader))
        index += 1
    for trader in by_name.values():
        table = _trader_table(trader)
        if len(tables) and not _split_trailing(tables[-1])[1]:
            table.trivia.indent = "\n"  # a blank line between traders
        tables.append(table)
    return tomlkit.dumps(document)


def _replace(tables: AoT, index: int, table: Table) -> None:
    if tables[index] is not table:
        del tables[index]
        tables.insert(index, table)


def save_traders(path: Path, traders: list[TraderConfig]) -> None:
    """Write traders to path atomically, editing the existing file so comments and layout survive.

    A file as ZapBot itself writes it has no layout of its own to keep and is written afresh, as is one
    whose edit would not read back as exactly these traders (an unusual layout): comments lost, never a
    setting.
    """
    try:
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
    except (OSError, UnicodeDecodeError):
        text = ""
    fresh = _fresh_document(traders)
    edited: str | None = None
    if text.strip():
        held = _read_back(text, str(path))
        if held is None or _fresh_document(held) != text:
            edited = _edited_document(text, traders)
    if edited is not None and _read_back(edited, str(path)) != traders:
        edited = None
    atomic_write_text(path, fresh if edited is None else edited)


LOCK_WAIT_S = 2.0  # a writer gives up after this long rather than hang behind a stuck one


class TradersLocked(ConfigError):
    """Another writer has held traders.toml.lock for LOCK_WAIT_S."""


@contextmanager
def traders_file_lock(path: Path, wait_s: float | None = None) -> Iterator[None]:
    """Hold PATH.lock exclusively (fcntl.flock) for one read-modify-write of path: every ZapBot writer
    (CLI, console, Telegram, the engine itself) takes it, so no writer replaces a newer file with its older
    copy. An editor does not take it; its save is picked up by the running engine's reload instead.

    flock locks belong to the open file, so two threads of one process exclude each other too. The lock
    file is never removed: removing it would let two writers hold "the" lock on different inodes. The wait
    is bounded (a stopped `zapbot traders` must not stall the engine): TradersLocked after wait_s."""
    wait_s = LOCK_WAIT_S if wait_s is None else wait_s
    lock_path = path.with_name(path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as handle:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TradersLocked(
                        f"{lock_path}: held by another writer (waited {wait_s:g} s); try again"
                    ) from None
                time.sleep(0.005)  # flock has no timed wait; writers hold it for milliseconds
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


FileSignature = tuple[int, int, int]  # (inode, mtime_ns, size): an atomic replace changes the inode


def _signature(path: Path) -> FileSignature | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _parse_bytes(path: Path, raw: bytes) -> list[TraderConfig]:
    """The traders in raw (the bytes of path), or the one-line ConfigError load_traders would give."""
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: TOML syntax error: {exc}; fix the file's syntax") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    return parse_traders(data, str(path))


def _read_disk(path: Path) -> tuple[FileSignature | None, bytes]:
    """The file's signature and bytes (b"" when missing). The signature is taken first, so a change made
    while reading leaves a stale signature and is read again on the next check, never skipped."""
    if path.exists() and not path.is_file():
        raise ConfigError(f"{path}: is not a file; remove it or point --file at a traders.toml")
    signature = _signature(path)
    try:
        return signature, path.read_bytes()
    except FileNotFoundError:
        return None, b""
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def _traders_of(path: Path, raw: bytes) -> dict[str, TraderConfig]:
    return {t.name: t for t in _parse_bytes(path, raw)} if raw.strip() else {}


def digest_of(raw: bytes) -> str:
    """What `zapbot traders` compares with the running engine's applied digest."""
    return hashlib.sha256(raw).hexdigest()


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
            signature, raw = _read_disk(path)
            traders = _parse_bytes(path, raw) if raw.strip() else []
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
        return _signature(self.path) if self.path is not None else None

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
            signature, raw = _read_disk(path)
            if signature is None and self._traders:
                # Deleted (or mid-save by an editor that deletes first): never read as "follow nobody".
                self._seen = None
                raise ConfigError(f"{path}: the file is gone; restore it, or remove traders one by one")
            if digest_of(raw) == self.digest and not (locked and self._pending):
                self._seen = signature
                return TradersChange()
            try:
                loaded = _traders_of(path, raw)
            except ConfigError:
                self._seen = signature  # reported once; the next version of the file is read again
                raise
            if locked and self._pending:
                if self._apply_pending(loaded):
                    save_traders(path, list(loaded.values()))
                    signature, raw = _read_disk(path)
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
                    signature, raw = _read_disk(self.path)
                    on_disk = _traders_of(self.path, raw)
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
                        self._seen, written = _read_disk(self.path)
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
