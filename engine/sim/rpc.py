"""The local cluster's JSON-RPC over HTTP: mainnet's method names, result shapes and error codes."""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from engine.constants import TOKEN_PROGRAM
from engine.sim.ledger import Ledger, PreflightError
from engine.sim.txformat import (
    TOKEN_PROGRAMS,
    b58,
    b58decode,
    mint_decimals,
    parse_token_account,
    ui_token_amount,
)

API_VERSION = "2.3.6"
FEATURE_SET = 3640012085
U64_MAX = 2**64 - 1
UNSUPPORTED_VERSION_MESSAGE = (
    "Transaction version (0) is not supported by the requesting client. Please try the request again with "
    'the following configuration parameter: "maxSupportedTransactionVersion": 0'
)


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def as_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def invalid_params(message: str) -> RpcError:
    return RpcError(-32602, message)


def _pubkey(value: Any) -> Pubkey:
    if not isinstance(value, str):
        raise invalid_params("Invalid params: invalid type: expected a base-58 encoded public key string.")
    try:
        return Pubkey.from_string(value)
    except ValueError:
        raise invalid_params("Invalid param: Invalid") from None


def _config(params: list[Any], index: int) -> dict[str, Any]:
    if len(params) > index and params[index] is not None:
        if not isinstance(params[index], dict):
            raise invalid_params("Invalid params: invalid type: expected a config object.")
        return params[index]
    return {}


def _param(params: list[Any], index: int, what: str) -> Any:
    if len(params) <= index:
        raise invalid_params(f"Invalid params: missing {what}.")
    return params[index]


def encode_account(ledger: Ledger, account: Any, encoding: str) -> dict[str, Any] | None:
    """An account in mainnet's UiAccount shape for the requested encoding."""
    if account is None:
        return None
    data = bytes(account.data)
    owner = str(account.owner)
    encoded: Any
    if encoding == "jsonParsed" and owner in TOKEN_PROGRAMS:
        encoded = _parsed_token_data(ledger, data, owner)
    else:
        encoded = None
    if encoded is None:
        if encoding == "base58" or encoding == "binary":
            if len(data) > 128:
                raise RpcError(
                    -32600,
                    "Encoded binary (base 58) data should be less than 128 bytes, "
                    "please use Base64 encoding.",
                )
            encoded = b58(data) if encoding == "binary" else [b58(data), "base58"]
        else:
            encoded = [base64.b64encode(data).decode(), "base64"]
    return {
        "data": encoded,
        "executable": account.executable,
        "lamports": account.lamports,
        "owner": owner,
        "rentEpoch": U64_MAX,
        "space": len(data),
    }


def _parsed_token_data(ledger: Ledger, data: bytes, owner_program: str) -> dict[str, Any] | None:
    program = "spl-token" if owner_program == TOKEN_PROGRAM else "spl-token-2022"
    parsed = parse_token_account(data)
    if parsed is not None:
        mint, owner, amount = parsed
        decimals = ledger.decimals_of(mint)
        if decimals is None:
            return None
        return {
            "parsed": {
                "info": {
                    "isNative": False,
                    "mint": mint,
                    "owner": owner,
                    "state": "initialized",
                    "tokenAmount": ui_token_amount(amount, decimals),
                },
                "type": "account",
            },
            "program": program,
            "space": len(data),
        }
    decimals = mint_decimals(data)
    if decimals is not None and (len(data) == 82 or (len(data) > 165 and data[165] == 1)):
        authority = str(Pubkey.from_bytes(data[4:36])) if data[0] == 1 else None
        freeze = str(Pubkey.from_bytes(data[50:82])) if data[46] == 1 else None
        supply = int.from_bytes(data[36:44], "little")
        return {
            "parsed": {
                "info": {
                    "decimals": decimals,
                    "freezeAuthority": freeze,
                    "isInitialized": True,
                    "mintAuthority": authority,
                    "supply": str(supply),
                },
                "type": "mint",
            },
            "program": program,
            "space": len(data),
        }
    return None


