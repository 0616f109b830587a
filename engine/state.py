"""The engine's live state and the immutable snapshot the console, CLI and Telegram read."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

from engine.latency import LatencyBook, LatencyView
from engine.token_names import MAX_TOKENS, TokenView, held_tokens, named

WORKER_NAMES = ("telegram", "monitor", "executor", "data", "websocket", "cache", "analyzer")
WORKER_STATES = ("initializing", "ready", "busy", "degraded", "failed", "restarting", "stopped", "disabled")


@dataclass(frozen=True, slots=True)
class WorkerView:
    """One worker as the console shows it."""

    name: str
    state: str = "initializing"
    detail: str = ""
    restarts: int = 0
    inbox_depth: int = 0
    last_heartbeat_age_s: float | None = None
    messages_handled: int = 0
    instance: int = 0


@dataclass(frozen=True, slots=True)
class TraderView:
    """A followed trader with its copy statistics."""

    name: str
    wallet: str
    active: bool
    sizing: str
    last_trade_at: float | None = None
    trades_copied: int = 0
    pnl_lamports: int = 0
    paused_reason: str = ""


@dataclass(frozen=True, slots=True)
class TradeView:
    """One copy decision and what became of it."""

    id: int
    leader_signature: str
    trader: str
    side: str
    mint: str
    status: str  # queued | sent | executed | failed | skipped
    reason: str = ""
    signature: str | None = None
    token_amount: int = 0
    quote_amount: int = 0
    token_decimals: int | None = None
    detected_at: float | None = None
    queued_at: float | None = None
    sent_at: float | None = None
    confirmed_at: float | None = None
    symbol: str = ""
    trigger: str = (
        "leader"  # leader | manual | take_profit | stop_loss | trailing_stop | max_hold | reconcile
    )
    fee_lamports: int = 0  # the network fee actually paid (base + priority, every attempt), from the chain

    @property
    def latency_ms(self) -> float | None:
        if self.detected_at is None or self.confirmed_at is None:
            return None
        return (self.confirmed_at - self.detected_at) * 1000.0


@dataclass(frozen=True, slots=True)
class PositionView:
    """Our holding of one token."""

    mint: str
    amount: int
    cost_lamports: int
    realized_pnl_lamports: int = 0
    unrealized_pnl_lamports: int | None = None
    decimals: int | None = None
    symbol: str = ""
    opened_at: float | None = None


@dataclass(frozen=True, slots=True)
class LotView:
    """One leader's lot of one token: the copies of that leader and what is left of them."""

    id: int
    trader: str
    leader: str
    mint: str
    amount: int
    bought_amount: int
    cost_lamports: int
    realized_pnl_lamports: int = 0
    fees_lamports: int = 0
    decimals: int | None = None
    opened_at: float | None = None


@dataclass(frozen=True, slots=True)
class SenderView:
    """One [[senders]] path as its last real send left it (engine/chain/senders.py SenderHealth)."""

    name: str
    kind: str  # rpc | jito
    up: bool
    reason: str = ""  # why its last send was refused or timed out; "" when it accepted
    accepted: int = 0
    failed: int = 0
    last_ms: float | None = None


@dataclass(frozen=True, slots=True)
class HealthView:
    """Connectivity and chain position."""

    rpc_ok: bool = False
    ws_ok: bool = False
    slot: int | None = None
    rpc_detail: str = ""
    ws_detail: str = ""
    rpc_calls: int = 0
    send_ok: bool | None = None  # the last send of a signed transaction: accepted, refused, or none yet
    send_detail: str = ""  # why the last send was refused
    senders: tuple[SenderView, ...] = ()  # per [[senders]] entry, after its last send; () without [[senders]]
    rpc_429s: int = 0


@dataclass(frozen=True, slots=True)
class LogLine:
    at: float
    level: str
    worker: str
    message: str


