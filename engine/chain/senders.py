"""The send paths of one signed transaction: the same bytes to every configured sender at once, each with its own health."""

from __future__ import annotations

import asyncio
import base64
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx2
import orjson

SenderKind = Literal["rpc", "jito"]
# Jito's block engine serves sendTransaction on /api/v1/transactions and sendBundle on /api/v1/bundles.
JITO_TRANSACTIONS_PATH = "/api/v1/transactions"
JITO_BUNDLES_PATH = "/api/v1/bundles"
DOWN_FOR_S = 5.0  # a failed sender is skipped this long, so a dead path costs nothing on the next copies
DEFAULT_TIMEOUT_S = 2.0


class SendError(Exception):
    """One sender refused the bytes or did not answer in time."""


@dataclass
class SenderHealth:
    """What the console's send light shows for one sender, and its per-sender counters."""

    name: str
    kind: str
    up: bool = True
    reason: str = ""
    down_until: float = 0.0
    accepted: int = 0
    failed: int = 0
    last_ms: float | None = None


@dataclass
class Sender:
    """One send endpoint: a plain RPC node (sendTransaction) or a Jito-style block engine."""

    url: str
    kind: SenderKind = "rpc"
    name: str = ""
    timeout_s: float = DEFAULT_TIMEOUT_S
    health: SenderHealth = field(init=False)
    _client: httpx2.AsyncClient | None = field(default=None, init=False, repr=False)
    _ids: Any = field(default_factory=lambda: itertools.count(1), init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in ("rpc", "jito"):
            raise ValueError(f"sender kind must be rpc or jito, not {self.kind!r}")
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"sender url must be http(s): {self.url!r}")
        self.name = self.name or f"{self.kind}:{self.url.split('//', 1)[1].split('/', 1)[0]}"
        self.health = SenderHealth(self.name, self.kind)

    def _endpoint(self, method: str) -> str:
        if self.kind != "jito" or "/api/v1/" in self.url:
            return self.url
        base = self.url.rstrip("/")
        return base + (
            JITO_BUNDLES_PATH if method in ("sendBundle", "getBundleStatuses") else JITO_TRANSACTIONS_PATH
        )

    async def call(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC request; the answer's result, or SendError with the provider's message."""
        if self._client is None:
            self._client = httpx2.AsyncClient(timeout=httpx2.Timeout(self.timeout_s))
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        try:
            resp = await asyncio.wait_for(
                self._client.post(
                    self._endpoint(method),
                    content=orjson.dumps(body),
                    headers={"Content-Type": "application/json"},
                ),
                self.timeout_s,
            )
        except (TimeoutError, httpx2.TimeoutException) as exc:
            raise SendError(f"{self.name}: no answer in {self.timeout_s:g} s") from exc
        except httpx2.HTTPError as exc:
            raise SendError(f"{self.name}: {type(exc).__name__}") from exc
        try:
            answer = orjson.loads(resp.content)
        except orjson.JSONDecodeError as exc:
            raise SendError(f"{self.name}: HTTP {resp.status_code}, not JSON") from exc
        if isinstance(answer, dict) and answer.get("error"):
            err = answer["error"]
            message = err.get("message") if isinstance(err, dict) else str(err)
            raise SendError(f"{self.name}: {message}"[:160])
        if resp.status_code != 200 or not isinstance(answer, dict) or "result" not in answer:
            raise SendError(f"{self.name}: HTTP {resp.status_code}")
        return answer["result"]

    async def send(self, raw: bytes) -> str:
        """sendTransaction of the signed bytes (base64, no preflight, no node-side retries)."""
        encoded = base64.b64encode(bytes(raw)).decode()
        if self.kind == "jito":
            params: list[Any] = [encoded, {"encoding": "base64"}]
        else:
            params = [encoded, {"encoding": "base64", "skipPreflight": True, "maxRetries": 0}]
        result = await self.call("sendTransaction", params)
        if not isinstance(result, str):
            raise SendError(f"{self.name}: sendTransaction answered no signature")
        return result

    async def send_bundle(self, raws: Sequence[bytes]) -> str:
        """sendBundle (block engines only): up to 5 signed transactions that land together or not at all."""
        if self.kind != "jito":
            raise SendError(f"{self.name}: sendBundle needs a block engine sender")
        encoded = [base64.b64encode(bytes(r)).decode() for r in raws]
        result = await self.call("sendBundle", [encoded, {"encoding": "base64"}])
        if not isinstance(result, str):
            raise SendError(f"{self.name}: sendBundle answered no bundle id")
        return result

    async def tip_accounts(self) -> list[str]:
        result = await self.call("getTipAccounts", [])
        if not isinstance(result, list) or not all(isinstance(a, str) for a in result):
            raise SendError(f"{self.name}: getTipAccounts malformed")
        return result

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class SenderSet:
    """The same signed bytes to every sender that is up, at once; the first acceptance frees the caller."""

    def __init__(
        self,
        senders: Sequence[Sender],
        *,
        down_for_s: float = DOWN_FOR_S,
        on_change: Callable[[list[SenderHealth]], Any] | None = None,
    ) -> None:
        if not senders:
            raise ValueError("SenderSet needs at least one sender")
        self.senders = list(senders)
        self.down_for_s = down_for_s
        # Called after every sender's result (the slow ones' too, from the background): the console's light.
        self.on_change = on_change
        self._tasks: set[asyncio.Task[Any]] = set()

    def health(self) -> list[SenderHealth]:
        now = time.monotonic()
        for s in self.senders:
            if not s.health.up and now >= s.health.down_until:
                s.health.up = True  # the next copy tries it again
        return [s.health for s in self.senders]

    def _active(self) -> list[Sender]:
        self.health()
        up = [s for s in self.senders if s.health.up]
        return up or self.senders  # all down: try them all rather than not sending

    async def _one(self, sender: Sender, raw: bytes) -> str:
        started = time.monotonic()
        try:
            sig = await sender.send(raw)
        except SendError as exc:
            h = sender.health
            h.failed += 1
            h.up, h.reason, h.down_until = False, str(exc), time.monotonic() + self.down_for_s
            h.last_ms = (time.monotonic() - started) * 1000
            self._changed()
            raise
        h = sender.health
        h.accepted += 1
        h.up, h.reason = True, ""
        h.last_ms = (time.monotonic() - started) * 1000
        self._changed()
        return sig

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.health())

    async def send(self, raw: bytes, on_accepted: Callable[[Sender, str], Any] | None = None) -> str:
        """Send to all; return (and call on_accepted) at the first acceptance. The others finish in the
        background and only update their health. SendError when every sender failed."""
        tasks = {asyncio.ensure_future(self._one(s, raw)): s for s in self._active()}
        errors: list[str] = []
        pending = set(tasks)
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    exc = task.exception()
                    if exc is not None:
                        errors.append(str(exc))
                        continue
                    sig = task.result()
                    if on_accepted is not None:
                        on_accepted(tasks[task], sig)
                    return sig
            raise SendError("every sender failed: " + "; ".join(errors))
        finally:
            for task in pending:  # let the slower senders finish their send; keep a reference until then
                self._tasks.add(task)
                task.add_done_callback(self._reap)

    def _reap(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved, so a failure is recorded in health, not logged as unhandled

    async def drain(self) -> None:
        """Wait for the background sends (tests and shutdown)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        await self.drain()
        for s in self.senders:
            await s.close()


def senders_from_config(entries: Sequence[dict[str, Any]]) -> list[Sender]:
    """[[senders]] entries ({url, kind, name?, timeout_s?}) as senders; a clear error for a bad one."""
    out = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or "url" not in entry:
            raise ValueError(f"senders[{i}]: needs a url")
        out.append(
            Sender(
                url=str(entry["url"]),
                kind=entry.get("kind", "rpc"),
                name=str(entry.get("name", "")),
                timeout_s=float(entry.get("timeout_s", DEFAULT_TIMEOUT_S)),
            )
        )
    return out


def sender_set(
    entries: Sequence[dict[str, Any]], on_change: Callable[[list[SenderHealth]], Any] | None = None
) -> SenderSet | None:
    """The SenderSet of the [[senders]] entries, or None without any (every send then goes to the RPC pool)."""
    if not entries:
        return None
    return SenderSet(senders_from_config(entries), on_change=on_change)
