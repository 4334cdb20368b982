"""End to end: the simulated Web Connector drives a served qbsync over real HTTP until the queue drains."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from qbsync.qbxml import validate
from qbsync.queue import jobs
from qbsync.simulator import QuickBooksCompany, WebConnector
from qbsync.storage.models import Connection, Exchange, QueueJob
from tests.accounting import check_order, check_stock
from tests.engine.conftest import first_contact_done

PASSWORD = "correct horse battery"

MIXED_REQUESTS = [
    ("customer", "<CustomerAddRq><CustomerAdd><Name>Ann &amp; Bob's Café</Name><FirstName>Ann</FirstName>"
                 "<Email>ann@example.com</Email></CustomerAdd></CustomerAddRq>"),
    ("item", "<ItemInventoryAddRq><ItemInventoryAdd><Name>SKU-1</Name><SalesPrice>19.99</SalesPrice>"
             "<IncomeAccountRef><FullName>Sales</FullName></IncomeAccountRef>"
             "<COGSAccountRef><FullName>Cost of Goods Sold</FullName></COGSAccountRef>"
             "<AssetAccountRef><FullName>Inventory Asset</FullName></AssetAccountRef>"
             "</ItemInventoryAdd></ItemInventoryAddRq>"),
    ("query", "<AccountQueryRq><ActiveStatus>ActiveOnly</ActiveStatus></AccountQueryRq>"),
    ("query", "<PaymentMethodQueryRq/>"),
]
INVOICE = ("<InvoiceAddRq><InvoiceAdd><CustomerRef><FullName>Ann &amp; Bob's Café</FullName></CustomerRef>"
           "<RefNumber>1001</RefNumber><InvoiceLineAdd><ItemRef><FullName>SKU-1</FullName></ItemRef>"
           "<Quantity>2</Quantity><Rate>19.99</Rate></InvoiceLineAdd></InvoiceAdd></InvoiceAddRq>")
# Schema-invalid (Name missing): must be parked by qbsync and never reach QuickBooks.
INVALID = "<CustomerAddRq><CustomerAdd><CompanyName>No name</CompanyName></CustomerAdd></CustomerAddRq>"


# The queue names inventory accounts: two companies with inventory (the default, and multicurrency).
@pytest.mark.parametrize("profile", ["retail", "multicurrency"])
def test_a_mixed_queue_drains_through_real_web_connector_sessions(runtime, live_server, make_connection,
                                                                  profile):
    conn = make_connection()
    with runtime.db.transaction() as s:
        s.get(Connection, conn.id).settings = {"list_refresh_hours": 0, "batch_size": 2}
        first_contact_done(s, conn.id)  # a session then carries only the queued requests
        first = [jobs.enqueue_qbxml(s, conn.id, xml, label=label) for label, xml in MIXED_REQUESTS]
        invoice = jobs.enqueue_qbxml(s, conn.id, INVOICE, label="invoice 1001")
        for dep in first[:2]:
            jobs.add_dependency(s, invoice, dep)
        invalid = jobs.enqueue_qbxml(s, conn.id, INVALID, label="bad customer")

    company = QuickBooksCompany(profile=profile)
    wc = WebConnector(f"{live_server.url}/qbwc", conn.qbwc_username, PASSWORD, company)
    reports = wc.run(until_idle=True, max_sessions=5)

    assert reports[0].auth_result == ""  # work to do: use the open company file
    assert reports[-1].auth_result == "none"  # the last session found nothing left
    worked = [r for r in reports if r.round_trips]
    assert sum(r.round_trips for r in worked) >= 3  # batch_size 2: five good requests need three trips
    assert all(r.ended_by == "closeConnection" for r in worked)

    customer = company.find("Customer", "Ann & Bob's Café")
    assert customer is not None and customer["Email"] == "ann@example.com"
    invoice_ret = company.find("Invoice", "1001")
    assert invoice_ret is not None and invoice_ret["Subtotal"] == "39.98"
    assert company.quantity_on_hand("SKU-1") == -2  # sold two that were never received
    # the raw invoice names no tax code: QuickBooks charges the company's sales tax (6.5% of 39.98)
    check_order(company, "1001", customer="Ann & Bob's Café", sold="42.58", paid="0.00",
                open_balance="42.58", open_credits="0.00", tax_total="2.60")
    check_stock(company, {"SKU-1": -2})

    with runtime.db.transaction() as s:
        states = {j.label: j.state for j in s.scalars(select(QueueJob))}
        assert states.pop("bad customer") == "parked"
        assert set(states.values()) == {"done"}
        parked = s.get(QueueJob, invalid.id)
        assert "schema" in parked.reason and "Name" in parked.reason
        sent = [e.request_xml for e in s.scalars(select(Exchange).order_by(Exchange.id))]
    assert sent and not any("No name" in doc for doc in sent)
    for doc in sent:
        validate(doc, "13.0")  # every request that went out is valid qbXML
    assert not any("No name" in entry.request for entry in company.request_log)
