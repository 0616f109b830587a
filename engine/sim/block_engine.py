"""The local cluster's Jito-compatible block engine, served on the RPC port under Jito's paths:
sendTransaction (/api/v1/transactions), sendBundle, getBundleStatuses, getInflightBundleStatuses and
getTipAccounts (/api/v1/bundles, also /api/v1/getTipAccounts), in the shapes of Jito's JSON-RPC reference
(docs.jito.wtf, "Low Latency Transaction Send"). A bundle lands atomically or not at all (engine/sim/bundles.py);
its tip must go to one of the eight tip accounts, which exist on the ledger as on mainnet."""

from __future__ import annotations

import hashlib
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web
from solders.account import Account
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from engine.constants import SYSTEM_PROGRAM
from engine.decoding.programs import TIP_AND_FEE_ACCOUNT_GROUPS
from engine.sim.bundles import MAX_BUNDLE_TXS, BundleFailed, land_bundle
from engine.sim.rpc_params import RpcError, config_param, decode_wire_transaction, invalid_params, param

if TYPE_CHECKING:
    from engine.sim.rpc import RpcServer

JITO_TIP_ACCOUNTS: tuple[str, ...] = next(
    accounts for name, _kind, accounts in TIP_AND_FEE_ACCOUNT_GROUPS if name == "jito"
)
MIN_TIP_LAMPORTS = 1_000  # Jito's documented minimum tip for a bundle
MAX_STATUS_IDS = 5  # getBundleStatuses / getInflightBundleStatuses take up to 5 ids
SYSTEM_TRANSFER = 2  # the system program's Transfer instruction index


@dataclass
class BundleRecord:
    """What the block engine remembers of one bundle it was sent."""

    bundle_id: str
    signatures: list[str]
    landed_slot: int | None  # None: it failed and nothing of it landed
    error: str = ""


def bundle_id_of(txs: list[VersionedTransaction]) -> str:
    """The bundle id: SHA-256 of the bundle's transaction signatures, hex (as Jito documents it)."""
    digest = hashlib.sha256()
    for tx in txs:
        digest.update(bytes(tx.signatures[0]))
    return digest.hexdigest()


def tip_lamports(tx: VersionedTransaction, tip_accounts: frozenset[str]) -> int:
    """The lamports a transaction's top-level system transfers send to the tip accounts."""
    msg = tx.message
    keys = [str(k) for k in msg.account_keys]
    total = 0
    for ix in msg.instructions:
        if keys[ix.program_id_index] != SYSTEM_PROGRAM or len(ix.accounts) < 2:
            continue
        data = bytes(ix.data)
        if len(data) == 12 and struct.unpack_from("<I", data)[0] == SYSTEM_TRANSFER:
            destination = keys[ix.accounts[1]] if ix.accounts[1] < len(keys) else ""
            if destination in tip_accounts:
                total += struct.unpack_from("<Q", data, 4)[0]
    return total


