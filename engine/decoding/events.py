"""Pump.fun and PumpSwap events: the exact fills the programs log about their own trades."""

from __future__ import annotations

import base64
import binascii
import re
import struct

from engine.decoding.model import SwapEvent
from engine.decoding.programs import PUMPFUN_PROGRAM, PUMPSWAP_PROGRAM, STABLE_QUOTE_MINTS, WSOL_MINT
from engine.decoding.wire import Instruction, pubkey_str

EVENT_CPI_TAG = bytes.fromhex("e445a52e51cb9a1d")
PUMP_TRADE_EVENT = bytes.fromhex("bddb7fd34ee661ee")
PUMPSWAP_BUY_EVENT = bytes.fromhex("67f4521f2cf57777")
PUMPSWAP_SELL_EVENT = bytes.fromhex("3e2f370aa503dc2a")

_U64 = 8
# Events are at least 97 bytes (about 133 base58 characters): data shorter than 97 characters or bytes (the
# buy/sell instruction itself) is skipped before it is decoded.
_EVENT_MIN_LEN = 97
EVENT_PROGRAMS = frozenset({PUMPFUN_PROGRAM, PUMPSWAP_PROGRAM})


class EventTrade:
    """A fill read from a program's own event: exact amounts for one user (a plain class, see balances.py)."""

    __slots__ = ("user", "mint", "is_buy", "token_amount", "quote_mint", "quote_amount", "venue")

    def __init__(
        self,
        user: str,
        mint: str,
        is_buy: bool,
        token_amount: int,
        quote_mint: str,
        quote_amount: int,
        venue: str,
    ) -> None:
        self.user = user
        self.mint = mint
        self.is_buy = is_buy
        self.token_amount = token_amount
        self.quote_mint = quote_mint
        self.quote_amount = quote_amount
        self.venue = venue


def u64(data: bytes, offset: int) -> int:
    return int.from_bytes(data[offset : offset + _U64], "little")


# Pump.fun TradeEvent after the mint: sol_amount, token_amount (u64 LE), is_buy (u8), read in one call.
_PUMP_AMOUNTS = struct.Struct("<QQB")


PUMP_CREATE_EVENT = bytes.fromhex("1b72a94ddeeb6376")
PUMP_LOGGED_EVENTS = frozenset({PUMP_TRADE_EVENT, PUMP_CREATE_EVENT})
PUMPSWAP_LOGGED_EVENTS = frozenset({PUMPSWAP_BUY_EVENT, PUMPSWAP_SELL_EVENT})
_BASE58_CHARS_PER_BYTE = 1.3657  # log(256) / log(58)


def logged_events(lines: list[str]) -> list[bytes]:
    """Anchor events logged as "Program data: <base64>" (base64 decodes in C; base58 does not)."""
    payloads = []
    for line in lines:
        if line.startswith("Program data: "):
            try:
                payloads.append(base64.b64decode(line[14:]))
            except ValueError:
                continue
    return payloads


# A log line "Program data: <base64>" found straight in the raw JSON array of log lines. Without a backslash
# in the array no string holds an escape or a quote, so every match is one whole line of that form.
_PROGRAM_DATA = re.compile(rb'"Program data: ([^"]*)"')
_LOGGED_EVENT_PREFIXES = tuple(
    base64.b64encode(tag)[:10] for tag in (*PUMP_LOGGED_EVENTS, *PUMPSWAP_LOGGED_EVENTS)
)


def logged_events_raw(raw_lines: bytes) -> list[bytes] | None:
    """logged_events on the raw JSON log array (msgspec.Raw), without building a string per line; None
    when the array holds escapes (then it is decoded as usual)."""
    if b"\\" in raw_lines:
        return None
    payloads = []
    for match in _PROGRAM_DATA.findall(raw_lines):
        # Only the four events read here are decoded: their 8-byte tags fix the first 10 base64 characters.
        if not match.startswith(_LOGGED_EVENT_PREFIXES):
            continue
        try:
            payloads.append(binascii.a2b_base64(match))
        except ValueError:
            continue
    return payloads


