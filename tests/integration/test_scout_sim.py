"""Scouting synthetic traders on the local cluster: the figures equal the cluster's own ground truth
(/sim/v1/trades), a second scout is served from the cache, and the replay follows the copy policy."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.request

import orjson
import pytest

from engine.config import LimitsSettings
from engine.constants import WSOL_MINT
from engine.scout.history import fetch_history, make_scout_pool, scout_wallet
from engine.scout.model import WalletSwap
from engine.scout.replay import replay
from engine.scout.report import build_report
from engine.traders import TraderConfig
from zapbot_tui.commands import scout as scout_cli

pytestmark = pytest.mark.slow
SOL = 1_000_000_000


class MethodCounter:
    """Counts the cluster's JSON-RPC requests per method, on the cluster's side of the wire."""

    def __init__(self, cluster) -> None:
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()
        methods = cluster.rpc.methods
        for name, handler in list(methods.items()):
            methods[name] = self._wrap(name, handler)

    def _wrap(self, name, handler):
        def counted(params):
            with self._lock:
                self.counts[name] = self.counts.get(name, 0) + 1
            return handler(params)

        return counted

    def __getitem__(self, name: str) -> int:
        with self._lock:
            return self.counts.get(name, 0)


def ground_truth(cluster, wallet: str) -> list[WalletSwap]:
    """The wallet's landed swaps as the cluster recorded them (its /sim/v1/trades endpoint)."""
    url = f"http://{cluster.config.host}:{cluster.swap_port}/sim/v1/trades"
    with urllib.request.urlopen(url, timeout=5) as response:
        trades = orjson.loads(response.read())
    return [
        WalletSwap(
            signature=t["signature"],
            slot=t["slot"],
            block_time=None,  # /sim/v1/trades has no block time: order by slot
            side=t["side"],
            mint=t["mint"],
            token_amount=t["token_amount"],
            token_decimals=None,
            quote_mint=WSOL_MINT,
            quote_amount=t["quote_amount"],
            venue="unknown",
            router=None,
            fee_lamports=0,  # nor the fee
        )
        for t in trades
        if t["wallet"] == wallet
    ]


