"""traders.toml on disk: read with tomllib; a file a person has edited is changed with tomlkit to keep its
comments and layout, else written afresh with tomli-w, atomically, under the file's lock."""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import tomli_w
import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Item, Key, Table

from engine.config import ConfigError, read_toml
from engine.trader_model import TraderConfig, parse_traders


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


def signature_of(path: Path) -> FileSignature | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def parse_bytes(path: Path, raw: bytes) -> list[TraderConfig]:
    """The traders in raw (the bytes of path), or the one-line ConfigError load_traders would give."""
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: TOML syntax error: {exc}; fix the file's syntax") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    return parse_traders(data, str(path))


def read_disk(path: Path) -> tuple[FileSignature | None, bytes]:
    """The file's signature and bytes (b"" when missing). The signature is taken first, so a change made
    while reading leaves a stale signature and is read again on the next check, never skipped."""
    if path.exists() and not path.is_file():
        raise ConfigError(f"{path}: is not a file; remove it or point --file at a traders.toml")
    signature = signature_of(path)
    try:
        return signature, path.read_bytes()
    except FileNotFoundError:
        return None, b""
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def traders_by_name(path: Path, raw: bytes) -> dict[str, TraderConfig]:
    return {t.name: t for t in parse_bytes(path, raw)} if raw.strip() else {}


def digest_of(raw: bytes) -> str:
    """What `zapbot traders` compares with the running engine's applied digest."""
    return hashlib.sha256(raw).hexdigest()
