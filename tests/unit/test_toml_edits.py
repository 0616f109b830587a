"""Editing traders.toml and zapbot.toml keeps the user's comments and layout (tomlkit), and the data read back
is exactly what was saved."""

from __future__ import annotations

import tomllib

from engine.traders import TraderBook, TraderConfig, load_traders, save_traders
from zapbot_tui.config_io import save_theme

ALICE = "11111111111111111111111111111111"
BOB = "So11111111111111111111111111111111111111112"
CAROL = "Vote111111111111111111111111111111111111111"

HAND_WRITTEN = f"""# My traders, kept by hand.

[[traders]]  # the first one
name = "alice"   # the good one
wallet = "{ALICE}"
fixed_sol = 0.1   # keep it small

# bob is risky
[[traders]]
name = "bob"
wallet = "{BOB}"
slippage_bps = 500
"""


def test_traders_edit_keeps_comments(tmp_path):
    path = tmp_path / "traders.toml"
    path.write_text(HAND_WRITTEN)
    book = TraderBook(path)
    book.set_active("alice", False)
    text = path.read_text()
    for comment in ("# My traders, kept by hand.", "# the first one", "# the good one", "# keep it small"):
        assert comment in text
    assert "# bob is risky\n[[traders]]" in text
    # Only what changed is written: keys the user left out stay out while they hold the default.
    assert "slippage_bps = 300" not in text and "active = false" in text
    assert load_traders(path) == book.all()

    book.replace("bob", book.get("bob").model_copy(update={"fixed_sol": 0.25}))
    assert "fixed_sol = 0.25" in path.read_text() and "# bob is risky" in path.read_text()
    book.add(TraderConfig(name="carol", wallet=CAROL))
    assert "# bob is risky" in path.read_text()
    assert load_traders(path) == book.all()


def test_removing_a_trader_takes_its_comment_and_keeps_the_next_ones(tmp_path):
    path = tmp_path / "traders.toml"
    path.write_text(
        HAND_WRITTEN + f'\n# carol copies sells only\n[[traders]]\nname = "carol"\nwallet = "{CAROL}"\n'
    )
    book = TraderBook(path)
    book.remove("bob")
    text = path.read_text()
    assert "bob" not in text
    assert "# carol copies sells only\n[[traders]]" in text and "# the good one" in text
    assert [t.name for t in load_traders(path)] == ["alice", "carol"]


def test_traders_file_written_afresh_when_missing_or_unreadable_as_toml(tmp_path):
    path = tmp_path / "traders.toml"
    trader = TraderConfig(name="alice", wallet=ALICE)
    save_traders(path, [trader])
    assert load_traders(path) == [trader]
    path.write_text("[[traders]\nbroken")
    save_traders(path, [trader])
    assert load_traders(path) == [trader]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["traders.toml"]  # no temp file left behind
    save_traders(path, [])
    assert tomllib.loads(path.read_text()) == {"traders": []}


def test_theme_added_above_the_comment_that_heads_the_next_table(tmp_path):
    path = tmp_path / "zapbot.toml"
    path.write_text("[ui]\nrefresh_hz = 5.0  # calm\n\n# simulation\n[sim]\nseed = 1\n")
    save_theme(path, "zapbot-light")
    text = path.read_text()
    assert text.index('theme = "zapbot-light"') < text.index("# simulation")
    assert "# calm" in text
    assert tomllib.loads(text) == {"ui": {"refresh_hz": 5.0, "theme": "zapbot-light"}, "sim": {"seed": 1}}
