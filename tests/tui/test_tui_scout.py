"""The Scout screen: an SVG snapshot at 120x40 with its charts (a fixed history), and Pilot runs against the
local cluster's generated history: S opens it, enter scouts, the figures match the cluster, a adds the trader."""

from __future__ import annotations

import pytest

from engine.constants import WSOL_MINT
from engine.scout.history import History
from engine.scout.model import ScoutedTransaction, WalletSwap
from engine.scout.summary import analyse
from engine.sim import SimCluster, SimConfig
from engine.traders import TraderConfig
from tests.helpers.waiting import WaitTimeout, async_wait_until
from zapbot_tui.app import ZapBotApp
from zapbot_tui.screens.scout import ScoutScreen, hold_histogram
from zapbot_tui.static import StaticEngine

SOL = 1_000_000_000
WALLET = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"
MINTS = [
    "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU",
    "DezXAZ8z7PnrnRJjz3wXBoRgixCa6xjnB7YaB1pPB263",
    "EKpQGSJtjMFqKZ9KQanSqYXRcF8fBopzLHYxdM65zcjm",
]
START = 1_790_000_000  # unix seconds
NOT_FOLLOWED = "FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF"


def fixed_history() -> History:
    """Twenty-four round trips over three tokens whose prices drift: holds from seconds to hours, wins and
    losses (lamports per token base unit start at 1,000)."""
    txs = []
    t = START
    prices = {mint: 1_000 for mint in MINTS}
    for index in range(24):
        mint = MINTS[index % 3]
        cost = (2 + index % 5) * SOL // 10
        hold_s = [5, 40, 300, 1800, 7200, 20_000, 900, 2400][index % 8]
        change = [30, -10, 55, -25, 80, 12, -5, 20][index % 8]
        tokens = cost // prices[mint]
        sold_at = prices[mint] * (100 + change) // 100
        for side, when, quote in (("buy", t, cost), ("sell", t + hold_s, tokens * sold_at)):
            signature = f"{index:02d}{side}".ljust(64, "1")
            venue = "pump_amm" if index % 4 else "raydium_cpmm"
            router = "jupiter" if index % 3 == 0 else None
            swap = WalletSwap(
                signature, when, when, side, mint, tokens, 6, WSOL_MINT, quote, venue, router, 5_000
            )
            txs.append(ScoutedTransaction(signature, when, when, False, 5_000, (swap,)))
        prices[mint] = sold_at
        t += hold_s + 1_900
    txs.sort(key=lambda tx: tx.block_time)
    return History(WALLET, transactions=txs, signatures=len(txs), fetched=len(txs))


def test_hold_histogram_buckets():
    assert hold_histogram([0, 9_999, 10_000, 59_999, 3_600_000, 4 * 3_600_000, 10**9]) == [
        ("<10s", 2),
        ("10-60s", 2),
        ("1-10m", 0),
        ("10-60m", 0),
        ("1-4h", 1),
        (">4h", 2),
    ]


@pytest.mark.slow
def test_scout_screen_snapshot(snap_compare):
    engine = StaticEngine()
    trader = TraderConfig(name="scout", wallet=WALLET)
    outcome = analyse(
        fixed_history(), trader, engine_limits(), delay_ms=1000, days=3, allow_unknown_venue=True
    )
    app = ZapBotApp(engine, refresh_hz=0.001, cursor_blink=False, persist_theme=False)

    async def open_scout(pilot):
        await app.push_screen(ScoutScreen(engine, WALLET, outcome=outcome))
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 40), run_before=open_scout)


def engine_limits():
    from engine.config import LimitsSettings

    return LimitsSettings()


@pytest.fixture(scope="module")
def history_cluster():
    cluster = SimCluster(SimConfig(rpc_port=0, ws_port=0, swap_port=0, slot_ms=100, history_days=2)).start()
    try:
        yield cluster
    finally:
        cluster.stop()


async def until(pilot, condition) -> bool:
    """Let the app run until condition() holds (the scout runs in a thread and reports by messages)."""
    await pilot.pause()
    try:
        await async_wait_until(condition, timeout=60)
    except WaitTimeout:
        return False
    await pilot.pause()
    return True


@pytest.mark.slow
async def test_scout_screen_scouts_and_adds_the_trader(history_cluster, zapbot_home):
    engine = StaticEngine()
    app = ZapBotApp(engine, refresh_hz=0.001, cursor_blink=False, persist_theme=False)
    patient = history_cluster.history.wallets["patient"]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("S")
        assert await until(pilot, lambda: isinstance(app.screen, ScoutScreen))
        screen = app.screen
        screen.rpc_urls = [history_cluster.rpc_url]
        await pilot.press("a")  # typed into the wallet field, not the add key
        assert engine.traders.by_wallet(patient) is None
        screen.query_one("#f-wallet").value = patient
        screen.query_one("#f-sol").value = "0.25"
        screen.query_one("#f-wallet").focus()
        await pilot.press("enter")
        assert await until(pilot, lambda: screen.outcome is not None and not screen.running)
        report = screen.outcome.report
        landed = [t for t in history_cluster.landed_trades() if t.wallet == patient]
        assert report.swaps == len(landed) == history_cluster.history.swaps["patient"]
        assert report.realised_pnl_lamports > 0 and not report.too_fast_to_copy
        assert screen.progress[0] == "transactions" and screen.progress[1] == screen.progress[2]
        assert screen.outcome.result.copies and screen.outcome.trader.fixed_sol == 0.25
        await pilot.press("a")
        added = engine.traders.by_wallet(patient)
        assert added is not None and added.fixed_sol == 0.25 and added.sizing == "fixed"
        assert added.name.startswith("scout-")
        await pilot.press("a")  # already followed: nothing added twice
        assert len([t for t in engine.traders.all() if t.wallet == patient]) == 1
        await pilot.press("escape")
        assert await until(pilot, lambda: app.screen is app.main)


