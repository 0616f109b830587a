"""ZapBot's configuration: zapbot.toml, the environment and .env, validated by pydantic-settings."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Collection, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from engine.config_tables import (  # noqa: F401  (re-exported: callers import the tables from engine.config)
    JUPITER_SWAP_API,
    TELEGRAM_API,
    TELEGRAM_FILE_API,
    EngineSettings,
    ExitsSettings,
    FeesSettings,
    HttpSettings,
    LimitsSettings,
    NotificationSettings,
    RpcSettings,
    SafetySettings,
    SenderSettings,
    SimSettings,
    SwapApiSettings,
    TelegramSettings,
    UiSettings,
    WalletSettings,
    _Table,
    check_take_profit_levels,
    parse_memory,
)
from engine.paths import HomePaths, home_paths

Mode = Literal["sim", "paper", "live"]


class ConfigError(Exception):
    """A configuration problem the user can fix; str() is the one line to print."""


class Settings(BaseSettings):
    """The whole effective configuration."""

    model_config = SettingsConfigDict(extra="forbid", validate_assignment=True)

    mode: Mode = "sim"
    engine: EngineSettings = Field(default_factory=EngineSettings)
    rpc: RpcSettings = Field(default_factory=RpcSettings)
    # Empty: every send goes to the RPC pool. Set: the same signed bytes go to each of these at once.
    senders: list[SenderSettings] = Field(default_factory=list)
    fees: FeesSettings = Field(default_factory=FeesSettings)
    swap_api: SwapApiSettings = Field(default_factory=SwapApiSettings)
    wallet: WalletSettings = Field(default_factory=WalletSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    exits: ExitsSettings = Field(default_factory=ExitsSettings)
    safety: SafetySettings = Field(default_factory=SafetySettings)
    sim: SimSettings = Field(default_factory=SimSettings)
    ui: UiSettings = Field(default_factory=UiSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Settings(...) built in code sees only its arguments and the defaults; load_settings adds the
        # environment, .env and zapbot.toml, in that order of priority.
        plan = _LOAD_PLAN.get()
        if plan is None:
            return (init_settings,)
        return (init_settings, *plan.build_sources(settings_cls))

    # -- derived values -------------------------------------------------------------------
    @property
    def uses_embedded_cluster(self) -> bool:
        return self.mode == "sim" and not self.rpc.urls

    def swap_api_url(self) -> str | None:
        """SWAP_API_URL, or Jupiter's public API outside sim mode."""
        if self.swap_api.url:
            return self.swap_api.url.rstrip("/")
        return None if self.mode == "sim" else JUPITER_SWAP_API


# Flat environment names → (table, key). The seed's names come first.
ENV_NAMES: dict[str, tuple[str, ...]] = {
    "THREADING_ENABLED": ("engine", "threading_enabled"),
    "MAX_WORKER_MEMORY": ("engine", "max_worker_memory"),
    "WORKER_RESTART_DELAY": ("engine", "worker_restart_delay_ms"),
    "MAX_CONCURRENT_TRADES": ("engine", "max_concurrent_trades"),
    "MAX_QUEUE_SIZE": ("engine", "max_queue_size"),
    "HEARTBEAT_INTERVAL": ("engine", "heartbeat_interval_ms"),
    "ZAPBOT_MODE": ("mode",),
    "ZAPBOT_HTTP_PORT": ("http", "port"),
    "ZAPBOT_HTTP_HOST": ("http", "host"),
    "ZAPBOT_HTTP_TOKEN": ("http", "bearer_token"),
    "RPC_URL": ("rpc", "urls"),
    "WS_URL": ("rpc", "ws_url"),
    "RPC_STREAM": ("rpc", "stream"),
    "HELIUS_API_KEY": ("rpc", "helius_api_key"),
    "SWAP_API_URL": ("swap_api", "url"),
    "SWAP_API_KEY": ("swap_api", "api_key"),
    "KEYPAIR_PATH": ("wallet", "keypair_path"),
    "TELEGRAM_BOT_TOKEN": ("telegram", "bot_token"),
    "TELEGRAM_CHAT_IDS": ("telegram", "chat_ids"),
    "TELEGRAM_API_BASE_URL": ("telegram", "api_base_url"),
    "ZAPBOT_THEME": ("ui", "theme"),
}
SECRET_KEYS = {
    ("swap_api", "api_key"),
    ("telegram", "bot_token"),
    ("http", "bearer_token"),
    ("rpc", "helius_api_key"),
}