@dataclass(frozen=True, slots=True)
class EngineSnapshot:
    """Everything the console shows, frozen at one moment."""

    mode: str
    wallet: str | None
    sol_balance_lamports: int | None
    paused: bool
    kill_switch: str
    started_at: float
    taken_at: float
    workers: tuple[WorkerView, ...]
    queues: dict[str, int]
    traders: tuple[TraderView, ...]
    trades: tuple[TradeView, ...]
    positions: tuple[PositionView, ...]
    health: HealthView
    logs: tuple[LogLine, ...]
    monitored_wallets: int = 0
    subscriptions: int = 0
    in_flight: int = 0
    counters: dict[str, int] = field(default_factory=dict)
    chain_id: str = ""  # the chain's genesis hash ("" until read)
    chain_label: str = ""  # mainnet / devnet / testnet / embedded / local, or the hash's start
    traders_file: str = ""  # the traders.toml the engine follows
    traders_digest: str = ""  # sha256 of the version of it in force
    lots: tuple[LotView, ...] = ()  # the open lots, oldest first; a position is the sum of its mint's lots
    books_chain: str = ""  # the chain whose books are in use (genesis hash, or 'offline'); "" until known
    pause: str = ""  # "" | "buys" (sells of open lots still copied) | "all" (sells too): the operator's
    untracked: dict[str, int] = field(
        default_factory=dict
    )  # mint → raw units on chain no lot knows (never sold)
    today: str = ""  # the UTC day the two totals below are of ("" until the data worker read them)
    spent_today_lamports: int = 0  # what buys cost that day, fees included (the daily spend cap counts it)
    realized_pnl_today_lamports: int = 0  # realised PnL of that day's sells
    buys_stopped: str = (
        ""  # the reason of the latest buy skipped by a limit that stops every buy, until one goes
    )
    latency: LatencyView = LatencyView()  # per trader detection lag and detect → send (engine/latency.py)
    tokens: dict[str, TokenView] = field(default_factory=dict)  # held mint → its name, once the cache read it

    @property
    def pause_mode(self) -> str:
        """The pause in force: "all", "buys" (the operator's, or the kill switch's) or "" (none)."""
        if self.pause == "all":
            return "all"
        return "buys" if self.pause == "buys" or self.kill_switch else ""

    @property
    def uptime_s(self) -> float:
        return self.taken_at - self.started_at

    def worker(self, name: str) -> WorkerView:
        for view in self.workers:
            if view.name == name:
                return view
        raise KeyError(name)


# -- store rows to views (the one place a row becomes what the console shows) --------------------


def sender_views(health: Any) -> tuple[SenderView, ...]:
    """SenderSet.health() (engine/chain/senders.py SenderHealth items) as the state's frozen views."""
    return tuple(
        SenderView(h.name, h.kind, bool(h.up), h.reason, int(h.accepted), int(h.failed), h.last_ms)
        for h in health
    )


def trade_view(row: dict[str, Any]) -> TradeView:
    status = row["status"]
    return TradeView(
        id=int(row["id"]),
        leader_signature=row["leader_signature"],
        trader=row["trader"],
        side=row["side"],
        mint=row["mint"],
        status="queued" if status == "pending" else status,
        reason=row.get("reason") or "",
        signature=row.get("signature"),
        token_amount=int(row.get("token_amount") or 0),
        quote_amount=int(row.get("quote_amount") or 0),
        token_decimals=row.get("token_decimals"),
        detected_at=row.get("detected_at"),
        queued_at=row.get("queued_at"),
        sent_at=row.get("sent_at"),
        confirmed_at=row.get("confirmed_at"),
        trigger=row.get("trigger") or ("manual" if row["trader"] == "manual" else "leader"),
        fee_lamports=int(row.get("fee_lamports") or 0),
    )


def position_view(row: dict[str, Any]) -> PositionView:
    return PositionView(
        mint=row["mint"],
        amount=int(row["amount"] or 0),
        cost_lamports=int(row["cost_lamports"] or 0),
        realized_pnl_lamports=int(row["realized_pnl_lamports"] or 0),
        decimals=row.get("decimals"),
        opened_at=row.get("opened_at"),
    )


def lot_view(row: dict[str, Any]) -> LotView:
    return LotView(
        id=int(row["id"]),
        trader=row["trader"],
        leader=row["leader"],
        mint=row["mint"],
        amount=int(row["amount"]),
        bought_amount=int(row["bought_amount"]),
        cost_lamports=int(row["cost_lamports"]),
        realized_pnl_lamports=int(row["realized_pnl_lamports"]),
        fees_lamports=int(row["fees_lamports"]),
        decimals=row.get("decimals"),
        opened_at=row.get("opened_at"),
    )


