"""A Jupiter-compatible Swap API v1 client (GET /quote, POST /swap) and signing of the returned transaction.

The same code talks to https://api.jup.ag/swap/v1 (paper, live) and to the local cluster's market maker (sim).
The API key travels only in the x-api-key header and never appears in an error or a log line.
With the engine's state, every client of one base URL shares its Retry-After and serves trading calls first
(engine/chain/rate_limit.py `shared_gate`): a trading quote or swap answered 429 waits out the Retry-After
and asks again; a background client's call (exit valuation) waits behind the trading calls.
"""

from __future__ import annotations

import asyncio
import base64
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from solders.message import to_bytes_versioned
from solders.transaction import VersionedTransaction

from engine.chain.rate_limit import SharedBucket, parse_retry_after, shared_gate

MAX_ANSWER_BYTES = 4 * 1024 * 1024
DEFAULT_PRIORITY_LEVEL = "veryHigh"
MAX_RATE_LIMITED_ATTEMPTS = 3  # a trading call answered 429 asks again after each Retry-After, this often


class SwapApiError(Exception):
    """The swap API refused or could not be reached; str() is one line. retryable: worth asking again."""

    def __init__(
        self, message: str, *, status: int | None = None, code: str | None = None, retryable: bool = False
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.retryable = retryable
        self.retry_after: float | None = None  # seconds, from a 429's Retry-After


@dataclass(frozen=True, slots=True)
class SwapBuild:
    """What /swap returned: the unsigned (or co-signed) transaction and until when it can land."""

    transaction: bytes
    last_valid_block_height: int
    prioritization_fee_lamports: int | None = None
    compute_unit_limit: int | None = None


def swap_request_body(
    user_pubkey: str,
    quote: dict[str, Any],
    *,
    priority_fee_micro_lamports: int | None = None,
    priority_fee_cap_lamports: int | None = None,
    jito_tip_lamports: int = 0,
    dynamic_compute_unit_limit: bool = True,
    wrap_and_unwrap_sol: bool = True,
) -> dict[str, Any]:
    """The POST /swap body. The quote goes back unchanged (it carries fields the API needs).

    Priority fee and Jito tip are either/or in v1: a tip wins; a fixed micro-lamport price is exact;
    otherwise Jupiter picks a "veryHigh" price capped at priority_fee_cap_lamports.
    """
    body: dict[str, Any] = {
        "userPublicKey": user_pubkey,
        "quoteResponse": quote,
        "wrapAndUnwrapSol": wrap_and_unwrap_sol,
        "dynamicComputeUnitLimit": dynamic_compute_unit_limit,
    }
    if jito_tip_lamports > 0:
        body["prioritizationFeeLamports"] = {"jitoTipLamports": int(jito_tip_lamports)}
    elif priority_fee_micro_lamports is not None:
        body["computeUnitPriceMicroLamports"] = int(priority_fee_micro_lamports)
    elif priority_fee_cap_lamports:
        body["prioritizationFeeLamports"] = {
            "priorityLevelWithMaxLamports": {
                "priorityLevel": DEFAULT_PRIORITY_LEVEL,
                "maxLamports": int(priority_fee_cap_lamports),
            }
        }
    else:
        body["prioritizationFeeLamports"] = "auto"
    return body


def sign_swap(transaction: bytes, keypair: Any) -> VersionedTransaction:
    """Sign as the user, keeping every other signature (an RFQ market maker co-signs before we do)."""
    try:
        tx = VersionedTransaction.from_bytes(transaction)
    except Exception:  # solders raises its own types for bad bytes
        raise SwapApiError("swap API returned a transaction that does not parse") from None
    msg = tx.message
    signers = list(msg.account_keys[: msg.header.num_required_signatures])
    try:
        slot = signers.index(keypair.pubkey())
    except ValueError:
        raise SwapApiError("swap API returned a transaction our wallet does not sign") from None
    if slot != 0:
        raise SwapApiError("swap API returned a transaction with another fee payer")
    signatures = list(tx.signatures)
    signatures[slot] = keypair.sign_message(to_bytes_versioned(msg))
    return VersionedTransaction.populate(msg, signatures)


class SwapApi:
    """One client per asyncio loop (the aiohttp session belongs to the loop that made it).

    state: the engine's state object; its clients of one base URL share a Retry-After and the trading-first
    order. low_priority: this client's calls are background work (exit valuation), served after trading."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = 10.0,
        state: Any = None,
        low_priority: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.timeout = timeout
        self.low_priority = low_priority
        self._gate: SharedBucket | None = (
            shared_gate(state, f"swap-api {self.base_url}") if state is not None else None
        )
        self._session: aiohttp.ClientSession | None = None

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self._api_key:
            headers["x-api-key"] = self._api_key
        return headers

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout), headers=self._headers()
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        gate = self._gate
        if gate is None:
            return await self._send(method, path, params, body)
        deadline = time.monotonic() + self.timeout
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._attempt(gate, method, path, params, body, deadline)
            except SwapApiError as exc:
                if exc.status != 429:
                    raise
                pause = exc.retry_after if exc.retry_after is not None else parse_retry_after(None)
                gate.block(pause)
                # A trading call asks again after the Retry-After, while that fits in its timeout; a
                # background call gives up now (the exit runner values the lot on a later tick).
                if self.low_priority or attempt >= MAX_RATE_LIMITED_ATTEMPTS:
                    raise
                if time.monotonic() + pause > deadline:
                    raise

    async def _attempt(
        self,
        gate: SharedBucket,
        method: str,
        path: str,
        params: dict[str, str] | None,
        body: dict[str, Any] | None,
        deadline: float,
    ) -> dict[str, Any]:
        """Wait for the swap API's Retry-After to end (a background call also for every waiting trading call),
        then send. A trading call that waited holds the trading turn until it is answered, so the first request
        after a Retry-After is a trading one and no background call reaches the API before its answer."""
        pause = gate.blocked_for()
        if time.monotonic() + pause > deadline:
            error = SwapApiError(
                f"swap API {path}: rate limited (retry after {pause:.1f}s)", status=429, retryable=True
            )
            error.retry_after = pause
            raise error
        if self.low_priority:
            try:
                await asyncio.wait_for(gate.acquire(low_priority=True), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                raise SwapApiError(
                    f"swap API {path}: waited {self.timeout:g}s behind trading calls", retryable=True
                ) from None
            return await self._send(method, path, params, body)
        with gate.trading_turn():
            await gate.acquire(honour_block=True)
            if pause > 0:
                return await self._send(method, path, params, body)
        return await self._send(method, path, params, body)

    async def _send(
        self, method: str, path: str, params: dict[str, str] | None, body: dict[str, Any] | None
    ) -> dict[str, Any]:
        url = f"{self.base_url}{path}"
        what = f"swap API {path}"
        try:
            async with self._client().request(
                method,
                url,
                params=params,
                data=orjson.dumps(body) if body is not None else None,
                headers={"Content-Type": "application/json"} if body is not None else None,
            ) as response:
                raw = await response.content.read(MAX_ANSWER_BYTES + 1)
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except TimeoutError:
            raise SwapApiError(f"{what}: timed out after {self.timeout:g}s", retryable=True) from None
        except aiohttp.ClientError as exc:
            raise SwapApiError(f"{what}: unreachable ({type(exc).__name__})", retryable=True) from None
        if len(raw) > MAX_ANSWER_BYTES:
            raise SwapApiError(f"{what}: answer too large")
        try:
            document = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            document = None
        if status != 200:
            message, code = _error_text(document)
            retryable = status == 429 or status >= 500
            label = f"HTTP {status}" + (f" {code}" if code else "")
            error = SwapApiError(f"{what}: {label}: {message}", status=status, code=code, retryable=retryable)
            if status == 429:
                error.retry_after = parse_retry_after(retry_after)
            raise error
        if not isinstance(document, dict):
            raise SwapApiError(f"{what}: answer is not a JSON object")
        return document

    async def quote(
        self, input_mint: str, output_mint: str, amount: int, slippage_bps: int, *, swap_mode: str = "ExactIn"
    ) -> dict[str, Any]:
        """GET /quote; the returned dict must go back to swap() unchanged."""
        if amount <= 0:
            raise SwapApiError("swap API /quote: amount must be positive")
        params = {
            "inputMint": input_mint,
            "outputMint": output_mint,
            "amount": str(int(amount)),
            "slippageBps": str(int(slippage_bps)),
            "swapMode": swap_mode,
        }
        quote = await self._request("GET", "/quote", params=params)
        for key in ("inAmount", "outAmount", "otherAmountThreshold"):
            try:
                int(quote[key])
            except (KeyError, TypeError, ValueError):
                raise SwapApiError(f"swap API /quote: answer has no valid {key}") from None
        return quote

    async def swap(self, user_pubkey: str, quote: dict[str, Any], **options: Any) -> SwapBuild:
        """POST /swap: the transaction to sign and its lastValidBlockHeight. options: see swap_request_body."""
        answer = await self._request("POST", "/swap", body=swap_request_body(user_pubkey, quote, **options))
        encoded = answer.get("swapTransaction")
        height = answer.get("lastValidBlockHeight")
        if answer.get("simulationError"):
            raise SwapApiError(f"swap API /swap: simulation failed: {_short(answer['simulationError'])}")
        if not isinstance(encoded, str) or not isinstance(height, int) or isinstance(height, bool):
            raise SwapApiError("swap API /swap: answer has no swapTransaction/lastValidBlockHeight")
        try:
            transaction = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise SwapApiError("swap API /swap: swapTransaction is not base64") from None
        fee = answer.get("prioritizationFeeLamports")
        limit = answer.get("computeUnitLimit")
        return SwapBuild(
            transaction,
            height,
            fee if isinstance(fee, int) else None,
            limit if isinstance(limit, int) else None,
        )


def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode(errors="replace")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error_text(document: Any) -> tuple[str, str | None]:
    if isinstance(document, dict):
        message = document.get("error") or document.get("message") or document.get("errorMessage")
        code = document.get("errorCode") or document.get("code")
        return _short(message or "refused"), str(code) if code is not None else None
    return "no error message", None


def swap_api_from_context(ctx: Any, *, low_priority: bool = False) -> SwapApi | None:
    """The client for this engine's configured swap API, or None when there is none. low_priority: for
    background work (exit valuation), served after the trading calls of the engine's other clients."""
    url = ctx.endpoints.swap_api_url
    if not url:
        return None
    return SwapApi(url, ctx.endpoints.swap_api_key, state=ctx.state, low_priority=low_priority)