def read_toml(path: Path, what: str = "config") -> dict[str, Any]:
    """Read a TOML file, turning every problem into a one-line ConfigError."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what} file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: TOML syntax error: {exc}; fix the file's syntax") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def _set_path(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = tree
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[path[-1]] = value


class _FlatNamesMixin:
    """Maps the flat variable names of ENV_NAMES onto the nested tables.

    pydantic-settings looks a nested key up only by its own prefixed/delimited name, so the
    environment sources keep their loading and override only the name-to-key step. `origins`
    remembers which variable set which key, so an error can name the variable.
    """

    env_vars: Mapping[str, str | None]

    def _flat_tree(self, hidden: Collection[str] = ()) -> dict[str, Any]:
        tree: dict[str, Any] = {}
        self.origins: dict[tuple[str, ...], str] = {}
        for name, target in ENV_NAMES.items():
            value = self.env_vars.get(name)
            # An empty value means "not set", as it always has.
            if name in hidden or not value:
                continue
            _set_path(tree, target, value)
            self.origins[target] = name
        return tree


class _FlatEnvSource(_FlatNamesMixin, EnvSettingsSource):
    """The process environment, by the names in ENV_NAMES."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls, case_sensitive=True)

    def __call__(self) -> dict[str, Any]:
        return self._flat_tree()


class _FlatDotEnvSource(_FlatNamesMixin, DotEnvSettingsSource):
    """.env in the working directory, by the names in ENV_NAMES."""

    def __init__(self, settings_cls: type[BaseSettings], env_file: Path) -> None:
        super().__init__(settings_cls, env_file=env_file, case_sensitive=True)

    def __call__(self) -> dict[str, Any]:
        # A variable present in the environment hides its .env line even when it is empty.
        return self._flat_tree(hidden=os.environ.keys())


