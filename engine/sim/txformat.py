"""Pure helpers that turn executed transactions into mainnet's JSON shapes (errors, token balances,
jsonParsed instructions)."""

from __future__ import annotations

import base64
import struct
from typing import Any

from solders.pubkey import Pubkey
from solders.transaction_status import (
    InstructionErrorBorshIO,
    InstructionErrorCustom,
    InstructionErrorFieldless,
    TransactionErrorDuplicateInstruction,
    TransactionErrorFieldless,
    TransactionErrorInstructionError,
    TransactionErrorInsufficientFundsForRent,
    TransactionErrorProgramExecutionTemporarilyRestricted,
)

from engine.constants import ATA_PROGRAM, SYSTEM_PROGRAM, TOKEN_2022_PROGRAM, TOKEN_PROGRAM
from engine.decoding.wire import b58decode  # noqa: F401 - re-exported for the ledger

MEMO_PROGRAM = "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr"
MEMO_V1_PROGRAM = "Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo"
COMPUTE_BUDGET_PROGRAM = "ComputeBudget111111111111111111111111111111"
TOKEN_PROGRAMS = frozenset((TOKEN_PROGRAM, TOKEN_2022_PROGRAM))

# Anchor's first user error code, used by Jupiter v6 for SlippageToleranceExceeded.
SLIPPAGE_ERROR_CODE = 6001

# solana-sdk's Display texts for the transaction errors the sim can produce (preflight messages).
_TX_ERROR_TEXT = {
    "AccountInUse": "Account in use",
    "AccountNotFound": "Attempt to debit an account but found no record of a prior credit.",
    "ProgramAccountNotFound": "Attempt to load a program that does not exist",
    "InsufficientFundsForFee": "Insufficient funds for fee",
    "InvalidAccountForFee": "This account may not be used to pay transaction fees",
    "AlreadyProcessed": "This transaction has already been processed",
    "BlockhashNotFound": "Blockhash not found",
    "SignatureFailure": "Transaction did not pass signature verification",
    "InvalidAccountIndex": "Transaction contains an invalid account reference",
    "SanitizeFailure": "Transaction failed to sanitize accounts offsets correctly",
    "AccountLoadedTwice": "Account loaded twice",
}
_IX_ERROR_TEXT = {
    "GenericError": "generic instruction error",
    "InvalidArgument": "invalid program argument",
    "InvalidInstructionData": "invalid instruction data",
    "InvalidAccountData": "invalid account data for instruction",
    "AccountDataTooSmall": "account data too small for instruction",
    "InsufficientFunds": "insufficient funds for instruction",
    "IncorrectProgramId": "incorrect program id for instruction",
    "MissingRequiredSignature": "missing required signature for instruction",
    "AccountAlreadyInitialized": "instruction requires an uninitialized account",
    "UninitializedAccount": "instruction requires an initialized account",
    "InvalidAccountOwner": "Invalid account owner",
    "IllegalOwner": "Provided owner is not allowed",
    "ComputationalBudgetExceeded": "Computational budget exceeded",
    "ProgramFailedToComplete": "Program failed to complete",
}


def _name(enum_value: Any) -> str:
    return str(enum_value).rsplit(".", 1)[-1]


def tx_error_json(err: Any) -> Any:
    """A solders TransactionErrorType as mainnet's JSON (e.g. {"InstructionError":[2,{"Custom":6001}]})."""
    if err is None:
        return None
    if isinstance(err, TransactionErrorInstructionError):
        inner = err.err
        if isinstance(inner, InstructionErrorCustom):
            inner_json: Any = {"Custom": inner.code}
        elif isinstance(inner, InstructionErrorBorshIO):
            inner_json = {"BorshIoError": inner.value}
        elif isinstance(inner, InstructionErrorFieldless):
            inner_json = _name(inner)
        else:
            inner_json = str(inner)
        return {"InstructionError": [err.index, inner_json]}
    if isinstance(err, TransactionErrorFieldless):
        return _name(err)
    if isinstance(err, TransactionErrorDuplicateInstruction):
        return {"DuplicateInstruction": err.index}
    if isinstance(err, TransactionErrorInsufficientFundsForRent):
        return {"InsufficientFundsForRent": {"account_index": err.account_index}}
    if isinstance(err, TransactionErrorProgramExecutionTemporarilyRestricted):
        return {"ProgramExecutionTemporarilyRestricted": {"account_index": err.account_index}}
    return str(err)


