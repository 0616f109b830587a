"""The local cluster's market: pump-style mints, constant-product pools priced by a market maker,
Jupiter-v1-shaped quotes and co-signed swap transactions, and synthetic trader wallets."""

from __future__ import annotations

import base64
import itertools
import math
import random
import threading
from dataclasses import dataclass
from typing import Any

from solders.account import Account
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.token.associated import get_associated_token_address
from solders.transaction import VersionedTransaction

from engine.chain.token_meta import MAX_METADATA_LEN
from engine.constants import SYSTEM_PROGRAM, TOKEN_2022_PROGRAM, TOKEN_PROGRAM, USDC_MINT, WSOL_MINT
from engine.sim.amm import BPS, TOKEN_DECIMALS, Pool, SwapError, mint_data, token_account_data
from engine.sim.ledger import Ledger
from engine.sim.swap_builder import DEFAULT_CU_LIMIT, MARKET_LABEL, SwapBuilder  # noqa: F401 (re-exported)
from engine.sim.swap_tx import (
    SwapTerms,
    sign_swap_transaction,
)
from engine.sim.token_ext import (
    account_extensions_for_mint,
    metadata_extensions,
    metaplex_account,
    permanent_delegate_config,
    token_name,
    transfer_fee_config,
    with_account_extensions,
    with_mint_extensions,
)
from engine.sim.txformat import parse_token_account

USDC_DECIMALS = 6
USDC_PER_TRADER = 100_000 * 10**USDC_DECIMALS  # each synthetic trader starts with 100,000 USDC

_SYMBOL_WORDS = ["ZAP", "BONK2", "WIF3", "PEPE9", "MOON", "FROG", "CAT", "DOGE4", "HYPE", "SEND"]


@dataclass(frozen=True)
class TraderTrade:
    """A synthetic trader's swap that landed."""

    signature: str
    wallet: str
    trader: str
    side: str
    mint: str
    token_amount: int
    quote_amount: int
    slot: int
    quote_mint: str = WSOL_MINT  # what the trade paid or received: SOL, or USDC in a USDC pool
    block_time: int | None = None  # unix seconds, as getTransaction gives it

    def as_json(self) -> dict[str, Any]:
        return {
            "signature": self.signature,
            "wallet": self.wallet,
            "trader": self.trader,
            "side": self.side,
            "mint": self.mint,
            "token_amount": self.token_amount,
            "quote_amount": self.quote_amount,
            "slot": self.slot,
            "quote_mint": self.quote_mint,
            "block_time": self.block_time,
        }


