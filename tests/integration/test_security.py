"""Security: the keypair file's permissions, secrets never logged/printed/served/stored, the HTTP endpoint's
bind address and bearer token, and live mode only after an explicit opt-in. Through the real CLI where a
user would meet it (subprocesses), and through the Engine for crash reports."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from solders.keypair import Keypair

from engine.chain.wallet import KeypairError, load_keypair, secret_forms, write_keypair
from engine.config import ConfigError, load_settings
from engine.facade import Engine, LiveNotConfirmed, default_worker_classes
from engine.worker import BaseWorker
from tests.helpers.paths import PROJECT_ROOT
from tests.helpers.waiting import poll_until, wait_until

BOT_TOKEN = "123456789:AAFakeBotTokenForSecurityTests_abcdefXYZ"
HTTP_TOKEN = "http-bearer-secret-0123456789"
SWAP_KEY = "swap-api-key-secret-abcdef"
OPERATOR_CHAT = 777


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ZAPBOT_", "RPC_", "WS_", "SWAP_API", "TELEGRAM_", "KEYPAIR_"))
    }
    env.update(ZAPBOT_HOME=str(home), PYTHONPATH=str(PROJECT_ROOT), ZAPBOT_HTTP_PORT="0")
    env.update(extra)
    return env


def zapbot(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "zapbot_tui.cli", *args],
        env=env,
        cwd=env["ZAPBOT_HOME"],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def make_keypair(path: Path, mode: int = 0o600) -> Keypair:
    keypair = Keypair()
    write_keypair(path, keypair)
    os.chmod(path, mode)
    return keypair


# -- the keypair file ---------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o666, 0o700 | 0o070])
def test_open_keypair_file_is_refused_by_the_cli(tmp_path, mode):
    home = tmp_path / "home"
    home.mkdir()
    key_path = tmp_path / "id.json"
    keypair = make_keypair(key_path, mode)
    result = zapbot(["run", "--headless", "--duration", "1"], cli_env(home, KEYPAIR_PATH=str(key_path)))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "readable by group or others" in lines[0] and "chmod 600" in lines[0] and str(key_path) in lines[0]
    output = result.stdout + result.stderr
    for form in secret_forms(keypair):
        assert form not in output
    assert "Traceback" not in output
    assert oct(os.stat(key_path).st_mode & 0o777) == oct(mode)  # refused, not "fixed" behind the user's back


BAD_KEYPAIRS = {
    "missing": None,
    "empty": b"",
    "not_json": b"hello",
    "short": json.dumps(list(range(32))).encode(),
    "too_big_values": json.dumps([300] * 64).encode(),
    "object": b'{"secret": [1, 2, 3]}',
    "non_utf8": b"\xff\xfe\x00garbage",
    "directory": "dir",
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(BAD_KEYPAIRS))
def test_bad_keypair_files_exit_2_with_one_line(tmp_path, case):
    home = tmp_path / "home"
    home.mkdir()
    key_path = tmp_path / "id.json"
    content = BAD_KEYPAIRS[case]
    if content == "dir":
        key_path.mkdir()
    elif content is not None:
        key_path.write_bytes(content)
        os.chmod(key_path, 0o600)
    result = zapbot(["run", "--headless", "--duration", "1"], cli_env(home, KEYPAIR_PATH=str(key_path)))
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(key_path) in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    if isinstance(content, bytes) and content:
        assert content.decode(errors="replace")[:20] not in lines[0] or case == "short"


def test_unreadable_keypair_file(tmp_path):
    key_path = tmp_path / "id.json"
    make_keypair(key_path, 0o000)
    if os.geteuid() == 0:
        # root reads anything; the permission check still passes (no group/other bits), so it loads.
        assert isinstance(load_keypair(key_path), Keypair)
    else:
        with pytest.raises(KeypairError, match="cannot read"):
            load_keypair(key_path)


def test_keypair_error_is_a_config_error_without_key_material(tmp_path):
    key_path = tmp_path / "id.json"
    keypair = make_keypair(key_path, 0o644)
    with pytest.raises(ConfigError) as info:
        load_keypair(key_path)
    assert isinstance(info.value, KeypairError)
    text = str(info.value)
    assert "\n" not in text and all(form not in text for form in secret_forms(keypair))


# -- live mode opt-in -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_live_mode_headless_needs_both_flags(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = cli_env(home, ZAPBOT_MODE="live", RPC_URL="http://127.0.0.1:9")
    for args in (["run", "--headless"], ["run", "--headless", "--live"], ["run", "--headless", "--yes-live"]):
        result = zapbot([*args, "--duration", "1"], env)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "--live --yes-live" in lines[0], result.stderr
        assert "engine running" not in result.stdout
    assert not (home / "zapbot.db").exists()


def test_engine_refuses_live_without_confirmation(zapbot_home):
    settings = load_settings()
    settings.mode = "live"
    settings.rpc.urls = ["http://127.0.0.1:9"]
    settings.http.enabled = False
    engine = Engine(settings, worker_classes={})
    with pytest.raises(LiveNotConfirmed):
        engine.start(wait_ready=1)
    assert engine.supervisor is None and not engine.started


# -- the HTTP endpoint ----------------------------------------------------------------------------------


def _get(url: str, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _engine(settings, **kwargs) -> Engine:
    engine = Engine(settings, worker_classes={"data": default_worker_classes()["data"]}, **kwargs)
    engine.start(wait_ready=10)
    return engine


@pytest.mark.slow
def test_http_binds_to_loopback_by_default(zapbot_home):
    settings = load_settings()
    assert settings.http.host == "127.0.0.1"
    settings.http.port = 0
    engine = _engine(settings)
    try:
        assert engine.http is not None and engine.http.bound_port
        sockets = engine.http._runner.addresses  # type: ignore[union-attr]
        assert sockets and all(address[0] == "127.0.0.1" for address in sockets), sockets
        log_text = (zapbot_home / "logs" / "threading.log").read_text()
        assert "not loopback" not in log_text
    finally:
        engine.stop()


@pytest.mark.slow
def test_http_bound_elsewhere_warns_in_the_log(zapbot_home):
    settings = load_settings()
    settings.http.port = 0
    settings.http.host = "0.0.0.0"
    engine = _engine(settings)
    try:
        log_text = (zapbot_home / "logs" / "threading.log").read_text()
        warning = [line for line in log_text.splitlines() if "not loopback" in line]
        assert (
            warning and "WARNING" in warning[0] and "0.0.0.0" in warning[0] and "bearer_token" in warning[0]
        )
    finally:
        engine.stop()


@pytest.mark.slow
def test_bearer_token_protects_status_and_metrics(zapbot_home):
    settings = load_settings()
    settings.http.port = 0
    settings.http.bearer_token = HTTP_TOKEN  # type: ignore[assignment]
    engine = _engine(settings)
    try:
        base = f"http://127.0.0.1:{engine.http.bound_port}"  # type: ignore[union-attr]
        for path in ("/workers/status", "/metrics"):
            assert _get(base + path)[0] == 401
            assert _get(base + path, "wrong-token")[0] == 401
            code, body = _get(base + path, HTTP_TOKEN)
            assert code == 200 and HTTP_TOKEN not in body
        # a token in the query string is not accepted either
        assert _get(base + f"/workers/status?token={HTTP_TOKEN}")[0] == 401
    finally:
        engine.stop()


# -- secrets in crash reports -------------------------------------------------------------------------------


def worker_errors(db, worker: str) -> list[str]:
    conn = sqlite3.connect(str(db))
    try:
        return [row[0] for row in conn.execute("SELECT message FROM errors WHERE worker=?", (worker,))]
    except sqlite3.Error:
        return []
    finally:
        conn.close()


class Leaky(BaseWorker):
    """Raises an exception whose message carries secrets, as a careless library might."""

    name = "leaky"
    tick_interval = 0.05
    secrets: list[str] = []

    async def tick(self) -> None:
        raise RuntimeError(
            "request to https://api.telegram.org/bot" + " / ".join(type(self).secrets) + " failed"
        )


@pytest.mark.slow
def test_crash_report_masks_secrets_in_log_errors_table_and_state(zapbot_home, tmp_path):
    key_path = tmp_path / "id.json"
    keypair = make_keypair(key_path)
    secrets = [BOT_TOKEN, SWAP_KEY, HTTP_TOKEN, *secret_forms(keypair)]
    Leaky.secrets = [BOT_TOKEN, SWAP_KEY, str(keypair), list(bytes(keypair)).__repr__()]
    settings = load_settings()
    settings.http.enabled = False
    settings.engine.restart_budget = 1
    # A tick that raises is noticed when the worker next handles a message (a PING): ping often.
    settings.engine.heartbeat_interval_ms = 200
    settings.engine.worker_restart_delay_ms = 50
    settings.wallet.keypair_path = str(key_path)
    settings.telegram.bot_token = BOT_TOKEN  # type: ignore[assignment]
    settings.swap_api.api_key = SWAP_KEY  # type: ignore[assignment]
    settings.http.bearer_token = HTTP_TOKEN  # type: ignore[assignment]
    classes = {"data": default_worker_classes()["data"], "leaky": Leaky}
    engine = Engine(settings, worker_classes=classes)
    engine.start(wait_ready=10)
    try:
        poll_until(
            lambda: {v.name: v.state for v in engine.snapshot().workers}.get("leaky") == "degraded", 15
        )
        snap = engine.snapshot()
        leaky = {v.name: v for v in snap.workers}["leaky"]
        assert leaky.state == "degraded"
        db = engine.ctx.db_path  # type: ignore[union-attr]
        # The errors are written by the data worker: wait for them and for its queue to drain.
        wait_until(
            lambda: worker_errors(db, "leaky") and not engine.snapshot().queues.get("data"),
            what="the crash in the errors table",
        )
        state_text = " ".join(f"{line.message}" for line in snap.logs) + leaky.detail
    finally:
        engine.stop()
    log_text = (zapbot_home / "logs" / "threading.log").read_text()
    conn = sqlite3.connect(str(db))
    errors = [row[0] for row in conn.execute("SELECT message FROM errors WHERE worker='leaky'")]
    conn.close()
    assert errors, "the crash was not recorded in the errors table"
    assert "RuntimeError" in log_text and errors[0].count("RuntimeError") >= 1
    places = {"log file": log_text, "errors table": "\n".join(errors), "engine state": state_text}
    leaks = [(where, secret[:12]) for where, text in places.items() for secret in secrets if secret in text]
    assert leaks == [], f"secrets leaked: {leaks}"


# -- the full run: nothing anywhere --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_secret_key_and_bot_token_never_logged_printed_or_served(tmp_path):
    """A full sim run with a KEYPAIR_PATH keypair and a (fake) Telegram bot: the secret key in every encoding
    and the bot token appear in none of: the log files, /workers/status, /metrics, /health, `zapbot status
    --json`, `zapbot config show` (TOML and JSON), the CLI's own output, the database, or Telegram messages."""
    from engine.testing.fake_telegram import FakeTelegramServer

    home = tmp_path / "home"
    home.mkdir()
    key_path = tmp_path / "operator.json"
    keypair = make_keypair(key_path)
    (home / "zapbot.toml").write_text(
        "[sim]\ntraders = 2\ntrade_rate = 4.0\nslot_ms = 100\n"
        "[engine]\nheartbeat_interval_ms = 1000\ndecode_processes = 1\npoll_interval_s = 2.0\n"
    )
    telegram = FakeTelegramServer(BOT_TOKEN).start()
    env = cli_env(
        home,
        KEYPAIR_PATH=str(key_path),
        TELEGRAM_BOT_TOKEN=BOT_TOKEN,
        TELEGRAM_CHAT_IDS=str(OPERATOR_CHAT),
        TELEGRAM_API_BASE_URL=telegram.base_url,
        SWAP_API_KEY=SWAP_KEY,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "zapbot_tui.cli", "run", "--headless", "--duration", "90"],
        env=env,
        cwd=str(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    texts: dict[str, str] = {}
    try:
        runtime = home / "runtime.json"
        wait_until(lambda: runtime.exists() or proc.poll() is not None, 40, "the engine to start")
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        port = json.loads(runtime.read_text())["port"]
        base = f"http://127.0.0.1:{port}"
        db = home / "zapbot-sim.db"

        def copies() -> int:
            try:
                conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
                try:
                    return conn.execute("SELECT COUNT(*) FROM intents WHERE status='executed'").fetchone()[0]
                finally:
                    conn.close()
            except sqlite3.Error:
                return 0

        wait_until(lambda: copies() >= 2, 60, "two copied trades")  # real signing happened
        # Commands from the operator's chat and from a stranger, so Telegram replies are in the haystack.
        telegram.push_message(OPERATOR_CHAT, "/status")
        telegram.push_message(OPERATOR_CHAT, "/positions")
        telegram.push_message(99999, "/status")
        wait_until(lambda: len(telegram.texts(OPERATOR_CHAT)) >= 2, 20, "Telegram replies")
        for path in ("/workers/status", "/metrics", "/health"):
            texts[path] = _get(base + path)[1]
        for args in (
            ["status", "--json"],
            ["status"],
            ["config", "show"],
            ["config", "show", "--json"],
            ["trades", "--json"],
        ):
            result = zapbot(args, env)
            assert result.returncode == 0, (args, result.stderr)
            texts["zapbot " + " ".join(args)] = result.stdout + result.stderr
        assert texts["zapbot config show --json"].count("********") >= 2
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        telegram.stop()
    texts["run stdout/stderr"] = out + err
    assert proc.returncode == 0, err[-2000:]
    for log_file in sorted((home / "logs").glob("*")):
        texts[f"log {log_file.name}"] = log_file.read_text(errors="replace")
    assert "engine started" in texts["log threading.log"]
    conn = sqlite3.connect(str(home / "zapbot-sim.db"))
    texts["database"] = "\n".join(
        str(row)
        for table in ("intents", "trades", "skips", "errors", "trader_state")
        for row in conn.execute(f"SELECT * FROM {table}")
    )  # noqa: S608
    conn.close()
    texts["telegram messages"] = "\n".join(call.text for call in telegram.calls)
    assert telegram.texts(99999) == []  # a stranger's chat gets nothing
    secrets = {f"secret form {i}": form for i, form in enumerate(secret_forms(keypair))}
    secrets.update(bot_token=BOT_TOKEN, bot_token_tail=BOT_TOKEN.split(":", 1)[1], swap_api_key=SWAP_KEY)
    leaks = [
        (where, name) for where, text in texts.items() for name, secret in secrets.items() if secret in text
    ]
    assert leaks == [], f"secrets found: {leaks}"
    # The public key is fine to show, and is shown: the haystack is real.
    assert str(keypair.pubkey()) in texts["/workers/status"]
