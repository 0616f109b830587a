"""The data worker: the single SQLite writer, which runs the StoreClient's operations for other workers, and
the owner of traders.toml in a running engine (it notices edits and applies them).

The books are kept per chain and operator wallet, so the data worker reads the chain id (getGenesisHash)
first and holds every call that touches the books until it knows it."""

from __future__ import annotations

import asyncio
from collections import deque
from urllib.parse import urlsplit

from engine import commands
from engine.chain.rpc import RpcAnswerError, RpcError, chain_label
from engine.config import ConfigError
from engine.messages import DataCall
from engine.state import lot_view, position_view, trade_view
from engine.store import Store, StoreError
from engine.store.base import utc_day
from engine.worker import BaseWorker, handles

TRADERS_CHECK_S = 0.5  # how often traders.toml is stat()ed; an edit is in force within two checks
CHAIN_ID_RETRY_S = (1.0, 2.0, 5.0, 10.0, 30.0)
NO_RPC_CHAIN = "offline"  # the books of an engine with no RPC at all (paper at the leader's price)
# Calls that do not read or write the books of one chain; every other call waits for the chain id.
BOOKLESS_CALLS = frozenset({"record_error", "get_intent"})


class DataWorker(BaseWorker):
    """Owns the SQLite connection; every write in the engine goes through here."""

    name = "data"
    tick_interval = TRADERS_CHECK_S

    async def setup(self) -> None:
        self.store = Store(self.ctx.db_path)
        keypair = self.ctx.keypair
        self._wallet = str(keypair.pubkey()) if keypair is not None else "paper"
        self._books_open = False
        self._held: deque[DataCall] = deque()  # calls that arrived before the chain id was known
        self._traders_error = ""
        self._settling: object = None  # the file version seen on the last check, not yet read
        book = self.ctx.traders
        book.watch()
        self._show_traders_file()
        self._chain_task: asyncio.Task | None = None
        if self.ctx.state.books_chain:  # a restarted data worker: the chain is known
            self._open_books(self.ctx.state.books_chain, self.ctx.state.chain_label)
        elif not self.ctx.endpoints.rpc_urls:
            self._open_books(NO_RPC_CHAIN, NO_RPC_CHAIN)
        else:
            self._chain_task = self.spawn(self._read_chain_id(), "reading the chain id")

    def _open_books(self, chain: str, label: str) -> None:
        """From now on every call reads and writes the books of this chain and our wallet: show them in the
        console (so a restart keeps history on screen), then run the calls held until now, in order."""
        self.store.use_books(chain, self._wallet, label=label)
        for row in reversed(self.store.intents(limit=self.ctx.state.max_trades)):
            self.ctx.state.upsert_trade(trade_view(row))
        for row in self.store.positions():
            self.ctx.state.set_position(position_view(row), row["mint"])
        for row in self.store.lots():
            self.ctx.state.set_lot(lot_view(row))
        day = utc_day()
        self.ctx.state.set_daily(day, self.store.daily(day))
        self.ctx.state.set(books_chain=chain)
        self._books_open = True
        while self._held:
            self._run(self._held.popleft())

    async def cleanup(self) -> None:
        task = getattr(self, "_chain_task", None)
        if task is not None:
            task.cancel()
        for msg in getattr(self, "_held", ()):
            if msg.future.set_running_or_notify_cancel():
                msg.future.set_exception(RuntimeError("the engine stopped before the chain was known"))
        store = getattr(self, "store", None)
        if store is not None:
            store.close()

    async def tick(self) -> None:
        self.check_traders_file()

    # -- traders.toml ----------------------------------------------------------------------------
    def check_traders_file(self) -> None:
        """Apply an edit of traders.toml, whoever made it. A file that does not parse is reported once (one
        line) and the traders in force stay; the next good version is applied as usual."""
        book = self.ctx.traders
        if not book.changed_on_disk():
            self._settling = None
            if self.ctx.state.traders_digest != book.digest:  # the engine's own write
                self._show_traders_file()
            return
        # Read a version only once it has stood for a whole check: an editor that writes in place would
        # otherwise be caught half way (a spurious syntax error, or an empty file that drops every trader).
        signature = book.disk_signature()
        if signature != self._settling:
            self._settling = signature
            return
        try:
            change = book.reload()
        except ConfigError as exc:
            line = f"{exc}; the traders in force are kept"
            if line != self._traders_error:
                self._traders_error = line
                self.emit_log("error", line)
                self.ctx.state.bump("traders_file_errors")
            return
        if self._traders_error:
            self._traders_error = ""
            self.emit_log("info", f"{book.path}: reads again; {len(book.all())} trader(s)")
        if change:
            commands.apply_traders_change(self.ctx, change, source=self.name)
            self.ctx.state.bump("traders_reloads")
        self._show_traders_file()

    def _show_traders_file(self) -> None:
        book = self.ctx.traders
        self.ctx.state.set(
            traders_file=str(book.path.resolve()) if book.path else "", traders_digest=book.digest
        )

    # -- the chain's identity ----------------------------------------------------------------------
    async def _read_chain_id(self) -> None:
        """Read getGenesisHash once, retrying while the RPC is unreachable; the books are kept per chain."""
        # Paper gives up on the chain id quickly (its books then belong to the endpoint): nothing is sent, and
        # the workers that read the books at start should not wait on an endpoint that is down.
        pool = self.ctx.rpc_pool(call_deadline_s=1.0 if self.ctx.settings.mode == "paper" else 10.0)
        attempt = 0
        try:
            while True:
                try:
                    genesis = await pool.get_genesis_hash()
                    break
                except RpcError as exc:
                    if attempt == 0 or not exc.retryable:
                        self.emit_log("warning", f"cannot read the chain's genesis hash: {exc}")
                    answered = isinstance(exc, RpcAnswerError) or (not exc.retryable and exc.code is not None)
                    if answered or (self.ctx.settings.mode == "paper" and not self._books_open):
                        # The node does not serve it (or, on paper, where nothing is ever sent, cannot be
                        # reached yet): keep the books of this endpoint rather than hold every call.
                        host = urlsplit(self.ctx.endpoints.rpc_urls[0]).hostname or "rpc"
                        self.emit_log("warning", f"books kept for endpoint rpc:{host} (chain unknown)")
                        self._open_books(f"rpc:{host}", f"rpc:{host}")
                        return
                await asyncio.sleep(CHAIN_ID_RETRY_S[min(attempt, len(CHAIN_ID_RETRY_S) - 1)])
                attempt += 1
        finally:
            await pool.close()
        label = chain_label(
            genesis,
            embedded=self.ctx.cluster is not None,
            rpc_url=self.ctx.endpoints.rpc_urls[0],
        )
        self.ctx.state.set(chain_id=genesis, chain_label=label)
        self.emit_log("info", f"chain: {label} (genesis {genesis})")
        self._open_books(genesis, label)

    @handles(DataCall)
    def on_call(self, msg: DataCall) -> None:
        if not self._books_open and msg.name not in BOOKLESS_CALLS:
            self._held.append(msg)  # its books are those of a chain not known yet
            return
        self._run(msg)

    def _run(self, msg: DataCall) -> None:
        if msg.future.cancelled() or not msg.future.set_running_or_notify_cancel():
            return  # the caller gave up (its worker was restarted); nothing to do
        try:
            result = msg.operation(self.store)
        except StoreError as exc:
            # Surface it (log pane, errors, Telegram) and hand it to the caller; the worker stays up.
            self.emit_log("error", str(exc))
            self.ctx.state.bump("store_errors")
            msg.future.set_exception(exc)
            return
        except Exception as exc:
            msg.future.set_exception(exc)
            return
        if msg.mirror is not None:
            msg.mirror(self.store, result)
        msg.future.set_result(result)
