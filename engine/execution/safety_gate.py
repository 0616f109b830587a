"""The safety gate before a buy: a mint's facts read once (getAccountInfo jsonParsed) and cached, the buy's
own quote and a sell quote for what it would buy, judged by engine/safety.py; a refusal becomes a skip.

The gate's buy quote is left in the ChainCache for the trade's swap (reusable_quote decides whether it still
may be used), and a mint's sell route is asked once per SELL_ROUTE_TTL_S, so a copied buy of a mint seen
recently makes one /quote call on its critical path, not two or three."""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache, TTLCache

from engine.chain.swap_api import SwapApi, SwapApiError
from engine.constants import WSOL_MINT
from engine.safety import (
    MintFacts,
    MintParseError,
    SafetyRules,
    SafetySkip,
    check_mint,
    check_quotes,
    parse_mint_account,
)

if TYPE_CHECKING:
    from engine.chain.rpc import RpcPool
    from engine.context import EngineContext

FACTS_CACHE_SIZE = 10_000  # mints; a mint's authorities and extensions are re-read only after eviction
BUY_QUOTE_TTL_S = 2.0  # the gate's buy quote is reused by the trade itself when it is this fresh
# A mint's sell route (a pool that buys it back) is a fact of the market, not of one price: asked again after
# this long. A pool that disappears within it is the exit rules' to meet, as it would be a second later.
SELL_ROUTE_TTL_S = 60.0
SELL_ROUTE_CACHE_SIZE = 10_000


def buy_quote_key(mint: str, lamports: int, slippage_bps: int) -> Hashable:
    """The ChainCache key under which the gate leaves the buy's quote for the trade to reuse."""
    return ("safety-buy-quote", mint, int(lamports), int(slippage_bps))


@dataclass(frozen=True, slots=True)
class GateQuote:
    """The buy quote the gate judged, as it leaves it for the trade: what was asked, and when (monotonic)."""

    quote: dict[str, Any]
    mint: str
    lamports: int
    slippage_bps: int
    quoted_at: float


def reusable_quote(
    entry: Any,
    *,
    mint: str,
    lamports: int,
    slippage_bps: int,
    now: float,
    signal_age_s: float | None,
    max_signal_age_s: float,
    ttl_s: float = BUY_QUOTE_TTL_S,
) -> dict[str, Any] | None:
    """The gate's quote when the buy's swap may be built on it: the same input (SOL), output, amount and
    slippage, quoted at most ttl_s ago, for a signal still inside limits.max_signal_age_s. None: quote again."""
    if not isinstance(entry, GateQuote):
        return None
    if (entry.mint, entry.lamports, entry.slippage_bps) != (mint, int(lamports), int(slippage_bps)):
        return None
    quote = entry.quote
    try:
        same = (
            quote.get("inputMint") == WSOL_MINT
            and quote.get("outputMint") == mint
            and int(quote.get("inAmount")) == int(lamports)
            and int(quote.get("slippageBps", slippage_bps)) == int(slippage_bps)
        )
    except (TypeError, ValueError):
        return None
    if not same or not 0.0 <= now - entry.quoted_at <= ttl_s:
        return None
    if signal_age_s is not None and signal_age_s > max_signal_age_s:
        return None
    return quote


@dataclass(frozen=True)
class GateResult:
    """None skip: the buy may go ahead. quote: the buy quote the checks used (None: none was asked)."""

    skip: SafetySkip | None
    quote: dict[str, Any] | None = None


