"""The data worker: the single SQLite writer, which runs the StoreClient's operations for other workers, and
the owner of traders.toml in a running engine (it notices edits and applies them)."""

from __future__ import annotations

import asyncio

from engine import commands
from engine.chain.rpc import RpcError, chain_label
from engine.config import ConfigError
from engine.messages import DataCall
from engine.state import lot_view, position_view, trade_view
from engine.store import Store, StoreError
from engine.store.base import utc_day
from engine.worker import BaseWorker, handles

TRADERS_CHECK_S = 0.5  # how often traders.toml is stat()ed; an edit is in force within two checks
CHAIN_ID_RETRY_S = (1.0, 2.0, 5.0, 10.0, 30.0)


class DataWorker(BaseWorker):
    """Owns the SQLite connection; every write in the engine goes through here."""

    name = "data"
    tick_interval = TRADERS_CHECK_S

    async def setup(self) -> None:
        self.store = Store(self.ctx.db_path)
        keypair = self.ctx.keypair
        self.store.wallet = str(keypair.pubkey()) if keypair is not None else "paper"
        # Load what the console shows from the database, so a restart keeps history on screen.
        for row in reversed(self.store.intents(limit=self.ctx.state.max_trades)):
            self.ctx.state.upsert_trade(trade_view(row))
        for row in self.store.positions():
            self.ctx.state.set_position(position_view(row), row["mint"])
        for row in self.store.lots():
            self.ctx.state.set_lot(lot_view(row))
        day = utc_day()
        self.ctx.state.set_daily(day, self.store.daily(day))
        self._traders_error = ""
        self._settling: object = None  # the file version seen on the last check, not yet read
        book = self.ctx.traders
        book.watch()
        self._show_traders_file()
        self._chain_task: asyncio.Task | None = None
        if not self.ctx.state.chain_id and self.ctx.endpoints.rpc_urls:
            self._chain_task = self.spawn(self._read_chain_id(), "reading the chain id")

    async def cleanup(self) -> None:
        task = getattr(self, "_chain_task", None)
        if task is not None:
            task.cancel()
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
        pool = self.ctx.rpc_pool(call_deadline_s=10.0)
        attempt = 0
        try:
            while True:
                try:
                    genesis = await pool.get_genesis_hash()
                    break
                except RpcError as exc:
                    if attempt == 0 or not exc.retryable:
                        self.emit_log("warning", f"cannot read the chain's genesis hash: {exc}")
                    if not exc.retryable and exc.code is not None:
                        return  # the node answered and does not serve it: the chain stays unknown
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

    @handles(DataCall)
    def on_call(self, msg: DataCall) -> None:
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
