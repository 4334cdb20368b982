"""The engine decides apart from doing: an order's rules' decision is made once, at intake, and rides on
its job; building a request queues no job (the exchange queues what a build names)."""

from __future__ import annotations

from sqlalchemy import func, select

from qbsync.queue import jobs as queue
from qbsync.storage.models import QueueJob
from qbsync.storefronts.records import Customer, Order
from tests.engine.conftest import make_order

ANN = Customer(storefront_id="42", email="ann@example.com", first_name="Ann", last_name="Lee")


def test_building_an_order_queues_nothing_the_exchange_queues_what_it_waits_for(runtime, make_connection):
    from qbsync.queue import handlers, rules
    from qbsync.queue.settings import SyncSettings
    from qbsync.storage.models import Connection, utcnow

    connection_id = make_connection("plain").id
    record = make_order(2101, customer=ANN).to_dict()
    with runtime.db.transaction() as session:
        job_id = queue.enqueue(session, connection_id, "order", {"record": record, "event": "created"},
                               record_type="order", record_id="2101", label="order 2101").id
    with runtime.db.transaction() as session:
        job, connection = session.get(QueueJob, job_id), session.get(Connection, connection_id)
        ctx = handlers.Context(session, connection, SyncSettings(connection.settings), "13.0", utcnow())
        built = handlers.handler_for("order").build(ctx, job)
        # The handler only names what the order waits for (the queue page's preview shows this) ...
        assert built == handlers.Defer("waiting for the order's customer and items to reach QuickBooks",
                                       queue=handlers.Needed(order=Order.from_dict(record),
                                                             customer=rules.CustomerChoice("42")))
        assert session.scalar(select(func.count()).select_from(QueueJob)) == 1
        # ... and the exchange queues it, and the order waits for those jobs.
        waiting = handlers.build_next(ctx, job)
        assert isinstance(waiting, handlers.Defer) and "customer Ann Lee" in waiting.reason
        assert {session.get(QueueJob, i).kind for i in waiting.wait_for} >= {"customer", "item"}


def test_the_rules_decide_an_order_once_at_intake_and_the_job_carries_the_decision(runtime, make_connection):
    from qbsync.queue import intake, rules

    connection_id = make_connection("plain").id
    with runtime.db.transaction() as session:
        from qbsync.storage.models import Connection

        connection = session.get(Connection, connection_id)
        paid = intake.record_changed(session, connection, "order", make_order(2102, customer=ANN))
        held = intake.record_changed(session, connection, "order", make_order(2103, status="on_hold"))
        assert paid is not None and held is None  # left out: a finished job says why
        assert rules.decision_of(paid.payload) == rules.OrderDecision(True, "SalesReceipt")
        (left_out,) = session.scalars(select(QueueJob).where(QueueJob.record_id == "2103")).all()
        decision = rules.decision_of(left_out.payload)
        assert decision is not None and not decision.sync and "on_hold" in decision.reason
