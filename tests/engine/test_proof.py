"""Never touch what qbsync cannot prove is its own: a transaction is linked only with qbsync's exact marker,
the order's customer and its total; Mod, Void and Del go only to records qbsync created or a person linked;
a customer is linked by name only when the e-mail proves it is the same person."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

import pytest

from qbsync.storage.models import QueueJob
from qbsync.storefronts.records import Customer, Product
from tests.accounting import check_synced_order
from tests.engine.conftest import account_of_type, make_order

# Proof is about names, numbers and memos, not stock or tax: the default company and the service one.
pytestmark = pytest.mark.parametrize("profile", ["retail", "service"])

ANN = Customer(storefront_id="42", email="ann@example.com", first_name="Ann", last_name="Lee")


def _counter_item(shop) -> str:
    """An item a person made in QuickBooks for counter sales (on the company's own income account)."""
    if shop.company.find("Item", "Counter sale") is None:
        shop.in_quickbooks("ItemNonInventoryAdd", {"Name": "Counter sale", "SalesOrPurchase": {
            "Price": "24.00", "AccountRef": {"FullName": account_of_type(shop.company, "Income")}}})
    return "Counter sale"


def _hand_entered_receipt(shop, ref_number: str, memo: str, customer: str = "Walk-in") -> dict:
    """A sales receipt a person typed into QuickBooks, with the given number."""
    if shop.company.find("Customer", customer) is None:
        shop.in_quickbooks("CustomerAdd", {"Name": customer})
    return shop.in_quickbooks(
        "SalesReceiptAdd",
        {
            "CustomerRef": {"FullName": customer},
            "RefNumber": ref_number,
            "Memo": memo,
            "SalesReceiptLineAdd": [
                {"ItemRef": {"FullName": _counter_item(shop)}, "Amount": Decimal("24.00")}
            ],
        },
    )


def _cancelled(order):
    return dataclasses.replace(order, status="cancelled", modified_at=order.modified_at + timedelta(1))


def test_a_hand_entered_sale_with_the_same_number_is_left_alone_and_the_order_added(shop):
    theirs = _hand_entered_receipt(shop, "4101", "counter sale")
    order = make_order(4101, customer=ANN)
    shop.feed("order", order)
    shop.sync()

    receipts = {r["TxnID"]: r for r in shop.company.transactions("SalesReceipt")}
    assert len(receipts) == 2
    ours = next(r for txn_id, r in receipts.items() if txn_id != theirs["TxnID"])
    assert ours["RefNumber"] == "4101" and ours["Memo"].startswith("WooCommerce order #4101")
    assert ours["TotalAmount"] == "24.00"
    assert shop.mapping("order", "4101").qb_id == ours["TxnID"]
    assert shop.mapping("order", "4101").origin == "created"

    shop.feed("order", _cancelled(order))
    shop.sync()

    untouched = shop.company.find("SalesReceipt", theirs["TxnID"])
    assert untouched["EditSequence"] == theirs["EditSequence"]
    assert untouched["Memo"] == "counter sale" and untouched["TotalAmount"] == theirs["TotalAmount"]
    assert shop.company.find("SalesReceipt", ours["TxnID"])["Memo"].startswith("VOID:")
    shop.assert_every_request_valid()


def test_the_marker_is_exact_order_1_never_takes_the_sale_of_order_1001(shop):
    # Same number, same customer, same total; only the memo tells: it names order #1001.
    shop.feed("customer", ANN)
    shop.sync()
    other = _hand_entered_receipt(shop, "1", "WooCommerce order #1001", customer="Lee, Ann")
    shop.feed("order", make_order(1, customer=ANN))
    shop.sync()

    linked = shop.mapping("order", "1")
    assert linked.qb_id != other["TxnID"]
    assert shop.company.find("SalesReceipt", linked.qb_id)["Memo"] == "WooCommerce order #1"
    assert shop.company.find("SalesReceipt", other["TxnID"])["EditSequence"] == other["EditSequence"]
    assert len(shop.company.transactions("SalesReceipt")) == 2


def test_an_answer_lost_after_the_add_is_linked_by_the_marker_not_added_twice(shop):
    shop.configure(lookup_before_add="when_unsure")  # the add is sent without a look-up first
    shop.feed("customer", ANN)
    shop.sync()
    theirs = _hand_entered_receipt(shop, "4102", "counter sale", customer="Lee, Ann")

    shop.feed("order", make_order(4102, customer=ANN))
    shop.company.crash_after_processing(times=1)
    (crashed,) = shop.sync(sessions=1)
    assert crashed.ended_by == "crash"
    shop.time_passes()  # the dead session is ended; its job goes back to the queue, marked uncertain
    shop.sync()

    receipts = shop.company.transactions("SalesReceipt")
    assert len(receipts) == 2 and len(shop.attempts("SalesReceiptAddRq")) == 1
    mapping = shop.mapping("order", "4102")
    assert mapping.qb_id != theirs["TxnID"] and mapping.origin == "created"
    assert shop.company.find("SalesReceipt", mapping.qb_id)["Memo"] == "WooCommerce order #4102"


def test_an_item_found_in_quickbooks_is_used_but_never_changed(shop):
    shop.in_quickbooks(
        "ItemNonInventoryAdd",
        {"Name": "MUG-RED", "SalesOrPurchase": {"Desc": "Mug, as the bookkeeper wrote it", "Price": "9.00",
                                                "AccountRef": {"FullName": account_of_type(shop.company,
                                                                                          "Income")}}},
    )
    before = shop.company.find("Item", "MUG-RED")
    shop.feed("product", Product(product_id="101", sku="MUG-RED", name="Red mug", price=Decimal("9.50")))
    shop.sync()
    assert shop.mapping("product", "101").origin == "found"
    shop.feed("product", Product(product_id="101", sku="MUG-RED", name="Red mug XL", price=Decimal("12.00")))
    shop.sync()

    after = shop.company.find("Item", "MUG-RED")
    assert after["EditSequence"] == before["EditSequence"]
    assert not shop.requests("ItemNonInventoryModRq")
    assert "does not change it" in shop.jobs(QueueJob.kind == "item")[-1].reason


def test_a_customer_found_by_e_mail_is_used_but_never_changed(shop):
    shop.in_quickbooks("CustomerAdd", {"Name": "Lee, Ann", "Email": "ann@example.com", "Notes": "VIP"})
    before = shop.company.find("Customer", "Lee, Ann")
    shop.feed("order", make_order(4103, customer=ANN))
    shop.sync()
    assert shop.mapping("customer", "42").qb_id == before["ListID"]
    check_synced_order(shop.company, make_order(4103, customer=ANN), customer="Lee, Ann")
    shop.feed("customer", dataclasses.replace(ANN, last_name="Lee-Smith"))
    shop.sync()

    assert shop.company.find("Customer", "Lee, Ann")["EditSequence"] == before["EditSequence"]
    assert shop.mapping("customer", "42").origin == "found"
    assert not shop.requests("CustomerModRq")


def test_a_customer_qbsync_created_is_kept_up_to_date(shop):
    shop.feed("order", make_order(4104, customer=ANN))
    shop.sync()
    assert shop.mapping("customer", "42").origin == "created"
    check_synced_order(shop.company, make_order(4104, customer=ANN), customer="Lee, Ann")
    shop.feed("customer", dataclasses.replace(ANN, last_name="Lee-Smith"))
    shop.sync()

    assert shop.company.find("Customer", "Lee, Ann")["LastName"] == "Lee-Smith"


def test_the_same_name_without_an_e_mail_in_quickbooks_is_not_proof_the_customer_is_added_with_its_id(shop):
    shop.in_quickbooks("CustomerAdd", {"Name": "Lee, Ann"})  # typed by hand, no e-mail
    before = shop.company.find("Customer", "Lee, Ann")
    shop.feed("order", make_order(4105, customer=ANN))
    shop.sync()

    added = shop.company.find("Customer", "Lee, Ann (42)")
    assert added is not None and added["Email"] == "ann@example.com"
    (receipt,) = shop.company.transactions("SalesReceipt")
    assert receipt["CustomerRef"]["ListID"] == added["ListID"]
    assert shop.company.find("Customer", "Lee, Ann")["EditSequence"] == before["EditSequence"]
    assert shop.company.find("Customer", "Lee, Ann")["Balance"] == "0.00"
    check_synced_order(shop.company, make_order(4105, customer=ANN), customer="Lee, Ann (42)")


def test_a_store_customer_without_an_e_mail_is_not_linked_by_name_either(shop):
    shop.in_quickbooks("CustomerAdd", {"Name": "Lee, Ann", "Email": "someone@example.com"})
    nameless = dataclasses.replace(ANN, email="")
    shop.feed("order", make_order(4106, customer=nameless))
    shop.sync()

    added = shop.company.find("Customer", "Lee, Ann (42)")
    assert added is not None
    (receipt,) = shop.company.transactions("SalesReceipt")
    assert receipt["CustomerRef"]["ListID"] == added["ListID"]


def test_the_same_name_and_the_same_e_mail_is_linked(shop):
    shop.in_quickbooks("CustomerAdd", {"Name": "Lee, Ann", "Email": "ANN@example.com"})
    shop.feed("order", make_order(4107, customer=ANN))
    shop.sync()

    assert [c["Name"] for c in shop.company.customers() if c["Name"].startswith("Lee")] == ["Lee, Ann"]
    check_synced_order(shop.company, make_order(4107, customer=ANN), customer="Lee, Ann")
    assert shop.mapping("customer", "42").origin == "found"


def test_a_hand_entered_invoice_with_the_same_number_is_never_linked_changed_or_voided(shop):
    shop.configure(sync_order_statuses=["processing", "completed", "on_hold"])
    shop.in_quickbooks("CustomerAdd", {"Name": "Walk-in"})
    theirs = shop.in_quickbooks(
        "InvoiceAdd",
        {
            "CustomerRef": {"FullName": "Walk-in"},
            "RefNumber": "4108",
            "InvoiceLineAdd": [{"ItemRef": {"FullName": _counter_item(shop)}, "Amount": Decimal("24.00")}],
        },
    )
    order = make_order(4108, customer=ANN, paid=False, status="on_hold")
    shop.feed("order", order)
    shop.sync()
    edited = dataclasses.replace(order, note="leave at door", modified_at=order.modified_at + timedelta(1))
    shop.feed("order", edited)
    shop.sync()
    shop.feed("order", _cancelled(order))
    shop.sync()

    invoices = shop.company.transactions("Invoice")
    assert len(invoices) == 2
    kept = shop.company.find("Invoice", theirs["TxnID"])
    assert kept["EditSequence"] == theirs["EditSequence"]
    assert not str(kept.get("Memo", "")).startswith("VOID:")
    assert kept["BalanceRemaining"] == theirs["BalanceRemaining"]  # 24.00 and the company's tax on it
    ours = shop.company.find("Invoice", shop.mapping("order", "4108").qb_id)
    assert ours["TxnID"] != theirs["TxnID"] and ours["Memo"].startswith("VOID:")
    shop.assert_every_request_valid()
