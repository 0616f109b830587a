"""The local cluster's chain state: LiteSVM accounts, the slot clock, blockhash validity, landing
transactions (preflight, execution, balances) and the per-address signature index."""

from __future__ import annotations

import bisect
import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from solders.account import Account
from solders.hash import Hash
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata

from engine.sim.config import DEFAULT_BLOCKHASH_TTL_BLOCKS, ChaosSettings
from engine.sim.fees import compute_budget_of, fee_for
from engine.sim.landed import LandedTx, inner_json, memo_of, return_data_json
from engine.sim.txformat import (
    TOKEN_PROGRAMS,
    is_landing_error,
    mint_decimals,
    parse_token_account,
    tx_error_json,
    tx_error_text,
    ui_token_amount,
)

FAUCET_LAMPORTS = 10**18
SLOT_HISTORY = 150


class PreflightError(Exception):
    """sendTransaction refused before landing: JSON-RPC code, message and data in mainnet's shape."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


@dataclass
class SyntheticFailure:
    """An instruction failure decided by the market maker at landing time (e.g. slippage)."""

    instruction_index: int
    custom_code: int
    logs: list[str]
    compute_units: int = 30_000


LandingHook = Callable[[VersionedTransaction, list[str]], SyntheticFailure | None]


class Ledger:
    """Thread-safe chain state; every public method takes the lock."""

    def __init__(
        self, chaos: ChaosSettings, blockhash_ttl_blocks: int = DEFAULT_BLOCKHASH_TTL_BLOCKS
    ) -> None:
        self.lock = threading.RLock()
        self.chaos = chaos
        self.default_ttl = blockhash_ttl_blocks
        # Blockhash validity and signatures are checked here (per-blockhash expiry, -32003), so LiteSVM does neither.
        self.svm = LiteSVM().with_blockhash_check(False).with_sigverify(False).with_transaction_history(0)
        self.slot = 1
        self.block_height = 1
        self.slot_block_time = int(time.time())
        self.blockhashes: dict[str, int] = {}
        self._blockhash_order: deque[str] = deque()
        self.latest_blockhash = ""
        self.txs: dict[str, LandedTx] = {}
        self.seq = 0
        self._by_address: dict[str, tuple[list[int], list[LandedTx]]] = {}
        self._decimals: dict[str, int] = {}
        self._slot_fees: dict[int, int] = {}
        self.landing_hooks: list[LandingHook] = []
        self.landed_listeners: list[Callable[[LandedTx], None]] = []
        self.slot_listeners: list[Callable[[int, int], None]] = []
        self.faucet = Keypair()
        self.svm.set_account(self.faucet.pubkey(), Account(FAUCET_LAMPORTS, b"", Pubkey.default(), False, 0))
        self._rotate_blockhash()

    # -- clock --------------------------------------------------------------------------------

    @property
    def ttl(self) -> int:
        override = self.chaos.blockhash_ttl_slots
        return min(self.default_ttl, override) if override else self.default_ttl

    def _rotate_blockhash(self) -> None:
        self.svm.expire_blockhash()
        # LiteSVM's blockhashes follow one fixed sequence on every cluster, so a seeded trade would be signed
        # alike (one signature) on two chains; mixed with this chain's faucet key (random per cluster), each
        # blockhash belongs to one chain, as on a real cluster. LiteSVM checks none (the ledger does).
        digest = hashlib.sha256(bytes(self.faucet.pubkey()) + bytes(self.svm.latest_blockhash())).digest()
        blockhash = str(Hash(digest))
        self.latest_blockhash = blockhash
        self.blockhashes[blockhash] = self.block_height
        self._blockhash_order.append(blockhash)
        horizon = self.block_height - max(self.default_ttl, 1) - 5
        while self._blockhash_order and self.blockhashes[self._blockhash_order[0]] < horizon:
            del self.blockhashes[self._blockhash_order.popleft()]

    def advance_slot(self) -> int:
        """One slot passes: slot and block height advance and a fresh blockhash is issued."""
        with self.lock:
            self.slot += 1
            self.block_height += 1
            self.slot_block_time = int(time.time())
            self.svm.warp_to_slot(self.slot)
            self._rotate_blockhash()
            self._slot_fees.pop(self.slot - SLOT_HISTORY - 1, None)
            slot, parent = self.slot, self.slot - 1
        for listener in self.slot_listeners:
            listener(slot, parent)
        return slot

    def latest_blockhash_info(self) -> tuple[str, int]:
        with self.lock:
            blockhash = self.latest_blockhash
            return blockhash, self.blockhashes[blockhash] + self.ttl

    def is_blockhash_valid(self, blockhash: str) -> bool:
        with self.lock:
            issued = self.blockhashes.get(blockhash)
            return issued is not None and self.block_height <= issued + self.ttl

    # -- accounts -----------------------------------------------------------------------------

    def get_account(self, pubkey: Pubkey) -> Account | None:
        with self.lock:
            return self.svm.get_account(pubkey)

    def get_balance(self, pubkey: Pubkey) -> int:
        with self.lock:
            account = self.svm.get_account(pubkey)
            return account.lamports if account is not None else 0

    def set_account(self, pubkey: Pubkey, account: Account) -> None:
        with self.lock:
            self.svm.set_account(pubkey, account)

    def program_accounts(self, program_id: Pubkey) -> list[tuple[Pubkey, Account]]:
        with self.lock:
            return self.svm.get_program_accounts(program_id)

    def decimals_of(self, mint: str) -> int | None:
        with self.lock:
            cached = self._decimals.get(mint)
            if cached is not None:
                return cached
            account = self.svm.get_account(Pubkey.from_string(mint))
            if account is None:
                return None
            decimals = mint_decimals(bytes(account.data))
            if decimals is not None:
                self._decimals[mint] = decimals
            return decimals

    def rent_exempt_minimum(self, size: int) -> int:
        with self.lock:
            return self.svm.minimum_balance_for_rent_exemption(size)

    # -- transactions -------------------------------------------------------------------------

    def resolve_keys(self, msg: Any) -> tuple[list[str], list[str], list[str]]:
        """Static keys plus the addresses loaded from lookup tables (writable, readonly)."""
        keys = [str(k) for k in msg.account_keys]
        writable: list[str] = []
        readonly: list[str] = []
        if isinstance(msg, MessageV0):
            for lookup in msg.address_table_lookups:
                table = self.svm.get_account(lookup.account_key)
                if table is None:
                    raise PreflightError(
                        -32602,
                        "invalid transaction: Transaction loads an address table account that doesn't exist",
                    )
                data = bytes(table.data)
                addresses = [str(Pubkey.from_bytes(data[o : o + 32])) for o in range(56, len(data) - 31, 32)]
                writable += [addresses[i] for i in lookup.writable_indexes]
                readonly += [addresses[i] for i in lookup.readonly_indexes]
        return keys, writable, readonly

    def _balances(self, pubkeys: list[Pubkey], keys: list[str]) -> tuple[list[int], list[dict[str, Any]]]:
        lamports: list[int] = []
        token_balances: list[dict[str, Any]] = []
        for index, pubkey in enumerate(pubkeys):
            account = self.svm.get_account(pubkey)
            if account is None:
                lamports.append(0)
                continue
            lamports.append(account.lamports)
            program = str(account.owner)
            if program in TOKEN_PROGRAMS:
                parsed = parse_token_account(bytes(account.data))
                if parsed is None:
                    continue
                mint, owner, amount = parsed
                decimals = self.decimals_of(mint)
                if decimals is None:
                    continue
                token_balances.append(
                    {
                        "accountIndex": index,
                        "mint": mint,
                        "owner": owner,
                        "programId": program,
                        "uiTokenAmount": ui_token_amount(amount, decimals),
                    }
                )
        return lamports, token_balances

    def _check_signatures(self, tx: VersionedTransaction) -> None:
        if not all(tx.verify_with_results()):
            raise PreflightError(-32003, "Transaction signature verification failure")

    def simulate(
        self, tx: VersionedTransaction, sig_verify: bool = False, replace_recent_blockhash: bool = False
    ) -> dict[str, Any]:
        """simulateTransaction's value object in mainnet's shape."""
        with self.lock:
            if sig_verify:
                self._check_signatures(tx)
            msg = tx.message
            keys, loaded_w, loaded_r = self.resolve_keys(msg)
            all_keys = keys + loaded_w + loaded_r
            replacement = None
            if replace_recent_blockhash:
                blockhash, last_valid = self.latest_blockhash_info()
                replacement = {"blockhash": blockhash, "lastValidBlockHeight": last_valid}
            elif not self.is_blockhash_valid(str(msg.recent_blockhash)):
                return _sim_value("BlockhashNotFound", [], 0, None, None)
            synthetic = self._synthetic_failure(tx, all_keys)
            if synthetic is not None:
                err = {"InstructionError": [synthetic.instruction_index, {"Custom": synthetic.custom_code}]}
                return _sim_value(
                    err, synthetic.logs, synthetic.compute_units, None, replacement, fee=fee_for(msg, keys)
                )
            outcome = self.svm.simulate_transaction(tx)
            if isinstance(outcome, FailedTransactionMetadata):
                meta = outcome.meta()
                err = tx_error_json(outcome.err())
            else:
                meta = outcome.meta()
                err = None
            return _sim_value(
                err,
                list(meta.logs()),
                meta.compute_units_consumed(),
                return_data_json(meta),
                replacement,
                fee=fee_for(msg, keys),
            )

    def _synthetic_failure(self, tx: VersionedTransaction, keys: list[str]) -> SyntheticFailure | None:
        for hook in self.landing_hooks:
            failure = hook(tx, keys)
            if failure is not None:
                return failure
        return None

    def submit(
        self, tx: VersionedTransaction, raw: bytes | None = None, *, skip_preflight: bool = False
    ) -> str:
        """sendTransaction: returns the signature, or raises PreflightError in mainnet's shape.

        With skipPreflight a transaction that cannot land (expired blockhash, unfunded payer) is
        accepted and silently never lands, as an RPC node forwarding to the leader would do.
        """
        landed: LandedTx | None = None
        with self.lock:
            self._check_signatures(tx)
            signature = str(tx.signatures[0])
            if signature in self.txs:
                if skip_preflight:
                    return signature
                raise PreflightError(
                    -32002,
                    "Transaction simulation failed: This transaction has already been processed",
                    _sim_value("AlreadyProcessed", [], 0, None, None),
                )
            msg = tx.message
            if not self.is_blockhash_valid(str(msg.recent_blockhash)):
                if skip_preflight:
                    return signature
                raise PreflightError(
                    -32002,
                    "Transaction simulation failed: Blockhash not found",
                    _sim_value("BlockhashNotFound", [], 0, None, None),
                )
            if not skip_preflight:
                value = self.simulate(tx)
                if value["err"] is not None:
                    raise PreflightError(
                        -32002, f"Transaction simulation failed: {tx_error_text(value['err'])}", value
                    )
            landed = self._execute(tx, raw if raw is not None else bytes(tx))
        if landed is not None:
            for listener in self.landed_listeners:
                listener(landed)
        return signature

    def _execute(self, tx: VersionedTransaction, raw: bytes) -> LandedTx | None:
        msg = tx.message
        keys, loaded_w, loaded_r = self.resolve_keys(msg)
        all_keys = keys + loaded_w + loaded_r
        pubkeys = list(msg.account_keys) + [Pubkey.from_string(k) for k in loaded_w + loaded_r]
        pre_lamports, pre_tokens = self._balances(pubkeys, all_keys)
        synthetic = self._synthetic_failure(tx, all_keys)
        if synthetic is not None:
            fee = fee_for(msg, keys)
            payer = self.svm.get_account(pubkeys[0])
            if payer is None or payer.lamports < fee:
                return None
            # The failed swap still pays its fee, exactly as a failed instruction does on mainnet.
            self.svm.set_account(
                pubkeys[0],
                Account(payer.lamports - fee, payer.data, payer.owner, payer.executable, payer.rent_epoch),
            )
            err: Any = {"InstructionError": [synthetic.instruction_index, {"Custom": synthetic.custom_code}]}
            logs, inner, units, return_data = synthetic.logs, [], synthetic.compute_units, None
        else:
            outcome = self.svm.send_transaction(tx)
            if isinstance(outcome, FailedTransactionMetadata):
                err = tx_error_json(outcome.err())
                if not is_landing_error(err):
                    return None
                meta = outcome.meta()
            else:
                err = None
                meta = outcome
            fee = meta.fee()
            logs = list(meta.logs())
            units = meta.compute_units_consumed()
            return_data = return_data_json(meta)
            inner = [
                {"index": index, "instructions": [inner_json(item) for item in group]}
                for index, group in enumerate(meta.inner_instructions())
                if group
            ]
        post_lamports, post_tokens = self._balances(pubkeys, all_keys)
        self.seq += 1
        version: Any = 0 if isinstance(msg, MessageV0) else "legacy"
        landed = LandedTx(
            seq=self.seq,
            signature=str(tx.signatures[0]),
            slot=self.slot,
            block_time=self.slot_block_time,
            raw=raw,
            tx=tx,
            version=version,
            account_keys=all_keys,
            loaded_writable=loaded_w,
            loaded_readonly=loaded_r,
            err=err,
            fee=fee,
            pre_balances=pre_lamports,
            post_balances=post_lamports,
            pre_token_balances=pre_tokens,
            post_token_balances=post_tokens,
            logs=logs,
            inner=inner,
            compute_units=units,
            return_data=return_data,
            memo=memo_of(msg, keys),
        )
        self.txs[landed.signature] = landed
        for key in set(all_keys):
            entry = self._by_address.get(key)
            if entry is None:
                entry = self._by_address[key] = ([], [])
            entry[0].append(landed.seq)
            entry[1].append(landed)
        _, price = compute_budget_of(msg, keys)
        previous = self._slot_fees.get(self.slot)
        self._slot_fees[self.slot] = price if previous is None else min(previous, price)
        return landed

    # -- queries ------------------------------------------------------------------------------

    def get_tx(self, signature: str) -> LandedTx | None:
        with self.lock:
            return self.txs.get(signature)

    def signatures_for(
        self, address: str, limit: int = 1000, before: str | None = None, until: str | None = None
    ) -> list[LandedTx]:
        """Newest first, like mainnet: before is exclusive, until stops (exclusive) when reached."""
        with self.lock:
            entry = self._by_address.get(address)
            if entry is None:
                return []
            seqs, records = entry
            end = len(seqs)
            if before is not None:
                anchor = self.txs.get(before)
                if anchor is None:
                    return []
                end = bisect.bisect_left(seqs, anchor.seq)
            stop_seq = 0
            if until is not None:
                anchor = self.txs.get(until)
                if anchor is not None:
                    stop_seq = anchor.seq
            out: list[LandedTx] = []
            index = end - 1
            while index >= 0 and len(out) < limit:
                record = records[index]
                if record.seq <= stop_seq:
                    break
                out.append(record)
                index -= 1
            return out

    def recent_prioritization_fees(self) -> list[dict[str, int]]:
        with self.lock:
            first = max(1, self.slot - SLOT_HISTORY + 1)
            return [
                {"prioritizationFee": self._slot_fees.get(slot, 0), "slot": slot}
                for slot in range(first, self.slot + 1)
            ]

    def latest_blockhash_obj(self) -> Hash:
        with self.lock:
            return Hash.from_string(self.latest_blockhash)

    def airdrop(self, pubkey: Pubkey, lamports: int) -> str:
        """requestAirdrop: a real System transfer from the faucet, recorded like any transaction."""
        with self.lock:
            blockhash = self.latest_blockhash_obj()
            ix = transfer(
                TransferParams(from_pubkey=self.faucet.pubkey(), to_pubkey=pubkey, lamports=lamports)
            )
            msg = MessageV0.try_compile(self.faucet.pubkey(), [ix], [], blockhash)
            tx = VersionedTransaction(msg, [self.faucet])
        return self.submit(tx, skip_preflight=True)

    def landed_count(self) -> int:
        with self.lock:
            return len(self.txs)


def _sim_value(
    err: Any, logs: list[str], units: int, return_data: Any, replacement: Any, fee: int | None = None
) -> dict[str, Any]:
    return {
        "accounts": None,
        "err": err,
        "fee": fee,
        "innerInstructions": None,
        "loadedAccountsDataSize": 0,
        "logs": logs,
        "postBalances": None,
        "postTokenBalances": None,
        "preBalances": None,
        "preTokenBalances": None,
        "replacementBlockhash": replacement,
        "returnData": return_data,
        "unitsConsumed": units,
    }
