"""First contact with a new company: the first Web Connector session on a fresh connection, reading the
company and setting it up (what the settings name and the company lacks is chosen or created), then two
orders (one plain, one with a coupon, so the shipping and discount items and their accounts are needed);
the store's payment gateways are mapped to payment methods neither company has.

Reported per simulated company profile (QuickBooks' own setup interview: ``service`` and ``retail``):
round trips and qbXML requests until idle, the round trips and requests of the company setup's own adds,
the round trip in which the last order landed, and requests answered 3140 (must be none).
``QBSYNC_BENCH_SOURCE=<checkout>`` runs the server from another checkout and stores the numbers as
``first_contact_before`` (the README compares the two).
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import func, select

from bench import machine, results
from bench.stack import QBWC_PASSWORD, Stack
from qbsync.queue.intake import record_changed
from qbsync.simulator import QuickBooksCompany, WebConnector
from qbsync.storage.models import Connection, Exchange, JobAttempt, QueueJob
from qbsync.storefronts.records import Customer, DiscountLine, Order, OrderLine, ShippingLine

NAME = "first_contact"
PROFILES = ("service", "retail")
GOALS = {"setup_round_trips": "independent adds share one round trip", "answered_3140": "0"}
# The store's card and wallet payments as QuickBooks payment methods (neither profile has them).
SETTINGS = {"payment_method_map": ["stripe=Stripe", "ppcp-gateway=PayPal"]}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


def _order(number: int, discount: Decimal = Decimal(0)) -> Order:
    from datetime import UTC, datetime

    line = OrderLine(id=f"{number}1", product_id="101", sku="MUG-RED", name="Red mug", quantity=Decimal(2),
                     unit_price=Decimal("9.50"), subtotal=Decimal("19.00"), total=Decimal("19.00"))
    when = datetime(2024, 3, 1, 15, 0, tzinfo=UTC)
    return Order(storefront_id=str(number), number=str(number), status="processing", paid=True,
                 currency="USD", created_at=when, modified_at=when,
                 customer=Customer(storefront_id="5001", email="buyer@example.com", first_name="Ann",
                                   last_name="Lee"),
                 lines=(line,),
                 shipping_lines=(ShippingLine(id="s1", title="Flat rate", amount=Decimal("5.00")),),
                 discounts=(DiscountLine(code="WELCOME", amount=discount),) if discount else (),
                 subtotal=Decimal("19.00"), shipping_total=Decimal("5.00"),
                 total=Decimal("24.00") - discount, payment_method="cod", payment_method_title="Cash")


def _requests(document: str) -> list[str]:
    root = etree.fromstring(document.encode("utf-8"), _PARSER)
    messages = root.find("QBXMLMsgsRq")
    return [] if messages is None else [str(c.tag) for c in messages if isinstance(c.tag, str)]


def _answered(company: QuickBooksCompany, code: int) -> int:
    count = 0
    for entry in company.request_log:
        if entry.response:
            root = etree.fromstring(entry.response.encode("utf-8"), _PARSER)
            count += sum(1 for rs in root.iterfind("QBXMLMsgsRs/*") if rs.get("statusCode") == str(code))
    return count


def _one(profile: str) -> dict[str, Any]:
    with Stack.sqlite() as stack:
        assert stack.runtime is not None
        connection = stack.add_connection()
        with stack.runtime.db.transaction() as session:
            shop = session.get(Connection, connection.id)
            assert shop is not None
            shop.settings = dict(SETTINGS)
            record_changed(session, shop, "order", _order(1))
            record_changed(session, shop, "order", _order(2, Decimal("1.00")))
        source = os.environ.get("QBSYNC_BENCH_SOURCE")
        if source:
            stack.source = Path(source)
        web = stack.serve(threads=2)
        company = QuickBooksCompany(profile=profile)
        with WebConnector(f"{web.url}/qbwc", "shop-qbwc", QBWC_PASSWORD, company,
                          sleep=lambda _s: None) as connector:
            reports = connector.run(until_idle=True, max_sessions=10)
        sent = [_requests(entry.request) for entry in company.request_log]
        landed = [i + 1 for i, kinds in enumerate(sent) if "SalesReceiptAddRq" in kinds]
        with stack.runtime.db.transaction() as session:
            setup_requests, setup_round_trips = session.execute(
                select(func.count(), func.count(func.distinct(JobAttempt.exchange_id)))
                .join(QueueJob, QueueJob.id == JobAttempt.job_id)
                .join(Exchange, Exchange.id == JobAttempt.exchange_id)
                .where(QueueJob.kind == "company_setup", JobAttempt.connection_id == connection.id)).one()
            orders_done = session.scalar(select(func.count()).select_from(QueueJob).where(
                QueueJob.connection_id == connection.id, QueueJob.kind == "order", QueueJob.state == "done"))
        row = {"profile": profile, "sessions": len(reports), "round_trips": len(sent),
               "requests": sum(len(kinds) for kinds in sent), "setup_adds": setup_requests,
               "setup_round_trips": setup_round_trips, "orders_done": orders_done,
               "last_order_in_round_trip": max(landed) if landed else None,
               "answered_3140": _answered(company, 3140)}
        print(f"  {profile}: {row['round_trips']} round trips, {row['requests']} requests; the setup's "
              f"{row['setup_adds']} adds in {row['setup_round_trips']} round trips; orders landed by round "
              f"trip {row['last_order_in_round_trip']}; {row['answered_3140']} answered 3140")
        return row


COLUMNS = ["profile", "round_trips", "requests", "setup_adds", "setup_round_trips",
           "last_order_in_round_trip", "orders_done", "answered_3140"]


def run() -> dict[str, Any]:
    runs = [_one(profile) for profile in PROFILES]
    source = os.environ.get("QBSYNC_BENCH_SOURCE")
    notes = ["a fresh connection, two orders queued (one with a coupon), sessions run until idle against the "
             "simulated company of each profile; embedded service (SQLite)",
             f"server code: {source or 'this checkout'}"]
    path = results.save(NAME if not source else f"{NAME}_before", machine.describe("SQLite"), runs, GOALS,
                        notes)
    print(results.table(runs, COLUMNS))
    before = results.RESULTS_DIR / f"{NAME}_before.json"
    if not source and before.exists():
        import json

        rows = [{**r, "code": "before"} for r in json.loads(before.read_text())["runs"]]
        rows += [{**r, "code": "now"} for r in runs]
        print("before (one add per round trip) and now:")
        print(results.table(sorted(rows, key=lambda r: r["profile"]), ["code", *COLUMNS]))
    print(f"written {path}")
    return {"runs": runs}
