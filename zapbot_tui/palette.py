"""The command palette Provider: every main-screen key is also a searchable command."""

from __future__ import annotations

from textual.command import DiscoveryHit, Hit, Hits, Provider


class ZapBotCommands(Provider):
    """Offers every action by name: the main screen's keys, and per trader (start, stop, edit, exits, details)
    and per position (sell)."""

    def _commands(self) -> list[tuple[str, str, object]]:
        from zapbot_tui.screens.main import MainScreen

        screen = self.screen if isinstance(self.screen, MainScreen) else None
        if screen is None:
            for candidate in self.app.screen_stack:
                if isinstance(candidate, MainScreen):
                    screen = candidate
        if screen is None:
            return []
        self._main = screen
        return screen.palette_commands()

    async def discover(self) -> Hits:
        for name, help_text, run in self._commands():
            yield DiscoveryHit(name, run, help=help_text)  # type: ignore[arg-type]

    async def search(self, query: str) -> Hits:
        # Textual's matcher is fuzzy: "stp alp" finds "Stop copying alpha", "sel bonk" finds "Sell BONK".
        matcher = self.matcher(query)
        for name, help_text, run in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), run, help=help_text)  # type: ignore[arg-type]
