"""`zapbot run --headless` as a server: a line per trade on stdout and in threading.log, JSON lines,
a busy HTTP port refused (exit 2) unless --no-http, and one engine per ZAPBOT_HOME."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def env_for(home: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ZAPBOT_", "RPC_", "WS_", "SWAP_API", "TELEGRAM_", "KEYPAIR_"))
    }
    env.update(ZAPBOT_HOME=str(home), PYTHONPATH=str(PROJECT_ROOT), ZAPBOT_HTTP_PORT="0")
    env.update(extra)
    return env


def zapbot(args: list[str], env: dict[str, str], timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "zapbot_tui.cli", *args],
        env=env,
        cwd=env["ZAPBOT_HOME"],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_config(home: Path, text: str) -> None:
    (home / "zapbot.toml").write_text(text)


FAST_SIM = "[sim]\ntrade_rate = 4.0\nslot_ms = 100\n"


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_headless_prints_a_line_per_trade_and_logs_it(tmp_path):
    write_config(tmp_path, FAST_SIM)
    result = zapbot(["run", "--headless", "--duration", "6"], env_for(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("zapbot: engine running in sim mode")
    assert lines[-1] == "zapbot: engine stopped"
    trades = [line for line in lines if line.startswith(("copy ", "filled ", "skip ", "failed "))]
    assert any(line.startswith("filled ") and " SOL " in line for line in trades), result.stdout
    log = (tmp_path / "logs" / "threading.log").read_text()
    for line in trades:
        assert line in log
    assert "Traceback" not in result.stderr + log


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_json_log_is_one_json_object_per_line(tmp_path):
    write_config(tmp_path, FAST_SIM)
    result = zapbot(["run", "--headless", "--duration", "5", "--json-log", "--no-http"], env_for(tmp_path))
    assert result.returncode == 0, result.stderr
    records = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert records[0]["event"] == "engine" and records[0]["port"] is None
    assert {"ts", "time", "event", "level", "message"} <= set(records[1])
    assert any(r["event"] == "TradeExecuted" and r["quote_amount"] > 0 for r in records), records
    assert not (tmp_path / "runtime.json").exists()


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_busy_http_port_is_one_line_and_exit_2_unless_no_http(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = env_for(tmp_path, ZAPBOT_HTTP_PORT=str(port))
        result = zapbot(["run", "--headless", "--duration", "1"], env)
        assert result.returncode == 2, result.stdout + result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0] and "--no-http" in lines[0], result.stderr
        assert lines[0].count(str(port)) == 1 and "in use" in lines[0], lines[
            0
        ]  # the address once, the reason
        assert "engine running" not in result.stdout
        assert not (tmp_path / "engine.lock").exists()
        result = zapbot(["run", "--headless", "--duration", "1", "--no-http"], env)
        assert result.returncode == 0, result.stderr


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_second_engine_on_the_same_home_refuses(tmp_path):
    env = env_for(tmp_path)
    first = subprocess.Popen(
        [sys.executable, "-m", "zapbot_tui.cli", "run", "--headless", "--duration", "60"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert first.stdout.readline().startswith("zapbot: engine running")  # started: the lock is held
        second = zapbot(["run", "--headless", "--duration", "1"], env)
        assert second.returncode == 2
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and f"pid {first.pid}" in lines[0] and "another engine" in lines[0]
        port = json.loads((tmp_path / "runtime.json").read_text())["port"]
        import urllib.request

        health = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5).read())
        assert health["ok"] is True and "telegram" in health["optional"]
        first.send_signal(2)
        assert first.wait(timeout=30) == 0
    finally:
        if first.poll() is None:
            first.kill()
    assert not (tmp_path / "engine.lock").exists()
    again = zapbot(["run", "--headless", "--duration", "1", "--no-http"], env)
    assert again.returncode == 0, again.stderr


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_ctrl_c_to_the_process_group_stops_cleanly_without_tracebacks(tmp_path):
    """Ctrl-C in a terminal signals the whole process group, the decode pool's children included: the engine
    stops cleanly (exit 0) and no child prints a KeyboardInterrupt traceback."""
    import signal

    write_config(tmp_path, FAST_SIM)
    engine = subprocess.Popen(
        [sys.executable, "-m", "zapbot_tui.cli", "run", "--headless", "--duration", "60"],
        env=env_for(tmp_path),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    try:
        assert engine.stdout.readline().startswith("zapbot: engine running")
        for line in engine.stdout:  # a copy was decided, so the decode pool's children are up and working
            if "filled" in line or "skipped" in line:
                break
        os.killpg(engine.pid, signal.SIGINT)
        _, stderr = engine.communicate(timeout=60)
        assert engine.returncode == 0, stderr
    finally:
        if engine.poll() is None:
            os.killpg(engine.pid, signal.SIGKILL)
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
