"""Program ids the decoder knows: DEX venues, trading routers, quote mints and Jito tip accounts."""

from __future__ import annotations

from typing import Literal

Kind = Literal["amm", "router"]

SYSTEM_PROGRAM = "11111111111111111111111111111111"
TOKEN_PROGRAM = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
TOKEN_2022_PROGRAM = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"
TOKEN_PROGRAMS = frozenset({TOKEN_PROGRAM, TOKEN_2022_PROGRAM})
PUMPFUN_PROGRAM = "6EF8rrecthR5Dkzon8Nwu78hRvfCKubJ14M5uBEwF6P"
PUMPSWAP_PROGRAM = "pAMMBay6oceH9fJKBRHGP5D4bD4sWpmSwMn52FMfXEA"

WSOL_MINT = "So11111111111111111111111111111111111111112"
USDC_MINT = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
USDT_MINT = "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB"
# Stablecoins a token can be quoted in; SOL/WSOL is handled separately as lamports.
STABLE_QUOTE_MINTS = (USDC_MINT, USDT_MINT)

JITO_TIP_ACCOUNTS = frozenset(
    {
        "96gYZGLnJYVFmbjzopPSU6QiEV5fGqZNyN9nmNhvrZU5",
        "HFqU5x63VTqvQss8hp11i4wVV8bD44PvwucfZ2bU7gRe",
        "Cw8CFyM9FkoMi7K7Crf6HNQqf4uEMzpKw6QNghXLvLkY",
        "ADaUMid9yfUytqMBgopwjb2DTLSokTSzL1zt6iGPaS49",
        "DfXygSm4jCyNCybVYYK6DwvWqjKee8pbDmJGcLWNDXjh",
        "ADuUkR4vqLUMWXxW9gh6D6L8pMSawimctcNZ5pGwDcEt",
        "DttWaMuVvTiduZRnguLF7jNxTgiMBZ1hyAumKUiL2KRL",
        "3AVi9Tg9Uo68tJfuvoKvqKNWKkC5wPdSSdeBnizKZ6jT",
    }
)

# Program id -> (name, kind). "amm" programs hold the liquidity; "router" programs wrap them.
# Mutable on purpose: register_venue_program() adds ids (e.g. the local simulator's market).
VENUE_PROGRAMS: dict[str, tuple[str, Kind]] = {
    PUMPFUN_PROGRAM: ("pumpfun", "amm"),
    PUMPSWAP_PROGRAM: ("pumpswap", "amm"),
    "675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8": ("raydium_amm_v4", "amm"),
    "CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C": ("raydium_cpmm", "amm"),
    "CAMMCzo5YL8w4VFF8KVHrK22GGUsp5VTaW7grrKgrWqK": ("raydium_clmm", "amm"),
    "LanMV9sAd7wArD4vJFi2qDdfnVhFxYSUg6eADduJ3uj": ("raydium_launchlab", "amm"),
    "5quBtoiQqxF9Jv6KYKctB59NT3gtJD2Y65kdnB1Uev3h": ("raydium_stable", "amm"),
    "whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc": ("orca_whirlpool", "amm"),
    "9W959DqEETiGZocYWCQPaJ6sBmUzgfxXfqGeTEdp3aQP": ("orca_v2", "amm"),
    "LBUZKhRxPF3XUpBCjp4YzTKgLccjZhTSDM9YuVaPwxo": ("meteora_dlmm", "amm"),
    "Eo7WjKq67rjJQSZxS6z3YkapzY3eMj6Xy8X5EQVn5UaB": ("meteora_damm", "amm"),
    "cpamdpZCGKUy5JxQXB4dcpGPiikHawvSWAd6mEn1sGG": ("meteora_damm", "amm"),
    "dbcij3LWUppWqq96dh6gJWwBifmcGfLSB5D4DuSMaqN": ("meteora_dbc", "amm"),
    "MoonCVVNZFSYkqNXP6bxHLPL6QQJiMagDL3qcqUQTrG": ("moonshot", "amm"),
    "boop8hVGQGqehUK2iVEMEnMrL5RbjywRzHKBmBE7ry4": ("boop", "amm"),
    "HEAVENoP2qxoeuF8Dj2oT1GHEnu49U5mJYkdeC8BAX2o": ("heaven", "amm"),
    "2wT8Yq49kHgDzXuPxZSaeLaH1qbmGXtEyPy64bL7aD3c": ("lifinity", "amm"),
    "PhoeNiXZ8ByJGLkxNfZRnkUfjvmuYqLR89jjFHGqdXY": ("phoenix", "amm"),
    "obriQD1zbpyLz95G5n7nJe6a4DPjpFwa5XYPoNm113y": ("obric", "amm"),
    "SoLFiHG9TfgtdUXUjWAxi3LtvYuFyDLVhBWxdMZxyCe": ("solfi", "amm"),
    "GAMMA7meSFWaBXF25oSUgmGRwaW6sCMFLmBNiMSdbHVT": ("goosefx_gamma", "amm"),
    "JUP6LkbZbjS1jKKwapdHNy74zcZ3tLUZoi5QNyVTaV4": ("jupiter", "router"),
    "JUP4Fb2cqiRUcaTHdrPC8h2gNsA2ETXiPDD33WcGuJB": ("jupiter", "router"),
    "6m2CDdhRgxpH4WjvdzxAYbGxwdGUz5MziiL5jek2kBma": ("okx", "router"),
    "proVF4pMXVaYqmy4NjniPh4pqKNfMmsihgd4wdkCX3u": ("okx", "router"),
    "DF1ow4tspfHX9JwWJsAb9epbkA8hmpSEAtxXy1V27QBH": ("dflow", "router"),
    "routeUGWgWzqBWFcrCfv8tritsqukccJPu3q5GPP3xS": ("raydium_route", "router"),
    "BANANAjs7FJiPQqJTGFzkZJndT9o7UmKiYYGaJz6frGu": ("bananagun", "router"),
    "BSfD6SHZigAfDWSjzD5Q41jw8LmKwtmjskPH9XW1mrRW": ("photon", "router"),
    "BLUR9cL8HqZzu5bSaC7VRX25RCG93Hv3T6NPyKxQhWUT": ("axiom", "router"),
    "MaestroAAe9ge5HTc64VbBQZ6fP77pwvrhM8i1XWSAx": ("maestro", "router"),
    "b1oomGGqPKGD6errbyfbVMBuzSC8WtAAYo8MwNafWW1": ("bloom", "router"),
    "NoVA1TmDUqksaj2hB1nayFkPysjJbFiU76dT4qPw2wm": ("nova", "router"),
}


def register_venue_program(program_id: str, venue: str, kind: Kind = "amm") -> None:
    """Teach the decoder a program id (e.g. the simulator's market); affects this process only.

    Register before creating a DecodePool: its children receive a snapshot of this table at start.
    """
    if kind not in ("amm", "router"):
        raise ValueError(f"kind must be 'amm' or 'router', not {kind!r}")
    VENUE_PROGRAMS[program_id] = (venue, kind)


def registered_venues() -> dict[str, tuple[str, Kind]]:
    """A copy of the current table, to hand to child processes."""
    return dict(VENUE_PROGRAMS)
