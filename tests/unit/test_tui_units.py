"""Pure parts of the console: table diffing, the form parser, theme persistence, the event pump."""

from __future__ import annotations

import threading
import tomllib

from rich.text import Text

from engine.traders import TraderConfig
from themes import THEME_NAMES, THEMES, next_theme
from zapbot_tui.config_io import save_theme
from zapbot_tui.events import EngineEvents, EventPump
from zapbot_tui.format import duration, short_key, sol, token_amount
from zapbot_tui.panes.base import diff_rows
from zapbot_tui.screens.trader_form import build_trader

WALLET = "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"


def cells(*values: str) -> tuple[Text, ...]:
    return tuple(Text(v) for v in values)


def test_diff_rows_touches_only_what_changed() -> None:
    current = {"a": cells("1", "x"), "b": cells("2", "y"), "c": cells("3", "z")}
    wanted = [("d", cells("4", "w")), ("a", cells("1", "x")), ("b", cells("2", "Y"))]
    diff = diff_rows(current, wanted)
    assert diff.removed == ["c"]
    assert [key for key, _ in diff.added] == ["d"]
    assert diff.changed == [("b", 1, Text("Y"))]
    assert diff.order == ["d", "a", "b"]


def test_diff_rows_unchanged_is_empty() -> None:
    current = {"a": cells("1")}
    diff = diff_rows(current, [("a", cells("1"))])
    assert not diff.removed and not diff.added and not diff.changed


def test_build_trader_reports_each_bad_field() -> None:
    values = {
        "name": "alpha",
        "wallet": "not-an-address",
        "fixed_sol": "abc",
        "percent": "10",
        "min_sol": "0.01",
        "max_sol": "1",
        "slippage_bps": "3%",
        "priority_fee": "fast",
        "sizing": "fixed",
        "active": True,
        "copy_buys": True,
        "copy_sells": True,
    }
    trader, errors = build_trader(values)
    assert trader is None
    assert set(errors) == {"wallet", "fixed_sol", "slippage_bps", "priority_fee"}
    assert "not a valid Solana address" in errors["wallet"]


def test_build_trader_model_errors_and_success() -> None:
    values = {
        "name": "alpha",
        "wallet": WALLET,
        "fixed_sol": "0.2",
        "percent": "10",
        "min_sol": "2",
        "max_sol": "1",
        "slippage_bps": "300",
        "priority_fee": "auto",
        "sizing": "fixed",
        "active": True,
        "copy_buys": True,
        "copy_sells": False,
    }
    trader, errors = build_trader(values)
    assert trader is None and errors == {"min_sol": "minimum 2.0 SOL is above maximum 1.0 SOL"}
    values["min_sol"] = "0.5"
    trader, errors = build_trader(values)
    assert errors == {} and trader == TraderConfig(
        name="alpha", wallet=WALLET, fixed_sol=0.2, min_sol=0.5, copy_sells=False
    )


def test_build_trader_edit_keeps_other_settings() -> None:
    base = TraderConfig(name="alpha", wallet=WALLET, jito_tip_lamports=5000, buy_once=True)
    values = {
        "name": "alpha2",
        "wallet": WALLET,
        "fixed_sol": "0.3",
        "percent": "10",
        "min_sol": "0.01",
        "max_sol": "1",
        "slippage_bps": "300",
        "priority_fee": "1000",
        "sizing": "percent",
        "active": False,
        "copy_buys": True,
        "copy_sells": True,
    }
    trader, errors = build_trader(values, base)
    assert errors == {}
    assert trader is not None and trader.jito_tip_lamports == 5000 and trader.buy_once
    assert trader.priority_fee == 1000 and trader.sizing == "percent" and trader.name == "alpha2"


def test_save_theme_keeps_comments_and_settings(tmp_path) -> None:
    path = tmp_path / "zapbot.toml"
    path.write_text(
        '# my notes\nmode = "paper"\n\n[ui]\ntheme = "zapbot-dark"   # pick one\nrefresh_hz = 2.0\n'
        "\n[limits]\nmax_sol_per_trade = 0.5\n"
    )
    save_theme(path, "zapbot-light")
    text = path.read_text()
    assert "# my notes" in text and "# pick one" in text
    data = tomllib.loads(text)
    assert data == {
        "mode": "paper",
        "ui": {"theme": "zapbot-light", "refresh_hz": 2.0},
        "limits": {"max_sol_per_trade": 0.5},
    }