def skip_view(
    skip_id: int,
    *,
    leader_signature: str,
    trader: str,
    side: str,
    mint: str,
    reason: str,
    detected_at: float | None = None,
    detail: str = "",
) -> TradeView:
    """A recorded skip as a row of the trades pane (negative ids keep skips apart from intents)."""
    return TradeView(
        id=-int(skip_id),
        leader_signature=leader_signature,
        trader=trader,
        side=side,
        mint=mint,
        status="skipped",
        reason=f"{reason}: {detail}" if detail else reason,
        detected_at=detected_at,
        confirmed_at=None,
    )


# Skip reasons of a limit that stops every buy, not just this one (a cap, the reserve, the balance).
BUY_STOPPING_REASONS = (
    "daily spend cap",
    "daily loss cap",
    "max open positions",
    "exposure cap",
    "reserve",
    "insufficient balance",
    "balance unknown",
)


class EngineState:
    """Mutable state shared by the workers, guarded by one lock; snapshot() copies it out."""

    def __init__(self, mode: str, max_trades: int = 500, max_logs: int = 300) -> None:
        self._lock = threading.Lock()
        self.mode = mode
        self.started_at = time.time()
        self.wallet: str | None = None
        self.sol_balance: int | None = None
        self.paused = False
        self.kill_switch = ""
        self.workers: dict[str, WorkerView] = {}
        self.traders: dict[str, TraderView] = {}
        self.trades: dict[int, TradeView] = {}
        self._trade_order: deque[int] = deque()
        self.max_trades = max_trades
        self.positions: dict[str, PositionView] = {}
        self.lots: dict[int, LotView] = {}
        self.health = HealthView()
        self.logs: deque[LogLine] = deque(maxlen=max_logs)
        self.monitored_wallets = 0
        self.subscriptions = 0
        self.in_flight = 0
        self.counters: dict[str, int] = {}
        self.chain_id = ""
        self.chain_label = ""
        self.books_chain = ""
        self.pause = ""
        self.untracked: dict[str, int] = {}
        self.traders_file = ""
        self.traders_digest = ""
        self.today = ""
        self.spent_today_lamports = 0
        self.realized_pnl_today_lamports = 0
        self.buys_stopped = ""
        self.tokens: dict[str, TokenView] = {}  # what the cache worker read of each mint's metadata
        self._buy_stop_at = 0.0  # detection time of the buy that set or cleared buys_stopped
        self.queue_depth_fn: Any = None  # set by the supervisor: () -> dict[str, int]
        self.latency = LatencyBook()  # the analyzer, trade lifecycle and admission report into it

    # -- writers ------------------------------------------------------------------------
    def set_worker(self, name: str, **changes: Any) -> WorkerView:
        with self._lock:
            view = self.workers.get(name) or WorkerView(name)
            view = replace(view, **changes)
            self.workers[name] = view
            return view

    def set_trader(self, view: TraderView) -> None:
        with self._lock:
            self.traders[view.name] = view

    def update_trader(self, name: str, **changes: Any) -> None:
        with self._lock:
            if name in self.traders:
                self.traders[name] = replace(self.traders[name], **changes)

    def remove_trader(self, name: str) -> None:
        with self._lock:
            self.traders.pop(name, None)

    def set_token(self, mint: str, view: TokenView) -> None:
        """A mint's name, read from its metadata: shown from now on, and on what is shown already."""
        with self._lock:
            self.tokens[mint] = view
            while len(self.tokens) > MAX_TOKENS:  # the oldest go first; the store keeps them all
                self.tokens.pop(next(iter(self.tokens)))
            for key, trade in self.trades.items():
                if trade.mint == mint:
                    self.trades[key] = named(trade, view)
            if mint in self.positions:
                self.positions[mint] = named(self.positions[mint], view)

    def token(self, mint: str) -> TokenView | None:
        with self._lock:
            return self.tokens.get(mint)

    def symbol(self, mint: str) -> str:
        """The mint's symbol, "" until (or unless) its metadata names it."""
        return getattr(self.token(mint), "symbol", "")

    def unnamed_mints(self) -> set[str]:
        """Mints shown (trades, positions, lots, untracked holdings) whose metadata is not read yet."""
        with self._lock:
            mints = {trade.mint for trade in self.trades.values()}
            mints.update(self.positions, self.untracked, (lot.mint for lot in self.lots.values()))
            return {mint for mint in mints if mint and mint not in self.tokens}

    def upsert_trade(self, view: TradeView) -> None:
        with self._lock:
            view = named(view, self.tokens.get(view.mint))
            if view.id not in self.trades:
                self._trade_order.append(view.id)
                while len(self._trade_order) > self.max_trades:
                    self.trades.pop(self._trade_order.popleft(), None)
            self.trades[view.id] = view
            at = view.detected_at if view.detected_at is not None else time.time()
            if view.side == "buy" and at >= self._buy_stop_at:
                # The header, /health and Telegram read why buys stop from here. By detection time, so an
                # older buy that fills late does not clear a newer stop.
                if view.status == "skipped" and view.reason.startswith(BUY_STOPPING_REASONS):
                    self.buys_stopped, self._buy_stop_at = view.reason, at
                elif view.status in ("queued", "sent", "executed"):
                    self.buys_stopped, self._buy_stop_at = "", at

    def set_position(self, view: PositionView | None, mint: str) -> None:
        with self._lock:
            if view is None or view.amount <= 0:
                self.positions.pop(mint, None)
            else:
                self.positions[mint] = named(view, self.tokens.get(mint))

    def set_lot(self, view: LotView) -> None:
        """Show a lot as the store has it now; a sold-out (closed) lot leaves the open lots."""
        with self._lock:
            if view.amount <= 0:
                self.lots.pop(view.id, None)
            else:
                self.lots[view.id] = view

    def open_lots(self) -> tuple[LotView, ...]:
        """The open lots, oldest first, without the cost of a whole snapshot (the exit runner asks often)."""
        with self._lock:
            return tuple(sorted(self.lots.values(), key=lambda lot: lot.id))

    def set_health(self, **changes: Any) -> None:
        with self._lock:
            self.health = replace(self.health, **changes)

    def set_daily(self, day: str, totals: dict[str, int]) -> None:
        """Today's spend and realised PnL as the store has them (after every fill, and at start)."""
        with self._lock:
            self.today = day
            self.spent_today_lamports = int(totals.get("spent_lamports") or 0)
            self.realized_pnl_today_lamports = int(totals.get("realized_pnl_lamports") or 0)

    def add_log(self, line: LogLine) -> None:
        with self._lock:
            self.logs.append(line)

    def bump(self, counter: str, by: int = 1) -> None:
        with self._lock:
            self.counters[counter] = self.counters.get(counter, 0) + by

    def set(self, **changes: Any) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(self, key, value)

    # -- reader ---------------------------------------------------------------------------
    def snapshot(self) -> EngineSnapshot:
        depth_fn = self.queue_depth_fn
        queues = depth_fn() if depth_fn else {}
        now = time.time()
        with self._lock:
            names = [n for n in WORKER_NAMES if n in self.workers or not self.workers]
            names += [n for n in self.workers if n not in WORKER_NAMES]
            workers = tuple(
                replace(self.workers.get(name) or WorkerView(name), inbox_depth=queues.get(name, 0))
                for name in names
            )
            trades = tuple(self.trades[i] for i in reversed(self._trade_order) if i in self.trades)
            return EngineSnapshot(
                mode=self.mode,
                wallet=self.wallet,
                sol_balance_lamports=self.sol_balance,
                paused=self.paused,
                kill_switch=self.kill_switch,
                started_at=self.started_at,
                taken_at=now,
                workers=workers,
                queues=dict(queues),
                traders=tuple(self.traders.values()),
                trades=trades,
                positions=tuple(self.positions.values()),
                health=self.health,
                logs=tuple(self.logs),
                monitored_wallets=self.monitored_wallets,
                subscriptions=self.subscriptions,
                in_flight=self.in_flight,
                counters=dict(self.counters),
                chain_id=self.chain_id,
                chain_label=self.chain_label,
                traders_file=self.traders_file,
                traders_digest=self.traders_digest,
                lots=tuple(self.lots[key] for key in sorted(self.lots)),
                books_chain=self.books_chain,
                pause=self.pause,
                untracked=dict(self.untracked),
                today=self.today,
                spent_today_lamports=self.spent_today_lamports,
                realized_pnl_today_lamports=self.realized_pnl_today_lamports,
                buys_stopped=self.buys_stopped,
                latency=self.latency.view(self.traders, now),
                tokens=held_tokens(self.tokens, self.positions, self.untracked, self.lots.values()),
            )
