"""Web Connector throughput: 10,000 queued orders drained through the simulated Web Connector and
QuickBooks over real HTTP SOAP.

Reported: round trips, wall time, the qbXML requests QuickBooks had to run (counted in the simulated
company's request log: a look-up shared by many jobs is one request) per order, and the service's own
milliseconds per request (sum of ``exchanges.service_ms`` / requests sent); ``job_steps`` counts the jobs'
steps the round trips carried (before look-ups were shared, one request each).
``QBSYNC_BENCH_THROUGHPUT_SETTINGS`` (JSON) overrides the connection's sync settings, e.g.
``{"shared_lookups": false}`` to measure one look-up request per record.

A second run gives QuickBooks 100 ms per request; at that speed 10,000 orders would take about half an
hour, so it is scaled down to 300 orders: what is measured there is the service's share of the wall
time, which does not depend on the count.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import func, select

from bench import machine, results
from bench.stack import QBWC_PASSWORD, Stack, peak_rss_mb, postgres_url
from qbsync.queue.intake import record_changed
from qbsync.simulator import QuickBooksCompany, WebConnector
from qbsync.simulator.storefront_data import generate_orders
from qbsync.storage.models import Connection, Exchange, QueueJob
from qbsync.storefronts.platforms import normalizer_for

NAME = "webconnector_throughput"
ORDERS = 10_000
SLOW_ORDERS = 300
SLOW_LATENCY = 0.100
GOALS = {"round_trips": "<= 134 for 10,000 orders", "requests_per_order": "<= 1.3",
         "service_ms_per_request": "<= 1", "service_share_at_100ms": "< 5% of wall time"}


def queue_orders(stack: Stack, connection_id: int, count: int, seed: int) -> int:
    """Queue ``count`` order jobs (orders the sync rules leave out are skipped); returns how many."""
    assert stack.runtime is not None
    normalizer = normalizer_for("woocommerce")
    queued, first_id = 0, 1_000
    while queued < count:
        batch = list(generate_orders(min(1_000, count - queued), "woocommerce", seed=seed + first_id,
                                     first_id=first_id))
        first_id += len(batch)
        with stack.runtime.db.transaction() as session:
            connection = session.get(Connection, connection_id)
            for raw in batch:
                record_changed(session, connection, "order", normalizer.order(raw))
        queued = _order_jobs(stack, connection_id)
    return queued


def _order_jobs(stack: Stack, connection_id: int, state: str | None = None) -> int:
    assert stack.runtime is not None
    with stack.runtime.db.transaction() as session:
        stmt = select(func.count()).select_from(QueueJob).where(QueueJob.connection_id == connection_id,
                                                               QueueJob.kind == "order")
        if state:
            stmt = stmt.where(QueueJob.state == state)
        return session.scalar(stmt) or 0


def _timed(process: Callable[[str], str], spent: list[float]) -> Callable[[str], str]:
    def timed(request: str) -> str:
        started = time.perf_counter()
        try:
            return process(request)
        finally:
            spent[0] += time.perf_counter() - started

    return timed


def drain(stack: Stack, web_url: str, connection_id: int, latency: float, pid: int) -> dict[str, Any]:
    """Run Web Connector sessions until idle; the numbers of the run."""
    assert stack.runtime is not None
    company = QuickBooksCompany(latency_seconds=latency)
    in_quickbooks = [0.0]
    company.process = _timed(company.process, in_quickbooks)  # type: ignore[method-assign]
    started, cpu_before = time.perf_counter(), _cpu_seconds(pid)
    with WebConnector(f"{web_url}/qbwc", "shop-qbwc", QBWC_PASSWORD, company, timeout_seconds=600,
                      sleep=lambda _s: None) as connector:
        reports = connector.run(until_idle=True, max_sessions=50)
    wall, server_cpu = time.perf_counter() - started, _cpu_seconds(pid) - cpu_before
    requests = sum(_requests_in(entry.request) for entry in company.request_log)
    with stack.runtime.db.transaction() as session:
        exchanges, job_steps, service_ms = session.execute(
            select(func.count(), func.coalesce(func.sum(Exchange.job_count), 0),
                   func.coalesce(func.sum(Exchange.service_ms), 0.0))
            .where(Exchange.connection_id == connection_id)).one()
    counts = company.counts()
    done = _order_jobs(stack, connection_id, "done")
    return {
        "sessions": len(reports), "round_trips": sum(r.round_trips for r in reports),
        "requests": requests, "requests_per_order": round(requests / done, 3) if done else None,
        "job_steps": int(job_steps), "exchanges": exchanges, "wall_seconds": round(wall, 1),
        "quickbooks_seconds": round(in_quickbooks[0], 1),
        "service_ms_per_request": round(float(service_ms) / requests, 3) if requests else None,
        # The web process's whole CPU (SOAP, commit and all) while the run lasted: less swayed than the
        # service's wall-clock milliseconds by other work on a shared machine.
        "server_cpu_ms_per_request": round(server_cpu * 1000 / requests, 3) if requests else None,
        "service_seconds": round(float(service_ms) / 1000, 1),
        "service_share": round(float(service_ms) / 1000 / wall, 4) if wall else None,
        "service_ms_per_job_step": round(float(service_ms) / job_steps, 3) if job_steps else None,
        "orders_done": done,
        "sales_in_quickbooks": sum(counts.get(k, 0) for k in ("SalesReceipt", "Invoice", "SalesOrder")),
        "customers_in_quickbooks": counts.get("Customer", 0),
        "server_peak_rss_mb": peak_rss_mb(pid),
        "ended_by": sorted({r.ended_by for r in reports}),
    }


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process ``pid`` has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _requests_in(document: str) -> int:
    """How many requests one qbXML document asked QuickBooks to run."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(document.encode("utf-8"), parser)
    messages = root.find("QBXMLMsgsRq")
    return 0 if messages is None else sum(1 for child in messages if isinstance(child.tag, str))


