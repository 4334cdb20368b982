"""Many records per round trip: independent requests share one qbXML message, jobs at different steps
share it too, and a big queue drains in a few hundred round trips, not one per record."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from qbsync.qbxml.schema import validate
from qbsync.queue import exchange, intake
from qbsync.simulator.company import QuickBooksCompany
from qbsync.storage.models import Connection, Exchange, QbwcSession, QueueJob, utcnow
from tests.conftest import statements_run
from tests.engine.conftest import make_order


def _queue_orders(runtime, connection_id: int, numbers: range, chunk: int = 500) -> None:
    for start in range(numbers.start, numbers.stop, chunk):
        with runtime.db.transaction() as session:
            connection = session.get(Connection, connection_id)
            intake.record_changed_many(
                session,
                connection,
                "order",
                [make_order(n) for n in range(start, min(start + chunk, numbers.stop))],
            )


# On the default company only: a count of round trips for 400 orders (8 s), the same on every profile.
def test_four_hundred_orders_go_through_in_a_handful_of_round_trips(shop):
    _queue_orders(shop.runtime, shop.connection_id, range(1, 401))
    reports = shop.sync()

    round_trips = sum(r.round_trips for r in reports)
    batch = 200
    # Look-up and add for each order, in full batches; plus the customers' and items' look-up and add.
    assert round_trips <= 2 * math.ceil(400 / batch) + 4
    assert len(shop.company.transactions("SalesReceipt")) == 400
    assert not shop.jobs(QueueJob.state.not_in(("done",)))
    with shop.runtime.db.transaction() as session:
        biggest = session.scalar(
            select(func.max(Exchange.job_count)).where(Exchange.connection_id == shop.connection_id)
        )
    assert biggest == batch
    with shop.runtime.db.transaction() as session:
        documents = session.scalars(
            select(Exchange.request_xml).where(Exchange.connection_id == shop.connection_id))
        for document in documents:
            validate(document, "13.0")  # what the exchanges table recorded as sent
    shop.assert_every_request_valid()


@pytest.mark.slow
@pytest.mark.volume
def test_five_thousand_queued_orders_drain_in_at_most_one_hundred_fifty_round_trips(runtime, make_connection):
    """Straight through next_request/handle_response (the SOAP layer adds nothing per request), with the
    default settings: every order is looked up by RefNumber before it is added. (10,000 orders over real
    HTTP SOAP are the bench's: ``python -m bench --only webconnector_throughput``, 110 round trips.)"""
    connection = make_connection("bulk")
    _queue_orders(runtime, connection.id, range(1, 5_001))
    company = QuickBooksCompany()
    with runtime.db.transaction() as session:
        qb = QbwcSession(
            connection_id=connection.id,
            ticket="bulk",
            qbxml_version="13.0",
            expires_at=utcnow() + timedelta(hours=4),
        )
        session.add(qb)
        session.flush()
        qb_id = qb.id

    round_trips = 0
    while round_trips <= 150:
        with runtime.db.transaction() as session:
            document = exchange.next_request(session, session.get(QbwcSession, qb_id))
        if document is None:
            break
        round_trips += 1
        answer = company.process(document)
        with runtime.db.transaction() as session:
            exchange.handle_response(session, session.get(QbwcSession, qb_id), answer)

    assert round_trips <= 150
    assert company.counts()["SalesReceipt"] == 5_000
    with runtime.db.transaction() as session:
        left = session.scalar(
            select(func.count())
            .select_from(QueueJob)
            .where(QueueJob.connection_id == connection.id, QueueJob.state != "done")
        )
        sent = session.scalar(
            select(func.sum(Exchange.job_count)).where(Exchange.connection_id == connection.id)
        )
    assert left == 0
    assert sent >= 10_000 and round_trips < sent / 100  # a look-up and an add per order, batched


def test_a_round_trips_new_customers_and_items_cost_no_database_query_each(shop):
    """However many customers and items one round trip adds, their answers are applied with a few queries:
    the list entries they update are read once per round trip (not once per new customer), and the jobs
    waiting for a missing record are looked for once (not once per item added). The web process's time per
    request then does not grow with what each request adds."""
    from decimal import Decimal

    from qbsync.storefronts.records import Customer, OrderLine

    count = 40
    for n in range(1, count + 1):
        line = OrderLine(id=f"{n}1", product_id=str(200 + n), sku=f"SKU-{n}", name=f"Thing {n}",
                         quantity=Decimal(1), unit_price=Decimal("4.00"), subtotal=Decimal("4.00"),
                         total=Decimal("4.00"))
        customer = Customer(storefront_id=str(800 + n), email=f"person{n}@example.com", first_name="Person",
                            last_name=f"Number{n}")
        shop.feed("order", make_order(n, customer=customer, lines=(line,)))
    with statements_run(shop.runtime.db.engine) as run:
        reports = shop.sync()
    statements = [" ".join(s.text.split()) for s in run]

    assert len(shop.company.transactions("SalesReceipt")) == count
    assert len(shop.company.customers()) >= count
    assert not shop.jobs(QueueJob.state.not_in(("done",)))
    round_trips = sum(r.round_trips for r in reports)
    # Reads of stored list entries by ListID: one per round trip for all its answers (a few more in the
    # first contact, which reads whole lists); one per customer and per item added would be over 80.
    entry_reads = [s for s in statements if s.startswith("SELECT") and "FROM qb_list_entries" in s
                   and "qb_list_entries.list_id IN" in s]
    preflight_wakes = [s for s in statements
                       if s.startswith("SELECT") and "queue_jobs.state = " in s and "queue_jobs.step = " in s]
    assert len(entry_reads) < count // 2
    assert len(preflight_wakes) <= round_trips
    # An exchange's row holds the documents sent and answered: each UPDATE rewrites the whole row, so it is
    # changed once when sent (its service time) and once when answered (the answer, when, the time spent).
    exchange_updates = [s for s in statements if s.startswith("UPDATE exchanges")]
    assert len(exchange_updates) <= 2 * round_trips


def test_a_round_trip_reads_only_the_pulled_customers_its_orders_name(shop):
    """The pulled customer list grows with the store's buyers. A round trip matching its guests' e-mails and
    its buyers' names to that list reads the entries with those names and e-mails, not the whole list: its
    cost does not grow with the list. The guest whose e-mail a QuickBooks customer has still goes to that
    customer, a buyer QuickBooks lacks is still added, a guest nobody's e-mail names goes to Web Guests."""
    from qbsync.storefronts.records import Customer

    listed = 60
    for n in range(listed):
        shop.in_quickbooks("CustomerAdd", {"Name": f"Trade {n}", "Email": f"trade{n}@example.com"})
    shop.sync()  # the first contact reads the whole customer list
    trade = Customer(storefront_id=None, email="TRADE7@example.com", first_name="Gus", last_name="Guest",
                     is_guest=True)
    nobody = Customer(storefront_id=None, email="nobody@example.com", first_name="No", last_name="Body",
                      is_guest=True)
    ann = Customer(storefront_id="42", email="ann@example.com", first_name="Ann", last_name="Lee")
    for number, customer in ((6001, trade), (6002, nobody), (6003, ann)):
        shop.feed("order", make_order(number, customer=customer))
    engine = shop.runtime.db.engine
    with statements_run(engine) as run:
        shop.sync()
    selects = [(s.text, s.parameters) for s in run  # reads of the customer list (not entries by ListID)
               if s.text.lstrip().upper().startswith("SELECT") and "FROM qb_list_entries" in s.text
               and "Customer" in (s.parameters.values() if isinstance(s.parameters, dict) else s.parameters)]

    whose = {t["RefNumber"]: t["CustomerRef"]["FullName"] for t in shop.sales()}
    assert whose == {"6001": "Trade 7", "6002": "Web Guests", "6003": "Lee, Ann"}
    assert not shop.jobs(QueueJob.state.not_in(("done",)))
    # The customers those reads return, read again now: the few the round trips asked for, where reading
    # the whole list once per round trip returned every one of them.
    with engine.connect() as conn:
        read = sum(len(conn.exec_driver_sql(statement, parameters).fetchall())
                   for statement, parameters in selects)
    assert selects and read < listed // 4


class _SlowClock:
    """``time`` for the exchange module of a machine so slow that each reading of the clock is 10 s
    later than the one before (the default budget is 2 s): every round trip is over its budget before its
    first job is built."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        self.now += 10.0
        return self.now


def test_a_round_trip_over_its_budget_before_its_first_request_still_sends_one(runtime, make_connection,
                                                                                monkeypatch):
    """The budget keeps each Web Connector call short; it must never end a session with work queued (a
    round trip with nothing in it tells the Web Connector there is nothing to do)."""
    connection = make_connection("slow")
    _queue_orders(runtime, connection.id, range(1, 4))
    monkeypatch.setattr(exchange, "time", _SlowClock())
    company = QuickBooksCompany()
    with runtime.db.transaction() as session:
        qb = QbwcSession(connection_id=connection.id, ticket="slow", qbxml_version="13.0",
                         expires_at=utcnow() + timedelta(hours=4))
        session.add(qb)
        session.flush()
        qb_id = qb.id

    sizes = []
    while len(sizes) < 60:
        with runtime.db.transaction() as session:
            document = exchange.next_request(session, session.get(QbwcSession, qb_id))
        if document is None:
            break
        sizes.append(document.count("requestID="))
        answer = company.process(document)
        with runtime.db.transaction() as session:
            exchange.handle_response(session, session.get(QbwcSession, qb_id), answer)

    assert sizes and min(sizes) >= 1  # every round trip sent something until the queue was empty
    assert len(company.transactions("SalesReceipt")) == 3
    with runtime.db.transaction() as session:
        assert not session.scalar(select(func.count()).select_from(QueueJob).where(
            QueueJob.connection_id == connection.id, QueueJob.state != "done"))
