"""Nothing a shopper can type makes an order vanish (issue 16).

A 5,000-character e-mail, a NUL or a lone surrogate in a name used to fail the delivery silently (answered
200, never synced). A signed webhook carrying them must reach the simulated QuickBooks, the fields cleaned
and cut, and the order must say what was changed. Runs on SQLite, and on PostgreSQL in the CI leg.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from qbsync.simulator import QuickBooksCompany, WebConnector
from qbsync.simulator.storefront_data import make_orders
from qbsync.storage.models import QueueJob, WebhookDelivery
from tests.ops.processes import woo_delivery

PASSWORD = "correct horse battery"
SECRET = "shopper-webhook-secret"

# The billing fields a shopper typed, and what the order's job must then say was changed.
HOSTILE_FIELDS = {
    "long e-mail": ({"email": "x" * 5_000 + "@example.com"},
                    "billing.email: cut from 5012 to 254 characters"),
    "NUL in names": ({"first_name": "Ann\x00", "last_name": "Lee\x00\x00Smith", "address_1": "1 Main\x00 St"},
                     "billing.last_name: control characters removed"),
    "lone surrogate": ({"first_name": "Ann\ud800", "company": "Caf\udce9 Ltd", "city": "Z\udfffrich"},
                       "billing.company: invalid characters replaced"),
}


@pytest.fixture
def shop(make_connection):
    return make_connection("shop", webhook_secret=SECRET)


@pytest.mark.parametrize("case", sorted(HOSTILE_FIELDS))
def test_an_order_with_fields_a_shopper_typed_badly_reaches_quickbooks(case, client, live_server, runtime,
                                                                        shop):
    order = make_orders(1, "woocommerce", seed=11)[0]
    fields, said = HOSTILE_FIELDS[case]
    order["billing"].update(fields)
    order["customer_id"] = 0  # a guest: the customer comes from these billing details
    # json.dumps escapes a lone surrogate as \\ud800 and so on, as PHP's json_encode does.
    body, headers = woo_delivery(order, f"shopper-{case}", secret=SECRET)
    answer = client.post("/webhooks/woocommerce/shop", data=body, headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    runtime.dispatcher.shutdown(wait=True)

    with runtime.db.transaction() as session:
        states = [d.state for d in session.scalars(select(WebhookDelivery))]
    assert states == ["processed"], states

    company = QuickBooksCompany()
    with WebConnector(f"{live_server.url}/qbwc", shop.qbwc_username, PASSWORD, company) as connector:
        reports = connector.run(until_idle=True, max_sessions=4)
    assert all(report.fault is None for report in reports)
    sales = [t for kind in ("SalesReceipt", "Invoice", "SalesOrder") for t in company.transactions(kind)]
    assert [str(t.get("RefNumber")) for t in sales] == [str(order["number"])]

    with runtime.db.transaction() as session:
        jobs = list(session.scalars(select(QueueJob).where(QueueJob.connection_id == shop.id)))
    assert all(j.state == "done" for j in jobs), [(j.kind, j.state, j.reason) for j in jobs]
    order_job = next(j for j in jobs if j.kind == "order")
    assert "shopper input cleaned" in order_job.reason and said in order_job.reason, order_job.reason
