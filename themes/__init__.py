"""ZapBot's console themes: Textual Theme objects registered on the app, chosen with --theme and `t`."""

from __future__ import annotations

from textual.theme import Theme

DEFAULT_THEME = "zapbot-dark"

ZAPBOT_DARK = Theme(
    name="zapbot-dark",
    primary="#2FBF9B",
    secondary="#7A8CFF",
    accent="#F5B942",
    warning="#F5B942",
    error="#FF5C6C",
    success="#4BD37B",
    foreground="#D8DEE9",
    background="#10141B",
    surface="#171C25",
    panel="#1F2633",
    boost="#262E3D",
    dark=True,
    variables={
        "footer-key-foreground": "#2FBF9B",
        "block-cursor-background": "#2FBF9B",
        "block-cursor-foreground": "#10141B",
        "border": "#2FBF9B",
        "border-blurred": "#3A4456",
    },
)

ZAPBOT_LIGHT = Theme(
    name="zapbot-light",
    primary="#0A7E64",
    secondary="#3949AB",
    accent="#B26A00",
    warning="#B26A00",
    error="#C62828",
    success="#2E7D32",
    foreground="#1B2330",
    background="#F7F8FA",
    surface="#FFFFFF",
    panel="#E6EAF0",
    boost="#DDE3EB",
    dark=False,
    variables={
        "footer-key-foreground": "#0A7E64",
        "block-cursor-background": "#0A7E64",
        "block-cursor-foreground": "#FFFFFF",
        "border": "#0A7E64",
        "border-blurred": "#B8C2D0",
    },
)

# Only ANSI colour names: a 16-colour terminal (or one over a poor SSH link) maps them to its own
# palette, so contrast is whatever the operator's terminal already makes readable.
ZAPBOT_CONTRAST = Theme(
    name="zapbot-contrast",
    ansi=True,
    primary="ansi_bright_cyan",
    secondary="ansi_bright_blue",
    accent="ansi_bright_yellow",
    warning="ansi_bright_yellow",
    error="ansi_bright_red",
    success="ansi_bright_green",
    foreground="ansi_bright_white",
    background="ansi_black",
    surface="ansi_black",
    panel="ansi_black",
    boost="ansi_black",
    dark=True,
    variables={
        "ansi-background": "ansi_black",
        "ansi-foreground": "ansi_bright_white",
        "border": "ansi_bright_cyan",
        "border-blurred": "ansi_white",
        "block-cursor-foreground": "ansi_black",
        "block-cursor-background": "ansi_bright_cyan",
        "block-cursor-blurred-foreground": "ansi_black",
        "block-cursor-blurred-background": "ansi_white",
        "footer-key-foreground": "ansi_bright_cyan",
        "footer-background": "ansi_black",
        "footer-description-foreground": "ansi_bright_white",
        "input-cursor-background": "ansi_bright_white",
        "input-cursor-foreground": "ansi_black",
        "input-cursor-text-style": "none",
        "input-selection-background": "ansi_bright_blue",
        "input-selection-foreground": "ansi_black",
        "scrollbar": "ansi_white",
        "scrollbar-background": "ansi_black",
        "screen-selection-background": "ansi_bright_blue",
        "screen-selection-foreground": "ansi_black",
    },
)

THEMES: dict[str, Theme] = {theme.name: theme for theme in (ZAPBOT_DARK, ZAPBOT_LIGHT, ZAPBOT_CONTRAST)}
THEME_NAMES: tuple[str, ...] = tuple(THEMES)


def register_themes(app) -> None:  # type: ignore[no-untyped-def]
    """Register every ZapBot theme on a Textual App."""
    for theme in THEMES.values():
        app.register_theme(theme)


def next_theme(current: str) -> str:
    """The theme after current in THEME_NAMES (wrapping); the default for an unknown name."""
    if current not in THEME_NAMES:
        return DEFAULT_THEME
    return THEME_NAMES[(THEME_NAMES.index(current) + 1) % len(THEME_NAMES)]
