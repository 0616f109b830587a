"""Scenario files for the local cluster: tokens, traders and a timeline of trades and chaos events (TOML)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and the problem."""


DEFAULT_SOL_PRICE_USD = 150.0


@dataclass(frozen=True)
class TokenSpec:
    symbol: str
    sol_reserve_lamports: int
    token_reserve_raw: int
    fee_bps: int | None
    token2022: bool
    mint_authority: bool = False  # keep a mint authority (pump.fun mints have none)
    freeze_authority: bool = False  # keep a freeze authority
    transfer_fee_bps: int = 0  # Token-2022 transfer fee extension
    permanent_delegate: bool = False  # Token-2022 permanent delegate extension
    usdc_pool: bool = False  # also a pool quoted in USDC
    usdc_reserve_raw: int | None = None  # its USDC side (default: the SOL side at sol_price_usd)
    usdc_token_reserve_raw: int | None = None  # its token side (default: token_reserve)
    sell_route: bool = True  # false: the swap API quotes buys of it but never a sell (a honeypot)


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
    usdc: float | None = None  # a buy paid in USDC through the token's USDC pool
    quote: str = "SOL"  # SOL or USDC: which pool a sell (or price move) goes through
    price_pct: float | None = None  # instead of a size: move the price this much (+ buys, - sells)


@dataclass(frozen=True)
class Scenario:
    seed: int | None
    slot_ms: float | None
    tokens: list[TokenSpec]
    traders: list[TraderSpec]
    timeline: list[TimelineEvent]
    chaos: dict[str, Any]
    usdc: bool = False  # the USDC mint and a SOL/USDC pool (implied by any token's usdc_pool)
    sol_price_usd: float = DEFAULT_SOL_PRICE_USD


def load_scenario(path: Path) -> Scenario:
    """Parse a scenario TOML file; raises ScenarioError with one clear line."""
    try:
        raw = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ScenarioError(f"scenario file {path} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(f"scenario file {path} is not valid TOML: {error}") from None
    try:
        tokens = [_token_spec(path, item) for item in raw.get("tokens", [])]
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
                usdc=float(item["usdc"]) if "usdc" in item else None,
                quote=str(item.get("quote", "USDC" if "usdc" in item else "SOL")).upper(),
                price_pct=float(item["price_pct"]) if "price_pct" in item else None,
            )
            if event.quote not in ("SOL", "USDC"):
                raise ScenarioError(
                    f"scenario file {path}: timeline event at {event.at}s: quote is SOL or USDC"
                )
            if event.trader is not None and event.price_pct is not None:
                if event.token is None or not event.price_pct or event.price_pct <= -100:
                    raise ScenarioError(
                        f"scenario file {path}: price move at {event.at}s needs token and price_pct above -100, not 0"
                    )
                timeline.append(event)
                continue
            if event.trader is not None and (event.side not in ("buy", "sell") or event.token is None):
                raise ScenarioError(
                    f"scenario file {path}: timeline event at {event.at}s needs side buy|sell and token"
                )
            if event.side == "buy" and not (event.usdc if event.quote == "USDC" else event.sol):
                raise ScenarioError(
                    f"scenario file {path}: buy at {event.at}s needs sol = <amount> (or usdc = <amount>)"
                )
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
        usdc=bool(raw.get("usdc", False)) or any(token.usdc_pool for token in tokens),
        sol_price_usd=float(raw.get("sol_price_usd", DEFAULT_SOL_PRICE_USD)),
    )


def _token_spec(path: Path, item: dict[str, Any]) -> TokenSpec:
    symbol = str(item["symbol"])
    transfer_fee_bps = int(item.get("transfer_fee_bps", 0))
    permanent_delegate = bool(item.get("permanent_delegate", False))
    has_extensions = bool(transfer_fee_bps or permanent_delegate)
    if has_extensions and item.get("token2022") is False:
        raise ScenarioError(
            f"scenario file {path}: token {symbol}: transfer_fee_bps and permanent_delegate need token2022"
        )
    if not 0 <= transfer_fee_bps <= 10_000:
        raise ScenarioError(f"scenario file {path}: token {symbol}: transfer_fee_bps is 0 to 10000")
    return TokenSpec(
        symbol=symbol,
        sol_reserve_lamports=int(float(item.get("sol_reserve", 30)) * 10**9),
        token_reserve_raw=int(float(item.get("token_reserve", 800_000_000)) * 10**6),
        fee_bps=int(item["fee_bps"]) if "fee_bps" in item else None,
        token2022=bool(item.get("token2022", has_extensions)),
        mint_authority=bool(item.get("mint_authority", False)),
        freeze_authority=bool(item.get("freeze_authority", False)),
        transfer_fee_bps=transfer_fee_bps,
        permanent_delegate=permanent_delegate,
        usdc_pool=bool(item.get("usdc_pool", False)),
        sell_route=bool(item.get("sell_route", True)),
        usdc_reserve_raw=int(float(item["usdc_reserve"]) * 10**6) if "usdc_reserve" in item else None,
        usdc_token_reserve_raw=(
            int(float(item["usdc_token_reserve"]) * 10**6) if "usdc_token_reserve" in item else None
        ),
    )
