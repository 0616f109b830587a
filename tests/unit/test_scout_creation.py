"""What the scout may conclude about a token's creation, and how the cache keeps it (pure and SQLite)."""

from __future__ import annotations

from engine.scout.cache import ScoutCache
from engine.scout.creation import BOUND, EXACT, FIRST, resolve
from engine.scout.report import CREATION_WINDOW_SLOTS


def test_resolve_uses_a_bound_only_when_it_proves_the_buy_was_late():
    assert resolve(EXACT, 100, 102) == 100  # created at 100, bought 2 slots later: judged by 100
    assert resolve(EXACT, 100, 10_000) == 100
    late = 100 + CREATION_WINDOW_SLOTS + 1
    assert resolve(BOUND, 100, late) == 100  # it existed long before the buy: not at creation
    assert resolve(BOUND, 100, 100 + CREATION_WINDOW_SLOTS) is None  # could still be at creation
    assert resolve(FIRST, 100, 100) is None  # its creation is not visible at all
    assert resolve(FIRST, 100, late) == 100


def test_cache_keeps_final_answers_and_the_earliest_bound(tmp_path):
    with ScoutCache(tmp_path / "scout.db") as cache:
        cache.put_creation("MintA", BOUND, 500)
        cache.put_creation("MintA", BOUND, 700)  # a later bound says less
        assert cache.get_creations(["MintA"]) == {"MintA": (BOUND, 500)}
        cache.put_creation("MintA", BOUND, 300)
        assert cache.get_creations(["MintA"]) == {"MintA": (BOUND, 300)}
        cache.put_creation("MintA", EXACT, 250)
        cache.put_creation("MintA", BOUND, 100)  # an exact creation is final
        cache.put_creation("MintB", FIRST, 42)
        assert cache.get_creations(["MintA", "MintB", "MintC"]) == {
            "MintA": (EXACT, 250),
            "MintB": (FIRST, 42),
        }
