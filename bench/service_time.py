"""Reduced Web Connector service time: ``python -m bench.service_time [--orders N] [--profile [N]]``.

The same run as ``webconnector_throughput`` (the bench's orders queued on a fresh SQLite installation,
drained by the simulated Web Connector and QuickBooks until idle), scaled down and in one process: the
SOAP calls go to the Flask app through httpx's WSGI transport instead of a socket. It prints round trips,
requests, the service's milliseconds per request (sum of ``exchanges.service_ms`` / requests) with the
CPU time of ``next_request`` and ``handle_response`` beside it (steadier on a shared machine; it also
counts the progress percentage handle_response returns, which service_ms leaves out), the web
calls' whole time per request (SOAP, session bookkeeping and commit included) and, with
``--profile``, a cProfile top list of ``next_request`` and ``handle_response`` alone (what service_ms
times). ``--dump FILE`` writes every qbXML document sent, to compare the bytes two commits send (with
``QBSYNC_BENCH_THROUGHPUT_SETTINGS='{"exchange_budget_ms": 1000000}'``, the sync settings the run
overrides, so round trips do not end where the machine's speed says).

Printed only, not stored: the numbers are for comparing two commits on one machine, back to back
(``farm-bench`` can time one against the other).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import func, select

from bench.stack import QBWC_PASSWORD, Stack
from bench.webconnector_throughput import _requests_in, _settings, queue_orders
from qbsync.queue import exchange
from qbsync.qwc import sessions
from qbsync.simulator import QuickBooksCompany, WebConnector
from qbsync.storage.models import Connection, Exchange


def _profiled(profile: cProfile.Profile, function: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        profile.enable()
        try:
            return function(*args, **kwargs)
        finally:
            profile.disable()

    return run


def _cpu_timed(spent: list[float], function: Callable[..., Any]) -> Callable[..., Any]:
    """``function``, adding the CPU seconds it takes to ``spent[0]`` (what service_ms times, less the
    time the process waited for a core: the machine is shared)."""
    def run(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent[0] += time.process_time() - started

    return run


def _count_statements(engine: Any, statements: dict[str, list[float]]) -> None:
    """Group the statements ``engine`` runs by their first words: [count, parameter sets, seconds]."""
    from sqlalchemy import event

    width = int(os.environ.get("QBSYNC_BENCH_SQL_WIDTH", "110"))  # characters of each statement shown

    @event.listens_for(engine, "before_cursor_execute")
    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        conn.info["started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        key = " ".join(statement.split())[:width] + (" [many]" if many else "")
        entry = statements.setdefault(key, [0, 0, 0.0])
        entry[0] += 1
        entry[1] += len(parameters) if many else 1
        entry[2] += time.perf_counter() - conn.info["started"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.service_time", description=__doc__)
    parser.add_argument("--orders", type=int, default=2_500, help="orders queued (default 2,500)")
    parser.add_argument("--profile", type=int, nargs="?", const=30, default=0,
                        help="print this many cProfile entries (default 30) of the service's own work")
    parser.add_argument("--sql", type=int, nargs="?", const=25, default=0,
                        help="print this many statements, grouped, by count and time")
    parser.add_argument("--dump", help="write every qbXML document sent to this file")
    args = parser.parse_args(argv)

    from qbsync.service.app import create_app

    profile = cProfile.Profile(time.process_time)  # CPU time: steadier than wall time on a shared machine
    service_cpu = [0.0]
    # Where the SOAP layer calls them (it imported them by name).
    if args.profile:
        sessions.next_request = _profiled(profile, exchange.next_request)  # type: ignore[assignment]
        sessions.handle_response = _profiled(profile, exchange.handle_response)  # type: ignore[assignment]
    else:
        sessions.next_request = _cpu_timed(service_cpu, exchange.next_request)  # type: ignore[assignment]
        sessions.handle_response = _cpu_timed(service_cpu, exchange.handle_response)  # type: ignore[assignment]
    with Stack.sqlite() as stack:
        assert stack.runtime is not None
        connection = stack.add_connection()
        if _settings():  # as webconnector_throughput: e.g. a budget lifted, so two commits' dumps compare
            with stack.runtime.db.transaction() as session:
                session.get(Connection, connection.id).settings = _settings()
        queued = queue_orders(stack, connection.id, args.orders, seed=7)
        statements: dict[str, list[float]] = {}
        if args.sql:
            _count_statements(stack.runtime.db.engine, statements)
        app = create_app(runtime=stack.runtime)
        in_app = [0.0, 0.0]  # wall, CPU (one thread: the process's CPU time is the call's)

        def timed_app(environ: Any, start_response: Any) -> Any:
            started, cpu = time.perf_counter(), time.process_time()
            try:
                return list(app(environ, start_response))
            finally:
                in_app[0] += time.perf_counter() - started
                in_app[1] += time.process_time() - cpu

        client = httpx.Client(transport=httpx.WSGITransport(app=timed_app), base_url="http://127.0.0.1")
        company = QuickBooksCompany()
        started = time.perf_counter()
        with WebConnector("http://127.0.0.1/qbwc", "shop-qbwc", QBWC_PASSWORD, company, timeout_seconds=600,
                          sleep=lambda _s: None, http_client=client) as connector:
            reports = connector.run(until_idle=True, max_sessions=50)
        wall = time.perf_counter() - started
        requests = sum(_requests_in(entry.request) for entry in company.request_log)
        with stack.runtime.db.transaction() as session:
            round_trips, service_ms = session.execute(
                select(func.count(), func.coalesce(func.sum(Exchange.service_ms), 0.0))
                .where(Exchange.connection_id == connection.id)).one()
        if args.dump:
            with open(args.dump, "w", encoding="utf-8") as out:
                for entry in company.request_log:
                    out.write(entry.request if isinstance(entry.request, str) else entry.request.decode())
                    out.write("\n")
    print(f"orders {queued}, sessions {len(reports)}, round trips {round_trips}, requests {requests}, "
          f"wall {wall:.1f} s, service {float(service_ms) / 1000:.2f} s, "
          f"service ms/request {float(service_ms) / requests:.3f}"
          + (f" (CPU {service_cpu[0] * 1000 / requests:.3f})" if not args.profile else "") + ", "
          f"web calls (SOAP, commit and all) ms/request {in_app[0] * 1000 / requests:.3f}, "
          f"their CPU ms/request {in_app[1] * 1000 / requests:.3f}")
    for statement, (count, rows, seconds) in sorted(statements.items(), key=lambda s: -s[1][2])[:args.sql]:
        print(f"{seconds:7.3f} s {count:6.0f}x {rows:7.0f} rows  {statement}")
    if args.profile:
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out).strip_dirs().sort_stats("cumulative")
        stats.print_stats(args.profile)
        stats.sort_stats("tottime").print_stats(args.profile)
        print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
