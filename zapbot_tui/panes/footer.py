"""The key footer: one line when wide, two rows in a grid when narrow, so every key stays visible at 80 columns."""

from __future__ import annotations

import math

from textual.reactive import reactive
from textual.widgets import Footer


class KeyFooter(Footer):
    DEFAULT_CSS = """
    KeyFooter.-wrap { layout: grid; height: 2; grid-gutter: 0 0; }
    KeyFooter.-wrap FooterKey { width: 1fr; margin-right: 0; }
    """

    wrap: reactive[bool] = reactive(False, toggle_class="-wrap", recompose=True)

    def compose(self):  # type: ignore[no-untyped-def]
        keys = list(super().compose())
        if self.wrap:
            shown = [key for key in keys if not key.has_class("-command-palette")]
            self.styles.grid_size_columns = max(1, math.ceil(len(shown) / 2))
            keys = shown
        yield from keys

    def shown_keys(self) -> list[str]:
        """The keys currently displayed (tests use this to check every binding is visible)."""
        # FooterKey is not exported by textual.widgets, so it is queried by its type name.
        return [key.key for key in self.query("FooterKey")]
