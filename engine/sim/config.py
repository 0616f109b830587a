"""Configuration of the local cluster: ports, clock, market size and the runtime chaos settings."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_BLOCKHASH_TTL_BLOCKS = 150


class ChaosKeyError(ValueError):
    """A --chaos KEY=VALUE the cluster does not know or cannot parse."""


@dataclass
class ChaosSettings:
    """Failure injection, mutable at runtime; every field off by default."""

    ws_drop_every_s: float = 0.0  # server closes every pubsub socket this often (0 = never)
    rpc_429_ratio: float = 0.0  # share of HTTP RPC requests answered 429 with Retry-After
    rpc_latency_ms: float = 0.0  # added before every HTTP RPC answer
    send_fail_ratio: float = 0.0  # share of sendTransaction calls refused (-32005 node unhealthy)
    drop_notification_ratio: float = 0.0  # share of logs/signature/block/transaction notifications dropped
    ws_latency_ms: float = 0.0  # added before every pubsub frame (replies and notifications, order kept)
    blockhash_ttl_slots: int | None = None  # shortens blockhash validity (blocks) below the 150 default
    pause_slots: bool = False  # stops the slot clock (slot, block height, blockhash freeze)
    confirm_delay_ms: float = (
        0.0  # sendTransaction accepted at once, but landed (and confirmed) this much later
    )

    def set(self, key: str, raw_value: Any) -> None:
        """Set one field from a string or a value, converting to the field's type."""
        fields = {f.name: f for f in dataclasses.fields(self)}
        if key not in fields:
            raise ChaosKeyError(f"unknown chaos key {key!r}; known keys: {', '.join(sorted(fields))}")
        setattr(self, key, _convert(key, raw_value))


def _convert(key: str, raw_value: Any) -> Any:
    try:
        if key == "pause_slots":
            if isinstance(raw_value, str):
                lowered = raw_value.strip().lower()
                if lowered in ("1", "true", "yes", "on"):
                    return True
                if lowered in ("0", "false", "no", "off", ""):
                    return False
                raise ValueError(raw_value)
            return bool(raw_value)
        if key == "blockhash_ttl_slots":
            if raw_value is None or (
                isinstance(raw_value, str) and raw_value.strip().lower() in ("", "none")
            ):
                return None
            value = int(raw_value)
            if value < 1:
                raise ValueError(raw_value)
            return value
        value = float(raw_value)
        if value < 0 or (key.endswith("_ratio") and value > 1):
            raise ValueError(raw_value)
        return value
    except (TypeError, ValueError):
        raise ChaosKeyError(f"bad value {raw_value!r} for chaos key {key!r}") from None


def parse_chaos_args(pairs: list[str], chaos: ChaosSettings | None = None) -> ChaosSettings:
    """Apply KEY=VALUE strings to a ChaosSettings (new one when none given)."""
    chaos = chaos or ChaosSettings()
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ChaosKeyError(f"chaos setting {pair!r} must look like KEY=VALUE")
        chaos.set(key.strip(), value.strip())
    return chaos


@dataclass
class SimConfig:
    """How to build and run one local cluster."""

    seed: int = 7
    host: str = "127.0.0.1"
    rpc_port: int = 8899
    ws_port: int = 8900
    swap_port: int = 8080
    slot_ms: float = 400.0
    blockhash_ttl_blocks: int = DEFAULT_BLOCKHASH_TTL_BLOCKS
    tokens: int = 3  # pump-style mints with pools
    token2022: bool = True  # make the last token a Token-2022 mint
    traders: int = 3  # synthetic trader wallets
    trader_lamports: int = 1_000 * 10**9
    trade_rate: float = 0.0  # synthetic trades per second (0 = none on a schedule)
    trade_duration: float = 0.0  # seconds of scheduled trading (0 = until stopped)
    pool_fee_bps: int = 25
    pool_sol_lamports: int = 30 * 10**9
    pool_token_raw: int = 800_000_000 * 10**6
    scenario: Path | None = None
    chaos: ChaosSettings = field(default_factory=ChaosSettings)
    usdc: bool = False  # the USDC mint (mainnet address), a SOL/USDC pool, USDC in every trader's wallet
    sol_price_usd: float = 150.0  # the SOL/USDC pool's starting price
    history_days: float = 0.0  # days of synthetic trading made at start (engine/sim/history.py)
