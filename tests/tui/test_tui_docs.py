"""docs/CONSOLE.md shows the console at every supported size and documents every key of the main screen."""

from __future__ import annotations

from pathlib import Path

from zapbot_tui.screens.main import KEYS

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = ROOT / "tests" / "tui" / "__snapshots__" / "test_tui_snapshots"
SIZES = ("80x24", "100x32", "120x40", "160x50")
# How a key is written in the docs' keys table.
SPELLED = {
    "enter": "Enter",
    "slash": "/",
    "tab": "Tab",
    "shift+tab": "Shift-Tab",
    "question_mark": "?",
    "escape": "Esc",
}


def test_console_doc_has_a_screenshot_per_size_matching_the_snapshot() -> None:
    doc = (ROOT / "docs" / "CONSOLE.md").read_text()
    for size in SIZES:
        picture = ROOT / "docs" / "console" / f"main-{size}.svg"
        assert f"(console/main-{size}.svg)" in doc
        # The picture in the docs is the current snapshot, not an old one.
        assert picture.read_text() == (SNAPSHOTS / f"test_main_screen_at_every_size[{size}].svg").read_text()


def test_console_doc_documents_every_key() -> None:
    doc = (ROOT / "docs" / "CONSOLE.md").read_text()
    table = doc[doc.index("## Keys") :]
    table = table[: table.index("\n\n", table.index("| key |"))]
    keys_column = " ".join(line.split("|")[1] for line in table.splitlines() if line.startswith("| "))
    for key, *_ in KEYS:
        assert SPELLED.get(key, key) in keys_column.split() or SPELLED.get(key, key) in keys_column, key
    for extra in ("End", "G", "ctrl+p"):
        assert extra in keys_column
