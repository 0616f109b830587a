"""The operator's wallet: loading a solana-keygen JSON keypair safely, and making one for sim mode."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import orjson
from solders.keypair import Keypair

from engine.config import ConfigError


class KeypairError(ConfigError):
    """The keypair file is missing, unreadable, malformed or too open; str() is one line without the secret."""


def check_permissions(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeypairError(
            f"{path}: keypair file is readable by group or others (mode {stat.S_IMODE(mode):o});"
            f" run `chmod 600 {path}`"
        )


def load_keypair(path: str | Path, *, check_mode: bool = True) -> Keypair:
    """Read a solana-keygen JSON keypair (64 integers). Never puts key material in an error."""
    file = Path(path).expanduser()
    if not file.exists():
        raise KeypairError(f"{file}: keypair file not found; set KEYPAIR_PATH or [wallet].keypair_path")
    if not file.is_file():
        raise KeypairError(f"{file}: keypair path is not a file")
    if check_mode:
        check_permissions(file)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise KeypairError(f"{file}: cannot read keypair: {exc.strerror}") from None
    try:
        values = orjson.loads(raw)
        if not (
            isinstance(values, list)
            and len(values) == 64
            and all(isinstance(v, int) and 0 <= v < 256 for v in values)
        ):
            raise ValueError
        return Keypair.from_bytes(bytes(values))
    except Exception:
        raise KeypairError(
            f"{file}: not a solana-keygen keypair (expected a JSON array of 64 bytes)"
        ) from None


def write_keypair(path: Path, keypair: Keypair) -> None:
    """Write a keypair as solana-keygen does, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(orjson.dumps(list(bytes(keypair))))
    os.chmod(path, 0o600)


def sim_keypair(path: Path) -> Keypair:
    """The sim-mode operator wallet: reused across runs, created on first use."""
    if path.exists():
        return load_keypair(path)
    keypair = Keypair()
    write_keypair(path, keypair)
    return keypair


def secret_forms(keypair: Keypair) -> list[str]:
    """Every text form of the secret key someone might leak, for redaction and for the leak tests."""
    import base64

    from solders.pubkey import Pubkey

    raw = bytes(keypair)
    secret = raw[:32]
    forms = [
        str(keypair),  # base58 of the 64 bytes
        str(Pubkey(secret)),  # base58 of the 32-byte seed (same alphabet and algorithm)
        base64.b64encode(raw).decode(),
        base64.b64encode(secret).decode(),
        raw.hex(),
        secret.hex(),
        orjson.dumps(list(raw)).decode(),
        ", ".join(str(b) for b in raw),
        ",".join(str(b) for b in raw),
    ]
    return forms