class CancelAfterFive(ScoutScreen):
    """Presses esc (cancel) once five transactions are read, from the progress message itself."""

    cancelled_at: int | None = None

    def on_scout_progress(self, event) -> None:
        super().on_scout_progress(event)
        if event.phase == "transactions" and event.done >= 5 and self.cancelled_at is None:
            self.cancelled_at = event.done
            self.action_back()  # esc while running: cancel, stay on the screen


@pytest.mark.slow
async def test_scout_screen_cancel_keeps_a_partial_history(history_cluster, zapbot_home):
    engine = StaticEngine()
    app = ZapBotApp(engine, refresh_hz=0.001, cursor_blink=False, persist_theme=False)
    sniper = history_cluster.history.wallets["sniper"]
    async with app.run_test(size=(120, 40)) as pilot:
        screen = CancelAfterFive(engine, sniper, rpc_urls=[history_cluster.rpc_url])
        await app.push_screen(screen)
        screen.query_one("#f-wallet").focus()
        await pilot.press("enter")
        assert await until(pilot, lambda: screen.outcome is not None and not screen.running)
        assert app.screen is screen
        history = screen.outcome.history
        assert screen.cancelled_at is not None and history.cancelled
        assert len(history.transactions) < history_cluster.history.swaps["sniper"]


@pytest.mark.slow
async def test_scout_screen_in_sim_mode_reads_the_engines_cluster_within_its_budget(zapbot_home):
    from engine.chain.rate_limit import totals_for
    from engine.config import load_settings
    from engine.facade import Engine

    settings = load_settings()
    settings.mode = "sim"
    settings.sim.history_days = 0.5
    settings.sim.trade_rate = 0.0
    settings.http.enabled = False
    settings.engine.decode_processes = 0
    settings.engine.shutdown_deadline_s = 3.0
    engine = Engine(settings, http=False)
    app = ZapBotApp(engine, refresh_hz=0.001, cursor_blink=False, persist_theme=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            assert await until(pilot, lambda: app.phase == "running")
            loser = engine.cluster.history.wallets["loser"]
            calls_before = totals_for(engine.state).calls
            await pilot.press("S")
            assert await until(pilot, lambda: isinstance(app.screen, ScoutScreen))
            screen = app.screen
            screen.query_one("#f-wallet").value = loser
            screen.query_one("#f-wallet").focus()
            await pilot.press("enter")
            assert await until(pilot, lambda: screen.outcome is not None and not screen.running)
            outcome = screen.outcome
            assert outcome.report.swaps == engine.cluster.history.swaps["loser"] > 0
            assert outcome.followed == "loser"  # the embedded cluster's traders are followed
            # The scout's requests went through the engine's own budget (its totals count them).
            assert totals_for(engine.state).calls - calls_before >= outcome.history.fetched > 0
            await pilot.press("a")
            assert [t.name for t in engine.traders.all() if t.wallet == loser] == ["loser"]
            await pilot.press("escape")
            assert await until(pilot, lambda: app.screen is app.main)
    finally:
        if engine.started:
            engine.stop()


@pytest.mark.slow
async def test_scout_screen_opens_on_the_selected_trader_and_explains_bad_input():
    engine = StaticEngine()
    app = ZapBotApp(engine, refresh_hz=0.001, cursor_blink=False, persist_theme=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        selected = app.main.panes["traders"].selected_key()
        await pilot.press("S")
        assert await until(pilot, lambda: isinstance(app.screen, ScoutScreen))
        screen = app.screen
        assert screen.query_one("#f-wallet").value == engine.traders.get(selected).wallet
        screen.query_one("#f-wallet").value = "not-a-wallet"
        await pilot.press("enter")
        await pilot.pause()
        status = str(screen.query_one("#scout-status").render())
        assert "base58" in status or "address" in status, status
        assert not screen.running and screen.outcome is None
        screen.query_one("#f-wallet").value = NOT_FOLLOWED
        screen.query_one("#f-days").value = "0"
        await pilot.press("enter")
        await pilot.pause()
        assert "days must be above 0" in str(screen.query_one("#scout-status").render())
        await pilot.press("a")  # typed into the field: no outcome, nothing added
        assert engine.traders.by_wallet(NOT_FOLLOWED) is None
        await pilot.press("escape")
        assert await until(pilot, lambda: app.screen is app.main)
