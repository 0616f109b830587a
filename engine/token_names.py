"""How a token is named on screen: its metadata's symbol and decimals (read once per mint by the cache
worker, engine/chain/token_meta.py) put on the trade and position views that have none of their own."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

V = TypeVar("V")

MAX_TOKENS = 20_000  # token names the live state keeps


@dataclass(frozen=True, slots=True)
class TokenView:
    """A token's name as its metadata gives it; "" when it has none (the short mint is shown)."""

    symbol: str = ""
    name: str = ""
    decimals: int | None = None


def named(view: V, token: TokenView | None) -> V:
    """`view` (a TradeView or PositionView) with the token's symbol, and its decimals where the view has
    none; the view itself when there is nothing to add."""
    if token is None:
        return view
    changes: dict[str, Any] = {}
    if not view.symbol and token.symbol:  # type: ignore[attr-defined]
        changes["symbol"] = token.symbol
    decimals_field = "token_decimals" if hasattr(view, "token_decimals") else "decimals"
    if getattr(view, decimals_field) is None and token.decimals is not None:
        changes[decimals_field] = token.decimals
    return replace(view, **changes) if changes else view  # type: ignore[type-var]


def label(mint: str, token: TokenView | None) -> str:
    """'ZAP' or, for a token with no symbol, the mint shortened (7xKX…s9fQ)."""
    if token is not None and token.symbol:
        return token.symbol
    return f"{mint[:4]}…{mint[-4:]}" if len(mint) > 9 else mint


def held_tokens(
    tokens: dict[str, TokenView], positions: Iterable[str], untracked: Iterable[str], lots: Iterable[Any]
) -> dict[str, TokenView]:
    """The names a snapshot carries: those of what is held (an untracked holding has no view of its own to
    carry its symbol), not of every mint ever seen; trades and positions carry theirs already."""
    held = {*positions, *untracked, *(lot.mint for lot in lots)}
    return {mint: tokens[mint] for mint in held if mint in tokens}
