"""Web Connector sessions under stress: the web process killed mid-session, two connectors at once.

The simulated Web Connector and QuickBooks company drive the service over real HTTP; "exactly once" is
checked in the company itself (no order's transaction added twice, none missing).
"""

from __future__ import annotations

import threading

import httpx
import pytest
from sqlalchemy import select

from qbsync.simulator import QuickBooksCompany, WebConnector
from qbsync.simulator.storefront_data import make_orders
from qbsync.storage.models import QbwcSession
from tests.ops.processes import QBWC_PASSWORD, WEBHOOK_SECRET
from tests.ops.sync_checks import assert_each_order_once, send_orders, wait_processed

SALES_ADDS = ("SalesReceiptAddRq", "InvoiceAddRq", "SalesOrderAddRq")


class KillMidExchange:
    """QuickBooks' "work" hook: the first time a document adding sales is being processed, SIGKILL the
    web process. QuickBooks still finishes the document, but its answer can never be delivered."""

    def __init__(self, victim) -> None:
        self.victim = victim
        self.company: QuickBooksCompany | None = None
        self.killed_document: str | None = None

    def __call__(self, _seconds: float) -> None:
        if self.killed_document is None and self.company is not None:
            current = self.company.request_log[-1].request
            if any(add in current for add in SALES_ADDS):
                self.victim.kill()
                self.killed_document = current


@pytest.mark.postgres
@pytest.mark.slow
def test_web_process_killed_mid_session_the_next_session_finishes_without_duplicates(
        spawn, runtime, make_connection):
    conn = make_connection("shop", webhook_secret=WEBHOOK_SECRET)
    first = spawn.serve()
    orders = make_orders(30, "woocommerce", seed=41)
    send_orders([first.url], "shop", orders, "kill-web")
    wait_processed(runtime, len(orders))

    killer = KillMidExchange(first)
    company = QuickBooksCompany(latency_seconds=1e-6, sleep=killer)
    killer.company = company
    with WebConnector(f"{first.url}/qbwc", "shop-qbwc", QBWC_PASSWORD, company) as connector:
        cut_short = connector.run_once()
    assert cut_short.ended_by == "protocol-error", (cut_short.fault, first.output()[-3000:])
    assert "receiveResponseXML" in (cut_short.fault or "")
    assert killer.killed_document is not None and not first.alive()
    lost_answer = company.request_log[-1]
    assert lost_answer.request == killer.killed_document and lost_answer.response  # QuickBooks did the work

    second = spawn.serve()
    with runtime.db.transaction() as session:
        (orphan,) = session.scalars(select(QbwcSession).where(QbwcSession.state == "active")).all()
    with WebConnector(f"{second.url}/qbwc", "shop-qbwc", QBWC_PASSWORD, company,
                      sleep=lambda s: None) as connector:
        # The same Web Connector signs in again: the orphaned session is taken over at once, not after
        # QBSYNC_SESSION_STALE_SECONDS (10 minutes).
        assert connector.run_once().ended_by != "auth:busy"
        connector.run(until_idle=True)

    with runtime.db.transaction() as session:
        ended = session.get(QbwcSession, orphan.id)
        assert ended.state == "stale" and "signed in again" in (ended.last_error or "")
    refs = assert_each_order_once(runtime, company, conn.id, [str(o["number"]) for o in orders])
    assert any(f"<RefNumber>{ref}</RefNumber>" in killer.killed_document for ref in refs)


def _other_machine() -> httpx.Client:
    """An HTTP client calling from 127.0.0.2: to the service, a Web Connector on another machine."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=60)


@pytest.fixture
def synced_orders(live_server, runtime, make_connection):
    """Connections with orders delivered through the live server's webhook endpoint and processed."""

    def deliver(name: str, first_id: int, count: int = 12):
        conn = make_connection(name, webhook_secret=WEBHOOK_SECRET)
        orders = make_orders(count, "woocommerce", seed=first_id, first_id=first_id)
        send_orders([live_server.url], name, orders, name)
        return conn, orders

    return deliver


