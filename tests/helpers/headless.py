"""`zapbot run --headless` as a subprocess on a test's own local cluster: its config, environment, start and
cleanup, for the tests that drive the engine from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.sim import SimCluster
from tests.helpers.paths import PROJECT_ROOT
from tests.helpers.waiting import wait_until

CONFIG = """
[engine]
heartbeat_interval_ms = 500
decode_processes = 1
poll_interval_s = 2.0
shutdown_deadline_s = 5.0
[rpc]
requests_per_second = 500.0
[limits]
auto_pause_after_failures = 10000
daily_spend_cap_sol = 1000.0
daily_loss_cap_sol = 1000.0
max_open_positions = 1000
max_signal_age_s = 100000
"""


def environment(home: Path, cluster: SimCluster) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ZAPBOT_", "RPC_", "WS_", "SWAP_API", "TELEGRAM_", "KEYPAIR_"))
    }
    env.update(
        ZAPBOT_HOME=str(home),
        ZAPBOT_MODE="sim",
        RPC_URL=cluster.rpc_url,
        WS_URL=cluster.ws_url,
        SWAP_API_URL=cluster.swap_api_url,
        ZAPBOT_HTTP_PORT="0",
        PYTHONPATH=str(PROJECT_ROOT),
    )
    return env


@contextmanager
def headless_engine(
    home: Path, env: dict[str, str], duration_s: float = 150
) -> Iterator[tuple[subprocess.Popen, str]]:
    """The running engine and its HTTP base URL, once runtime.json names it; killed on the way out if the
    test did not stop it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "zapbot_tui.cli", "run", "--headless", "--duration", str(duration_s)],
        env=env,
        cwd=str(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        runtime = home / "runtime.json"
        wait_until(lambda: runtime.exists() or proc.poll() is not None, 40, what="the engine to start")
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        yield proc, f"http://127.0.0.1:{json.loads(runtime.read_text())['port']}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
