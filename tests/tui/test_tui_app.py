"""Pilot tests: every console key and the add/edit/delete flows, driving the real Engine (paper mode, local)."""

from __future__ import annotations

import tomllib
from concurrent.futures import Future
from decimal import Decimal
from pathlib import Path

import pytest
from textual.widgets import Input, Label

from engine.commands import SellQuote
from engine.config import load_settings
from engine.facade import Engine
from engine.messages import TradeExecuted
from engine.traders import TraderConfig, save_traders
from zapbot_tui.app import ZapBotApp
from zapbot_tui.palette import ZapBotCommands
from zapbot_tui.panes.footer import KeyFooter
from zapbot_tui.screens.details import DetailsScreen
from zapbot_tui.screens.dialogs import ConfirmScreen, LiveConfirmScreen, SellConfirmScreen, SellScreen
from zapbot_tui.screens.help import HelpScreen
from zapbot_tui.screens.main import KEYS, MainScreen
from zapbot_tui.screens.trader_form import TraderFormScreen
from zapbot_tui.static import StaticEngine

ALPHA = "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"
BRAVO = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"
NEW_WALLET = "HN7cABqLq46Es1jh92dQQisAq662SmxELLLsHHe4YWrH"
SIZE = (120, 40)


@pytest.fixture
def paper_engine(zapbot_home: Path):
    """A real engine in paper mode against a closed local port: workers run and report, nothing trades."""
    save_traders(
        zapbot_home / "traders.toml",
        [TraderConfig(name="alpha", wallet=ALPHA), TraderConfig(name="bravo", wallet=BRAVO, active=False)],
    )
    settings = load_settings()
    settings.mode = "paper"
    settings.rpc.urls = ["http://127.0.0.1:9"]
    settings.http.enabled = False
    settings.engine.decode_processes = 0
    settings.engine.shutdown_deadline_s = 3.0
    engine = Engine(settings, http=False)
    yield engine
    if engine.started:
        engine.stop()


def traders_file(home: Path) -> dict[str, dict]:
    data = tomllib.loads((home / "traders.toml").read_text())
    return {entry["name"]: entry for entry in data.get("traders", [])}


async def until(pilot, condition, rounds: int = 200) -> bool:
    """Let the app run until condition() holds (bounded by rounds, not by a clock)."""
    for _ in range(rounds):
        if condition():
            return True
        await pilot.pause(0.02)
    return condition()


async def started(pilot) -> MainScreen:
    app = pilot.app
    assert await until(pilot, lambda: app.phase == "running" and app.main.snapshot is not None)
    app.main.refresh_view()
    await pilot.pause()
    return app.main


def select_trader(main: MainScreen, name: str) -> None:
    table = main.panes["traders"].table
    table.move_cursor(row=table.get_row_index(name))


@pytest.mark.slow
async def test_start_and_stop_copying_persist(paper_engine, zapbot_home) -> None:
    app = ZapBotApp(paper_engine)
    async with app.run_test(size=SIZE) as pilot:
        main = await started(pilot)
        select_trader(main, "alpha")
        await pilot.press("x")
        assert paper_engine.traders.get("alpha").active is False
        assert traders_file(zapbot_home)["alpha"]["active"] is False
        await pilot.press("s")
        assert paper_engine.traders.get("alpha").active is True
        assert traders_file(zapbot_home)["alpha"]["active"] is True
        await pilot.pause()
        assert main.panes["traders"].table.get_cell("alpha", "active").plain == "on"


@pytest.mark.slow
async def test_pause_shows_badge_and_resumes(paper_engine) -> None:
    app = ZapBotApp(paper_engine)
    async with app.run_test(size=SIZE) as pilot:
        main = await started(pilot)
        await pilot.press("p")
        assert paper_engine.paused and paper_engine.pause_mode == "buys"
        assert await until(pilot, lambda: "BUYS PAUSED" in main.header.badges)
        await pilot.press("p")
        assert not paper_engine.paused
        assert await until(pilot, lambda: "BUYS PAUSED" not in main.header.badges)
        await pilot.press("P")
        assert paper_engine.pause_mode == "all"
        assert await until(pilot, lambda: "ALL PAUSED" in main.header.badges)
        await pilot.press("p")
        assert not paper_engine.paused


