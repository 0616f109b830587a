"""The messages workers exchange: small frozen dataclasses, one per seed message type plus a few internal ones."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.store import Store


def now() -> float:
    return time.time()


@dataclass(frozen=True, slots=True)
class WorkerReady:
    """WORKER_READY: a worker finished setup and takes messages."""

    worker: str
    instance: int


@dataclass(frozen=True, slots=True)
class Ping:
    """PING: a heartbeat from the supervisor."""

    seq: int
    sent_at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True, slots=True)
class Pong:
    """PONG: a worker's answer to PING."""

    worker: str
    instance: int
    seq: int


@dataclass(frozen=True, slots=True)
class Shutdown:
    """SHUTDOWN: clean up and exit."""

    reason: str = "shutdown"


@dataclass(frozen=True, slots=True)
class WorkerError:
    """WORKER_ERROR: a handler raised; the worker is going down and should be restarted."""

    worker: str
    instance: int
    error: str
    fatal: bool = True


@dataclass(frozen=True, slots=True)
class WorkerExited:
    """A worker's run loop ended (cleanly or not); sent by the runner."""

    worker: str
    instance: int
    clean: bool


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    """A worker reports its own state (busy, degraded, disabled) with a short reason."""

    worker: str
    instance: int
    state: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class StartMonitoring:
    """START_MONITORING: follow these wallets (a batch keeps 10,000 traders cheap)."""

    wallets: tuple[str, ...]
    cutoffs: tuple[str | None, ...] = ()


@dataclass(frozen=True, slots=True)
class StopMonitoring:
    """STOP_MONITORING: stop following these wallets."""

    wallets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NewTransactions:
    """NEW_TRANSACTIONS: signatures seen for a followed wallet, oldest first, accepted or refused as one batch
    (the monitor's cut-off moves only when the whole batch was taken); the analyzer makes one
    AnalyzeTransaction of each."""

    wallet: str
    signatures: tuple[str, ...]
    source: str  # "ws" | "poll"
    slots: tuple[int | None, ...] = ()
    seen_at: float = field(default_factory=now)
    # Per signature, the full transaction a stream delivered with its notification (blockSubscribe, Helius
    # transactionSubscribe), as getTransaction-`result` JSON bytes: decoded with no fetch. Empty (or None at
    # a position) when only the signature is known (logsSubscribe, polling).
    transactions: tuple[bytes | None, ...] = ()


@dataclass(frozen=True, slots=True)
class AnalyzeTransaction:
    """ANALYZE_TRANSACTION: fetch and decode one signature for one wallet (the analyzer's unit of work); with
    `raw` the transaction came with its notification and is decoded without a fetch."""

    signature: str
    wallet: str
    source: str = "ws"
    seen_at: float = field(default_factory=now)
    slot: int | None = None
    # The transaction as getTransaction-`result` JSON bytes, when a stream carried it.
    raw: bytes | None = None


@dataclass(frozen=True, slots=True)
class SwapDetected:
    """SWAP_DETECTED: a followed wallet swapped."""

    leader_signature: str
    wallet: str
    trader: str
    side: str
    mint: str
    token_amount: int
    token_decimals: int | None
    quote_mint: str
    quote_amount: int
    venue: str
    router: str | None
    slot: int | None
    source: str
    seen_at: float
    detected_at: float = field(default_factory=now)
    # The leader's whole holding of mint before and after this transaction (its token balances), so a
    # proportional sell needs no second fetch; None when the transaction did not show it.
    leader_pre_amount: int | None = None
    leader_post_amount: int | None = None
    # When the leader's swap landed (unix seconds: block time, else estimated from the slot); a signal's age
    # (limits.max_signal_age_s) and the detection lag are measured from it.
    signal_at: float | None = None


@dataclass(frozen=True, slots=True)
class SentTransaction:
    """A signed transaction already broadcast: followed to its end with the same bytes, never re-signed."""

    signature: str
    signed_tx: bytes
    last_valid_block_height: int