class BlockEngine:
    """Jito's block engine JSON-RPC against the local ledger; requests are counted as `jito:<method>`."""

    def __init__(self, rpc: RpcServer) -> None:
        self.rpc = rpc
        self.ledger = rpc.ledger
        self.tip_accounts = JITO_TIP_ACCOUNTS
        self._tip_set = frozenset(self.tip_accounts)
        self.bundles: dict[str, BundleRecord] = {}
        self._lock = threading.Lock()
        self.methods: dict[str, Callable[[list[Any]], Any]] = {
            "sendTransaction": self.rpc_sendTransaction,
            "sendBundle": self.rpc_sendBundle,
            "getBundleStatuses": self.rpc_getBundleStatuses,
            "getInflightBundleStatuses": self.rpc_getInflightBundleStatuses,
            "getTipAccounts": self.rpc_getTipAccounts,
        }
        # The tip accounts exist on mainnet (rent-exempt system accounts), so a tip transfer lands.
        rent = self.ledger.rent_exempt_minimum(0)
        for address in self.tip_accounts:
            key = Pubkey.from_string(address)
            if self.ledger.get_account(key) is None:
                self.ledger.set_account(key, Account(rent, b"", Pubkey.from_string(SYSTEM_PROGRAM), False, 0))

    def add_routes(self, app: web.Application) -> None:
        for path in ("/api/v1/transactions", "/api/v1/bundles", "/api/v1/getTipAccounts"):
            app.router.add_post(path, self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        return await self.rpc.serve(request, self.methods)

    def tips_received(self) -> int:
        """Lamports held by the tip accounts above their rent-exempt start."""
        rent = self.ledger.rent_exempt_minimum(0)
        return sum(self.ledger.get_balance(Pubkey.from_string(a)) - rent for a in self.tip_accounts)

    # -- methods ------------------------------------------------------------------------------------

    def rpc_sendTransaction(self, params: list[Any]) -> str:
        """Jito's sendTransaction proxies to the node's with skip_preflight forced on."""
        config = config_param(params, 1)
        encoding = config.get("encoding") or "base58"
        if encoding not in ("base58", "base64"):
            raise invalid_params(f"Invalid params: unsupported encoding: {encoding}")
        tx, raw = decode_wire_transaction(param(params, 0, "transaction"), encoding)
        chaos = self.rpc.chaos
        if chaos.send_fail_ratio > 0 and self.rpc.rng.random() < chaos.send_fail_ratio:
            raise RpcError(-32005, "Node is unhealthy", {"numSlotsBehind": None})
        return self.ledger.submit(tx, raw, skip_preflight=True)

    def rpc_sendBundle(self, params: list[Any]) -> str:
        encoded = param(params, 0, "transactions")
        config = config_param(params, 1)
        encoding = config.get("encoding") or "base58"
        if encoding not in ("base58", "base64"):
            raise invalid_params(f"Invalid params: unsupported encoding: {encoding}")
        if not isinstance(encoded, list) or not 1 <= len(encoded) <= MAX_BUNDLE_TXS:
            raise invalid_params(f"bundle must contain 1 to {MAX_BUNDLE_TXS} transactions")
        decoded = [decode_wire_transaction(item, encoding) for item in encoded]
        txs = [tx for tx, _ in decoded]
        if sum(tip_lamports(tx, self._tip_set) for tx in txs) < MIN_TIP_LAMPORTS:
            raise invalid_params(
                f"bundle must write-lock at least one tip account and tip at least {MIN_TIP_LAMPORTS} lamports"
            )
        chaos = self.rpc.chaos
        if chaos.send_fail_ratio > 0 and self.rpc.rng.random() < chaos.send_fail_ratio:
            raise RpcError(-32005, "Node is unhealthy", {"numSlotsBehind": None})
        bundle_id = bundle_id_of(txs)
        record = BundleRecord(bundle_id, [str(tx.signatures[0]) for tx in txs], None)
        try:
            landed = land_bundle(self.ledger, decoded)
            record.landed_slot = landed[0].slot
        except BundleFailed as exc:
            record.error = str(exc)
        with self._lock:
            # A bundle sent again after it landed keeps its landing (its second run fails as processed).
            if bundle_id not in self.bundles or self.bundles[bundle_id].landed_slot is None:
                self.bundles[bundle_id] = record
        return bundle_id

    def _ids(self, params: list[Any]) -> list[str]:
        ids = param(params, 0, "bundle ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise invalid_params("Invalid params: expected an array of bundle ids")
        if len(ids) > MAX_STATUS_IDS:
            raise invalid_params(f"Invalid params: at most {MAX_STATUS_IDS} bundle ids")
        return ids

    def rpc_getBundleStatuses(self, params: list[Any]) -> dict[str, Any]:
        """As Jito documents it: per id, null unless the bundle landed, else bundle_id, transactions, slot,
        confirmation_status and err {"Ok": null}."""
        ids = self._ids(params)
        value: list[dict[str, Any] | None] = []
        with self._lock:
            for bundle_id in ids:
                record = self.bundles.get(bundle_id)
                if record is None or record.landed_slot is None:
                    value.append(None)
                    continue
                value.append(
                    {
                        "bundle_id": bundle_id,
                        "transactions": list(record.signatures),
                        "slot": record.landed_slot,
                        "confirmation_status": "confirmed",
                        "err": {"Ok": None},
                    }
                )
        return {"context": {"slot": self.ledger.slot}, "value": value}

    def rpc_getInflightBundleStatuses(self, params: list[Any]) -> dict[str, Any]:
        """Per id: status Invalid (not known), Failed (nothing landed) or Landed with its landed_slot."""
        ids = self._ids(params)
        value = []
        with self._lock:
            for bundle_id in ids:
                record = self.bundles.get(bundle_id)
                if record is None:
                    value.append({"bundle_id": bundle_id, "status": "Invalid", "landed_slot": None})
                elif record.landed_slot is None:
                    value.append({"bundle_id": bundle_id, "status": "Failed", "landed_slot": None})
                else:
                    value.append(
                        {"bundle_id": bundle_id, "status": "Landed", "landed_slot": record.landed_slot}
                    )
        return {"context": {"slot": self.ledger.slot}, "value": value}

    def rpc_getTipAccounts(self, params: list[Any]) -> list[str]:
        return list(self.tip_accounts)
