"""Token moves outside ZapBot on the local cluster, as a wallet app makes them: a real TransferChecked (the
recipient's associated token account created first when it has none), signed by the sender's key, sent
through the cluster's JSON-RPC."""

from __future__ import annotations

import base64
import json
import urllib.request

from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.token.associated import get_associated_token_address
from solders.transaction import Transaction

from engine.sim.swap_tx import create_idempotent_ata_ix

TRANSFER_CHECKED = 12


def rpc(url: str, method: str, params: list) -> dict:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        document = json.loads(answer.read())
    assert "error" not in document, document
    return document["result"]


def send_tokens(url: str, sender: Keypair, mint: str, to_owner: str, amount: int, decimals: int) -> str:
    """Move `amount` base units of `mint` from the sender's token account to `to_owner`'s; the signature."""
    owner = str(sender.pubkey())
    accounts = rpc(url, "getTokenAccountsByOwner", [owner, {"mint": mint}, {"encoding": "base64"}])["value"]
    assert accounts, f"{owner} holds no {mint}"
    source = Pubkey.from_string(accounts[0]["pubkey"])
    program = Pubkey.from_string(accounts[0]["account"]["owner"])
    mint_key, recipient = Pubkey.from_string(mint), Pubkey.from_string(to_owner)
    destination = get_associated_token_address(recipient, mint_key, program)
    transfer = Instruction(
        program,
        bytes([TRANSFER_CHECKED]) + amount.to_bytes(8, "little") + bytes([decimals]),
        [
            AccountMeta(source, is_signer=False, is_writable=True),
            AccountMeta(mint_key, is_signer=False, is_writable=False),
            AccountMeta(destination, is_signer=False, is_writable=True),
            AccountMeta(sender.pubkey(), is_signer=True, is_writable=False),
        ],
    )
    create = create_idempotent_ata_ix(sender.pubkey(), recipient, mint_key, program)
    blockhash = Hash.from_string(rpc(url, "getLatestBlockhash", [])["value"]["blockhash"])
    message = Message.new_with_blockhash([create, transfer], sender.pubkey(), blockhash)
    encoded = base64.b64encode(bytes(Transaction([sender], message, blockhash))).decode()
    return rpc(url, "sendTransaction", [encoded, {"encoding": "base64"}])
