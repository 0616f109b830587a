"""JSON-RPC access to Solana: a pool of endpoints with per-endpoint rate limits, 429 handling and failover.

Each endpoint has its own `httpx2.AsyncClient` (the HTTP client solana-py 0.41 itself uses, with the
same timeout), and calls are posted as JSON-RPC on it rather than through solana-py's typed methods,
because the hot path needs things the typed API hides: the HTTP status and `Retry-After` of a 429 (solana-py folds them into one
exception), the raw response bytes of getTransaction (handed as-is to the decode pool, so the JSON is
parsed once, in a child process), a cap on the answer size, and one uniform `RpcError` for every
malformed answer.

A pool belongs to one asyncio loop (the client's connections do): build one per worker, never share.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx2
import orjson

from engine.chain.rate_limit import (
    SharedBucket,
    TokenBucket,
    Totals,
    parse_retry_after,
    shared_bucket,
    totals_for,
)

log = logging.getLogger("zapbot.rpc")

MAX_ANSWER_BYTES = 16 * 1024 * 1024  # a getTransaction is a few kB; anything near this is not an answer
FAILED_ENDPOINT_COOLDOWN_S = 2.0


class RpcError(Exception):
    """An RPC call failed or answered something unusable; str() is one short line."""

    def __init__(self, message: str, *, code: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


class RpcAnswerError(RpcError):
    """The endpoint answered, with something unusable: asking again will not help."""


@dataclass
class _Endpoint:
    url: str
    bucket: TokenBucket
    shared: SharedBucket | None = None
    client: httpx2.AsyncClient | None = None
    blocked_until: float = 0.0  # after a 429 (Retry-After) or a connection failure
    failures: int = 0


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class RpcPool:
    """Several JSON-RPC endpoints used as one: the first healthy one answers, the others take over."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        requests_per_second: float = 20.0,
        commitment: str = "confirmed",
        timeout: float = 10.0,
        state: Any = None,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        call_deadline_s: float | None = None,
        burst: float | None = None,
        engine_rate: float | None = None,
        low_priority: bool = False,
    ) -> None:
        urls = [u for u in urls if u]
        if not urls:
            raise ValueError("RpcPool needs at least one URL")
        self.commitment = commitment
        self.timeout = timeout
        self.state = state
        self.max_answer_bytes = max_answer_bytes
        # A call gives up after this long in total (waiting out 429s included), so no worker hangs on it.
        self.call_deadline_s = call_deadline_s if call_deadline_s is not None else max(3.0 * timeout, 30.0)
        # Each pool has its own share (requests_per_second); with an engine state, all pools of that engine
        # also draw from one budget per endpoint (engine_rate, default the same rate), so the workers
        # together never exceed what the endpoint allows.
        total = engine_rate if engine_rate is not None else requests_per_second
        self.low_priority = low_priority
        self.endpoints = [
            _Endpoint(
                u,
                TokenBucket(requests_per_second, burst),
                shared_bucket(state, u, total) if state is not None else None,
            )
            for u in urls
        ]
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._totals = totals_for(state) if state is not None else Totals()
        self.closed = False

    # -- bookkeeping ------------------------------------------------------------------------------
    def _count(self, *, limited: bool = False) -> None:
        totals = self._totals
        with totals.lock:
            totals.calls += 1
            if limited:
                totals.rate_limited += 1
            calls, limited_total = totals.calls, totals.rate_limited
        if self.state is not None:
            self.state.set_health(rpc_calls=calls, rpc_429s=limited_total)

    def _report(self, ok: bool, detail: str = "") -> None:
        if self.state is not None:
            self.state.set_health(rpc_ok=ok, rpc_detail=_short(detail))

    def _client(self, endpoint: _Endpoint) -> httpx2.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError("an RpcPool belongs to one event loop; build one per worker")
        if endpoint.client is None:
            endpoint.client = httpx2.AsyncClient(timeout=httpx2.Timeout(self.timeout))
        return endpoint.client

    def _pick(self, tried: set[int]) -> tuple[int, float]:
        """The endpoint to try next and how long to wait before using it.

        The configured order is the preference: the first endpoint not rate limited or down (one not yet
        tried by this call, if any) whose budget has a token now, else the first that is not blocked. So a
        429'd endpoint is skipped for its Retry-After while the others serve, and is first again after it.
        When every endpoint is blocked, the call waits for the one whose Retry-After ends soonest."""
        now = time.monotonic()
        order = range(len(self.endpoints))
        fresh = [i for i in order if i not in tried]
        ready = [i for i in fresh if self._blocked_until(self.endpoints[i]) <= now] or [
            i for i in order if self._blocked_until(self.endpoints[i]) <= now
        ]
        if ready:
            return min(ready, key=lambda i: (self._token_wait(self.endpoints[i]) > 0, i)), 0.0
        soonest = min(order, key=lambda i: self._blocked_until(self.endpoints[i]))
        return soonest, self._blocked_until(self.endpoints[soonest]) - now

    def _token_wait(self, endpoint: _Endpoint) -> float:
        shared = endpoint.shared.wait_time(self.low_priority) if endpoint.shared is not None else 0.0
        return max(endpoint.bucket.wait_time(), shared)

    @staticmethod
    def _blocked_until(endpoint: _Endpoint) -> float:
        shared = endpoint.shared.blocked_until if endpoint.shared is not None else 0.0
        return max(endpoint.blocked_until, shared)

    async def _attempt(self, endpoint: _Endpoint, wait: float, method: str, body: bytes) -> tuple[Any, bytes]:
        """One request: wait for the endpoint (its Retry-After, then a token of this pool's and of the
        engine's budget), then post. A trading call holds the endpoint's trading turn while it waits, so
        background calls queue behind it; the first request after a Retry-After holds it until answered,
        so no background call reaches the endpoint before it (nor provokes the next 429 ahead of it)."""
        shared = endpoint.shared
        if shared is None or self.low_priority:
            if wait > 0:
                await asyncio.sleep(wait)
            await endpoint.bucket.acquire()
            if shared is not None:
                await shared.acquire(low_priority=True)
            return await self._post(endpoint, method, body)
        with shared.trading_turn():
            if wait > 0:
                await asyncio.sleep(wait)
            await endpoint.bucket.acquire()
            await shared.acquire()
            if wait > 0:
                return await self._post(endpoint, method, body)
        return await self._post(endpoint, method, body)

    # -- the call --------------------------------------------------------------------------------
    async def request(self, method: str, params: list[Any] | None = None) -> tuple[Any, bytes]:
        """Send one JSON-RPC request; returns (result, raw answer bytes). Raises only RpcError."""
        if self.closed:
            raise RpcError("RPC pool is closed")
        body = orjson.dumps(
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params or []}
        )
        deadline = time.monotonic() + self.call_deadline_s
        tried: set[int] = set()
        last = "no endpoint answered"
        attempts = 0
        max_attempts = max(4, 3 * len(self.endpoints))
        while attempts < max_attempts:
            if len(tried) >= len(self.endpoints):
                tried.clear()  # every endpoint had its turn: go round again
            index, wait = self._pick(tried)
            if wait > 0 and time.monotonic() + wait > deadline:
                break
            endpoint = self.endpoints[index]
            tried.add(index)
            attempts += 1
            try:
                result, raw = await self._attempt(endpoint, wait, method, body)
            except RpcError as exc:
                last = str(exc)
                if not exc.retryable:
                    self._report(True)  # the endpoint answered; the request itself was refused
                    raise
                if time.monotonic() >= deadline:
                    break
                continue
            endpoint.failures = 0
            self._report(True)
            return result, raw
        self._report(False, last)
        raise RpcError(f"{method}: {last}")

    async def _post(self, endpoint: _Endpoint, method: str, body: bytes) -> tuple[Any, bytes]:
        session = self._client(endpoint)
        try:
            async with session.stream(
                "POST", endpoint.url, content=body, headers={"Content-Type": "application/json"}
            ) as response:
                status = response.status_code
                if status == 429:
                    self._count(limited=True)
                    pause = parse_retry_after(response.headers.get("retry-after"))
                    endpoint.blocked_until = time.monotonic() + pause
                    if endpoint.shared is not None:
                        endpoint.shared.block(pause)
                    raise RpcError(
                        f"rate limited by {self._host(endpoint)} (retry after {pause:.1f}s)",
                        code=429,
                        retryable=True,
                    )
                self._count()
                length = response.headers.get("content-length")
                if length and length.isdigit() and int(length) > self.max_answer_bytes:
                    raise RpcError(f"{method}: answer too large ({int(length)} bytes)")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self.max_answer_bytes:
                        raise RpcError(f"{method}: answer too large (over {self.max_answer_bytes} bytes)")
                    chunks.append(chunk)
                raw = b"".join(chunks)
        except httpx2.TimeoutException:
            self._mark_down(endpoint, "timed out")
            raise RpcError(f"{self._host(endpoint)} timed out", retryable=True) from None
        except httpx2.HTTPError as exc:
            self._mark_down(endpoint, type(exc).__name__)
            raise RpcError(
                f"{self._host(endpoint)} unreachable ({type(exc).__name__})", retryable=True
            ) from None
        except OSError as exc:
            self._mark_down(endpoint, type(exc).__name__)
            raise RpcError(
                f"{self._host(endpoint)} unreachable ({type(exc).__name__})", retryable=True
            ) from None
        if status >= 500:
            self._mark_down(endpoint, f"HTTP {status}")
            raise RpcError(f"{self._host(endpoint)} answered HTTP {status}", code=status, retryable=True)
        return self._parse(method, status, raw)

    def _parse(self, method: str, status: int, raw: bytes) -> tuple[Any, bytes]:
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError:
            hint = "an HTML page" if raw.lstrip()[:1] == b"<" else "not JSON"
            raise RpcError(f"{method}: HTTP {status}, answer is {hint}") from None
        if not isinstance(document, dict):
            raise RpcError(f"{method}: malformed answer (not a JSON-RPC object)")
        error = document.get("error")
        if error is not None:
            if isinstance(error, dict):
                code = error.get("code")
                message = error.get("message")
                code = code if isinstance(code, int) else None
                text = message if isinstance(message, str) else "error"
                # -32005 "node is behind", -32603 internal: another endpoint may do better.
                raise RpcError(
                    f"{method}: {_short(text)}" + (f" ({code})" if code is not None else ""),
                    code=code,
                    retryable=code in (-32005, -32603),
                )
            raise RpcError(f"{method}: malformed error answer")
        if status != 200:
            raise RpcError(f"{method}: HTTP {status}", code=status)
        if "result" not in document:
            raise RpcError(f"{method}: malformed answer (no result)")
        return document["result"], raw

    def _mark_down(self, endpoint: _Endpoint, why: str) -> None:
        endpoint.failures += 1
        endpoint.blocked_until = time.monotonic() + min(FAILED_ENDPOINT_COOLDOWN_S * endpoint.failures, 30.0)
        log.warning("RPC endpoint %s failed: %s", self._host(endpoint), why)

    @staticmethod
    def _host(endpoint: _Endpoint) -> str:
        # Never the full URL: providers put API keys in paths and query strings.
        try:
            return httpx2.URL(endpoint.url).host or "endpoint"
        except Exception:  # noqa: BLE001 - a display name only
            return "endpoint"

    async def call(self, method: str, params: list[Any] | None = None) -> Any:
        result, _ = await self.request(method, params)
        return result

    # -- typed methods ------------------------------------------------------------------------------
    async def get_signatures_for_address(
        self, wallet: str, *, until: str | None = None, before: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Signatures that touched wallet, newest first: [{signature, slot, err, block_time}]."""
        options: dict[str, Any] = {
            "limit": max(1, min(int(limit), 1000)),
            "commitment": _read_commitment(self.commitment),
        }
        if until:
            options["until"] = until
        if before:
            options["before"] = before
        result = await self.call("getSignaturesForAddress", [wallet, options])
        if not isinstance(result, list):
            raise RpcError("getSignaturesForAddress: malformed answer (not a list)")
        entries: list[dict[str, Any]] = []
        for item in result:
            if not isinstance(item, dict) or not isinstance(item.get("signature"), str):
                raise RpcError("getSignaturesForAddress: malformed entry")
            slot = item.get("slot")
            block_time = item.get("blockTime")
            entries.append(
                {
                    "signature": item["signature"],
                    "slot": slot if _is_int(slot) else None,
                    "err": item.get("err"),
                    "block_time": block_time if _is_int(block_time) else None,
                }
            )
        return entries

    async def get_transaction_raw(
        self, signature: str, encoding: str = "json", *, commitment: str | None = None
    ) -> bytes | None:
        """The whole getTransaction answer as bytes (for decode_raw), or None while the tx is not visible."""
        options = {
            "encoding": encoding,
            "maxSupportedTransactionVersion": 0,
            "commitment": _read_commitment(commitment or self.commitment),
        }
        result, raw = await self.request("getTransaction", [signature, options])
        if result is None:
            return None
        if not isinstance(result, dict):
            raise RpcError("getTransaction: malformed answer (result is not an object)")
        return raw

    async def get_latest_blockhash(self) -> tuple[str, int]:
        result = await self.call("getLatestBlockhash", [{"commitment": self.commitment}])
        value = _value(result, "getLatestBlockhash")
        blockhash = value.get("blockhash") if isinstance(value, dict) else None
        height = value.get("lastValidBlockHeight") if isinstance(value, dict) else None
        if not isinstance(blockhash, str) or not _is_int(height):
            raise RpcError("getLatestBlockhash: malformed answer")
        return blockhash, int(height)

    async def get_block_height(self) -> int:
        return _int(await self.call("getBlockHeight", [{"commitment": self.commitment}]), "getBlockHeight")

    async def get_slot(self) -> int:
        return _int(await self.call("getSlot", [{"commitment": self.commitment}]), "getSlot")

    async def get_genesis_hash(self) -> str:
        """The chain's identity: base58 of 32 bytes, the same for every node of one cluster."""
        result = await self.call("getGenesisHash", [])
        if not isinstance(result, str) or not 32 <= len(result) <= 44:
            raise RpcAnswerError("getGenesisHash: malformed answer")
        return result

    async def get_balance(self, pubkey: str) -> int:
        result = await self.call("getBalance", [str(pubkey), {"commitment": self.commitment}])
        return _int(_value(result, "getBalance"), "getBalance")

    async def send_raw_transaction(
        self, tx: bytes, *, skip_preflight: bool = True, max_retries: int | None = None
    ) -> str:
        import base64

        options: dict[str, Any] = {
            "encoding": "base64",
            "skipPreflight": skip_preflight,
            "preflightCommitment": self.commitment,
        }
        if max_retries is not None:
            options["maxRetries"] = max_retries
        result = await self.call("sendTransaction", [base64.b64encode(bytes(tx)).decode(), options])
        if not isinstance(result, str):
            raise RpcError("sendTransaction: malformed answer")
        return result

    async def get_signature_statuses(
        self, signatures: Iterable[str], *, search_history: bool = False
    ) -> list[dict[str, Any] | None]:
        """One entry per signature: None (unknown) or {slot, confirmations, err, confirmationStatus}."""
        signatures = list(signatures)
        result = await self.call(
            "getSignatureStatuses", [signatures, {"searchTransactionHistory": search_history}]
        )
        value = _value(result, "getSignatureStatuses")
        if not isinstance(value, list) or len(value) != len(signatures):
            raise RpcError("getSignatureStatuses: malformed answer")
        statuses: list[dict[str, Any] | None] = []
        for item in value:
            if item is not None and not isinstance(item, dict):
                raise RpcError("getSignatureStatuses: malformed entry")
            statuses.append(item)
        return statuses

    async def close(self) -> None:
        self.closed = True
        for endpoint in self.endpoints:
            client, endpoint.client = endpoint.client, None
            if client is not None:
                try:
                    await client.aclose()
                except Exception as exc:  # noqa: BLE001 - closing must not raise
                    log.debug("closing RPC client failed: %s", exc)

    async def __aenter__(self) -> "RpcPool":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


# The public clusters' genesis hashes (as the Solana explorer and the RPC docs list them).
KNOWN_GENESIS_HASHES = {
    "5eykt4UsFv8P8NJdTREpY1vzqKqZKvdpKuc147dw2N9d": "mainnet",
    "EtWTRABZaYq6iMfeYKouRu166VU2xqa1wcaWoxPkrZBG": "devnet",
    "4uhcVJyU9pJkvQyS88uRDiswHXSCkY3zQawwpjk2NsNY": "testnet",
}


def chain_label(genesis_hash: str, *, embedded: bool, rpc_url: str | None) -> str:
    """What to call a chain on screen: a public cluster's name, `embedded` for the engine's own local
    cluster, `local` for a cluster on this machine, else the start of its genesis hash."""
    if genesis_hash in KNOWN_GENESIS_HASHES:
        return KNOWN_GENESIS_HASHES[genesis_hash]
    if embedded:
        return "embedded"
    try:
        host = httpx2.URL(rpc_url or "").host
    except Exception:  # noqa: BLE001 - a display name only
        host = ""
    if host in {"127.0.0.1", "localhost", "::1"}:
        return "local"
    return genesis_hash[:8]


def _read_commitment(commitment: str) -> str:
    # getSignaturesForAddress and getTransaction refuse "processed".
    return "confirmed" if commitment == "processed" else commitment


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value: Any, method: str) -> int:
    if not _is_int(value):
        raise RpcError(f"{method}: malformed answer")
    return int(value)


def _value(result: Any, method: str) -> Any:
    if not isinstance(result, dict) or "value" not in result:
        raise RpcError(f"{method}: malformed answer (no value)")
    return result["value"]
