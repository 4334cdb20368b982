"""In the right order: an order after its customer and items, a payment after its invoice, a refund after
its sale; a dependency found missing late is added first instead of failing the order."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from qbsync.queue import jobs as queue
from qbsync.simulator.company_store import ITEM_KINDS
from qbsync.storage.models import QueueJob
from qbsync.storefronts.records import Customer, Refund, RefundLine
from tests.accounting import check_order, check_synced_order
from tests.engine.conftest import make_order

# Dependencies and payments, no stock or tax: the service company (no inventory, no sales tax) and retail.
pytestmark = pytest.mark.parametrize("profile", ["retail", "service"])

ANN = Customer(storefront_id="42", email="ann@example.com", first_name="Ann", last_name="Lee")


def test_an_order_waits_for_its_customer_and_items_in_the_queue(shop):
    order_job = shop.feed("order", make_order(2001, customer=ANN))
    assert order_job.state == "waiting"
    with shop.runtime.db.transaction() as session:
        needed = {j.kind: j.label for j in queue.dependencies(session, session.get(QueueJob, order_job.id))}
    assert needed == {"customer": "customer Ann Lee", "item": "item Shipping"} or {"customer", "item"} <= set(
        needed
    )
    shop.sync()

    sent = [a.request_type for a in shop.attempts("CustomerAddRq") + shop.attempts("SalesReceiptAddRq")]
    assert sent == ["CustomerAddRq", "SalesReceiptAddRq"]
    first_customer = shop.attempts("CustomerAddRq")[0].exchange_id
    first_sale = shop.attempts("SalesReceiptAddRq")[0].exchange_id
    assert first_customer < first_sale  # the customer went out in an earlier round trip
    (receipt,) = shop.company.transactions("SalesReceipt")
    assert receipt["CustomerRef"]["FullName"] == "Lee, Ann"
    assert {line["ItemRef"]["FullName"] for line in receipt["SalesReceiptLineRet"]} == {"MUG-RED", "Shipping"}
    check_synced_order(shop.company, make_order(2001, customer=ANN), customer="Lee, Ann")
    shop.assert_every_request_valid()


def test_an_item_deleted_in_quickbooks_after_mapping_is_added_again_before_the_order(shop):
    shop.feed("order", make_order(2002, customer=ANN))
    shop.sync()
    store = shop.company.store
    store.delete(store.by_name(ITEM_KINDS, "MUG-RED"))  # a person deleted the item in QuickBooks

    shop.feed("order", make_order(2003, customer=ANN))
    shop.sync()

    assert [a.status_code for a in shop.attempts("SalesReceiptAddRq")] == [0, 3140, 0]
    assert shop.company.find("Item", "MUG-RED") is not None
    assert sorted(r["RefNumber"] for r in shop.company.transactions("SalesReceipt")) == ["2002", "2003"]
    order_job = shop.jobs(QueueJob.record_id == "2003")[-1]
    assert order_job.state == "done"
    assert shop.mapping("product", "101").qb_id == shop.company.find("Item", "MUG-RED")["ListID"]
    check_synced_order(shop.company, make_order(2003, customer=ANN))
    shop.assert_every_request_valid()


def test_a_customer_deleted_in_quickbooks_is_added_again(shop):
    shop.feed("order", make_order(2004, customer=ANN))
    shop.sync()
    store = shop.company.store
    store.delete(store.by_name(("Customer",), "Lee, Ann"))

    shop.feed("order", make_order(2005, customer=ANN))
    shop.sync()

    assert shop.company.find("Customer", "Lee, Ann") is not None
    assert sorted(r["RefNumber"] for r in shop.company.transactions("SalesReceipt")) == ["2004", "2005"]
    check_synced_order(shop.company, make_order(2005, customer=ANN), customer="Lee, Ann")
    shop.assert_every_request_valid()


def test_a_refund_that_arrives_before_its_order_waits_for_the_sale(shop):
    order = make_order(2006, customer=ANN)
    refund = Refund(
        storefront_id="9001",
        order_id="2006",
        amount=Decimal("9.50"),
        reason="cracked",
        lines=(RefundLine(product_id="101", sku="MUG-RED", quantity=Decimal(1), amount=Decimal("9.50")),),
        created_at=datetime(2024, 3, 2, tzinfo=UTC),
    )
    shop.feed("refund", refund)
    shop.sync()
    (refund_job,) = shop.jobs(QueueJob.kind == "refund")
    assert refund_job.state == "waiting" and "order 2006" in refund_job.reason

    shop.feed("order", order)
    shop.sync()

    (memo,) = shop.company.transactions("CreditMemo")
    (receipt,) = shop.company.transactions("SalesReceipt")
    assert memo["CustomerRef"]["ListID"] == receipt["CustomerRef"]["ListID"]
    assert memo["TotalAmount"] == "9.50" and memo["RefNumber"] == "R9001"
    assert shop.jobs(QueueJob.kind == "refund")[0].state == "done"
    # the refund of a paid order is money paid back: no credit is left open on the customer
    check_synced_order(shop.company, order)
    check_order(shop.company, "R9001", credited="9.50", refunded="9.50", open_balance="0.00",
                open_credits="0.00")
    shop.assert_every_request_valid()


def test_an_invoiced_order_that_gets_paid_gets_a_payment_on_its_invoice(shop):
    unpaid = make_order(2007, customer=ANN, paid=False, status="processing")
    shop.feed("order", unpaid)
    shop.sync()
    (invoice,) = shop.company.transactions("Invoice")
    assert invoice["BalanceRemaining"] == "24.00"

    paid = dataclasses.replace(
        unpaid,
        paid=True,
        date_paid=unpaid.created_at + timedelta(days=2),
        modified_at=unpaid.modified_at + timedelta(days=2),
    )
    shop.feed("order", paid)
    shop.sync()

    (payment,) = shop.company.transactions("ReceivePayment")
    assert payment["TotalAmount"] == "24.00"
    assert payment["AppliedToTxnRet"][0]["TxnID"] == invoice["TxnID"]
    assert shop.company.find("Invoice", invoice["TxnID"])["BalanceRemaining"] == "0.00"
    assert not shop.company.transactions("SalesReceipt")  # still the one invoice, not a second sale
    check_synced_order(shop.company, paid)
    shop.assert_every_request_valid()

