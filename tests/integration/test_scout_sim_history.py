"""Scouting the local cluster's generated history (`zapbot sim --history-days`): each style's figures equal
the cluster's ground truth (/sim/v1/trades), the sniper is flagged, the replay follows the policy, a second
scout makes no getTransaction call, and the two commands work together from the shell."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import urllib.request

import orjson
import pytest

from engine.config import LimitsSettings
from engine.scout.history import scout_wallet
from engine.scout.model import WalletSwap
from engine.scout.replay import replay
from engine.scout.report import build_report
from engine.sim import SimCluster, SimConfig
from engine.sim.history import DAY_S, STYLES
from engine.traders import TraderConfig
from tests.helpers.paths import PROJECT_ROOT

pytestmark = pytest.mark.slow
DAYS = 3


@pytest.fixture(scope="module")
def history_cluster():
    cluster = SimCluster(
        SimConfig(rpc_port=0, ws_port=0, swap_port=0, slot_ms=100, history_days=DAYS)
    ).start()
    try:
        yield cluster
    finally:
        cluster.stop()


def sim_trades(cluster) -> list[dict]:
    url = f"http://{cluster.config.host}:{cluster.swap_port}/sim/v1/trades"
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - the cluster we started
        return orjson.loads(response.read())


def ground_truth(cluster, wallet: str) -> list[WalletSwap]:
    return [
        WalletSwap(
            signature=t["signature"],
            slot=t["slot"],
            block_time=t["block_time"],
            side=t["side"],
            mint=t["mint"],
            token_amount=t["token_amount"],
            token_decimals=None,
            quote_mint=t["quote_mint"],
            quote_amount=t["quote_amount"],
            venue="unknown",
            router=None,
            fee_lamports=0,
        )
        for t in sim_trades(cluster)
        if t["wallet"] == wallet
    ]


def scout(cluster, wallet: str, cache_path, **options):
    return asyncio.run(
        scout_wallet(
            wallet,
            [cluster.rpc_url],
            days=DAYS + 1,
            cache_path=cache_path,
            requests_per_second=2000,
            **options,
        )
    )


def test_history_spans_the_days_with_real_block_times(history_cluster):
    made = history_cluster.history
    assert made is not None and set(made.wallets) == set(STYLES)
    trades = sim_trades(history_cluster)
    times = [t["block_time"] for t in trades]
    assert made.ended_at - made.started_at == DAYS * DAY_S
    assert min(times) >= made.started_at and max(times) <= made.ended_at
    assert max(times) - min(times) > (DAYS - 0.5) * DAY_S  # spread over the days, not bunched at the start
    slots = [t["slot"] for t in trades]
    assert slots == sorted(slots) and history_cluster.slot >= made.last_slot
    assert all(made.swaps[style] >= 20 for style in STYLES)


def test_scouted_styles_equal_the_ground_truth(history_cluster, tmp_path):
    reports = {}
    for style, wallet in history_cluster.history.wallets.items():
        history = scout(history_cluster, wallet, tmp_path / "scout.db")
        report = build_report(
            wallet, history.swaps(allow_unknown_venue=True), creation_slots=history.creation_slots()
        )
        truth = build_report(wallet, ground_truth(history_cluster, wallet))
        assert report.swaps == truth.swaps == history_cluster.history.swaps[style], style
        assert report.realised_pnl_lamports == truth.realised_pnl_lamports, style
        assert report.win_rate == truth.win_rate, style
        assert (report.round_trips, report.wins) == (truth.round_trips, truth.wins), style
        assert report.flip_share == truth.flip_share, style
        reports[style] = report
    assert reports["sniper"].too_fast_to_copy and reports["sniper"].flip_share == 1.0
    assert not reports["patient"].too_fast_to_copy and not reports["loser"].too_fast_to_copy
    assert reports["patient"].realised_pnl_lamports > 0 > reports["loser"].realised_pnl_lamports
    assert reports["patient"].median_hold_ms > 30 * 60_000 > 60_000 > reports["sniper"].median_hold_ms
    # The sniper buys every token launched during the history within 3 slots of its creation; the others
    # only trade tokens that were trading long before, which the mints' own signatures show.
    launches = history_cluster.history.launches
    assert len(launches) == int(DAYS * 6)
    assert reports["sniper"].creation_buys_early == len(launches)
    assert reports["sniper"].creation_buys_known > len(launches)  # its other buys: known not at creation
    assert reports["patient"].creation_buys_early == 0 and reports["patient"].creation_buys_known > 0


def test_second_scout_makes_no_get_transaction_call(history_cluster, tmp_path):
    wallet = history_cluster.history.wallets["sniper"]  # it buys launches: their creations are read too
    cache_path = tmp_path / "scout.db"
    before = history_cluster.rpc.counts().get("getTransaction", 0)
    first = scout(history_cluster, wallet, cache_path)
    after_first = history_cluster.rpc.counts().get("getTransaction", 0)
    assert after_first - before == first.fetched + first.creation_fetched
    assert first.fetched == len(first.transactions) > 0
    second = scout(history_cluster, wallet, cache_path)
    assert history_cluster.rpc.counts().get("getTransaction", 0) == after_first
    assert second.fetched == 0 and second.cached == len(first.transactions)
    assert second.transactions == first.transactions
    assert first.creation_fetched > 0 and second.creation_fetched == 0
    assert second.creation_slots() == first.creation_slots()


def test_replay_skips_a_blacklisted_token_with_its_reason(history_cluster, tmp_path):
    wallet = history_cluster.history.wallets["patient"]
    swaps = scout(history_cluster, wallet, tmp_path / "scout.db").swaps(allow_unknown_venue=True)
    banned = swaps[0].mint
    trader = TraderConfig(name="scout", wallet=wallet)
    result = replay(swaps, trader, LimitsSettings(blacklist=[banned]))
    banned_buys = sum(1 for s in swaps if s.mint == banned and s.side == "buy")
    assert result.skipped["blacklisted"] == banned_buys > 0
    assert all(fill.mint != banned for fill in result.copies)
    free = replay(swaps, trader, LimitsSettings())
    assert "blacklisted" not in free.skipped and any(fill.mint == banned for fill in free.copies)


def test_zapbot_scout_json_against_zapbot_sim_history(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "ZAPBOT_HOME": str(tmp_path / "home")}
    zapbot = [sys.executable, "-m", "zapbot_tui.cli"]
    ports = ["--rpc-port", "0", "--ws-port", "0", "--swap-port", "0"]
    sim = subprocess.Popen(
        [*zapbot, "sim", *ports, "--history-days", str(DAYS), "--trade-rate", "0"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        lines: list[str] = []
        while not any(line.startswith("history ") for line in lines):
            line = sim.stdout.readline()
            assert line, sim.stderr.read()
            lines.append(line.strip())
        rpc_url = next(line.split()[1] for line in lines if line.startswith("rpc "))
        sniper = next(line.split()[2] for line in lines if line.startswith("trader ") and " sniper " in line)
        done = subprocess.run(
            [*zapbot, "scout", sniper, "--json", "--rpc-url", rpc_url, "--days", str(DAYS + 1)],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        payload = orjson.loads(done.stdout)
        assert payload["wallet"] == sniper and payload["report"]["too_fast_to_copy"] is True
        assert payload["report"]["swaps"] == payload["history"]["fetched"] > 0
        assert payload["replay"]["delay_ms"] == 1000
    finally:
        sim.terminate()
        sim.wait(timeout=10)