def event_datas(
    instructions: list[Instruction], program_id: str, logged: frozenset[bytes], logs: list[bytes] | None
) -> list[bytes]:
    """The self-CPI event instructions of one program, as bytes. The same events are logged in base64;
    when the log holds exactly as many of this program's events as there are event instructions, of
    matching sizes, the log copies are used, else (truncated log, another program's look-alike event)
    the instructions are decoded."""
    candidates = [
        ix
        for ix in instructions
        if ix.program_id == program_id and not ix.top_level and ix.data_len_hint() >= _EVENT_MIN_LEN
    ]
    if not candidates:
        return []
    if logs is not None and all(isinstance(ix.raw_data, str) for ix in candidates):
        payloads = [payload for payload in logs if payload[:8] in logged]
        if len(payloads) == len(candidates) and all(
            abs((len(payload) + 8) * _BASE58_CHARS_PER_BYTE - ix.data_len_hint()) <= 2
            for payload, ix in zip(payloads, candidates, strict=True)
        ):
            return [EVENT_CPI_TAG + payload for payload in payloads]
    return [ix.data() for ix in candidates]


def pump_trade_events(datas: list[bytes]) -> list[EventTrade]:
    """Pump.fun TradeEvent from the self-CPI: tag, disc, mint, sol_amount, token_amount, is_buy, user."""
    trades = []
    for data in datas:
        if len(data) < 97 or data[:8] != EVENT_CPI_TAG or data[8:16] != PUMP_TRADE_EVENT:
            continue
        sol_amount, token_amount, is_buy = _PUMP_AMOUNTS.unpack_from(data, 48)
        if sol_amount <= 0 or token_amount <= 0:
            continue  # a quote-paired (USDC) v2 trade leaves sol_amount at 0: let balance deltas read it
        trades.append(
            EventTrade(
                user=pubkey_str(data[65:97]),
                mint=pubkey_str(data[16:48]),
                is_buy=is_buy == 1,
                token_amount=token_amount,
                quote_mint=WSOL_MINT,
                quote_amount=sol_amount,
                venue="pumpfun",
            )
        )
    return trades


def pumpswap_events(datas: list[bytes], account_mints: dict[str, tuple[str, str | None]]) -> list[EventTrade]:
    """PumpSwap Buy/SellEvent: base amount at +8, user-side quote amount at +104, user and its token
    accounts after the pool key. Mints come from the user's token accounts; anything unexpected is skipped."""
    trades = []
    for data in datas:
        if (
            len(data) < 256
            or data[:8] != EVENT_CPI_TAG
            or data[8:16] not in (PUMPSWAP_BUY_EVENT, PUMPSWAP_SELL_EVENT)
        ):
            continue
        body = data[16:]
        is_buy = data[8:16] == PUMPSWAP_BUY_EVENT
        base_amount, user_quote_amount = u64(body, 8), u64(body, 104)
        user = pubkey_str(body[144:176])
        base_info = account_mints.get(pubkey_str(body[176:208]))
        quote_info = account_mints.get(pubkey_str(body[208:240]))
        quote_mint = (
            quote_info[0] if quote_info else WSOL_MINT
        )  # a temporary WSOL account is gone from balances
        if base_info is None or base_amount <= 0 or user_quote_amount <= 0:
            continue
        if quote_mint != WSOL_MINT and quote_mint not in STABLE_QUOTE_MINTS:
            continue
        trades.append(
            EventTrade(
                user=user,
                mint=base_info[0],
                is_buy=is_buy,
                token_amount=base_amount,
                quote_mint=quote_mint,
                quote_amount=user_quote_amount,
                venue="pumpswap",
            )
        )
    return trades


def event_swaps(
    trades: list[EventTrade], wallet: str, decimals: dict[str, int], router: str | None
) -> list[SwapEvent]:
    """One swap per (mint, direction, venue) for this user, summing repeated fills."""
    totals: dict[tuple[str, bool, str, str], list[int]] = {}
    for trade in trades:
        if trade.user != wallet:
            continue
        key = (trade.mint, trade.is_buy, trade.quote_mint, trade.venue)
        total = totals.setdefault(key, [0, 0])
        total[0] += trade.token_amount
        total[1] += trade.quote_amount
    return [
        SwapEvent(
            wallet,
            "buy" if is_buy else "sell",
            mint,
            token_amount,
            decimals.get(mint),
            quote_mint,
            quote_amount,
            venue,
            router,
        )
        for (mint, is_buy, quote_mint, venue), (token_amount, quote_amount) in totals.items()
    ]
