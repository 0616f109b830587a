"""The scout's reading of one transaction (swaps, holdings, creations) on mainnet fixtures, and its cache."""

from __future__ import annotations

from engine.scout.cache import ScoutCache
from engine.scout.history import History, scouted_from_raw
from engine.scout.model import ScoutedTransaction, WalletSwap
from engine.scout.report import build_report

CREATOR = "6xo262KbDXepWbF3vPTrFXysr5vJwk3mozBXmXk3hmMx"
CREATED = "5dNYcCZXEGfGgbdUdq7MMR7KLsNJLLLgL83wLH8Fpump"
SELLER = "4DdrfiDHpmx55i4SPssxVzS9ZaKLb8qr45NKY9Er9nNh"


def test_create_and_buy_shows_the_creation_and_the_holding(mainnet):
    scouted = scouted_from_raw((mainnet / "pumpfun" / "2s393PSY_create_and_buy.json").read_bytes(), CREATOR)
    assert scouted.created_mints == (CREATED,)
    (buy,) = scouted.swaps
    assert (buy.side, buy.mint, buy.venue) == ("buy", CREATED, "pumpfun")
    assert (buy.leader_pre_amount, buy.leader_post_amount) == (0, buy.token_amount) == (0, 34_612_903_225_806)
    history = History(CREATOR, transactions=[scouted])
    assert history.creation_slots() == {CREATED: 292_743_221}
    report = build_report(CREATOR, history.swaps(), creation_slots=history.creation_slots())
    assert (report.creation_buys_known, report.creation_buys_early, report.creation_share) == (1, 1, 1.0)


def test_a_sell_reads_the_holding_before_and_after(mainnet):
    scouted = scouted_from_raw((mainnet / "pumpfun" / "3bYXWjjN_sell.json").read_bytes(), SELLER)
    (sell,) = scouted.swaps
    assert sell.side == "sell" and scouted.created_mints == ()
    assert (sell.leader_pre_amount, sell.leader_post_amount) == (592_443_959_105_061, 105_061)


def _swap(signature: str, venue: str) -> WalletSwap:
    return WalletSwap(
        signature,
        1,
        100,
        "buy",
        "MintA",
        10,
        6,
        "So11111111111111111111111111111111111111112",
        5,
        venue,
        None,
        5000,
    )


def test_unknown_venue_counts_only_when_allowed():
    history = History(
        "W", transactions=[ScoutedTransaction("s1", 1, 100, False, 5000, (_swap("s1", "unknown"),))]
    )
    assert history.swaps() == [] and len(history.swaps(allow_unknown_venue=True)) == 1


def test_cache_round_trip_per_wallet(tmp_path):
    tx = ScoutedTransaction("s1", 1, 100, False, 5000, (_swap("s1", "pumpfun"),), ("MintA",))
    with ScoutCache(tmp_path / "scout.db") as cache:
        cache.put_many("W", [tx])
        assert cache.get_many("W", ["s1", "s2"]) == {"s1": tx}
        assert cache.get_many("other wallet", ["s1"]) == {}
    with ScoutCache(tmp_path / "scout.db") as reopened:
        assert reopened.count("W") == 1
        assert reopened._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_scout_pool_is_small_and_low_priority():
    from engine.scout.history import DEFAULT_SCOUT_RPS, make_scout_pool

    class EngineState:  # the engine's state is the key of its shared per-endpoint budget
        def set_health(self, **fields):
            pass

    pool = make_scout_pool(["http://127.0.0.1:9"], state=EngineState())
    assert pool.low_priority and DEFAULT_SCOUT_RPS <= 5
    (endpoint,) = pool.endpoints
    assert endpoint.bucket.rate == DEFAULT_SCOUT_RPS and endpoint.shared is not None
