"""`zapbot decode FILE... [--wallet W]`: decode saved getTransaction results and print one JSON line per file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson
from solders.pubkey import Pubkey

from engine.decoding.decoder import decode_raw
from engine.decoding.model import DecodeError, SwapEvent

CLI_SWAP_FIELDS = ("wallet", "side", "mint", "token_amount", "quote_mint", "quote_amount", "venue", "router")


class _ArgumentError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        raise _ArgumentError(message)


def is_valid_pubkey(text: str) -> bool:
    """True for a base58 string that decodes to exactly 32 bytes."""
    try:
        return len(bytes(Pubkey.from_string(text))) == 32
    except ValueError:
        return False


def _swap_line(swap: SwapEvent) -> dict[str, object]:
    line: dict[str, object] = {field: getattr(swap, field) for field in CLI_SWAP_FIELDS}
    if swap.programs:  # venue "unknown": name the programs that made the trade
        line["programs"] = list(swap.programs)
    return line


def main(argv: list[str]) -> int:
    parser = _Parser(prog="zapbot decode", description="Decode getTransaction JSON files into swaps.")
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("--wallet", help="only this wallet's swaps (base58 pubkey)")
    parser.add_argument(
        "--allow-unknown-venue",
        action="store_true",
        help="also read swaps made with System and Token transfers only (local simulator); swaps through"
        " unknown programs are always read, with venue 'unknown'",
    )
    try:
        args = parser.parse_args(argv)
    except _ArgumentError as exc:
        print(f"zapbot decode: {exc}", file=sys.stderr)
        return 2
    if args.wallet is not None and not is_valid_pubkey(args.wallet):
        print(f"zapbot decode: --wallet {args.wallet!r} is not a base58 32-byte public key", file=sys.stderr)
        return 2
    exit_code = 0
    out = sys.stdout
    for name in args.files:
        try:
            raw = Path(name).read_bytes()
        except OSError as exc:
            print(f"zapbot decode: {name}: {exc.strerror or exc}", file=sys.stderr)
            exit_code = 1
            continue
        try:
            decoded = decode_raw(raw, args.wallet, allow_unknown_venue=args.allow_unknown_venue)
        except DecodeError as exc:
            print(f"zapbot decode: {name}: {exc}", file=sys.stderr)
            exit_code = 1
            continue
        line = {
            "file": name,
            "signature": decoded.signature,
            "slot": decoded.slot,
            "failed": decoded.failed,
            "swaps": [_swap_line(swap) for swap in decoded.swaps],
        }
        out.write(orjson.dumps(line).decode() + "\n")
    out.flush()
    return exit_code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
