"""Money at the edges: lamports to the exact SOL figures people read, and SOL figures from config to lamports."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from engine.constants import LAMPORTS_PER_SOL


def sol_to_lamports(sol: float | int | str | Decimal) -> int:
    """Exact decimal conversion (0.1 SOL is 100_000_000 lamports, not 99_999_999); a fraction of a lamport
    is dropped."""
    return int((Decimal(str(sol)) * LAMPORTS_PER_SOL).to_integral_value(rounding=ROUND_FLOOR))


def lamports_to_sol(lamports: int) -> Decimal:
    """The exact SOL amount of a whole number of lamports."""
    return Decimal(int(lamports)).scaleb(-9)


def sol_text(lamports: int, digits: int = 4, *, signed: bool = False) -> str:
    """SOL with a fixed number of decimals, rounded half to even from the exact amount (no float on the way):
    sol_text(123_456_789) is "0.1235", sol_text(-5_000, 6, signed=True) "-0.000005"."""
    return f"{lamports_to_sol(lamports):{'+' if signed else ''}.{digits}f}"


def sol_plain(lamports: int) -> str:
    """SOL in as few digits as it takes, exactly: 0.1, 10, 0.000005 (for limits and caps, which are round)."""
    text = f"{lamports_to_sol(lamports).normalize():f}"
    return "0" if text in ("-0", "0") else text
