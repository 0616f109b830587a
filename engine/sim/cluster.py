"""SimCluster: the embedded local Solana cluster (ledger, market, RPC, pubsub and swap API servers) running
on its own thread and asyncio loop."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from dataclasses import replace
from typing import Any, Self

from aiohttp import web
from solders.pubkey import Pubkey

from engine.constants import TOKEN_2022_PROGRAM, TOKEN_PROGRAM, USDC_MINT, WSOL_MINT
from engine.sim.block_engine import BlockEngine
from engine.sim.config import ChaosSettings, SimConfig
from engine.sim.history import HistorySummary, generate_history
from engine.sim.ledger import Ledger
from engine.sim.market import Market, TraderTrade
from engine.sim.pubsub import PubsubServer
from engine.sim.rpc import RpcServer
from engine.sim.scenario import Scenario, ScenarioError, load_scenario
from engine.sim.swapapi import SwapApiServer

START_TIMEOUT_S = 10.0
USDC_POOL_SOL = 10_000  # the SOL/USDC pool's SOL side: deep, so copies barely move SOL's price


class SimCluster:
    """A local cluster: `start()` returns once the three servers listen; `stop()` shuts them down."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        scenario: Scenario | None = load_scenario(self.config.scenario) if self.config.scenario else None
        self.scenario = scenario
        if scenario is not None:
            if scenario.seed is not None:
                self.config = replace(self.config, seed=int(scenario.seed))
            if scenario.slot_ms is not None:
                self.config = replace(self.config, slot_ms=float(scenario.slot_ms))
            for key, value in scenario.chaos.items():
                self.config.chaos.set(key, value)
        cfg = self.config
        self.chaos: ChaosSettings = cfg.chaos
        self.rng = random.Random(cfg.seed)
        self.ledger = Ledger(self.chaos, cfg.blockhash_ttl_blocks)
        has_scenario_tokens = bool(scenario and scenario.tokens)
        has_scenario_traders = bool(scenario and scenario.traders)
        self.market = Market(
            self.ledger,
            cfg.seed,
            0 if has_scenario_tokens else cfg.tokens,
            cfg.token2022,
            0 if has_scenario_traders else cfg.traders,
            cfg.trader_lamports,
            cfg.pool_fee_bps,
            cfg.pool_sol_lamports,
            cfg.pool_token_raw,
        )
        if scenario is not None:
            for token in scenario.tokens:
                self.market.add_token(
                    token.symbol,
                    token_program=TOKEN_2022_PROGRAM if token.token2022 else TOKEN_PROGRAM,
                    sol_lamports=token.sol_reserve_lamports,
                    token_raw=token.token_reserve_raw,
                    fee_bps=token.fee_bps,
                    mint_authority=token.mint_authority,
                    freeze_authority=token.freeze_authority,
                    transfer_fee_bps=token.transfer_fee_bps,
                    permanent_delegate=token.permanent_delegate,
                )
            for trader in scenario.traders:
                self.market.add_trader(trader.name, trader.lamports)
        sol_price_usd = scenario.sol_price_usd if scenario is not None else cfg.sol_price_usd
        if cfg.usdc or (scenario is not None and scenario.usdc):
            self.market.enable_usdc(USDC_POOL_SOL * 10**9, int(USDC_POOL_SOL * sol_price_usd * 10**6))
        for token in scenario.tokens if scenario is not None else []:
            if token.usdc_pool:
                mint = self.resolve_mint(token.symbol)
                usdc_raw = token.usdc_reserve_raw
                if usdc_raw is None:
                    usdc_raw = token.sol_reserve_lamports * sol_price_usd * 10**6 // 10**9
                self.market.add_usdc_pool(
                    mint,
                    int(usdc_raw),
                    token.usdc_token_reserve_raw or token.token_reserve_raw,
                    token.fee_bps,
                )
        # Before the servers exist: the history's jumped clock is over by the time anyone can listen.
        self.history: HistorySummary | None = None
        if cfg.history_days > 0:
            self.history = generate_history(self.ledger, self.market, cfg.history_days, cfg.seed)
        self.rpc = RpcServer(self.ledger, self.airdrop, random.Random(cfg.seed + 1))
        self.block_engine = BlockEngine(self.rpc)
        self.pubsub = PubsubServer(self.ledger, random.Random(cfg.seed + 2))
        self.swap_api = SwapApiServer(self.market)
        for token in scenario.tokens if scenario is not None else []:
            if not token.sell_route:
                self.swap_api.no_sell_route.add(self.resolve_mint(token.symbol))
        self.rpc_port = self.ws_port = self.swap_port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop_event: asyncio.Event | None = None
        self._startup_error: BaseException | None = None
        self.timeline_errors: list[str] = []

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Self:
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._run, name="sim-cluster", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError("local cluster did not start within 10 s")
        if self._startup_error is not None:
            error, self._startup_error = self._startup_error, None
            self._thread.join(timeout=5)
            self._thread = None
            raise error
        return self

    def stop(self) -> None:
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        if self._stop_event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._stop_event.set)
        thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait(self) -> None:
        """Block until the cluster stops (used by the CLI)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main())
        except BaseException as error:  # noqa: BLE001 - surfaced to start() when it happens before ready
            if not self._ready.is_set():
                self._startup_error = error
                self._ready.set()
        finally:
            loop.close()

    async def _main(self) -> None:
        cfg = self.config
        self._stop_event = asyncio.Event()
        self.pubsub.bind(asyncio.get_running_loop())
        runners: list[web.AppRunner] = []
        try:
            ports = []
            for app, port in (
                (self.rpc.app(self.block_engine.add_routes), cfg.rpc_port),
                (self.pubsub.app(), cfg.ws_port),
                (self.swap_api.app(), cfg.swap_port),
            ):
                runner = web.AppRunner(app, access_log=None, handle_signals=False)
                await runner.setup()
                runners.append(runner)
                site = web.TCPSite(runner, cfg.host, port, reuse_address=True)
                try:
                    await site.start()
                except OSError as error:
                    raise OSError(f"cannot listen on {cfg.host}:{port}: {error.strerror}") from None
                ports.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
            self.rpc_port, self.ws_port, self.swap_port = ports
            tasks = [asyncio.ensure_future(self._slot_clock()), asyncio.ensure_future(self._ws_dropper())]
            if cfg.trade_rate > 0:
                tasks.append(asyncio.ensure_future(self._trade_schedule()))
            if self.scenario is not None and self.scenario.timeline:
                tasks.append(asyncio.ensure_future(self._timeline()))
            self._ready.set()
            await self._stop_event.wait()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.pubsub.close_all()
        finally:
            for runner in runners:
                await runner.cleanup()

    async def _slot_clock(self) -> None:
        loop = asyncio.get_running_loop()
        period = self.config.slot_ms / 1000
        deadline = loop.time()
        while True:
            deadline += period
            await asyncio.sleep(max(0.0, deadline - loop.time()))
            if not self.chaos.pause_slots:
                self.ledger.advance_slot()
            if loop.time() - deadline > 5 * period:  # fell far behind (e.g. a paused debugger): resync
                deadline = loop.time()

    async def _ws_dropper(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.05)
            every = self.chaos.ws_drop_every_s
            if every > 0 and time.monotonic() - last >= every:
                last = time.monotonic()
                await self.pubsub.close_all(code=1001)
            elif every <= 0:
                last = time.monotonic()

    async def _trade_schedule(self) -> None:
        cfg = self.config
        rng = random.Random(cfg.seed + 3)
        started = time.monotonic()
        while cfg.trade_duration <= 0 or time.monotonic() - started < cfg.trade_duration:
            await asyncio.sleep(rng.expovariate(cfg.trade_rate))
            self.market.random_trade()

    async def _timeline(self) -> None:
        assert self.scenario is not None
        started = time.monotonic()
        for event in self.scenario.timeline:
            await asyncio.sleep(max(0.0, started + event.at - time.monotonic()))
            for key, value in event.chaos.items():
                self.chaos.set(key, value)
            if event.trader is None:
                continue
            try:
                mint = self.resolve_mint(event.token or "")
                quote_mint = USDC_MINT if event.quote == "USDC" else WSOL_MINT
                if event.price_pct is not None:
                    self.market.move_price(event.trader, mint, event.price_pct, quote_mint)
                elif event.side == "buy" and event.quote == "USDC":
                    self.market.trader_swap(
                        event.trader,
                        "buy",
                        mint,
                        quote_lamports=int((event.usdc or 0) * 10**6),
                        quote_mint=USDC_MINT,
                    )
                elif event.side == "sell" and event.quote == "USDC":
                    self.market.trader_swap(
                        event.trader, "sell", mint, token_fraction=event.fraction or 1.0, quote_mint=USDC_MINT
                    )
                elif event.side == "buy":
                    self.market.trader_swap(
                        event.trader, "buy", mint, quote_lamports=int((event.sol or 0) * 1e9)
                    )
                else:
                    self.market.trader_swap(event.trader, "sell", mint, token_fraction=event.fraction or 1.0)
            except (KeyError, ValueError, RuntimeError) as error:
                self.timeline_errors.append(f"t={event.at}s {event.trader} {event.side}: {error}")

    # -- public surface -----------------------------------------------------------------------

    @property
    def rpc_url(self) -> str:
        return f"http://{self.config.host}:{self.rpc_port}"

    @property
    def block_engine_url(self) -> str:
        """The Jito-compatible block engine (a `jito` sender's url; it adds /api/v1/... itself)."""
        return self.rpc_url

    @property
    def ws_url(self) -> str:
        return f"ws://{self.config.host}:{self.ws_port}"

    @property
    def swap_api_url(self) -> str:
        return f"http://{self.config.host}:{self.swap_port}/swap/v1"

    @property
    def market_url(self) -> str:
        return f"http://{self.config.host}:{self.swap_port}/sim/v1/market"

    @property
    def traders(self) -> list[tuple[str, str]]:
        return [(name, str(self.market.traders[name].pubkey())) for name in self.market.trader_order]

    @property
    def mints(self) -> list[str]:
        return list(self.market.pools)

    @property
    def slot(self) -> int:
        return self.ledger.slot

    @property
    def block_height(self) -> int:
        return self.ledger.block_height

    def resolve_mint(self, symbol_or_mint: str) -> str:
        if symbol_or_mint in self.market.pools:
            return symbol_or_mint
        for mint, pool in self.market.pools.items():
            if pool.symbol == symbol_or_mint:
                return mint
        raise KeyError(f"unknown token {symbol_or_mint!r}")

    def airdrop(self, pubkey: Pubkey | str, lamports: int) -> str:
        """Fund a wallet with a real faucet transfer; returns its signature."""
        key = Pubkey.from_string(pubkey) if isinstance(pubkey, str) else pubkey
        return self.ledger.airdrop(key, lamports)

    def balance(self, pubkey: Pubkey | str) -> int:
        key = Pubkey.from_string(pubkey) if isinstance(pubkey, str) else pubkey
        return self.ledger.get_balance(key)

    def token_balance(self, wallet: Pubkey | str, mint: str) -> int:
        key = Pubkey.from_string(wallet) if isinstance(wallet, str) else wallet
        return self.market.token_balance(key, self.resolve_mint(mint))

    def trader_swap(
        self,
        name_or_wallet: str,
        side: str,
        mint: str,
        quote_lamports: int | None = None,
        token_fraction: float | None = None,
        token_amount: int | None = None,
        quote: str = "SOL",
    ) -> TraderTrade:
        """Make a synthetic trader buy (quote_lamports) or sell (token_fraction / token_amount) now.
        quote="USDC" trades in the token's USDC pool; a buy's quote_lamports is then USDC base units."""
        return self.market.trader_swap(
            name_or_wallet,
            side,
            self.resolve_mint(mint),
            quote_lamports,
            token_fraction,
            token_amount,
            quote_mint=self._quote_mint(quote),
        )

    def move_price(self, name_or_wallet: str, mint: str, pct: float, quote: str = "SOL") -> TraderTrade:
        """Make a synthetic trader pump (pct > 0, a buy) or dump (pct < 0, a sell of its tokens) a token's
        price by about pct percent, in its SOL pool or (quote="USDC") its USDC pool."""
        return self.market.move_price(name_or_wallet, self.resolve_mint(mint), pct, self._quote_mint(quote))

    def price(self, mint: str, quote: str = "SOL") -> float:
        """A pool's spot price: SOL (or USDC) per whole token."""
        pool = self.market.pool_for(self.resolve_mint(mint), self._quote_mint(quote))
        quote_reserve, token_reserve = self.market.reserves(pool)
        return (quote_reserve / 10**pool.quote_decimals) / (token_reserve / 10**pool.decimals)

    @staticmethod
    def _quote_mint(quote: str) -> str:
        if quote.upper() in ("USDC", USDC_MINT.upper()):
            return USDC_MINT
        if quote.upper() in ("SOL", "WSOL", WSOL_MINT.upper()):
            return WSOL_MINT
        raise KeyError(f"unknown quote {quote!r}; use SOL or USDC")

    def landed_trades(self) -> list[TraderTrade]:
        return list(self.market.trades)

    def advance_slots(self, count: int = 1) -> int:
        """Advance the slot clock by hand (tests: expire blockhashes without waiting)."""
        for _ in range(count):
            self.ledger.advance_slot()
        return self.ledger.slot

    def set_chaos(self, **settings: Any) -> None:
        for key, value in settings.items():
            self.chaos.set(key, value)

    quote_mint = WSOL_MINT


__all__ = ["ScenarioError", "SimCluster"]
