"""traders.toml shared by several writers and a running engine: locked read-modify-write, reload with the
changes it made, a file that does not parse, and how the engine applies a reload."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path
from typing import Any

import pytest
from solders.keypair import Keypair

from engine import commands
from engine import traders_file as traders_module
from engine.config import ConfigError
from engine.inbox import Inbox
from engine.messages import LogEvent, StartMonitoring, StopMonitoring
from engine.state import EngineState
from engine.traders import TraderBook, TraderConfig, TradersLocked, load_traders, traders_file_lock
from engine.workers.data import DataWorker

WALLETS = [str(Keypair.from_seed(bytes([i + 1]) * 32).pubkey()) for i in range(64)]

HAND_WRITTEN = f"""# kept by hand
[[traders]]
name = "alice"  # the good one
wallet = "{WALLETS[0]}"

[[traders]]
name = "bob"
wallet = "{WALLETS[1]}"
"""


def trader(name: str, index: int, **fields: Any) -> TraderConfig:
    return TraderConfig(name=name, wallet=WALLETS[index], **fields)


def test_a_change_rereads_the_file_and_keeps_another_writers_edit(tmp_path):
    path = tmp_path / "traders.toml"
    path.write_text(HAND_WRITTEN)
    engine_book, cli_book = TraderBook(path), TraderBook(path)
    cli_book.add(trader("carol", 2))
    # The engine's own write (an auto-pause, say) made before it reloaded keeps carol in the file...
    engine_book.set_active("bob", False)
    on_disk = {t.name: t for t in load_traders(path)}
    assert set(on_disk) == {"alice", "bob", "carol"} and not on_disk["bob"].active
    assert "# kept by hand" in path.read_text() and "# the good one" in path.read_text()
    # ...and leaves carol to the reload, which reports her as added so the engine subscribes her.
    assert engine_book.get("carol") is None and not engine_book.get("bob").active
    assert engine_book.changed_on_disk()
    change = engine_book.reload()
    assert [t.name for t in change.added] == ["carol"] and not change.removed and not change.changed
    assert not engine_book.changed_on_disk()
    assert not engine_book.reload()


def test_reload_reports_removed_and_changed_traders(tmp_path):
    path = tmp_path / "traders.toml"
    path.write_text(HAND_WRITTEN)
    book = TraderBook(path)
    path.write_text(HAND_WRITTEN.replace('name = "bob"\n', 'name = "bob"\nfixed_sol = 0.25\n').split("[[")[0])
    change = book.reload()
    assert [t.name for t in change.removed] == ["alice", "bob"]
    path.write_text(HAND_WRITTEN.replace('name = "bob"\n', 'name = "bob"\nfixed_sol = 0.25\n'))
    change = book.reload()
    assert {t.name for t in change.added} == {"alice", "bob"}
    path.write_text(HAND_WRITTEN)
    ((before, after),) = book.reload().changed
    assert (before.fixed_sol, after.fixed_sol) == (0.25, 0.1)


def test_our_own_write_is_not_a_change_to_reload(tmp_path):
    path = tmp_path / "traders.toml"
    path.write_text(HAND_WRITTEN)
    book = TraderBook(path)
    book.add(trader("carol", 2))
    book.set_active("alice", False)
    book.remove("bob")
    assert not book.changed_on_disk()
    assert [t.name for t in load_traders(path)] == ["alice", "carol"]


def test_a_file_that_does_not_parse_is_raised_once_and_the_traders_stay(tmp_path):
    path = tmp_path / "traders.toml"
    path.write_text(HAND_WRITTEN)
    book = TraderBook(path)
    book.watch()
    path.write_text(HAND_WRITTEN + "\n[[traders]\nname = \n")
    with pytest.raises(ConfigError, match="TOML syntax error"):
        book.reload()
    assert not book.changed_on_disk()  # that version was reported; nothing to read again
    assert [t.name for t in book.all()] == ["alice", "bob"]
    # Stopping a trader while the file is broken stops copying at once and is written once it parses.
    assert not book.set_active("alice", False).active
    assert not book.get("alice").active
    path.write_text(HAND_WRITTEN.replace('name = "bob"', 'name = "bob"\nfixed_sol = 0.5'))
    change = book.reload()
    assert [(b.name, a.fixed_sol) for b, a in change.changed] == [("bob", 0.5)]
    on_disk = {t.name: t for t in load_traders(path)}
    assert not on_disk["alice"].active and on_disk["bob"].fixed_sol == 0.5
    assert "# the good one" in path.read_text()


def test_a_cli_write_to_a_file_that_does_not_parse_is_refused(tmp_path):
    path = tmp_path / "traders.toml"
    path.write_text(HAND_WRITTEN)
    book = TraderBook(path)  # not watched: a CLI's book
    path.write_text("[[traders]\n")
    with pytest.raises(ConfigError, match="TOML syntax error"):
        book.set_active("alice", False)
    assert path.read_text() == "[[traders]\n"


def _add_many(path: str, start: int, count: int) -> None:
    book = TraderBook(Path(path))
    for index in range(start, start + count):
        book.add(trader(f"t{index}", index))


def test_two_threads_writing_never_lose_an_update(tmp_path):
    path = tmp_path / "traders.toml"
    threads = [threading.Thread(target=_add_many, args=(str(path), start, 16)) for start in (0, 16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(t.name for t in load_traders(path)) == sorted(f"t{i}" for i in range(32))


@pytest.mark.slow
def test_two_processes_writing_never_lose_an_update(tmp_path):
    path = tmp_path / "traders.toml"
    path.write_text(HAND_WRITTEN.replace(WALLETS[0], WALLETS[62]).replace(WALLETS[1], WALLETS[63]))
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_add_many, args=(str(path), start, 12)) for start in (0, 12)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    names = [t.name for t in load_traders(path)]
    assert sorted(names) == sorted(["alice", "bob", *(f"t{i}" for i in range(24))])
    assert "# the good one" in path.read_text()


def test_a_stuck_lock_holder_stalls_no_one(tmp_path, monkeypatch):
    monkeypatch.setattr(traders_module, "LOCK_WAIT_S", 0.2)
    path = tmp_path / "traders.toml"
    path.write_text(HAND_WRITTEN)
    cli_book, engine_book = TraderBook(path), TraderBook(path)
    engine_book.watch()
    with traders_file_lock(path):  # a `zapbot traders` stopped half way (Ctrl-Z) holds it
        with pytest.raises(TradersLocked, match="traders.toml.lock"):
            cli_book.set_active("alice", False)
        assert not engine_book.set_active("bob", False).active  # in force at once...
        assert engine_book.changed_on_disk()
        with pytest.raises(TradersLocked):
            engine_book.reload()
    assert load_traders(path)[1].active
    assert not engine_book.reload()  # ...and written once the lock is free
    assert not load_traders(path)[1].active and not engine_book.changed_on_disk()
    assert "# the good one" in path.read_text()


def test_a_writer_waits_for_the_lock(tmp_path):
    path = tmp_path / "traders.toml"
    book = TraderBook(path)
    done = threading.Event()
    with traders_file_lock(path):
        worker = threading.Thread(target=lambda: (book.add(trader("alice", 0)), done.set()))
        worker.start()
        assert not done.wait(0.3)
        assert not path.exists()
    worker.join(10)
    assert done.is_set() and [t.name for t in load_traders(path)] == ["alice"]


class FakeContext:
    """What commands.apply_traders_change and the data worker's traders check use of a context."""

    def __init__(self, book: TraderBook) -> None:
        self.traders = book
        self.state = EngineState("sim")
        self.sent: list[tuple[str, Any]] = []
        self.events: list[Any] = []

    def send(self, worker: str, msg: Any, *, force: bool = False) -> bool:
        self.sent.append((worker, msg))
        return True

    def publish(self, event: Any) -> None:
        self.events.append(event)


