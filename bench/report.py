"""The stored results as the Markdown the README's Benchmarks section shows."""

from __future__ import annotations

from typing import Any

from bench.results import load_all

COLUMNS = {
    "webhook_ingest": [("setup", "setup"), ("mode", "load"), ("per_second", "deliveries/s"),
                       ("p50_ms", "p50 ms"), ("p99_ms", "p99 ms")],
    "webconnector_throughput": [("setup", "setup"), ("orders_queued", "orders"),
                                ("quickbooks_latency_ms", "QuickBooks ms/request"),
                                ("round_trips", "round trips"), ("requests", "requests"),
                                ("wall_seconds", "wall s"), ("service_ms_per_request", "service ms/request"),
                                ("service_share", "service share")],
    "inventory_pull": [("setup", "setup"), ("items_read", "items"), ("page_size", "page"),
                       ("round_trips", "round trips"), ("wall_seconds", "wall s"),
                       ("rss_first_quarter_mb", "RSS 1st quarter MB"),
                       ("rss_last_quarter_mb", "RSS last quarter MB"),
                       ("peak_rss_mb", "peak RSS MB")],
    "backfill": [("setup", "setup"), ("read", "orders read"), ("queued", "queued"), ("seconds", "s"),
                 ("records_per_second", "records/s"), ("first_fifth_per_second", "first fifth /s"),
                 ("last_fifth_per_second", "last fifth /s"), ("peak_rss_mb", "peak RSS MB")],
    "worker_exit": [("worker", "worker"), ("case", "case"), ("runs", "runs"), ("median_s", "median s"),
                    ("max_s", "max s"), ("over_10_s", "runs over 10 s")],
}
COLUMNS["first_contact"] = COLUMNS["first_contact_before"] = [
    ("profile", "company"), ("round_trips", "round trips"), ("requests", "requests"),
    ("setup_adds", "setup adds"), ("setup_round_trips", "setup round trips"),
    ("last_order_in_round_trip", "orders landed by round trip"), ("answered_3140", "answered 3140")]
# The hostile requests, measured on this checkout and (``_before``) on the commit before the fix.
COLUMNS["denial_of_service"] = COLUMNS["denial_of_service_before"] = [
    ("case", "hostile request"), ("status", "answer"), ("answer_seconds", "answered in s"),
    ("healthz_p50_ms", "/healthz p50 ms"), ("healthz_max_ms", "/healthz max ms"),
    ("healthz_unanswered", "/healthz failed"), ("healthz_asked", "/healthz asked")]


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        text = f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
        return text.rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown() -> str:
    """Every stored benchmark as a Markdown table, with the machine it ran on."""
    parts = []
    for result in load_all():
        name = result["benchmark"]
        columns = COLUMNS.get(name) or [(k, k) for k in result["runs"][0]] if result["runs"] else []
        machine = result["machine"]
        redis = f", Redis {machine['redis']}" if machine.get("redis") else ""
        parts.append(f"**{name}** ({result['measured_at']}; {machine['cpu']}, {machine['cores']} cores, "
                     f"{machine['memory_gb']} GB, Python {machine['python']}, {machine['database']}{redis}; "
                     f"load average at start {machine.get('load_average_at_start')})\n")
        parts.append("| " + " | ".join(title for _key, title in columns) + " |")
        parts.append("|" + "---|" * len(columns))
        for run in result["runs"]:
            parts.append("| " + " | ".join(_cell(run.get(key)) for key, _title in columns) + " |")
        for note in result.get("notes") or []:
            parts.append(f"\n_{note}_")
        parts.append("")
    return "\n".join(parts)
