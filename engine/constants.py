"""Solana facts the engine relies on: mints, program ids, lamports and rent, defined once."""

from __future__ import annotations

LAMPORTS_PER_SOL = 1_000_000_000

WSOL_MINT = "So11111111111111111111111111111111111111112"
USDC_MINT = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
USDT_MINT = "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB"

SYSTEM_PROGRAM = "11111111111111111111111111111111"
TOKEN_PROGRAM = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
TOKEN_2022_PROGRAM = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"
ATA_PROGRAM = "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL"

# Rent-exempt minimum of a 165-byte SPL token account (what creating an associated token account costs).
TOKEN_ACCOUNT_RENT_LAMPORTS = 2_039_280
# The base fee of one signature.
SIGNATURE_FEE_LAMPORTS = 5_000
