"""Which venue and router a transaction traded through, from the programs it invoked."""

from __future__ import annotations

import re

from engine.decoding import programs
from engine.decoding.document import Meta, log_lines
from engine.decoding.programs import INFRASTRUCTURE_PROGRAMS

_INVOKE_LOG = re.compile(r"Program (\w+) invoke \[(\d+)\]")


def invoked_programs(seen: dict[str, bool], meta: Meta) -> dict[str, bool]:
    """Every program invoked -> whether it ran as a CPI (inner) anywhere (`seen`, from the instructions,
    updated in place); from the invoke logs too when inner instructions were not recorded."""
    if meta.innerInstructions is None:
        for line in log_lines(meta) or ():
            match = _INVOKE_LOG.match(line)
            if match:
                program_id = match.group(1)
                if match.group(2) != "1":
                    seen[program_id] = True
                else:
                    seen.setdefault(program_id, False)
    return seen


def venue_and_router(invoked: dict[str, bool]) -> tuple[list[str], list[str], list[str], bool]:
    """Known AMMs, known routers, unknown programs (in order), and whether an unknown one ran as a CPI."""
    amms: list[str] = []
    routers: list[str] = []
    unknown: list[str] = []
    unknown_inner = False
    table = programs.VENUE_PROGRAMS
    for program_id, inner in invoked.items():
        entry = table.get(program_id)
        if entry is None:
            if program_id not in INFRASTRUCTURE_PROGRAMS:
                unknown.append(program_id)
                unknown_inner = unknown_inner or inner
            continue
        name, kind = entry
        bucket = amms if kind == "amm" else routers
        if name not in bucket:
            bucket.append(name)
    return amms, routers, unknown, unknown_inner


def pick_venue(amms: list[str], routers: list[str], unknown_amm_in_route: bool) -> str:
    """One AMM: that AMM. Several AMMs, or one next to an unknown program a router called: the router that
    split the route (else the first AMM). Only a router: the router. Nothing known: "unknown"."""
    if len(amms) == 1 and not (unknown_amm_in_route and routers):
        return amms[0]
    if amms:
        return routers[0] if routers else amms[0]
    return routers[0] if routers else "unknown"
