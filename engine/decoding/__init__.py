"""Swap decoding: pure functions that turn getTransaction results into swap events (safe in child processes)."""

from engine.decoding.decoder import decode_raw, decode_transaction
from engine.decoding.model import DecodedTransaction, DecodeError, SwapEvent
from engine.decoding.programs import VENUE_PROGRAMS, register_venue_program

__all__ = [
    "VENUE_PROGRAMS",
    "DecodeError",
    "DecodedTransaction",
    "SwapEvent",
    "decode_raw",
    "decode_transaction",
    "register_venue_program",
]
