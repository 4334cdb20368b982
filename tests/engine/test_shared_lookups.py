"""Shared look-ups end to end: the orders and customers of one round trip are looked up with one query per
kind, QuickBooks ends up with exactly the same records as when each is looked up alone, and a lost answer
still leads to a link, not a second sale."""

from __future__ import annotations

from collections import Counter

import pytest
from lxml import etree

from qbsync.storage.models import QueueJob
from qbsync.storefronts.records import Customer, Product
from tests.accounting import check_order
from tests.engine.conftest import make_order

NUMBERS = range(3001, 3031)  # 30 orders of 10 different customers (make_order: customer = number % 50)


def _customer(n: int) -> Customer:
    return Customer(storefront_id=str(700 + n % 10), email=f"shopper{n % 10}@example.com",
                    first_name="Shopper", last_name=f"No{n % 10}")


def _keys_asked(shop, request_type: str, field: str) -> list[int]:
    """For each ``request_type`` element naming records by ``field`` that QuickBooks received: how many
    it named (list reads by filter are left out)."""
    counts = []
    for entry in shop.company.request_log:
        root = etree.fromstring(entry.request.encode())
        counts += [len(e.findall(field)) for e in root.iterfind(f"QBXMLMsgsRq/{request_type}")]
    return [n for n in counts if n]


def _requests_sent(shop) -> int:
    """How many requests QuickBooks received, all documents together."""
    documents = [etree.fromstring(e.request.encode()) for e in shop.company.request_log]
    return sum(len(root.find("QBXMLMsgsRq")) for root in documents)


def _books(shop) -> tuple[Counter, list[tuple]]:
    """What a bookkeeper would compare: the customers' names, and each sale's number, customer, total."""
    customers = Counter(c["FullName"] for c in shop.company.customers())
    sales = sorted((s["RefNumber"], s["CustomerRef"]["FullName"], s["TotalAmount"])
                   for s in shop.company.transactions("SalesReceipt"))
    return customers, sales


def _sync_orders(shop) -> None:
    for n in NUMBERS:
        shop.feed("order", make_order(n, customer=_customer(n)))
    shop.sync()


@pytest.mark.parametrize("profile", ["retail", "service"])
def test_one_query_per_kind_and_the_same_books_as_one_query_each(make_shop, profile):
    shared = make_shop("shared", profile=profile)
    _sync_orders(shared)
    alone = make_shop("alone", profile=profile)
    alone.configure(shared_lookups=False)
    _sync_orders(alone)

    assert _books(shared) == _books(alone)
    customers, sales = _books(shared)
    assert [ref for ref, _, _ in sales] == [str(n) for n in NUMBERS]  # each order once
    assert all(count == 1 for count in customers.values()) and len(customers) >= 10
    # Each order and each customer was looked up, alone: once per record; shared: in one query per kind.
    assert _keys_asked(alone, "SalesReceiptQueryRq", "RefNumber") == [1] * len(NUMBERS)
    assert _keys_asked(shared, "SalesReceiptQueryRq", "RefNumber") == [len(NUMBERS)]
    assert sum(_keys_asked(alone, "CustomerQueryRq", "FullName")) == 10
    assert _keys_asked(shared, "CustomerQueryRq", "FullName") == [10]
    assert len(shared.requests("SalesReceiptAddRq")) == len(alone.requests("SalesReceiptAddRq")) == 30
    # 29 order and 9 customer queries fewer (and the items' look-ups share one too)
    assert _requests_sent(shared) <= _requests_sent(alone) - (len(NUMBERS) - 1) - (10 - 1)
    assert not shared.jobs(QueueJob.state != "done")
    for n in (NUMBERS[0], NUMBERS[-1]):
        order = make_order(n, customer=_customer(n))
        check_order(shared.company, order.number, sold=order.total, paid=order.total, open_balance="0.00")
    shared.assert_every_request_valid()


@pytest.mark.parametrize("profile", ["retail", "service"])
def test_after_a_lost_answer_the_shared_look_up_links_each_order_once(shop):
    shop.configure(lookup_before_add="when_unsure")  # the adds go out without a look-up first
    shop.feed("customer", _customer(0))
    shop.feed("product", Product(product_id="101", sku="MUG-RED", name="Red mug"))
    shop.feed("order", make_order(4000, customer=_customer(0)))  # the shipping item is added with it
    shop.sync()
    for n in range(4001, 4007):
        shop.feed("order", make_order(n, customer=_customer(0)))
    shop.company.crash_after_processing(times=1)
    (crashed,) = shop.sync(sessions=1)
    assert crashed.ended_by == "crash"
    assert len(shop.company.transactions("SalesReceipt")) == 7  # QuickBooks did six more; we never heard
    shop.feed("order", make_order(4007, customer=_customer(0)))  # not sent yet: nothing to look up
    shop.time_passes()
    shop.sync()

    assert sorted(t["RefNumber"] for t in shop.company.transactions("SalesReceipt")) == [
        str(n) for n in range(4000, 4008)]
    assert len(shop.requests("SalesReceiptAddRq")) == 8
    assert _keys_asked(shop, "SalesReceiptQueryRq", "RefNumber") == [6]  # the six uncertain ones, together
    for n in range(4001, 4007):
        (job,) = shop.jobs(QueueJob.kind == "order", QueueJob.record_id == str(n))
        assert job.state == "done" and "linked" in job.reason
        assert shop.mapping("order", str(n)).qb_id == next(
            t["TxnID"] for t in shop.company.transactions("SalesReceipt") if t["RefNumber"] == str(n))
    shop.assert_every_request_valid()


@pytest.mark.parametrize("profile", ["retail", "service"])
def test_a_shared_look_up_refused_as_a_whole_is_split_until_each_gets_its_own_answer(shop):
    shop.sync()  # the lists are read first (a CustomerQuery too), so the fault hits the look-up
    # QuickBooks refuses the next customer query as a whole: it says nothing about any one name.
    shop.company.inject(3000, "CustomerQuery", times=1, message="The given object ID is invalid.")
    _sync_orders(shop)

    asked = _keys_asked(shop, "CustomerQueryRq", "FullName")
    assert asked[0] == 10 and all(n < 10 for n in asked[1:]) and sum(asked[1:]) == 10  # sent again, split
    refused = [a for a in shop.attempts("CustomerQueryRq") if a.status_code == 3000]
    assert [a.outcome for a in refused] == ["split"] * 10  # nobody parked for a refusal about all
    customers, sales = _books(shop)
    assert [ref for ref, _, _ in sales] == [str(n) for n in NUMBERS]
    assert len(customers) >= 10 and all(count == 1 for count in customers.values())
    assert not shop.jobs(QueueJob.state != "done")
    shop.assert_every_request_valid()