class _ConfigFileSource(TomlConfigSettingsSource):
    """zapbot.toml, read with read_toml so every problem is one ConfigError line."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path, required: bool) -> None:
        if required and not path.is_file():
            read_toml(path)  # missing, a directory, unreadable: raises the ConfigError that says which
        super().__init__(settings_cls, toml_file=path)

    def _read_file(self, file_path: Path) -> dict[str, Any]:
        return read_toml(file_path)


@dataclass
class _LoadPlan:
    """What one load_settings call reads; its environment sources stay here to explain an error."""

    config_path: Path
    config_required: bool
    dotenv_path: Path | None
    env_sources: list[_FlatNamesMixin] = dataclass_field(default_factory=list)

    def build_sources(self, settings_cls: type[BaseSettings]) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = []
        if self.dotenv_path is not None:
            env = _FlatEnvSource(settings_cls)
            dotenv = _FlatDotEnvSource(settings_cls, self.dotenv_path)
            self.env_sources = [env, dotenv]
            sources += [env, dotenv]
        sources.append(_ConfigFileSource(settings_cls, self.config_path, self.config_required))
        return tuple(sources)

    def env_origins(self) -> dict[tuple[str, ...], str]:
        origins: dict[tuple[str, ...], str] = {}
        for source in reversed(self.env_sources):  # the environment wins over .env
            origins.update(getattr(source, "origins", {}))
        return origins


_LOAD_PLAN: ContextVar[_LoadPlan | None] = ContextVar("zapbot_settings_load_plan", default=None)


def _hint(kind: str, loc: tuple[Any, ...]) -> str:
    if kind == "extra_forbidden":
        return "remove it or check its spelling (see `zapbot config init`)"
    if kind.startswith("int"):
        return "use a whole number"
    if kind.startswith("float"):
        return "use a number"
    if kind.startswith("bool"):
        return "use true or false"
    if kind in {"literal_error", "enum"}:
        return "use one of the allowed values"
    if kind.startswith(("list", "dict", "model")):
        return "use the right kind of value (see `zapbot config init`)"
    return "change the value"


def validation_line(source: str, exc: ValidationError, env_keys: dict[tuple[str, ...], str]) -> str:
    """The first validation error as one line: where, which key, what to change."""
    error = exc.errors()[0]
    loc = tuple(str(part) for part in error["loc"])
    key = ".".join(loc) or "(top level)"
    origin = source
    for path, env_name in env_keys.items():
        if loc[: len(path)] == path:
            origin = f"environment variable {env_name}"
            break
    message = error["msg"].removeprefix("Value error, ")
    shown = ""
    if error["type"] != "extra_forbidden" and loc not in SECRET_KEYS and "input" in error:
        text = repr(error["input"])
        shown = f" (got {text[:40]})"
    return f"{origin}: {key}: {message}{shown}; {_hint(error['type'], error['loc'])}"


def load_settings(
    config_path: Path | None = None,
    *,
    home: HomePaths | None = None,
    use_environment: bool = True,
) -> Settings:
    """Build the effective settings. A missing default config file is fine; anything invalid raises ConfigError."""
    paths = home or home_paths()
    explicit = config_path is not None
    path = config_path or paths.config
    plan = _LoadPlan(
        config_path=path,
        # exists(), not is_file(): a directory where the config should be is an error, not "no config".
        config_required=explicit or path.exists(),
        dotenv_path=Path.cwd() / ".env" if use_environment else None,
    )
    token = _LOAD_PLAN.set(plan)
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(validation_line(str(path), exc, plan.env_origins())) from None
    finally:
        _LOAD_PLAN.reset(token)


def masked_dict(settings: Settings) -> dict[str, Any]:
    """The settings as plain data with every secret replaced by '********' (or null when unset)."""
    data = settings.model_dump(mode="python")

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, SecretStr):
            return "********" if node.get_secret_value() else ""
        return node

    data = walk(data)
    for table, key in SECRET_KEYS:
        if data.get(table, {}).get(key) is None:
            data[table][key] = ""
    return data


STARTER_CONFIG = """\
# ZapBot configuration. Every key is optional; the values shown are the defaults.
# Environment variables (and a .env file in the working directory) override this file:
# ZAPBOT_MODE, RPC_URL, WS_URL, SWAP_API_URL, SWAP_API_KEY, KEYPAIR_PATH, TELEGRAM_BOT_TOKEN,
# TELEGRAM_CHAT_IDS, TELEGRAM_API_BASE_URL, ZAPBOT_HTTP_PORT, THREADING_ENABLED, MAX_WORKER_MEMORY,
# WORKER_RESTART_DELAY, MAX_CONCURRENT_TRADES, MAX_QUEUE_SIZE, HEARTBEAT_INTERVAL.

# sim: embedded local cluster (default) | paper: real RPC, no sends | live: real trades (needs --live)
mode = "sim"

[engine]
threading_enabled = true
max_worker_memory = "1GB"         # address-space limit of each decode process
worker_restart_delay_ms = 5000    # first restart delay; doubles on each further restart
max_concurrent_trades = 10         # trades quoted, built or sent at once; one only awaiting confirmation holds none
max_queue_size = 1000
reconcile_interval_s = 60.0       # lots compared with the wallet's token accounts (also at start, after settles)
heartbeat_interval_ms = 30000
decode_processes = 2
poll_interval_s = 25.0            # polling fallback; faster while WebSocket is down

[rpc]
urls = []                         # e.g. ["https://api.mainnet-beta.solana.com"]; empty in sim = embedded cluster
# ws_url = "wss://api.mainnet-beta.solana.com"
commitment = "confirmed"
requests_per_second = 20.0        # token bucket per endpoint
stream = "logs"                   # logs | block (blockSubscribe) | helius (transactionSubscribe); docs/DETECTION.md
# helius_api_key = "..."          # for stream = "helius" (or HELIUS_API_KEY)
# helius_ws_url = "wss://mainnet.helius-rpc.com"

[fees]
auto_percentile = 75              # priority_fee = "auto": this percentile of getRecentPrioritizationFees
refresh_s = 3.0                   # over the swap's writable accounts, refreshed this often, capped per trader

