"""Remembering the console's choices (the theme) in zapbot.toml without losing the rest of the file."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Table

from engine.traders_file import atomic_write_text, table_with_keys


def _edited(text: str, theme: str) -> str | None:
    """text with [ui] theme set by tomlkit, every other line (and comment) as it was; None if tomlkit
    cannot read it."""
    try:
        document = tomlkit.parse(text)
    except TOMLKitError:
        return None
    ui = document.get("ui")
    if ui is None:
        table = tomlkit.table()
        table["theme"] = theme
        document["ui"] = table
    elif (
        isinstance(ui, Table)
        and "theme" not in ui
        and not any(isinstance(item, Table | AoT) for _, item in ui.value.body)
    ):
        document["ui"] = table_with_keys(ui, {"theme": theme})
    else:
        ui["theme"] = theme
    return tomlkit.dumps(document)


def save_theme(config_path: Path, theme: str) -> None:
    """Write [ui] theme into config_path, creating the file if needed.

    The file is edited with tomlkit, keeping comments; if the result would not parse to the same data
    plus the new theme (an unusual file layout), the file is rewritten from its parsed data instead,
    which loses comments but never loses settings.
    """
    text = config_path.read_text(encoding="utf-8") if config_path.is_file() else ""
    original = tomllib.loads(text) if text else {}
    expected: dict[str, Any] = dict(original)
    ui = dict(expected.get("ui", {}))
    ui["theme"] = theme
    expected["ui"] = ui
    edited = _edited(text, theme)
    try:
        ok = edited is not None and tomllib.loads(edited) == expected
    except tomllib.TOMLDecodeError:
        ok = False
    atomic_write_text(config_path, edited if ok and edited is not None else tomlkit.dumps(expected))