def _settings() -> dict[str, Any]:
    """Sync settings the run overrides (QBSYNC_BENCH_THROUGHPUT_SETTINGS, JSON); none by default."""
    return json.loads(os.environ.get("QBSYNC_BENCH_THROUGHPUT_SETTINGS") or "{}")


def _one(stack_factory: Callable[[], Stack], setup: str, orders: int, latency: float) -> dict[str, Any]:
    with stack_factory() as stack:
        connection = stack.add_connection()
        if _settings():
            assert stack.runtime is not None
            with stack.runtime.db.transaction() as session:
                session.get(Connection, connection.id).settings = _settings()
        started = time.perf_counter()
        queued = queue_orders(stack, connection.id, orders, seed=7)
        queue_seconds = time.perf_counter() - started
        web = stack.serve(threads=4)
        result = drain(stack, web.url, connection.id, latency, web.popen.pid)
        result.update(setup=setup, orders_queued=queued, quickbooks_latency_ms=latency * 1000,
                      queue_seconds=round(queue_seconds, 1), database=stack.database_version())
        if _settings():
            result["settings"] = _settings()
        print(f"  {setup}, {queued} orders, QuickBooks {latency * 1000:.0f} ms/request: "
              f"{result['round_trips']} round trips, {result['requests_per_order']} requests/order, "
              f"{result['wall_seconds']} s, "
              f"{result['service_ms_per_request']} ms service/request "
              f"({result['server_cpu_ms_per_request']} ms of the web process's CPU), "
              f"share {result['service_share']}")
        return result


def run() -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    pg = postgres_url()
    runs.append(_one(Stack.sqlite, "embedded (SQLite)", ORDERS, 0.0))
    runs.append(_one(Stack.sqlite, "embedded (SQLite)", SLOW_ORDERS, SLOW_LATENCY))
    if pg and os.environ.get("QBSYNC_BENCH_POSTGRES_THROUGHPUT"):  # another ~15 minutes
        runs.append(_one(lambda: Stack(database_url=pg), "PostgreSQL", ORDERS, 0.0))
    notes = [f"the 100 ms run is scaled down to {SLOW_ORDERS} orders (10,000 would take ~30 minutes); "
             "its number is the service's share of wall time"]
    info = machine.describe(", ".join(sorted({r["database"] for r in runs})))
    path = results.save(NAME, info, runs, GOALS, notes)
    print(results.table(runs, ["setup", "orders_queued", "quickbooks_latency_ms", "round_trips", "requests",
                               "requests_per_order", "job_steps", "wall_seconds", "quickbooks_seconds",
                               "service_ms_per_request", "server_cpu_ms_per_request", "service_share",
                               "orders_done",
                               "sales_in_quickbooks"]))
    print(f"written {path}")
    return {"runs": runs}
