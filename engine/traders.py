"""Followed traders: the TraderConfig model and traders.toml (read with tomllib; a file a person has edited
is changed with tomlkit to keep its comments and layout, else written afresh with tomli-w, atomically)."""

from __future__ import annotations

import os
import tempfile
import threading
import tomllib
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


class TraderBook:
    """The in-memory list of traders, persisted to traders.toml on every change."""

    def __init__(self, path: Path | None, traders: list[TraderConfig] | None = None) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._traders: dict[str, TraderConfig] = {}
        for trader in traders if traders is not None else (load_traders(path) if path else []):
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
        """The stored spelling of name: exact, else the one trader whose name equals it ignoring case."""
        if name in self._traders:
            return name
        folded = name.casefold()
        matches = [key for key in self._traders if key.casefold() == folded]
        return matches[0] if len(matches) == 1 else None

    def by_wallet(self, wallet: str) -> TraderConfig | None:
        with self._lock:
            for trader in self._traders.values():
                if trader.wallet == wallet:
                    return trader
        return None

    def _save(self, previous: dict[str, TraderConfig]) -> None:
        """Persist; on failure restore the previous list so memory and file never disagree."""
        if self.path is None:
            return
        try:
            save_traders(self.path, list(self._traders.values()))
        except OSError as exc:
            self._traders = previous
            raise ConfigError(f"{self.path}: cannot write traders file: {exc.strerror or exc}") from None

    def add(self, trader: TraderConfig) -> None:
        with self._lock:
            existing = self._key(trader.name)
            if existing is not None:
                raise ValueError(f"a trader named {existing!r} already exists")
            if self.by_wallet(trader.wallet) is not None:
                raise ValueError(f"wallet {trader.wallet} is already followed")
            previous = dict(self._traders)
            self._traders[trader.name] = trader
            self._save(previous)

    def replace(self, name: str, trader: TraderConfig) -> None:
        with self._lock:
            name = self._key(name) or name
            if name not in self._traders:
                raise KeyError(f"no trader named {name!r}")
            other = self.by_wallet(trader.wallet)
            if other is not None and other.name != name:
                raise ValueError(f"wallet {trader.wallet} is already followed by {other.name}")
            if trader.name != name and trader.name in self._traders:
                raise ValueError(f"a trader named {trader.name!r} already exists")
            previous = dict(self._traders)
            items = [(trader.name, trader) if k == name else (k, v) for k, v in self._traders.items()]
            self._traders = dict(items)
            self._save(previous)

    def remove(self, name: str) -> TraderConfig:
        with self._lock:
            name = self._key(name) or name
            if name not in self._traders:
                raise KeyError(f"no trader named {name!r}")
            previous = dict(self._traders)
            trader = self._traders.pop(name)
            self._save(previous)
            return trader

    def set_active(self, name: str, active: bool) -> TraderConfig:
        with self._lock:
            name = self._key(name) or name
            trader = self._traders.get(name)
            if trader is None:
                raise KeyError(f"no trader named {name!r}")
            previous = dict(self._traders)
            updated = trader.model_copy(update={"active": active})
            self._traders[name] = updated
            self._save(previous)
            return updated