@pytest.mark.slow
async def test_add_trader_with_validation_errors(paper_engine, zapbot_home) -> None:
    app = ZapBotApp(paper_engine, cursor_blink=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("a")
        form = app.screen
        assert isinstance(form, TraderFormScreen)
        await pilot.press(*"carol")
        await pilot.press("tab")
        await pilot.press(*"notawallet")
        await pilot.pause()
        # Inline: the error shows as it is typed, before any save.
        assert "not a valid Solana address" in str(form.query_one("#e-wallet", Label).content)
        assert str(form.query_one("#e-fixed_sol", Label).content) == ""  # untouched fields stay quiet
        form.query_one("#f-fixed_sol", Input).value = "lots"
        await pilot.press("ctrl+s")
        assert app.screen is form
        assert "not a valid Solana address" in str(form.query_one("#e-wallet", Label).content)
        assert "number" in str(form.query_one("#e-fixed_sol", Label).content)
        assert paper_engine.traders.get("carol") is None

        form.query_one("#f-wallet", Input).value = ALPHA  # already followed by alpha
        form.query_one("#f-fixed_sol", Input).value = "0.25"
        await pilot.press("ctrl+s")
        assert app.screen is form and "already followed" in str(form.query_one("#e-wallet", Label).content)

        form.query_one("#f-wallet", Input).value = NEW_WALLET
        form.query_one("#f-min_sol", Input).value = "5"
        await pilot.press("ctrl+s")
        assert app.screen is form
        assert str(form.query_one("#e-min_sol", Label).content) == "minimum 5.0 SOL is above maximum 1.0 SOL"
        form.query_one("#f-fixed_sol", Input).value = "0"
        await pilot.pause()
        assert str(form.query_one("#e-fixed_sol", Label).content) == "must be more than 0 SOL"
        form.query_one("#f-fixed_sol", Input).value = "0.25"

        form.query_one("#f-min_sol", Input).value = "0.01"
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, MainScreen)
        saved = traders_file(zapbot_home)["carol"]
        assert saved["wallet"] == NEW_WALLET and saved["fixed_sol"] == 0.25
        await pilot.pause()
        assert app.main.panes["traders"].table.get_row_index("carol") >= 0


@pytest.mark.slow
async def test_edit_trader_exit_rules(paper_engine, zapbot_home) -> None:
    app = ZapBotApp(paper_engine, cursor_blink=False)
    async with app.run_test(size=SIZE) as pilot:
        main = await started(pilot)
        select_trader(main, "bravo")
        await pilot.press("e")
        form = app.screen
        assert isinstance(form, TraderFormScreen)
        assert form.query_one("#f-stop_loss_pct", Input).value == ""  # no override: [exits] applies
        form.query_one("#f-stop_loss_pct", Input).value = "150"
        form.query_one("#f-take_profit_levels", Input).value = "50:50,oops"
        form.query_one("#f-max_hold_minutes", Input).value = "soon"
        await pilot.press("ctrl+s")
        assert app.screen is form
        assert "GAIN:SHARE" in str(form.query_one("#e-take_profit_levels", Label).content)
        assert "number" in str(form.query_one("#e-max_hold_minutes", Label).content)
        form.query_one("#f-take_profit_levels", Input).value = "100:100,50:50,50:20"
        form.query_one("#f-max_hold_minutes", Input).value = "30"
        await pilot.press("ctrl+s")
        assert app.screen is form
        assert "100" in str(form.query_one("#e-stop_loss_pct", Label).content)  # below 100 %
        assert "twice" in str(form.query_one("#e-take_profit_levels", Label).content)
        form.query_one("#f-stop_loss_pct", Input).value = "20"
        form.query_one("#f-take_profit_levels", Input).value = "50:50,100:100"
        form.query_one("#f-trailing_stop_pct", Input).value = "0"  # off for this trader
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, MainScreen)
        saved = traders_file(zapbot_home)["bravo"]
        assert saved["stop_loss_pct"] == 20 and saved["max_hold_minutes"] == 30
        assert saved["take_profit_levels"] == [[50, 50], [100, 100]] and saved["trailing_stop_pct"] == 0
        assert "take_profit_pct" not in saved  # left empty: the [exits] default
        assert paper_engine.traders.get("bravo").stop_loss_pct == 20


