"""The safety gate before a buy: a mint's facts read once (getAccountInfo jsonParsed) and cached, the buy's
own quote and a sell quote for what it would buy, judged by engine/safety.py; a refusal becomes a skip."""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache

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


def buy_quote_key(mint: str, lamports: int, slippage_bps: int) -> Hashable:
    """The ChainCache key under which the gate leaves the buy's quote for the trade to reuse."""
    return ("safety-buy-quote", mint, int(lamports), int(slippage_bps))


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
        self.fact_reads = 0

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
        self.ctx.cache.put_quote(buy_quote_key(mint, lamports, slippage_bps), quote, BUY_QUOTE_TTL_S)
        sell_route: bool | None = None
        if self.rules.require_sell_route:
            sell_route = await self._sell_route(mint, int(quote.get("outAmount") or 0), slippage_bps)
        skip = check_quotes(
            self.rules, buy_quote=quote, sell_route_exists=sell_route, pool_sol_lamports=_pool_sol(quote)
        )
        return GateResult(skip, quote)

    async def _sell_route(self, mint: str, tokens: int, slippage_bps: int) -> bool | None:
        assert self.swap_api is not None
        if tokens <= 0:
            return None
        try:
            await self.swap_api.quote(mint, WSOL_MINT, tokens, slippage_bps)
        except SwapApiError as exc:
            return None if exc.retryable else False
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
