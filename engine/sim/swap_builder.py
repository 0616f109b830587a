"""The local cluster's Jupiter-v1-shaped quotes and the co-signed swap transactions built from them (Market's swap half)."""

from __future__ import annotations

import time
from typing import Any

from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import Instruction
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.token.associated import get_associated_token_address
from solders.transaction import VersionedTransaction

from engine.sim.amm import BPS, Pool, SwapError, amount_out
from engine.sim.block_engine import JITO_TIP_ACCOUNTS
from engine.sim.ledger import SyntheticFailure
from engine.sim.swap_tx import (
    MEMO_PREFIX,
    SwapTerms,
    cosign_user_slot_empty,
    create_idempotent_ata_ix,
    jito_tip_lamports,
    memo_ix,
    priority_fee_lamports,
    slippage_failure,
    transfer_checked_ix,
)
from engine.sim.txformat import MEMO_PROGRAM, b64

MARKET_LABEL = "ZapSim CPMM"
DEFAULT_CU_LIMIT = 1_400_000


class SwapBuilder:
    """Quote and swap building over the pools of a Market (which supplies ledger, pools and the lock)."""

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
                        "feeMint": pool.quote_mint,
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
        compute_unit_price: Any = None,
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
        if not pool.quoted_in_sol:
            legs = self._usdc_legs(pool, user, is_buy, in_amount, out_amount)
            leg_index = 3  # after the compute budget and the create-account instruction
        elif is_buy:
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
        tip = jito_tip_lamports(prioritization_fee)
        if tip > 0:
            # As Jupiter does for {"jitoTipLamports": N}: a transfer to a Jito tip account, no priority fee.
            tip_account = Pubkey.from_string(JITO_TIP_ACCOUNTS[quote_id % len(JITO_TIP_ACCOUNTS)])
            legs.append(transfer(TransferParams(from_pubkey=user, to_pubkey=tip_account, lamports=tip)))
        legs.append(memo_ix(f"{MEMO_PREFIX}{quote_id}"))

        fee_lamports = priority_fee_lamports(prioritization_fee)
        blockhash, last_valid = self.ledger.latest_blockhash_info()
        recent = Hash.from_string(blockhash)

        if compute_unit_price is not None:
            # Jupiter's computeUnitPriceMicroLamports: this exact price, whatever the compute unit limit.
            if (
                isinstance(compute_unit_price, bool)
                or not isinstance(compute_unit_price, int)
                or compute_unit_price < 0
            ):
                raise SwapError(
                    "computeUnitPriceMicroLamports must be a non-negative integer", "INVALID_REQUEST"
                )

        def unit_price(limit: int) -> int:
            if compute_unit_price is not None:
                return int(compute_unit_price)
            return fee_lamports * 1_000_000 // limit if limit else 0

        def compile_with(limit: int) -> MessageV0:
            price = unit_price(limit)
            ixs = [set_compute_unit_limit(limit), set_compute_unit_price(price)] + legs
            return MessageV0.try_compile(user, ixs, [], recent)

        cu_limit = DEFAULT_CU_LIMIT
        if dynamic_compute_unit_limit:
            probe = cosign_user_slot_empty(compile_with(cu_limit), mm)
            value = self.ledger.simulate(probe)
            units = value.get("unitsConsumed") or 0
            cu_limit = max(10_000, int(units * 1.2) + 1_000) if units else 200_000
        msg = compile_with(cu_limit)
        price = unit_price(cu_limit)
        tx = cosign_user_slot_empty(msg, mm)
        self._terms[f"{MEMO_PREFIX}{quote_id}"] = SwapTerms(
            pool.mint_str, is_buy, in_amount, out_amount, threshold, leg_index, pool.quote_mint
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

    def _usdc_legs(
        self, pool: Pool, user: Pubkey, is_buy: bool, in_amount: int, out_amount: int
    ) -> list[Instruction]:
        """A USDC pool's swap: USDC moves by TransferChecked between the user's and the pool's accounts."""
        assert pool.quote_vault is not None and pool.quote_token_program is not None
        mm = pool.authority.pubkey()
        usdc = Pubkey.from_string(pool.quote_mint)
        user_token = get_associated_token_address(user, pool.mint, pool.token_program)
        user_usdc = get_associated_token_address(user, usdc, pool.quote_token_program)
        if is_buy:
            return [
                create_idempotent_ata_ix(user, user, pool.mint, pool.token_program),
                transfer_checked_ix(
                    pool.quote_token_program,
                    user_usdc,
                    usdc,
                    pool.quote_vault,
                    user,
                    in_amount,
                    pool.quote_decimals,
                ),
                transfer_checked_ix(
                    pool.token_program, pool.vault, pool.mint, user_token, mm, out_amount, pool.decimals
                ),
            ]
        return [
            create_idempotent_ata_ix(user, user, usdc, pool.quote_token_program),
            transfer_checked_ix(
                pool.token_program, user_token, pool.mint, pool.vault, user, in_amount, pool.decimals
            ),
            transfer_checked_ix(
                pool.quote_token_program,
                pool.quote_vault,
                usdc,
                user_usdc,
                mm,
                out_amount,
                pool.quote_decimals,
            ),
        ]

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
            pool = self.pool_for(terms.pool_mint, terms.quote_mint)
            sol, token = self.reserves(pool)
            current_out, _ = amount_out(terms.is_buy, terms.in_amount, sol, token, pool.fee_bps)
            if current_out >= terms.threshold:
                return None
            return slippage_failure(
                terms, [keys[ix.program_id_index] for ix in msg.instructions], current_out
            )
        return None

    # -- synthetic traders --------------------------------------------------------------------
