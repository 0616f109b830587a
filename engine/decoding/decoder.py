"""Pure swap decoding: a getTransaction result in, the swaps of its traders out (no I/O, no threads)."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import orjson

from engine.decoding import programs
from engine.decoding.model import DecodedTransaction, DecodeError, Side, SwapEvent
from engine.decoding.programs import (
    JITO_TIP_ACCOUNTS,
    PUMPFUN_PROGRAM,
    PUMPSWAP_PROGRAM,
    STABLE_QUOTE_MINTS,
    SYSTEM_PROGRAM,
    TOKEN_PROGRAMS,
    WSOL_MINT,
)
from engine.decoding.wire import Instruction, WireTransaction, pubkey_str, read_wire

EVENT_CPI_TAG = bytes.fromhex("e445a52e51cb9a1d")
PUMP_TRADE_EVENT = bytes.fromhex("bddb7fd34ee661ee")
PUMPSWAP_BUY_EVENT = bytes.fromhex("67f4521f2cf57777")
PUMPSWAP_SELL_EVENT = bytes.fromhex("3e2f370aa503dc2a")

_INVOKE_LOG = re.compile(r"Program (\w+) invoke \[\d+\]")
_U64 = 8


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


def _pump_trade_events(instructions: list[Instruction]) -> list[_EventTrade]:
    """Pump.fun TradeEvent from the self-CPI: tag, disc, mint, sol_amount, token_amount, is_buy, user."""
    trades = []
    for ix in instructions:
        if ix.program_id != PUMPFUN_PROGRAM or ix.top_level:
            continue
        data = ix.data()
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
    instructions: list[Instruction], account_mints: dict[str, tuple[str, str | None]]
) -> list[_EventTrade]:
    """PumpSwap Buy/SellEvent: base amount at +8, user-side quote amount at +104, user and its token
    accounts after the pool key. Mints come from the user's token accounts; anything unexpected is skipped."""
    trades = []
    for ix in instructions:
        if ix.program_id != PUMPSWAP_PROGRAM or ix.top_level:
            continue
        data = ix.data()
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


def _invoked_programs(wire: WireTransaction, meta: dict[str, Any]) -> list[str]:
    seen: dict[str, None] = {ix.program_id: None for ix in wire.instructions}
    if meta.get("innerInstructions") is None:
        # Inner instructions were not recorded: the invoke lines in the logs still name every program.
        for line in meta.get("logMessages") or ():
            match = _INVOKE_LOG.match(line)
            if match:
                seen.setdefault(match.group(1), None)
    return list(seen)


def _venue_and_router(program_ids: list[str]) -> tuple[list[str], list[str]]:
    amms: list[str] = []
    routers: list[str] = []
    for program_id in program_ids:
        entry = programs.VENUE_PROGRAMS.get(program_id)
        if entry is None:
            continue
        name, kind = entry
        bucket = amms if kind == "amm" else routers
        if name not in bucket:
            bucket.append(name)
    return amms, routers


def _pick_venue(amms: list[str], routers: list[str]) -> str:
    """One AMM: that AMM. Several AMMs: the router that split the route (else the first AMM)."""
    if len(amms) == 1:
        return amms[0]
    if amms:
        return routers[0] if routers else amms[0]
    return routers[0] if routers else "unknown"


@dataclass(slots=True)
class _SystemFlows:
    tips: dict[str, int]
    creates: list[tuple[str, str, int]]  # (payer, new account, lamports)


def _system_flows(instructions: list[Instruction]) -> _SystemFlows:
    """Jito tips and account-creation rent paid by each wallet, so they can be kept out of the swap size."""
    tips: dict[str, int] = defaultdict(int)
    creates: list[tuple[str, str, int]] = []
    for ix in instructions:
        if ix.program_id != SYSTEM_PROGRAM:
            continue
        if ix.parsed is not None:
            kind, info = ix.parsed.get("type"), ix.parsed.get("info") or {}
            if kind == "transfer" and info.get("destination") in JITO_TIP_ACCOUNTS:
                tips[info.get("source")] += int(info.get("lamports") or 0)
            elif kind in ("createAccount", "createAccountWithSeed"):
                creates.append((info.get("source"), info.get("newAccount"), int(info.get("lamports") or 0)))
            continue
        data = ix.data()
        if len(data) < 12 or len(ix.accounts) < 2:
            continue
        tag = int.from_bytes(data[:4], "little")
        if tag == 2 and ix.accounts[1] in JITO_TIP_ACCOUNTS:
            tips[ix.accounts[0]] += _u64(data, 4)
        elif tag == 0:
            creates.append((ix.accounts[0], ix.accounts[1], _u64(data, 4)))
        elif tag == 3 and len(data) >= 44:
            seed_len = _u64(data, 36)
            creates.append((ix.accounts[0], ix.accounts[1], _u64(data, 44 + seed_len)))
    return _SystemFlows(tips, creates)