def test_apply_subscribes_added_and_unsubscribes_stopped_and_removed(tmp_path):
    path = tmp_path / "traders.toml"
    path.write_text(HAND_WRITTEN)
    book = TraderBook(path)
    ctx = FakeContext(book)
    for t in book.all():
        commands.show_trader(ctx, t)  # type: ignore[arg-type]
    other = TraderBook(path)
    other.add(trader("carol", 2))
    other.set_active("alice", False)
    other.remove("bob")
    commands.apply_traders_change(ctx, book.reload())  # type: ignore[arg-type]
    starts = {w for _, m in ctx.sent if isinstance(m, StartMonitoring) for w in m.wallets}
    stops = {w for _, m in ctx.sent if isinstance(m, StopMonitoring) for w in m.wallets}
    assert starts == {WALLETS[2]} and stops == {WALLETS[0], WALLETS[1]}
    assert {name: view.active for name, view in ctx.state.traders.items()} == {"alice": False, "carol": True}
    assert not book.get("alice").active and book.get("bob") is None


def test_data_worker_reports_a_broken_file_once_and_recovers(tmp_path):
    path = tmp_path / "traders.toml"
    path.write_text(HAND_WRITTEN)
    ctx = FakeContext(TraderBook(path))
    worker = DataWorker(ctx, Inbox(10), 0)  # type: ignore[arg-type]
    worker._traders_error, worker._settling = "", None
    ctx.traders.watch()

    def check() -> None:  # a version is read once it has stood for one whole check
        worker.check_traders_file()
        worker.check_traders_file()

    path.write_text("[[traders]\n")
    check()
    path.write_text("[[traders]\n")  # saved again, same mistake: not reported again
    check()
    check()
    errors = [e for e in ctx.events if isinstance(e, LogEvent) and e.level == "error"]
    assert len(errors) == 1 and "\n" not in errors[0].message
    assert "TOML syntax error" in errors[0].message and "kept" in errors[0].message
    assert [t.name for t in ctx.traders.all()] == ["alice", "bob"]
    path.write_text(HAND_WRITTEN.split('[[traders]]\nname = "bob"')[0])
    check()
    assert [t.name for t in ctx.traders.all()] == ["alice"]
    assert ctx.state.traders_digest == ctx.traders.digest != ""
    assert any("reads again" in e.message for e in ctx.events if isinstance(e, LogEvent))


