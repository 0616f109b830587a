"""Scenario files for the local cluster: tokens, traders and a timeline of trades and chaos events (TOML)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class TokenSpec:
    symbol: str
    sol_reserve_lamports: int
    token_reserve_raw: int
    fee_bps: int | None
    token2022: bool


@dataclass(frozen=True)
class TraderSpec:
    name: str
    lamports: int


@dataclass(frozen=True)
class TimelineEvent:
    """At `at` seconds after start: a trade (trader/side/token/size) or chaos changes."""

    at: float
    trader: str | None = None
    side: str | None = None
    token: str | None = None
    sol: float | None = None
    fraction: float | None = None
    chaos: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    seed: int | None
    slot_ms: float | None
    tokens: list[TokenSpec]
    traders: list[TraderSpec]
    timeline: list[TimelineEvent]
    chaos: dict[str, Any]


def load_scenario(path: Path) -> Scenario:
    """Parse a scenario TOML file; raises ScenarioError with one clear line."""
    try:
        raw = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ScenarioError(f"scenario file {path} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(f"scenario file {path} is not valid TOML: {error}") from None
    try:
        tokens = [
            TokenSpec(
                symbol=str(item["symbol"]),
                sol_reserve_lamports=int(float(item.get("sol_reserve", 30)) * 10**9),
                token_reserve_raw=int(float(item.get("token_reserve", 800_000_000)) * 10**6),
                fee_bps=int(item["fee_bps"]) if "fee_bps" in item else None,
                token2022=bool(item.get("token2022", False)),
            )
            for item in raw.get("tokens", [])
        ]
        traders = [
            TraderSpec(str(item["name"]), int(float(item.get("sol", 1000)) * 10**9))
            for item in raw.get("traders", [])
        ]
        timeline = []
        for item in raw.get("timeline", []):
            event = TimelineEvent(
                at=float(item["at"]),
                trader=item.get("trader"),
                side=item.get("side"),
                token=item.get("token"),
                sol=float(item["sol"]) if "sol" in item else None,
                fraction=float(item["fraction"]) if "fraction" in item else None,
                chaos=dict(item.get("chaos", {})),
            )
            if event.trader is not None and (event.side not in ("buy", "sell") or event.token is None):
                raise ScenarioError(
                    f"scenario file {path}: timeline event at {event.at}s needs side buy|sell and token"
                )
            if event.side == "buy" and not event.sol:
                raise ScenarioError(f"scenario file {path}: buy at {event.at}s needs sol = <amount>")
            timeline.append(event)
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, ScenarioError):
            raise
        raise ScenarioError(f"scenario file {path}: missing or bad field {error}") from None
    timeline.sort(key=lambda e: e.at)
    return Scenario(
        seed=raw.get("seed"),
        slot_ms=raw.get("slot_ms"),
        tokens=tokens,
        traders=traders,
        timeline=timeline,
        chaos=dict(raw.get("chaos", {})),
    )