def _minted_or_burned_accounts(instructions: list[Instruction]) -> set[str]:
    """Token accounts that received a MintTo or lost a Burn: LP / position tokens, not swap legs."""
    touched: set[str] = set()
    for ix in instructions:
        if ix.program_id not in TOKEN_PROGRAMS:
            continue
        if ix.parsed is not None:
            kind, info = ix.parsed.get("type"), ix.parsed.get("info") or {}
            if kind in ("mintTo", "mintToChecked", "burn", "burnChecked") and info.get("account"):
                touched.add(info["account"])
            continue
        data = ix.data()
        if not data or len(ix.accounts) < 2:
            continue
        if data[0] in (7, 14):  # MintTo / MintToChecked: [mint, destination, authority]
            touched.add(ix.accounts[1])
        elif data[0] in (8, 15):  # Burn / BurnChecked: [source, mint, owner]
            touched.add(ix.accounts[0])
    return touched


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
    for field, attr in (("preTokenBalances", "pre"), ("postTokenBalances", "post")):
        for entry in meta.get(field) or ():
            index = int(entry["accountIndex"])
            ui = entry["uiTokenAmount"]
            mint = str(entry["mint"])
            account = accounts.get(index)
            if account is None:
                account = accounts[index] = _TokenAccount(index, mint, entry.get("owner"))
            elif account.owner is None:
                account.owner = entry.get("owner")
            setattr(account, attr, int(ui["amount"]))
            if ui.get("decimals") is not None:
                decimals.setdefault(mint, int(ui["decimals"]))
    return accounts, decimals


def _balance_swap(
    wallet: str,
    wallet_index: int,
    *,
    fee: int,
    pre: list[int],
    post: list[int],
    keys: list[str],
    token_accounts: dict[int, _TokenAccount],
    decimals: dict[str, int],
    flows: _SystemFlows,
    lp_accounts: set[str],
    venue: str,
    router: str | None,
) -> SwapEvent | None:
    """Spec §4 balance deltas for one wallet, netting out fee, tips, rent and WSOL wrapping."""
    owned = [acct for acct in token_accounts.values() if acct.owner == wallet]
    # Lamports of the wallet plus lamports of every token account it owns: WSOL balance, wrap/unwrap and
    # ATA rent moved between the wallet and its own accounts all cancel out here.
    sol_delta = post[wallet_index] - pre[wallet_index]
    if wallet_index == 0:
        sol_delta += fee
    owned_keys = set()
    for acct in owned:
        sol_delta += post[acct.index] - pre[acct.index]
        owned_keys.add(keys[acct.index])
    sol_delta += flows.tips.get(wallet, 0)
    key_index = {key: i for i, key in enumerate(keys)}
    for payer, new_account, lamports in flows.creates:
        if payer != wallet or new_account in owned_keys:
            continue
        new_index = key_index.get(new_account)
        if new_index is not None and post[new_index] > 0:
            sol_delta += lamports  # rent for an account that outlives the tx (PDA, someone else's ATA)

    legs: dict[str, int] = defaultdict(int)
    for acct in owned:
        if acct.mint == WSOL_MINT or keys[acct.index] in lp_accounts:
            continue
        legs[acct.mint] += acct.post - acct.pre
    tokens = {mint: delta for mint, delta in legs.items() if delta and mint not in STABLE_QUOTE_MINTS}
    stables = {mint: legs[mint] for mint in STABLE_QUOTE_MINTS if legs.get(mint)}

    side: Side
    if len(tokens) == 1:
        mint, token_delta = next(iter(tokens.items()))
        quote_mint, quote_delta = _opposite_quote(token_delta, stables, sol_delta)
        if quote_mint is None:
            return None
        side = "buy" if token_delta > 0 else "sell"
    elif not tokens and stables:
        # SOL against a stablecoin: the stablecoin is the quote and SOL (WSOL) the token.
        stable_mint, stable_delta = next(iter(stables.items()))
        if sol_delta and (sol_delta > 0) != (stable_delta > 0):
            mint, token_delta, quote_mint, quote_delta = WSOL_MINT, sol_delta, stable_mint, stable_delta
            side = "buy" if sol_delta > 0 else "sell"
        else:
            received = [m for m, d in stables.items() if d > 0]
            given = [m for m, d in stables.items() if d < 0]
            if not (received and given):
                return None
            mint, quote_mint = received[0], given[0]
            token_delta, quote_delta, side = stables[mint], stables[quote_mint], "swap"
    elif len(tokens) >= 2:
        # Token -> token: "swap", mint = what the wallet received, quote = what it gave.
        received = [m for m, d in tokens.items() if d > 0]
        given = [m for m, d in tokens.items() if d < 0]
        if not (received and given):
            return None
        # Leftover dust of an intermediate hop is also a leg: keep the largest in whole-token terms.
        mint = max(received, key=lambda m: tokens[m] / 10 ** decimals.get(m, 0))
        quote_mint = min(given, key=lambda m: tokens[m] / 10 ** decimals.get(m, 0))
        token_delta, quote_delta, side = tokens[mint], tokens[quote_mint], "swap"
    else:
        return None
    if mint == WSOL_MINT:
        token_decimals: int | None = 9
    else:
        token_decimals = decimals.get(mint)
    return SwapEvent(
        wallet, side, mint, abs(token_delta), token_decimals, quote_mint, abs(quote_delta), venue, router
    )


