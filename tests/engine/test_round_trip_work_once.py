"""Work the same for every order of a round trip is done once (``Context.cache``), and never outlives what
it was worked out from: a special item's link or list entry made, changed or dropped in the same round trip
gives the next order the new reference, as a round trip of its own would. The proxy customer's job reads
the waiting orders only as far as choosing their customer goes."""

from __future__ import annotations

from typing import Any

import pytest

from qbsync.queue import jobs as queue
from qbsync.storage.models import QueueJob
from qbsync.storefronts.records import Customer, Order
from tests.engine.conftest import make_order

ANN = Customer(storefront_id="42", email="ann@example.com", first_name="Ann", last_name="Lee")


def _specials(ctx: Any, order: Order) -> dict[str, dict[str, str]]:
    """The special items' references the order's transaction would carry, built in ``ctx``."""
    from qbsync.queue import mappings
    from qbsync.queue.handlers import handler_for
    from qbsync.queue.handlers.order_lines import line_key

    handler: Any = handler_for("order")
    for line in order.lines:  # its product linked, so the company is read whole
        if mappings.get(ctx.session, ctx.connection.id, mappings.PRODUCT, line_key(line)) is None:
            mappings.link(ctx.session, ctx.connection.id, mappings.PRODUCT, line_key(line),
                          qb_type="ItemNonInventory", qb_id=f"P-{line_key(line)}", qb_name=line.name)
    return dict(handler._company(ctx, order, "C-1").specials)


def test_special_item_references_follow_links_and_lists_changed_in_the_same_round_trip(
        runtime, make_connection):
    from qbsync.queue import handlers, lists, mappings
    from qbsync.queue.handlers.orders import special_names
    from qbsync.queue.settings import SyncSettings
    from qbsync.storage.models import Connection, utcnow

    connection_id = make_connection("plain").id
    first, second = make_order(2201, customer=ANN), make_order(2202, customer=ANN)
    with runtime.db.transaction() as session:
        connection = session.get(Connection, connection_id)
        settings = SyncSettings(connection.settings)
        ctx = handlers.Context(session, connection, settings, "13.0", utcnow())

        def fresh() -> dict[str, dict[str, str]]:  # the slow path: a round trip of its own, nothing kept
            return _specials(handlers.Context(session, connection, settings, "13.0", utcnow()), second)

        shipping = special_names(first, settings)["shipping"]
        discount = special_names(first, settings)["discount"]
        before = _specials(ctx, first)
        assert before["shipping"] == {"FullName": shipping}  # neither linked nor in the pulled list
        assert _specials(ctx, second) == before == fresh()

        # Linked in the same round trip: the next order refers to it by ListID.
        mappings.link(session, connection_id, mappings.SPECIAL_ITEM, "shipping", qb_type="ItemOtherCharge",
                      qb_id="SHIP-1", qb_name=shipping)
        assert _specials(ctx, second)["shipping"] == {"ListID": "SHIP-1"} == fresh()["shipping"]
        # Linked to another record: the new one.
        mappings.link(session, connection_id, mappings.SPECIAL_ITEM, "shipping", qb_type="ItemOtherCharge",
                      qb_id="SHIP-2", qb_name=shipping)
        assert _specials(ctx, second)["shipping"] == {"ListID": "SHIP-2"} == fresh()["shipping"]
        # The link dropped (its record gone): by name again.
        session.flush()  # (stored, as a link of an earlier round trip is)
        mapping = mappings.get(session, connection_id, mappings.SPECIAL_ITEM, "shipping")
        assert mapping is not None
        mappings.forget(session, mapping)
        assert _specials(ctx, second)["shipping"] == {"FullName": shipping} == fresh()["shipping"]

        # An item QuickBooks returned in the same round trip is known from the list: by its ListID.
        lists.remember(session, connection_id, "Item", "ItemDiscountRet",
                       {"ListID": "DISC-1", "FullName": discount})
        assert _specials(ctx, second)["discount"] == {"ListID": "DISC-1"} == fresh()["discount"]
        assert _specials(ctx, second) == fresh()

        # Each order gets references of its own: changing one order's changes no other's.
        one, other = _specials(ctx, first), _specials(ctx, second)
        one["discount"]["ListID"] = "changed"
        assert other["discount"] == {"ListID": "DISC-1"}


def test_the_proxy_customers_job_reads_a_waiting_orders_buyer_as_the_whole_order_has_it(
        runtime, make_connection):
    from qbsync.queue.handlers import record_of
    from qbsync.queue.handlers.customers import _buyer

    connection_id = make_connection("plain").id
    guest = Customer(storefront_id=None, email="Guest@Example.com", first_name="Gus", last_name="Guest",
                     is_guest=True)
    with runtime.db.transaction() as session:
        for order in (make_order(2301, customer=guest), make_order(2302, customer=ANN)):
            job = queue.enqueue(session, connection_id, "order",
                                {"record": order.to_dict(), "event": "created"},
                                record_type="order", record_id=order.storefront_id, label="order")
            whole = record_of(job, Order)
            buyer = _buyer(job)
            assert (buyer.customer, buyer.currency) == (whole.customer, whole.currency) == (
                order.customer, order.currency)
        # A payload that holds no order's buyer is read whole, and fails as reading the order fails.
        odd = queue.enqueue(session, connection_id, "order", {"record": {"number": "1"}, "event": "created"},
                            record_type="order", record_id="2303", label="order")
        try:
            _buyer(odd)
        except ValueError as exc:
            assert "Order" in str(exc)
        else:
            raise AssertionError("a payload without an order's buyer was read")
        assert session.get(QueueJob, odd.id) is odd


def _proxy_scenarios() -> list[Any]:
    from tests.engine import test_rules as scenarios

    return [
        # Defer: the customers changed since the list was read are read first; one of them takes an order.
        scenarios.test_a_customer_typed_into_quickbooks_since_the_list_was_read_takes_the_guests_order,
        # Finish: every order goes to the customer with the guest's e-mail; the proxy is not added.
        scenarios.test_a_guests_customer_typed_into_quickbooks_after_the_list_was_read_leaves_web_guests_unadded,
        # None: some go to the proxy customer, which is added as usual.
        scenarios.test_a_guest_whose_e_mail_is_a_quickbooks_customers_is_booked_to_that_customer,
    ]


@pytest.mark.parametrize("profile", ["retail"])
@pytest.mark.parametrize("scenario", _proxy_scenarios(), ids=lambda scenario: scenario.__name__[5:40])
def test_the_proxy_customers_job_decides_the_same_reading_the_waiting_orders_one_at_a_time(
        shop, monkeypatch, scenario):
    """The proxy customer's job reads the orders waiting for it a chunk at a time and stops once the answer
    is known: with chunks of one order (every order a chunk boundary) the outcomes are the same."""
    from qbsync.queue.handlers import customers

    monkeypatch.setattr(customers, "_PROXY_CHUNK", 1)
    scenario(shop)
