"""A wallet's net balance change in one transaction, and that change read as one swap."""

from __future__ import annotations

from typing import Any

from engine.decoding import programs
from engine.decoding.document import Meta
from engine.decoding.flows import NO_FLOWS, Flows, read_token_ixs
from engine.decoding.model import Side, SwapEvent
from engine.decoding.programs import TIP_AND_FEE_ACCOUNTS, WSOL_MINT

# The records below are plain classes with __slots__ rather than msgspec structs: compiled (see
# docs/DECODER.md, "Compiled"), a plain class becomes a C struct whose fields are read directly, while a
# msgspec struct's fields are looked up by name like any Python object's.


class TokenAccount:
    """One token account of the transaction: its key's index, mint, owner and raw amounts before and after."""

    __slots__ = ("index", "mint", "owner", "pre", "post")

    def __init__(self, index: int, mint: str, owner: str | None, pre: int = 0, post: int = 0) -> None:
        self.index = index
        self.mint = mint
        self.owner = owner
        self.pre = pre
        self.post = post


class TokenTable:
    """The token balances of one transaction, read once for every trader."""

    __slots__ = ("accounts", "decimals", "movers", "unbalanced", "fee_gain", "emptied")

    def __init__(
        self,
        accounts: dict[int, TokenAccount],
        decimals: dict[str, int],
        movers: set[str | None],
        unbalanced: bool,
        fee_gain: bool,
        emptied: list[TokenAccount],
    ) -> None:
        self.accounts = accounts  # by accountIndex
        self.decimals = decimals
        self.movers = movers  # owners of a non-WSOL token account whose amount changed
        self.unbalanced = unbalanced  # a non-WSOL mint's amounts do not net to zero (MintTo / Burn)
        self.fee_gain = fee_gain  # a tip or fee account (or an account one owns) gained tokens
        self.emptied = emptied  # token accounts whose lamports went to zero (closed)


def token_table(meta: Meta, keys: list[str], pre: list[int], post: list[int]) -> TokenTable:
    """Token accounts by accountIndex with pre/post raw amounts (a missing side counts as 0), decimals, and
    what the early exit and the choice of instructions to read need from them, in one pass."""
    accounts: dict[int, TokenAccount] = {}
    decimals: dict[str, Any] = {}
    for entry in meta.preTokenBalances or ():
        ui = entry.uiTokenAmount
        index, mint = entry.accountIndex, entry.mint
        accounts[index] = TokenAccount(index, mint, entry.owner, ui.amount)
        decimals[mint] = ui.decimals
    find = accounts.get
    for entry in meta.postTokenBalances or ():
        ui = entry.uiTokenAmount
        index = entry.accountIndex
        account = find(index)
        if account is None:
            mint = entry.mint
            accounts[index] = TokenAccount(index, mint, entry.owner, 0, ui.amount)
            if mint not in decimals:
                decimals[mint] = ui.decimals
        else:
            account.post = ui.amount
            if account.owner is None:
                account.owner = entry.owner
    if None in decimals.values():  # an entry without decimals: take them from another entry of the mint
        decimals = _stated_decimals(meta)
    movers: set[str | None] = set()
    net_by_mint: dict[str, int] = {}
    fee_gain = False
    emptied: list[TokenAccount] = []
    tip_and_fee = TIP_AND_FEE_ACCOUNTS
    for account in accounts.values():
        index = account.index
        if not post[index] and pre[index]:
            emptied.append(account)  # closed; its rent may go to a trader
        delta = account.post - account.pre
        if delta:
            mint = account.mint
            if mint == WSOL_MINT:  # wrapping changes WSOL amounts; its legs are lamports
                continue
            owner = account.owner
            movers.add(owner)
            net_by_mint[mint] = net_by_mint.get(mint, 0) + delta
            if delta > 0 and (owner in tip_and_fee or keys[index] in tip_and_fee):
                fee_gain = True
    return TokenTable(
        accounts,
        decimals,  # no None left
        movers,
        any(net_by_mint.values()),
        fee_gain,
        emptied,
    )


def _stated_decimals(meta: Meta) -> dict[str, int]:
    decimals: dict[str, int] = {}
    for entry in [*(meta.preTokenBalances or ()), *(meta.postTokenBalances or ())]:
        if entry.uiTokenAmount.decimals is not None:
            decimals.setdefault(entry.mint, entry.uiTokenAmount.decimals)
    return decimals


# Only to rank two quote legs of one trade against each other (a real leg against the dust of a hop):
# a lamport amount is compared with a stablecoin amount as if one SOL were worth this many dollars.
_SOL_USD_ORDER_OF_MAGNITUDE = 100
_STABLE_MINTS = programs.STABLE_MINTS


def _quote_value(mint: str, delta: int, decimals: dict[str, int]) -> float:
    if mint == WSOL_MINT:
        return abs(delta) / 1e9 * _SOL_USD_ORDER_OF_MAGNITUDE
    return abs(delta) / 10 ** decimals.get(mint, 6)