@dataclass(frozen=True, slots=True)
class ExecuteTrade:
    """EXECUTE_TRADE: a trade to execute whose intent is already persisted (copy, manual sell or recovered)."""

    intent_id: int
    leader_signature: str
    trader: str
    side: str  # "buy" | "sell"
    mint: str
    amount_in: int  # lamports for a buy, token base units for a sell
    slippage_bps: int
    priority: int = 0
    priority_fee_micro_lamports: int | None = None
    priority_fee_cap_lamports: int | None = None
    jito_tip_lamports: int = 0
    detected_at: float | None = field(default_factory=now)
    manual: bool = False
    trader_wallet: str = ""
    fee_budget_lamports: int = 0  # the trade's worst-case fees (policy.fee_budget_lamports)
    token_decimals: int | None = None
    # The leader's own amounts (token base units, lamports): the price a paper fill uses.
    leader_token_amount: int = 0
    leader_quote_amount: int = 0
    rounds_used: int = 0  # signed transactions already spent on this intent (a restart resumes the count)
    resume: SentTransaction | None = None  # follow this one first (a restart found it sent)
    signal_at: float | None = None  # when the leader's swap landed (SwapDetected.signal_at)
    recovered: bool = False  # left in flight by a previous run (its place in the queue is after new work)
    # Why it trades: leader | manual | take_profit | stop_loss | trailing_stop | max_hold | reconcile.
    trigger: str = "leader"


@dataclass(frozen=True, slots=True)
class TradeQueued:
    """TRADE_QUEUED: the executor accepted a trade."""

    intent_id: int
    trader: str
    side: str
    mint: str
    queued_at: float = field(default_factory=now)


@dataclass(frozen=True, slots=True)
class TradeExecuted:
    """TRADE_EXECUTED: our transaction landed without error."""

    intent_id: int
    trader: str
    side: str
    mint: str
    signature: str
    token_amount: int
    quote_amount: int
    fee_lamports: int
    confirmed_at: float = field(default_factory=now)
    trigger: str = "leader"  # as ExecuteTrade.trigger


@dataclass(frozen=True, slots=True)
class TradeFailed:
    """TRADE_FAILED: the trade did not happen; reason says why."""

    intent_id: int
    trader: str
    side: str
    mint: str
    reason: str
    signature: str | None = None
    failed_at: float = field(default_factory=now)
    trigger: str = "leader"  # as ExecuteTrade.trigger


@dataclass(frozen=True, slots=True)
class TradeSkipped:
    """A copy decision not to trade, always with a reason."""

    leader_signature: str
    trader: str
    side: str
    mint: str
    reason: str
    skipped_at: float = field(default_factory=now)


@dataclass(frozen=True, slots=True)
class StopAcceptingTasks:
    """STOP_ACCEPTING_TASKS: finish what is in flight, take nothing new."""

    reason: str = "shutdown"


@dataclass(frozen=True, slots=True)
class CoverageChanged:
    """The websocket's coverage of these wallets changed, its one message to the monitor about it.

    covered=False: the socket holding them dropped (or the worker went down) at `since`; poll them fast.
    covered=True: their subscriptions are confirmed again. `since` is when coverage was lost, or None on a
    first subscribe (nothing was missed); when set, notifications were lost in between and the monitor
    backfills them at once (the gap)."""

    wallets: tuple[str, ...]
    covered: bool
    since: float | None
    detail: str = ""  # the websocket's status line when it sent this, for logs

    @property
    def gap(self) -> bool:
        """Covered again after a drop: what landed while the socket was down must be polled for."""
        return self.covered and self.since is not None


@dataclass(frozen=True, slots=True)
class DataCall:
    """Ask the data worker (the single SQLite writer) to run one store operation and resolve the future.

    `operation` takes the Store and returns the result; `mirror`, when given, runs right after it in the
    data worker with the Store and the result, to bring EngineState up to date. Only StoreClient builds
    these, one method per operation, so a reader can follow every call from a worker to its SQL."""

    name: str
    operation: Callable[[Store], Any]
    future: Future
    mirror: Callable[[Store, Any], None] | None = None


@dataclass(frozen=True, slots=True)
class LogEvent:
    """A line for the console's log pane."""

    level: str
    worker: str
    message: str
    at: float = field(default_factory=now)


@dataclass(frozen=True, slots=True)
class ManualSell:
    """Sell percent of our position in mint now (from the console, CLI or Telegram): pro rata over its lots,
    or of one lot when lot_id names it."""

    mint: str
    percent: float
    future: Future
    lot_id: int | None = None


@dataclass(frozen=True, slots=True)
class BooksAdjusted:
    """Reconciliation found the wallet holding another amount of a token than its lots: the lots were
    brought to the chain's amount (an adjustment intent with trigger 'reconcile')."""

    intent_id: int
    mint: str
    reason: str  # external sell | external deposit | settle mismatch
    books_amount: int
    chain_amount: int
    decimals: int | None = None
    at: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class KillSwitchTripped:
    """The daily realised loss reached its cap: buying is paused until the operator resumes."""

    reason: str
    realized_pnl_lamports: int
    at: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class WorkerRestarted:
    """Event: a worker was restarted (or gave up restarting)."""

    worker: str
    restarts: int
    reason: str
    gave_up: bool = False
