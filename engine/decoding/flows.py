"""Value that leaves a wallet without being part of its swap: tips, bot fees, rent, LP mints and burns."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from engine.decoding.events import u64
from engine.decoding.programs import SYSTEM_PROGRAM, TIP_AND_FEE_ACCOUNTS, TOKEN_PROGRAMS
from engine.decoding.wire import Instruction


class Flows:
    """Value that left a wallet but is not part of its swap, read from System and Token instructions.

    Token instructions in wire form are kept undecoded: each wallet decodes only the few that touch its
    own accounts (base58 decoding is most of the cost of reading a json transaction). Account keys read
    from jsonParsed `info` may be missing (None): such a flow matches no wallet."""

    __slots__ = ("lamports_out", "creates", "tokens_out", "closes", "lp_accounts", "token_ixs")

    def __init__(
        self,
        lamports_out: dict[Any, int],
        creates: list[tuple[Any, Any, int]],
        tokens_out: list[tuple[Any, Any, int]],
        closes: list[tuple[Any, Any]],
        lp_accounts: set[str],
        token_ixs: list[Instruction],
    ) -> None:
        self.lamports_out = lamports_out  # wallet -> lamports sent to tip and fee accounts
        self.creates = creates  # (payer, new account, lamports)
        self.tokens_out = tokens_out  # jsonParsed: (source, destination token account, amount)
        self.closes = closes  # jsonParsed: (closed token account, rent destination)
        self.lp_accounts = lp_accounts  # jsonParsed: token accounts that received a MintTo or lost a Burn
        self.token_ixs = token_ixs  # wire form, undecoded


# A transaction none of whose System or Token instructions were read: nothing flowed aside (never mutated).
NO_FLOWS = Flows({}, [], [], [], set(), [])

# Data length as stored (base58 characters in json, bytes in base64) from which a System instruction can
# be an account creation (52+ bytes); a transfer is 12 bytes (at most 17 base58 characters).
_CREATE_MIN_LEN = 30


def read_flows(
    instructions: list[Instruction],
    owner_of: dict[str, str | None],
    key_index: dict[str, int],
    post: list[int],
) -> Flows:
    """Tips and fees paid in SOL, account-creation rent; token instructions for the wallets to read."""
    lamports_out: dict[Any, int] = defaultdict(int)
    creates: list[tuple[Any, Any, int]] = []
    tokens_out: list[tuple[Any, Any, int]] = []
    closes: list[tuple[Any, Any]] = []
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
                    lamports_out[accounts[0]] += u64(data, 4)
            elif tag == 0:
                creates.append((accounts[0], accounts[1], u64(data, 4)))
            elif tag == 3 and len(data) >= 44:
                seed_len = u64(data, 36)
                creates.append((accounts[0], accounts[1], u64(data, 44 + seed_len)))
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
    return Flows(lamports_out, creates, tokens_out, closes, lp_accounts, token_ixs)


def read_token_ixs(
    wallet: str,
    owned_keys: dict[str, str],
    token_ixs: list[Instruction],
    owner_of: dict[str, str | None],
    mints: set[str],
) -> tuple[list[tuple[str, str, int]], list[tuple[str, str]], set[str]]:
    """This wallet's fee transfers, closes of accounts that pay it rent, and LP mints/burns, decoding
    only the token instructions that touch its own accounts (or pay it)."""
    tokens_out: list[tuple[Any, Any, int]] = []
    closes: list[tuple[Any, Any]] = []
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
                tokens_out.append((first, second, u64(data, 1)))
        elif tag == 12 and len(data) >= 9 and len(accounts) >= 4:  # TransferChecked: [src, mint, dst, auth]
            third = accounts[2]
            if first in owned_keys and (third in tip_and_fee or owner_of.get(third) in tip_and_fee):
                tokens_out.append((first, third, u64(data, 1)))
        elif tag in (7, 14):  # MintTo / MintToChecked: [mint, destination, authority]
            lp_accounts.add(second)
        elif tag in (8, 15):  # Burn / BurnChecked: [source, mint, owner]
            lp_accounts.add(first)
        elif tag == 9:  # CloseAccount: [account, destination, owner]
            closes.append((first, second))
    return tokens_out, closes, lp_accounts
