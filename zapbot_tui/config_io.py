"""Remembering the console's choices (the theme) in zapbot.toml without losing the rest of the file."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import tomli_w

from engine.traders import atomic_write_text

_TABLE_RE = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_THEME_RE = re.compile(r"""^(\s*theme\s*=\s*)("(?:[^"\\]|\\.)*"|'[^']*')(.*)$""")


def _line_edit(text: str, theme: str) -> str:
    """Replace or add `theme = "..."` under [ui], keeping every other line (and comment) as it was."""
    lines = text.splitlines(keepends=True)
    quoted = tomli_w.dumps({"theme": theme}).split("=", 1)[1].strip()
    ui_start: int | None = None
    ui_end = len(lines)
    for index, line in enumerate(lines):
        match = _TABLE_RE.match(line)
        if not match:
            continue
        if ui_start is not None:
            ui_end = index
            break
        if match.group(1) == "ui" and not line.lstrip().startswith("[["):
            ui_start = index
    if ui_start is None:
        tail = "" if not text or text.endswith("\n") else "\n"
        return f"{text}{tail}\n[ui]\ntheme = {quoted}\n"
    for index in range(ui_start + 1, ui_end):
        match = _THEME_RE.match(lines[index].rstrip("\r\n"))
        if match:
            ending = lines[index][len(lines[index].rstrip("\r\n")) :] or "\n"
            lines[index] = f"{match.group(1)}{quoted}{match.group(3)}{ending}"
            return "".join(lines)
    lines.insert(ui_start + 1, f"theme = {quoted}\n")
    return "".join(lines)


def save_theme(config_path: Path, theme: str) -> None:
    """Write [ui] theme into config_path, creating the file if needed.

    A careful line edit keeps comments; if the result would not parse to the same data plus the new
    theme (an unusual file layout), the file is rewritten from its parsed data with tomli-w instead,
    which loses comments but never loses settings.
    """
    text = config_path.read_text(encoding="utf-8") if config_path.is_file() else ""
    original = tomllib.loads(text) if text else {}
    expected = dict(original)
    ui = dict(expected.get("ui", {}))
    ui["theme"] = theme
    expected["ui"] = ui
    edited = _line_edit(text, theme)
    try:
        ok = tomllib.loads(edited) == expected
    except tomllib.TOMLDecodeError:
        ok = False
    atomic_write_text(config_path, edited if ok else tomli_w.dumps(expected))
