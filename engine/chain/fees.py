"""Priority fees priced from the chain: a percentile of getRecentPrioritizationFees, cached and refreshed off the copy's path."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

from engine.constants import SIGNATURE_FEE_LAMPORTS

DEFAULT_PERCENTILE = 75
REFRESH_S = 3.0  # the chain's fee window is 150 slots (~60 s); a few seconds keeps the price fresh
MAX_ADDRESSES = 128  # the RPC method's documented limit
# The compute unit limit a paper fill's priority fee is priced at. Live swaps ask for dynamicComputeUnitLimit
# (the swap API simulates and sets it); paper never builds, so it takes a typical aggregator swap's limit.
PAPER_COMPUTE_UNITS = 200_000


def percentile_fee(entries: Iterable[dict[str, Any]], percentile: int = DEFAULT_PERCENTILE) -> int:
    """The given percentile (nearest rank) of the recent per-slot prioritizationFee values, in micro-lamports
    per compute unit; 0 with no entries."""
    if not 0 <= percentile <= 100:
        raise ValueError(f"fees.auto_percentile must be 0..100, not {percentile}")
    fees = sorted(
        int(e["prioritizationFee"]) for e in entries if isinstance(e, dict) and "prioritizationFee" in e
    )
    if not fees:
        return 0
    rank = max(1, -(-percentile * len(fees) // 100))  # nearest rank: ceil(p/100 * n)
    return fees[rank - 1]


def capped_micro_lamports(micro_per_cu: int, compute_units: int, cap_lamports: int | None) -> int:
    """The price lowered so that price * compute units stays within the cap (in lamports)."""
    if cap_lamports is None or cap_lamports <= 0 or compute_units <= 0:
        return micro_per_cu
    return min(micro_per_cu, cap_lamports * 1_000_000 // compute_units)


def swap_fee_lamports(
    *,
    micro_lamports_per_cu: int | None,
    compute_units: int,
    cap_lamports: int | None,
    tip_lamports: int = 0,
    signatures: int = 1,
) -> int:
    """The network fee a swap built with these settings pays, as engine/chain/swap_api.swap_request_body asks
    for it: the base fee per signature, plus either the Jito tip (in v1 a tip replaces the priority fee) or
    the priority fee. A fixed price pays ceil(price * compute units / 1e6); no price means the swap API's
    own level capped at cap_lamports, booked at the cap (what the local cluster charges, and the most
    Jupiter would)."""
    base = SIGNATURE_FEE_LAMPORTS * max(1, int(signatures))
    if tip_lamports > 0:
        return base + int(tip_lamports)
    if micro_lamports_per_cu is None:
        return base + max(0, int(cap_lamports or 0))
    return base + -(-int(micro_lamports_per_cu) * int(compute_units) // 1_000_000)


class FeeCache:
    """The last priced fee per set of writable accounts; the copy reads it with no request, a task refreshes it."""

    def __init__(
        self, rpc: Any, *, percentile: int = DEFAULT_PERCENTILE, refresh_s: float = REFRESH_S
    ) -> None:
        percentile_fee([], percentile)  # validates the percentile once, at start
        self.rpc = rpc
        self.percentile = percentile
        self.refresh_s = refresh_s
        self._prices: dict[tuple[str, ...], tuple[int, float]] = {}
        self._wanted: set[tuple[str, ...]] = {()}
        self._by_mint: dict[str, tuple[str, ...]] = {}  # the writable accounts of the last swap of a mint
        self.refreshes = 0
        self.log = logging.getLogger("zapbot.fees")

    @staticmethod
    def _key(accounts: Sequence[str]) -> tuple[str, ...]:
        return tuple(sorted(set(map(str, accounts))))[:MAX_ADDRESSES]

    def price(self, accounts: Sequence[str] = ()) -> int | None:
        """The cached price for these accounts (or the global one); None before the first refresh. Never a
        request: an unknown account set is remembered and priced on the next refresh."""
        key = self._key(accounts)
        if key not in self._prices:
            self._wanted.add(key)
            cached = self._prices.get(())
            return cached[0] if cached else None
        return self._prices[key][0]

    def learn(self, mint: str, writable: Sequence[str]) -> None:
        """The writable accounts a swap of this mint locked (read from the built transaction), so the next
        refresh prices exactly them and the next swap of the mint pays their percentile."""
        key = self._key(writable)
        if key and self._by_mint.get(mint) != key:
            self._by_mint[mint] = key
            self._wanted.add(key)

    def price_for_mint(self, mint: str) -> int | None:
        """The cached price over the writable accounts of this mint's last swap (the global price before the
        first swap of it, or before they were priced); never a request."""
        return self.price(self._by_mint.get(mint, ()))

    async def refresh(self) -> None:
        """One getRecentPrioritizationFees per wanted account set."""
        for key in list(self._wanted):
            entries = await self.rpc.call("getRecentPrioritizationFees", [list(key)] if key else [])
            self._prices[key] = (percentile_fee(entries or [], self.percentile), time.monotonic())
        self.refreshes += 1

    async def run(self, stop: asyncio.Event) -> None:
        """Refresh every refresh_s until stop is set; a failed refresh keeps the last price."""
        while not stop.is_set():
            try:
                await self.refresh()
            except Exception as exc:  # noqa: BLE001 - the last price stays; the next refresh tries again
                self.log.debug("priority fee refresh failed: %s", exc)
            try:
                await asyncio.wait_for(stop.wait(), self.refresh_s)
            except TimeoutError:
                pass


def writable_accounts(transaction: Any) -> list[str]:
    """The static writable account keys of a VersionedTransaction's message (what the fee market prices)."""
    msg = transaction.message
    return [str(key) for index, key in enumerate(msg.account_keys) if msg.is_maybe_writable(index)]