def test_save_theme_adds_table_or_creates_file(tmp_path) -> None:
    path = tmp_path / "zapbot.toml"
    save_theme(path, "zapbot-contrast")
    assert tomllib.loads(path.read_text()) == {"ui": {"theme": "zapbot-contrast"}}
    path.write_text('mode = "sim"\n[sim]\nseed = 3\n')
    save_theme(path, "zapbot-light")
    assert tomllib.loads(path.read_text()) == {
        "mode": "sim",
        "sim": {"seed": 3},
        "ui": {"theme": "zapbot-light"},
    }
    path.write_text("[ui]\nrefresh_hz = 5.0\n[sim]\nseed = 1\n")
    save_theme(path, "zapbot-dark")
    assert tomllib.loads(path.read_text())["ui"] == {"refresh_hz": 5.0, "theme": "zapbot-dark"}


def test_themes_registered_names_and_contrast_uses_ansi() -> None:
    assert THEME_NAMES == ("zapbot-dark", "zapbot-light", "zapbot-contrast")
    contrast = THEMES["zapbot-contrast"]
    assert contrast.ansi
    assert all(
        str(value).startswith("ansi_") for value in (contrast.primary, contrast.error, contrast.background)
    )
    assert next_theme("zapbot-contrast") == "zapbot-dark" and next_theme("nope") == "zapbot-dark"


def test_event_pump_posts_once_until_drained() -> None:
    posted: list[object] = []
    pump = EventPump(posted.append, keep=50)
    threads = [threading.Thread(target=lambda: [pump(i) for i in range(1000)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(posted) == 1 and isinstance(posted[0], EngineEvents)
    events = pump.drain()
    assert len(events) == 50 and pump.received == 4000 and pump.dropped == 3950
    pump("again")
    assert len(posted) == 2
    assert EngineEvents().can_replace(EngineEvents())


def test_formatting() -> None:
    assert short_key(WALLET) == "7xKX…gAsU"
    assert sol(1_500_000_000, 2) == "1.50" and sol(None) == "—"
    assert token_amount(1_234_567_000, 6) == "1234.57" and token_amount(5_000_000_000_000, 6) == "5.00M"
    assert duration(3725) == "1:02:05" and duration(90000) == "1d 01:00"


def test_trades_pane_reason_names_the_trigger() -> None:
    from zapbot_tui.panes.trades import why

    assert why("leader", "stale") == "stale" and why("leader", "") == ""
    assert why("take_profit", "") == "take profit"
    assert why("stop_loss", "retries used up") == "stop loss: retries used up"
    assert why("manual", "") == "manual"


def test_trader_details_show_the_copy_latency_in_people_units() -> None:
    from engine.latency import LatencyBook
    from engine.state import TraderView
    from zapbot_tui.screens.details import trader_lines

    trader = TraderConfig(name="alpha", wallet=WALLET)
    view = TraderView(name="alpha", wallet=WALLET, active=True, sizing="fixed 0.1 SOL", trades_copied=3)
    before = dict(trader_lines(trader, view, None))
    assert before["Detection lag"] == before["Detect → send"] == "— (nothing copied yet)"

    book = LatencyBook()
    now = 1_000_000.0
    for detection_lag_s, to_send_s in ((0.040, 0.010), (0.060, 0.012), (1.5, 0.014)):
        book.detected("alpha", now - detection_lag_s, now)
        book.sent(
            "alpha", detected_at=now, signal_at=now - detection_lag_s, sent_at=now + to_send_s, first=True
        )
    figures = book.view(["alpha"], now + 1).trader("alpha")
    shown = dict(trader_lines(trader, view, None, figures))
    # Medians 60 ms and 12 ms over the three copies; means 533 ms and 12 ms since start.
    assert shown["Detection lag"] == "60ms median of the last 3; 533ms mean of 3 since start"
    assert shown["Detect → send"] == "12ms median of the last 3; 12ms mean of 3 since start"
