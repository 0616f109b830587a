"""A fake Telegram Bot API server (aiohttp, 127.0.0.1) that serves scripted updates and records what the bot sends.

It speaks enough of the Bot API for python-telegram-bot's polling Application: getMe, deleteWebhook,
getUpdates (long poll with offset semantics), sendMessage, editMessageText, editMessageReplyMarkup,
answerCallbackQuery, setMyCommands/getMyCommands/deleteMyCommands, close, logOut. It runs on its own thread
and loop so synchronous tests and engine threads can both use it.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_USER = {
    "id": 424242,
    "is_bot": True,
    "first_name": "ZapBot",
    "username": "zapbot_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
OPERATOR_USER_ID = 777
# When the request being handled reached the server, before its body was read: on a busy machine reading and
# parsing can lag, and the pacing checks compare these stamps, so they are taken as early as aiohttp allows.
_ARRIVED_AT: contextvars.ContextVar[float] = contextvars.ContextVar("fake_telegram_arrived_at")


@dataclass(frozen=True)
class SentCall:
    """One API call the bot made (other than getUpdates), with when the server received it."""

    method: str
    params: dict[str, Any]
    at: float  # time.monotonic() on arrival
    message_id: int | None = None

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        try:
            return int(value) if value is not None else None
        except (TypeError, ValueError):
            return None

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))


@dataclass
class _Failure:
    method: str
    remaining: int
    status: int
    retry_after: int | None = None


# Parameters PTB sends as JSON-encoded strings in form data; everything else stays a string.
_JSON_PARAMS = {
    "reply_markup",
    "commands",
    "allowed_updates",
    "entities",
    "link_preview_options",
    "scope",
    "reply_parameters",
}
_INT_PARAMS = {"offset", "limit", "timeout", "message_id", "cache_time"}
_BOOL_PARAMS = {"disable_notification", "drop_pending_updates", "show_alert", "protect_content"}


def _decode_params(raw: dict[str, str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _JSON_PARAMS:
            try:
                params[key] = json.loads(value)
            except ValueError:
                params[key] = value
        elif key in _INT_PARAMS or key == "chat_id":
            try:
                params[key] = int(value)
            except (TypeError, ValueError):
                params[key] = value
        elif key in _BOOL_PARAMS:
            params[key] = str(value).lower() in {"true", "1"}
        else:
            params[key] = value
    return params


@dataclass
class _State:
    updates: list[dict[str, Any]] = field(default_factory=list)
    confirmed_offset: int = 0


class FakeTelegramServer:
    """Start with `start()` (or as a context manager); `base_url` is what TELEGRAM_API_BASE_URL should be."""

    def __init__(self, token: str, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.token = token
        self.host = host
        self.port = port
        self.calls: list[SentCall] = []
        self.requests_by_method: dict[str, int] = {}
        self.unauthorised_requests = 0
        self._state = _State()
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._callback_ids = itertools.count(1)
        self._commands: list[dict[str, Any]] = []
        self._failures: list[_Failure] = []
        self._lock = threading.Lock()
        self._recorded = threading.Condition()  # its own lock: predicates take self._lock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._new_update: asyncio.Condition | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.bound_port: int | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.bound_port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{self.host}:{self.bound_port}/file/bot"

    def start(self) -> "FakeTelegramServer":
        self._thread = threading.Thread(target=self._run, name="fake-telegram", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self.bound_port is None:
            raise RuntimeError("fake Telegram server did not start")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> "FakeTelegramServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        self._new_update = asyncio.Condition()
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        runner = web.AppRunner(app, access_log=None)
        self._runner = runner
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, self.host, self.port)
        loop.run_until_complete(site.start())
        sockets = getattr(site._server, "sockets", None) or []  # noqa: SLF001 - aiohttp exposes no port getter
        self.bound_port = sockets[0].getsockname()[1]
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()

    # -- scripting (any thread) ----------------------------------------------------------------------
    def push_update(self, update: dict[str, Any]) -> int:
        """Queue one raw update (update_id is assigned); returns the update_id."""
        update = dict(update)
        update_id = next(self._update_ids)
        update["update_id"] = update_id
        with self._lock:
            self._state.updates.append(update)
        self._notify_pollers()
        return update_id

    def push_message(self, chat_id: int, text: str, *, user_id: int = OPERATOR_USER_ID) -> int:
        """A user in chat_id sends text; a leading /command gets its bot_command entity like Telegram adds."""
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": _chat(chat_id),
            "from": {"id": user_id, "is_bot": False, "first_name": "Operator"},
            "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self.push_update({"message": message})

    def push_callback(
        self, chat_id: int, data: str, *, message_id: int, text: str = "", user_id: int = OPERATOR_USER_ID
    ) -> int:
        """A user presses an inline button with callback data on the bot's message message_id."""
        query = {
            "id": str(next(self._callback_ids)),
            "from": {"id": user_id, "is_bot": False, "first_name": "Operator"},
            "chat_instance": f"ci{chat_id}",
            "data": data,
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": _chat(chat_id),
                "from": BOT_USER,
                "text": text or "confirm?",
            },
        }
        return self.push_update({"callback_query": query})

    def fail_next(
        self, method: str, count: int = 1, *, status: int = 502, retry_after: int | None = None
    ) -> None:
        """Make the next `count` calls of method fail with an HTTP status (429 + retry_after for flood waits)."""
        with self._lock:
            self._failures.append(_Failure(method, count, status, retry_after))

    def _notify_pollers(self) -> None:
        loop, condition = self._loop, self._new_update
        if loop is None or condition is None:
            return

        async def wake() -> None:
            async with condition:
                condition.notify_all()

        asyncio.run_coroutine_threadsafe(wake(), loop)

    # -- reading (any thread) ----------------------------------------------------------------------
    def sent(self, method: str = "sendMessage", chat_id: int | None = None) -> list[SentCall]:
        with self._lock:
            return [c for c in self.calls if c.method == method and (chat_id is None or c.chat_id == chat_id)]

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [c.text for c in self.sent("sendMessage", chat_id)]

    def pending_updates(self) -> int:
        with self._lock:
            return len(self._state.updates)

    def wait_for(self, predicate: Callable[["FakeTelegramServer"], Any], timeout: float = 20.0) -> Any:
        """Wait until predicate(server) is truthy (re-checked on every recorded call); returns its value."""
        deadline = time.monotonic() + timeout
        with self._recorded:
            while True:
                value = predicate(self)
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("fake Telegram: condition not met in time")
                self._recorded.wait(min(remaining, 0.1))

    def wait_for_text(self, chat_id: int, needle: str, timeout: float = 20.0) -> SentCall:
        def found(server: "FakeTelegramServer") -> SentCall | None:
            for call in server.sent("sendMessage", chat_id):
                if needle in call.text:
                    return call
            return None

        return self.wait_for(found, timeout)

    # -- the API ---------------------------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.Response:
        _ARRIVED_AT.set(time.monotonic())  # each request is its own task, so its own context
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            with self._lock:
                self.unauthorised_requests += 1
            return _error(401, "Unauthorized")
        if request.content_type == "application/json":
            raw = await request.json()
            params = {k: v for k, v in raw.items()}
        else:
            form = await request.post()
            params = _decode_params({k: str(v) for k, v in form.items()})
            params.update(_decode_params(dict(request.query)))
        with self._lock:
            self.requests_by_method[method] = self.requests_by_method.get(method, 0) + 1
            failure = next((f for f in self._failures if f.method == method and f.remaining > 0), None)
            if failure is not None:
                failure.remaining -= 1
        if failure is not None:
            if failure.status == 429:
                return _error(
                    429,
                    f"Too Many Requests: retry after {failure.retry_after or 1}",
                    {"retry_after": failure.retry_after or 1},
                )
            return _error(failure.status, "Bad Gateway")
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        return await handler(params)

    def _record(self, method: str, params: dict[str, Any], message_id: int | None = None) -> None:
        with self._lock:
            self.calls.append(SentCall(method, params, _ARRIVED_AT.get(time.monotonic()), message_id))
        with self._recorded:
            self._recorded.notify_all()

    async def _api_getMe(self, params: dict[str, Any]) -> web.Response:
        return _ok(BOT_USER)

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> web.Response:
        if params.get("drop_pending_updates"):
            with self._lock:
                self._state.updates.clear()
        self._record("deleteWebhook", params)
        return _ok(True)

    async def _api_getUpdates(self, params: dict[str, Any]) -> web.Response:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        with self._lock:
            if offset:
                # An offset confirms every update below it: Telegram forgets them.
                self._state.updates = [u for u in self._state.updates if u["update_id"] >= offset]
                self._state.confirmed_offset = max(self._state.confirmed_offset, offset)
            ready = list(self._state.updates[:limit])
        if not ready and timeout > 0:
            assert self._new_update is not None
            try:
                async with self._new_update:
                    await asyncio.wait_for(self._new_update.wait(), timeout)
            except TimeoutError:
                pass
            with self._lock:
                ready = list(self._state.updates[:limit])
        return _ok(ready)

    async def _api_sendMessage(self, params: dict[str, Any]) -> web.Response:
        message_id = next(self._message_ids)
        self._record("sendMessage", params, message_id)
        return _ok(self._message(params, message_id))

    async def _api_editMessageText(self, params: dict[str, Any]) -> web.Response:
        self._record("editMessageText", params, params.get("message_id"))
        return _ok(self._message(params, int(params.get("message_id") or 0)))

    async def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> web.Response:
        self._record("editMessageReplyMarkup", params, params.get("message_id"))
        return _ok(self._message(params, int(params.get("message_id") or 0)))

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> web.Response:
        self._record("answerCallbackQuery", params)
        return _ok(True)

    async def _api_setMyCommands(self, params: dict[str, Any]) -> web.Response:
        self._commands = list(params.get("commands") or [])
        self._record("setMyCommands", params)
        return _ok(True)

    async def _api_getMyCommands(self, params: dict[str, Any]) -> web.Response:
        return _ok(self._commands)

    async def _api_deleteMyCommands(self, params: dict[str, Any]) -> web.Response:
        self._commands = []
        return _ok(True)

    async def _api_close(self, params: dict[str, Any]) -> web.Response:
        return _ok(True)

    async def _api_logOut(self, params: dict[str, Any]) -> web.Response:
        return _ok(True)

    @staticmethod
    def _message(params: dict[str, Any], message_id: int) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": _chat(int(params.get("chat_id") or 0)),
            "from": BOT_USER,
            "text": str(params.get("text", "")),
        }
        if isinstance(params.get("reply_markup"), dict):
            message["reply_markup"] = params["reply_markup"]
        return message


def _chat(chat_id: int) -> dict[str, Any]:
    if chat_id < 0:
        return {"id": chat_id, "type": "group", "title": f"group {chat_id}"}
    return {"id": chat_id, "type": "private", "first_name": "Operator"}


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)
