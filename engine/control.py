"""The running engine's control routes (POST /control/*): what `zapbot sell`, `pause` and `resume` ask for.

Control is gated by a per-start secret in ZAPBOT_HOME/control.token (mode 0600), sent back in the
X-Zapbot-Control-Token header: only someone who can read the engine's home can move its money, whatever
the HTTP bind address or the status bearer token.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from engine import commands
from engine.messages import LogEvent
from engine.token_names import label

if TYPE_CHECKING:
    from engine.context import EngineContext
    from engine.state import PositionView

TOKEN_HEADER = "X-Zapbot-Control-Token"
CONTROL_TOKEN_FILE = "control.token"
MANUAL_SELL_ACCEPT_TIMEOUT_S = 10.0  # the executor answers a ManualSell with its intent id at once


def write_control_token(home: Path) -> str:
    """A fresh secret for this engine start, readable by the owner only; returns it."""
    token = secrets.token_urlsafe(32)
    path = home / CONTROL_TOKEN_FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token)
    os.chmod(tmp, 0o600)  # O_CREAT's mode is masked by the umask; the file must be 0600 whatever it is
    os.replace(tmp, path)
    return token


def read_control_token(home: Path) -> str | None:
    try:
        return (home / CONTROL_TOKEN_FILE).read_text().strip() or None
    except OSError:
        return None


def remove_control_token(home: Path, token: str) -> None:
    """Remove the token file if it is still ours (a second engine refused on a busy home keeps the first's)."""
    if read_control_token(home) == token:
        try:
            (home / CONTROL_TOKEN_FILE).unlink()
        except FileNotFoundError:
            pass


Handler = Callable[["ControlRoutes", web.Request, "EngineContext"], Awaitable[web.Response]]


def _guarded(handler: Handler) -> Callable[["ControlRoutes", web.Request], Awaitable[web.Response]]:
    """The token check and the started engine every control route needs, in one place."""

    @functools.wraps(handler)
    async def checked(self: "ControlRoutes", request: web.Request) -> web.Response:
        sent = request.headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(sent.encode(), self.token.encode()):
            return _error(401, f"unauthorised: send the token in ZAPBOT_HOME/{CONTROL_TOKEN_FILE}")
        ctx = self.ctx_fn()
        if ctx is None:
            return _error(503, "the engine is still starting; try again in a moment")
        return await handler(self, request, ctx)

    return checked


class ControlRoutes:
    """POST /control/sell, /control/pause, /control/resume and GET /control/trades/{id}, for one engine."""

    def __init__(self, ctx_fn: Callable[[], "EngineContext | None"], token: str) -> None:
        self.ctx_fn = ctx_fn
        self.token = token

    def register(self, app: web.Application) -> None:
        app.router.add_post("/control/sell", self._sell)
        app.router.add_post("/control/pause", self._pause)
        app.router.add_post("/control/resume", self._resume)
        app.router.add_get("/control/trades/{intent_id}", self._trade)

    async def _body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = orjson.loads(await request.read() or b"{}")
        except orjson.JSONDecodeError:
            raise ValueError("the request body is not JSON") from None
        if not isinstance(body, dict):
            raise ValueError("the request body must be a JSON object")
        return body

    @_guarded
    async def _sell(self, request: web.Request, ctx: "EngineContext") -> web.Response:
        """{"token", "percent", "lot_id"?, "confirm"?}: without confirm, the quote only; with it, the sell."""
        try:
            body = await self._body(request)
            percent = float(body.get("percent", 0))
            if not 0 < percent <= 100:  # NaN fails both comparisons too
                raise ValueError("percent must be above 0 and at most 100")
            lot_id = body.get("lot_id")
            lot_id = None if lot_id is None else int(lot_id)
            snapshot = ctx.state.snapshot()
            position = commands.resolve_position(snapshot.positions, str(body.get("token", "")))
            if lot_id is not None and all(
                lot.id != lot_id or lot.mint != position.mint for lot in snapshot.lots
            ):
                raise ValueError(f"lot {lot_id} is not an open lot of {position.symbol or position.mint}")
        except (TypeError, ValueError) as exc:
            return _error(400, str(exc))
        answer: dict[str, Any] = {
            "mint": position.mint,
            "symbol": position.symbol,
            "decimals": position.decimals,
            "percent": percent,
            "lot_id": lot_id,
        }
        if not body.get("confirm"):
            try:
                quote = await commands.quote_manual_sell(ctx, position.mint, percent, lot_id)
            except ValueError as exc:
                return _error(400, str(exc))
            except Exception as exc:  # noqa: BLE001 - the swap API's trouble is one line for the operator
                return _error(502, f"cannot quote: {exc}")
            answer.update(
                token_amount=quote.token_amount,
                expected_lamports=quote.expected_lamports,
                min_lamports=quote.min_lamports,
                price_impact_pct=None if quote.price_impact_pct is None else str(quote.price_impact_pct),
            )
            return web.json_response(answer)
        future = commands.request_manual_sell(ctx, position.mint, percent, lot_id)
        try:
            intent_id = await asyncio.wait_for(asyncio.wrap_future(future), MANUAL_SELL_ACCEPT_TIMEOUT_S)
        except (ValueError, RuntimeError) as exc:
            return _error(409, str(exc))
        except TimeoutError:
            return _error(504, "the executor did not take the sell in time; see the engine's log")
        ctx.publish(
            LogEvent("info", "cli", f"manual sell {percent:g}% of {_label(position)} requested (CLI)")
        )
        answer["intent_id"] = intent_id
        return web.json_response(answer)

    @_guarded
    async def _pause(self, request: web.Request, ctx: "EngineContext") -> web.Response:
        try:
            mode = str((await self._body(request)).get("mode") or commands.PAUSE_BUYS)
            changed = commands.pause(ctx, mode, source="cli")
        except ValueError as exc:
            return _error(400, str(exc))
        return web.json_response({"pause": mode, "changed": changed, "text": commands.PAUSE_TEXT[mode]})

    @_guarded
    async def _resume(self, request: web.Request, ctx: "EngineContext") -> web.Response:
        changed, cleared = commands.resume_all(ctx, source="cli")
        return web.json_response({"changed": changed, "kill_switch_cleared": cleared})

    @_guarded
    async def _trade(self, request: web.Request, ctx: "EngineContext") -> web.Response:
        """What became of one intent (a manual sell the CLI waits on), from the engine's snapshot."""
        try:
            intent_id = int(request.match_info["intent_id"])
        except ValueError:
            return _error(400, "the trade id must be a number")
        trade = next((t for t in ctx.state.snapshot().trades if t.id == intent_id), None)
        if trade is None:
            return _error(404, f"no trade {intent_id} in the engine's recent trades")
        return web.json_response(
            {
                "id": trade.id,
                "status": trade.status,
                "reason": trade.reason,
                "signature": trade.signature,
                "mint": trade.mint,
                "symbol": trade.symbol,
                "token_amount": trade.token_amount,
                "token_decimals": trade.token_decimals,
                "quote_lamports": trade.quote_amount,
                "fee_lamports": trade.fee_lamports,
            }
        )


def _label(position: "PositionView") -> str:
    return position.symbol or label(position.mint, None)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
