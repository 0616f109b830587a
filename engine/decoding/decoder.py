"""Pure swap decoding: a getTransaction result in, the swaps of its traders out (no I/O, no threads)."""

from __future__ import annotations

import base64
import dataclasses
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from engine.decoding import programs
from engine.decoding.model import DecodedTransaction, DecodeError, Side, SwapEvent
from engine.decoding.programs import (
    INFRASTRUCTURE_PROGRAMS,
    PUMPFUN_PROGRAM,
    PUMPSWAP_PROGRAM,
    STABLE_QUOTE_MINTS,
    SYSTEM_PROGRAM,
    TIP_AND_FEE_ACCOUNTS,
    TOKEN_PROGRAMS,
    WSOL_MINT,
)
from engine.decoding.wire import Instruction, WireTransaction, pubkey_str, read_wire

EVENT_CPI_TAG = bytes.fromhex("e445a52e51cb9a1d")
PUMP_TRADE_EVENT = bytes.fromhex("bddb7fd34ee661ee")
PUMPSWAP_BUY_EVENT = bytes.fromhex("67f4521f2cf57777")
PUMPSWAP_SELL_EVENT = bytes.fromhex("3e2f370aa503dc2a")

_INVOKE_LOG = re.compile(r"Program (\w+) invoke \[(\d+)\]")
_U64 = 8
# Events are at least 97 bytes (about 133 base58 characters): data shorter than 97 characters or bytes (the
# buy/sell instruction itself) is skipped before it is decoded.
_EVENT_MIN_LEN = 97
_EVENT_PROGRAMS = frozenset({PUMPFUN_PROGRAM, PUMPSWAP_PROGRAM})
_KEPT_PROGRAMS = frozenset({SYSTEM_PROGRAM, *TOKEN_PROGRAMS, *_EVENT_PROGRAMS})
_WITH_SYSTEM = frozenset({SYSTEM_PROGRAM, *_EVENT_PROGRAMS})
_WITH_TOKEN = frozenset({*TOKEN_PROGRAMS, *_EVENT_PROGRAMS})


@dataclass(frozen=True, slots=True)
class _EventTrade:
    """A fill read from a program's own event: exact amounts for one user."""

    user: str
    mint: str
    is_buy: bool
    token_amount: int
    quote_mint: str
    quote_amount: int
    venue: str


def _u64(data: bytes, offset: int) -> int:
    return int.from_bytes(data[offset : offset + _U64], "little")


PUMP_CREATE_EVENT = bytes.fromhex("1b72a94ddeeb6376")
_PUMP_LOGGED_EVENTS = frozenset({PUMP_TRADE_EVENT, PUMP_CREATE_EVENT})
_PUMPSWAP_LOGGED_EVENTS = frozenset({PUMPSWAP_BUY_EVENT, PUMPSWAP_SELL_EVENT})
_BASE58_CHARS_PER_BYTE = 1.3657  # log(256) / log(58)


def _logged_events(meta: dict[str, Any]) -> list[bytes]:
    """Anchor events logged as "Program data: <base64>" (base64 decodes in C; base58 does not)."""
    payloads = []
    for line in meta.get("logMessages") or ():
        if line.startswith("Program data: "):
            try:
                payloads.append(base64.b64decode(line[14:]))
            except ValueError:
                continue
    return payloads


