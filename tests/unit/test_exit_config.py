"""[exits], [safety] and the new limits in zapbot.toml; per-trader exit overrides in traders.toml and the
`zapbot traders add/edit` exit options."""

from __future__ import annotations

import tomllib

import pytest

from engine.config import STARTER_CONFIG, ConfigError, Settings, load_settings
from engine.exits import effective_exit_rules
from engine.safety import SafetyRules
from engine.traders import TraderConfig, load_traders, parse_traders, save_traders
from zapbot_tui.cli import main

WALLET = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"


def test_defaults_match_the_issue_and_the_starter_file():
    settings = Settings()
    assert settings.exits.check_interval_s == 2.0
    assert settings.exits.take_profit_sell_pct == 100.0
    assert settings.exits.follow_leader_sells is True
    assert settings.exits.take_profit_pct == settings.exits.stop_loss_pct == 0.0
    assert SafetyRules.from_settings(settings.safety) == SafetyRules()
    assert settings.safety.max_price_impact_pct == 10.0 and settings.safety.min_liquidity_sol == 0.0
    assert settings.limits.buy_once_per_token is False and settings.limits.max_open_exposure_sol == 0.0
    assert Settings(**tomllib.loads(STARTER_CONFIG)) == settings


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[exits]\nstop_loss_pct = 100\n", "exits.stop_loss_pct"),
        ("[exits]\ntake_profit_levels = [[50, 150]]\n", "at most 100"),
        ("[exits]\ntake_profit_levels = [[50, 50], [50, 100]]\n", "listed twice"),
        ("[exits]\ntake_profit_levels = [[50]]\n", "[[pct, share], ...]"),
        ("[safety]\nmax_price_impact_pct = -1\n", "safety.max_price_impact_pct"),
        ("[safety]\nreject_freeze = true\n", "safety.reject_freeze"),
        ("[limits]\ntoken_cooldown_s = -5\n", "limits.token_cooldown_s"),
    ],
)
def test_bad_values_are_one_line(tmp_path, text, needle):
    path = tmp_path / "zapbot.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, use_environment=False)
    message = str(caught.value)
    assert needle in message and "\n" not in message


def test_trader_overrides_round_trip_and_none_means_default(tmp_path):
    path = tmp_path / "traders.toml"
    trader = TraderConfig(
        name="alice", wallet=WALLET, stop_loss_pct=0, take_profit_levels=[[50, 50], [100, 100]]
    )
    save_traders(path, [trader])
    text = path.read_text()
    assert "stop_loss_pct = 0" in text and "trailing_stop_pct" not in text
    (loaded,) = load_traders(path)
    assert loaded == trader
    rules = effective_exit_rules(Settings(exits={"stop_loss_pct": 25, "max_hold_minutes": 30}).exits, loaded)
    assert rules.stop_loss_bps == 0  # the trader turned it off
    assert rules.max_hold_s == 1800  # from [exits]
    assert [level.gain_bps for level in rules.take_profit_levels] == [5000, 10_000]


def test_trader_file_errors_name_the_trader_and_key():
    with pytest.raises(ConfigError, match=r"traders\[alice\]\.trailing_stop_pct"):
        parse_traders({"traders": [{"name": "alice", "wallet": WALLET, "trailing_stop_pct": 100}]}, "t.toml")
    with pytest.raises(ConfigError, match=r"traders\[alice\]\.take_profit_levels"):
        parse_traders({"traders": [{"name": "alice", "wallet": WALLET, "take_profit_levels": [[0, 5]]}]}, "t")


def test_cli_add_and_edit_exit_options(zapbot_home, capsys, tmp_path):
    path = tmp_path / "traders.toml"
    base = ["traders", "--file", str(path)]
    assert (
        main(
            [*base, "add", "alice", WALLET, "--stop-loss-pct", "30", "--take-profit-levels", "50:50,100:100"]
        )
        == 0
    )
    (alice,) = load_traders(path)
    assert alice.stop_loss_pct == 30 and alice.take_profit_levels == [[50, 50], [100, 100]]
    assert main([*base, "edit", "alice", "--stop-loss-pct", "default", "--follow-leader-sells", "no"]) == 0
    (alice,) = load_traders(path)
    assert alice.stop_loss_pct is None and alice.follow_leader_sells is False
    assert alice.take_profit_levels == [[50, 50], [100, 100]]  # untouched by the edit
    capsys.readouterr()
    before = path.read_bytes()
    for bad in (
        ["--stop-loss-pct", "lots"],
        ["--stop-loss-pct", "150"],
        ["--take-profit-levels", "50"],
        ["--follow-leader-sells", "maybe"],
    ):
        assert main([*base, "edit", "alice", *bad]) == 2
        err = capsys.readouterr().err
        assert err.startswith("zapbot traders edit: ") and len(err.strip().splitlines()) == 1
    assert main([*base, "edit", "nobody", "--max-hold-minutes", "5"]) == 2
    assert path.read_bytes() == before