def tx_error_text(err_json: Any) -> str:
    """solana-sdk's Display text for an error in JSON form, as used in preflight failure messages."""
    if isinstance(err_json, str):
        return _TX_ERROR_TEXT.get(err_json, err_json)
    if isinstance(err_json, dict) and "InstructionError" in err_json:
        index, inner = err_json["InstructionError"]
        if isinstance(inner, dict) and "Custom" in inner:
            detail = f"custom program error: {inner['Custom']:#x}"
        elif isinstance(inner, str):
            detail = _IX_ERROR_TEXT.get(inner, inner)
        else:
            detail = str(inner)
        return f"Error processing Instruction {index}: {detail}"
    if isinstance(err_json, dict) and "InsufficientFundsForRent" in err_json:
        index = err_json["InsufficientFundsForRent"].get("account_index")
        return f"Transaction results in an account ({index}) with insufficient funds for rent"
    return str(err_json)


def is_landing_error(err_json: Any) -> bool:
    """True when a failed transaction is still recorded in a block (fee charged) on mainnet."""
    if err_json is None:
        return True
    if isinstance(err_json, dict):
        return any(
            k in err_json
            for k in ("InstructionError", "InsufficientFundsForRent", "ProgramExecutionTemporarilyRestricted")
        )
    return False


def ui_amount_string(amount: int, decimals: int) -> str:
    """Mainnet's uiAmountString: the exact decimal with trailing zeros trimmed."""
    if decimals == 0:
        return str(amount)
    digits = str(amount).rjust(decimals + 1, "0")
    whole, frac = digits[:-decimals], digits[-decimals:].rstrip("0")
    return f"{whole}.{frac}" if frac else whole


def ui_token_amount(amount: int, decimals: int) -> dict[str, Any]:
    return {
        "amount": str(amount),
        "decimals": decimals,
        "uiAmount": (amount / 10**decimals) if amount else None,
        "uiAmountString": ui_amount_string(amount, decimals),
    }


def parse_token_account(data: bytes) -> tuple[str, str, int] | None:
    """(mint, owner, amount) of an SPL / Token-2022 token account, or None for any other account."""
    length = len(data)
    if length < 165:
        return None
    # Token-2022 accounts longer than 165 bytes carry an account-type byte: 2 = Account, 1 = Mint.
    if length > 165 and data[165] != 2:
        return None
    if data[108] == 0:  # state Uninitialized
        return None
    mint = _pk(data[0:32])
    owner = _pk(data[32:64])
    (amount,) = struct.unpack_from("<Q", data, 64)
    return mint, owner, amount


def mint_decimals(data: bytes) -> int | None:
    if len(data) < 82 or data[45] == 0:
        return None
    return data[44]


# --- jsonParsed instructions ---------------------------------------------------------------------

_EXTENSION_NAMES = {
    0: "uninitialized",
    1: "transferFeeConfig",
    2: "transferFeeAmount",
    3: "mintCloseAuthority",
    4: "confidentialTransferMint",
    5: "confidentialTransferAccount",
    6: "defaultAccountState",
    7: "immutableOwner",
    8: "memoTransfer",
    9: "nonTransferable",
    10: "interestBearingConfig",
    11: "cpiGuard",
    12: "permanentDelegate",
    13: "nonTransferableAccount",
    14: "transferHook",
    15: "transferHookAccount",
    18: "metadataPointer",
    19: "tokenMetadata",
    20: "groupPointer",
}


def _coption_pubkey(data: bytes, offset: int) -> tuple[str | None, int]:
    if len(data) <= offset:
        return None, offset
    if data[offset] == 1 and len(data) >= offset + 33:
        return _pk(data[offset + 1 : offset + 33]), offset + 33
    return None, offset + 1


def parse_instruction(
    program_id: str, accounts: list[str], data: bytes, mint_decimals_of: Any = None
) -> tuple[str, Any] | None:
    """(program label, parsed value) for an instruction mainnet's jsonParsed decodes, else None."""
    try:
        if program_id == SYSTEM_PROGRAM:
            return _parse_system(accounts, data)
        if program_id in TOKEN_PROGRAMS:
            return _parse_token(accounts, data, mint_decimals_of)
        if program_id == ATA_PROGRAM:
            return _parse_ata(accounts, data)
        if program_id in (MEMO_PROGRAM, MEMO_V1_PROGRAM):
            return "spl-memo", data.decode("utf-8")
    except (IndexError, struct.error, UnicodeDecodeError):
        return None
    return None