class SafetyGate:
    """Runs the [safety] checks of one buy; counts its RPC reads so tests can see the cache work."""

    def __init__(
        self, ctx: EngineContext, rpc: RpcPool | None, swap_api: SwapApi | None, log: logging.Logger
    ) -> None:
        self.ctx = ctx
        self.rpc = rpc
        self.swap_api = swap_api
        self.log = log
        self.rules = SafetyRules.from_settings(ctx.settings.safety)
        self._facts: LRUCache[str, MintFacts] = LRUCache(maxsize=FACTS_CACHE_SIZE)
        self._sell_routes: TTLCache[str, bool] = TTLCache(SELL_ROUTE_CACHE_SIZE, SELL_ROUTE_TTL_S)
        self.fact_reads = 0
        self.sell_route_reads = 0

    @property
    def needs_quotes(self) -> bool:
        rules = self.rules
        return rules.max_price_impact_pct > 0 or rules.require_sell_route or rules.min_liquidity_sol > 0

    @property
    def needs_facts(self) -> bool:
        rules = self.rules
        return rules.reject_mint_authority or rules.reject_freeze_authority or rules.reject_token_extensions

    async def facts(self, mint: str) -> MintFacts | None:
        """The mint's facts, from the cache or one getAccountInfo (jsonParsed); None when unreadable."""
        cached = self._facts.get(mint)
        if cached is not None or self.rpc is None:
            return cached
        self.fact_reads += 1
        try:
            result = await self.rpc.call("getAccountInfo", [mint, {"encoding": "jsonParsed"}])
            facts = parse_mint_account(mint, (result or {}).get("value"))
        except MintParseError as exc:
            self.log.info("safety: %s", exc)
            return None
        except Exception as exc:  # noqa: BLE001 - unknown facts never skip by themselves; read next time
            self.log.info("safety: mint %s unreadable: %s", mint[:8], exc)
            return None
        self._facts[mint] = facts
        if facts.decimals is not None:
            self.ctx.cache.put_decimals(mint, facts.decimals)
        return facts

    async def check_buy(self, mint: str, lamports: int, slippage_bps: int) -> GateResult:
        """Every check, in the order of docs/COPYING.md: the mint's facts, then the buy's quote and a sell
        quote for what it buys. A fact that cannot be had (a quote API down) never refuses by itself."""
        if self.needs_facts:
            facts = await self.facts(mint)
            if facts is not None:
                skip = check_mint(facts, self.rules)
                if skip is not None:
                    return GateResult(skip)
        if not self.needs_quotes or self.swap_api is None:
            return GateResult(None)
        try:
            quote = await self.swap_api.quote(WSOL_MINT, mint, lamports, slippage_bps)
        except SwapApiError as exc:
            # No buy route at all is the trade's own failure to report, not a safety verdict.
            self.log.info("safety: no buy quote for %s: %s", mint[:8], exc)
            return GateResult(None)
        self.ctx.cache.put_quote(
            buy_quote_key(mint, lamports, slippage_bps),
            GateQuote(quote, mint, int(lamports), int(slippage_bps), time.monotonic()),
            BUY_QUOTE_TTL_S,
        )
        sell_route: bool | None = None
        if self.rules.require_sell_route:
            sell_route = await self._sell_route(mint, int(quote.get("outAmount") or 0), slippage_bps)
        skip = check_quotes(
            self.rules, buy_quote=quote, sell_route_exists=sell_route, pool_sol_lamports=_pool_sol(quote)
        )
        return GateResult(skip, quote)

    async def _sell_route(self, mint: str, tokens: int, slippage_bps: int) -> bool | None:
        """Whether a quote sells the tokens back to SOL: asked once per mint per SELL_ROUTE_TTL_S (a
        verdict, yes or no, is kept; an API that could not answer is asked again next time)."""
        assert self.swap_api is not None
        known = self._sell_routes.get(mint)
        if known is not None:
            return known
        if tokens <= 0:
            return None
        self.sell_route_reads += 1
        try:
            await self.swap_api.quote(mint, WSOL_MINT, tokens, slippage_bps)
        except SwapApiError as exc:
            if exc.retryable:
                return None
            self._sell_routes[mint] = False
            return False
        self._sell_routes[mint] = True
        return True


def _pool_sol(quote: dict[str, Any]) -> int | None:
    """The pool's SOL side where the quote tells it (Jupiter does not; some aggregators do)."""
    for plan in quote.get("routePlan") or ():
        info = (plan or {}).get("swapInfo") or {}
        for key in ("solReserve", "quoteReserve"):
            if info.get(key) is not None:
                try:
                    return int(info[key])
                except (TypeError, ValueError):
                    return None
    return None
