"""Orders changed after they reached QuickBooks: edits (with a fresh EditSequence after 3200), cancellations,
and the 'changed after sync' flag where QuickBooks keeps the synced version."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete

from qbsync.storage.models import IdMapping, QueueJob
from qbsync.storefronts.records import Customer
from tests.accounting import check_order, check_synced_order
from tests.engine.conftest import make_order

# Edits and cancellations touch no stock and no tax: a company with neither (service) next to the default.
pytestmark = pytest.mark.parametrize("profile", ["retail", "service"])

ANN = Customer(storefront_id="42", email="ann@example.com", first_name="Ann", last_name="Lee")


def _edited(order, quantity: int):
    line = dataclasses.replace(
        order.lines[0],
        quantity=Decimal(quantity),
        subtotal=Decimal("9.50") * quantity,
        total=Decimal("9.50") * quantity,
    )
    return dataclasses.replace(
        order,
        lines=(line,),
        subtotal=line.subtotal,
        total=line.subtotal + Decimal(5),
        modified_at=order.modified_at + timedelta(hours=1),
    )


def test_an_order_edited_after_sync_is_changed_in_quickbooks(shop):
    order = make_order(4001, customer=ANN)
    shop.feed("order", order)
    shop.sync()
    shop.feed("order", _edited(order, 3))
    shop.sync()

    (receipt,) = shop.company.transactions("SalesReceipt")
    assert receipt["TotalAmount"] == "33.50"
    assert receipt["SalesReceiptLineRet"][0]["Quantity"] == "3"
    assert [a.status_code for a in shop.attempts("SalesReceiptModRq")] == [0]
    check_synced_order(shop.company, _edited(order, 3), customer="Lee, Ann")
    shop.assert_every_request_valid()


def test_an_edit_after_someone_changed_the_transaction_in_quickbooks_rereads_it_then_succeeds(shop):
    order = make_order(4002, customer=ANN)
    shop.feed("order", order)
    shop.sync()
    (receipt,) = shop.company.transactions("SalesReceipt")
    shop.in_quickbooks(
        "SalesReceiptMod",
        {
            "TxnID": receipt["TxnID"],
            "EditSequence": receipt["EditSequence"],
            "Memo": "checked by the bookkeeper",
        },
    )
    shop.feed("order", _edited(order, 4))
    shop.sync()

    assert [a.status_code for a in shop.attempts("SalesReceiptModRq")] == [3200, 0]
    mods = [a.exchange_id for a in shop.attempts("SalesReceiptModRq")]
    assert any(mods[0] < a.exchange_id < mods[1] for a in shop.attempts("SalesReceiptQueryRq"))
    (receipt,) = shop.company.transactions("SalesReceipt")
    assert receipt["TotalAmount"] == "43.00"
    assert shop.jobs(QueueJob.kind == "order")[-1].state == "done"
    check_synced_order(shop.company, _edited(order, 4), customer="Lee, Ann")
    shop.assert_every_request_valid()


def test_an_edit_quickbooks_is_not_allowed_to_take_is_flagged_changed_after_sync(shop):
    shop.configure(sync_order_edits=False)
    order = make_order(4003, customer=ANN)
    shop.feed("order", order)
    shop.sync()
    shop.feed("order", _edited(order, 2 + 3))
    shop.sync()

    job = shop.jobs(QueueJob.kind == "order")[-1]
    assert job.state == "parked" and job.reason.startswith("changed after sync")
    (receipt,) = shop.company.transactions("SalesReceipt")
    assert receipt["TotalAmount"] == "24.00"  # QuickBooks keeps what was synced
    check_synced_order(shop.company, order)
    shop.assert_every_request_valid()


def test_a_status_change_that_changes_nothing_in_quickbooks_sends_nothing(shop):
    order = make_order(4004, customer=ANN)
    shop.feed("order", order)
    shop.sync()
    shop.feed(
        "order", dataclasses.replace(order, status="completed", modified_at=order.modified_at + timedelta(1))
    )
    shop.sync()

    assert not shop.requests("SalesReceiptModRq")
    assert "already in QuickBooks" in shop.jobs(QueueJob.kind == "order")[-1].reason
    check_synced_order(shop.company, order)


def test_a_cancelled_order_is_voided(shop):
    order = make_order(4005, customer=ANN)
    shop.feed("order", order)
    shop.sync()
    shop.feed(
        "order", dataclasses.replace(order, status="cancelled", modified_at=order.modified_at + timedelta(1))
    )
    shop.sync()

    (receipt,) = shop.company.transactions("SalesReceipt")
    assert receipt["TotalAmount"] == "0.00" and receipt["Memo"].startswith("VOID:")
    assert shop.mapping("order", "4005").synced_hash == "voided"
    check_order(shop.company, order.number, sold="0.00", paid="0.00", open_balance="0.00",
                open_credits="0.00", tax_total="0.00")
    shop.assert_every_request_valid()


def test_an_order_cancelled_before_it_was_synced_never_reaches_quickbooks(shop):
    order = make_order(4006, customer=ANN)
    shop.feed("order", order)
    shop.feed(
        "order", dataclasses.replace(order, status="cancelled", modified_at=order.modified_at + timedelta(1))
    )
    shop.sync()

    assert not shop.company.transactions("SalesReceipt")
    assert not shop.requests("TxnVoidRq")


@pytest.mark.parametrize("linked", ["now", "before_remembering_customers"])
def test_an_invoice_edited_and_paid_after_the_proxy_setting_changed_stays_its_customers(shop, linked):
    """Ann's order was invoiced to Ann; before she paid, the merchant started booking every order on one
    proxy customer, and she added a mug. The setting is for orders that come after it: her invoice is
    changed (3 mugs) but stays hers, and her payment pays it: no balance left on her, nothing on the proxy,
    which is not even added. ``before_remembering_customers``: an invoice linked when qbsync did not yet
    keep its customer, which the edit reads from QuickBooks with the invoice (once; the payment then
    reads nothing)."""
    shop.configure(sync_order_statuses=["processing", "completed", "on_hold"])
    order = make_order(4010, customer=ANN, paid=False, status="on_hold")
    shop.feed("order", order)
    shop.sync()
    if linked != "now":
        with shop.runtime.db.transaction() as session:
            session.execute(delete(IdMapping).where(IdMapping.record_type == "sale_customer"))
    check_order(shop.company, "4010", customer="Lee, Ann", open_balance="24.00")

    shop.configure(sync_order_statuses=["processing", "completed", "on_hold"],
                   proxy_customer="Web Store Customer", proxy_customer_for="all")
    paid = dataclasses.replace(_edited(order, 3), paid=True, status="processing", date_paid=order.created_at,
                               modified_at=order.modified_at + timedelta(hours=2))
    shop.feed("order", paid)
    shop.sync()

    assert [a.status_code for a in shop.attempts("InvoiceModRq")] == [0]
    (invoice,) = shop.company.transactions("Invoice")
    assert (invoice["CustomerRef"]["FullName"], invoice["Subtotal"]) == ("Lee, Ann", "33.50")
    (payment,) = shop.company.transactions("ReceivePayment")
    assert payment["CustomerRef"]["FullName"] == "Lee, Ann"
    check_synced_order(shop.company, paid, customer="Lee, Ann")
    assert [c["FullName"] for c in shop.company.customers()] == ["Lee, Ann"]
    assert shop.jobs(QueueJob.kind == "payment")[-1].state == "done"
    invoice_reads = [r for r in shop.requests("InvoiceQueryRq") if "<TxnID>" in r]
    assert len(invoice_reads) == (0 if linked == "now" else 1)  # kept: no request more per edit or payment
    shop.assert_every_request_valid()