# Send the same signed bytes through several paths at once (first acceptance frees the trade; a sender that
# refuses or times out is skipped for 5 s). Without [[senders]] every send goes to the [rpc] urls.
# [[senders]]
# url = "https://mainnet.helius-rpc.com/?api-key=..."
# kind = "rpc"                    # sendTransaction
# [[senders]]
# url = "https://mainnet.block-engine.jito.wtf"
# kind = "jito"                   # block engine sendTransaction; set jito_tip_lamports per trader to tip

[swap_api]
# url = "https://api.jup.ag/swap/v1"   # default outside sim mode
# api_key = "..."

[wallet]
# keypair_path = "~/.config/solana/id.json"   # solana-keygen JSON; must not be readable by others

[telegram]
# bot_token = "..."
chat_ids = []                     # only these chats are answered; anything else is ignored and logged
api_base_url = "https://api.telegram.org/bot"
base_file_url = "https://api.telegram.org/file/bot"
explorer_url = "https://solscan.io/tx/"
messages_per_second = 30.0        # all chats together
chat_messages_per_second = 1.0    # per chat
chat_burst = 1
group_messages_per_minute = 20.0
queue_size = 200                  # per chat; when full the oldest *silent* notification is dropped
poll_timeout_s = 10.0
request_timeout_s = 10.0
drop_pending_updates = true       # ignore commands sent while ZapBot was not running
daily_summary_utc = "21:00"

[telegram.notifications]          # each: "on", "silent" or "off"
trade_executed = "on"
trade_failed = "on"
skip = "off"
worker = "on"
kill_switch = "on"
daily_summary = "on"

[http]
host = "127.0.0.1"
port = 3000
# bearer_token = "..."            # protects /workers/status and /metrics when set

[limits]
max_sol_per_trade = 1.0
daily_spend_cap_sol = 10.0
daily_loss_cap_sol = 5.0          # kill switch: pauses all buying
max_open_positions = 20
min_reserve_sol = 0.05            # never spent
min_trade_sol = 0.001             # a buy that limits size below this is skipped, not sent
auto_pause_after_failures = 3
max_signal_age_s = 10.0           # a buy older than this (from the leader's block time) is skipped 'stale'
copy_unknown_venues = true        # copy swaps through no known DEX program (seen only as balance changes)
blacklist = []
whitelist = []
buy_once_per_token = false        # true: a mint is bought once, whichever trader buys it
token_cooldown_s = 0              # seconds between two buys of one mint (0 = off)
max_sol_per_token = 0             # SOL at cost held in one mint, at most (0 = off)
max_open_exposure_sol = 0         # SOL at cost held in all open lots, at most (0 = off)

[exits]                           # defaults for every lot; each key can be set per trader. 0 = off
check_interval_s = 2.0            # every open lot is valued (a sell quote) at least this often
max_quotes_per_s = 0              # those quotes a second, at most; 0 = auto (sim 20, keyed API 5, keyless 1)
take_profit_pct = 0               # sell take_profit_sell_pct of the lot at this gain
take_profit_sell_pct = 100
take_profit_levels = []           # e.g. [[50, 50], [100, 100]]: (gain %, share %), each fires once
stop_loss_pct = 0                 # sell the whole lot at this loss
trailing_stop_pct = 0             # sell the whole lot this far below its highest value since the buy
trailing_arm_pct = 0              # ...armed only after this rise
max_hold_minutes = 0              # sell the whole lot after this long
follow_leader_sells = true

[safety]                          # checks before every buy; a refusal is a skip with its reason
reject_mint_authority = true      # the mint can still mint supply
reject_freeze_authority = true    # the mint can freeze our token account
reject_token_extensions = true    # Token-2022 transfer fee, permanent delegate, transfer hook, non-transferable
max_price_impact_pct = 10         # our buy's quoted price impact, at most (0 = off)
require_sell_route = true         # a quote must exist for selling what we buy
min_liquidity_sol = 0             # the pool's SOL side, at least, where known (0 = off)

[sim]
seed = 7
traders = 3
trade_rate = 0.5                  # synthetic trades per second
slot_ms = 400

[ui]
theme = "zapbot-dark"             # zapbot-dark | zapbot-light | zapbot-contrast
refresh_hz = 4.0
"""
