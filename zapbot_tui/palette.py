"""The command palette Provider: every main-screen key is also a searchable command."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class ZapBotCommands(Provider):
    """Offers the main screen's bindings (Start copying, Pause all, Add trader, …) by name."""

    def _commands(self) -> list[tuple[str, str, str]]:
        from zapbot_tui.screens.main import MainScreen

        screen = self.screen if isinstance(self.screen, MainScreen) else None
        if screen is None:
            for candidate in self.app.screen_stack:
                if isinstance(candidate, MainScreen):
                    screen = candidate
        if screen is None:
            return []
        self._main = screen
        return screen.command_list()

    async def discover(self) -> Hits:
        for name, help_text, action in self._commands():
            yield DiscoveryHit(name, partial(self._main.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, action in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(name), partial(self._main.run_action, action), help=help_text
                )
