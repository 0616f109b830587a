"""The table `zapbot bench pipeline` prints from its result (split from pipeline.py, which runs the phases)."""

from __future__ import annotations

from typing import Any

from engine.bench.common import table


def _phases(result: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    streams = result["streams"]
    if len(streams) == 1:
        phases = [("ws", result["ws"])]
    else:
        phases = [(f"ws {mode}", data) for mode, data in streams.items()]
    return phases + [("polling", result["polling"])]


def render(result: dict[str, Any]) -> str:
    rows = []
    phases = _phases(result)
    for phase, data in phases:
        for key, label in (
            ("land_to_detect_ms", "landed → detected"),
            ("detect_to_send_ms", "detected → sent"),
            ("land_to_send_ms", "landed → sent"),
            ("detect_to_confirm_ms", "detected → confirmed"),
            ("rpc_and_swap_api_wait_ms", "  waiting on RPC / swap API"),
            ("overhead_ms", "  engine overhead"),
        ):
            stats = data[key]
            rows.append((f"{phase}: {label}", stats["p50"], stats["p95"], stats["p99"]))
    streams = ", ".join(result["streams"])
    latency = f"; RPC answers delayed {result['rpc_latency_ms']:g} ms" if result.get("rpc_latency_ms") else ""
    lines = [
        f"pipeline benchmark: {result['swaps_per_phase']} leader swaps per phase at {result['rate_per_s']:g}/s "
        f"by {result['leaders']} leaders; stream {streams}; polling phase polls every "
        f"{result['poll_interval_s']:g} s{latency}",
        table(("ms", "p50", "p95", "p99"), rows, digits=1),
        "",
    ]
    for phase, data in phases:
        requests = data["critical_path_requests"]
        if requests:
            by_method = ", ".join(f"{k} {v:g}" for k, v in requests.items() if k != "total")
            lines.append(f"{phase}: requests per copy, landed → sent: {requests['total']:g} ({by_method})")
        quotes = data.get("quotes_per_copy") or {}
        if quotes:
            sides = ", ".join(f"{side} {quotes[side]:g}" for side in ("buy", "sell") if side in quotes)
            lines.append(f"{phase}: swap-api /quote calls per copy: {quotes['all']:g} ({sides})")
    for name, delta in result["comparison"].items():
        lines.append(
            f"{name.replace('_', ' ')}: landed → sent p50 {delta['land_to_send_p50_ms']} ms against "
            f"{delta['logs_land_to_send_p50_ms']} ms, {delta['critical_path_requests_saved']} requests fewer"
        )
    for phase, data in phases:
        extra = []
        if data["skipped"]:
            extra.append("skipped " + ", ".join(f"{k}: {v}" for k, v in data["skipped"].items()))
        if data["failed"]:
            extra.append("failed " + ", ".join(f"{k}: {v}" for k, v in data["failed"].items()))
        if data["detected_by"]:
            extra.append("detected by " + ", ".join(f"{k}: {v}" for k, v in data["detected_by"].items()))
        if data["not_detected"]:
            extra.append(f"not detected: {data['not_detected']}")
        lines.append(
            f"{phase}: {data['leader_swaps']} leader swaps, {data['copies']} copied, {data['missed']} missed, "
            f"{data['duplicated']} duplicated"
            + (f" ({'; '.join(extra)})" if extra else "")
            + f" in {data['seconds']:g} s; first (cold) copy landed → detected "
            + f"{data['cold_land_to_detect_ms']} ms"
        )
    lines.append(
        f"total: {result['leader_swaps']} leader swaps, {result['copies']} copies, {result['missed']} missed, "
        f"{result['duplicated']} duplicated in {result['seconds']:g} s"
    )
    return "\n".join(lines)