def decode_wire_transaction(encoded: Any, encoding: str) -> tuple[VersionedTransaction, bytes]:
    if not isinstance(encoded, str):
        raise invalid_params("Invalid params: invalid type: expected an encoded transaction string.")
    try:
        raw = base64.b64decode(encoded, validate=True) if encoding == "base64" else b58decode(encoded)
    except (ValueError, KeyError):
        raise invalid_params(f"invalid {encoding} encoding: {encoding} decode error") from None
    try:
        tx = VersionedTransaction.from_bytes(raw)
    except Exception:  # noqa: BLE001 - solders raises its own error types for bad wire bytes
        raise invalid_params(
            "failed to deserialize solana_transaction::versioned::VersionedTransaction: "
            "io error: failed to fill whole buffer"
        ) from None
    if len(tx.signatures) != tx.message.header.num_required_signatures:
        raise RpcError(-32013, "Transaction signature length mismatch")
    return tx, raw


class RpcServer:
    """aiohttp handler for POST / with single and batch JSON-RPC requests."""

    def __init__(self, ledger: Ledger, airdrop: Callable[[Pubkey, int], str], rng: random.Random) -> None:
        self.ledger = ledger
        self.chaos = ledger.chaos
        self.airdrop = airdrop
        self.rng = rng
        self.methods: dict[str, Callable[[list[Any]], Any]] = {
            name[4:]: getattr(self, name) for name in dir(self) if name.startswith("rpc_")
        }

    def app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_post("/", self.handle)
        app.router.add_get("/health", self.health)
        return app

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        chaos = self.chaos
        if chaos.rpc_latency_ms > 0:
            await asyncio.sleep(chaos.rpc_latency_ms / 1000)
        if chaos.rpc_429_ratio > 0 and self.rng.random() < chaos.rpc_429_ratio:
            return web.Response(
                status=429,
                headers={"Retry-After": "1"},
                content_type="application/json",
                body=orjson.dumps(
                    {
                        "jsonrpc": "2.0",
                        "error": {"code": 429, "message": "Too many requests for a specific RPC call"},
                        "id": None,
                    }
                ),
            )
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return self._reply(
                {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": None}
            )
        if isinstance(payload, list):
            if not payload:
                return self._reply(
                    {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid request"}, "id": None}
                )
            return self._reply([self.dispatch(item) for item in payload])
        return self._reply(self.dispatch(payload))

    @staticmethod
    def _reply(payload: Any) -> web.Response:
        return web.Response(body=orjson.dumps(payload), content_type="application/json")

    def dispatch(self, request: Any) -> dict[str, Any]:
        if (
            not isinstance(request, dict)
            or request.get("jsonrpc") != "2.0"
            or not isinstance(request.get("method"), str)
        ):
            return {
                "jsonrpc": "2.0",
                "error": {"code": -32600, "message": "Invalid request"},
                "id": request.get("id") if isinstance(request, dict) else None,
            }
        request_id = request.get("id")
        method = self.methods.get(request["method"])
        if method is None:
            return {
                "jsonrpc": "2.0",
                "error": {"code": -32601, "message": "Method not found"},
                "id": request_id,
            }
        params = request.get("params")
        if params is None:
            params = []
        if not isinstance(params, list):
            return {
                "jsonrpc": "2.0",
                "error": {"code": -32602, "message": "Invalid params: expected an array."},
                "id": request_id,
            }
        try:
            result = method(params)
        except RpcError as error:
            return {"jsonrpc": "2.0", "error": error.as_json(), "id": request_id}
        except PreflightError as error:
            return {
                "jsonrpc": "2.0",
                "error": RpcError(error.code, error.message, error.data).as_json(),
                "id": request_id,
            }
        except Exception as error:  # noqa: BLE001 - a sim bug answers like a node's internal error, not a 500
            return {
                "jsonrpc": "2.0",
                "error": {"code": -32603, "message": f"Internal error: {error}"},
                "id": request_id,
            }
        return {"jsonrpc": "2.0", "result": result, "id": request_id}

    # -- helpers ------------------------------------------------------------------------------

    def _context(self, value: Any) -> dict[str, Any]:
        return {"context": {"apiVersion": API_VERSION, "slot": self.ledger.slot}, "value": value}

    def _min_context(self, config: dict[str, Any]) -> None:
        wanted = config.get("minContextSlot")
        if isinstance(wanted, int) and wanted > self.ledger.slot:
            raise RpcError(
                -32016, "Minimum context slot has not been reached", {"contextSlot": self.ledger.slot}
            )

    # -- methods ------------------------------------------------------------------------------

    def rpc_getHealth(self, params: list[Any]) -> str:
        return "ok"

    def rpc_getVersion(self, params: list[Any]) -> dict[str, Any]:
        return {"feature-set": FEATURE_SET, "solana-core": API_VERSION}

    def rpc_getGenesisHash(self, params: list[Any]) -> str:
        return "5eykt4UsFv8P8NJdTREpY1vzqKqZKvdpKuc147dw2N9d"

    def rpc_getIdentity(self, params: list[Any]) -> dict[str, Any]:
        return {"identity": str(self.ledger.faucet.pubkey())}

    def rpc_getSlot(self, params: list[Any]) -> int:
        self._min_context(_config(params, 0))
        return self.ledger.slot

    def rpc_getBlockHeight(self, params: list[Any]) -> int:
        self._min_context(_config(params, 0))
        return self.ledger.block_height

    def rpc_getEpochInfo(self, params: list[Any]) -> dict[str, Any]:
        slot = self.ledger.slot
        return {
            "absoluteSlot": slot,
            "blockHeight": self.ledger.block_height,
            "epoch": slot // 432_000,
            "slotIndex": slot % 432_000,
            "slotsInEpoch": 432_000,
            "transactionCount": self.ledger.seq,
        }

    def rpc_getLatestBlockhash(self, params: list[Any]) -> dict[str, Any]:
        self._min_context(_config(params, 0))
        blockhash, last_valid = self.ledger.latest_blockhash_info()
        return self._context({"blockhash": blockhash, "lastValidBlockHeight": last_valid})

    def rpc_isBlockhashValid(self, params: list[Any]) -> dict[str, Any]:
        blockhash = _param(params, 0, "blockhash")
        if not isinstance(blockhash, str):
            raise invalid_params("Invalid params: invalid type: expected a blockhash string.")
        return self._context(self.ledger.is_blockhash_valid(blockhash))

    def rpc_getFeeForMessage(self, params: list[Any]) -> dict[str, Any]:
        from solders.message import from_bytes_versioned

        from engine.sim.ledger import fee_for

        encoded = _param(params, 0, "message")
        try:
            msg = from_bytes_versioned(base64.b64decode(encoded))
        except Exception:  # noqa: BLE001 - any undecodable message is invalid params on mainnet
            raise invalid_params("Invalid params: invalid message encoding.") from None
        if not self.ledger.is_blockhash_valid(str(msg.recent_blockhash)):
            return self._context(None)
        return self._context(fee_for(msg, [str(k) for k in msg.account_keys]))

    def rpc_getMinimumBalanceForRentExemption(self, params: list[Any]) -> int:
        size = _param(params, 0, "data length")
        if not isinstance(size, int) or size < 0:
            raise invalid_params("Invalid params: invalid type: expected usize.")
        return self.ledger.rent_exempt_minimum(size)

    def rpc_getRecentPrioritizationFees(self, params: list[Any]) -> list[dict[str, int]]:
        addresses = params[0] if params else []
        if addresses is not None and (not isinstance(addresses, list) or len(addresses) > 128):
            raise invalid_params("Too many inputs provided; max 128")
        for address in addresses or []:
            _pubkey(address)
        return self.ledger.recent_prioritization_fees()

    def rpc_getBalance(self, params: list[Any]) -> dict[str, Any]:
        pubkey = _pubkey(_param(params, 0, "pubkey"))
        self._min_context(_config(params, 1))
        return self._context(self.ledger.get_balance(pubkey))

    def rpc_getAccountInfo(self, params: list[Any]) -> dict[str, Any]:
        pubkey = _pubkey(_param(params, 0, "pubkey"))
        config = _config(params, 1)
        self._min_context(config)
        encoding = config.get("encoding") or "base58"
        with self.ledger.lock:
            return self._context(encode_account(self.ledger, self.ledger.get_account(pubkey), encoding))

    def rpc_getMultipleAccounts(self, params: list[Any]) -> dict[str, Any]:
        keys = _param(params, 0, "pubkeys")
        if not isinstance(keys, list):
            raise invalid_params("Invalid params: invalid type: expected a list of pubkeys.")
        if len(keys) > 100:
            raise invalid_params("Too many inputs provided; max 100")
        pubkeys = [_pubkey(k) for k in keys]
        config = _config(params, 1)
        encoding = config.get("encoding") or "base64"
        with self.ledger.lock:
            return self._context(
                [encode_account(self.ledger, self.ledger.get_account(p), encoding) for p in pubkeys]
            )

    def rpc_getTokenAccountsByOwner(self, params: list[Any]) -> dict[str, Any]:
        owner = str(_pubkey(_param(params, 0, "owner")))
        selector = _param(params, 1, "mint or programId filter")
        config = _config(params, 2)
        encoding = config.get("encoding") or "base64"
        if (
            not isinstance(selector, dict)
            or len(selector) != 1
            or not ({"mint", "programId"} & selector.keys())
        ):
            raise invalid_params('Invalid params: expected {"mint": ...} or {"programId": ...}.')
        mint_filter = selector.get("mint")
        if mint_filter is not None:
            _pubkey(mint_filter)
        program_filter = selector.get("programId")
        if program_filter is not None and program_filter not in TOKEN_PROGRAMS:
            raise invalid_params("Invalid param: unrecognized Token program id")
        programs = [program_filter] if program_filter else list(TOKEN_PROGRAMS)
        out = []
        with self.ledger.lock:
            for program in programs:
                for pubkey, account in self.ledger.program_accounts(Pubkey.from_string(program)):
                    parsed = parse_token_account(bytes(account.data))
                    if parsed is None or parsed[1] != owner or (mint_filter and parsed[0] != mint_filter):
                        continue
                    out.append(
                        {"account": encode_account(self.ledger, account, encoding), "pubkey": str(pubkey)}
                    )
        return self._context(out)

    def rpc_getTokenAccountBalance(self, params: list[Any]) -> dict[str, Any]:
        pubkey = _pubkey(_param(params, 0, "pubkey"))
        with self.ledger.lock:
            account = self.ledger.get_account(pubkey)
            parsed = (
                parse_token_account(bytes(account.data))
                if account is not None and str(account.owner) in TOKEN_PROGRAMS
                else None
            )
            if parsed is None:
                raise invalid_params(
                    "Invalid param: could not find account"
                    if account is None
                    else "Invalid param: not a Token account"
                )
            decimals = self.ledger.decimals_of(parsed[0]) or 0
            return self._context(ui_token_amount(parsed[2], decimals))

    def rpc_getTokenSupply(self, params: list[Any]) -> dict[str, Any]:
        pubkey = _pubkey(_param(params, 0, "mint"))
        account = self.ledger.get_account(pubkey)
        data = bytes(account.data) if account is not None else b""
        decimals = mint_decimals(data)
        if decimals is None:
            raise invalid_params("Invalid param: not a Token mint")
        return self._context(ui_token_amount(int.from_bytes(data[36:44], "little"), decimals))

    def rpc_getSignaturesForAddress(self, params: list[Any]) -> list[dict[str, Any]]:
        address = str(_pubkey(_param(params, 0, "address")))
        config = _config(params, 1)
        self._min_context(config)
        limit = config.get("limit") or 1000
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise invalid_params("Invalid limit; max 1000")
        before, until = config.get("before"), config.get("until")
        for value in (before, until):
            if value is not None and (not isinstance(value, str) or not 64 <= len(value) <= 88):
                raise invalid_params("Invalid param: Invalid")
        return [r.signature_info() for r in self.ledger.signatures_for(address, limit, before, until)]

    def rpc_getTransaction(self, params: list[Any]) -> dict[str, Any] | None:
        signature = _param(params, 0, "signature")
        if not isinstance(signature, str) or not 64 <= len(signature) <= 88:
            raise invalid_params("Invalid param: Invalid")
        config = params[1] if len(params) > 1 and params[1] is not None else {}
        if isinstance(config, str):  # the deprecated positional encoding form
            config = {"encoding": config}
        encoding = config.get("encoding") or "json"
        if encoding not in ("json", "jsonParsed", "base64", "base58"):
            raise invalid_params(
                f"Invalid params: unknown variant `{encoding}`, expected one of `binary`, "
                "`base64`, `base58`, `json`, `jsonParsed`."
            )
        if config.get("commitment") == "processed":
            raise invalid_params("Method does not support commitment below `confirmed`")
        landed = self.ledger.get_tx(signature)
        if landed is None:
            return None
        max_version = config.get("maxSupportedTransactionVersion")
        if landed.version == 0 and max_version is None:
            raise RpcError(-32015, UNSUPPORTED_VERSION_MESSAGE)
        if isinstance(max_version, int) and max_version < 0:
            raise invalid_params("Invalid params: invalid maxSupportedTransactionVersion.")
        return landed.result(encoding)

    def rpc_getSignatureStatuses(self, params: list[Any]) -> dict[str, Any]:
        signatures = _param(params, 0, "signatures")
        if not isinstance(signatures, list):
            raise invalid_params("Invalid params: invalid type: expected a list of signatures.")
        if len(signatures) > 256:
            raise invalid_params("Too many inputs provided; max 256")
        statuses = []
        for signature in signatures:
            landed = self.ledger.get_tx(signature) if isinstance(signature, str) else None
            statuses.append(landed.status() if landed is not None else None)
        return self._context(statuses)

    def rpc_sendTransaction(self, params: list[Any]) -> str:
        config = _config(params, 1)
        encoding = config.get("encoding") or "base58"
        if encoding not in ("base58", "base64"):
            raise invalid_params(
                f"Invalid params: unsupported encoding: {encoding}. Supported encodings: base58, base64"
            )
        tx, raw = decode_wire_transaction(_param(params, 0, "transaction"), encoding)
        self._min_context(config)
        chaos = self.chaos
        if chaos.send_fail_ratio > 0 and self.rng.random() < chaos.send_fail_ratio:
            raise RpcError(-32005, "Node is unhealthy", {"numSlotsBehind": None})
        return self.ledger.submit(tx, raw, skip_preflight=bool(config.get("skipPreflight")))

    def rpc_simulateTransaction(self, params: list[Any]) -> dict[str, Any]:
        config = _config(params, 1)
        encoding = config.get("encoding") or "base58"
        tx, _ = decode_wire_transaction(_param(params, 0, "transaction"), encoding)
        if config.get("sigVerify") and config.get("replaceRecentBlockhash"):
            raise invalid_params("sigVerify may not be used with replaceRecentBlockhash")
        value = self.ledger.simulate(
            tx,
            sig_verify=bool(config.get("sigVerify")),
            replace_recent_blockhash=bool(config.get("replaceRecentBlockhash")),
        )
        return self._context(value)

    def rpc_requestAirdrop(self, params: list[Any]) -> str:
        pubkey = _pubkey(_param(params, 0, "pubkey"))
        lamports = _param(params, 1, "lamports")
        if not isinstance(lamports, int) or lamports <= 0:
            raise invalid_params("Invalid params: invalid type: expected u64.")
        return self.airdrop(pubkey, lamports)