class Market(SwapBuilder):
    """Pools, quotes, swap building and synthetic traders over one Ledger (thread-safe via its lock)."""

    def __init__(
        self,
        ledger: Ledger,
        seed: int,
        tokens: int,
        token2022: bool,
        traders: int,
        trader_lamports: int,
        fee_bps: int,
        pool_sol_lamports: int,
        pool_token_raw: int,
    ) -> None:
        self.ledger = ledger
        self.rng = random.Random(seed)
        self.pools: dict[str, Pool] = {}  # SOL-quoted pools by token mint (USDC's own when enabled)
        self.usdc_pools: dict[str, Pool] = {}  # USDC-quoted pools by token mint
        self.traders: dict[str, Keypair] = {}
        self.trader_order: list[str] = []
        self.trades: list[TraderTrade] = []
        self._terms: dict[str, SwapTerms] = {}
        self._quote_ids = itertools.count(1)
        self._trade_lock = threading.Lock()
        # The creator key of every authority a scenario keeps (mint, freeze, fee config, permanent delegate).
        self.mint_authority = Keypair()
        self.usdc_enabled = False
        self.fee_bps = fee_bps
        self.pool_sol_lamports = pool_sol_lamports
        self.pool_token_raw = pool_token_raw
        self.trader_lamports = trader_lamports
        for index in range(tokens):
            program = (
                TOKEN_2022_PROGRAM if (token2022 and tokens > 1 and index == tokens - 1) else TOKEN_PROGRAM
            )
            symbol = _SYMBOL_WORDS[index % len(_SYMBOL_WORDS)] + (
                "" if index < len(_SYMBOL_WORDS) else str(index)
            )
            self.add_token(symbol, token_program=program)
        for index in range(traders):
            self.add_trader(f"trader{index + 1}")
        ledger.landing_hooks.append(self._landing_check)

    # -- setup --------------------------------------------------------------------------------

    def _keypair(self) -> Keypair:
        return Keypair.from_seed(self.rng.randbytes(32))

    def add_token(
        self,
        symbol: str,
        *,
        token_program: str = TOKEN_PROGRAM,
        sol_lamports: int | None = None,
        token_raw: int | None = None,
        fee_bps: int | None = None,
        decimals: int = TOKEN_DECIMALS,
        mint_authority: bool = False,
        freeze_authority: bool = False,
        transfer_fee_bps: int = 0,
        permanent_delegate: bool = False,
        mint_address: Pubkey | None = None,
    ) -> Pool:
        """A pump-style mint (supply held by its pool) and its pool, written straight into genesis state.

        Like pump.fun's, the mint has no mint or freeze authority unless asked. A transfer fee or a
        permanent delegate makes it a Token-2022 mint carrying those extensions, so the real Token-2022
        program charges the fee on every transfer and getAccountInfo shows them as mainnet does."""
        sol_lamports = sol_lamports if sol_lamports is not None else self.pool_sol_lamports
        token_raw = token_raw if token_raw is not None else self.pool_token_raw
        if not 0 <= transfer_fee_bps <= BPS:
            raise ValueError(f"transfer_fee_bps must be between 0 and {BPS}")
        extensions = []
        if transfer_fee_bps:
            extensions.append(transfer_fee_config(transfer_fee_bps, self.mint_authority.pubkey()))
        if permanent_delegate:
            extensions.append(permanent_delegate_config(self.mint_authority.pubkey()))
        if extensions:
            token_program = TOKEN_2022_PROGRAM
        mint = mint_address if mint_address is not None else self._keypair().pubkey()
        program = Pubkey.from_string(token_program)
        authority = self._keypair()
        vault = get_associated_token_address(authority.pubkey(), mint, program)
        creator = self.mint_authority.pubkey()
        # Real metadata, where mainnet keeps it: a Token-2022 mint in its own extensions (the creator its
        # update authority), an SPL Token mint in its Metaplex account.
        metaplex = None
        if token_program == TOKEN_2022_PROGRAM:
            pointer, metadata = metadata_extensions(mint, creator, symbol, token_name(symbol))
            extensions = [*extensions, pointer, metadata]
        else:
            metaplex = metaplex_account(
                mint, creator, symbol, token_name(symbol), self.ledger.rent_exempt_minimum(MAX_METADATA_LEN)
            )
        mint_bytes = with_mint_extensions(
            mint_data(
                creator if mint_authority else None,
                token_raw,
                decimals,
                creator if freeze_authority else None,
            ),
            extensions,
        )
        ledger = self.ledger
        with ledger.lock:
            ledger.set_account(
                mint,
                Account(ledger.rent_exempt_minimum(len(mint_bytes)), mint_bytes, program, False, 0),
            )
            if metaplex is not None:
                ledger.set_account(*metaplex)
            self._put_token_account(vault, mint_bytes, mint, authority.pubkey(), token_raw, program)
            ledger.set_account(
                authority.pubkey(),
                Account(
                    sol_lamports + ledger.rent_exempt_minimum(0),
                    b"",
                    Pubkey.from_string(SYSTEM_PROGRAM),
                    False,
                    0,
                ),
            )
            pool = Pool(
                symbol,
                mint,
                decimals,
                program,
                authority,
                vault,
                self.fee_bps if fee_bps is None else fee_bps,
            )
            self.pools[str(mint)] = pool
        return pool

    def _put_token_account(
        self, address: Pubkey, mint_bytes: bytes, mint: Pubkey, owner: Pubkey, amount: int, program: Pubkey
    ) -> None:
        """A token account in genesis state, with the extensions its mint requires (as the ATA program
        would create it: immutable owner, and a withheld-fee slot for a fee mint)."""
        data = with_account_extensions(
            token_account_data(mint, owner, amount), account_extensions_for_mint(mint_bytes)
        )
        self.ledger.set_account(
            address, Account(self.ledger.rent_exempt_minimum(len(data)), data, program, False, 0)
        )

    def _add_mint_supply(self, mint: Pubkey, amount: int) -> bytes:
        # Tokens written into a second pool's vault at genesis count in the mint's supply, as if minted.
        account = self.ledger.get_account(mint)
        assert account is not None
        data = bytearray(bytes(account.data))
        supply = int.from_bytes(data[36:44], "little") + amount
        data[36:44] = supply.to_bytes(8, "little")
        self.ledger.set_account(mint, Account(account.lamports, bytes(data), account.owner, False, 0))
        return bytes(data)

    def enable_usdc(self, sol_lamports: int, usdc_raw: int) -> Pool:
        """The USDC mint at mainnet's address (6 decimals; a mint and a freeze authority, as Circle's has),
        a SOL/USDC pool pricing SOL in USDC, and 100,000 USDC in every synthetic trader's wallet."""
        if self.usdc_enabled:
            return self.pools[USDC_MINT]
        self.usdc_enabled = True
        pool = self.add_token(
            "USDC",
            sol_lamports=sol_lamports,
            token_raw=usdc_raw,
            decimals=USDC_DECIMALS,
            mint_authority=True,
            freeze_authority=True,
            mint_address=Pubkey.from_string(USDC_MINT),
        )
        for name in self.trader_order:
            self._fund_usdc(self.traders[name].pubkey())
        return pool

    def _fund_usdc(self, wallet: Pubkey) -> None:
        usdc = Pubkey.from_string(USDC_MINT)
        program = Pubkey.from_string(TOKEN_PROGRAM)
        with self.ledger.lock:
            mint_bytes = self._add_mint_supply(usdc, USDC_PER_TRADER)
            address = get_associated_token_address(wallet, usdc, program)
            self._put_token_account(address, mint_bytes, usdc, wallet, USDC_PER_TRADER, program)

    def add_usdc_pool(self, mint: str, usdc_raw: int, token_raw: int, fee_bps: int | None = None) -> Pool:
        """A second pool for an existing token, quoted in USDC (needs enable_usdc first)."""
        if not self.usdc_enabled:
            raise ValueError("enable USDC before adding a USDC pool")
        sol_pool = self.pools[mint]
        authority = self._keypair()
        usdc = Pubkey.from_string(USDC_MINT)
        usdc_program = Pubkey.from_string(TOKEN_PROGRAM)
        vault = get_associated_token_address(authority.pubkey(), sol_pool.mint, sol_pool.token_program)
        quote_vault = get_associated_token_address(authority.pubkey(), usdc, usdc_program)
        with self.ledger.lock:
            mint_bytes = self._add_mint_supply(sol_pool.mint, token_raw)
            self._put_token_account(
                vault, mint_bytes, sol_pool.mint, authority.pubkey(), token_raw, sol_pool.token_program
            )
            usdc_bytes = self._add_mint_supply(usdc, usdc_raw)
            self._put_token_account(quote_vault, usdc_bytes, usdc, authority.pubkey(), usdc_raw, usdc_program)
            pool = Pool(
                sol_pool.symbol,
                sol_pool.mint,
                sol_pool.decimals,
                sol_pool.token_program,
                authority,
                vault,
                self.fee_bps if fee_bps is None else fee_bps,
                quote_mint=USDC_MINT,
                quote_vault=quote_vault,
                quote_decimals=USDC_DECIMALS,
                quote_token_program=usdc_program,
            )
            self.usdc_pools[mint] = pool
        return pool

    def pool_for(self, mint: str, quote_mint: str = WSOL_MINT) -> Pool:
        """The pool of a token against SOL or USDC; KeyError when there is none."""
        pools = self.usdc_pools if quote_mint == USDC_MINT else self.pools
        if mint not in pools:
            raise KeyError(f"no {'USDC' if quote_mint == USDC_MINT else 'SOL'} pool for {mint}")
        return pools[mint]

    def add_trader(self, name: str, lamports: int | None = None) -> Keypair:
        keypair = self._keypair()
        self.ledger.set_account(
            keypair.pubkey(),
            Account(
                self.trader_lamports if lamports is None else lamports,
                b"",
                Pubkey.from_string(SYSTEM_PROGRAM),
                False,
                0,
            ),
        )
        self.traders[name] = keypair
        self.trader_order.append(name)
        if self.usdc_enabled:
            self._fund_usdc(keypair.pubkey())
        return keypair

    # -- pricing ------------------------------------------------------------------------------

    def reserves(self, pool: Pool) -> tuple[int, int]:
        """(quote, token) reserves: for a SOL pool the authority's lamports above its rent floor, for a
        USDC pool its USDC account; and the vault token amount."""
        ledger = self.ledger
        with ledger.lock:
            if pool.quote_vault is not None:
                quote_account = ledger.get_account(pool.quote_vault)
                held = parse_token_account(bytes(quote_account.data)) if quote_account is not None else None
                sol = held[2] if held else 0
            else:
                sol = ledger.get_balance(pool.authority.pubkey()) - ledger.rent_exempt_minimum(0)
            account = ledger.get_account(pool.vault)
            parsed = parse_token_account(bytes(account.data)) if account is not None else None
            return max(sol, 0), parsed[2] if parsed else 0

    def _pool_and_side(self, input_mint: str, output_mint: str) -> tuple[Pool, bool]:
        if input_mint == WSOL_MINT and output_mint in self.pools:
            return self.pools[output_mint], True
        if output_mint == WSOL_MINT and input_mint in self.pools:
            return self.pools[input_mint], False
        if input_mint == USDC_MINT and output_mint in self.usdc_pools:
            return self.usdc_pools[output_mint], True
        if output_mint == USDC_MINT and input_mint in self.usdc_pools:
            return self.usdc_pools[input_mint], False
        raise SwapError(f"no route from {input_mint} to {output_mint}", "COULD_NOT_FIND_ANY_ROUTE")

    def trader_keypair(self, name_or_wallet: str) -> tuple[str, Keypair]:
        if name_or_wallet in self.traders:
            return name_or_wallet, self.traders[name_or_wallet]
        for name, keypair in self.traders.items():
            if str(keypair.pubkey()) == name_or_wallet:
                return name, keypair
        raise KeyError(f"unknown trader {name_or_wallet!r}")

    def token_balance(self, wallet: Pubkey, mint: str) -> int:
        pool = self.pools[mint]
        account = self.ledger.get_account(get_associated_token_address(wallet, pool.mint, pool.token_program))
        parsed = parse_token_account(bytes(account.data)) if account is not None else None
        return parsed[2] if parsed else 0

    def trader_swap(
        self,
        name_or_wallet: str,
        side: str,
        mint: str,
        quote_lamports: int | None = None,
        token_fraction: float | None = None,
        token_amount: int | None = None,
        slippage_bps: int = 100,
        priority_fee_lamports: int = 5_000,
        quote_mint: str = WSOL_MINT,
    ) -> TraderTrade:
        """Make a trader swap now through the market-maker path; returns the landed trade. With
        quote_mint = USDC_MINT the trade goes through the token's USDC pool and quote_lamports is the
        USDC amount (base units) a buy pays."""
        name, keypair = self.trader_keypair(name_or_wallet)
        if mint not in self.pools:
            raise KeyError(f"unknown mint {mint!r}")
        pool = self.pool_for(mint, quote_mint)
        wallet = keypair.pubkey()
        with self._trade_lock:
            if side == "buy":
                if not quote_lamports or quote_lamports <= 0:
                    raise ValueError("a buy needs quote_lamports > 0")
                quote = self.quote(pool.quote_mint, mint, quote_lamports, slippage_bps)
            elif side == "sell":
                held = self.token_balance(wallet, mint)
                amount = token_amount if token_amount is not None else int(held * (token_fraction or 1.0))
                amount = min(amount, held)
                if amount <= 0:
                    raise ValueError(f"{name} holds no {self.pools[mint].symbol} to sell")
                quote = self.quote(mint, pool.quote_mint, amount, slippage_bps)
            else:
                raise ValueError(f"side must be 'buy' or 'sell', not {side!r}")
            swap = self.build_swap(wallet, quote, priority_fee_lamports)
            unsigned = VersionedTransaction.from_bytes(base64.b64decode(swap["swapTransaction"]))
            signed = sign_swap_transaction(unsigned, keypair)
            signature = self.ledger.submit(signed, skip_preflight=True)
            landed = self.ledger.get_tx(signature)
            if landed is None:
                raise RuntimeError(f"{name}'s swap did not land")
            if landed.err is not None:
                raise RuntimeError(f"{name}'s swap failed: {landed.err}")
            token_amount_moved = int(quote["outAmount"] if side == "buy" else quote["inAmount"])
            quote_amount = int(quote["inAmount"] if side == "buy" else quote["outAmount"])
            trade = TraderTrade(
                signature,
                str(wallet),
                name,
                side,
                mint,
                token_amount_moved,
                quote_amount,
                landed.slot,
                pool.quote_mint,
                landed.block_time,
            )
            self.trades.append(trade)
            return trade

    def move_price(
        self, name_or_wallet: str, mint: str, pct: float, quote_mint: str = WSOL_MINT
    ) -> TraderTrade:
        """Make a trader move a pool's price by about pct percent: a buy sized to raise it (pct > 0), or a
        sell of the trader's tokens to lower it (pct < 0; capped at what the trader holds). A trader the
        operator does not follow pumps or dumps a token this way."""
        if pct == 0 or pct <= -100:
            raise ValueError("pct must be non-zero and above -100")
        pool = self.pool_for(mint, quote_mint)
        quote_reserve, token_reserve = self.reserves(pool)
        change_bps = round(pct * 100)
        # Constant product: price = quote / token and quote × token stays k, so the price moves by the
        # square of the reserve change: quote' = quote × sqrt(1 + pct/100) on a buy, and the token side
        # grows by 1 / sqrt(1 + pct/100) on a sell.
        if change_bps > 0:
            target = math.isqrt(quote_reserve * quote_reserve * (BPS + change_bps) // BPS)
            net_in = target - quote_reserve
            gross_in = -(-net_in * BPS // (BPS - pool.fee_bps))
            return self.trader_swap(
                name_or_wallet, "buy", mint, quote_lamports=max(gross_in, 1), quote_mint=quote_mint
            )
        target = math.isqrt(token_reserve * token_reserve * BPS // (BPS + change_bps))
        return self.trader_swap(
            name_or_wallet, "sell", mint, token_amount=max(target - token_reserve, 1), quote_mint=quote_mint
        )

    def random_trade(self) -> TraderTrade | None:
        """One seeded random trade by a random trader (buy, or sell part of a holding)."""
        if not self.trader_order or not self.pools:
            return None
        name = self.rng.choice(self.trader_order)
        mint = self.rng.choice(list(self.pools))
        held = self.token_balance(self.traders[name].pubkey(), mint)
        try:
            if held > 0 and self.rng.random() < 0.45:
                return self.trader_swap(name, "sell", mint, token_fraction=self.rng.choice([0.25, 0.5, 1.0]))
            lamports = self.rng.randint(5, 150) * 10**7  # 0.05 .. 1.5 SOL
            return self.trader_swap(name, "buy", mint, quote_lamports=lamports)
        except (RuntimeError, ValueError):
            return None

    def market_json(self) -> dict[str, Any]:
        tokens, pools = [], []
        for pool in [*self.pools.values(), *self.usdc_pools.values()]:
            sol, token = self.reserves(pool)
            if pool.quoted_in_sol:
                tokens.append(
                    {
                        "mint": pool.mint_str,
                        "symbol": pool.symbol,
                        "decimals": pool.decimals,
                        "tokenProgram": str(pool.token_program),
                    }
                )
            pools.append(
                {
                    "mint": pool.mint_str,
                    "symbol": pool.symbol,
                    "ammKey": str(pool.authority.pubkey()),
                    # A USDC pool's quote side is in quoteReserve (USDC base units), its price in USDC.
                    "solReserve": sol if pool.quoted_in_sol else 0,
                    "quoteMint": pool.quote_mint,
                    "quoteReserve": sol,
                    "tokenReserve": token,
                    "feeBps": pool.fee_bps,
                    "price": (sol / 10**pool.quote_decimals) / (token / 10**pool.decimals) if token else 0.0,
                }
            )
        traders = [{"name": name, "wallet": str(self.traders[name].pubkey())} for name in self.trader_order]
        return {"tokens": tokens, "pools": pools, "traders": traders, "quoteMint": WSOL_MINT}
