"""Headless output and /health: one human line (or JSON record) per event; trading health apart from
the optional parts; the home lock of one engine per ZAPBOT_HOME."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from engine.facade import EngineLocked, HomeLock
from engine.messages import (
    KillSwitchTripped,
    LogEvent,
    SwapDetected,
    TradeExecuted,
    TradeFailed,
    TradeQueued,
    TradeSkipped,
    WorkerRestarted,
)
from engine.observability import event_line, event_record, health_document
from engine.state import EngineState
from engine.token_names import TokenView

MINT = "Zap1111111111111111111111111111111111111111"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_lines_name_the_token_by_its_symbol_once_its_metadata_is_read():
    state = EngineState("sim")
    decimals = {MINT: 6}.get
    assert "Zap1…1111" in event_line(TradeQueued(7, "alice", "buy", MINT), decimals, state.symbol)[1]
    state.set_token(MINT, TokenView("ZAP", "Zap Token", 6))
    assert event_line(TradeQueued(7, "alice", "buy", MINT), decimals, state.symbol)[1] == (
        "copy   buy ZAP (Zap1…1111) for alice (intent #7)"
    )
    _, line = event_line(
        TradeExecuted(7, "alice", "buy", MINT, "5" * 64, 1_234_560_000, 52_000_000, 5000),
        decimals,
        state.symbol,
    )
    assert line.startswith("filled bought 1,235 ZAP (Zap1…1111) for 0.0520 SOL")  # decimals applied
    assert "1234560000" not in line
    skip = event_line(TradeSkipped("sig", "bob", "buy", MINT, "paused"), decimals, state.symbol)[1]
    assert skip == "skip   buy ZAP (Zap1…1111) from bob: paused"


def test_each_event_is_one_human_line():
    decimals = {MINT: 6}.get
    assert event_line(TradeSkipped("sig", "alice", "buy", MINT, "daily spend cap")) == (
        "info",
        "skip   buy Zap1…1111 from alice: daily spend cap",
    )
    assert event_line(TradeQueued(7, "alice", "buy", MINT))[1] == "copy   buy Zap1…1111 for alice (intent #7)"
    level, line = event_line(
        TradeExecuted(7, "alice", "buy", MINT, "5" * 64, 1_230_000_000_000, 52_000_000, 5000), decimals
    )
    assert level == "info" and line.startswith("filled bought 1.23M Zap1…1111 for 0.0520 SOL (alice")
    level, line = event_line(TradeFailed(7, "alice", "sell", MINT, "slippage exceeded"))
    assert level == "error" and line == "failed sell Zap1…1111 for alice: slippage exceeded"
    # An exit names its trigger; a leader copy (the usual case) does not.
    _, line = event_line(
        TradeExecuted(8, "alice", "sell", MINT, "", 10**6, 9 * 10**7, 5000, trigger="take_profit"), decimals
    )
    assert "(alice, take profit, fee" in line
    _, line = event_line(TradeFailed(9, "alice", "sell", MINT, "retries used up", trigger="stop_loss"))
    assert line == "failed sell Zap1…1111 for alice, stop loss: retries used up"
    assert event_line(LogEvent("info", "executor", "alice buy Zap111: sized down: reserve"))[1] == (
        "[executor] alice buy Zap111: sized down: reserve"
    )
    assert event_line(LogEvent("debug", "executor", "noise")) is None
    assert event_line(WorkerRestarted("analyzer", 2, "boom"))[0] == "warning"
    assert event_line(KillSwitchTripped("loss cap", -5)) is None  # its error LogEvent is the line
    swap = SwapDetected("s", "w", "alice", "buy", MINT, 1, 6, "So1", 1, "unknown", None, 1, "ws", 0.0)
    assert event_line(swap) is None
    for event in (TradeSkipped("sig", "alice", "buy", MINT, "paused"), TradeQueued(1, "a", "sell", MINT)):
        assert "\n" not in event_line(event)[1]


def test_an_unknown_event_kind_still_gets_a_line():
    from dataclasses import dataclass

    @dataclass
    class ExitTriggered:
        trader: str
        mint: str
        rule: str

    level, line = event_line(ExitTriggered("alice", MINT, "take profit 50%"))
    assert level == "info" and line.startswith("ExitTriggered: ") and "take profit 50%" in line


def test_json_record_carries_the_fields():
    event = TradeSkipped("sig", "alice", "buy", MINT, "paused")
    level, line = event_line(event)
    record = orjson.loads(orjson.dumps(event_record(event, level, line)))
    assert record["event"] == "TradeSkipped" and record["reason"] == "paused" and record["message"] == line
    assert record["time"].endswith("Z") and isinstance(record["ts"], float)


def test_health_is_trading_health_with_optional_parts_in_the_body():
    state = EngineState("sim")
    for name in ("data", "executor", "analyzer"):
        state.set_worker(name, state="ready")
    state.set_worker("telegram", state="degraded", detail="api.telegram.org unreachable")
    doc = health_document(state.snapshot())
    assert doc["ok"] is True and doc["unhealthy"] == []
    assert doc["optional"]["telegram"] == {
        "ok": False,
        "state": "degraded",
        "detail": "api.telegram.org unreachable",
    }
    state.set_worker("executor", state="failed")
    doc = health_document(state.snapshot())
    assert doc["ok"] is False and doc["unhealthy"] == ["executor"]


def test_a_stale_lock_of_a_dead_pid_is_taken_over(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "engine.lock").write_text(f"{dead.pid}\n")
    lock = HomeLock(tmp_path)
    lock.acquire()
    assert lock.held and lock.took_over == dead.pid
    assert (tmp_path / "engine.lock").read_text().strip() == str(os.getpid())
    lock.release()
    assert not (tmp_path / "engine.lock").exists()


@pytest.mark.slow
def test_a_live_lock_refuses_with_one_line(tmp_path, zapbot_home, monkeypatch, capsys):
    import zapbot_tui.app
    from zapbot_tui import cli

    monkeypatch.setattr(zapbot_tui.app, "run_console", lambda **_: pytest.fail("console started"))
    monkeypatch.setenv("ZAPBOT_HOME", str(tmp_path))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from engine.facade import HomeLock; "
            f"lock = HomeLock(Path({str(tmp_path)!r})); lock.acquire(); print('held', flush=True); "
            "sys.stdin.readline(); lock.release()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(PROJECT_ROOT)),
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(EngineLocked) as info:
            HomeLock(tmp_path).acquire()
        text = str(info.value)
        assert "\n" not in text and f"pid {holder.pid}" in text and str(tmp_path) in text
        assert HomeLock(tmp_path).holder() == holder.pid
        capsys.readouterr()
        assert cli.main([]) == 2  # the console refuses before it opens
        assert capsys.readouterr().err.strip() == f"zapbot: {text}"
    finally:
        holder.communicate("\n", timeout=10)
    assert HomeLock(tmp_path).holder() is None
    lock = HomeLock(tmp_path)
    lock.acquire()  # released on exit: the next engine starts
    assert lock.holder() is None  # our own lock is not "another engine"
    lock.release()
