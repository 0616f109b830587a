"""When the tokens a wallet bought were created: the mint's own signatures just before the wallet's first buy
(getSignaturesForAddress on the mint, one short page), and the oldest of them read once to see whether it
created the mint (InitializeMint). Answers are cached by mint, so a second scout asks no getTransaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from engine.chain.rpc import RpcError, RpcPool
from engine.scout.cache import ScoutCache
from engine.scout.model import WalletSwap, chronological
from engine.scout.report import CREATION_WINDOW_SLOTS, is_sol_trade

CREATION_LOOKBACK = 20  # signatures of the mint before the wallet's buy: one small page per token

# What is known of a mint's creation (cached per mint):
EXACT = "exact"  # the transaction at `slot` created the mint
FIRST = (
    "first"  # the mint's first transaction is at `slot` and did not create it: its creation is not visible
)
BOUND = "bound"  # the mint already had transactions at `slot` (created at or before it)


def first_buys(swaps: list[WalletSwap]) -> dict[str, WalletSwap]:
    """The wallet's first SOL buy of each token (oldest first)."""
    found: dict[str, WalletSwap] = {}
    for swap in chronological(swaps):
        if is_sol_trade(swap) and swap.side == "buy" and swap.slot is not None:
            found.setdefault(swap.mint, swap)
    return found


def resolve(kind: str, slot: int, buy_slot: int) -> int | None:
    """The slot the report may use as the mint's creation for this buy, or None when the buy's timing is
    unknown: an exact creation always; a bound or an invisible creation only when it proves the buy came
    more than CREATION_WINDOW_SLOTS after the mint existed (so not at its creation)."""
    if kind == EXACT:
        return slot
    return slot if buy_slot - slot > CREATION_WINDOW_SLOTS else None


async def find_creations(
    pool: RpcPool,
    history: Any,
    cache: ScoutCache | None,
    created_by_wallet: dict[str, int],
    *,
    read_created: Callable[[dict[str, Any]], tuple[str, ...]],
    cancel: Any = None,
    lookback: int = CREATION_LOOKBACK,
) -> dict[str, int]:
    """mint -> slot to judge the wallet's buys of it by (see resolve). Counts its calls on history
    (creation_lookups: getSignaturesForAddress, creation_fetched: getTransaction)."""
    buys = {
        mint: buy
        for mint, buy in first_buys(history.swaps(allow_unknown_venue=True)).items()
        if mint not in created_by_wallet
    }
    known = cache.get_creations(buys) if cache is not None else {}
    own = {tx.signature for tx in history.transactions}
    found: dict[str, int] = {}
    for mint, buy in buys.items():
        if cancel is not None and cancel.is_set():
            break
        assert buy.slot is not None
        if mint in known:
            kind, slot = known[mint]
            usable = resolve(kind, slot, buy.slot)
            if usable is not None or kind != BOUND:
                if usable is not None:
                    found[mint] = usable
                continue
        try:
            history.creation_lookups += 1
            entries = await pool.get_signatures_for_address(mint, before=buy.signature, limit=lookback)
            kind, slot = BOUND, buy.slot
            if not entries:
                kind = FIRST  # the buy is the mint's first transaction, and it created nothing
            elif len(entries) >= lookback:
                slot = int(entries[-1]["slot"])
            else:
                oldest = entries[-1]
                slot = int(oldest["slot"])
                kind = FIRST
                if oldest["signature"] not in own:
                    history.creation_fetched += 1
                    raw = await pool.get_transaction_raw(oldest["signature"])
                    if raw is not None and mint in read_created(orjson.loads(raw)["result"]):
                        kind = EXACT
        except (RpcError, KeyError, TypeError, ValueError, orjson.JSONDecodeError):
            history.fetch_errors += 1
            continue
        if cache is not None:
            cache.put_creation(mint, kind, slot)
        usable = resolve(kind, slot, buy.slot)
        if usable is not None:
            found[mint] = usable
    return found
