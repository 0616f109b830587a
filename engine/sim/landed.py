"""A transaction recorded in a block, and the shapes the RPC serves it in (getTransaction per encoding,
signature info and status, logs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from solders.message import MessageV0
from solders.transaction import VersionedTransaction

from engine.sim.txformat import MEMO_PROGRAM, MEMO_V1_PROGRAM, b58, b58decode, b64, parse_instruction


@dataclass(eq=False)
class LandedTx:
    """One transaction recorded in a block, with what mainnet getTransaction returns."""

    seq: int
    signature: str
    slot: int
    block_time: int
    raw: bytes
    tx: VersionedTransaction
    version: Any  # "legacy" or 0
    account_keys: list[str]  # static keys + loaded writable + loaded readonly
    loaded_writable: list[str]
    loaded_readonly: list[str]
    err: Any
    fee: int
    pre_balances: list[int]
    post_balances: list[int]
    pre_token_balances: list[dict[str, Any]]
    post_token_balances: list[dict[str, Any]]
    logs: list[str]
    inner: list[dict[str, Any]]  # json form, instructions with base58 data
    compute_units: int
    return_data: dict[str, Any] | None
    memo: str | None
    _cache: dict[str, Any] = field(default_factory=dict)

    # -- shapes served over RPC (built lazily, cached per encoding) --

    def meta(self, parsed: bool) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "computeUnitsConsumed": self.compute_units,
            "err": self.err,
            "fee": self.fee,
            "innerInstructions": self._parsed_inner() if parsed else self.inner,
            "logMessages": self.logs,
            "postBalances": self.post_balances,
            "postTokenBalances": self.post_token_balances,
            "preBalances": self.pre_balances,
            "preTokenBalances": self.pre_token_balances,
            "rewards": [],
            "status": {"Ok": None} if self.err is None else {"Err": self.err},
        }
        if not parsed:
            meta["loadedAddresses"] = {"readonly": self.loaded_readonly, "writable": self.loaded_writable}
        if self.return_data is not None:
            meta["returnData"] = self.return_data
        return meta

    def result(self, encoding: str) -> dict[str, Any]:
        cached = self._cache.get(encoding)
        if cached is not None:
            return cached
        if encoding == "base64":
            transaction: Any = [b64(self.raw), "base64"]
        elif encoding == "base58":
            transaction = [b58(self.raw), "base58"]
        elif encoding == "jsonParsed":
            transaction = self._parsed_transaction()
        else:
            transaction = self._json_transaction()
        result = {
            "blockTime": self.block_time,
            "meta": self.meta(parsed=encoding == "jsonParsed"),
            "slot": self.slot,
            "transaction": transaction,
            "version": self.version,
        }
        self._cache[encoding] = result
        return result

    def logs_value(self) -> dict[str, Any]:
        return {"signature": self.signature, "err": self.err, "logs": self.logs}

    def signature_info(self) -> dict[str, Any]:
        return {
            "blockTime": self.block_time,
            "confirmationStatus": "finalized",
            "err": self.err,
            "memo": self.memo,
            "signature": self.signature,
            "slot": self.slot,
        }

    def status(self) -> dict[str, Any]:
        return {
            "confirmationStatus": "finalized",
            "confirmations": None,
            "err": self.err,
            "slot": self.slot,
            "status": {"Ok": None} if self.err is None else {"Err": self.err},
        }

    def _json_transaction(self) -> dict[str, Any]:
        msg = self.tx.message
        header = msg.header
        message: dict[str, Any] = {
            "accountKeys": [str(k) for k in msg.account_keys],
            "header": {
                "numReadonlySignedAccounts": header.num_readonly_signed_accounts,
                "numReadonlyUnsignedAccounts": header.num_readonly_unsigned_accounts,
                "numRequiredSignatures": header.num_required_signatures,
            },
            "instructions": [
                {
                    "accounts": list(ix.accounts),
                    "data": b58(bytes(ix.data)),
                    "programIdIndex": ix.program_id_index,
                    "stackHeight": None,
                }
                for ix in msg.instructions
            ],
            "recentBlockhash": str(msg.recent_blockhash),
        }
        if isinstance(msg, MessageV0):
            message["addressTableLookups"] = _lookups_json(msg)
        return {"message": message, "signatures": [str(s) for s in self.tx.signatures]}

    def _writable_signer(self) -> list[tuple[bool, bool]]:
        msg = self.tx.message
        header = msg.header
        n_static = len(msg.account_keys)
        n_signed = header.num_required_signatures
        flags = []
        for i in range(n_static):
            signer = i < n_signed
            if signer:
                writable = i < n_signed - header.num_readonly_signed_accounts
            else:
                writable = i < n_static - header.num_readonly_unsigned_accounts
            flags.append((writable, signer))
        flags += [(True, False)] * len(self.loaded_writable) + [(False, False)] * len(self.loaded_readonly)
        return flags

    def _parsed_ix(
        self, program_index: int, accounts: list[int], data: bytes, stack_height: int | None
    ) -> dict[str, Any]:
        keys = self.account_keys
        program_id = keys[program_index]
        account_keys = [keys[a] for a in accounts]
        parsed = parse_instruction(program_id, account_keys, data)
        if parsed is None:
            return {
                "accounts": account_keys,
                "data": b58(data),
                "programId": program_id,
                "stackHeight": stack_height,
            }
        label, value = parsed
        return {"parsed": value, "program": label, "programId": program_id, "stackHeight": stack_height}

    def _parsed_transaction(self) -> dict[str, Any]:
        msg = self.tx.message
        n_static = len(msg.account_keys)
        account_keys = [
            {
                "pubkey": key,
                "signer": signer,
                "source": "transaction" if i < n_static else "lookupTable",
                "writable": writable,
            }
            for i, (key, (writable, signer)) in enumerate(zip(self.account_keys, self._writable_signer()))
        ]
        message: dict[str, Any] = {
            "accountKeys": account_keys,
            "instructions": [
                self._parsed_ix(ix.program_id_index, list(ix.accounts), bytes(ix.data), None)
                for ix in msg.instructions
            ],
            "recentBlockhash": str(msg.recent_blockhash),
        }
        if isinstance(msg, MessageV0):
            message["addressTableLookups"] = _lookups_json(msg)
        return {"message": message, "signatures": [str(s) for s in self.tx.signatures]}

    def _parsed_inner(self) -> list[dict[str, Any]]:
        return [
            {
                "index": group["index"],
                "instructions": [
                    self._parsed_ix(
                        ix["programIdIndex"], ix["accounts"], b58decode(ix["data"]), ix["stackHeight"]
                    )
                    for ix in group["instructions"]
                ],
            }
            for group in self.inner
        ]


def _lookups_json(msg: MessageV0) -> list[dict[str, Any]]:
    return [
        {
            "accountKey": str(lookup.account_key),
            "readonlyIndexes": list(lookup.readonly_indexes),
            "writableIndexes": list(lookup.writable_indexes),
        }
        for lookup in msg.address_table_lookups
    ]


def memo_of(msg: Any, keys: list[str]) -> str | None:
    memos = []
    for ix in msg.instructions:
        if keys[ix.program_id_index] in (MEMO_PROGRAM, MEMO_V1_PROGRAM):
            try:
                text = bytes(ix.data).decode("utf-8")
            except UnicodeDecodeError:
                continue
            memos.append(f"[{len(text)}] {text}")
    return "; ".join(memos) if memos else None


def inner_json(item: Any) -> dict[str, Any]:
    compiled = item.instruction()
    return {
        "accounts": list(compiled.accounts),
        "data": b58(bytes(compiled.data)),
        "programIdIndex": compiled.program_id_index,
        "stackHeight": item.stack_height(),
    }


def return_data_json(meta: Any) -> dict[str, Any] | None:
    data = meta.return_data()
    raw = bytes(data.data)
    if not raw:
        return None
    return {"data": [b64(raw), "base64"], "programId": str(data.program_id)}