def _event_datas(
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


def _pump_trade_events(datas: list[bytes]) -> list[_EventTrade]:
    """Pump.fun TradeEvent from the self-CPI: tag, disc, mint, sol_amount, token_amount, is_buy, user."""
    trades = []
    for data in datas:
        if len(data) < 97 or data[:8] != EVENT_CPI_TAG or data[8:16] != PUMP_TRADE_EVENT:
            continue
        sol_amount, token_amount = _u64(data, 48), _u64(data, 56)
        if sol_amount <= 0 or token_amount <= 0:
            continue  # a quote-paired (USDC) v2 trade leaves sol_amount at 0: let balance deltas read it
        trades.append(
            _EventTrade(
                user=pubkey_str(data[65:97]),
                mint=pubkey_str(data[16:48]),
                is_buy=data[64] == 1,
                token_amount=token_amount,
                quote_mint=WSOL_MINT,
                quote_amount=sol_amount,
                venue="pumpfun",
            )
        )
    return trades


def _pumpswap_events(
    datas: list[bytes], account_mints: dict[str, tuple[str, str | None]]
) -> list[_EventTrade]:
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
        base_amount, user_quote_amount = _u64(body, 8), _u64(body, 104)
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
            _EventTrade(
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


def _invoked_programs(wire: WireTransaction, meta: dict[str, Any]) -> dict[str, bool]:
    """Every program invoked -> whether it ran as a CPI (inner) anywhere; from the invoke logs when inner
    instructions were not recorded."""
    seen = wire.invoked
    if meta.get("innerInstructions") is None:
        for line in meta.get("logMessages") or ():
            match = _INVOKE_LOG.match(line)
            if match:
                program_id = match.group(1)
                if match.group(2) != "1":
                    seen[program_id] = True
                else:
                    seen.setdefault(program_id, False)
    return seen


def _venue_and_router(invoked: dict[str, bool]) -> tuple[list[str], list[str], list[str], bool]:
    """Known AMMs, known routers, unknown programs (in order), and whether an unknown one ran as a CPI."""
    amms: list[str] = []
    routers: list[str] = []
    unknown: list[str] = []
    unknown_inner = False
    table = programs.VENUE_PROGRAMS
    for program_id, inner in invoked.items():
        entry = table.get(program_id)
        if entry is None:
            if program_id not in INFRASTRUCTURE_PROGRAMS:
                unknown.append(program_id)
                unknown_inner = unknown_inner or inner
            continue
        name, kind = entry
        bucket = amms if kind == "amm" else routers
        if name not in bucket:
            bucket.append(name)
    return amms, routers, unknown, unknown_inner


def _pick_venue(amms: list[str], routers: list[str], unknown_amm_in_route: bool) -> str:
    """One AMM: that AMM. Several AMMs, or one next to an unknown program a router called: the router that
    split the route (else the first AMM). Only a router: the router. Nothing known: "unknown"."""
    if len(amms) == 1 and not (unknown_amm_in_route and routers):
        return amms[0]
    if amms:
        return routers[0] if routers else amms[0]
    return routers[0] if routers else "unknown"


@dataclass(slots=True)
class _Flows:
    """Value that left a wallet but is not part of its swap, read from System and Token instructions.

    Token instructions in wire form are kept undecoded: each wallet decodes only the few that touch its
    own accounts (base58 decoding is most of the cost of reading a json transaction)."""

    lamports_out: dict[str, int]  # wallet -> lamports sent to tip and fee accounts
    creates: list[tuple[str, str, int]]  # (payer, new account, lamports)
    tokens_out: list[tuple[str, str, int]]  # jsonParsed: (source, destination token account, amount)
    closes: list[tuple[str, str]]  # jsonParsed: (closed token account, rent destination)
    lp_accounts: set[str]  # jsonParsed: token accounts that received a MintTo or lost a Burn
    token_ixs: list[Instruction]  # wire form, undecoded


# Data length as stored (base58 characters in json, bytes in base64) from which a System instruction can
# be an account creation (52+ bytes); a transfer is 12 bytes (at most 17 base58 characters).
_CREATE_MIN_LEN = 30


def _flows(
    instructions: list[Instruction],
    owner_of: dict[str, str | None],
    key_index: dict[str, int],
    post: list[int],
) -> _Flows:
    """Tips and fees paid in SOL, account-creation rent; token instructions for the wallets to read."""
    lamports_out: dict[str, int] = defaultdict(int)
    creates: list[tuple[str, str, int]] = []
    tokens_out: list[tuple[str, str, int]] = []
    closes: list[tuple[str, str]] = []
    lp_accounts: set[str] = set()
    token_ixs: list[Instruction] = []
    tip_and_fee = TIP_AND_FEE_ACCOUNTS
    for ix in instructions:
        program_id = ix.program_id
        if program_id == SYSTEM_PROGRAM:
            if ix.parsed is not None:
                kind, info = ix.parsed.get("type"), ix.parsed.get("info") or {}
                if kind == "transfer" and info.get("destination") in tip_and_fee:
                    lamports_out[info.get("source")] += int(info.get("lamports") or 0)
                elif kind in ("createAccount", "createAccountWithSeed"):
                    creates.append(
                        (info.get("source"), info.get("newAccount"), int(info.get("lamports") or 0))
                    )
                continue
            accounts = ix.accounts
            if len(accounts) < 2:
                continue
            if accounts[1] not in tip_and_fee and (
                ix.data_len_hint() < _CREATE_MIN_LEN
                or owner_of.get(accounts[1]) == accounts[0]
                or not post[key_index.get(accounts[1], 0)]
            ):
                continue  # not a tip, nor the rent of an account (not the payer's own) that outlives the tx
            data = ix.data()
            if len(data) < 12 or data[1:4] != b"\0\0\0":
                continue
            tag = data[0]
            if tag == 2:
                if accounts[1] in tip_and_fee:
                    lamports_out[accounts[0]] += _u64(data, 4)
            elif tag == 0:
                creates.append((accounts[0], accounts[1], _u64(data, 4)))
            elif tag == 3 and len(data) >= 44:
                seed_len = _u64(data, 36)
                creates.append((accounts[0], accounts[1], _u64(data, 44 + seed_len)))
        elif program_id in TOKEN_PROGRAMS:
            if ix.parsed is None:
                if len(ix.accounts) >= 2:
                    token_ixs.append(ix)
                continue
            kind, info = ix.parsed.get("type"), ix.parsed.get("info") or {}
            if kind in ("transfer", "transferChecked"):
                amount = info.get("amount")
                if amount is None:
                    amount = (info.get("tokenAmount") or {}).get("amount")
                tokens_out.append((info.get("source"), info.get("destination"), int(amount or 0)))
            elif kind in ("mintTo", "mintToChecked", "burn", "burnChecked") and info.get("account"):
                lp_accounts.add(info["account"])
            elif kind == "closeAccount":
                closes.append((info.get("account"), info.get("destination")))
    return _Flows(lamports_out, creates, tokens_out, closes, lp_accounts, token_ixs)


def _read_token_ixs(
    wallet: str,
    owned_keys: dict[str, str],
    token_ixs: list[Instruction],
    owner_of: dict[str, str | None],
    mints: set[str],
) -> tuple[list[tuple[str, str, int]], list[tuple[str, str]], set[str]]:
    """This wallet's fee transfers, closes of accounts that pay it rent, and LP mints/burns, decoding
    only the token instructions that touch its own accounts (or pay it)."""
    tokens_out: list[tuple[str, str, int]] = []
    closes: list[tuple[str, str]] = []
    lp_accounts: set[str] = set()
    tip_and_fee = TIP_AND_FEE_ACCOUNTS
    for ix in token_ixs:
        accounts = ix.accounts
        first, second = accounts[0], accounts[1]
        # Decode only what can matter to this wallet: a MintTo into / Burn from its account (the mint is
        # then one of the transaction's mints), a transfer from its account to a fee account, or a close
        # that pays it rent. Its ordinary swap transfers are read from the balances instead.
        if first in owned_keys:
            if not (
                second in mints
                or second in tip_and_fee
                or owner_of.get(second) in tip_and_fee
                or (
                    len(accounts) >= 4
                    and (accounts[2] in tip_and_fee or owner_of.get(accounts[2]) in tip_and_fee)
                )
            ):
                continue
        elif second in owned_keys:
            if first not in mints:
                continue
        elif second != wallet:
            continue
        data = ix.data()
        if not data:
            continue
        tag = data[0]
        if tag == 3 and len(data) >= 9 and len(accounts) >= 3:  # Transfer: [source, destination, auth]
            if first in owned_keys and (second in tip_and_fee or owner_of.get(second) in tip_and_fee):
                tokens_out.append((first, second, _u64(data, 1)))
        elif tag == 12 and len(data) >= 9 and len(accounts) >= 4:  # TransferChecked: [src, mint, dst, auth]
            third = accounts[2]
            if first in owned_keys and (third in tip_and_fee or owner_of.get(third) in tip_and_fee):
                tokens_out.append((first, third, _u64(data, 1)))
        elif tag in (7, 14):  # MintTo / MintToChecked: [mint, destination, authority]
            lp_accounts.add(second)
        elif tag in (8, 15):  # Burn / BurnChecked: [source, mint, owner]
            lp_accounts.add(first)
        elif tag == 9:  # CloseAccount: [account, destination, owner]
            closes.append((first, second))
    return tokens_out, closes, lp_accounts


@dataclass(slots=True)
class _TokenAccount:
    index: int
    mint: str
    owner: str | None
    pre: int = 0
    post: int = 0


def _token_accounts(meta: dict[str, Any]) -> tuple[dict[int, _TokenAccount], dict[str, int]]:
    """Token accounts by accountIndex with pre/post raw amounts (a missing side counts as 0), and decimals."""
    accounts: dict[int, _TokenAccount] = {}
    decimals: dict[str, int] = {}
    for entries, is_pre in ((meta.get("preTokenBalances"), True), (meta.get("postTokenBalances"), False)):
        for entry in entries or ():
            index = int(entry["accountIndex"])
            ui = entry["uiTokenAmount"]
            account = accounts.get(index)
            if account is None:
                mint = str(entry["mint"])
                account = accounts[index] = _TokenAccount(index, mint, entry.get("owner"))
                if mint not in decimals and ui.get("decimals") is not None:
                    decimals[mint] = int(ui["decimals"])
            elif account.owner is None:
                account.owner = entry.get("owner")
            if is_pre:
                account.pre = int(ui["amount"])
            else:
                account.post = int(ui["amount"])
    return accounts, decimals


# Only to rank two quote legs of one trade against each other (a real leg against the dust of a hop):
# a lamport amount is compared with a stablecoin amount as if one SOL were worth this many dollars.
_SOL_USD_ORDER_OF_MAGNITUDE = 100
_STABLE_MINTS = programs.STABLE_MINTS


def _quote_value(mint: str, delta: int, decimals: dict[str, int]) -> float:
    if mint == WSOL_MINT:
        return abs(delta) / 1e9 * _SOL_USD_ORDER_OF_MAGNITUDE
    return abs(delta) / 10 ** decimals.get(mint, 6)


@dataclass(slots=True)
class _Tx:
    """What every trader of one transaction shares: keys, balances, token accounts and flows."""

    keys: list[str]
    key_index: dict[str, int]
    fee: int
    pre: list[int]
    post: list[int]
    token_accounts: dict[int, _TokenAccount]
    decimals: dict[str, int]
    flows: _Flows
    owner_of: dict[str, str | None]  # token account key -> owner
    mints: set[str]  # every mint with a token balance in the transaction


def _net_legs(wallet: str, wallet_index: int, tx: _Tx) -> tuple[int, dict[str, int], set[str]]:
    """The wallet's net SOL (lamports, wrapped included) and per-mint token changes with fees, tips and rent
    left out; also the mints it holds an account of."""
    keys, pre, post = tx.keys, tx.pre, tx.post
    flows = tx.flows
    # Lamports of the wallet plus lamports of every token account it owns: WSOL balance, wrap/unwrap and
    # ATA rent moved between the wallet and its own accounts all cancel out here.
    sol_delta = post[wallet_index] - pre[wallet_index]
    if wallet_index == 0:
        sol_delta += tx.fee
    owned: list[_TokenAccount] = []
    owned_keys: dict[str, str] = {}
    for acct in tx.token_accounts.values():
        if acct.owner == wallet:
            index = acct.index
            sol_delta += post[index] - pre[index]
            owned_keys[keys[index]] = acct.mint
            owned.append(acct)
    tokens_out, closes, lp_accounts = flows.tokens_out, flows.closes, flows.lp_accounts
    if flows.token_ixs:
        more_out, more_closes, more_lp = _read_token_ixs(
            wallet, owned_keys, flows.token_ixs, tx.owner_of, tx.mints
        )
        tokens_out, closes, lp_accounts = tokens_out + more_out, closes + more_closes, lp_accounts | more_lp
    legs: dict[str, int] = defaultdict(int)
    held: set[str] = set()
    for acct in owned:
        if acct.mint == WSOL_MINT or keys[acct.index] in lp_accounts:
            continue
        held.add(acct.mint)
        legs[acct.mint] += acct.post - acct.pre
    sol_delta += flows.lamports_out.get(wallet, 0)
    if tokens_out:
        tip_and_fee = TIP_AND_FEE_ACCOUNTS
        owner_of = tx.owner_of
        for source, destination, amount in tokens_out:
            mint = owned_keys.get(source)
            if mint is None or not (destination in tip_and_fee or owner_of.get(destination) in tip_and_fee):
                continue
            if mint == WSOL_MINT:
                sol_delta += amount
            else:
                legs[mint] += amount
    for payer, new_account, lamports in flows.creates:
        if payer != wallet or new_account in owned_keys:
            continue
        new_index = tx.key_index.get(new_account)
        if new_index is not None and post[new_index] > 0:
            sol_delta += lamports  # rent for an account that outlives the tx (PDA, someone else's ATA)
    for closed, destination in closes:
        if destination != wallet or closed in owned_keys:
            continue
        closed_index = tx.key_index.get(closed)
        if closed_index is not None:
            sol_delta -= pre[closed_index]  # rent refunded from an account that was not the wallet's
    return sol_delta, legs, held


def _balance_swap(
    wallet: str, sol_delta: int, legs: dict[str, int], tx: _Tx, venue: str, router: str | None
) -> SwapEvent | None:
    """The wallet's net change as one swap: the token it gained or lost against the quote it paid or got."""
    decimals = tx.decimals
    tokens = {mint: delta for mint, delta in legs.items() if delta and mint not in _STABLE_MINTS}
    quotes = {mint: legs[mint] for mint in _STABLE_MINTS if legs.get(mint)}
    if sol_delta:
        quotes[WSOL_MINT] = sol_delta
    side: Side
    if len(tokens) == 1:
        mint, token_delta = next(iter(tokens.items()))
        opposite = [(m, d) for m, d in quotes.items() if (d > 0) != (token_delta > 0)]
        if not opposite:
            return None
        # Stables come first in `quotes`; a larger-valued SOL leg still wins over a stable hop's dust.
        quote_mint, quote_delta = max(opposite, key=lambda leg: _quote_value(leg[0], leg[1], decimals))
        side = "buy" if token_delta > 0 else "sell"
    elif not tokens:
        received = [(m, d) for m, d in quotes.items() if d > 0]
        given = [(m, d) for m, d in quotes.items() if d < 0]
        if not (received and given):
            return None
        got = max(received, key=lambda leg: _quote_value(leg[0], leg[1], decimals))
        gave = max(given, key=lambda leg: _quote_value(leg[0], leg[1], decimals))
        if got[0] == WSOL_MINT or gave[0] == WSOL_MINT:
            # SOL against a stablecoin: the stablecoin is the quote and SOL (WSOL) the token.
            (mint, token_delta), (quote_mint, quote_delta) = (
                (got, gave) if got[0] == WSOL_MINT else (gave, got)
            )
            side = "buy" if token_delta > 0 else "sell"
        else:
            (mint, token_delta), (quote_mint, quote_delta), side = got, gave, "swap"
    else:
        # Token -> token: "swap", mint = what the wallet received, quote = what it gave.
        received_mints = [m for m, d in tokens.items() if d > 0]
        given_mints = [m for m, d in tokens.items() if d < 0]
        if not (received_mints and given_mints):
            return None
        # Leftover dust of an intermediate hop is also a leg: keep the largest in whole-token terms.
        mint = max(received_mints, key=lambda m: tokens[m] / 10 ** decimals.get(m, 0))
        quote_mint = min(given_mints, key=lambda m: tokens[m] / 10 ** decimals.get(m, 0))
        token_delta, quote_delta, side = tokens[mint], tokens[quote_mint], "swap"
    token_decimals = 9 if mint == WSOL_MINT else decimals.get(mint)
    return SwapEvent(
        wallet, side, mint, abs(token_delta), token_decimals, quote_mint, abs(quote_delta), venue, router
    )


def _event_swaps(
    trades: list[_EventTrade], wallet: str, decimals: dict[str, int], router: str | None
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


def _wallet_swaps(
    wallet: str, events: list[SwapEvent], tx: _Tx, venue: str, router: str | None
) -> list[SwapEvent]:
    """The wallet's swaps: its net balance change, read from the program's own event when that event
    describes the whole trade (same token, quote and direction), else from the balances."""
    wallet_index = tx.key_index.get(wallet)
    if wallet_index is None:
        return events
    if not events and not any(
        acct.owner == wallet and acct.post != acct.pre and acct.mint != WSOL_MINT
        for acct in tx.token_accounts.values()
    ):
        return []  # no token or stablecoin of its own moved: whatever its SOL did, it is no swap
    sol_delta, legs, held = _net_legs(wallet, wallet_index, tx)
    balance = _balance_swap(wallet, sol_delta, legs, tx, venue, router)
    if not events:
        return [balance] if balance is not None else []
    if balance is not None:
        same_mint = [e for e in events if e.mint == balance.mint]
        if (
            len(same_mint) == 1
            and same_mint[0].side == balance.side
            and same_mint[0].quote_mint == balance.quote_mint
        ):
            return [same_mint[0]]
        return [balance]
    # No net swap in the balances: an event of a token the wallet holds and whose net change is zero is
    # one leg of a round trip or arbitrage, not a trade; other events stand (e.g. several tokens bought).
    return [e for e in events if e.mint not in held or legs.get(e.mint)]


def _opt_int(value: Any) -> int | None:
    return value if type(value) is int else None


def _programs_to_read(
    pre: Any, post: Any, token_accounts: dict[int, _TokenAccount], wallet: str | None
) -> Callable[[list[str], int], frozenset[str]]:
    """Which instructions are worth reading, decided from the balances once the keys are known: System
    only if a tip/fee account gained lamports or an account was created, Token only if a mint's amounts do
    not net to zero (MintTo / Burn), a fee account gained tokens, or a token account of someone else was
    closed. Most swaps need neither: their amounts are all in the balances."""

    def choose(keys: list[str], signer_count: int) -> frozenset[str]:
        if len(pre) != len(keys) or len(post) != len(keys):
            return _KEPT_PROGRAMS  # the caller raises on this; read everything meanwhile
        traders = set(keys[:signer_count])
        if wallet is not None:
            traders.add(wallet)
        tip_and_fee = TIP_AND_FEE_ACCOUNTS
        need_system = any(
            post[i] > pre[i] and (pre[i] == 0 or key in tip_and_fee) for i, key in enumerate(keys)
        )
        need_token = False
        net_by_mint: dict[str, int] = {}
        for acct in token_accounts.values():
            delta = acct.post - acct.pre
            if delta and acct.mint != WSOL_MINT:  # wrapping changes WSOL amounts; its legs are lamports
                net_by_mint[acct.mint] = net_by_mint.get(acct.mint, 0) + delta
                if delta > 0 and (acct.owner in tip_and_fee or keys[acct.index] in tip_and_fee):
                    need_token = True
            if acct.owner not in traders and pre[acct.index] and not post[acct.index]:
                need_token = True  # closed; its rent may go to a trader
        if need_token or any(net_by_mint.values()):
            return _KEPT_PROGRAMS if need_system else _WITH_TOKEN
        return _WITH_SYSTEM if need_system else _EVENT_PROGRAMS

    return choose


def _decode(tx: Any, wallet: str | None, allow_unknown_venue: bool) -> DecodedTransaction:
    if not isinstance(tx, dict):
        raise DecodeError("transaction is not a JSON object")
    meta = tx.get("meta")
    if not isinstance(meta, dict):
        raise DecodeError("transaction has no meta")
    if wallet is not None and not isinstance(wallet, str):
        raise DecodeError("wallet must be a base58 string")
    fee = int(meta.get("fee") or 0)
    failed = meta.get("err") is not None
    slot, block_time = _opt_int(tx.get("slot")), _opt_int(tx.get("blockTime"))
    if failed:
        return DecodedTransaction(read_wire(tx).signature, slot, block_time, True, fee, ())
    # int(): a balance that is not an integer (a float from a hand-edited file) must not reach the amounts.
    pre = [int(v) for v in meta.get("preBalances") or ()]
    post = [int(v) for v in meta.get("postBalances") or ()]
    token_accounts, decimals = _token_accounts(meta)
    wire = read_wire(tx, _programs_to_read(pre, post, token_accounts, wallet))
    if len(pre) != len(wire.keys) or len(post) != len(wire.keys):
        raise DecodeError("account keys and balances differ in length (lookup tables missing?)")

    amms, routers, unknown, unknown_inner = _venue_and_router(_invoked_programs(wire, meta))
    if not amms and not routers and not unknown and not allow_unknown_venue:
        # Only System / Token programs: transfers, not a swap (unless the caller trades like that, e.g. sim).
        return DecodedTransaction(wire.signature, slot, block_time, False, fee, ())
    venue, router = _pick_venue(amms, routers, unknown_inner), (routers[0] if routers else None)
    unknown_programs = tuple(unknown) if venue == "unknown" else ()

    keys = wire.keys
    owner_of = {keys[a.index]: a.owner for a in token_accounts.values()}
    instructions = wire.instructions
    trades: list[_EventTrade] = []
    if PUMPFUN_PROGRAM in wire.invoked or PUMPSWAP_PROGRAM in wire.invoked:
        logs = _logged_events(meta) if meta.get("logMessages") else None
        trades = _pump_trade_events(
            _event_datas(instructions, PUMPFUN_PROGRAM, _PUMP_LOGGED_EVENTS, logs)
        ) + _pumpswap_events(
            _event_datas(instructions, PUMPSWAP_PROGRAM, _PUMPSWAP_LOGGED_EVENTS, logs),
            {keys[a.index]: (a.mint, a.owner) for a in token_accounts.values()},
        )
    candidates = keys[: wire.signer_count] if wallet is None else [wallet]
    key_index = {key: i for i, key in enumerate(keys)}
    shared = _Tx(
        keys,
        key_index,
        fee,
        pre,
        post,
        token_accounts,
        decimals,
        _flows(instructions, owner_of, key_index, post),
        owner_of,
        {a.mint for a in token_accounts.values()},
    )
    swaps: list[SwapEvent] = []
    for candidate in dict.fromkeys(candidates):
        events = _event_swaps(trades, candidate, decimals, router) if trades else []
        for swap in _wallet_swaps(candidate, events, shared, venue, router):
            swaps.append(dataclasses.replace(swap, programs=unknown_programs) if unknown_programs else swap)
    return DecodedTransaction(wire.signature, slot, block_time, False, fee, tuple(swaps))


def decode_transaction(
    tx: dict, wallet: str | None = None, *, allow_unknown_venue: bool = False
) -> DecodedTransaction:
    """Decode one getTransaction `result` (json, jsonParsed or base64 encoding).

    Without `wallet`, every signer's swaps (and every Pump trader's); with it, only that wallet's.
    `allow_unknown_venue` lets balance deltas report swaps in txs with no known DEX program (venue
    "unknown"), e.g. the local simulator's plain SOL + SPL transfer trades. Raises only DecodeError.
    """
    try:
        return _decode(tx, wallet, allow_unknown_venue)
    except DecodeError:
        raise
    except Exception as exc:  # noqa: BLE001 - garbage in must give one short DecodeError, never a traceback
        raise DecodeError(f"malformed transaction ({type(exc).__name__})") from None


def decode_raw(
    raw: bytes, wallet: str | None = None, *, allow_unknown_venue: bool = False
) -> DecodedTransaction:
    """Decode getTransaction JSON bytes: a bare `result` or a {jsonrpc, id, result} envelope."""
    try:
        document = orjson.loads(raw)
    except (orjson.JSONDecodeError, TypeError):
        raise DecodeError("not valid JSON") from None
    if isinstance(document, dict) and "result" in document and "meta" not in document:
        if document.get("error"):
            raise DecodeError("RPC response carries an error")
        document = document["result"]
        if document is None:
            raise DecodeError("transaction not found (result is null)")
    return decode_transaction(document, wallet, allow_unknown_venue=allow_unknown_venue)
