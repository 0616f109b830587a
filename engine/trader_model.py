"""Followed traders: the TraderConfig model and the validation of a traders.toml tree."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from solders.pubkey import Pubkey

from engine.config import ConfigError, check_take_profit_levels, validation_line


def validate_address(value: str) -> str:
    """A base58 Solana address of 32 bytes, or ValueError with a short reason."""
    text = str(value).strip()
    try:
        key = Pubkey.from_string(text)
    except Exception:
        raise ValueError(f"{text!r} is not a valid Solana address (base58, 32 bytes)") from None
    if str(key) != text:
        raise ValueError(f"{text!r} is not a valid Solana address (base58, 32 bytes)")
    return text


class TraderConfig(BaseModel):
    """One followed wallet and how to copy it."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    name: str = Field(min_length=1, max_length=40)
    wallet: str
    active: bool = True
    sizing: Literal["fixed", "percent"] = "fixed"
    fixed_sol: float = Field(0.1, gt=0)
    percent: float = Field(10.0, gt=0, le=1000)
    min_sol: float = Field(0.01, ge=0)
    max_sol: float = Field(1.0, gt=0)
    copy_buys: bool = True
    copy_sells: bool = True
    proportional_sells: bool = True
    min_leader_sol: float = Field(0.0, ge=0)
    max_leader_sol: float | None = Field(None, gt=0)
    buy_once: bool = False
    slippage_bps: int = Field(300, ge=1, le=5000)
    # "auto": a percentile of getRecentPrioritizationFees over the swap's writable accounts ([fees]);
    # "jupiter": the swap API's own priority level; a number: micro-lamports per compute unit.
    priority_fee: int | Literal["auto", "jupiter"] = "auto"
    priority_fee_cap_lamports: int = Field(200_000, ge=0)
    jito_tip_lamports: int = Field(0, ge=0)
    # Exit rules of this trader's lots; None = use [exits] (0 = off for this trader).
    take_profit_pct: float | None = Field(None, ge=0)
    take_profit_sell_pct: float | None = Field(None, gt=0, le=100)
    take_profit_levels: list[list[float]] | None = None
    stop_loss_pct: float | None = Field(None, ge=0, lt=100)
    trailing_stop_pct: float | None = Field(None, ge=0, lt=100)
    trailing_arm_pct: float | None = Field(None, ge=0)
    max_hold_minutes: float | None = Field(None, ge=0)
    follow_leader_sells: bool | None = None

    @field_validator("wallet")
    @classmethod
    def _wallet(cls, value: str) -> str:
        return validate_address(value)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not value or any(ch in value for ch in "\n\r\t"):
            raise ValueError("use a short name without tabs or newlines")
        return value

    @field_validator("take_profit_levels")
    @classmethod
    def _levels(cls, value: list[list[float]] | None) -> list[list[float]] | None:
        return check_take_profit_levels(value)

    @field_validator("priority_fee", mode="before")
    @classmethod
    def _fee_type(cls, value: Any) -> Any:
        if isinstance(value, bool):  # TOML true/false would otherwise pass as 1/0
            raise ValueError('use micro-lamports per CU (a whole number), "auto" or "jupiter"')
        return value

    @field_validator("priority_fee")
    @classmethod
    def _fee(cls, value: Any) -> Any:
        if isinstance(value, int) and value < 0:
            raise ValueError('use a non-negative micro-lamports per CU, "auto" or "jupiter"')
        return value

    @model_validator(mode="after")
    def _clamp_order(self) -> "TraderConfig":
        if self.min_sol > self.max_sol:
            raise ValueError(f"min_sol ({self.min_sol}) is above max_sol ({self.max_sol})")
        if self.max_leader_sol is not None and self.min_leader_sol > self.max_leader_sol:
            raise ValueError("min_leader_sol is above max_leader_sol")
        return self

    def sizing_summary(self) -> str:
        if self.sizing == "fixed":
            return f"{self.fixed_sol:g} SOL"
        return f"{self.percent:g}% [{self.min_sol:g}-{self.max_sol:g}]"

    def to_toml_dict(self) -> dict[str, Any]:
        data = self.model_dump(mode="python", exclude_none=True)
        return data


def parse_traders(data: dict[str, Any], source: str) -> list[TraderConfig]:
    """Validate the traders.toml tree; one-line ConfigError on the first problem."""
    unknown = set(data) - {"traders"}
    if unknown:
        raise ConfigError(
            f"{source}: {sorted(unknown)[0]}: unknown key; the file holds [[traders]] tables only"
        )
    raw = data.get("traders", [])
    if not isinstance(raw, list):
        raise ConfigError(f"{source}: traders: must be an array of tables ([[traders]])")
    traders: list[TraderConfig] = []
    names: set[str] = set()
    wallets: set[str] = set()
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise ConfigError(f"{source}: traders[{index}]: must be a table")
        try:
            trader = TraderConfig(**entry)
        except ValidationError as exc:
            line = validation_line(source, exc, {})
            label = entry.get("name", index)
            raise ConfigError(line.replace(f"{source}: ", f"{source}: traders[{label}].", 1)) from None
        if trader.name in names:
            raise ConfigError(
                f"{source}: traders[{trader.name}]: duplicate name; give each trader its own name"
            )
        if trader.wallet in wallets:
            raise ConfigError(f"{source}: traders[{trader.name}].wallet: {trader.wallet} is listed twice")
        names.add(trader.name)
        wallets.add(trader.wallet)
        traders.append(trader)
    return traders
