"""`zapbot config check` refuses what `run` refuses (one line each, exit 2), and live mode without --live
is refused before the console could ask for LIVE."""

from __future__ import annotations

import os

import pytest
from solders.keypair import Keypair

from engine.chain.wallet import write_keypair
from zapbot_tui import cli


def run_cli(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def error_lines(err: str) -> list[str]:
    return [line for line in err.strip().splitlines() if line]


def test_default_sim_config_is_ok(zapbot_home, capsys):
    code, out, err = run_cli(["config", "check"], capsys)
    assert code == 0 and out.startswith("ok:") and err == ""


@pytest.mark.parametrize("mode", ["paper", "live"])
def test_paper_and_live_need_an_rpc(zapbot_home, capsys, monkeypatch, mode):
    monkeypatch.setenv("ZAPBOT_MODE", mode)
    code, _, err = run_cli(["config", "check"], capsys)
    lines = error_lines(err)
    assert code == 2
    assert any(f"{mode} mode needs RPC_URL" in line for line in lines), err
    # live also lacks a keypair: one more line, never a traceback
    assert len(lines) == (2 if mode == "live" else 1), err
    assert "Traceback" not in err


def test_live_needs_a_keypair(zapbot_home, capsys, monkeypatch):
    monkeypatch.setenv("ZAPBOT_MODE", "live")
    monkeypatch.setenv("RPC_URL", "http://127.0.0.1:1")
    code, _, err = run_cli(["config", "check"], capsys)
    assert code == 2 and error_lines(err) == [
        "zapbot config check: live mode needs a keypair: set KEYPAIR_PATH or [wallet].keypair_path"
    ]


def test_live_keypair_readable_by_others_is_refused(zapbot_home, capsys, monkeypatch, tmp_path):
    key = tmp_path / "id.json"
    write_keypair(key, Keypair())
    os.chmod(key, 0o644)
    monkeypatch.setenv("ZAPBOT_MODE", "live")
    monkeypatch.setenv("RPC_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("KEYPAIR_PATH", str(key))
    code, _, err = run_cli(["config", "check"], capsys)
    lines = error_lines(err)
    assert code == 2 and len(lines) == 1 and "chmod 600" in lines[0]
    os.chmod(key, 0o600)
    code, out, err = run_cli(["config", "check"], capsys)
    assert code == 0 and "ok:" in out and "--live" in out


def test_invalid_theme_is_one_line(zapbot_home, capsys, monkeypatch):
    monkeypatch.setenv("ZAPBOT_THEME", "neon")
    code, _, err = run_cli(["config", "check"], capsys)
    lines = error_lines(err)
    assert code == 2 and len(lines) == 1 and "unknown theme 'neon'" in lines[0] and "zapbot-dark" in lines[0]


def test_every_problem_is_its_own_line(zapbot_home, capsys, monkeypatch):
    monkeypatch.setenv("ZAPBOT_MODE", "live")
    monkeypatch.setenv("ZAPBOT_THEME", "neon")
    code, _, err = run_cli(["config", "check"], capsys)
    assert code == 2 and len(error_lines(err)) == 3, err


def test_live_without_flag_refuses_before_the_console(zapbot_home, capsys, monkeypatch):
    import zapbot_tui.app

    def no_console(**_kwargs):  # the console (and its LIVE prompt) must not be reached
        raise AssertionError("console started")

    monkeypatch.setattr(zapbot_tui.app, "run_console", no_console)
    monkeypatch.setenv("ZAPBOT_MODE", "live")
    for argv in ([], ["run"]):
        code, _, err = run_cli(argv, capsys)
        lines = error_lines(err)
        assert code == 2 and len(lines) == 1 and "needs --live" in lines[0], err


def test_console_refuses_what_run_refuses(zapbot_home, capsys, monkeypatch):
    import zapbot_tui.app

    monkeypatch.setattr(zapbot_tui.app, "run_console", lambda **_: pytest.fail("console started"))
    monkeypatch.setenv("ZAPBOT_MODE", "paper")
    code, _, err = run_cli([], capsys)
    assert code == 2 and error_lines(err) == ["zapbot: paper mode needs RPC_URL (or [rpc].urls)"]


def test_the_old_slot_age_key_is_refused_with_what_replaced_it(zapbot_home, capsys):
    (zapbot_home / "zapbot.toml").write_text("[limits]\nmax_leader_age_slots = 150\n")
    code, _, err = run_cli(["config", "check"], capsys)
    lines = error_lines(err)
    assert code == 2 and len(lines) == 1, err
    assert "max_signal_age_s" in lines[0] and "Traceback" not in err
