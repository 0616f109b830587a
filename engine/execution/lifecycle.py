"""One trade from quote to settlement: quote, build, sign, persist, send, re-send the same bytes, confirm,
settle (or fill on paper). The safety rules it keeps are in engine/workers/executor.py's docstring."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential,
)

from engine.chain.confirm import SignatureWatcher
from engine.chain.fees import (
    PAPER_COMPUTE_UNITS,
    FeeCache,
    capped_micro_lamports,
    swap_fee_lamports,
    writable_accounts,
)
from engine.chain.senders import SendError, SenderSet
from engine.chain.swap_api import SwapApi, SwapApiError, SwapBuild, sign_swap
from engine.constants import WSOL_MINT
from engine.execution.admission import TradeSlots
from engine.execution.inputs import Balance
from engine.execution.job import Job, error_text, is_slippage_error, landed, our_fill, paper_fill
from engine.execution.outcomes import EmitLog, Outcomes
from engine.execution.safety_gate import buy_quote_key, reusable_quote
from engine.messages import TradeExecuted
from engine.policy import MANUAL_TRADE, MAX_COMPUTE_UNITS, Skip, stale_skip

if TYPE_CHECKING:
    from solders.keypair import Keypair

    from engine.chain.rpc import RpcPool
    from engine.context import EngineContext

T = TypeVar("T")

MAX_SIGNED_ROUNDS = 2  # the first transaction plus one re-quote
RESEND_INTERVAL_S = 1.5  # re-broadcast the same bytes this often until seen or expired
STATUS_POLL_MAX_S = 0.4  # status polling backs off from 50 ms to this while no notification can come
STATUS_POLL_WS_S = 1.0  # ... and is only the fallback, this often, while signatureSubscribe is up
TX_FETCH_DEADLINE_S = 20.0  # how long to wait for getTransaction of a confirmed signature
SWAP_API_ATTEMPTS = 3  # a retryable swap API error is tried again after 0.2 s, then 0.4 s

Fill = tuple[int, int, int, int | None]  # (tokens, lamports, fee, token decimals)


def _retryable_swap_error(exc: BaseException) -> bool:
    return isinstance(exc, SwapApiError) and exc.retryable


class TradeLifecycle:
    """Executes Jobs; their outcomes go to Outcomes, what our transactions tell of our balance to Balance."""

    def __init__(
        self,
        ctx: EngineContext,
        *,
        rpc: RpcPool | None,
        swap_api: SwapApi | None,
        keypair: Keypair | None,
        wallet: str,
        balance: Balance,
        outcomes: Outcomes,
        accepting: Callable[[], bool],
        emit_log: EmitLog,
        log: logging.Logger,
        slots: TradeSlots | None = None,
        watcher: SignatureWatcher | None = None,
        on_sent: Callable[[Job], None] | None = None,
        after_settle: Callable[[str], None] | None = None,
        senders: SenderSet | None = None,
        fees: FeeCache | None = None,
    ) -> None:
        self.ctx = ctx
        self.mode = ctx.settings.mode
        self.max_signal_age_s = float(ctx.settings.limits.max_signal_age_s)
        self.rpc = rpc
        self.swap_api = swap_api
        self.keypair = keypair
        self.wallet = wallet
        self.balance = balance
        self.outcomes = outcomes
        self.accepting = accepting
        self.emit_log = emit_log
        self.log = log
        self.after_settle = after_settle  # the reconciliation that follows every settle
        self.slots = slots
        self.watcher = watcher
        self.on_sent = on_sent
        self.senders = senders  # [[senders]]: the same bytes to each at once; None = the RPC pool
        self.fees = fees  # priority_fee = "auto": the chain's recent fees, refreshed by the executor
        self.quote_clock = time.monotonic  # what the gate's quote's age is read by (tests move it on)

    async def execute(self, job: Job) -> None:
        if self.mode == "paper":
            await self._paper(job)
        else:
            await self._live(job)

    # -- live ---------------------------------------------------------------------------------------
    async def _live(self, job: Job) -> None:
        if self.rpc is None or self.keypair is None:
            await self.outcomes.fail(job, "no RPC endpoint or wallet")
            return
        if job.resume is not None:
            sent, job.resume = job.resume, None
            outcome, status = await self._await_landing(
                sent.signature, sent.signed_tx, sent.last_valid_block_height
            )
            if await self._conclude(job, sent.signature, outcome, status):
                return
        while True:
            if job.rounds_used >= MAX_SIGNED_ROUNDS:
                await self.outcomes.fail(job, "retries used up")
                return
            if self.slots is not None and not self.slots.holds(job):
                await self.slots.acquire(
                    job
                )  # a re-quote (or a resumed trade's) waits its turn like new work
                stale = None if job.manual else self.stale(job)
                if stale is not None and job.fees_paid == 0:
                    await self.outcomes.skip(job, stale.reason, stale.detail)
                    return
            try:
                build, quote = await self._build(job)
            except SwapApiError as exc:
                await self.outcomes.fail(job, str(exc))
                return
            signed = sign_swap(build.transaction, self.keypair)
            if self.fees is not None:
                self.fees.learn(job.mint, writable_accounts(signed))
            signature = str(signed.signatures[0])
            raw = bytes(signed)
            job.rounds_used += 1
            job.quote = quote
            await self.ctx.store.mark_sent(
                job.intent_id,
                signature=signature,
                signed_tx=raw,
                last_valid_block_height=build.last_valid_block_height,
                attempts=job.rounds_used,
            )
            await self._send(signature, raw)
            if job.trigger == "leader" and not job.manual:  # a leader copy's lag (engine/latency.py)
                self.ctx.state.latency.sent(
                    job.trader,
                    detected_at=job.detected_at,
                    signal_at=job.signal_at,
                    sent_at=time.time(),
                    first=job.rounds_used == 1,
                )
            if self.on_sent is not None:
                self.on_sent(job)
            if self.slots is not None:
                self.slots.release(job)  # waiting for the confirmation holds no trade slot
            outcome, status = await self._await_landing(
                signature, raw, build.last_valid_block_height, sent=True
            )
            if await self._conclude(job, signature, outcome, status):
                return

    async def _build(self, job: Job) -> tuple[SwapBuild, dict[str, Any]]:
        swap_api = self.swap_api
        if swap_api is None:
            raise SwapApiError("no swap API configured (SWAP_API_URL)")
        input_mint, output_mint = (WSOL_MINT, job.mint) if job.side == "buy" else (job.mint, WSOL_MINT)
        # The safety gate's buy quote when this is the trade's first round and it is still fresh.
        quote = (
            reusable_quote(
                self.ctx.cache.get_quote(buy_quote_key(job.mint, job.amount_in, job.slippage_bps)),
                mint=job.mint,
                lamports=job.amount_in,
                slippage_bps=job.slippage_bps,
                now=self.quote_clock(),
                signal_age_s=None if job.signal_at is None else time.time() - job.signal_at,
                max_signal_age_s=self.max_signal_age_s,
            )
            if job.side == "buy" and job.rounds_used == 0
            else None
        )
        if quote is None:
            quote = await self._retry(
                lambda: swap_api.quote(input_mint, output_mint, job.amount_in, job.slippage_bps)
            )
        build = await self._retry(
            lambda: swap_api.swap(
                self.wallet,
                quote,
                priority_fee_micro_lamports=self._priority_fee(job),
                priority_fee_cap_lamports=job.fee_cap_lamports,
                jito_tip_lamports=job.jito_tip_lamports,
            )
        )
        return build, quote

    def _priority_fee(self, job: Job) -> int | None:
        """The micro-lamport price to ask the swap API for: the trade's fixed one; for "auto" the chain's
        cached percentile over this mint's swap accounts, within the trader's cap; None lets the swap API
        pick ("jupiter", or "auto" before the first refresh)."""
        if job.fee_micro_lamports is not None or self.fees is None:
            return job.fee_micro_lamports
        trader = self.ctx.traders.get(job.trader) if job.trader else None
        setting = trader.priority_fee if trader is not None else MANUAL_TRADE.priority_fee
        if setting != "auto":
            return None
        price = self.fees.price_for_mint(job.mint)
        if price is None:
            return None
        return capped_micro_lamports(price, MAX_COMPUTE_UNITS, job.fee_cap_lamports)

    @staticmethod
    async def _retry(call: Callable[[], Awaitable[T]]) -> T:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(SWAP_API_ATTEMPTS),
            wait=wait_exponential(multiplier=0.2),
            retry=retry_if_exception(_retryable_swap_error),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await call()
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def _note_send(self, refused: str | None) -> None:
        """The send light of the console and /health, from this real send: accepted, or refused and why. The
        first refusal after an accepted send is logged once (the re-sends of the same bytes are not)."""
        health = self.ctx.state.health
        if refused is None:
            if health.send_ok is not True:
                self.ctx.state.set_health(send_ok=True, send_detail="")
            return
        if health.send_ok is not False or health.send_detail != refused:
            self.ctx.state.set_health(send_ok=False, send_detail=refused)
            if health.send_ok is not False:
                self.emit_log("warning", f"send refused: {refused}")

    async def _send(self, signature: str, raw: bytes) -> None:
        assert self.rpc is not None
        if self.senders is not None:
            try:
                await self.senders.send(raw)  # returns at the first acceptance; the rest finish behind
            except SendError as exc:
                self.log.debug("send of %s refused: %s", signature[:8], exc)
                self._note_send(str(exc))
            else:
                self._note_send(None)
            return
        try:
            await self.rpc.send_raw_transaction(raw, skip_preflight=True, max_retries=0)
        except Exception as exc:  # noqa: BLE001 - a refused send is retried with the same bytes
            self.log.debug("send of %s refused: %s", signature[:8], exc)
            self._note_send(str(exc) or type(exc).__name__)
        else:
            self._note_send(None)

    async def _await_landing(
        self, signature: str, raw: bytes, last_valid: int, *, sent: bool = False
    ) -> tuple[str, dict | None]:
        """Re-send the same bytes until the signature is confirmed, or its blockhash has expired.

        The confirmation comes from signatureSubscribe when the watcher's socket is up; getSignatureStatuses
        (with the block height, for expiry) is then asked every STATUS_POLL_WS_S as the fallback, and every
        50-400 ms while the socket is down."""
        assert self.rpc is not None
        loop = asyncio.get_running_loop()
        next_send = loop.time() + RESEND_INTERVAL_S if sent else 0.0
        next_check = 0.0
        delay = 0.05
        try:
            while True:
                if loop.time() >= next_send:
                    next_send = loop.time() + RESEND_INTERVAL_S
                    await self._send(signature, raw)
                watcher = self.watcher
                subscribed = watcher is not None and watcher.up
                wait_s = min(STATUS_POLL_WS_S if subscribed else delay, max(0.01, next_send - loop.time()))
                delay = min(delay * 2, STATUS_POLL_MAX_S)
                if watcher is not None:
                    note = await watcher.wait(signature, wait_s)
                    if note is not None and landed(note):
                        self.ctx.state.bump("confirmed_by_notification")
                        return "landed", note
                else:
                    await asyncio.sleep(wait_s)
                if subscribed and loop.time() < next_check:
                    continue
                next_check = loop.time() + STATUS_POLL_WS_S
                try:
                    status = (await self.rpc.get_signature_statuses([signature]))[0]
                    if landed(status):
                        self.ctx.state.bump("confirmed_by_status_poll")
                        return "landed", status
                    height = await self.rpc.get_block_height()
                    if height > last_valid:
                        # Expired; one last look (it may have landed in the final valid block).
                        final = (await self.rpc.get_signature_statuses([signature], search_history=True))[0]
                        if final is not None:
                            if landed(final):
                                return "landed", final
                            continue  # seen but not yet confirmed: wait for it
                        return "expired", None
                except Exception as exc:  # noqa: BLE001 - keep following; never conclude without an answer
                    self.log.debug("status of %s unavailable: %s", signature[:8], exc)
        finally:
            if self.watcher is not None:
                self.watcher.forget(signature)

    async def _conclude(self, job: Job, signature: str, outcome: str, status: dict | None) -> bool:
        """Record how one signed transaction ended. True when the trade is finished, False to re-quote."""
        if outcome == "expired":
            await self.ctx.store.close_attempt(
                signature, status="expired", err="blockhash expired before landing"
            )
            if self._may_requote(job):
                self.emit_log(
                    "warning", f"trade {job.intent_id}: blockhash expired before landing; re-quoting"
                )
                return False
            stale = None if job.manual else self.stale(job)
            if stale is not None and job.fees_paid == 0 and job.rounds_used < MAX_SIGNED_ROUNDS:
                # Nothing of it reached the chain and it is too old to quote again: not copied, and why.
                await self.outcomes.skip(job, stale.reason, stale.detail)
                return True
            reason = "expired before landing"
            health = self.ctx.state.health
            if health.send_ok is False and health.send_detail:  # the real cause, not just its symptom
                reason += f"; every send was refused: {health.send_detail}"
            await self.outcomes.fail(job, reason, signature)
            return True
        assert status is not None
        tx = await self._fetch_tx(signature)
        if tx is not None:
            self.balance.note_from_tx(tx)
        err = status.get("err")
        if err is None:
            await self._settle(job, signature, tx)
            return True
        fee = int((tx or {}).get("meta", {}).get("fee") or 0)
        job.fees_paid += fee
        text = error_text(err)
        await self.ctx.store.close_attempt(signature, status="failed", err=text, fee_lamports=fee)
        if is_slippage_error(err) and self._may_requote(job):
            self.emit_log("warning", f"trade {job.intent_id}: {text}; re-quoting once")
            return False
        await self.outcomes.fail(job, f"failed on chain: {text}", signature)
        return True

    def stale(self, job: Job) -> Skip | None:
        """Skip("stale") when a copied buy is older than limits.max_signal_age_s (sells never are)."""
        if job.signal_at is None:
            return None
        return stale_skip(job.side, time.time() - job.signal_at, self.max_signal_age_s)

    def _may_requote(self, job: Job) -> bool:
        fresh = job.manual or self.stale(job) is None
        return job.rounds_used < MAX_SIGNED_ROUNDS and fresh and (self.accepting() or job.side == "sell")

    async def _fetch_tx(self, signature: str) -> dict[str, Any] | None:
        """getTransaction of a confirmed signature, asked again with backoff until it answers or the deadline."""
        assert self.rpc is not None
        rpc = self.rpc

        async def fetch() -> dict[str, Any] | None:
            raw = await rpc.get_transaction_raw(signature)
            if raw is None:
                return None
            document = orjson.loads(raw)
            return document.get("result") if "meta" not in document else document

        def note(state: RetryCallState) -> None:
            if state.outcome is not None and state.outcome.failed:
                self.log.debug("getTransaction %s: %s", signature[:8], state.outcome.exception())

        retrying = AsyncRetrying(
            stop=stop_before_delay(TX_FETCH_DEADLINE_S),
            wait=wait_exponential(multiplier=0.05, max=1.0),
            retry=retry_if_exception_type(Exception) | retry_if_result(lambda tx: tx is None),
            before_sleep=note,
            retry_error_callback=lambda _state: None,
        )
        return await retrying(fetch)

    # -- settlement -----------------------------------------------------------------------------------
    async def _settle(
        self,
        job: Job,
        signature: str | None,
        tx: dict[str, Any] | None,
        fill: Fill | None = None,
        reason: str = "",
    ) -> None:
        if fill is None and tx is not None:
            fill = our_fill(tx, self.wallet, job.mint, job.side)
        if fill is None:
            # Our transaction landed but its amounts cannot be read: fall back to what the quote promised.
            quote = job.quote or {}
            in_amount, out_amount = int(quote.get("inAmount") or 0), int(quote.get("outAmount") or 0)
            tokens, lamports = (out_amount, in_amount) if job.side == "buy" else (in_amount, out_amount)
            fee = int((tx or {}).get("meta", {}).get("fee") or 0)
            fill = (tokens, lamports, fee, job.decimals)
            reason = reason or "amounts from the quote (transaction unreadable)"
        tokens, lamports, fee, decimals = fill
        result = await self.ctx.store.settle_intent(
            job.intent_id,
            token_amount=tokens,
            quote_amount=lamports,
            fee_lamports=fee + job.fees_paid,
            decimals=decimals or job.decimals,
            signature=signature,
            reason=reason,
        )
        intent = result["intent"]
        self.ctx.publish(
            TradeExecuted(
                job.intent_id,
                job.trader,
                job.side,
                job.mint,
                signature or "",
                tokens,
                lamports,
                fee,
                intent["confirmed_at"] or time.time(),
                trigger=job.trigger,
            )
        )
        if result["applied"]:
            await self.outcomes.succeeded(job, int(result["realized_delta_lamports"]))
            if self.after_settle is not None and signature is not None:
                self.after_settle(job.mint)

    def paper_fee(self, job: Job) -> int:
        """The network fee the live trade would pay: one signature, plus the Jito tip or the priority fee
        the live path would ask the swap API for (engine/chain/fees.swap_fee_lamports)."""
        return swap_fee_lamports(
            micro_lamports_per_cu=self._priority_fee(job),
            compute_units=PAPER_COMPUTE_UNITS,
            cap_lamports=job.fee_cap_lamports,
            tip_lamports=job.jito_tip_lamports,
        )

    async def _paper(self, job: Job) -> None:
        """Paper mode never sends: fill at a fresh quote, or at the leader's price plus full slippage; either
        way it books the fee the live trade would pay."""
        fee = self.paper_fee(job)
        fill: Fill | None = None
        reason = "paper: at quote"
        if self.swap_api is not None:
            input_mint, output_mint = (WSOL_MINT, job.mint) if job.side == "buy" else (job.mint, WSOL_MINT)
            try:
                quote = await self.swap_api.quote(input_mint, output_mint, job.amount_in, job.slippage_bps)
                tokens, lamports = (
                    (int(quote["outAmount"]), int(quote["inAmount"]))
                    if job.side == "buy"
                    else (int(quote["inAmount"]), int(quote["outAmount"]))
                )
                fill = (tokens, lamports, fee, job.decimals)
            except SwapApiError as exc:
                self.log.info("paper quote unavailable: %s", exc)
        if fill is None:
            priced = paper_fill(
                job.side, job.amount_in, job.leader_token_amount, job.leader_quote_amount, job.slippage_bps
            )
            if priced is None:
                await self.outcomes.fail(job, "paper: no quote and no leader price")
                return
            fill = (priced[0], priced[1], fee, job.decimals)
            reason = "paper: leader price + slippage"
        await self._settle(job, None, None, fill, reason)
