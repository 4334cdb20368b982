"""Answers from QuickBooks (or something posing as it) with values qbsync cannot store (issue 16).

A statusCode beyond 32 bits, a 5,000-character ListID or an HRESULT over 40 characters made
receiveResponseXML a SOAP Server fault on PostgreSQL, every session again. Now the job concerned stops
with a reason a person can read, and the session goes on. Runs on SQLite, and on PostgreSQL in the CI leg
(QBSYNC_TEST_DATABASE_URL).
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from qbsync.simulator import QuickBooksCompany, WebConnector
from qbsync.simulator.company import QbxmlRequestRejected
from qbsync.simulator.storefront_data import make_orders
from qbsync.storage.models import Exchange, IdMapping, QueueJob
from tests.ops.processes import woo_delivery

PASSWORD = "correct horse battery"
SECRET = "store-webhook-secret"


class HostileAnswers(QuickBooksCompany):
    """The simulated company, with the answer to the first request of one type edited afterwards.

    Not QuickBooks behaviour: these are answers a broken or hostile Web Connector could send.
    """

    def __init__(self, request_type: str, edit, **kwargs) -> None:
        super().__init__(**kwargs)
        self.request_type = request_type
        self.edit = edit
        self.edited = 0

    def process(self, request_xml):
        response = super().process(request_xml)
        text = request_xml.decode() if isinstance(request_xml, bytes) else request_xml
        if not self.edited and f"<{self.request_type}Rq" in text:
            self.edited += 1
            return self.edit(response)
        return response


class RejectOnce(QuickBooksCompany):
    """The first document is refused with an HRESULT far longer than any real one (not QuickBooks)."""

    def __init__(self, hresult: str, message: str = "QuickBooks could not do it.", **kwargs) -> None:
        super().__init__(**kwargs)
        self.hresult = hresult
        self.message = message
        self.rejected = False

    def process(self, request_xml):
        if not self.rejected:
            self.rejected = True
            raise QbxmlRequestRejected(self.hresult, self.message)
        return super().process(request_xml)


@pytest.fixture
def shop(make_connection, runtime):
    return make_connection("shop", webhook_secret=SECRET)


def deliver_one_order(client, runtime) -> dict:
    order = make_orders(1, "woocommerce", seed=7)[0]
    body, headers = woo_delivery(order, "cannot-store-1", secret=SECRET)
    assert client.post("/webhooks/woocommerce/shop", data=body, headers=headers).status_code == 200
    runtime.dispatcher.shutdown(wait=True)  # in-process processing queues the order's jobs
    return order


def sync(live_server, shop, company):
    with WebConnector(f"{live_server.url}/qbwc", shop.qbwc_username, PASSWORD, company) as connector:
        return connector.run(until_idle=True, max_sessions=4)


def jobs_of(runtime, shop) -> list[QueueJob]:
    with runtime.db.transaction() as session:
        return list(session.scalars(select(QueueJob).where(QueueJob.connection_id == shop.id)
                                    .order_by(QueueJob.id)))


def assert_no_fault(reports) -> None:
    for report in reports:
        assert report.fault is None, report.fault
        assert report.ended_by in ("closeConnection", "auth:none"), (report.ended_by, report.last_error)


def test_a_listid_of_5000_characters_stops_the_customer_job_with_a_reason(client, live_server, runtime, shop):
    deliver_one_order(client, runtime)
    long_id = "8" * 5000
    company = HostileAnswers("CustomerAdd", lambda r: re.sub(r"<ListID>[^<]*</ListID>",
                                                             f"<ListID>{long_id}</ListID>", r, count=1))
    reports = sync(live_server, shop, company)

    assert company.edited == 1
    assert_no_fault(reports)
    stopped = [j for j in jobs_of(runtime, shop) if j.kind == "customer"]
    assert stopped and stopped[0].state in ("parked", "failed"), [(j.kind, j.state) for j in stopped]
    assert "ListID" in stopped[0].reason and "5000" in stopped[0].reason, stopped[0].reason
    with runtime.db.transaction() as session:
        assert not session.scalars(select(IdMapping).where(IdMapping.qb_id == long_id)).all()


def test_a_status_code_beyond_32_bits_is_a_job_error(client, live_server, runtime, shop):
    deliver_one_order(client, runtime)
    company = HostileAnswers("CustomerAdd", lambda r: re.sub(r'statusCode="0"', 'statusCode="2147483648"',
                                                             r, count=1))
    reports = sync(live_server, shop, company)

    assert company.edited == 1
    assert_no_fault(reports)
    customer = next(j for j in jobs_of(runtime, shop) if j.kind == "customer")
    assert customer.state != "done" or customer.reason, customer.state
    assert "2147483648" in (customer.reason or "") + (customer.last_message or "")


def test_an_hresult_over_40_characters_returns_the_work_with_the_reason(client, live_server, runtime, shop):
    deliver_one_order(client, runtime)
    hresult = "0x" + "8" * 60
    company = RejectOnce(hresult)
    reports = sync(live_server, shop, company)

    assert company.rejected
    assert_no_fault(reports)
    with runtime.db.transaction() as session:
        refused = session.scalars(select(Exchange).where(Exchange.hresult.is_not(None))).all()
    assert refused and all(len(e.hresult) <= 40 for e in refused)
    assert refused[0].hresult == hresult[:40] and hresult in refused[0].message
    # The work is back in the queue, saying what QuickBooks reported; nothing was lost.
    waiting = jobs_of(runtime, shop)
    states = [(j.kind, j.state) for j in waiting]
    assert waiting and all(state in ("pending", "waiting", "done") for _, state in states), states
    assert any(hresult in (j.reason or "") for j in waiting)


def test_a_huge_error_message_from_the_web_connector_is_kept_cut(client, live_server, runtime, shop):
    deliver_one_order(client, runtime)
    message = "Could not reach QuickBooks. " + "x" * 90_000 + " END"
    company = RejectOnce("0x80040401", message)
    reports = sync(live_server, shop, company)

    assert company.rejected
    assert_no_fault(reports)
    with runtime.db.transaction() as session:
        (refused,) = session.scalars(select(Exchange).where(Exchange.hresult == "0x80040401")).all()
    assert refused.message.startswith("Could not reach QuickBooks.") and refused.message.endswith("END")
    assert "characters cut" in refused.message and len(refused.message) < 2_100
    assert all(len(j.reason or "") < 2_500 for j in jobs_of(runtime, shop))
