"""The console's pure text helpers: word-boundary fitting, header packing, failures in words, the limit badge."""

from __future__ import annotations

from dataclasses import replace

from engine.config_tables import LimitsSettings
from zapbot_tui.format import failure_sentence, fit, rpc_reason, wrap_chunks
from zapbot_tui.panes.header import buy_limit, spent_today, utc_today
from zapbot_tui.static import BASE_TIME, fixed_snapshot


def test_fit_cuts_at_a_word_boundary_never_inside_a_word() -> None:
    assert fit("below min_leader_sol (0.02 < 0.05)", 21) == "below min_leader_sol…"
    assert fit("below min_leader_sol (0.02 < 0.05)", 20) == "below…"
    assert fit("slippage exceeded (6001)", 24) == "slippage exceeded (6001)"
    assert fit("no Telegram token", 12) == "no Telegram…"
    assert fit("4UoAgM5DHuPQxyzxyzxyz", 8) == "4UoAgM5…"  # one word wider than the column: no boundary to use
    assert fit("anything", 0) == "" and fit("anything", 1) == "…"


def test_header_pieces_wrap_between_pieces() -> None:
    pieces = ["⚡ ZapBot  SIM", "embedded", "5ZWj…AqPG 99.812 SOL", "PnL +0.000 today +0.012"]
    lines = wrap_chunks(pieces, 40)
    assert lines == [[0, 1], [2], [3]]
    assert wrap_chunks(pieces, 200) == [[0, 1, 2, 3]]


def test_failures_read_as_sentences() -> None:
    assert failure_sentence("failed on chain: slippage exceeded (custom error 6001)").startswith(
        "The price moved"
    )
    assert "not hold enough" in failure_sentence('failed on chain: {"InstructionError":[2,{"Custom":1}]}')
    assert "does not exist" in failure_sentence('failed on chain: {"InstructionError":[0,"AccountNotFound"]}')
    assert failure_sentence("expired before landing").startswith("It expired before landing")
    refused = failure_sentence(
        "expired before landing; every send was refused: sendTransaction: Node is unhealthy"
    )
    assert (
        refused
        == "Every send of it was refused: the RPC node is unhealthy (behind the cluster) and refused it."
    )
    assert failure_sentence("something new") == "It failed: something new."


def test_rpc_reason_drops_the_method_prefixes() -> None:
    assert (
        rpc_reason("sendTransaction: sendTransaction: Node is unhealthy (-32005)")
        == "Node is unhealthy (-32005)"
    )
    assert rpc_reason("HTTP 503: busy") == "HTTP 503: busy"


def test_buy_limit_names_the_limit_that_stops_buys() -> None:
    snapshot = fixed_snapshot()
    limits = LimitsSettings()
    assert buy_limit(snapshot, limits) == ""
    capped = replace(snapshot, spent_today_lamports=10_000_000_000)
    assert buy_limit(capped, limits) == "daily spend cap reached (10.00 SOL)"
    # Yesterday's spend does not count once the UTC day turned.
    stale = replace(capped, today="2000-01-01")
    assert spent_today(stale) == 0 and buy_limit(stale, limits) == ""
    assert snapshot.today == utc_today(BASE_TIME)
    exposed = LimitsSettings(max_open_exposure_sol=1.0)
    assert buy_limit(snapshot, exposed) == "exposure cap reached (1.00 SOL)"
    # A recent buy skipped for a reason that stops every buy, with nothing copied since.
    newest = replace(snapshot.trades[0], side="buy", status="skipped", reason="reserve: 0.04 SOL left")
    skipped = replace(snapshot, trades=(newest, *snapshot.trades[1:]))
    assert buy_limit(skipped, limits) == "reserve: 0.04 SOL left"
