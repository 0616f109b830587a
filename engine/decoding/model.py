"""The decoder's output types: one swap per trader, one decoded transaction per signature."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

Side = Literal["buy", "sell", "swap"]


class DecodeError(ValueError):
    """The input is not a transaction the decoder can read; the message is one short line."""


# msgspec structs rather than frozen dataclasses: a frozen dataclass of twelve fields costs twelve
# object.__setattr__ calls to build (about 4 us), a struct is built in C (a tenth of that), and the pool
# sends results between processes as msgpack (see pool.py), which structs encode and decode natively.
class SwapEvent(msgspec.Struct, frozen=True, gc=False):
    """One trader's swap inside a transaction, in exact base units."""

    wallet: str
    side: Side
    mint: str
    token_amount: int
    token_decimals: int | None
    quote_mint: str
    quote_amount: int
    venue: str
    router: str | None
    # The programs invoked when none of them is a known venue (venue "unknown"), so the operator can see
    # which AMM or aggregator made the trade; empty for known venues.
    programs: tuple[str, ...] = ()
    # The wallet's own balance of `mint` (base units, all its accounts of that mint) before and after the
    # transaction, from the RPC's pre/post balances: a sell's fraction of the holding is read from these.
    # For SOL (mint = wrapped SOL) its lamports plus its wrapped SOL. None when the wallet is not a key.
    owner_pre: int | None = None
    owner_post: int | None = None

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "wallet": self.wallet,
            "side": self.side,
            "mint": self.mint,
            "token_amount": self.token_amount,
            "token_decimals": self.token_decimals,
            "quote_mint": self.quote_mint,
            "quote_amount": self.quote_amount,
            "venue": self.venue,
            "router": self.router,
            "programs": list(self.programs),
            "owner_pre": self.owner_pre,
            "owner_post": self.owner_post,
        }


class DecodedTransaction(msgspec.Struct, frozen=True, gc=False):
    """A transaction reduced to what copy trading needs: status, fee and the swaps it holds."""

    signature: str
    slot: int | None
    block_time: int | None
    failed: bool
    fee: int
    swaps: tuple[SwapEvent, ...]

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "signature": self.signature,
            "slot": self.slot,
            "block_time": self.block_time,
            "failed": self.failed,
            "fee": self.fee,
            "swaps": [swap.to_json_dict() for swap in self.swaps],
        }
