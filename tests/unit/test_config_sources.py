"""Where a setting comes from: defaults < zapbot.toml < .env < the environment, by the flat names of
docs/CONFIGURATION.md; Settings() built in code reads none of them."""

from __future__ import annotations

import pytest

from engine.config import ConfigError, Settings, load_settings


def write_config(home, text: str) -> None:
    (home / "zapbot.toml").write_text(text)


def test_precedence_file_then_dotenv_then_environment(zapbot_home, monkeypatch, tmp_path):
    write_config(
        zapbot_home, "[engine]\nmax_queue_size = 11\nmax_concurrent_trades = 4\nheartbeat_interval_ms = 99\n"
    )
    (tmp_path / ".env").write_text("MAX_QUEUE_SIZE=22\nMAX_CONCURRENT_TRADES=5\n")
    monkeypatch.setenv("MAX_QUEUE_SIZE", "33")
    engine = load_settings().engine
    assert (engine.max_queue_size, engine.max_concurrent_trades, engine.heartbeat_interval_ms) == (33, 5, 99)
    # Keys the sources do not mention keep the file's and the defaults' values.
    assert engine.decode_processes == 2


def test_flat_names_reach_nested_keys(zapbot_home, monkeypatch):
    monkeypatch.setenv("RPC_URL", "https://a.example, https://b.example")
    monkeypatch.setenv("TELEGRAM_CHAT_IDS", "42,43")
    monkeypatch.setenv("ZAPBOT_MODE", "paper")
    monkeypatch.setenv("SWAP_API_KEY", "k")
    settings = load_settings()
    assert settings.rpc.urls == ["https://a.example", "https://b.example"]
    assert settings.telegram.chat_ids == [42, 43]
    assert settings.mode == "paper"
    assert settings.swap_api.api_key is not None and settings.swap_api.api_key.get_secret_value() == "k"


def test_empty_and_unknown_names_are_ignored(zapbot_home, monkeypatch, tmp_path):
    write_config(zapbot_home, "[engine]\nmax_queue_size = 11\n")
    (tmp_path / ".env").write_text("UNRELATED=1\nmax_queue_size=7\nMAX_CONCURRENT_TRADES=\n")
    monkeypatch.setenv("MAX_QUEUE_SIZE", "")
    monkeypatch.setenv("max_concurrent_trades", "9")  # names are case-sensitive
    engine = load_settings().engine
    assert (engine.max_queue_size, engine.max_concurrent_trades) == (11, 10)


def test_environment_hides_dotenv_line_even_when_empty(zapbot_home, monkeypatch, tmp_path):
    (tmp_path / ".env").write_text("MAX_QUEUE_SIZE=22\n")
    monkeypatch.setenv("MAX_QUEUE_SIZE", "")
    assert load_settings().engine.max_queue_size == 1000


def test_dotenv_error_names_the_variable(zapbot_home, tmp_path):
    (tmp_path / ".env").write_text("MAX_QUEUE_SIZE=lots\n")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value).startswith("environment variable MAX_QUEUE_SIZE: engine.max_queue_size:")


def test_file_error_names_the_file(zapbot_home, monkeypatch):
    write_config(zapbot_home, '[engine]\nmax_queue_size = "lots"\n')
    monkeypatch.setenv("MAX_CONCURRENT_TRADES", "2")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value).startswith(f"{zapbot_home / 'zapbot.toml'}: engine.max_queue_size:")


def test_without_environment_only_the_file_counts(zapbot_home, monkeypatch, tmp_path):
    write_config(zapbot_home, "[engine]\nmax_queue_size = 11\n")
    (tmp_path / ".env").write_text("MAX_CONCURRENT_TRADES=5\n")
    monkeypatch.setenv("MAX_QUEUE_SIZE", "33")
    engine = load_settings(use_environment=False).engine
    assert (engine.max_queue_size, engine.max_concurrent_trades) == (11, 10)


def test_settings_built_in_code_read_no_source(zapbot_home, monkeypatch, tmp_path):
    write_config(zapbot_home, 'mode = "paper"\n')
    (tmp_path / ".env").write_text("MAX_CONCURRENT_TRADES=5\n")
    monkeypatch.setenv("MAX_QUEUE_SIZE", "33")
    settings = Settings(engine={"heartbeat_interval_ms": 50})
    assert settings.mode == "sim"
    assert (settings.engine.max_queue_size, settings.engine.max_concurrent_trades) == (1000, 10)
    assert settings.engine.heartbeat_interval_ms == 50


def test_missing_default_config_is_fine_but_explicit_is_not(zapbot_home):
    assert load_settings().mode == "sim"
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings(zapbot_home / "absent.toml")
