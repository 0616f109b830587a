"""Pure swap decoding: a getTransaction result in, the swaps of its traders out (no I/O, no threads)."""

from __future__ import annotations

from typing import Any

from msgspec.structs import replace

from engine.decoding.balances import (
    TokenAccount,
    TokenTable,
    TxBalances,
    balance_swap,
    net_legs,
    token_table,
)
from engine.decoding.document import Meta, Transaction, from_dict, log_lines, parse_raw
from engine.decoding.events import (
    EVENT_PROGRAMS,
    PUMP_LOGGED_EVENTS,
    PUMPSWAP_LOGGED_EVENTS,
    EventTrade,
    event_datas,
    event_swaps,
    logged_events,
    logged_events_raw,
    pump_trade_events,
    pumpswap_events,
)
from engine.decoding.flows import NO_FLOWS, read_flows
from engine.decoding.model import DecodedTransaction, DecodeError, SwapEvent
from engine.decoding.programs import (
    PUMPFUN_PROGRAM,
    PUMPSWAP_PROGRAM,
    SYSTEM_PROGRAM,
    TIP_AND_FEE_ACCOUNTS,
    TOKEN_PROGRAMS,
    WSOL_MINT,
)
from engine.decoding.venue import invoked_programs, pick_venue, venue_and_router
from engine.decoding.wire import Instruction, read_message, walk

_KEPT_PROGRAMS = frozenset({SYSTEM_PROGRAM, *TOKEN_PROGRAMS, *EVENT_PROGRAMS})
_WITH_SYSTEM = frozenset({SYSTEM_PROGRAM, *EVENT_PROGRAMS})
_WITH_TOKEN = frozenset({*TOKEN_PROGRAMS, *EVENT_PROGRAMS})


def _wallet_swaps(
    wallet: str,
    wallet_index: int | None,
    events: list[SwapEvent],
    tx: TxBalances,
    owned: list[TokenAccount],
    venue: str,
    router: str | None,
) -> list[SwapEvent]:
    """The wallet's swaps: its net balance change, read from the program's own event when that event
    describes the whole trade (same token, quote and direction), else from the balances. The caller has
    already left out a wallet with no event whose own tokens did not move (no swap, whatever its SOL did)."""
    if wallet_index is None:
        return events
    sol_delta, legs, held = net_legs(wallet, wallet_index, tx, owned)
    balance = balance_swap(wallet, sol_delta, legs, tx, venue, router)
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


def _programs_to_read(
    keys: list[str], signer_count: int, wallet: str | None, pre: list[int], post: list[int], table: TokenTable
) -> frozenset[str]:
    """Which instructions are worth reading, decided from the balances: System only if a tip/fee account
    gained lamports or an account was created, Token only if a mint's amounts do not net to zero (MintTo /
    Burn), a fee account gained tokens, or a token account of someone else was closed. Most swaps need
    neither: their amounts are all in the balances."""
    # A plain loop: compiled (setup.py), it runs on unboxed ints, several times faster than map/compress.
    tip_and_fee = TIP_AND_FEE_ACCOUNTS
    need_system = False
    for index in range(len(keys)):  # the caller checked that pre, post and keys have one length
        before = pre[index]
        if post[index] > before and (before == 0 or keys[index] in tip_and_fee):
            need_system = True
            break
    need_token = table.unbalanced or table.fee_gain
    if not need_token and table.emptied:
        traders = set(keys[:signer_count])
        if wallet is not None:
            traders.add(wallet)
        need_token = any(account.owner not in traders for account in table.emptied)
    if need_token:
        return _KEPT_PROGRAMS if need_system else _WITH_TOKEN
    return _WITH_SYSTEM if need_system else EVENT_PROGRAMS


def _holdings(wallet_index: int, mint: str, tx: TxBalances, owned: list[TokenAccount]) -> tuple[int, int]:
    """The wallet's own balance of `mint` before and after (all its token accounts of that mint; for SOL,
    its lamports plus its wrapped SOL): what a sell fraction is computed from."""
    before = after = 0
    if mint == WSOL_MINT:
        before, after = tx.pre[wallet_index], tx.post[wallet_index]
    for acct in owned:
        if acct.mint == mint:
            before += acct.pre
            after += acct.post
    return before, after


def _event_trades(
    instructions: list[Instruction], meta: Meta, keys: list[str], accounts: dict[int, TokenAccount]
) -> list[EventTrade]:
    """The Pump.fun and PumpSwap fills of this transaction; the log is read only when an event
    instruction holds base58 data (json encoding), since its base64 copy decodes in C."""
    pump = [ix for ix in instructions if ix.program_id == PUMPFUN_PROGRAM]
    pumpswap = [ix for ix in instructions if ix.program_id == PUMPSWAP_PROGRAM]
    logs = None
    if any(isinstance(ix.raw_data, str) and not ix.top_level for ix in pump + pumpswap):
        logs = logged_events_raw(bytes(meta.logMessages))
        if logs is None:
            lines = log_lines(meta)
            logs = logged_events(lines) if lines else None
    trades = pump_trade_events(event_datas(pump, PUMPFUN_PROGRAM, PUMP_LOGGED_EVENTS, logs)) if pump else []
    if pumpswap:
        datas = event_datas(pumpswap, PUMPSWAP_PROGRAM, PUMPSWAP_LOGGED_EVENTS, logs)
        if datas:
            trades += pumpswap_events(datas, {keys[a.index]: (a.mint, a.owner) for a in accounts.values()})
    return trades


