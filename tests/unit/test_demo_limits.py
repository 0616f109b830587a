"""The demo keeps copying: the embedded cluster's own caps, and why buys stop is in the engine state."""

from __future__ import annotations

from engine.config import Settings, load_settings
from engine.observability import health_document
from engine.preflight import EMBEDDED_LIMITS, apply_embedded_defaults
from engine.state import EngineState, TradeView, skip_view
from engine.telegram.formatting import status_text


def _buy(view_id: int, status: str, at: float, reason: str = "") -> TradeView:
    return TradeView(
        id=view_id,
        leader_signature=f"sig{view_id}",
        trader="trader1",
        side="buy",
        mint="Mint111",
        status=status,
        reason=reason,
        detected_at=at,
    )


def test_embedded_demo_raises_only_the_caps_left_at_their_defaults(tmp_path, monkeypatch):
    settings = Settings()
    assert settings.limits.daily_spend_cap_sol == 10.0  # the real-money default
    changed = apply_embedded_defaults(settings)
    assert changed == EMBEDDED_LIMITS
    assert settings.limits.daily_spend_cap_sol == 1000.0 and settings.limits.daily_loss_cap_sol == 50.0
    # 0.1 SOL a copied buy at about 0.25 buys a second: more than an hour of copying under the cap
    assert settings.limits.daily_spend_cap_sol / (0.1 * 0.25 * 3600) > 1

    monkeypatch.setenv("ZAPBOT_HOME", str(tmp_path))
    (tmp_path / "zapbot.toml").write_text("[limits]\ndaily_spend_cap_sol = 3.0\n")
    user = load_settings()
    assert apply_embedded_defaults(user) == {"daily_loss_cap_sol": 50.0}
    assert user.limits.daily_spend_cap_sol == 3.0  # the user's value stays


def test_a_limit_that_stops_buys_is_in_the_state_until_a_later_buy_goes():
    state = EngineState("sim")
    state.upsert_trade(_buy(1, "queued", 100.0))
    assert state.snapshot().buys_stopped == ""
    cap = skip_view(
        5,
        leader_signature="sig5",
        trader="trader2",
        side="buy",
        mint="Mint111",
        reason="daily spend cap",
        detail="10.00 SOL spent today",
        detected_at=101.0,
    )
    state.upsert_trade(cap)
    snap = state.snapshot()
    assert snap.buys_stopped == "daily spend cap: 10.00 SOL spent today"
    assert health_document(snap)["buys_stopped"] == snap.buys_stopped
    assert "Copying: BUYS STOPPED by a limit: daily spend cap: 10.00 SOL spent today" in status_text(snap)
    # the older buy filling late does not clear it; a skip for another reason does not either
    state.upsert_trade(_buy(1, "executed", 100.0))
    state.upsert_trade(
        skip_view(
            6, leader_signature="s6", trader="t", side="buy", mint="M", reason="stale", detected_at=102.0
        )
    )
    assert state.snapshot().buys_stopped.startswith("daily spend cap")
    state.upsert_trade(_buy(2, "queued", 103.0))  # a newer buy went through: nothing stops buys now
    assert state.snapshot().buys_stopped == ""
    assert health_document(state.snapshot())["buys_stopped"] is None
    assert "Copying: running" in status_text(state.snapshot())
