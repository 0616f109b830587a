"""Shared pytest fixtures (the mainnet fixture folder, an isolated ZAPBOT_HOME, the local cluster) and the
folder markers: everything under integration/ is marked `integration`, under tui/ `tui`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.paths import fixtures_root, mainnet_dir

TESTS_ROOT = Path(__file__).resolve().parent
# A test's folder says what it needs; `pytest -m "not integration"` and friends select by it.
FOLDER_MARKERS = {"integration": pytest.mark.integration, "tui": pytest.mark.tui}


@pytest.hookimpl(tryfirst=True)  # before -m deselects, so the folder markers count there
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            folder = item.path.resolve().relative_to(TESTS_ROOT).parts[0]
        except ValueError:
            continue
        marker = FOLDER_MARKERS.get(folder)
        if marker is not None:
            item.add_marker(marker)


@pytest.fixture(scope="session")
def mainnet() -> Path:
    """The folder of real mainnet getTransaction fixtures; skips with a reason where it is absent."""
    path = mainnet_dir()
    if path is None:
        if os.environ.get("ZAPBOT_REQUIRE_FIXTURES"):
            pytest.fail(f"mainnet fixtures required but missing under {fixtures_root()}")
        pytest.skip(f"mainnet fixtures not found under {fixtures_root()} (set ZAPBOT_FIXTURES)")
    return path


@pytest.fixture
def zapbot_home(tmp_path, monkeypatch) -> Path:
    """An empty ZAPBOT_HOME with no environment configuration leaking in."""
    home = tmp_path / "zapbot_home"
    home.mkdir()
    monkeypatch.setenv("ZAPBOT_HOME", str(home))
    for name in (
        "ZAPBOT_MODE",
        "RPC_URL",
        "WS_URL",
        "SWAP_API_URL",
        "SWAP_API_KEY",
        "KEYPAIR_PATH",
        "TELEGRAM_BOT_TOKEN",
        "TELEGRAM_CHAT_IDS",
        "TELEGRAM_API_BASE_URL",
        "ZAPBOT_HTTP_PORT",
        "THREADING_ENABLED",
        "MAX_WORKER_MEMORY",
        "WORKER_RESTART_DELAY",
        "MAX_CONCURRENT_TRADES",
        "MAX_QUEUE_SIZE",
        "HEARTBEAT_INTERVAL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture
def sim_cluster():
    """A running local cluster (engine/sim) on ephemeral ports with 100 ms slots; stopped afterwards."""
    from engine.sim import SimCluster, SimConfig

    cluster = SimCluster(SimConfig(rpc_port=0, ws_port=0, swap_port=0, slot_ms=100)).start()
    try:
        yield cluster
    finally:
        cluster.stop()
