"""Reconciliation of the lots with the chain: the wallet's token accounts (getTokenAccountsByOwner for both
token programs) compared with each mint's lots, at start, every `engine.reconcile_interval_s` and after
every settle. A difference is never absorbed silently: it becomes an adjustment (an intent with trigger
'reconcile' and a reason), a warning in the log pane and a Telegram notice, and the lots are brought to
what the chain says, pro rata. A token no lot knows is an untracked holding: shown, never sold."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from solders.pubkey import Pubkey

from engine.constants import TOKEN_2022_PROGRAM, TOKEN_PROGRAM, WSOL_MINT
from engine.messages import BooksAdjusted

if TYPE_CHECKING:
    from engine.chain.rpc import RpcPool
    from engine.context import EngineContext

TOKEN_ACCOUNT_MIN_LEN = 165  # mint (32) | owner (32) | amount (u64) | … ; Token-2022 accounts may be longer


def parse_token_account(data: bytes) -> tuple[str, str, int] | None:
    """(mint, owner, amount) of an SPL Token or Token-2022 account's data; None for anything shorter."""
    if len(data) < TOKEN_ACCOUNT_MIN_LEN:
        return None
    return (
        str(Pubkey.from_bytes(data[0:32])),
        str(Pubkey.from_bytes(data[32:64])),
        int.from_bytes(data[64:72], "little"),
    )


def holdings_from_answers(answers: list[dict[str, Any]], owner: str) -> dict[str, int]:
    """Raw token units per mint over every token account of `owner` in getTokenAccountsByOwner answers
    (base64 encoding), wrapped SOL left out. Pure."""
    held: dict[str, int] = {}
    for answer in answers:
        for item in answer.get("value") or ():
            raw = (item.get("account") or {}).get("data")
            if not isinstance(raw, list) or not raw:
                continue
            parsed = parse_token_account(base64.b64decode(raw[0]))
            if parsed is None or parsed[1] != owner or parsed[0] == WSOL_MINT:
                continue
            held[parsed[0]] = held.get(parsed[0], 0) + parsed[2]
    return held


def reason_for(books: int, chain: int, *, settled: bool) -> str:
    if settled:
        return "settle mismatch"
    return "external sell" if chain < books else "external deposit"


class ChainBooks:
    """Runs reconciliations for the executor, one at a time; `untracked` is what the chain holds that no lot
    knows (also in the snapshot)."""

    def __init__(
        self,
        ctx: EngineContext,
        rpc: RpcPool | None,
        wallet: str,
        *,
        has_wallet: bool,
        emit_log: Callable[[str, str], None],
    ) -> None:
        self.ctx = ctx
        self.rpc = rpc
        self.wallet = wallet
        self.enabled = has_wallet and rpc is not None
        self.emit_log = emit_log
        self.interval = float(ctx.settings.engine.reconcile_interval_s)
        self.last_run = 0.0
        self.untracked: dict[str, int] = {}
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task] = set()

    def schedule(self, trigger: str, mint: str | None = None) -> None:
        """Run one in the background (after a settle the trade is finished; nothing waits for it)."""
        self._tasks = {task for task in self._tasks if not task.done()}
        self._tasks.add(asyncio.ensure_future(self._run_logged(trigger, mint)))

    async def _run_logged(self, trigger: str, mint: str | None) -> None:
        try:
            await self.run(trigger, mint)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - one failed check must not end the next ones
            self.emit_log("warning", f"reconcile ({trigger}) failed: {exc}")

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()

    def tick(self) -> None:
        """The executor's tick: start the periodic reconciliation when it is due."""
        if self.due():
            self.schedule("interval")

    def due(self) -> bool:
        return self.enabled and self.interval > 0 and time.monotonic() - self.last_run >= self.interval

    async def holdings(self) -> dict[str, int]:
        assert self.rpc is not None
        answers = []
        for program in (TOKEN_PROGRAM, TOKEN_2022_PROGRAM):
            answers.append(
                await self.rpc.call(
                    "getTokenAccountsByOwner",
                    [
                        self.wallet,
                        {"programId": program},
                        {"encoding": "base64", "commitment": self.rpc.commitment},
                    ],
                )
            )
        return holdings_from_answers(answers, self.wallet)

    async def _books(self) -> tuple[dict[str, int], set[str]]:
        """(raw units per mint over the open lots, mints with a trade in flight)."""
        books: dict[str, int] = {}
        for lot in await self.ctx.store.lots():
            books[lot["mint"]] = books.get(lot["mint"], 0) + int(lot["amount"])
        flying = {row["mint"] for row in await self.ctx.store.intents_in_flight()}
        return books, flying

    async def run(self, trigger: str, settled_mint: str | None = None) -> list[dict[str, Any]]:
        """One reconciliation; returns the adjustments made. A mint with a trade in flight, or whose lots
        changed while the chain was read, is left for the next one (its balance may be between two states)."""
        if not self.enabled:
            return []
        async with self._lock:
            self.last_run = time.monotonic()
            before, flying_before = await self._books()
            try:
                chain = await self.holdings()
            except Exception as exc:  # noqa: BLE001 - the next reconciliation tries again
                self.emit_log("warning", f"reconcile ({trigger}): token accounts unavailable: {exc}")
                return []
            after, flying_after = await self._books()
            skip = (
                flying_before
                | flying_after
                | {m for m in set(before) | set(after) if before.get(m) != after.get(m)}
            )
            adjustments = []
            for mint in sorted(set(after) | set(chain)):
                books, held = after.get(mint, 0), chain.get(mint, 0)
                if mint in skip or books == held or mint not in after:
                    continue
                reason = reason_for(books, held, settled=trigger == "settle" and mint == settled_mint)
                result = await self.ctx.store.adjust_lots(mint, held, reason=reason)
                if result["intent"] is None:
                    continue
                adjustments.append(result)
                intent = result["intent"]
                self.emit_log(
                    "warning",
                    f"reconcile: {reason} of {mint[:4]}…{mint[-4:]}: books held {books}, the chain {held};"
                    f" lots brought to the chain (adjustment #{intent['id']})",
                )
                self.ctx.publish(
                    BooksAdjusted(intent["id"], mint, reason, books, held, intent.get("token_decimals"))
                )
            untracked = {mint: amount for mint, amount in chain.items() if amount > 0 and mint not in after}
            for mint in sorted(set(untracked) - set(self.untracked)):
                self.emit_log(
                    "warning",
                    f"untracked holding: {untracked[mint]} units of {mint[:4]}…{mint[-4:]} that no lot knows;"
                    " shown, never sold automatically",
                )
            self.untracked = untracked
            self.ctx.state.set(untracked=dict(untracked))
            self.ctx.state.bump("reconciliations")
            return adjustments