def test_data_worker_reads_a_version_only_once_it_stood_for_a_check(tmp_path):
    path = tmp_path / "traders.toml"
    path.write_text(HAND_WRITTEN)
    ctx = FakeContext(TraderBook(path))
    worker = DataWorker(ctx, Inbox(10), 0)  # type: ignore[arg-type]
    worker._traders_error, worker._settling = "", None
    ctx.traders.watch()
    path.write_text("")  # an editor writing in place, caught between truncate and write
    worker.check_traders_file()
    path.write_text(HAND_WRITTEN + f'\n[[traders]]\nname = "carol"\nwallet = "{WALLETS[2]}"\n')
    worker.check_traders_file()
    assert [t.name for t in ctx.traders.all()] == ["alice", "bob"]
    worker.check_traders_file()
    assert [t.name for t in ctx.traders.all()] == ["alice", "bob", "carol"]
    assert not any(isinstance(m, StopMonitoring) for _, m in ctx.sent)


def test_a_deleted_file_keeps_the_traders_in_force(tmp_path):
    path = tmp_path / "traders.toml"
    path.write_text(HAND_WRITTEN)
    book = TraderBook(path)
    path.unlink()
    with pytest.raises(ConfigError, match="the file is gone"):
        book.reload()
    assert not book.changed_on_disk() and [t.name for t in book.all()] == ["alice", "bob"]
    path.write_text(HAND_WRITTEN)
    assert book.changed_on_disk() and not book.reload()
