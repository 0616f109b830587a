"""The Telegram commands: authorised chats only, each acting through engine.commands like the console does."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from engine import commands as engine_commands
from engine.messages import LogEvent
from engine.store.reports import replay
from engine.telegram.formatting import (
    DEFAULT_DAYS_SHOWN,
    DEFAULT_LOGS_SHOWN,
    MAX_DAYS_SHOWN,
    MAX_LOGS_SHOWN,
    USAGE,
    UsageError,
    help_text,
    parse_copy_args,
    parse_count_args,
    parse_sell_args,
    parse_trades_args,
    positions_text,
    redact,
    short_mint,
    status_text,
    token_label,
    traders_text,
    trades_text,
)
from engine.telegram.reports import balance_text, daily_text, logs_text, performance_text, profit_text
from engine.telegram.transport import Transport
from engine.traders import validate_address

if TYPE_CHECKING:
    from engine.context import EngineContext

SELL_CONFIRM_TTL_S = 120.0
SELL_RESULT_TIMEOUT_S = 15.0
CALLBACK_ANSWER_TIMEOUT_S = 3.0
SOURCE = "telegram"

Handler = Callable[["CommandHandlers", Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]


def authorized_only(handler: Handler) -> Handler:
    """Run the handler only for an authorised chat; anything else is logged by chat id and never answered."""

    @functools.wraps(handler)
    async def wrapper(self: "CommandHandlers", update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None or chat.id not in self.chat_ids:
            self.ignore_unauthorised(chat.id if chat is not None else None)
            return
        try:
            await handler(self, update, context)
        except UsageError as exc:
            await self.transport.answer(chat.id, str(exc))
        except Exception as exc:  # a broken command must not take the bot down
            self.log.warning("command failed: %s", redact(exc), exc_info=True)
            await self.transport.answer(chat.id, f"That failed: {redact(exc)}")

    return wrapper


@dataclass
class PendingSell:
    """A /sell waiting for its Sell or Cancel button."""

    chat_id: int
    mint: str
    percent: float
    label: str
    expires_at: float


def parse_scout_args(args: list[str]) -> tuple[str, float]:
    """'/scout <wallet> [days]' → (wallet, days)."""
    if not 1 <= len(args) <= 2:
        raise UsageError(USAGE["scout"])
    try:
        wallet = validate_address(args[0])
    except ValueError as exc:
        raise UsageError(f"{exc}. {USAGE['scout']}") from None
    try:
        days = float(args[1]) if len(args) == 2 else 3.0
    except ValueError:
        raise UsageError(USAGE["scout"]) from None
    if not 0 < days <= 30:
        raise UsageError(USAGE["scout"])
    return wallet, days


def chat_id_of(update: Update) -> int:
    assert update.effective_chat is not None  # authorized_only let it through
    return update.effective_chat.id


class CommandHandlers:
    """The handlers of one telegram worker instance; sell confirmations are that instance's own."""

    def __init__(
        self,
        ctx: "EngineContext",
        transport: Transport,
        chat_ids: frozenset[int],
        *,
        instance: int,
        daily_summary: Callable[[], Awaitable[str]],
        log: logging.Logger,
    ) -> None:
        self.ctx = ctx
        self.transport = transport
        self.chat_ids = chat_ids
        self.instance = instance
        self.daily_summary = daily_summary
        self.log = log
        self.pending_sells: dict[str, PendingSell] = {}
        self.sell_ids = 0
        self.unauthorised_seen: dict[int | None, int] = {}

    def register(self, app: Application) -> None:
        commands: list[tuple[str, Handler]] = [
            ("status", CommandHandlers.cmd_status),
            ("traders", CommandHandlers.cmd_traders),
            ("copy", CommandHandlers.cmd_copy),
            ("pause", CommandHandlers.cmd_pause),
            ("pauseall", CommandHandlers.cmd_pauseall),
            ("resume", CommandHandlers.cmd_resume),
            ("trades", CommandHandlers.cmd_trades),
            ("positions", CommandHandlers.cmd_positions),
            ("sell", CommandHandlers.cmd_sell),
            ("summary", CommandHandlers.cmd_summary),
            ("profit", CommandHandlers.cmd_profit),
            ("daily", CommandHandlers.cmd_daily),
            ("performance", CommandHandlers.cmd_performance),
            ("balance", CommandHandlers.cmd_balance),
            ("logs", CommandHandlers.cmd_logs),
            ("stopbuy", CommandHandlers.cmd_stopbuy),
            ("help", CommandHandlers.cmd_help),
            ("start", CommandHandlers.cmd_help),
        ]
        for command, handler in commands:
            app.add_handler(CommandHandler(command, functools.partial(handler, self)))
        # A scout reads for seconds to minutes: it must not hold up the other commands.
        app.add_handler(
            CommandHandler("scout", functools.partial(CommandHandlers.cmd_scout, self), block=False)
        )
        app.add_handler(CallbackQueryHandler(self.on_sell_button, pattern=r"^(sell|cancel):", block=False))
        app.add_handler(CallbackQueryHandler(self.on_other_button))
        app.add_handler(MessageHandler(filters.ALL, self.on_other_message))

    def ignore_unauthorised(self, chat_id: int | None) -> None:
        self.ctx.state.bump("telegram_unauthorised")
        seen = self.unauthorised_seen.get(chat_id, 0) + 1
        self.unauthorised_seen[chat_id] = seen
        if seen == 1 or seen % 100 == 0:  # a spammer must not flood the log
            self.log.warning("ignored %d update(s) from unauthorised chat %s", seen, chat_id)

    async def _answer_callback(self, query: Any, text: str | None = None) -> None:
        try:
            await asyncio.wait_for(query.answer(text), CALLBACK_ANSWER_TIMEOUT_S)
        except Exception as exc:  # the button's spinner stops by itself; the command goes on
            self.log.warning("telegram could not answer a button: %s", redact(exc))

    # -- commands ----------------------------------------------------------------------------------------
    @authorized_only
    async def cmd_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.transport.answer(chat_id_of(update), help_text())

    @authorized_only
    async def cmd_status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.transport.answer(chat_id_of(update), status_text(self.ctx.state.snapshot()))

    @authorized_only
    async def cmd_traders(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.transport.answer(chat_id_of(update), traders_text(self.ctx.state.snapshot()))

    @authorized_only
    async def cmd_copy(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        name, active = parse_copy_args(list(context.args or []), [t.name for t in self.ctx.traders.all()])
        set_copying = functools.partial(engine_commands.set_copying, self.ctx, name, active, source=SOURCE)
        # The traders file is written with fsync: keep that off the event loop.
        _trader, changed = await asyncio.get_running_loop().run_in_executor(None, set_copying)
        if active:
            text = f"Copying {name} started." if changed else f"Already copying {name}."
        else:
            text = f"Stopped copying {name}." if changed else f"{name} was not being copied."
        await self.transport.answer(chat_id_of(update), text)

    @authorized_only
    async def cmd_pause(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        changed = engine_commands.pause_buys(self.ctx, source=SOURCE)
        await self.transport.answer(
            chat_id_of(update),
            "Paused buying; sells of open lots are still copied (/pauseall stops those too)."
            if changed
            else "Buying is already paused.",
        )

    @authorized_only
    async def cmd_pauseall(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        changed = engine_commands.pause_all(self.ctx, source=SOURCE)
        await self.transport.answer(
            chat_id_of(update), "Paused all copying, sells too." if changed else "Already all paused."
        )

    @authorized_only
    async def cmd_resume(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        changed, cleared = engine_commands.resume_all(self.ctx, source=SOURCE)
        if cleared:
            text = f"Resumed copying; kill switch cleared (was: {cleared})."
        else:
            text = "Resumed copying." if changed else "Copying was not paused."
        await self.transport.answer(chat_id_of(update), text)

    @authorized_only
    async def cmd_trades(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        count = parse_trades_args(list(context.args or []))
        await self.transport.answer(chat_id_of(update), trades_text(self.ctx.state.snapshot(), count))

    @authorized_only
    async def cmd_positions(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.transport.answer(chat_id_of(update), positions_text(self.ctx.state.snapshot()))

    @authorized_only
    async def cmd_summary(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.transport.answer(chat_id_of(update), await self.daily_summary())

    # -- reports, after freqtrade's (read through the data worker: one SQLite connection, no locking) -------
    @authorized_only
    async def cmd_profit(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        perf = replay(await self.ctx.store.executed_fills())
        books = await self.ctx.store.trader_books()
        await self.transport.answer(chat_id_of(update), profit_text(perf, self.ctx.state.snapshot(), books))

    @authorized_only
    async def cmd_daily(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        days = parse_count_args(list(context.args or []), DEFAULT_DAYS_SHOWN, MAX_DAYS_SHOWN, USAGE["daily"])
        rows = await self.ctx.store.daily_totals(days)
        fills = await self.ctx.store.executed_fills()
        await self.transport.answer(chat_id_of(update), daily_text(rows, fills, days))

    @authorized_only
    async def cmd_performance(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        perf = replay(await self.ctx.store.executed_fills())
        books = await self.ctx.store.trader_books()
        text = performance_text(perf, self.ctx.state.snapshot(), books=books)
        await self.transport.answer(chat_id_of(update), text)

    @authorized_only
    async def cmd_balance(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.transport.answer(chat_id_of(update), balance_text(self.ctx.state.snapshot()))

    @authorized_only
    async def cmd_logs(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        count = parse_count_args(list(context.args or []), DEFAULT_LOGS_SHOWN, MAX_LOGS_SHOWN, USAGE["logs"])
        await self.transport.answer(chat_id_of(update), logs_text(self.ctx.state.snapshot(), count))

    @authorized_only
    async def cmd_stopbuy(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        changed = engine_commands.pause_buys(self.ctx, source=SOURCE)
        text = "Stopped buying." if changed else "Buying was already stopped."
        await self.transport.answer(
            chat_id_of(update), f"{text} Sells of open lots are still copied; /resume undoes it."
        )

    @authorized_only
    async def cmd_scout(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        from engine.scout.summary import scout_for_engine, summary_text

        wallet, days = parse_scout_args(list(context.args or []))
        chat = chat_id_of(update)
        await self.transport.answer(chat, f"Scouting {wallet[:4]}…{wallet[-4:]} over {days:g} day(s)…")
        outcome = await scout_for_engine(self.ctx, wallet, days=days)
        await self.transport.answer(chat, summary_text(outcome))

    @authorized_only
    async def cmd_sell(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat_id = chat_id_of(update)
        snapshot = self.ctx.state.snapshot()
        mint, percent = parse_sell_args(list(context.args or []), snapshot.positions)
        position = next(p for p in snapshot.positions if p.mint == mint)
        label = token_label(mint, position.symbol)
        now = time.monotonic()
        self.pending_sells = {k: v for k, v in self.pending_sells.items() if v.expires_at > now}
        self.sell_ids += 1
        sell_id = f"{self.instance}-{self.sell_ids}"
        self.pending_sells[sell_id] = PendingSell(chat_id, mint, percent, label, now + SELL_CONFIRM_TTL_S)
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(f"Sell {percent:g}%", callback_data=f"sell:{sell_id}"),
                    InlineKeyboardButton("Cancel", callback_data=f"cancel:{sell_id}"),
                ]
            ]
        )
        await self.transport.answer(
            chat_id,
            f"Sell {percent:g}% of {label}?\n{mint}\nConfirm within {SELL_CONFIRM_TTL_S:.0f}s.",
            reply_markup=keyboard,
        )

    @authorized_only
    async def on_sell_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.data is not None
        chat_id = chat_id_of(update)
        action, _, sell_id = query.data.partition(":")
        pending = self.pending_sells.pop(sell_id, None)  # one press, one sell: a double tap finds nothing
        await self._answer_callback(query)
        if pending is None or pending.chat_id != chat_id or pending.expires_at < time.monotonic():
            await self.transport.edit(query, "This sell request expired; send /sell again.")
            return
        if action == "cancel":
            await self.transport.edit(query, f"Sell of {pending.label} cancelled.")
            return
        what = f"{pending.percent:g}% {pending.label}"
        try:
            future = engine_commands.request_manual_sell(self.ctx, pending.mint, pending.percent)
            intent_id = await asyncio.wait_for(asyncio.wrap_future(future), SELL_RESULT_TIMEOUT_S)
        except TimeoutError:
            await self.transport.edit(
                query, f"Sell of {what} sent to the executor; no answer yet. /trades shows what became of it."
            )
            return
        except Exception as exc:
            await self.transport.edit(query, f"Sell of {what} failed: {redact(exc)}")
            return
        self.ctx.publish(
            LogEvent(
                "info",
                SOURCE,
                f"manual sell {pending.percent:g}% of {short_mint(pending.mint)} requested (Telegram)",
            )
        )
        await self.transport.edit(query, f"Sell of {what} queued (intent #{intent_id}).")

    @authorized_only
    async def on_other_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        await self._answer_callback(update.callback_query, "That button is no longer in use.")

    async def on_other_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None or chat.id not in self.chat_ids:
            self.ignore_unauthorised(chat.id if chat is not None else None)
            return
        message = update.effective_message
        if message is not None and message.text and message.text.startswith("/"):
            await self.transport.answer(chat.id, "Unknown command. /help lists what I understand.")