def _parse_system(accounts: list[str], data: bytes) -> tuple[str, Any] | None:
    (tag,) = struct.unpack_from("<I", data, 0)
    if tag == 2:
        (lamports,) = struct.unpack_from("<Q", data, 4)
        return "system", {
            "info": {"destination": accounts[1], "lamports": lamports, "source": accounts[0]},
            "type": "transfer",
        }
    if tag == 0:
        lamports, space = struct.unpack_from("<QQ", data, 4)
        owner = _pk(data[20:52])
        return "system", {
            "info": {
                "lamports": lamports,
                "newAccount": accounts[1],
                "owner": owner,
                "source": accounts[0],
                "space": space,
            },
            "type": "createAccount",
        }
    if tag == 1:
        owner = _pk(data[4:36])
        return "system", {"info": {"account": accounts[0], "owner": owner}, "type": "assign"}
    if tag == 8:
        (space,) = struct.unpack_from("<Q", data, 4)
        return "system", {"info": {"account": accounts[0], "space": space}, "type": "allocate"}
    return None


def _parse_token(accounts: list[str], data: bytes, mint_decimals_of: Any) -> tuple[str, Any] | None:
    tag = data[0]
    info: dict[str, Any]
    if tag == 3:
        (amount,) = struct.unpack_from("<Q", data, 1)
        info = {
            "amount": str(amount),
            "authority": accounts[2],
            "destination": accounts[1],
            "source": accounts[0],
        }
        kind = "transfer"
    elif tag == 12:
        amount, decimals = struct.unpack_from("<QB", data, 1)
        info = {
            "authority": accounts[3],
            "destination": accounts[2],
            "mint": accounts[1],
            "source": accounts[0],
            "tokenAmount": ui_token_amount(amount, decimals),
        }
        kind = "transferChecked"
    elif tag == 7:
        (amount,) = struct.unpack_from("<Q", data, 1)
        info = {
            "account": accounts[1],
            "amount": str(amount),
            "mint": accounts[0],
            "mintAuthority": accounts[2],
        }
        kind = "mintTo"
    elif tag == 14:
        amount, decimals = struct.unpack_from("<QB", data, 1)
        info = {
            "account": accounts[1],
            "mint": accounts[0],
            "mintAuthority": accounts[2],
            "tokenAmount": ui_token_amount(amount, decimals),
        }
        kind = "mintToChecked"
    elif tag == 8:
        (amount,) = struct.unpack_from("<Q", data, 1)
        info = {"account": accounts[0], "amount": str(amount), "authority": accounts[2], "mint": accounts[1]}
        kind = "burn"
    elif tag in (0, 20):
        decimals = data[1]
        mint_authority = _pk(data[2:34])
        freeze, _ = _coption_pubkey(data, 34)
        info = {"decimals": decimals, "mint": accounts[0], "mintAuthority": mint_authority}
        if freeze:
            info["freezeAuthority"] = freeze
        if tag == 0:
            info["rentSysvar"] = accounts[1]
        kind = "initializeMint" if tag == 0 else "initializeMint2"
    elif tag == 1:
        info = {"account": accounts[0], "mint": accounts[1], "owner": accounts[2], "rentSysvar": accounts[3]}
        kind = "initializeAccount"
    elif tag == 18:
        info = {"account": accounts[0], "mint": accounts[1], "owner": _pk(data[1:33])}
        kind = "initializeAccount3"
    elif tag == 22:
        info = {"account": accounts[0]}
        kind = "initializeImmutableOwner"
    elif tag == 21:
        count = (len(data) - 1) // 2
        types = struct.unpack_from(f"<{count}H", data, 1) if count else ()
        if any(t not in _EXTENSION_NAMES for t in types):
            return None
        info = {"extensionTypes": [_EXTENSION_NAMES[t] for t in types], "mint": accounts[0]}
        kind = "getAccountDataSize"
    elif tag == 9:
        info = {"account": accounts[0], "destination": accounts[1], "owner": accounts[2]}
        kind = "closeAccount"
    elif tag == 17:
        info = {"account": accounts[0]}
        kind = "syncNative"
    else:
        return None
    return "spl-token", {"info": info, "type": kind}


def _parse_ata(accounts: list[str], data: bytes) -> tuple[str, Any] | None:
    if len(data) == 0 or data[0] in (0, 1):
        kind = "createIdempotent" if data and data[0] == 1 else "create"
        return "spl-associated-token-account", {
            "info": {
                "account": accounts[1],
                "mint": accounts[3],
                "source": accounts[0],
                "systemProgram": accounts[4],
                "tokenProgram": accounts[5],
                "wallet": accounts[2],
            },
            "type": kind,
        }
    return None


_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _pk(raw: bytes) -> str:
    return str(Pubkey.from_bytes(raw))


def b58(data: bytes) -> str:
    """Bitcoin-alphabet base58, as Solana uses for instruction data and signatures."""
    zeros = len(data) - len(data.lstrip(b"\0"))
    number = int.from_bytes(data, "big")
    out = []
    while number:
        number, rem = divmod(number, 58)
        out.append(_B58_ALPHABET[rem])
    return "1" * zeros + "".join(reversed(out))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