class TxBalances:
    """What every trader of one transaction shares: keys, balances, token accounts and flows."""

    __slots__ = (
        "keys",
        "key_index",
        "fee",
        "pre",
        "post",
        "token_accounts",
        "decimals",
        "flows",
        "owner_of",
        "mints",
    )

    def __init__(
        self,
        keys: list[str],
        key_index: dict[str, int],
        fee: int,
        pre: list[int],
        post: list[int],
        token_accounts: dict[int, TokenAccount],
        decimals: dict[str, int],
        flows: Flows,
        owner_of: dict[str, str | None],
        mints: set[str],
    ) -> None:
        self.keys = keys
        self.key_index = key_index
        self.fee = fee
        self.pre = pre
        self.post = post
        self.token_accounts = token_accounts
        self.decimals = decimals
        self.flows = flows
        self.owner_of = owner_of  # token account key -> owner
        self.mints = mints  # every mint with a token balance in the transaction


def net_legs(
    wallet: str, wallet_index: int, tx: TxBalances, owned: list[TokenAccount]
) -> tuple[int, dict[str, int], set[str]]:
    """The wallet's net SOL (lamports, wrapped included) and per-mint token changes with fees, tips and rent
    left out; also the mints it holds an account of. `owned`: its token accounts, in table order."""
    pre, post = tx.pre, tx.post
    flows = tx.flows
    # Lamports of the wallet plus lamports of every token account it owns: WSOL balance, wrap/unwrap and
    # ATA rent moved between the wallet and its own accounts all cancel out here.
    sol_delta = post[wallet_index] - pre[wallet_index]
    if wallet_index == 0:
        sol_delta += tx.fee
    legs: dict[str, int] = {}
    held: set[str] = set()
    if flows is NO_FLOWS:  # no System or Token instruction was read: the balances are the whole story
        for acct in owned:
            index = acct.index
            sol_delta += post[index] - pre[index]
            mint = acct.mint
            if mint != WSOL_MINT:
                held.add(mint)
                legs[mint] = legs.get(mint, 0) + acct.post - acct.pre
        return sol_delta, legs, held
    keys = tx.keys
    owned_keys: dict[str, str] = {}
    for acct in owned:
        index = acct.index
        sol_delta += post[index] - pre[index]
        owned_keys[keys[index]] = acct.mint
    tokens_out, closes, lp_accounts = flows.tokens_out, flows.closes, flows.lp_accounts
    if flows.token_ixs:
        more_out, more_closes, more_lp = read_token_ixs(
            wallet, owned_keys, flows.token_ixs, tx.owner_of, tx.mints
        )
        tokens_out, closes, lp_accounts = tokens_out + more_out, closes + more_closes, lp_accounts | more_lp
    for acct in owned:
        if acct.mint == WSOL_MINT or keys[acct.index] in lp_accounts:
            continue
        held.add(acct.mint)
        legs[acct.mint] = legs.get(acct.mint, 0) + acct.post - acct.pre
    sol_delta += flows.lamports_out.get(wallet, 0)
    if tokens_out:
        tip_and_fee = TIP_AND_FEE_ACCOUNTS
        owner_of = tx.owner_of
        for source, destination, amount in tokens_out:
            source_mint = owned_keys.get(source)
            if source_mint is None or not (
                destination in tip_and_fee or owner_of.get(destination) in tip_and_fee
            ):
                continue
            if source_mint == WSOL_MINT:
                sol_delta += amount
            else:
                legs[source_mint] = legs.get(source_mint, 0) + amount
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


def balance_swap(
    wallet: str, sol_delta: int, legs: dict[str, int], tx: TxBalances, venue: str, router: str | None
) -> SwapEvent | None:
    """The wallet's net change as one swap: the token it gained or lost against the quote it paid or got."""
    decimals = tx.decimals
    tokens: dict[str, int] = {}
    stables = 0
    for mint, delta in legs.items():
        if delta:
            if mint in _STABLE_MINTS:
                stables += 1
            else:
                tokens[mint] = delta
    # Quotes in the order of the stablecoin table, then SOL.
    quotes = {m: legs[m] for m in _STABLE_MINTS if legs.get(m)} if stables else {}
    if sol_delta:
        quotes[WSOL_MINT] = sol_delta
    side: Side
    if len(tokens) == 1:
        ((mint, token_delta),) = tokens.items()
        bought = token_delta > 0
        opposite = [(m, d) for m, d in quotes.items() if (d > 0) != bought]
        if not opposite:
            return None
        # Stables come first in `quotes`; a larger-valued SOL leg still wins over a stable hop's dust.
        quote_mint, quote_delta = (
            opposite[0]
            if len(opposite) == 1
            else max(opposite, key=lambda leg: _quote_value(leg[0], leg[1], decimals))
        )
        side = "buy" if bought else "sell"
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
