"""Pure formatting of engine values for the console's narrow columns (no Textual imports)."""

from __future__ import annotations

import time
from decimal import Decimal

from engine.amounts import sol_text
from engine.latency import lag_text


def short_key(key: str | None, head: int = 4, tail: int = 4) -> str:
    """'7xKXtg2CW87d…Ws9fQ2' style: enough to recognise a wallet or signature, short enough for 80 columns."""
    if not key:
        return "—"
    if len(key) <= head + tail + 1:
        return key
    return f"{key[:head]}…{key[-tail:]}"


def sol(lamports: int | None, digits: int = 4) -> str:
    if lamports is None:
        return "—"
    return sol_text(lamports, digits)


def signed_sol(lamports: int | None, digits: int = 4) -> str:
    if lamports is None:
        return "—"
    return sol_text(lamports, digits, signed=True)


def token_amount(amount: int, decimals: int | None) -> str:
    """Base units to a compact human amount (1.23M, 45.6K, 12.35, 0.000005): decimals applied exactly (a
    Decimal), rounded only for what is shown."""
    if not amount:
        return "0"
    value = Decimal(amount).scaleb(-decimals) if decimals is not None else Decimal(amount)
    magnitude = abs(value)
    if magnitude >= 10**9:
        return f"{value / 10**9:.2f}B"
    if magnitude >= 10**6:
        return f"{value / 10**6:.2f}M"
    if magnitude >= 10**4:
        return f"{value / 10**3:.1f}K"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value.normalize():.4g}"


def duration(seconds: float | None) -> str:
    """An uptime: 0:05:12, or 2d 03:04 past a day."""
    if seconds is None:
        return "—"
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}:{minutes:02d}"
    return f"{hours}:{minutes:02d}:{secs:02d}"


def age(seconds: float | None) -> str:
    """How long ago, in one short unit: 12s, 4m, 3h, 2d."""
    if seconds is None:
        return "—"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{int(seconds)}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 86400)}d"


def clock(at: float | None) -> str:
    """Local wall-clock time of an event (HH:MM:SS)."""
    if at is None:
        return "—"
    return time.strftime("%H:%M:%S", time.localtime(at))


def latency(ms: float | None) -> str:
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms:.0f}ms"
    return f"{ms / 1000:.1f}s"


def lag(seconds: float | None) -> str:
    """A copy's lag in at most five columns with its unit: 40ms, 850ms, 1.2s, 12s, 3m (engine/latency.py)."""
    return lag_text(seconds)


def mint_label(mint: str, symbol: str = "") -> str:
    return symbol or short_key(mint, 3, 3)


def fit(text: str, width: int) -> str:
    """text in at most width columns, shortened at a word boundary with an ellipsis, never mid-word.

    Only a single word longer than the whole width (a signature, say) is cut inside itself: there is no
    boundary to cut at."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text
    if width == 1:
        return "…"
    head = text[: width - 1]
    if text[width - 1] == " ":  # the head ends at a word's end already
        return head.rstrip(" ,;:") + "…"
    cut = max(head.rfind(" "), head.rfind("/"), head.rfind(","), head.rfind(";"))
    if cut > 0 and text[cut] == " " or cut >= width // 3:
        head = head[: cut + (text[cut] != " ")]
    return head.rstrip(" ,;:") + "…"


def wrap_chunks(chunks: list[str], width: int, sep: str = "  ") -> list[list[int]]:
    """Pack chunks (each already no wider than width) into lines of at most width, in order: the indices of
    the chunks on each line. A line break falls between chunks, so no chunk is ever cut."""
    lines: list[list[int]] = [[]]
    used = 0
    for index, chunk in enumerate(chunks):
        need = len(chunk) + (len(sep) if lines[-1] else 0)
        if lines[-1] and used + need > width:
            lines.append([])
            used = 0
            need = len(chunk)
        lines[-1].append(index)
        used += need
    return [line for line in lines if line]


# (what the raw reason contains, the sentence an operator reads), first match wins. The raw text stays in the
# trade's detail view.
FAILURE_SENTENCES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("every send was refused", "send refused"), "Every send of it was refused"),
    (("slippage", "6001", "0x1771"), "The price moved past the slippage limit before it landed"),
    (
        (
            "insufficient funds",
            "insufficientfunds",
            "insufficient lamports",
            "insufficient balance",
            '"custom":1}',
        ),
        "The wallet did not hold enough SOL or tokens for it",
    ),
    (
        ("accountnotfound", "account not found", "could not find account", "no record of a prior credit"),
        "An account it needs does not exist (a token account may be closed)",
    ),
    (("unhealthy", "-32005", "behind by"), "The RPC node is unhealthy (behind the cluster) and refused it"),
    (
        ("expired", "blockhash not found", "block height exceeded"),
        "It expired before landing: the network did not include it in time",
    ),
    (("no route", "could not find any route", "no_routes"), "The swap API found no route to trade it"),
    (("unreachable", "timed out", "connection"), "The swap API or the RPC node could not be reached"),
    (("retries used up",), "It was retried until its retry budget ran out"),
    (("no rpc endpoint or wallet",), "There is no RPC endpoint or wallet to send it with"),
)


def failure_sentence(reason: str) -> str:
    """An on-chain or sending failure in words (slippage, insufficient funds, expired, account missing, node
    unhealthy, ...). A refusal's own reason is kept after a colon; anything unknown is named as it is."""
    low = reason.casefold()
    for needles, sentence in FAILURE_SENTENCES:
        if any(needle in low for needle in needles):
            if needles[0] == "every send was refused" and ":" in reason.split("refused", 1)[-1]:
                cause = reason.split("refused", 1)[-1].lstrip(": ").strip()
                inner = failure_sentence(cause).rstrip(".")
                return f"{sentence}: {inner[:1].lower()}{inner[1:]}." if cause else sentence + "."
            return sentence + "."
    if not reason:
        return "It failed for a reason the engine did not give."
    return f"It failed: {fit(reason, 80)}."


def rpc_reason(text: str) -> str:
    """An RPC error without the method names it is prefixed with ("sendTransaction: sendTransaction: Node
    is unhealthy (-32005)" is "Node is unhealthy (-32005)")."""
    parts = text.split(": ")
    while len(parts) > 1 and parts[0].isidentifier():
        parts.pop(0)
    return ": ".join(parts)
