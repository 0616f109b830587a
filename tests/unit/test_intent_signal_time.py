"""An intent keeps its leader's time (block time, slot): written with the intent, added to an older database by
its migration, and read by the restart's stale check, so a signal's age survives a restart."""

from __future__ import annotations

import asyncio
import time

from engine.execution.recovery import reconcile, trade_from_row
from engine.store import Store
from engine.store.schema import MIGRATIONS, connect
from engine.traders import TraderBook, TraderConfig

WALLET = "OurWallet1111"
LEADER = "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"


def intent(store: Store, sig: str, *, side: str = "buy", signal_at: float | None, detected_at: float) -> dict:
    intent_id, _ = store.record_intent(
        leader_signature=sig,
        trader="alpha",
        wallet=WALLET,
        side=side,
        mint="Mint1",
        amount_in=1000,
        detected_at=detected_at,
        status="queued",
        leader=LEADER,
        signal_at=signal_at,
        leader_slot=4242 if signal_at is not None else None,
    )
    return store.get_intent(intent_id)


def test_the_intent_row_keeps_the_leader_time_and_slot():
    store = Store(":memory:")
    row = intent(store, "sig1", signal_at=1_700_000_000.0, detected_at=1_700_000_000.7)
    assert (row["signal_at"], row["leader_slot"]) == (1_700_000_000.0, 4242)
    assert trade_from_row(row, TraderBook(None, [])).signal_at == 1_700_000_000.0


def test_an_older_database_gets_the_columns_with_its_rows_kept(tmp_path):
    path = tmp_path / "old.db"
    conn = connect(path)
    for number, script in enumerate(MIGRATIONS[:5], start=1):
        for statement in script.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version={number}")
    conn.execute(
        "INSERT INTO intents (leader_signature, trader, wallet, side, mint, status, created_at, updated_at)"
        " VALUES ('old', 'alpha', ?, 'buy', 'Mint1', 'executed', 1.0, 1.0)",
        (WALLET,),
    )
    conn.close()
    store = Store(path)
    row = dict(store.conn.execute("SELECT * FROM intents WHERE leader_signature='old'").fetchone())
    assert row["signal_at"] is None and row["leader_slot"] is None and row["status"] == "executed"
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


class Recorder:
    """Stands in for Outcomes: what reconcile decided for each trade."""

    def __init__(self) -> None:
        self.skipped: list[tuple[str, str]] = []

    async def skip(self, job, reason: str, detail: str = "") -> None:
        self.skipped.append((job.leader_signature, reason))

    async def fail(self, job, reason: str, count_failure: bool = True) -> None:
        raise AssertionError(f"nothing here fails: {reason}")


def test_the_restart_measures_a_signal_age_from_the_stored_leader_time():
    store = Store(":memory:")
    now = time.time()
    # Detected a moment ago, but the leader's swap landed 30 s ago (a slow detection): stale at a 10 s limit.
    late = intent(store, "late", signal_at=now - 30, detected_at=now - 1)
    fresh = intent(store, "fresh", signal_at=now - 2, detected_at=now - 1)
    # No leader time stored (an intent from before the column): its detection time stands for it.
    legacy = intent(store, "legacy", signal_at=None, detected_at=now - 1)
    old_sell = intent(store, "sell", side="sell", signal_at=now - 30, detected_at=now - 1)
    taken = []
    outcomes = Recorder()
    traders = TraderBook(None, [TraderConfig(name="alpha", wallet=LEADER)])
    asyncio.run(
        reconcile(
            [late, fresh, legacy, old_sell],
            wallet=WALLET,
            paper=False,
            traders=traders,
            outcomes=outcomes,  # type: ignore[arg-type]
            take=taken.append,
            emit_log=lambda level, text: None,
            max_signal_age_s=10.0,
        )
    )
    assert outcomes.skipped == [("late", "stale")]
    assert [t.leader_signature for t in taken] == ["fresh", "legacy", "sell"]
    assert taken[0].signal_at == fresh["signal_at"]
