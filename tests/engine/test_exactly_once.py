"""Exactly once: one QuickBooks record per storefront record, whatever the webhooks and the sessions do."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from decimal import Decimal

import pytest

from qbsync.storefronts.records import Customer, OrderLine, Product
from qbsync.storefronts.woocommerce import normalize as woo
from tests.accounting import check_synced_order
from tests.engine.conftest import account_of_type, make_order

# Exactly once is about numbers and look-ups: the default company and the service one (no stock, no tax).
ON_TWO_COMPANIES = pytest.mark.parametrize("profile", ["retail", "service"])

JOHN = Customer(storefront_id="77", email="john.doe@example.com", first_name="John", last_name="Doe")
MUG = Product(product_id="101", sku="MUG-RED", name="Red mug", price=Decimal("9.50"))


@pytest.mark.parametrize("profile", ["retail", "multicurrency"])  # the sample is taxed: two US tax companies
def test_the_same_order_twice_becomes_one_sales_receipt(shop, sample):
    order = woo.order(sample("woocommerce/order.json"))
    shop.feed("order", order)
    shop.feed("order", order)  # the storefront retried the webhook
    assert len(shop.jobs(*_kind("order"))) == 1
    shop.sync()
    shop.feed("order", order)  # and once more after the sync
    shop.sync()

    receipts = shop.company.transactions("SalesReceipt")
    assert [r["RefNumber"] for r in receipts] == ["727"]
    assert len(shop.requests("SalesReceiptAddRq")) == 1
    assert [j.state for j in shop.jobs(*_kind("order"))] == ["done", "done"]
    assert "already in QuickBooks" in shop.jobs(*_kind("order"))[-1].reason
    check_synced_order(shop.company, order)
    shop.assert_every_request_valid()


@ON_TWO_COMPANIES
def test_an_older_version_arriving_after_a_newer_one_changes_nothing(shop):
    first = make_order(1001)
    newer = dataclasses.replace(
        first,
        modified_at=first.modified_at + timedelta(minutes=5),
        note="gift wrap",
        lines=(
            dataclasses.replace(
                first.lines[0], quantity=Decimal(3), subtotal=Decimal("28.50"), total=Decimal("28.50")
            ),
        ),
        subtotal=Decimal("28.50"),
        total=Decimal("33.50"),
    )
    shop.feed("order", newer)
    assert shop.feed("order", first) is None  # the older delivery came late
    shop.sync()

    (receipt,) = shop.company.transactions("SalesReceipt")
    assert receipt["TotalAmount"] == "33.50"
    assert receipt["SalesReceiptLineRet"][0]["Quantity"] == "3"
    assert "gift wrap" in receipt["Memo"]
    check_synced_order(shop.company, newer)
    shop.assert_every_request_valid()


@ON_TWO_COMPANIES
def test_a_crash_after_quickbooks_processed_the_add_is_linked_not_added_again(shop):
    # The crash must hit the batch that holds the sale: an earlier order made the customer and the items
    # (shipping too), so nothing is added in the round trip before it.
    shop.configure(lookup_before_add="when_unsure")  # the add is sent without a look-up first
    shop.feed("order", make_order(1001, customer=JOHN))
    shop.sync()

    shop.feed("order", make_order(1002, customer=JOHN))
    shop.company.crash_after_processing(times=1)
    (crashed,) = shop.sync(sessions=1)
    assert crashed.ended_by == "crash"
    assert len(shop.company.transactions("SalesReceipt")) == 2  # QuickBooks did it; we never heard
    shop.time_passes()  # the dead session is ended; its job goes back to the queue, marked uncertain
    shop.sync()

    assert len(shop.company.transactions("SalesReceipt")) == 2
    assert len(shop.requests("SalesReceiptAddRq")) == 2
    assert shop.requests("SalesReceiptQueryRq"), "the lost answer must be followed by a look-up"
    job = shop.jobs(*_kind("order"))[-1]
    assert job.state == "done" and "linked" in job.reason
    mapping = shop.mapping("order", "1002")
    assert mapping.qb_id == shop.company.transactions("SalesReceipt")[1]["TxnID"]
    check_synced_order(shop.company, make_order(1002, customer=JOHN), customer="Doe, John")
    shop.assert_every_request_valid()


@ON_TWO_COMPANIES
def test_name_in_use_links_the_customer_quickbooks_already_has(shop):
    # No look-up before the add and no pulled customer list: QuickBooks' 3100 is what tells us. With no list
    # read at all the company setup never runs either, so the merchant named the company's own accounts.
    income = account_of_type(shop.company, "Income")
    shop.configure(lookup_before_add="when_unsure", list_refresh_hours=0, income_account=income,
                   shipping_account=income, discount_account=income)
    shop.first_contact_done()
    existing = shop.in_quickbooks("CustomerAdd", {"Name": "Doe, John", "Email": "john.doe@example.com"})
    shop.feed("order", make_order(1003, customer=JOHN))
    shop.sync()

    assert [c["FullName"] for c in shop.company.customers()] == ["Doe, John"]
    assert [a.status_code for a in shop.attempts("CustomerAddRq")] == [3100]
    assert [a.status_code for a in shop.attempts("CustomerQueryRq")] == [0]
    assert shop.mapping("customer", "77").qb_id == existing["ListID"]
    (receipt,) = shop.company.transactions("SalesReceipt")
    assert receipt["CustomerRef"]["ListID"] == existing["ListID"]
    check_synced_order(shop.company, make_order(1003, customer=JOHN), customer="Doe, John")
    shop.assert_every_request_valid()


@ON_TWO_COMPANIES
def test_a_name_taken_by_another_customer_gets_the_storefront_id(shop):
    shop.in_quickbooks("CustomerAdd", {"Name": "Doe, John", "Email": "someone.else@example.com"})
    shop.feed("order", make_order(1004, customer=JOHN))
    shop.sync()

    names = sorted(c["FullName"] for c in shop.company.customers())
    assert names == ["Doe, John", "Doe, John (77)"]
    renamed = shop.mapping("customer", "77")
    assert (renamed.store_name, renamed.rename_reason) == (
        "Doe, John", "suffix (77) added because 'Doe, John' is another customer in QuickBooks (e-mail "
        "someone.else@example.com)")
    (receipt,) = shop.company.transactions("SalesReceipt")
    assert receipt["CustomerRef"]["FullName"] == "Doe, John (77)"
    check_synced_order(shop.company, make_order(1004, customer=JOHN), customer="Doe, John (77)")
    shop.assert_every_request_valid()


@ON_TWO_COMPANIES
def test_two_store_customers_of_one_name_in_one_round_trip_cost_no_refused_add(shop):
    """Two different John Does order before the next session: the second waits for the first's look-up
    and add, then takes its id; QuickBooks never refuses an add (3100) and is asked each name once."""
    other_john = dataclasses.replace(JOHN, storefront_id="78", email="john.doe@elsewhere.example")
    shop.feed("order", make_order(1006, customer=JOHN))
    shop.feed("order", make_order(1007, customer=other_john))
    shop.sync()

    assert sorted(c["FullName"] for c in shop.company.customers()) == ["Doe, John", "Doe, John (78)"]
    assert [a.status_code for a in shop.attempts("CustomerAddRq")] == [0, 0]
    asked = [name for request in shop.requests("CustomerQueryRq")
             for name in re.findall(r"<FullName>(Doe, John[^<]*)</FullName>", request)]
    assert asked == ["Doe, John", "Doe, John (78)"]  # the second John is never looked up by the first's name
    for number, customer, name in ((1006, JOHN, "Doe, John"), (1007, other_john, "Doe, John (78)")):
        check_synced_order(shop.company, make_order(number, customer=customer), customer=name)
    shop.assert_every_request_valid()


@ON_TWO_COMPANIES
def test_an_existing_item_is_found_by_sku_and_linked(shop):
    existing = shop.in_quickbooks(
        "ItemNonInventoryAdd",
        {
            "Name": "MUG-RED",
            "SalesOrPurchase": {
                "Desc": "Red mug",
                "Price": "9.50",
                "AccountRef": {"FullName": account_of_type(shop.company, "Income")},
            },
        },
    )
    line = OrderLine(
        product_id="101",
        sku="MUG-RED",
        name="Red mug",
        quantity=Decimal(1),
        unit_price=Decimal("9.50"),
        subtotal=Decimal("9.50"),
        total=Decimal("9.50"),
    )
    shop.feed("order", make_order(1005, lines=(line,)))
    shop.sync()

    assert [i["FullName"] for i in shop.company.items() if i["FullName"] == "MUG-RED"] == ["MUG-RED"]
    assert shop.mapping("product", "101").qb_id == existing["ListID"]
    assert not shop.requests("ItemNonInventoryAddRq")[1:]  # only the one the test made by hand
    check_synced_order(shop.company, make_order(1005, lines=(line,)))
    shop.assert_every_request_valid()


def _kind(kind: str):
    from qbsync.storage.models import QueueJob

    return (QueueJob.kind == kind,)
