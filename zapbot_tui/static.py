"""A fixed snapshot source with the facade's methods: deterministic screenshots, demos and pure-UI tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from engine.latency import LatencyView, TraderLatency
from engine.state import (
    WORKER_NAMES,
    EngineSnapshot,
    HealthView,
    LogLine,
    PositionView,
    TraderView,
    TradeView,
    WorkerView,
)
from engine.traders import TraderBook, TraderConfig

BASE_TIME = 1_700_000_000.0  # a fixed instant, so every age and clock in a screenshot is stable
SIM_WALLETS = (
    ("alpha", "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"),
    ("bravo", "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"),
    ("charlie", "HN7cABqLq46Es1jh92dQQisAq662SmxELLLsHHe4YWrH"),
)
MINTS = (
    ("BONK", "DezXAZ8z7PnrnRJjz3wXBoRgixCa6xjnB7YaB1pPB263", 5),
    ("WIF", "EKpQGSJtjMFqKZ9KQanSqYXRcF8fBopzLHYxdM65zcjm", 6),
    ("POPCAT", "7GCihgDB8fe6KNjn2MYtkzZcRjQy3t9GHdC8uHYmW2hr", 9),
)


def fixed_snapshot(*, paused: bool = False, mode: str = "sim", kill_switch: str = "") -> EngineSnapshot:
    """A busy-looking but fully fixed EngineSnapshot."""
    states = {"telegram": ("disabled", "no Telegram token"), "executor": ("busy", "1 in flight")}
    workers = tuple(
        WorkerView(
            name=name,
            state=states.get(name, ("ready", ""))[0],
            detail=states.get(name, ("", ""))[1],
            restarts=1 if name == "websocket" else 0,
            inbox_depth=index % 3,
            last_heartbeat_age_s=2.0 + index,
            messages_handled=100 * index,
        )
        for index, name in enumerate(WORKER_NAMES)
    )
    traders = tuple(
        TraderView(
            name=name,
            wallet=wallet,
            active=index != 2,
            sizing="0.1 SOL" if index else "10% [0.01-1]",
            last_trade_at=BASE_TIME - 30 * (index + 1),
            trades_copied=12 - 4 * index,
            pnl_lamports=(1, -1, 0)[index] * 123_456_789,
        )
        for index, (name, wallet) in enumerate(SIM_WALLETS)
    )
    statuses = ("executed", "executed", "skipped", "failed", "sent", "executed", "queued", "executed")
    reasons = {"skipped": "below min_leader_sol (0.02 < 0.05)", "failed": "slippage exceeded (6001)"}
    trades = []
    for index in range(24):
        status = statuses[index % len(statuses)]
        symbol, mint, decimals = MINTS[index % len(MINTS)]
        detected = BASE_TIME - 20 * index
        done = status in ("executed", "failed")
        trades.append(
            TradeView(
                id=1000 - index,
                leader_signature=f"{index}LeaderSig" + "x" * 70,
                trader=SIM_WALLETS[index % 3][0],
                side="buy" if index % 3 else "sell",
                mint=mint,
                status=status,
                reason=reasons.get(status, ""),
                signature=(f"{index}OurSig" + "y" * 74) if done else None,
                token_amount=(index + 1) * 1_234_567 * 10**decimals // 1000,
                quote_amount=(index + 1) * 25_000_000,
                token_decimals=decimals,
                detected_at=detected,
                queued_at=detected + 0.05,
                sent_at=detected + 0.2 if status != "queued" else None,
                confirmed_at=detected + 0.4 + index * 0.01 if status == "executed" else None,
                symbol=symbol,
            )
        )
    positions = tuple(
        PositionView(
            mint=mint,
            amount=(index + 2) * 10 ** (decimals + 5),
            cost_lamports=(index + 1) * 300_000_000,
            realized_pnl_lamports=(index - 1) * 10_000_000,
            unrealized_pnl_lamports=(1 - index) * 5_000_000,
            decimals=decimals,
            symbol=symbol,
            opened_at=BASE_TIME - 600,
        )
        for index, (symbol, mint, decimals) in enumerate(MINTS)
    )
    logs = tuple(
        LogLine(BASE_TIME - 60 + index * 5, level, worker, message)
        for index, (level, worker, message) in enumerate(
            (
                ("info", "engine", "engine started in sim mode"),
                ("info", "monitor", "following 3 wallets"),
                ("warning", "websocket", "reconnected after 1.2s; backfilling 3 wallets"),
                ("info", "executor", "bought BONK for 0.025 SOL in 412ms"),
                ("error", "executor", "WIF buy failed: slippage exceeded (6001)"),
            )
        )
    )
    return EngineSnapshot(
        mode=mode,
        wallet="5ZWj7a1f8tWkjBESHKgrLmXshuXxqeY9SYcfbshpAqPG",
        sol_balance_lamports=99_812_345_678,
        paused=paused,
        kill_switch=kill_switch,
        started_at=BASE_TIME - 312,
        taken_at=BASE_TIME,
        workers=workers,
        queues={name: view.inbox_depth for name, view in zip(WORKER_NAMES, workers)},
        traders=traders,
        trades=tuple(trades),
        positions=positions,
        health=HealthView(rpc_ok=True, ws_ok=True, slot=281_234_567, rpc_calls=1234),
        logs=logs,
        monitored_wallets=2,
        subscriptions=2,
        in_flight=0,
        counters={"events": 42},
        chain_label="embedded",
        today=time.strftime("%Y-%m-%d", time.gmtime(BASE_TIME)),
        spent_today_lamports=2_350_000_000,
        realized_pnl_today_lamports=12_345_678,
        # charlie (not copied) has no figures: its Lag and Send show "—".
        latency=LatencyView(
            traders={"alpha": TraderLatency(0.42, 0.085, 12, 12), "bravo": TraderLatency(1.3, 0.21, 8, 8)}
        ),
    )


class StaticEngine:
    """Answers like the facade but never changes on its own; commands change the fixed snapshot."""

    def __init__(self, snapshot: EngineSnapshot | None = None, settings: Any = None) -> None:
        self._snapshot = snapshot or fixed_snapshot()
        self.settings = settings
        self.started = True
        self.paths = None
        self.traders = TraderBook(
            None,
            [TraderConfig(name=v.name, wallet=v.wallet, active=v.active) for v in self._snapshot.traders],
        )
        self.subscribers: list[Callable[[Any], None]] = []

    def start(self, *, wait_ready: float | None = None) -> None:
        self.started = True

    def stop(self, deadline_s: float | None = None) -> bool:
        self.started = False
        return True

    def snapshot(self) -> EngineSnapshot:
        return self._snapshot

    def subscribe(self, callback: Callable[[Any], None]) -> Callable[[], None]:
        self.subscribers.append(callback)
        return lambda: self.subscribers.remove(callback) if callback in self.subscribers else None

    @property
    def paused(self) -> bool:
        return self._snapshot.paused

    def pause_buys(self) -> bool:
        changed = self._snapshot.pause != "buys"
        self._snapshot = replace(self._snapshot, paused=True, pause="buys")
        return changed

    def pause_all(self) -> bool:
        changed = self._snapshot.pause != "all"
        self._snapshot = replace(self._snapshot, paused=True, pause="all")
        return changed

    def resume_all(self) -> bool:
        changed = self._snapshot.paused
        self._snapshot = replace(self._snapshot, paused=False, pause="")
        return changed

    def _set_active(self, name: str, active: bool) -> TraderConfig:
        trader = self.traders.set_active(name, active)
        views = tuple(replace(v, active=active) if v.name == name else v for v in self._snapshot.traders)
        self._snapshot = replace(self._snapshot, traders=views)
        return trader

    def start_copying(self, name: str) -> TraderConfig:
        return self._set_active(name, True)

    def stop_copying(self, name: str) -> TraderConfig:
        return self._set_active(name, False)

    def add_trader(self, trader: TraderConfig) -> TraderConfig:
        self.traders.add(trader)
        return trader

    def edit_trader(self, name: str, trader: TraderConfig) -> TraderConfig:
        self.traders.replace(name, trader)
        return trader

    def remove_trader(self, name: str) -> TraderConfig:
        return self.traders.remove(name)

    def sell_position(self, mint: str, percent: float) -> Any:
        raise RuntimeError("the static snapshot source does not trade")
