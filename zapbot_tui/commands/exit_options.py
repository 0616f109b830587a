"""The exit-rule options of `zapbot traders add` and `zapbot traders edit`: one option per [exits] key a
trader may override, each taking a number (0 = off for this trader) or `default` (use [exits])."""

from __future__ import annotations

import argparse
from typing import Any

DEFAULT_WORD = "default"

# option → (TraderConfig field, help); argparse formats help with %, so a percent sign is written %%
_NUMBER_OPTIONS = {
    "--take-profit-pct": ("take_profit_pct", "sell --take-profit-sell-pct of a lot at this gain %%"),
    "--take-profit-sell-pct": (
        "take_profit_sell_pct",
        "share of the lot the take profit sells (default 100)",
    ),
    "--stop-loss-pct": ("stop_loss_pct", "sell the whole lot at this loss %%"),
    "--trailing-stop-pct": ("trailing_stop_pct", "sell the lot this %% below its highest value"),
    "--trailing-arm-pct": ("trailing_arm_pct", "arm the trailing stop after this rise %%"),
    "--max-hold-minutes": ("max_hold_minutes", "sell the whole lot after this long"),
}
_SUFFIX = f"; 0 = off, {DEFAULT_WORD!r} = use [exits]"


class ExitOptionError(ValueError):
    """An exit option whose value cannot be used; str() names the option and what to type."""


def add_exit_options(parser: argparse.ArgumentParser) -> None:
    """Add the exit options to a `traders add` or `traders edit` sub-parser."""
    for option, (_, help_text) in _NUMBER_OPTIONS.items():
        parser.add_argument(option, metavar="N", help=help_text + _SUFFIX)
    parser.add_argument(
        "--take-profit-levels",
        metavar="PCT:SHARE,...",
        help=f"take-profit ladder, e.g. 50:50,100:100 (gain %%:share %%, each fires once); {DEFAULT_WORD!r}"
        " = use [exits]",
    )
    parser.add_argument(
        "--follow-leader-sells",
        metavar="yes|no",
        help=f"sell when the leader sells; {DEFAULT_WORD!r} = use [exits]",
    )


def _number(option: str, raw: str) -> float | None:
    text = raw.strip().lower()
    if text == DEFAULT_WORD:
        return None
    try:
        return float(text)
    except ValueError:
        raise ExitOptionError(f"{option} {raw!r}: use a number, 0 for off, or {DEFAULT_WORD}") from None


def format_levels(levels: list[list[float]]) -> str:
    """A take-profit ladder as the options and the console form spell it: 50:50,100:100."""
    return ",".join(f"{gain:g}:{share:g}" for gain, share in levels)


def parse_levels(raw: str) -> list[list[float]]:
    """GAIN:SHARE pairs, comma separated (50:50,100:100); ExitOptionError names what to type."""
    return _levels(raw) or []


def _levels(raw: str) -> list[list[float]] | None:
    text = raw.strip().lower()
    if text == DEFAULT_WORD:
        return None
    levels: list[list[float]] = []
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        gain, sep, share = part.partition(":")
        try:
            levels.append([float(gain), float(share)])
        except ValueError:
            raise ExitOptionError(
                f"--take-profit-levels {raw!r}: use GAIN:SHARE pairs such as 50:50,100:100"
            ) from None
        if not sep:
            raise ExitOptionError(f"--take-profit-levels {raw!r}: use GAIN:SHARE pairs such as 50:50,100:100")
    return levels


def _yes_no(raw: str) -> bool | None:
    text = raw.strip().lower()
    if text == DEFAULT_WORD:
        return None
    if text in ("yes", "true", "on", "1"):
        return True
    if text in ("no", "false", "off", "0"):
        return False
    raise ExitOptionError(f"--follow-leader-sells {raw!r}: use yes, no or {DEFAULT_WORD}")


def exit_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The TraderConfig fields the given exit options set (None where the option said `default`);
    options not given are left out, so an edit keeps the trader's current value."""
    fields: dict[str, Any] = {}
    for option, (name, _) in _NUMBER_OPTIONS.items():
        raw = getattr(args, name)
        if raw is not None:
            fields[name] = _number(option, raw)
    if args.take_profit_levels is not None:
        fields["take_profit_levels"] = _levels(args.take_profit_levels)
    if args.follow_leader_sells is not None:
        fields["follow_leader_sells"] = _yes_no(args.follow_leader_sells)
    return fields