@pytest.mark.slow
async def test_add_form_escape_changes_nothing(paper_engine, zapbot_home) -> None:
    app = ZapBotApp(paper_engine)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("a", *"dave", "escape")
        assert isinstance(app.screen, MainScreen)
        assert set(traders_file(zapbot_home)) == {"alpha", "bravo"}


@pytest.mark.slow
async def test_edit_trader(paper_engine, zapbot_home) -> None:
    app = ZapBotApp(paper_engine)
    async with app.run_test(size=SIZE) as pilot:
        main = await started(pilot)
        select_trader(main, "bravo")
        await pilot.press("e")
        form = app.screen
        assert isinstance(form, TraderFormScreen)
        assert form.query_one("#f-wallet", Input).value == BRAVO
        form.query_one("#f-slippage_bps", Input).value = "9999"
        await pilot.press("ctrl+s")
        assert app.screen is form and "5000" in str(form.query_one("#e-slippage_bps", Label).content)
        form.query_one("#f-slippage_bps", Input).value = "150"
        form.query_one("#f-name", Input).value = "bravo2"
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, MainScreen)
        saved = traders_file(zapbot_home)
        assert "bravo" not in saved and saved["bravo2"]["slippage_bps"] == 150
        assert paper_engine.traders.get("bravo2").wallet == BRAVO


@pytest.mark.slow
async def test_delete_asks_first(paper_engine, zapbot_home) -> None:
    app = ZapBotApp(paper_engine)
    async with app.run_test(size=SIZE) as pilot:
        main = await started(pilot)
        select_trader(main, "alpha")
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert "alpha" in traders_file(zapbot_home)
        await pilot.press("d")
        await pilot.press("y")
        assert "alpha" not in traders_file(zapbot_home)
        assert paper_engine.traders.get("alpha") is None
        await pilot.pause()
        assert main.panes["traders"].table.row_count == 1


@pytest.mark.slow
async def test_enter_details_filter_tabs_log_help(paper_engine) -> None:
    app = ZapBotApp(paper_engine)
    async with app.run_test(size=SIZE) as pilot:
        main = await started(pilot)
        select_trader(main, "bravo")
        await pilot.press("enter")
        assert isinstance(app.screen, DetailsScreen) and app.screen.title_text == "Trader bravo"
        await pilot.press("escape")

        await pilot.press("slash")
        await pilot.press(*"alp", "enter")
        table = main.panes["traders"].table
        assert table.row_count == 1 and main.panes["traders"].filter_text == "alp"
        await pilot.press("slash")
        app.screen.query_one(Input).value = ""
        await pilot.press("enter")
        assert table.row_count == 2

        assert main.current == "traders"
        await pilot.press("tab")
        assert main.current == "trades" and main.panes["trades"].table.has_focus
        await pilot.press("tab", "tab", "tab")
        assert main.current == "queues"
        await pilot.press("shift+tab")
        assert main.current == "workers"

        log = main.panes["log"]
        await pilot.press("l")
        assert not log.display
        await pilot.press("l")
        assert log.display

        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        shown = dict(app.screen.keys)
        # Every key is listed (the six pane keys as one "1-6" row), with End/G and the palette.
        for key, action, _, _, what in KEYS:
            assert action.startswith("show_pane") or what in shown.values(), key
        assert {"1-6", "End / G", "ctrl+p"} <= set(shown)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


@pytest.mark.slow
async def test_theme_key_cycles_and_is_remembered(paper_engine, zapbot_home) -> None:
    config = zapbot_home / "zapbot.toml"
    config.write_text('# operator notes\n[ui]\ntheme = "zapbot-dark"\n')
    app = ZapBotApp(paper_engine)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("t")
        assert app.theme == "zapbot-light"
        assert tomllib.loads(config.read_text())["ui"]["theme"] == "zapbot-light"
        await pilot.press("t")
        assert app.theme == "zapbot-contrast"
        assert config.read_text().startswith("# operator notes")


