"""What a message asks of the compute budget and what it pays: mainnet's base and priority fee."""

from __future__ import annotations

import struct
from typing import Any

from engine.sim.txformat import COMPUTE_BUDGET_PROGRAM

LAMPORTS_PER_SIGNATURE = 5_000
DEFAULT_CU_PER_INSTRUCTION = 200_000
MAX_CU_PER_TX = 1_400_000


def compute_budget_of(msg: Any, keys: list[str]) -> tuple[int, int]:
    """(compute unit limit, compute unit price in micro-lamports) requested by a message."""
    limit: int | None = None
    price = 0
    other = 0
    for ix in msg.instructions:
        if keys[ix.program_id_index] != COMPUTE_BUDGET_PROGRAM:
            other += 1
            continue
        data = bytes(ix.data)
        if data[:1] == b"\x02" and len(data) >= 5:
            (limit,) = struct.unpack_from("<I", data, 1)
        elif data[:1] == b"\x03" and len(data) >= 9:
            (price,) = struct.unpack_from("<Q", data, 1)
    if limit is None:
        limit = min(MAX_CU_PER_TX, DEFAULT_CU_PER_INSTRUCTION * other)
    return min(limit, MAX_CU_PER_TX), price


def fee_for(msg: Any, keys: list[str]) -> int:
    """Base fee per signature plus the priority fee ceil(price * limit / 1e6), as mainnet charges."""
    limit, price = compute_budget_of(msg, keys)
    priority = (price * limit + 999_999) // 1_000_000
    return LAMPORTS_PER_SIGNATURE * msg.header.num_required_signatures + priority