def _opposite_quote(token_delta: int, stables: dict[str, int], sol_delta: int) -> tuple[str | None, int]:
    for mint, delta in stables.items():
        if (delta > 0) != (token_delta > 0):
            return mint, delta
    if sol_delta and (sol_delta > 0) != (token_delta > 0):
        return WSOL_MINT, sol_delta
    return None, 0


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


def _opt_int(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _decode(tx: Any, wallet: str | None, allow_unknown_venue: bool) -> DecodedTransaction:
    if not isinstance(tx, dict):
        raise DecodeError("transaction is not a JSON object")
    meta = tx.get("meta")
    if not isinstance(meta, dict):
        raise DecodeError("transaction has no meta")
    if wallet is not None and not isinstance(wallet, str):
        raise DecodeError("wallet must be a base58 string")
    wire = read_wire(tx)
    fee = int(meta.get("fee") or 0)
    failed = meta.get("err") is not None
    slot, block_time = _opt_int(tx.get("slot")), _opt_int(tx.get("blockTime"))
    if failed:
        return DecodedTransaction(wire.signature, slot, block_time, True, fee, ())
    pre = [int(v) for v in meta.get("preBalances") or ()]
    post = [int(v) for v in meta.get("postBalances") or ()]
    if len(pre) != len(wire.keys) or len(post) != len(wire.keys):
        raise DecodeError("account keys and balances differ in length (lookup tables missing?)")

    amms, routers = _venue_and_router(_invoked_programs(wire, meta))
    if not amms and not routers and not allow_unknown_venue:
        return DecodedTransaction(wire.signature, slot, block_time, False, fee, ())
    venue, router = _pick_venue(amms, routers), (routers[0] if routers else None)

    token_accounts, decimals = _token_accounts(meta)
    account_mints = {wire.keys[a.index]: (a.mint, a.owner) for a in token_accounts.values()}
    trades = _pump_trade_events(wire.instructions) + _pumpswap_events(wire.instructions, account_mints)
    signers = wire.keys[: wire.signer_count]
    if wallet is None:
        candidates = list(dict.fromkeys(signers + [t.user for t in trades]))
    else:
        candidates = [wallet]
    key_index = {key: i for i, key in enumerate(wire.keys)}
    flows: _SystemFlows | None = None
    lp_accounts: set[str] | None = None
    swaps: list[SwapEvent] = []
    for candidate in candidates:
        event_swaps = _event_swaps(trades, candidate, decimals, router)
        if event_swaps:
            swaps.extend(event_swaps)
            continue
        wallet_index = key_index.get(candidate)
        if wallet_index is None:
            continue
        if flows is None:
            flows = _system_flows(wire.instructions)
            lp_accounts = _minted_or_burned_accounts(wire.instructions)
        swap = _balance_swap(
            candidate,
            wallet_index,
            fee=fee,
            pre=pre,
            post=post,
            keys=wire.keys,
            token_accounts=token_accounts,
            decimals=decimals,
            flows=flows,
            lp_accounts=lp_accounts or set(),
            venue=venue,
            router=router,
        )
        if swap is not None:
            swaps.append(swap)
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