@pytest.mark.slow
async def test_quit_stops_engine_gracefully(paper_engine) -> None:
    app = ZapBotApp(paper_engine)
    phases: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        header = app.main.header
        original = header.refresh_from

        def recording(snapshot, **kwargs):  # type: ignore[no-untyped-def]
            phases.append(kwargs.get("phase", ""))
            original(snapshot, **kwargs)
            if kwargs.get("phase") == "stopping":
                phases.append("badge:" + ",".join(header.badges))

        header.refresh_from = recording  # type: ignore[method-assign]
        await pilot.press("q")
        await until(pilot, lambda: not paper_engine.started)
    assert "stopping" in phases and "badge:STOPPING…" in phases
    assert app.return_code == 0 and not paper_engine.started


@pytest.mark.slow
async def test_quit_asks_when_trades_in_flight(paper_engine) -> None:
    app = ZapBotApp(paper_engine)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        paper_engine.state.set(in_flight=2)
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen) and "2 trade" in app.screen.message
        await pilot.press("n")
        assert app.phase == "running" and paper_engine.started
        await pilot.press("q", "y")
        await until(pilot, lambda: not paper_engine.started)
    assert not paper_engine.started and app.return_code == 0


@pytest.mark.slow
async def test_palette_offers_every_key_and_runs_it(paper_engine) -> None:
    app = ZapBotApp(paper_engine)
    async with app.run_test(size=SIZE) as pilot:
        main = await started(pilot)
        assert {action for _, _, action in main.command_list()} == {action for _, action, *_ in KEYS}
        assert ZapBotCommands in app.COMMANDS
        await pilot.press("ctrl+p")
        await pilot.press(*"Pause / resume")
        await until(pilot, lambda: False, rounds=10)
        await pilot.press("enter")
        assert await until(pilot, lambda: paper_engine.paused)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_footer_shows_every_key(size) -> None:
    app = ZapBotApp(StaticEngine(), cursor_blink=False, persist_theme=False)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        footer = app.main.query_one(KeyFooter)
        shown = set(footer.shown_keys())
        wanted = {key for key, _, word, _, _ in KEYS if word}
        assert wanted <= shown
        for key_widget in footer.query("FooterKey"):
            assert key_widget.region.right <= size[0]


