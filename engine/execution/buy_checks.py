"""What a buy passes after the copy policy sized it: the per-token copy rules (engine/copy_rules.py) and the
safety gate (engine/execution/safety_gate.py); and leader trades quoted in USDC or USDT, turned into their
SOL worth at the current price so that the policy sizes them as SOL trades."""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from engine.chain.swap_api import SwapApi, SwapApiError
from engine.constants import USDC_MINT, USDT_MINT, WSOL_MINT
from engine.copy_rules import CopyRules, TokenBook, apply_copy_rules
from engine.execution.safety_gate import SafetyGate
from engine.messages import SwapDetected
from engine.policy import Copy, Skip
from engine.store import Store
from engine.store.intents import IN_FLIGHT_STATUSES

if TYPE_CHECKING:
    from engine.chain.rpc import RpcPool
    from engine.context import EngineContext

STABLE_MINTS = (USDC_MINT, USDT_MINT)
PRICE_PROBE_SLIPPAGE_BPS = 50


class BuyChecks:
    """Copy rules, then safety, for one sized buy; and the SOL worth of a stablecoin-quoted leader trade."""

    def __init__(
        self,
        ctx: EngineContext,
        *,
        rpc: RpcPool | None,
        swap_api: SwapApi | None,
        wallet: str,
        log: logging.Logger,
    ) -> None:
        self.ctx = ctx
        self.wallet = wallet
        self.swap_api = swap_api
        self.log = log
        self.rules = CopyRules.from_limits(ctx.settings.limits)
        self.gate = SafetyGate(ctx, rpc, swap_api, log)
        self._reader: Store | None = None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    async def check(self, msg: SwapDetected, buy: Copy) -> Copy | Skip:
        if self.rules.any:
            decided = apply_copy_rules(buy, await self._token_book(msg.mint), self.rules, time.time())
            if isinstance(decided, Skip):
                return decided
            buy = decided
        result = await self.gate.check_buy(msg.mint, buy.amount_in, buy.slippage_bps)
        if result.skip is not None:
            return Skip(result.skip.reason, result.skip.detail)
        return buy

    # -- stablecoin-quoted leader trades ---------------------------------------------------------------
    async def in_sol(self, msg: SwapDetected) -> SwapDetected:
        """A leader trade against USDC/USDT as if it were against SOL: its quote amount becomes the SOL a
        sell quote of that many stablecoins pays now. Any other trade, or no price, is returned as it is
        (the policy then skips it as not a SOL trade)."""
        if msg.quote_mint not in STABLE_MINTS or self.swap_api is None or msg.quote_amount <= 0:
            return msg
        try:
            quote = await self.swap_api.quote(
                msg.quote_mint, WSOL_MINT, int(msg.quote_amount), PRICE_PROBE_SLIPPAGE_BPS
            )
            lamports = int(quote["outAmount"])
        except (SwapApiError, KeyError, TypeError, ValueError) as exc:
            self.log.info("no SOL price for %s: %s", msg.quote_mint[:6], exc)
            return msg
        return replace(msg, quote_mint=WSOL_MINT, quote_amount=lamports)

    # -- reads ---------------------------------------------------------------------------------------
    async def _token_book(self, mint: str) -> TokenBook:
        try:
            if self._reader is None:
                self._reader = Store.reader(self.ctx.db_path)
            return token_book(self._reader.conn, self.wallet, mint, self.ctx.state.books_chain or "unknown")
        except sqlite3.Error as exc:
            # A read-only connection can fail while the file is created; the data worker's answer is the same.
            self.log.debug("token book read failed: %s", exc)
            self.close()
            return TokenBook()


def token_book(conn: sqlite3.Connection, wallet: str, mint: str, chain: str = "unknown") -> TokenBook:
    """The TokenBook of one mint for our wallet on one chain, in one read."""
    live = (*IN_FLIGHT_STATUSES, "executed")
    marks = ",".join("?" * len(live))
    flight = ",".join("?" * len(IN_FLIGHT_STATUSES))
    first = conn.execute(
        f"SELECT trader, MAX(COALESCE(queued_at, created_at)) AS last_at FROM intents WHERE wallet=?"
        f" AND chain=? AND side='buy' AND mint=? AND status IN ({marks})",
        (wallet, chain, mint, *live),
    ).fetchone()
    in_flight: dict[str, int] = {
        row["mint"]: int(row["lamports"])
        for row in conn.execute(
            f"SELECT mint, SUM(amount_in) AS lamports FROM intents WHERE wallet=? AND chain=? AND side='buy'"
            f" AND status IN ({flight}) GROUP BY mint",
            (wallet, chain, *IN_FLIGHT_STATUSES),
        )
    }
    held: dict[str, int] = {
        row["mint"]: int(row["cost"])
        for row in conn.execute(
            "SELECT mint, SUM(cost_lamports) AS cost FROM positions WHERE amount > 0 AND wallet=? AND chain=?"
            " GROUP BY mint",
            (wallet, chain),
        )
    }
    return TokenBook(
        bought_by=first["trader"] if first is not None and first["last_at"] is not None else None,
        last_buy_at=first["last_at"] if first is not None else None,
        mint_cost_lamports=held.get(mint, 0) + in_flight.get(mint, 0),
        open_cost_lamports=sum(held.values()) + sum(in_flight.values()),
    )
