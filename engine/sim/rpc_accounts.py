"""The local cluster's account RPC methods (balances, account info, token accounts, supply, rent) and
mainnet's UiAccount encoding."""

from __future__ import annotations

import base64
from typing import Any

from solders.pubkey import Pubkey

from engine.constants import TOKEN_PROGRAM
from engine.sim.ledger import Ledger
from engine.sim.rpc_params import MethodGroup, RpcError, config_param, invalid_params, param, pubkey_param
from engine.sim.token_ext import ui_extensions
from engine.sim.txformat import TOKEN_PROGRAMS, b58, mint_decimals, parse_token_account, ui_token_amount

U64_MAX = 2**64 - 1


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


def _extensions(data: bytes) -> dict[str, Any]:
    # Mainnet leaves the key out when there are none (serde skip_serializing_if = "Vec::is_empty").
    extensions = ui_extensions(data)
    return {"extensions": extensions} if extensions else {}


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
                    "state": "frozen" if data[108] == 2 else "initialized",
                    "tokenAmount": ui_token_amount(amount, decimals),
                    **_extensions(data),
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
                    **_extensions(data),
                },
                "type": "mint",
            },
            "program": program,
            "space": len(data),
        }
    return None


class AccountMethods(MethodGroup):
    """Account reads: lamports, raw and parsed account data, token accounts and balances, mint supply."""

    def rpc_getMinimumBalanceForRentExemption(self, params: list[Any]) -> int:
        size = param(params, 0, "data length")
        if not isinstance(size, int) or size < 0:
            raise invalid_params("Invalid params: invalid type: expected usize.")
        return self.ledger.rent_exempt_minimum(size)

    def rpc_getBalance(self, params: list[Any]) -> dict[str, Any]:
        pubkey = pubkey_param(param(params, 0, "pubkey"))
        self._min_context(config_param(params, 1))
        return self._context(self.ledger.get_balance(pubkey))

    def rpc_getAccountInfo(self, params: list[Any]) -> dict[str, Any]:
        pubkey = pubkey_param(param(params, 0, "pubkey"))
        config = config_param(params, 1)
        self._min_context(config)
        encoding = config.get("encoding") or "base58"
        with self.ledger.lock:
            return self._context(encode_account(self.ledger, self.ledger.get_account(pubkey), encoding))

    def rpc_getMultipleAccounts(self, params: list[Any]) -> dict[str, Any]:
        keys = param(params, 0, "pubkeys")
        if not isinstance(keys, list):
            raise invalid_params("Invalid params: invalid type: expected a list of pubkeys.")
        if len(keys) > 100:
            raise invalid_params("Too many inputs provided; max 100")
        pubkeys = [pubkey_param(k) for k in keys]
        config = config_param(params, 1)
        encoding = config.get("encoding") or "base64"
        with self.ledger.lock:
            return self._context(
                [encode_account(self.ledger, self.ledger.get_account(p), encoding) for p in pubkeys]
            )

    def rpc_getTokenAccountsByOwner(self, params: list[Any]) -> dict[str, Any]:
        owner = str(pubkey_param(param(params, 0, "owner")))
        selector = param(params, 1, "mint or programId filter")
        config = config_param(params, 2)
        encoding = config.get("encoding") or "base64"
        if (
            not isinstance(selector, dict)
            or len(selector) != 1
            or not ({"mint", "programId"} & selector.keys())
        ):
            raise invalid_params('Invalid params: expected {"mint": ...} or {"programId": ...}.')
        mint_filter = selector.get("mint")
        if mint_filter is not None:
            pubkey_param(mint_filter)
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
        pubkey = pubkey_param(param(params, 0, "pubkey"))
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
        pubkey = pubkey_param(param(params, 0, "mint"))
        account = self.ledger.get_account(pubkey)
        data = bytes(account.data) if account is not None else b""
        decimals = mint_decimals(data)
        if decimals is None:
            raise invalid_params("Invalid param: not a Token mint")
        return self._context(ui_token_amount(int.from_bytes(data[36:44], "little"), decimals))
