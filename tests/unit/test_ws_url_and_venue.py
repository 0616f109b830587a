"""The WebSocket URL derived from RPC_URL (Solana's convention) and the unknown-venue policy switch."""

from __future__ import annotations

import pytest

from engine.config import LimitsSettings
from engine.facade import _ws_from_http
from engine.policy import SKIP_REASONS, Skip, venue_skip


@pytest.mark.parametrize(
    ("rpc", "ws"),
    [
        ("http://127.0.0.1:8899", "ws://127.0.0.1:8900"),
        ("http://localhost:8899/", "ws://localhost:8900/"),
        ("https://api.mainnet-beta.solana.com", "wss://api.mainnet-beta.solana.com"),
        ("https://rpc.example.com/v1/key?x=1", "wss://rpc.example.com/v1/key?x=1"),
        ("https://rpc.example.com:8443/path", "wss://rpc.example.com:8444/path"),
        ("http://[::1]:8899", "ws://[::1]:8900"),
    ],
)
def test_ws_url_follows_solana_convention(rpc, ws):
    assert _ws_from_http(rpc) == ws


def test_unknown_venues_are_copied_by_default_and_skipped_when_off():
    limits = LimitsSettings()
    assert limits.copy_unknown_venues is True
    assert venue_skip("unknown", limits) is None
    assert venue_skip("raydium", limits) is None
    limits.copy_unknown_venues = False
    skip = venue_skip("unknown", limits)
    assert isinstance(skip, Skip) and skip.reason == "unknown venue" and skip.reason in SKIP_REASONS
    assert venue_skip("pumpswap", limits) is None