@pytest.mark.slow
async def test_sell_modal_asks_percent() -> None:
    calls: list[tuple[str, float]] = []

    class Seller(StaticEngine):
        def quote_sell(self, mint: str, percent: float) -> SellQuote:
            return SellQuote(mint, 1_230_000 * 10**9, 9, 52_000_000, 50_000_000, Decimal("0.8"))

        def sell_position(self, mint: str, percent: float) -> Future:
            calls.append((mint, percent))
            future: Future = Future()
            future.set_result(7)
            return future

    engine = Seller()
    app = ZapBotApp(engine, cursor_blink=False, persist_theme=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.main.focus_pane("positions")
        await pilot.press("enter")
        assert isinstance(app.screen, SellScreen)
        field = app.screen.query_one(Input)
        field.value = "150"
        await pilot.press("enter")
        assert isinstance(app.screen, SellScreen) and not calls
        field.value = "25"
        await pilot.press("enter")
        # The quote comes first; nothing is sold before the operator confirms it.
        assert await until(pilot, lambda: isinstance(app.screen, SellConfirmScreen) and app.screen.quote_text)
        assert app.screen.quote_text == (
            "1.23M POPCAT → about 0.0520 SOL (at least 0.0500 SOL), price impact 0.80%"
        )
        assert not calls
        await pilot.press("y")
        assert isinstance(app.screen, MainScreen)
        mint = app.main.panes["positions"].selected_key()
        assert calls == [(mint, 25.0)]
        # Its fill is said in words once the executor reports it.
        app.pump(TradeExecuted(7, "manual", "sell", mint, "sig", 1_230_000 * 10**9, 52_000_000, 5000))
        assert await until(pilot, lambda: app.sell_messages == ["filled: 1.23M POPCAT for 0.052 SOL"])


@pytest.mark.slow
async def test_live_mode_needs_typed_confirmation() -> None:
    settings = load_settings(use_environment=False)
    settings.mode = "live"
    engine = StaticEngine(settings=settings)
    engine.started = False
    app = ZapBotApp(engine, cursor_blink=False, persist_theme=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, LiveConfirmScreen) and not engine.started
        field = app.screen.query_one(Input)
        field.value = "yes"
        await pilot.press("enter")
        assert isinstance(app.screen, LiveConfirmScreen) and not engine.started
        field.value = "LIVE"
        await pilot.press("enter")
        assert await until(pilot, lambda: app.phase == "running")
        assert engine.started


@pytest.mark.slow
async def test_palette_has_per_trader_and_per_position_commands_with_fuzzy_names() -> None:
    engine = StaticEngine()
    app = ZapBotApp(engine, refresh_hz=0.001, cursor_blink=False, persist_theme=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        names = {name for name, _, _ in app.main.palette_commands()}
        for trader in ("alpha", "bravo", "charlie"):
            for what in ("Start copying", "Stop copying", "Edit trader", "Exits of", "Details of"):
                assert f"{what} {trader}" in names
        assert {"Sell BONK", "Sell WIF", "Sell POPCAT"} <= names
        # A fuzzy, abbreviated query finds the per-trader command, and running it acts on that trader.
        assert engine.traders.get("bravo").active
        await pilot.press("ctrl+p")
        await pilot.press(*"stp cpy brav")
        await until(pilot, lambda: False, rounds=10)
        await pilot.press("enter")
        assert await until(pilot, lambda: not engine.traders.get("bravo").active)
        # "Exits of alpha" opens only the exits section of alpha's details.
        await pilot.press("ctrl+p")
        await pilot.press(*"exits of alpha")
        await until(pilot, lambda: False, rounds=10)
        await pilot.press("enter")
        assert await until(pilot, lambda: isinstance(app.screen, DetailsScreen))
        labels = [label for label, _ in app.screen.lines]
        assert labels[0] == "§Exits" and "Stop loss" in labels and "Size" not in labels
        await pilot.press("escape")
        # Enter on a worker shows its state history, restarts and its errors, in sections.
        app.main.focus_pane("workers")
        await pilot.press("enter")
        assert await until(pilot, lambda: isinstance(app.screen, DetailsScreen))
        labels = [label for label, _ in app.screen.lines]
        assert {"Restarts", "§State history", "§Errors and warnings"} <= set(labels)


@pytest.mark.slow
async def test_palette_sells_one_lot_of_a_position_held_for_two_leaders() -> None:
    from dataclasses import replace as copy_with

    from engine.state import LotView

    calls: list[tuple] = []

    class LotSeller(StaticEngine):
        def quote_sell(self, mint: str, percent: float, lot_id: int | None = None) -> SellQuote:
            calls.append(("quote", mint, percent, lot_id))
            return SellQuote(mint, 10**9, 9, 1_000_000, 900_000, Decimal("0.1"))

        def sell_position(self, mint: str, percent: float, lot_id: int | None = None) -> Future:
            calls.append(("sell", mint, percent, lot_id))
            future: Future = Future()
            future.set_result(8)
            return future

    engine = LotSeller()
    position = engine._snapshot.positions[0]
    lots = tuple(
        LotView(
            id=n,
            trader=name,
            leader=name,
            mint=position.mint,
            amount=position.amount // 2,
            bought_amount=position.amount // 2,
            cost_lamports=position.cost_lamports // 2,
            decimals=position.decimals,
        )
        for n, name in ((1, "alpha"), (2, "bravo"))
    )
    engine._snapshot = copy_with(engine._snapshot, lots=lots)
    app = ZapBotApp(engine, refresh_hz=0.001, cursor_blink=False, persist_theme=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        commands = {name: run for name, _, run in app.main.palette_commands()}
        label = position.symbol
        assert {f"Sell {label} lot #1 (alpha)", f"Sell {label} lot #2 (bravo)"} <= set(commands)
        commands[f"Sell {label} lot #2 (bravo)"]()
        assert await until(pilot, lambda: isinstance(app.screen, SellScreen))
        assert "lot #2 (bravo)" in app.screen.title_text
        await pilot.press("enter")  # 100 % of that lot
        assert await until(pilot, lambda: isinstance(app.screen, SellConfirmScreen) and app.screen.quote_text)
        await pilot.press("y")
        assert await until(pilot, lambda: ("sell", position.mint, 100.0, 2) in calls)
        assert ("quote", position.mint, 100.0, 2) in calls
