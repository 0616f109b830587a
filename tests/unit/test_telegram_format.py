"""Pure parts of the Telegram mirror: message splitting, the outgoing queue's drop policy, argument parsing, texts."""

from __future__ import annotations

import calendar
import time
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from solders.keypair import Keypair

from engine.messages import TradeExecuted, TradeFailed
from engine.state import EngineState, PositionView
from engine.telegram.formatting import (
    TradeContext,
    UsageError,
    daily_summary_text,
    parse_copy_args,
    parse_percent,
    parse_sell_args,
    parse_trades_args,
    redact,
    split_message,
    trade_executed_text,
    trade_failed_text,
)
from engine.telegram.notifier import ChatQueue, Outgoing
from engine.workers.telegram import _past_summary_time

MINT = str(Keypair().pubkey())
OTHER = str(Keypair().pubkey())


@given(st.text(alphabet=st.sampled_from("ab \n"), max_size=400), st.integers(min_value=1, max_value=50))
def test_split_message_keeps_every_character_within_the_limit(text: str, limit: int) -> None:
    parts = split_message(text, limit)
    assert all(0 < len(part) <= limit for part in parts) or parts == [text]
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")


def test_split_message_cuts_at_line_breaks() -> None:
    text = "\n".join(f"line {i:04d}" for i in range(2000))  # 9 chars + newline each
    parts = split_message(text)
    assert len(parts) == 5 and all(len(p) <= 4096 for p in parts)
    assert "\n".join(parts) == text
    assert all(p.startswith("line ") and p.endswith(tuple("0123456789")) for p in parts)
    assert split_message("short") == ["short"]
    assert split_message("x" * 4097) == ["x" * 4096, "x"]


def item(kind: str, silent: bool) -> Outgoing:
    return Outgoing(kind, silent, text=kind)


def test_a_full_queue_drops_the_oldest_silent_notification_and_never_one_that_is_on() -> None:
    queue = ChatQueue(maxsize=3)
    assert queue.put(item("on-1", False))
    assert queue.put(item("silent-1", True))
    assert queue.put(item("silent-2", True))
    assert not queue.put(item("on-2", False))  # accepted, but silent-1 made room
    assert queue.dropped == 1
    assert not queue.put(item("on-3", False))  # silent-2 goes too
    assert queue.put(item("on-4", False))  # nothing silent left: 'on' still gets in, past the bound
    assert not queue.put(item("silent-3", True))  # a new silent one is what gives way now
    assert queue.dropped == 3
    kinds = []
    while (next_item := queue.pop()) is not None:
        kinds.append(next_item.kind)
    assert kinds == ["on-1", "on-2", "on-3", "on-4"]


def test_copy_arguments() -> None:
    names = ["alice", "Big Whale"]
    assert parse_copy_args(["alice", "off"], names) == ("alice", False)
    assert parse_copy_args(["big", "whale", "ON"], names) == ("Big Whale", True)
    for bad in ([], ["alice"], ["alice", "maybe"]):
        with pytest.raises(UsageError, match="Usage: /copy"):
            parse_copy_args(bad, names)
    with pytest.raises(UsageError, match="No trader named 'carol'"):
        parse_copy_args(["carol", "on"], names)


def test_trades_and_percent_arguments() -> None:
    assert parse_trades_args([]) == 10 and parse_trades_args(["50"]) == 50
    for bad in (["0"], ["51"], ["x"], ["1", "2"]):
        with pytest.raises(UsageError):
            parse_trades_args(bad)
    assert parse_percent("50%") == 50.0 and parse_percent("100") == 100.0
    for bad in ("0", "-5", "100.1", "nan", "inf", "half"):
        with pytest.raises(UsageError):
            parse_percent(bad)


def test_sell_arguments_need_an_open_position() -> None:
    held = [PositionView(mint=MINT, amount=10, cost_lamports=1, symbol="ZAP")]
    assert parse_sell_args([MINT, "25"], held) == (MINT, 25.0)
    assert parse_sell_args(["zap", "100"], held) == (MINT, 100.0)
    with pytest.raises(UsageError, match="No open position"):
        parse_sell_args([OTHER, "25"], held)
    with pytest.raises(UsageError, match="not a mint address"):
        parse_sell_args(["bonk", "25"], held)
    with pytest.raises(UsageError, match="Usage: /sell"):
        parse_sell_args([MINT], held)


def test_trade_texts() -> None:
    event = TradeExecuted(
        intent_id=1,
        trader="alice",
        side="buy",
        mint=MINT,
        signature="SIG",
        token_amount=1_500_000_000,
        quote_amount=300_000_000,
        fee_lamports=5000,
    )
    text = trade_executed_text(event, TradeContext(decimals=6, symbol="ZAP"), "https://x/tx/")
    assert text.splitlines()[0] == f"✅ BUY ZAP ({MINT[:4]}…{MINT[-4:]}) copied from alice"
    assert "Size: 1,500 for 0.3000 SOL" in text and "Price: 0.0002 SOL" in text and "https://x/tx/SIG" in text
    assert "PnL" not in text  # a buy realises nothing
    unknown = trade_executed_text(event, TradeContext(), "https://x/tx/")
    assert "1,500,000,000 units" in unknown and "Price" not in unknown
    failed = trade_failed_text(TradeFailed(1, "bob", "sell", MINT, "blockhash expired"), TradeContext(), "e/")
    assert "failed" in failed and "Reason: blockhash expired" in failed and "e/" not in failed
    # Exits and manual sells say what made them; a leader copy says whom it copied.
    exit_sell = replace(event, side="sell", trigger="stop_loss")
    first = trade_executed_text(exit_sell, TradeContext(decimals=6, symbol="ZAP"), "https://x/tx/")
    assert first.splitlines()[0] == f"✅ SELL ZAP ({MINT[:4]}…{MINT[-4:]}) by stop loss (alice's lot)"
    manual = trade_executed_text(replace(event, side="sell", trigger="manual"), TradeContext(), "e/")
    assert "sold by hand" in manual.splitlines()[0]
    failed_tp = TradeFailed(2, "bob", "sell", MINT, "retries used up", trigger="take_profit")
    assert "for bob (take profit) failed" in trade_failed_text(failed_tp, TradeContext(), "e/")


def test_daily_summary_counts_today() -> None:
    state = EngineState("sim")
    state.set(kill_switch="daily loss cap")
    text = daily_summary_text(
        time.strftime("%Y-%m-%d", time.gmtime()),
        {"spent_lamports": 2_000_000_000, "realized_pnl_lamports": -500_000_000},
        state.snapshot(),
    )
    assert "Spent: 2.0000 SOL" in text and "Realized PnL: -0.5000 SOL" in text
    assert "Kill switch: daily loss cap" in text


def test_summary_time_and_redaction() -> None:
    noon = calendar.timegm((2024, 5, 1, 12, 0, 0))
    assert _past_summary_time("11:59", noon) and _past_summary_time("12:00", noon)
    assert not _past_summary_time("12:01", noon)
    secret = "7234567893:AARedactMeRedactMeRedactMe_0123456789"
    assert secret not in redact(RuntimeError(f"The token `{secret}` was rejected by the server."))
