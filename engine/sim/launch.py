"""Launching a token on the local cluster by a real transaction (create the mint account, InitializeMint2,
mint the supply into the new pool's vault, drop the mint authority, fund the pool), so a history shows the
token's creation the way mainnet does and a sniper's buy can be seen to come slots after it."""

from __future__ import annotations

import struct

from solders.account import Account
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, TransferParams, create_account, transfer
from solders.token.associated import get_associated_token_address
from solders.transaction import VersionedTransaction

from engine.chain.token_meta import MAX_METADATA_LEN
from engine.constants import SYSTEM_PROGRAM, TOKEN_PROGRAM
from engine.sim.amm import TOKEN_DECIMALS, Pool
from engine.sim.market import Market
from engine.sim.swap_tx import create_idempotent_ata_ix
from engine.sim.token_ext import metaplex_account, token_name

MINT_SIZE = 82
_INITIALIZE_MINT2, _MINT_TO, _SET_AUTHORITY = 20, 7, 6
_MINT_TOKENS = 0  # AuthorityType::MintTokens


def _token_ix(data: bytes, *accounts: tuple[Pubkey, bool, bool]) -> Instruction:
    metas = [AccountMeta(key, is_signer=signer, is_writable=writable) for key, signer, writable in accounts]
    return Instruction(Pubkey.from_string(TOKEN_PROGRAM), data, metas)


def new_launcher(market: Market, seed_bytes: bytes, lamports: int = 100_000 * 10**9) -> Keypair:
    """A funded creator wallet (not a trader: nobody follows it)."""
    launcher = Keypair.from_seed(seed_bytes)
    market.ledger.set_account(
        launcher.pubkey(), Account(lamports, b"", Pubkey.from_string(SYSTEM_PROGRAM), False, 0)
    )
    return launcher


def launch_token(
    market: Market,
    launcher: Keypair,
    mint: Keypair,
    authority: Keypair,
    symbol: str,
    *,
    sol_lamports: int | None = None,
    token_raw: int | None = None,
) -> Pool:
    """Create and pool a new SPL token in one landed transaction; returns its pool (added to the market)."""
    ledger = market.ledger
    program = Pubkey.from_string(TOKEN_PROGRAM)
    sol_lamports = sol_lamports if sol_lamports is not None else market.pool_sol_lamports
    token_raw = token_raw if token_raw is not None else market.pool_token_raw
    creator, mint_key, pool_key = launcher.pubkey(), mint.pubkey(), authority.pubkey()
    vault = get_associated_token_address(pool_key, mint_key, program)
    ixs = [
        create_account(
            CreateAccountParams(
                from_pubkey=creator,
                to_pubkey=mint_key,
                lamports=ledger.rent_exempt_minimum(MINT_SIZE),
                space=MINT_SIZE,
                owner=program,
            )
        ),
        # decimals, mint authority, no freeze authority (COption::None)
        _token_ix(
            bytes([_INITIALIZE_MINT2, TOKEN_DECIMALS]) + bytes(creator) + b"\x00", (mint_key, False, True)
        ),
        create_idempotent_ata_ix(creator, pool_key, mint_key, program),
        _token_ix(
            struct.pack("<BQ", _MINT_TO, token_raw),
            (mint_key, False, True),
            (vault, False, True),
            (creator, True, False),
        ),
        # Pump-style: nobody can mint more.
        _token_ix(bytes([_SET_AUTHORITY, _MINT_TOKENS, 0]), (mint_key, False, True), (creator, True, False)),
        transfer(
            TransferParams(
                from_pubkey=creator, to_pubkey=pool_key, lamports=sol_lamports + ledger.rent_exempt_minimum(0)
            )
        ),
    ]
    message = MessageV0.try_compile(creator, ixs, [], ledger.latest_blockhash_obj())
    signature = ledger.submit(VersionedTransaction(message, [launcher, mint]), skip_preflight=True)
    landed = ledger.get_tx(signature)
    if landed is None or landed.err is not None:
        raise RuntimeError(f"the launch of {symbol} did not land: {landed.err if landed else 'dropped'}")
    pool = Pool(symbol, mint_key, TOKEN_DECIMALS, program, authority, vault, market.fee_bps)
    # Its Metaplex metadata, as a pump-style launch's CreateMetadataAccountV3 leaves it (the metadata
    # program is not loaded in the local cluster, so the account is written with its exact bytes).
    address, metadata = metaplex_account(
        mint_key, creator, symbol, token_name(symbol), ledger.rent_exempt_minimum(MAX_METADATA_LEN)
    )
    with ledger.lock:
        ledger.set_account(address, metadata)
        market.pools[str(mint_key)] = pool
    return pool
