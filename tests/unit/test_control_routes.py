"""The control routes' pure parts: which open position a symbol or mint names, the 0600 token file, and the
routes' refusal of a caller without the token (aiohttp's test server, no engine)."""

from __future__ import annotations

import stat

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from engine.commands import resolve_position
from engine.control import (
    CONTROL_TOKEN_FILE,
    TOKEN_HEADER,
    ControlRoutes,
    read_control_token,
    remove_control_token,
    write_control_token,
)
from engine.state import PositionView

BONK = "DezXAZ8z7PnrnRJjz3wXBoRgixCa6xjnB7YaB1pPB263"
WIF = "EKpQGSJtjMFqKZ9KQanSqYXRcF8fBopzLHYxdM65zcjm"
OTHER = "JUPyiwrYJFskUPiHa7hkeR8VUtAeFoSYbKedZNsDvCN"


def positions() -> list[PositionView]:
    return [
        PositionView(mint=BONK, amount=5, cost_lamports=1, symbol="BONK"),
        PositionView(mint=WIF, amount=7, cost_lamports=1, symbol="WIF"),
        PositionView(mint=OTHER, amount=0, cost_lamports=0, symbol="JUP"),  # closed
    ]


def test_a_symbol_or_a_mint_names_an_open_position():
    assert resolve_position(positions(), "bonk").mint == BONK
    assert resolve_position(positions(), WIF).symbol == "WIF"


@pytest.mark.parametrize(
    ("token", "words"),
    [
        ("JUP", "not a mint address or the symbol of an open position"),  # its position is closed
        ("xyz", "not a mint address or the symbol of an open position"),
        (OTHER, "no open position in JUPy…DvCN"),
    ],
)
def test_anything_else_is_one_line(token, words):
    with pytest.raises(ValueError, match=words):
        resolve_position(positions(), token)


def test_two_positions_of_one_symbol_ask_for_the_mint():
    twins = [*positions(), PositionView(mint=OTHER, amount=3, cost_lamports=1, symbol="BONK")]
    with pytest.raises(ValueError, match="several positions are called BONK"):
        resolve_position(twins, "BONK")


def test_the_token_file_is_the_owners_alone_and_removed_only_by_its_writer(tmp_path):
    token = write_control_token(tmp_path)
    path = tmp_path / CONTROL_TOKEN_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_control_token(tmp_path) == token and len(token) >= 32
    remove_control_token(tmp_path, "another engine's token")
    assert path.exists()
    remove_control_token(tmp_path, token)
    assert not path.exists() and read_control_token(tmp_path) is None


async def test_the_routes_refuse_without_the_token_and_wait_for_the_engine():
    app = web.Application()
    ControlRoutes(lambda: None, "s3cret-token-value").register(app)
    async with TestClient(TestServer(app)) as client:
        for headers in ({}, {TOKEN_HEADER: "wrong"}):
            response = await client.post("/control/pause", json={"mode": "buys"}, headers=headers)
            assert response.status == 401
            assert "unauthorised" in (await response.json())["error"]
        response = await client.post("/control/resume", headers={TOKEN_HEADER: "s3cret-token-value"})
        assert response.status == 503  # the token is right; the engine has not started yet
        assert "still starting" in (await response.json())["error"]
