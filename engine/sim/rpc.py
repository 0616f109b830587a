"""The local cluster's JSON-RPC over HTTP: mainnet's method names, result shapes and error codes; it counts
the requests it serves per method (`request_counts`, GET /sim/v1/stats), so a test can tell which calls the
engine made (e.g. no getTransaction with a full-transaction stream)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web
from solders.pubkey import Pubkey

from engine.sim.fees import fee_for
from engine.sim.ledger import Ledger, PreflightError
from engine.sim.rpc_accounts import AccountMethods
from engine.sim.rpc_params import (
    API_VERSION,
    RpcError,
    config_param,
    decode_wire_transaction,
    invalid_params,
    param,
    pubkey_param,
)
from engine.sim.txformat import b58

FEATURE_SET = 3640012085
UNSUPPORTED_VERSION_MESSAGE = (
    "Transaction version (0) is not supported by the requesting client. Please try the request again with "
    'the following configuration parameter: "maxSupportedTransactionVersion": 0'
)


class RpcServer(AccountMethods):
    """aiohttp handler for POST / with single and batch JSON-RPC requests."""

    def __init__(self, ledger: Ledger, airdrop: Callable[[Pubkey, int], str], rng: random.Random) -> None:
        self.ledger = ledger
        self.chaos = ledger.chaos
        self.airdrop = airdrop
        self.rng = rng
        self.methods: dict[str, Callable[[list[Any]], Any]] = {
            name[4:]: getattr(self, name) for name in dir(self) if name.startswith("rpc_")
        }
        # Requests per method name as asked (batch items one by one; "rate_limited" = answered 429).
        self.request_counts: Counter[str] = Counter()
        self.fetched_signatures: Counter[str] = Counter()  # getTransaction requests per signature
        self._counts_lock = threading.Lock()

    def counts(self) -> dict[str, int]:
        """A copy of request_counts, safe to take from any thread."""
        with self._counts_lock:
            return dict(self.request_counts)

    def _count(self, method: str) -> None:
        with self._counts_lock:
            self.request_counts[method] += 1

    def app(self, *extra_routes: Callable[[web.Application], None]) -> web.Application:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_post("/", self.handle)
        for add_routes in extra_routes:
            add_routes(app)
        app.router.add_get("/health", self.health)
        app.router.add_get("/sim/v1/stats", self.stats)
        return app

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response({"requests": self.counts()})

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def handle(self, request: web.Request) -> web.Response:
        return await self.serve(request, self.methods)

    async def serve(
        self, request: web.Request, methods: dict[str, Callable[[list[Any]], Any]]
    ) -> web.Response:
        """One HTTP JSON-RPC request (single or batch) answered from these methods, chaos applied."""
        body = await request.read()
        chaos = self.chaos
        if chaos.rpc_latency_ms > 0:
            await asyncio.sleep(chaos.rpc_latency_ms / 1000)
        if chaos.rpc_429_ratio > 0 and self.rng.random() < chaos.rpc_429_ratio:
            self._count("rate_limited")
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
            return self._reply([self.dispatch(item, methods) for item in payload])
        return self._reply(self.dispatch(payload, methods))

    @staticmethod
    def _reply(payload: Any) -> web.Response:
        return web.Response(body=orjson.dumps(payload), content_type="application/json")

    def dispatch(
        self, request: Any, methods: dict[str, Callable[[list[Any]], Any]] | None = None
    ) -> dict[str, Any]:
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
        table = self.methods if methods is None else methods
        self._count(request["method"] if table is self.methods else f"jito:{request['method']}")
        method = table.get(request["method"])
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

    # -- methods ------------------------------------------------------------------------------

    def rpc_getHealth(self, params: list[Any]) -> str:
        return "ok"

    def rpc_getVersion(self, params: list[Any]) -> dict[str, Any]:
        return {"feature-set": FEATURE_SET, "solana-core": API_VERSION}

    @property
    def genesis_hash(self) -> str:
        """This cluster's chain id. Its state lives in memory only, so every cluster (embedded or standalone,
        whatever its seed) is a new chain: the hash is derived from the faucet key, which is random per
        cluster, and never equals a public cluster's (never mainnet's, which it once answered)."""
        identity = bytes(self.ledger.faucet.pubkey())
        return b58(hashlib.sha256(b"zapbot local cluster genesis:" + identity).digest())

    def rpc_getGenesisHash(self, params: list[Any]) -> str:
        return self.genesis_hash

    def rpc_getIdentity(self, params: list[Any]) -> dict[str, Any]:
        return {"identity": str(self.ledger.faucet.pubkey())}

    def rpc_getSlot(self, params: list[Any]) -> int:
        self._min_context(config_param(params, 0))
        return self.ledger.slot

    def rpc_getBlockHeight(self, params: list[Any]) -> int:
        self._min_context(config_param(params, 0))
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
        self._min_context(config_param(params, 0))
        blockhash, last_valid = self.ledger.latest_blockhash_info()
        return self._context({"blockhash": blockhash, "lastValidBlockHeight": last_valid})

    def rpc_isBlockhashValid(self, params: list[Any]) -> dict[str, Any]:
        blockhash = param(params, 0, "blockhash")
        if not isinstance(blockhash, str):
            raise invalid_params("Invalid params: invalid type: expected a blockhash string.")
        return self._context(self.ledger.is_blockhash_valid(blockhash))

    def rpc_getFeeForMessage(self, params: list[Any]) -> dict[str, Any]:
        from solders.message import from_bytes_versioned

        encoded = param(params, 0, "message")
        try:
            msg = from_bytes_versioned(base64.b64decode(encoded))
        except Exception:  # noqa: BLE001 - any undecodable message is invalid params on mainnet
            raise invalid_params("Invalid params: invalid message encoding.") from None
        if not self.ledger.is_blockhash_valid(str(msg.recent_blockhash)):
            return self._context(None)
        return self._context(fee_for(msg, [str(k) for k in msg.account_keys]))

    def rpc_getRecentPrioritizationFees(self, params: list[Any]) -> list[dict[str, int]]:
        addresses = params[0] if params else []
        if addresses is not None and (not isinstance(addresses, list) or len(addresses) > 128):
            raise invalid_params("Too many inputs provided; max 128")
        for address in addresses or []:
            pubkey_param(address)
        return self.ledger.recent_prioritization_fees()

    def rpc_getSignaturesForAddress(self, params: list[Any]) -> list[dict[str, Any]]:
        address = str(pubkey_param(param(params, 0, "address")))
        config = config_param(params, 1)
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
        signature = param(params, 0, "signature")
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
        with self._counts_lock:
            self.fetched_signatures[signature] += 1
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
        signatures = param(params, 0, "signatures")
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
        config = config_param(params, 1)
        encoding = config.get("encoding") or "base58"
        if encoding not in ("base58", "base64"):
            raise invalid_params(
                f"Invalid params: unsupported encoding: {encoding}. Supported encodings: base58, base64"
            )
        tx, raw = decode_wire_transaction(param(params, 0, "transaction"), encoding)
        self._min_context(config)
        chaos = self.chaos
        if chaos.send_fail_ratio > 0 and self.rng.random() < chaos.send_fail_ratio:
            raise RpcError(-32005, "Node is unhealthy", {"numSlotsBehind": None})
        if chaos.confirm_delay_ms > 0:
            # Accepted now, in a block only later (a congested leader): its status, its notification and its
            # effects all wait. A re-send of the same bytes meanwhile lands once.
            timer = threading.Timer(chaos.confirm_delay_ms / 1000, self._land_late, (tx, raw))
            timer.daemon = True
            timer.start()
            return str(tx.signatures[0])
        return self.ledger.submit(tx, raw, skip_preflight=bool(config.get("skipPreflight")))

    def _land_late(self, tx: Any, raw: bytes) -> None:
        try:
            self.ledger.submit(tx, raw, skip_preflight=True)
        except Exception:  # noqa: BLE001 - a late transaction that cannot land is simply never seen
            pass

    def rpc_simulateTransaction(self, params: list[Any]) -> dict[str, Any]:
        config = config_param(params, 1)
        encoding = config.get("encoding") or "base58"
        tx, _ = decode_wire_transaction(param(params, 0, "transaction"), encoding)
        if config.get("sigVerify") and config.get("replaceRecentBlockhash"):
            raise invalid_params("sigVerify may not be used with replaceRecentBlockhash")
        value = self.ledger.simulate(
            tx,
            sig_verify=bool(config.get("sigVerify")),
            replace_recent_blockhash=bool(config.get("replaceRecentBlockhash")),
        )
        return self._context(value)

    def rpc_requestAirdrop(self, params: list[Any]) -> str:
        pubkey = pubkey_param(param(params, 0, "pubkey"))
        lamports = param(params, 1, "lamports")
        if not isinstance(lamports, int) or lamports <= 0:
            raise invalid_params("Invalid params: invalid type: expected u64.")
        return self.airdrop(pubkey, lamports)
