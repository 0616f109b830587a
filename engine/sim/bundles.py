"""Landing a bundle on the local cluster's ledger: its transactions in order, all of them or none (a failure
anywhere puts back every account it touched and drops the records of the ones before it)."""

from __future__ import annotations

from collections.abc import Sequence

from solders.account import Account
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from engine.sim.landed import LandedTx
from engine.sim.ledger import Ledger

MAX_BUNDLE_TXS = 5  # the block engine's documented limit


class BundleFailed(Exception):
    """The bundle did not land; nothing of it is on the ledger. The message says which transaction and why."""


def _keys_of(ledger: Ledger, txs: Sequence[VersionedTransaction]) -> list[Pubkey]:
    seen: dict[str, Pubkey] = {}
    for tx in txs:
        keys, loaded_w, loaded_r = ledger.resolve_keys(tx.message)
        for key in keys + loaded_w + loaded_r:
            seen.setdefault(key, Pubkey.from_string(key))
    return list(seen.values())


def _unrecord(ledger: Ledger, landed: LandedTx) -> None:
    """Undo what Ledger._execute recorded for one landed transaction (the newest one on the ledger)."""
    ledger.txs.pop(landed.signature, None)
    for key in set(landed.account_keys):
        entry = ledger._by_address.get(key)
        if entry and entry[1] and entry[1][-1] is landed:
            entry[0].pop()
            entry[1].pop()
            if not entry[0]:
                del ledger._by_address[key]
    ledger.seq -= 1


def land_bundle(ledger: Ledger, txs: Sequence[tuple[VersionedTransaction, bytes]]) -> list[LandedTx]:
    """Execute the bundle's transactions in order under the ledger's lock. Every one must succeed: a failed
    instruction, a fee it cannot pay, an expired blockhash or a signature already on the ledger fails the
    bundle, and then no account keeps a change and no transaction is recorded (its fee is not charged
    either). The landed listeners hear of the transactions only once the whole bundle stands."""
    if not 1 <= len(txs) <= MAX_BUNDLE_TXS:
        raise BundleFailed(f"a bundle holds 1 to {MAX_BUNDLE_TXS} transactions, not {len(txs)}")
    landed: list[LandedTx] = []
    with ledger.lock:
        for tx, _raw in txs:
            ledger._check_signatures(tx)
        pubkeys = _keys_of(ledger, [tx for tx, _ in txs])
        before = {key: ledger.svm.get_account(key) for key in pubkeys}
        slot_fee = ledger._slot_fees.get(ledger.slot)
        try:
            for index, (tx, raw) in enumerate(txs):
                signature = str(tx.signatures[0])
                if signature in ledger.txs or any(item.signature == signature for item in landed):
                    raise BundleFailed(f"transaction {index} ({signature[:8]}…) has already been processed")
                if not ledger.is_blockhash_valid(str(tx.message.recent_blockhash)):
                    raise BundleFailed(f"transaction {index} ({signature[:8]}…): blockhash not found")
                result = ledger._execute(tx, raw)
                if result is None:
                    raise BundleFailed(f"transaction {index} ({signature[:8]}…) could not pay its fee")
                landed.append(result)
                if result.err is not None:
                    raise BundleFailed(f"transaction {index} ({signature[:8]}…) failed: {result.err}")
        except BundleFailed:
            for item in reversed(landed):
                _unrecord(ledger, item)
            for key, account in before.items():
                ledger.svm.set_account(key, account or Account(0, b"", Pubkey.default(), False, 0))
            if slot_fee is None:
                ledger._slot_fees.pop(ledger.slot, None)
            else:
                ledger._slot_fees[ledger.slot] = slot_fee
            raise
    for item in landed:
        for listener in ledger.landed_listeners:
            listener(item)
    return landed
