"""The CLI's bad-input contract: one clear line, exit code 2, files untouched; config show masks secrets."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers.paths import PROJECT_ROOT
from zapbot_tui.cli import main

WALLET = "11111111111111111111111111111111"


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


BAD_CONFIGS = {
    "syntax": 'mode = "sim\n',
    "wrong_type": '[engine]\nmax_queue_size = "lots"\n',
    "unknown_key": "[engine]\nmax_qeue_size = 10\n",
    "bad_value": 'mode = "yolo"\n',
    "bad_url": '[rpc]\nurls = ["ftp://example"]\n',
    "bad_memory": '[engine]\nmax_worker_memory = "a lot"\n',
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_malformed_config_gives_one_line_and_exit_2(zapbot_home, capsys, case):
    path = zapbot_home / "zapbot.toml"
    path.write_text(BAD_CONFIGS[case])
    before = path.read_bytes()
    code, out, err = run_cli(["config", "check", "--config", str(path)], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(path) in lines[0]
    assert "Traceback" not in err
    assert path.read_bytes() == before
    if case != "syntax":
        key = {
            "wrong_type": "engine.max_queue_size",
            "unknown_key": "engine.max_qeue_size",
            "bad_value": "mode",
            "bad_url": "rpc.urls",
            "bad_memory": "engine.max_worker_memory",
        }[case]
        assert key in lines[0]


BAD_TRADERS = {
    "syntax": '[[traders]\nname = "a"\n',
    "wrong_type": f'[[traders]]\nname = "a"\nwallet = "{WALLET}"\nfixed_sol = "much"\n',
    "bad_address": '[[traders]]\nname = "a"\nwallet = "not-a-wallet"\n',
    "unknown_key": f'[[traders]]\nname = "a"\nwallet = "{WALLET}"\nslipage_bps = 5\n',
    "duplicate": f'[[traders]]\nname = "a"\nwallet = "{WALLET}"\n[[traders]]\nname = "a"\nwallet = "{WALLET}"\n',
}


@pytest.mark.parametrize("case", sorted(BAD_TRADERS))
@pytest.mark.parametrize("command", [["traders", "list"], ["config", "check"], ["traders", "remove", "a"]])
def test_malformed_traders_gives_one_line_and_exit_2(zapbot_home, capsys, case, command):
    path = zapbot_home / "sim-traders.toml"  # sim mode on the embedded cluster uses its own traders file
    path.write_text(BAD_TRADERS[case])
    before = path.read_bytes()
    code, out, err = run_cli(command, capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert str(path) in err
    assert path.read_bytes() == before


def test_traders_add_rejects_bad_address_and_numbers(zapbot_home, capsys):
    code, _, err = run_cli(["traders", "add", "alice", "0xdeadbeef"], capsys)
    assert code == 2 and "not a valid Solana address" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as exc:
        main(["traders", "add", "alice", WALLET, "--fixed-sol", "abc"])
    assert exc.value.code == 2
    code, _, err = run_cli(["traders", "add", "alice", WALLET, "--fixed-sol", "-1"], capsys)
    assert code == 2 and "fixed_sol" in err
    code, _, err = run_cli(["traders", "add", "alice", WALLET, "--min-sol", "5", "--max-sol", "1"], capsys)
    assert code == 2 and "min_sol" in err
    assert not (zapbot_home / "sim-traders.toml").exists()


def test_traders_round_trip(zapbot_home, capsys):
    assert run_cli(["traders", "add", "alice", WALLET, "--percent", "25", "--max-sol", "2"], capsys)[0] == 0
    code, out, _ = run_cli(["traders", "list"], capsys)
    assert code == 0 and "alice" in out and "25% [0.01-2]" in out
    assert run_cli(["traders", "stop", "alice"], capsys)[0] == 0
    import tomllib

    data = tomllib.loads((zapbot_home / "sim-traders.toml").read_text())
    assert data["traders"][0]["active"] is False
    code, _, err = run_cli(["traders", "add", "bob", WALLET], capsys)
    assert code == 2 and "already followed" in err
    assert run_cli(["traders", "remove", "alice"], capsys)[0] == 0
    assert tomllib.loads((zapbot_home / "sim-traders.toml").read_text()) == {"traders": []}
    code, _, err = run_cli(["traders", "start", "ghost"], capsys)
    assert code == 2 and "ghost" in err


def test_config_init_show_masks_secrets(zapbot_home, capsys, monkeypatch):
    assert run_cli(["config", "init"], capsys)[0] == 0
    assert (zapbot_home / "zapbot.toml").exists()
    code, _, err = run_cli(["config", "init"], capsys)
    assert code == 2 and "exists" in err
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456789:AAFakeTokenForTestsOnly_abcdefghijklmn")
    monkeypatch.setenv("SWAP_API_KEY", "swap-key-very-secret")
    monkeypatch.setenv("TELEGRAM_CHAT_IDS", "42,43")
    code, out, _ = run_cli(["config", "show"], capsys)
    assert code == 0
    assert "AAFakeToken" not in out and "swap-key-very-secret" not in out
    assert out.count("********") >= 2
    assert "42" in out
    code, out, _ = run_cli(["config", "show", "--json"], capsys)
    assert "swap-key-very-secret" not in out and '"api_key": "********"' in out


def test_env_error_names_the_variable(zapbot_home, capsys, monkeypatch):
    monkeypatch.setenv("MAX_QUEUE_SIZE", "many")
    code, _, err = run_cli(["config", "check"], capsys)
    assert code == 2 and "MAX_QUEUE_SIZE" in err


def test_status_without_engine(zapbot_home, capsys):
    code, _, err = run_cli(["status"], capsys)
    assert code == 1 and "no running engine" in err


def test_unknown_command(zapbot_home, capsys):
    code, _, err = run_cli(["frobnicate"], capsys)
    assert code == 2 and "unknown command" in err


@pytest.mark.slow
def test_headless_run_serves_status_and_metrics(zapbot_home):
    """`zapbot run --headless`: /workers/status lists the seven workers; /metrics parses as Prometheus text."""
    import json
    import time
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    env = dict(os.environ, ZAPBOT_HTTP_PORT="0", ZAPBOT_HOME=str(zapbot_home), PYTHONPATH=str(PROJECT_ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "zapbot_tui.cli", "run", "--headless", "--duration", "60"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        runtime = zapbot_home / "runtime.json"
        deadline = time.monotonic() + 30
        while not runtime.exists() and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.1)
        port = json.loads(runtime.read_text())["port"]
        status = json.loads(
            urllib.request.urlopen(f"http://127.0.0.1:{port}/workers/status", timeout=5).read()
        )
        assert set(status["workers"]) == {
            "telegram",
            "monitor",
            "executor",
            "data",
            "websocket",
            "cache",
            "analyzer",
        }
        assert all(
            w["state"] in {"initializing", "ready", "busy", "disabled", "degraded"}
            for w in status["workers"].values()
        )
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        families = {f.name for f in text_string_to_metric_families(text)}
        for name in (
            "zapbot_queue_depth",
            "zapbot_worker_state",
            "zapbot_worker_restarts",
            "zapbot_messages_handled",
            "zapbot_trades",
        ):
            assert name in families, families
        started = time.monotonic()
        proc.send_signal(2)  # SIGINT
        assert proc.wait(timeout=20) == 0
        assert time.monotonic() - started < 15
        assert not runtime.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
