"""The tables of zapbot.toml ([engine], [rpc], [limits], [exits], [safety] ...) as pydantic models with their defaults."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

JUPITER_SWAP_API = "https://api.jup.ag/swap/v1"
TELEGRAM_API = "https://api.telegram.org/bot"
TELEGRAM_FILE_API = "https://api.telegram.org/file/bot"


_MEMORY_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_MEMORY_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_memory(value: str | int) -> int:
    """'1GB', '512MiB', '2048' → bytes."""
    if isinstance(value, int):
        return value
    match = _MEMORY_RE.match(str(value))
    if not match:
        raise ValueError("use a size such as 512MB or 1GB")
    number, unit = match.groups()
    return int(float(number) * _MEMORY_UNITS[(unit or "").lower()[:1]])


class _Table(BaseModel):
    # inf/nan pass gt=0 checks (inf > 0), and an infinite cap is no cap: refuse them.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class EngineSettings(_Table):
    threading_enabled: bool = True
    max_worker_memory: str = "1GB"
    worker_restart_delay_ms: int = Field(5000, ge=0)
    max_concurrent_trades: int = Field(
        10,
        ge=1,
        le=64,
        description="trades being quoted, built or sent at once (waiting for a confirmation holds none)",
    )
    max_queue_size: int = Field(1000, ge=1)
    reconcile_interval_s: float = Field(
        60.0,
        ge=0,
        description="compare the lots with the wallet's token accounts this often (0: start and settles only)",
    )
    heartbeat_interval_ms: int = Field(30000, ge=10)
    restart_budget: int = Field(5, ge=0, description="restarts allowed per worker within restart_window_s")
    restart_window_s: float = Field(600.0, gt=0)
    shutdown_deadline_s: float = Field(10.0, gt=0)
    decode_processes: int = Field(2, ge=0, le=32)
    poll_interval_s: float = Field(25.0, gt=0)
    poll_interval_ws_down_s: float = Field(2.0, gt=0)
    subscriptions_per_connection: int = Field(1000, ge=1)

    @field_validator("max_worker_memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        parse_memory(value)
        return value

    @property
    def max_worker_memory_bytes(self) -> int:
        return parse_memory(self.max_worker_memory)


class RpcSettings(_Table):
    urls: list[str] = Field(default_factory=list)
    ws_url: str | None = None
    commitment: Literal["processed", "confirmed", "finalized"] = "confirmed"
    requests_per_second: float = Field(20.0, gt=0)
    # How the websocket worker detects: "logs" (logsSubscribe, then getTransaction), "block" (blockSubscribe
    # with full transactions) or "helius" (Helius transactionSubscribe); docs/DETECTION.md.
    stream: Literal["logs", "block", "helius"] = "logs"
    helius_api_key: SecretStr | None = None
    helius_ws_url: str = "wss://mainnet.helius-rpc.com"  # enhanced websockets; the key is added as ?api-key=

    @field_validator("urls", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("urls")
    @classmethod
    def _check_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} is not an http(s) URL")
        return value

    @field_validator("ws_url", "helius_ws_url")
    @classmethod
    def _check_ws(cls, value: str | None) -> str | None:
        if value and not value.startswith(("ws://", "wss://")):
            raise ValueError(f"{value!r} is not a ws(s) URL")
        return value


class FeesSettings(_Table):
    """How priority_fee = "auto" prices from the chain (engine/chain/fees.py)."""

    auto_percentile: int = Field(75, ge=0, le=100)  # of getRecentPrioritizationFees over the swap's accounts
    refresh_s: float = Field(3.0, ge=0.5, le=60)  # off the copy's path: the copy reads the cached price


class SenderSettings(_Table):
    """One [[senders]] entry: where the same signed bytes also go (engine/chain/senders.py)."""

    url: str
    kind: Literal["rpc", "jito"] = "rpc"  # rpc: sendTransaction; jito: a block engine (adds /api/v1/...)
    name: str = ""
    timeout_s: float = Field(2.0, gt=0, le=30)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value


class SwapApiSettings(_Table):
    url: str | None = None
    api_key: SecretStr | None = None


class WalletSettings(_Table):
    keypair_path: str | None = None


class NotificationSettings(_Table):
    trade_executed: Literal["on", "silent", "off"] = "on"
    trade_failed: Literal["on", "silent", "off"] = "on"
    skip: Literal["on", "silent", "off"] = "off"
    worker: Literal["on", "silent", "off"] = "on"
    kill_switch: Literal["on", "silent", "off"] = "on"
    daily_summary: Literal["on", "silent", "off"] = "on"


class TelegramSettings(_Table):
    bot_token: SecretStr | None = None
    chat_ids: list[int] = Field(default_factory=list)
    api_base_url: str = TELEGRAM_API
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    explorer_url: str = "https://solscan.io/tx/"
    base_file_url: str = TELEGRAM_FILE_API
    messages_per_second: float = Field(30.0, gt=0, description="all chats together (Telegram: ~30/s)")
    chat_messages_per_second: float = Field(1.0, gt=0, description="per chat (Telegram: ~1/s)")
    chat_burst: int = Field(1, ge=1, description="messages a chat may get back to back before pacing")
    group_messages_per_minute: float = Field(20.0, gt=0, description="per group chat (Telegram: 20/min)")
    queue_size: int = Field(
        200, ge=1, description="per chat; beyond it the oldest silent notification is dropped"
    )
    poll_timeout_s: float = Field(10.0, gt=0, le=50)
    request_timeout_s: float = Field(10.0, gt=0)
    drop_pending_updates: bool = True
    daily_summary_utc: str = "21:00"

    @field_validator("daily_summary_utc")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        parts = value.split(":")
        if len(parts) != 2 or not all(p.isdigit() for p in parts) or int(parts[0]) > 23 or int(parts[1]) > 59:
            raise ValueError("use HH:MM in UTC, e.g. 21:00")
        return f"{int(parts[0]):02d}:{int(parts[1]):02d}"

    @field_validator("chat_ids", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, int):
            return [value]
        return value


class HttpSettings(_Table):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(3000, ge=0, le=65535)
    bearer_token: SecretStr | None = None


class LimitsSettings(_Table):
    max_sol_per_trade: float = Field(1.0, gt=0)
    daily_spend_cap_sol: float = Field(10.0, gt=0)
    daily_loss_cap_sol: float = Field(5.0, gt=0)
    max_open_positions: int = Field(20, ge=1)
    min_reserve_sol: float = Field(0.05, ge=0)
    auto_pause_after_failures: int = Field(3, ge=1)
    blacklist: list[str] = Field(default_factory=list)
    whitelist: list[str] = Field(default_factory=list)
    max_signal_age_s: float = Field(
        10.0,
        gt=0,
        description="seconds from the leader's block time after which a buy is skipped 'stale' (sells are sent)",
    )
    min_trade_sol: float = Field(
        0.001, ge=0, description="dust minimum: a buy sized below this by a limit is skipped"
    )
    buy_once_per_token: bool = Field(
        False, description="buy a mint at most once across all traders (a trader's buy_once is per trader)"
    )
    token_cooldown_s: float = Field(
        0.0, ge=0, description="seconds after a buy of a mint before the next (0 = off)"
    )
    max_sol_per_token: float = Field(0.0, ge=0, description="SOL held in one mint at cost, at most (0 = off)")
    max_open_exposure_sol: float = Field(0.0, ge=0, description="SOL held in all open lots at cost (0 = off)")
    copy_unknown_venues: bool = Field(
        True,
        description="copy swaps the decoder sees only as balance changes (no known DEX program), "
        "e.g. on a local cluster; false skips them as 'unknown venue'",
    )

    @model_validator(mode="before")
    @classmethod
    def _renamed_keys(cls, data: Any) -> Any:
        # A slot count meant a different time on every cluster; say what replaced it instead of "extra input".
        if isinstance(data, dict) and "max_leader_age_slots" in data:
            raise ValueError("max_leader_age_slots was replaced by max_signal_age_s (seconds, default 10)")
        return data


def check_take_profit_levels(levels: list[list[float]] | None) -> list[list[float]] | None:
    """take_profit_levels = [[pct, share], ...]: gains above 0, shares in (0, 100], no gain twice."""
    if levels is None:
        return None
    gains: set[float] = set()
    for pair in levels:
        if len(pair) != 2:
            raise ValueError("use [[pct, share], ...], e.g. [[50, 50], [100, 100]]")
        gain, share = pair
        if not gain > 0:
            raise ValueError(f"level {pair}: the gain must be above 0 %")
        if not 0 < share <= 100:
            raise ValueError(f"level {pair}: the share to sell must be above 0 and at most 100 %")
        if gain in gains:
            raise ValueError(f"level {pair}: {gain:g} % is listed twice")
        gains.add(gain)
    return levels


class ExitsSettings(_Table):
    """Default exit rules of every lot; each key but check_interval_s can be overridden per trader.
    0 (or no value) turns a rule off."""

    check_interval_s: float = Field(2.0, gt=0, description="every open lot is valued at least this often")
    max_quotes_per_s: float = Field(
        0.0, ge=0, description="sell quotes a second for valuing lots, at most (0 = auto for the swap API)"
    )
    take_profit_pct: float = Field(0.0, ge=0, description="sell take_profit_sell_pct at this gain")
    take_profit_sell_pct: float = Field(100.0, gt=0, le=100)
    take_profit_levels: list[list[float]] = Field(default_factory=list, description="[[pct, share], ...]")
    stop_loss_pct: float = Field(0.0, ge=0, lt=100, description="sell the lot at this loss")
    trailing_stop_pct: float = Field(0.0, ge=0, lt=100, description="sell the lot this far below its peak")
    trailing_arm_pct: float = Field(0.0, ge=0, description="the trailing stop is armed after this rise")
    max_hold_minutes: float = Field(0.0, ge=0, description="sell the lot after this long")
    follow_leader_sells: bool = True

    @field_validator("take_profit_levels")
    @classmethod
    def _levels(cls, value: list[list[float]]) -> list[list[float]]:
        return check_take_profit_levels(value) or []


class SafetySettings(_Table):
    """Checks before every buy; a refused token is a skip with its reason."""

    reject_mint_authority: bool = True
    reject_freeze_authority: bool = True
    reject_token_extensions: bool = Field(
        True, description="transfer fee, permanent delegate, transfer hook, non-transferable"
    )
    max_price_impact_pct: float = Field(10.0, ge=0, description="our buy's quoted impact, at most (0 = off)")
    require_sell_route: bool = True
    min_liquidity_sol: float = Field(0.0, ge=0, description="the pool's SOL side, at least (0 = off)")


class SimSettings(_Table):
    seed: int = 7
    traders: int = Field(3, ge=0, le=10000)
    trade_rate: float = Field(0.5, ge=0, description="synthetic trades per second, all traders together")
    trade_duration_s: float | None = None
    slot_ms: int = Field(400, ge=10)
    scenario: str | None = None
    operator_airdrop_sol: float = Field(100.0, gt=0)
    chaos: dict[str, float] = Field(default_factory=dict)
    history_days: float = Field(0.0, ge=0, le=30, description="days of synthetic history made at start")


class UiSettings(_Table):
    theme: str = "zapbot-dark"
    refresh_hz: float = Field(4.0, gt=0, le=30)