def trade_a_history(cluster) -> tuple[str, str]:
    """A patient trader (three round trips: one win, two losses; one token left open) among others' trades, and a
    sniper who sells every buy at once. Returns (patient wallet, sniper wallet)."""
    (patient, patient_wallet), (sniper, sniper_wallet), (other, _) = cluster.traders[:3]
    first, second, third = cluster.mints[:3]
    cluster.trader_swap(patient, "buy", first, quote_lamports=2 * SOL)
    cluster.trader_swap(other, "buy", first, quote_lamports=3 * SOL)  # pushes the price up: a win
    cluster.trader_swap(patient, "sell", first, token_fraction=0.5)
    cluster.trader_swap(patient, "buy", second, quote_lamports=SOL)
    cluster.trader_swap(other, "sell", first, token_fraction=1.0)
    cluster.trader_swap(patient, "sell", first, token_fraction=1.0)  # after the other sold: a loss
    cluster.trader_swap(patient, "sell", second, token_fraction=1.0)  # fees both ways: a small loss
    cluster.trader_swap(patient, "buy", third, quote_lamports=SOL // 2)  # still open
    for mint in (first, second, third):
        cluster.trader_swap(sniper, "buy", mint, quote_lamports=SOL // 4)
        cluster.trader_swap(sniper, "sell", mint, token_fraction=1.0)
    return patient_wallet, sniper_wallet


def run_scout(cluster, wallet: str, cache_path, **options):
    return asyncio.run(scout_wallet(wallet, [cluster.rpc_url], cache_path=cache_path, **options))


def test_scout_matches_the_cluster_ground_truth_and_caches(sim_cluster, tmp_path):
    counter = MethodCounter(sim_cluster)
    patient, sniper = trade_a_history(sim_cluster)
    cache_path = tmp_path / "scout.db"

    history = run_scout(sim_cluster, patient, cache_path, days=None, limit=None)
    fetched_first = counter["getTransaction"]
    truth = build_report(patient, ground_truth(sim_cluster, patient))
    report = build_report(patient, history.swaps(allow_unknown_venue=True))
    assert report.swaps == truth.swaps == 6
    assert report.realised_pnl_lamports == truth.realised_pnl_lamports
    assert report.win_rate == truth.win_rate
    assert (report.round_trips, report.wins, report.losses) == (truth.round_trips, 1, 2)
    assert report.median_buy_lamports == truth.median_buy_lamports == SOL
    assert report.open_tokens == 1 and report.open_cost_lamports == SOL // 2
    assert fetched_first == history.fetched == len(history.transactions) == 6

    again = run_scout(sim_cluster, patient, cache_path, days=None, limit=None)
    assert counter["getTransaction"] == fetched_first, "a second scout fetched transactions again"
    assert again.fetched == 0 and again.cached == len(history.transactions)
    assert build_report(patient, again.swaps(allow_unknown_venue=True)) == report

    sniper_history = run_scout(sim_cluster, sniper, cache_path, days=None, limit=None)
    sniper_report = build_report(sniper, sniper_history.swaps(allow_unknown_venue=True))
    assert sniper_report.too_fast_to_copy and sniper_report.flip_share == 1.0
    # (Every trade here lands within seconds, so the other trader flips too: telling a patient style apart
    # takes days of history, which test_scout_sim_history.py scouts.)


def test_scout_limit_and_days_bound_the_history(sim_cluster, tmp_path):
    patient, _ = trade_a_history(sim_cluster)
    limited = run_scout(sim_cluster, patient, tmp_path / "scout.db", days=None, limit=3)
    assert limited.signatures == 3
    # The newest three: the last sell of the first token, the sell of the second, the open buy.
    assert [s.side for s in limited.swaps(allow_unknown_venue=True)] == ["sell", "sell", "buy"]
    recent = run_scout(sim_cluster, patient, tmp_path / "scout.db", days=1, limit=None)
    assert recent.signatures == 6 and recent.cached == 3 and recent.fetched == 3

    async def two_days_later():
        async with make_scout_pool([sim_cluster.rpc_url]) as pool:
            return await fetch_history(pool, patient, days=1, now=time.time() + 2 * 86_400)

    assert asyncio.run(two_days_later()).signatures == 0  # everything is older than the day asked for


def test_replay_on_a_scouted_history_follows_the_policy(sim_cluster, tmp_path):
    patient, _ = trade_a_history(sim_cluster)
    history = run_scout(sim_cluster, patient, tmp_path / "scout.db", days=None, limit=None)
    swaps = history.swaps(allow_unknown_venue=True)
    first = sim_cluster.mints[0]
    trader = TraderConfig(name="scout", wallet=patient)
    result = replay(swaps, trader, LimitsSettings(blacklist=[first]))
    # The first token's buy is refused, so its two sells find no position.
    assert dict(result.skipped) == {"blacklisted": 1, "no position": 2}
    assert [(fill.side, fill.mint) for fill in result.copies] == [
        ("buy", sim_cluster.mints[1]),
        ("sell", sim_cluster.mints[1]),
        ("buy", sim_cluster.mints[2]),
    ]


def test_cli_json_against_the_cluster(sim_cluster, zapbot_home, capsys):
    patient, _ = trade_a_history(sim_cluster)
    assert scout_cli.main([patient, "--rpc-url", sim_cluster.rpc_url, "--json", "--delay-ms", "500"]) == 0
    captured = capsys.readouterr()
    payload = orjson.loads(captured.out)
    assert payload["report"]["swaps"] == 6 and payload["replay"]["delay_ms"] == 500
    assert payload["history"]["fetched"] == 6 and (zapbot_home / "scout.db").is_file()
    assert "transactions" in captured.err  # the progress bar goes to stderr
    assert scout_cli.main([patient, "--rpc-url", sim_cluster.rpc_url]) == 0
    human = capsys.readouterr().out
    assert "Realised PnL" in human and "What if you had copied it" in human and " SOL" in human


def test_cli_one_line_errors(zapbot_home, capsys, monkeypatch):
    assert scout_cli.main(["not-a-wallet"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    # Sim mode with no RPC configured and no `zapbot sim` running: one line naming both ways out.
    monkeypatch.setattr(scout_cli, "LOCAL_CLUSTER_RPC", "http://127.0.0.1:9")
    assert scout_cli.main(["9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--rpc-url" in err and "zapbot sim" in err


def test_progress_and_cancel_keep_what_was_read(sim_cluster, tmp_path):
    patient, _ = trade_a_history(sim_cluster)
    cache_path = tmp_path / "scout.db"
    seen: list[tuple[str, int, int]] = []

    async def cancelled_early():
        cancel = asyncio.Event()

        def progress(phase: str, done: int, total: int) -> None:
            seen.append((phase, done, total))
            if phase == "transactions" and done >= 2:
                cancel.set()

        return await scout_wallet(
            patient,
            [sim_cluster.rpc_url],
            days=None,
            limit=None,
            cache_path=cache_path,
            progress=progress,
            cancel=cancel,
        )

    first = asyncio.run(cancelled_early())
    assert first.cancelled and 2 <= len(first.transactions) < 6
    assert ("transactions", 0, 6) in seen and seen[0][0] == "signatures"
    rest = run_scout(sim_cluster, patient, cache_path, days=None, limit=None)
    assert not rest.cancelled and rest.cached == len(first.transactions)
    assert rest.fetched == 6 - len(first.transactions) and len(rest.transactions) == 6


def test_signatures_are_paged_with_before(sim_cluster, tmp_path, monkeypatch):
    import engine.scout.history as history_module

    counter = MethodCounter(sim_cluster)
    patient, _ = trade_a_history(sim_cluster)
    monkeypatch.setattr(history_module, "PAGE_SIZE", 2)
    history = run_scout(sim_cluster, patient, tmp_path / "scout.db", days=None, limit=None)
    assert history.signatures == 6 and len({tx.signature for tx in history.transactions}) == 6
    # 2 + 2 + 2, then an empty page; and one small page per bought token, to see when it was created.
    assert history.creation_lookups == 3
    assert counter["getSignaturesForAddress"] == 4 + 3
    limited = run_scout(sim_cluster, patient, tmp_path / "scout.db", days=None, limit=3)
    # Pages of 2 and 1; the open buy's token is in the cache already (its first transaction is that buy).
    assert limited.signatures == 3 and limited.creation_lookups == 0
    assert counter["getSignaturesForAddress"] == 4 + 3 + 2


def test_cli_replays_with_the_followed_traders_settings(sim_cluster, zapbot_home, capsys):
    from engine.paths import home_paths
    from engine.traders import save_traders

    patient, _ = trade_a_history(sim_cluster)
    save_traders(home_paths().traders, [TraderConfig(name="alice", wallet=patient, copy_sells=False)])
    argv = [patient, "--rpc-url", sim_cluster.rpc_url, "--json", "--percent", "10", "--balance-sol", "5"]
    assert scout_cli.main(argv) == 0
    payload = orjson.loads(capsys.readouterr().out)
    assert payload["followed_as"] == "alice"
    replayed = payload["replay"]
    assert replayed["trader"]["sizing"] == "percent" and replayed["skipped"] == {"copy sells off": 3}
    # 10 % of the leader's 2, 1 and 0.5 SOL buys, with the 0.01 SOL floor and 1 SOL ceiling not binding.
    assert [fill["amount_in"] for fill in replayed["fills"]] == [SOL // 5, SOL // 10, SOL // 20]
    assert replayed["end_balance_lamports"] < 5 * SOL - 35 * SOL // 100
