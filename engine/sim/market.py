"""The local cluster's market: pump-style mints, constant-product pools priced by a market maker,
Jupiter-v1-shaped quotes and co-signed swap transactions, and synthetic trader wallets."""

from __future__ import annotations

import base64
import itertools
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from solders.account import Account
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.token.associated import get_associated_token_address
from solders.transaction import VersionedTransaction

from engine.constants import SYSTEM_PROGRAM, TOKEN_2022_PROGRAM, TOKEN_PROGRAM, WSOL_MINT
from engine.sim.amm import BPS, TOKEN_DECIMALS, Pool, SwapError, amount_out, mint_data, token_account_data
from engine.sim.ledger import Ledger, SyntheticFailure
from engine.sim.swap_tx import (
    MEMO_PREFIX,
    SwapTerms,
    cosign_user_slot_empty,
    create_idempotent_ata_ix,
    memo_ix,
    priority_fee_lamports,
    sign_swap_transaction,
    slippage_failure,
    transfer_checked_ix,
)
from engine.sim.txformat import MEMO_PROGRAM, b64, parse_token_account

MARKET_LABEL = "ZapSim CPMM"
DEFAULT_CU_LIMIT = 1_400_000

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
        }


class Market:
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
        self.pools: dict[str, Pool] = {}
        self.traders: dict[str, Keypair] = {}
        self.trader_order: list[str] = []
        self.trades: list[TraderTrade] = []
        self._terms: dict[str, SwapTerms] = {}
        self._quote_ids = itertools.count(1)
        self._trade_lock = threading.Lock()
        self.mint_authority = Keypair()
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
    ) -> Pool:
        """A pump-style mint (supply held by its pool) and its pool, written straight into genesis state."""
        sol_lamports = sol_lamports if sol_lamports is not None else self.pool_sol_lamports
        token_raw = token_raw if token_raw is not None else self.pool_token_raw
        mint_kp = self._keypair()
        mint = mint_kp.pubkey()
        program = Pubkey.from_string(token_program)
        authority = self._keypair()
        vault = get_associated_token_address(authority.pubkey(), mint, program)
        ledger = self.ledger
        with ledger.lock:
            ledger.set_account(
                mint,
                Account(
                    ledger.rent_exempt_minimum(82),
                    mint_data(self.mint_authority.pubkey(), token_raw, decimals),
                    program,
                    False,
                    0,
                ),
            )
            ledger.set_account(
                vault,
                Account(
                    ledger.rent_exempt_minimum(165),
                    token_account_data(mint, authority.pubkey(), token_raw),
                    program,
                    False,
                    0,
                ),
            )
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
        return keypair

    # -- pricing ------------------------------------------------------------------------------

    def reserves(self, pool: Pool) -> tuple[int, int]:
        """(SOL, token) reserves: vault lamports above its rent floor, and the vault token amount."""
        ledger = self.ledger
        with ledger.lock:
            sol = ledger.get_balance(pool.authority.pubkey()) - ledger.rent_exempt_minimum(0)
            account = ledger.get_account(pool.vault)
            parsed = parse_token_account(bytes(account.data)) if account is not None else None
            return max(sol, 0), parsed[2] if parsed else 0

    def _pool_and_side(self, input_mint: str, output_mint: str) -> tuple[Pool, bool]:
        if input_mint == WSOL_MINT and output_mint in self.pools:
            return self.pools[output_mint], True
        if output_mint == WSOL_MINT and input_mint in self.pools:
            return self.pools[input_mint], False
        raise SwapError(f"no route from {input_mint} to {output_mint}", "COULD_NOT_FIND_ANY_ROUTE")

    def quote(
        self,
        input_mint: str,
        output_mint: str,
        amount: int,
        slippage_bps: int = 50,
        swap_mode: str = "ExactIn",
    ) -> dict[str, Any]:
        """GET /swap/v1/quote: Jupiter's quote response fields."""
        started = time.perf_counter()
        if swap_mode != "ExactIn":
            raise SwapError("swapMode ExactOut is not supported by this market", "NOT_SUPPORTED")
        if amount <= 0:
            raise SwapError("amount must be a positive integer", "INVALID_AMOUNT")
        if not 0 <= slippage_bps <= BPS:
            raise SwapError("slippageBps must be between 0 and 10000", "INVALID_SLIPPAGE")
        pool, is_buy = self._pool_and_side(input_mint, output_mint)
        with self.ledger.lock:
            sol, token = self.reserves(pool)
            slot = self.ledger.slot
        out, fee = amount_out(is_buy, amount, sol, token, pool.fee_bps)
        if out <= 0:
            raise SwapError("amount too small to produce any output", "COULD_NOT_FIND_ANY_ROUTE")
        spot = amount * token / sol if is_buy else amount * sol / token
        impact = max(0.0, (spot - out) / spot) if spot else 0.0
        threshold = out * (BPS - slippage_bps) // BPS
        return {
            "inputMint": input_mint,
            "inAmount": str(amount),
            "outputMint": output_mint,
            "outAmount": str(out),
            "otherAmountThreshold": str(threshold),
            "swapMode": swap_mode,
            "slippageBps": slippage_bps,
            "platformFee": None,
            "priceImpactPct": f"{impact:.10f}".rstrip("0").rstrip(".") or "0",
            "routePlan": [
                {
                    "swapInfo": {
                        "ammKey": str(pool.authority.pubkey()),
                        "label": MARKET_LABEL,
                        "inputMint": input_mint,
                        "outputMint": output_mint,
                        "inAmount": str(amount),
                        "outAmount": str(out),
                        "feeAmount": str(fee),
                        "feeMint": WSOL_MINT,
                    },
                    "percent": 100,
                    "bps": BPS,
                }
            ],
            "contextSlot": slot,
            "timeTaken": time.perf_counter() - started,
        }

    # -- swap transactions --------------------------------------------------------------------

    def build_swap(
        self,
        user: Pubkey,
        quote: dict[str, Any],
        prioritization_fee: Any = "auto",
        dynamic_compute_unit_limit: bool = False,
    ) -> dict[str, Any]:
        """POST /swap/v1/swap: a v0 transaction, user = fee payer at signature 0 (left empty), MM co-signed."""
        try:
            input_mint = str(quote["inputMint"])
            output_mint = str(quote["outputMint"])
            in_amount = int(quote["inAmount"])
            out_amount = int(quote["outAmount"])
            threshold = int(quote["otherAmountThreshold"])
        except (KeyError, TypeError, ValueError):
            raise SwapError(
                "quoteResponse is missing inputMint/outputMint/inAmount/outAmount/otherAmountThreshold",
                "INVALID_REQUEST",
            ) from None
        pool, is_buy = self._pool_and_side(input_mint, output_mint)
        quote_id = next(self._quote_ids)
        mm = pool.authority
        user_ata = get_associated_token_address(user, pool.mint, pool.token_program)
        legs: list[Instruction] = []
        if is_buy:
            legs.append(create_idempotent_ata_ix(user, user, pool.mint, pool.token_program))
            leg_index = 2 + len(legs)
            legs.append(transfer(TransferParams(from_pubkey=user, to_pubkey=mm.pubkey(), lamports=in_amount)))
            legs.append(
                transfer_checked_ix(
                    pool.token_program,
                    pool.vault,
                    pool.mint,
                    user_ata,
                    mm.pubkey(),
                    out_amount,
                    pool.decimals,
                )
            )
        else:
            leg_index = 2
            legs.append(
                transfer_checked_ix(
                    pool.token_program, user_ata, pool.mint, pool.vault, user, in_amount, pool.decimals
                )
            )
            legs.append(
                transfer(TransferParams(from_pubkey=mm.pubkey(), to_pubkey=user, lamports=out_amount))
            )
        legs.append(memo_ix(f"{MEMO_PREFIX}{quote_id}"))

        fee_lamports = priority_fee_lamports(prioritization_fee)
        blockhash, last_valid = self.ledger.latest_blockhash_info()
        recent = Hash.from_string(blockhash)

        def compile_with(limit: int) -> MessageV0:
            price = fee_lamports * 1_000_000 // limit if limit else 0
            ixs = [set_compute_unit_limit(limit), set_compute_unit_price(price)] + legs
            return MessageV0.try_compile(user, ixs, [], recent)

        cu_limit = DEFAULT_CU_LIMIT
        if dynamic_compute_unit_limit:
            probe = cosign_user_slot_empty(compile_with(cu_limit), mm)
            value = self.ledger.simulate(probe)
            units = value.get("unitsConsumed") or 0
            cu_limit = max(10_000, int(units * 1.2) + 1_000) if units else 200_000
        msg = compile_with(cu_limit)
        price = fee_lamports * 1_000_000 // cu_limit
        tx = cosign_user_slot_empty(msg, mm)
        self._terms[f"{MEMO_PREFIX}{quote_id}"] = SwapTerms(
            pool.mint_str, is_buy, in_amount, out_amount, threshold, leg_index
        )
        return {
            "swapTransaction": b64(bytes(tx)),
            "lastValidBlockHeight": last_valid,
            "prioritizationFeeLamports": (price * cu_limit + 999_999) // 1_000_000,
            "computeUnitLimit": cu_limit,
            "prioritizationType": {
                "computeBudget": {"microLamports": price, "estimatedMicroLamports": price}
            },
            "dynamicSlippageReport": None,
            "simulationError": None,
        }

    def _landing_check(self, tx: VersionedTransaction, keys: list[str]) -> SyntheticFailure | None:
        """Re-price a swap against current reserves; past its slippage it fails like Jupiter's 6001."""
        msg = tx.message
        for ix in msg.instructions:
            if keys[ix.program_id_index] != MEMO_PROGRAM:
                continue
            data = bytes(ix.data)
            if not data.startswith(MEMO_PREFIX.encode()):
                continue
            terms = self._terms.get(data.decode("utf-8", "replace"))
            if terms is None:
                continue
            pool = self.pools[terms.pool_mint]
            sol, token = self.reserves(pool)
            current_out, _ = amount_out(terms.is_buy, terms.in_amount, sol, token, pool.fee_bps)
            if current_out >= terms.threshold:
                return None
            return slippage_failure(
                terms, [keys[ix.program_id_index] for ix in msg.instructions], current_out
            )
        return None

    # -- synthetic traders --------------------------------------------------------------------

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
    ) -> TraderTrade:
        """Make a trader swap now through the market-maker path; returns the landed trade."""
        name, keypair = self.trader_keypair(name_or_wallet)
        if mint not in self.pools:
            raise KeyError(f"unknown mint {mint!r}")
        wallet = keypair.pubkey()
        with self._trade_lock:
            if side == "buy":
                if not quote_lamports or quote_lamports <= 0:
                    raise ValueError("a buy needs quote_lamports > 0")
                quote = self.quote(WSOL_MINT, mint, quote_lamports, slippage_bps)
            elif side == "sell":
                held = self.token_balance(wallet, mint)
                amount = token_amount if token_amount is not None else int(held * (token_fraction or 1.0))
                amount = min(amount, held)
                if amount <= 0:
                    raise ValueError(f"{name} holds no {self.pools[mint].symbol} to sell")
                quote = self.quote(mint, WSOL_MINT, amount, slippage_bps)
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
                signature, str(wallet), name, side, mint, token_amount_moved, quote_amount, landed.slot
            )
            self.trades.append(trade)
            return trade

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
        for pool in self.pools.values():
            sol, token = self.reserves(pool)
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
                    "solReserve": sol,
                    "tokenReserve": token,
                    "feeBps": pool.fee_bps,
                    "price": (sol / 1e9) / (token / 10**pool.decimals) if token else 0.0,
                }
            )
        traders = [{"name": name, "wallet": str(self.traders[name].pubkey())} for name in self.trader_order]
        return {"tokens": tokens, "pools": pools, "traders": traders, "quoteMint": WSOL_MINT}