def _decode(tx: Transaction, wallet: Any, allow_unknown_venue: bool) -> DecodedTransaction:
    meta = tx.meta
    if meta is None:
        raise DecodeError("transaction has no meta")
    if wallet is not None and not isinstance(wallet, str):
        raise DecodeError("wallet must be a base58 string")
    fee = meta.fee
    slot, block_time = tx.slot, tx.blockTime
    message = read_message(tx)
    if meta.err is not None:
        return DecodedTransaction(message.signature, slot, block_time, True, fee, ())
    keys = message.keys
    pre, post = meta.preBalances, meta.postBalances
    if len(pre) != len(keys) or len(post) != len(keys):
        raise DecodeError("account keys and balances differ in length (lookup tables missing?)")
    table = token_table(meta, keys, pre, post)
    accounts, decimals, movers = table.accounts, table.decimals, table.movers
    candidates = keys[: message.signer_count] if wallet is None else [wallet]
    # Fast exit, before any instruction is read: a trader with no program event whose own tokens did not
    # move has no swap, whatever its SOL did; only Pump.fun and PumpSwap write such events.
    events_possible = PUMPFUN_PROGRAM in keys or PUMPSWAP_PROGRAM in keys
    if not events_possible and movers.isdisjoint(candidates):
        return DecodedTransaction(message.signature, slot, block_time, False, fee, ())

    keep = _programs_to_read(keys, message.signer_count, wallet, pre, post, table)
    instructions, invoked = walk(message, meta, keep)
    if meta.innerInstructions is None:  # not recorded: the invoke log lines name the inner programs
        invoked = invoked_programs(invoked, meta)
    amms, routers, unknown, unknown_inner = venue_and_router(invoked)
    if not amms and not routers and not unknown and not allow_unknown_venue:
        # Only System / Token programs: transfers, not a swap (unless the caller trades like that, e.g. sim).
        return DecodedTransaction(message.signature, slot, block_time, False, fee, ())
    venue, router = pick_venue(amms, routers, unknown_inner), (routers[0] if routers else None)
    unknown_programs = tuple(unknown) if venue == "unknown" else ()

    trades: list[EventTrade] = []
    if instructions and (PUMPFUN_PROGRAM in invoked or PUMPSWAP_PROGRAM in invoked):
        trades = _event_trades(instructions, meta, keys, accounts)
    if keep is EVENT_PROGRAMS:  # no System or Token instruction was read: nothing flowed aside
        shared = TxBalances(keys, {}, fee, pre, post, accounts, decimals, NO_FLOWS, {}, set())
    else:
        key_index = dict(zip(keys, range(len(keys))))
        owner_of = {keys[a.index]: a.owner for a in accounts.values()}
        flows = read_flows(instructions, owner_of, key_index, post)
        mints = {a.mint for a in accounts.values()}
        shared = TxBalances(keys, key_index, fee, pre, post, accounts, decimals, flows, owner_of, mints)
    swaps: list[SwapEvent] = []
    for candidate in dict.fromkeys(candidates):
        events = event_swaps(trades, candidate, decimals, router) if trades else []
        if not events and candidate not in movers:
            continue
        try:
            index = keys.index(candidate)
        except ValueError:  # a wallet that is not a key: only its events (and no holdings) are known
            swaps.extend(replace(swap, programs=unknown_programs) for swap in events)
            continue
        owned = [acct for acct in accounts.values() if acct.owner == candidate]
        for swap in _wallet_swaps(candidate, index, events, shared, owned, venue, router):
            before, after = _holdings(index, swap.mint, shared, owned)
            swaps.append(replace(swap, programs=unknown_programs, owner_pre=before, owner_post=after))
    return DecodedTransaction(message.signature, slot, block_time, False, fee, tuple(swaps))


# The public entry points take `Any` for what a caller passes: compiled (docs/DECODER.md), a declared type is
# checked on entry and a wrong one would raise TypeError, where the decoder answers DecodeError.
def _guarded(tx: Transaction, wallet: Any, allow_unknown_venue: Any) -> DecodedTransaction:
    try:
        return _decode(tx, wallet, bool(allow_unknown_venue))
    except DecodeError:
        raise
    except Exception as exc:  # noqa: BLE001 - garbage in must give one short DecodeError, never a traceback
        raise DecodeError(f"malformed transaction ({type(exc).__name__})") from None


def decode_transaction(
    tx: Any, wallet: Any = None, *, allow_unknown_venue: Any = False
) -> DecodedTransaction:
    """Decode one getTransaction `result` (json, jsonParsed or base64 encoding).

    `tx` is a dict, `wallet` a base58 string or None, `allow_unknown_venue` a bool; anything else is a
    DecodeError. Without `wallet`, every signer's swaps (and every Pump trader's); with it, only that wallet's.
    `allow_unknown_venue` lets balance deltas report swaps in txs with no known DEX program (venue
    "unknown"), e.g. the local simulator's plain SOL + SPL transfer trades. Raises only DecodeError.
    """
    return _guarded(from_dict(tx), wallet, allow_unknown_venue)


def decode_raw(raw: Any, wallet: Any = None, *, allow_unknown_venue: Any = False) -> DecodedTransaction:
    """Decode getTransaction JSON bytes (bytes, or a str of JSON): a bare `result` or a {jsonrpc, id, result}
    envelope; as decode_transaction otherwise."""
    return _guarded(parse_raw(raw), wallet, allow_unknown_venue)