def test_a_second_web_connector_for_the_same_connection_is_told_busy(live_server, runtime, synced_orders):
    conn, orders = synced_orders("shop", 5001)
    wait_processed(runtime, len(orders))
    interloper_company = QuickBooksCompany()
    interloper: list = []

    def start_second_connector(_seconds: float) -> None:
        if not interloper:  # while the first session is between sendRequestXML and receiveResponseXML
            url = f"{live_server.url}/qbwc"
            with _other_machine() as http, WebConnector(url, "shop-qbwc", QBWC_PASSWORD, interloper_company,
                                                        http_client=http) as second:
                interloper.append(second.run_once())

    company = QuickBooksCompany(latency_seconds=1e-6, sleep=start_second_connector)
    with WebConnector(f"{live_server.url}/qbwc", "shop-qbwc", QBWC_PASSWORD, company) as connector:
        reports = connector.run(until_idle=True)

    (busy,) = interloper
    assert busy.ended_by == "auth:busy" and busy.postpone_seconds and busy.postpone_seconds > 0
    assert interloper_company.request_log == []
    assert reports[0].ended_by == "closeConnection" and reports[-1].ended_by == "auth:none"
    assert_each_order_once(runtime, company, conn.id, [str(o["number"]) for o in orders])


class CrashMidSale:
    """QuickBooks' "work" hook: the first document adding sales is processed in full, then the Web
    Connector dies before it can deliver the answer (QuickBooks did the work; qbsync never hears)."""

    def __init__(self) -> None:
        self.company: QuickBooksCompany | None = None
        self.crashed_document: str | None = None

    def __call__(self, _seconds: float) -> None:
        if self.crashed_document is None and self.company is not None:
            current = self.company.request_log[-1].request
            if any(add in current for add in SALES_ADDS):
                self.company.crash_after_processing(times=1)
                self.crashed_document = current


def test_a_web_connector_that_died_mid_session_is_let_back_in_at_once_and_nothing_is_added_twice(
        live_server, runtime, synced_orders):
    conn, orders = synced_orders("shop", 3001)
    wait_processed(runtime, len(orders))
    crash = CrashMidSale()
    company = QuickBooksCompany(latency_seconds=1e-6, sleep=crash)
    crash.company = company
    url = f"{live_server.url}/qbwc"
    with WebConnector(url, "shop-qbwc", QBWC_PASSWORD, company) as connector:
        died = connector.run_once()
    assert died.ended_by == "crash" and crash.crashed_document is not None

    # Another machine's Web Connector, while the dead session is not yet stale (10 minutes): busy.
    with _other_machine() as http, WebConnector(url, "shop-qbwc", QBWC_PASSWORD, QuickBooksCompany(),
                                                http_client=http) as other:
        assert other.run_once().ended_by == "auth:busy"

    # The same Web Connector, restarted: let in at once, and the work goes on where it stopped.
    with WebConnector(url, "shop-qbwc", QBWC_PASSWORD, company) as connector:
        back = connector.run_once()
        assert back.ticket and back.ended_by == "closeConnection", back.calls
        connector.run(until_idle=True)

    with runtime.db.transaction() as session:
        ended = session.scalars(select(QbwcSession).where(QbwcSession.state == "stale")).all()
    assert len(ended) == 1 and "signed in again" in (ended[0].last_error or "")
    refs = assert_each_order_once(runtime, company, conn.id, [str(o["number"]) for o in orders])
    assert any(f"<RefNumber>{ref}</RefNumber>" in crash.crashed_document for ref in refs)
    names = [c["FullName"] for c in company.customers()]
    assert len(names) == len(set(names)), "a customer was added twice"


def test_two_connections_syncing_at_once_never_see_each_others_data(live_server, runtime, synced_orders):
    (east, east_orders), (west, west_orders) = synced_orders("east", 7001), synced_orders("west", 9001)
    wait_processed(runtime, len(east_orders) + len(west_orders))
    companies = {name: QuickBooksCompany(latency_seconds=0.002) for name in ("east", "west")}
    reports: dict = {}

    def sync(name: str) -> None:
        with WebConnector(f"{live_server.url}/qbwc", f"{name}-qbwc", QBWC_PASSWORD, companies[name]) as wc:
            reports[name] = wc.run(until_idle=True)

    threads = [threading.Thread(target=sync, args=(name,)) for name in companies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert set(reports) == {"east", "west"}

    east_refs = assert_each_order_once(runtime, companies["east"], east.id,
                                       [str(o["number"]) for o in east_orders])
    west_refs = assert_each_order_once(runtime, companies["west"], west.id,
                                       [str(o["number"]) for o in west_orders])
    assert east_refs and west_refs and set(east_refs).isdisjoint(west_refs)
    # Every document each company received mentions only its own orders.
    for name, others in (("east", west_orders), ("west", east_orders)):
        text = "".join(entry.request for entry in companies[name].request_log)
        assert not [o["number"] for o in others if f"<RefNumber>{o['number']}</RefNumber>" in text]
