"""Refunds record money going out: a credit memo and the money paid back (card refund or check) out of the
account the money went into, or the credit applied to the unpaid invoice, so no open credit is left; stock
comes back only when the store says it was restocked; a cancellation never voids a sale with money or
refunds against it and reverses only what remains."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from qbsync.storage.models import QueueJob
from qbsync.storefronts.records import Customer, OrderLine, Product, Refund, RefundLine, RefundSummary
from tests.accounting import check_order
from tests.engine.conftest import make_order

# The QuickBooks-like profiles these books are checked on (both with inventory and sales tax).
PROFILES = ["retail", "multicurrency"]

ANN = Customer(storefront_id="42", email="ann@example.com", first_name="Ann", last_name="Lee")
MUG = Product(
    product_id="101", sku="MUG-RED", name="Red mug", price=Decimal("9.50"), manages_stock=True,
    stock_quantity=Decimal(10), kind="inventory",
)


@pytest.fixture(params=PROFILES)
def books_shop(request, make_shop):
    return make_shop(profile=request.param)


def _refund(order_id: str, refund_id: str, amount: str, restock: bool | None = None, quantity: int = 1):
    return Refund(
        storefront_id=refund_id,
        order_id=order_id,
        amount=Decimal(amount),
        reason="broken",
        lines=(
            RefundLine(
                product_id="101", sku="MUG-RED", quantity=Decimal(quantity), amount=Decimal(amount),
                restock=restock,
            ),
        ),
        created_at=datetime(2024, 3, 5, 12, 0, tzinfo=UTC),
    )


def _customer_books(shop, name: str = "Lee, Ann"):
    books = shop.company.books()
    return books.customer_balance.get(name, Decimal(0)), books.customer_credits.get(name, Decimal(0))


def _undeposited(shop) -> Decimal:
    return shop.company.books().accounts.get("Undeposited Funds", Decimal(0))


def test_a_refund_of_a_paid_order_pays_the_money_back_out_of_undeposited_funds(books_shop):
    shop = books_shop
    shop.feed("order", make_order(5001, customer=ANN))
    shop.sync()
    assert _undeposited(shop) == Decimal("24.00")

    shop.feed("refund", _refund("5001", "901", "9.50"))
    shop.sync()

    (memo,) = shop.company.transactions("CreditMemo")
    (refund,) = shop.company.transactions("ARRefundCreditCard")
    assert memo["TotalAmount"] == "9.50" and memo["CreditRemaining"] == "0.00"
    assert refund["TotalAmount"] == "9.50"
    assert refund["RefundAppliedToTxnRet"][0]["TxnID"] == memo["TxnID"]
    assert refund["RefundFromAccountRef"]["FullName"] == "Undeposited Funds"
    assert _undeposited(shop) == Decimal("14.50")
    assert _customer_books(shop) == (Decimal(0), Decimal(0))
    check_order(shop.company, "R901", credited="9.50", refunded="9.50", open_balance="0", open_credits="0")
    assert shop.jobs(QueueJob.kind == "refund")[-1].state == "done"
    shop.assert_every_request_valid()


def test_a_refund_paid_by_check_comes_out_of_the_deposit_account(books_shop):
    shop = books_shop
    shop.configure(refund_paid_by="check", deposit_account="Checking")
    shop.feed("order", make_order(5002, customer=ANN))
    shop.sync()
    shop.feed("refund", _refund("5002", "902", "9.50"))
    shop.sync()

    (check,) = shop.company.transactions("Check")
    assert check["AccountRef"]["FullName"] == "Checking" and check["Amount"] == "9.50"
    assert check["PayeeEntityRef"]["FullName"] == "Lee, Ann"
    assert shop.company.books().accounts["Checking"] == Decimal("14.50")
    assert _customer_books(shop) == (Decimal(0), Decimal(0))
    shop.assert_every_request_valid()


def test_a_refund_on_an_unpaid_invoice_applies_the_credit_to_it(books_shop):
    shop = books_shop
    shop.feed("order", make_order(5003, customer=ANN, paid=False, status="on_hold"))
    shop.configure(sync_order_statuses=["processing", "completed", "on_hold"])
    shop.feed("order", make_order(5003, customer=ANN, paid=False, status="on_hold"))
    shop.sync()
    (invoice,) = shop.company.transactions("Invoice")
    assert invoice["BalanceRemaining"] == "24.00"

    shop.feed("refund", _refund("5003", "903", "9.50"))
    shop.sync()

    assert shop.company.find("Invoice", invoice["TxnID"])["BalanceRemaining"] == "14.50"
    assert not shop.company.transactions("ARRefundCreditCard")
    assert _customer_books(shop) == (Decimal("14.50"), Decimal(0))
    (payment,) = shop.company.transactions("ReceivePayment")
    assert payment["TotalAmount"] == "0.00"
    shop.assert_every_request_valid()


@pytest.mark.parametrize("profile", PROFILES)
def test_a_refund_of_an_invoiced_paid_order_waits_for_the_payment_then_pays_back(shop):
    shop.configure(paid_order_as="invoice")
    shop.feed("order", make_order(5010, customer=ANN))
    shop.feed("refund", _refund("5010", "911", "9.50"))  # arrives before anything reached QuickBooks
    shop.sync()

    (invoice,) = shop.company.transactions("Invoice")
    assert invoice["BalanceRemaining"] == "0.00"
    assert [p["TotalAmount"] for p in shop.company.transactions("ReceivePayment")] == ["24.00"]
    (refund,) = shop.company.transactions("ARRefundCreditCard")
    assert refund["TotalAmount"] == "9.50"
    assert _customer_books(shop) == (Decimal(0), Decimal(0))
    assert {j.kind: j.state for j in shop.jobs(QueueJob.kind.in_(("payment", "refund")))} == {
        "payment": "done", "refund": "done"
    }


def _placed_after_the_stock_count(number: int, mugs: int = 2):
    """An order the shopper placed after qbsync read the product's stock (so the count did not include it)."""
    later = datetime.now(UTC) + timedelta(minutes=1)
    amount = Decimal("9.50") * mugs
    line = OrderLine(id=f"{number}1", product_id="101", sku="MUG-RED", name="Red mug", quantity=Decimal(mugs),
                     unit_price=Decimal("9.50"), subtotal=amount, total=amount)
    return make_order(number, customer=ANN, lines=(line,), created_at=later, modified_at=later)


@pytest.mark.parametrize("profile", PROFILES)
def test_stock_comes_back_only_when_the_store_says_it_was_restocked_with_money_or_without(shop):
    """Refunds of a 4-mug order, stock coming back only where the store restocked: with money; without
    money, by a credit memo of 0.00 where QuickBooks takes one, else (the other possibility of an assumed
    behaviour, SIMULATOR.md) by an inventory adjustment with qbsync's marker whose lost answer is found,
    not redone; without money nor restock, nothing is sent; below zero as the store reports it, never sent
    (it waits for a person). Stock equals the store's; the customer owes nothing and holds no credit."""
    shop.configure(retry_base_seconds=0)
    shop.feed("product", MUG)
    shop.sync()
    shop.feed("order", _placed_after_the_stock_count(5004, mugs=4))
    shop.sync()
    assert shop.company.quantity_on_hand("MUG-RED") == Decimal(6)

    shop.feed("refund", _refund("5004", "904", "9.50"))  # the store does not say
    shop.sync()
    assert shop.company.quantity_on_hand("MUG-RED") == Decimal(6)

    shop.feed("refund", _refund("5004", "905", "9.50", restock=True))
    shop.sync()
    assert shop.company.quantity_on_hand("MUG-RED") == Decimal(7)

    shop.feed("refund", _refund("5004", "911", "0", restock=True))  # QuickBooks takes a credit of 0.00
    shop.sync()
    assert shop.company.find("CreditMemo", "R911")["TotalAmount"] == "0.00"
    assert shop.company.quantity_on_hand("MUG-RED") == Decimal(8)

    shop.company.prefs.refuses_zero_credit_memos = True
    shop.company.garble_answers_to("<InventoryAdjustmentAddRq")  # QuickBooks adjusts; the answer is lost
    shop.feed("refund", _refund("5004", "912", "0", restock=True))
    shop.sync()
    shop.sync()
    assert shop.company.find("CreditMemo", "R912") is None
    (adjustment,) = [a for a in shop.company.transactions("InventoryAdjustment") if a["RefNumber"] == "R912"]
    assert adjustment["Memo"].startswith("WooCommerce refund 912 of order 5004: ")
    assert len(shop.requests("InventoryAdjustmentAddRq")) == 1
    assert shop.company.quantity_on_hand("MUG-RED") == Decimal(9)
    assert "stock adjustment was already in QuickBooks" in shop.jobs(QueueJob.kind == "refund")[-1].reason

    shop.feed("refund", _refund("5004", "913", "0", restock=False))
    shop.feed("refund", _refund("5004", "914", "-5.00", restock=False))
    shop.sync()
    assert shop.company.find("CreditMemo", "R913") is None and shop.company.find("CreditMemo", "R914") is None
    nothing, below = shop.jobs(QueueJob.kind == "refund")[-2:]
    assert nothing.state == "done" and "nothing to record" in nothing.reason
    assert below.state == "parked" and "below zero" in below.reason
    assert shop.company.quantity_on_hand("MUG-RED") == Decimal(9)
    assert _customer_books(shop) == (Decimal(0), Decimal(0))
    shop.assert_every_request_valid()


@pytest.mark.parametrize("profile", PROFILES)
def test_unknown_restock_counts_back_when_the_setting_says_so(shop):
    shop.configure(restock_unknown_refunds=True)
    shop.feed("product", MUG)
    shop.sync()
    shop.feed("order", _placed_after_the_stock_count(5005))
    shop.sync()
    shop.feed("refund", _refund("5005", "906", "9.50"))
    shop.sync()
    assert shop.company.quantity_on_hand("MUG-RED") == Decimal(9)


@pytest.mark.parametrize("profile", PROFILES)
def test_a_lost_answer_after_the_money_went_out_never_pays_twice(shop):
    shop.configure(retry_base_seconds=0)
    shop.feed("order", make_order(5006, customer=ANN))
    shop.sync()
    shop.company.garble_answers_to("<ARRefundCreditCardAddRq")  # QuickBooks pays out; the answer is lost
    shop.feed("refund", _refund("5006", "907", "9.50"))
    shop.sync()
    shop.sync()

    assert len(shop.company.transactions("CreditMemo")) == 1
    assert len(shop.company.transactions("ARRefundCreditCard")) == 1
    assert len(shop.attempts("ARRefundCreditCardAddRq")) == 1
    assert shop.attempts("CreditMemoQueryRq"), "the lost answer must be followed by a fresh read"
    assert _customer_books(shop) == (Decimal(0), Decimal(0))
    assert shop.jobs(QueueJob.kind == "refund")[-1].state == "done"


def _cancelled(order, refunds=()):
    return dataclasses.replace(
        order,
        status="cancelled",
        cancelled_at=datetime(2024, 3, 9, 10, 0, tzinfo=UTC),
        modified_at=order.modified_at + timedelta(days=8),
        refunds=tuple(refunds),
    )


def test_a_cancellation_after_a_partial_refund_reverses_what_remains_and_voids_nothing(books_shop):
    shop = books_shop
    order = make_order(5007, customer=ANN)
    shop.feed("order", order)
    shop.sync()
    shop.feed("refund", _refund("5007", "908", "9.50"))
    shop.sync()
    (receipt,) = shop.company.transactions("SalesReceipt")

    shop.feed("order", _cancelled(order, [RefundSummary(storefront_id="908", amount=Decimal("9.50"))]))
    shop.sync()

    kept = shop.company.find("SalesReceipt", receipt["TxnID"])
    assert not kept["Memo"].startswith("VOID:") and kept["TotalAmount"] == "24.00"
    assert not shop.requests("TxnVoidRq")
    reversal = shop.company.find("CreditMemo", "C5007")
    assert reversal["TotalAmount"] == "14.50" and reversal["TxnDate"] == "2024-03-09"
    books = shop.company.books()
    sold = sum(Decimal(t["TotalAmount"]) for t in shop.company.transactions("SalesReceipt"))
    credited = sum(Decimal(t["TotalAmount"]) for t in shop.company.transactions("CreditMemo"))
    assert sold - credited == 0
    # What was not refunded yet is owed to the customer until the store pays it back ...
    assert books.customer_credits.get("Lee, Ann") == Decimal("14.50")

    shop.feed("refund", _refund("5007", "909", "14.50"))
    shop.sync()
    # ... and the refund of it pays out of the reversing credit memo, not a second credit.
    assert len(shop.company.transactions("CreditMemo")) == 2
    assert _customer_books(shop) == (Decimal(0), Decimal(0))
    assert _undeposited(shop) == Decimal(0)
    shop.assert_every_request_valid()


@pytest.mark.parametrize("profile", PROFILES)
def test_a_refund_listed_on_the_cancelled_order_but_arriving_late_gets_its_own_credit_memo(shop):
    order = make_order(5011, customer=ANN)
    shop.feed("order", order)
    shop.sync()
    shop.feed("order", _cancelled(order, [RefundSummary(storefront_id="912", amount=Decimal("9.50"))]))
    shop.sync()
    assert shop.company.find("CreditMemo", "C5011")["TotalAmount"] == "14.50"

    shop.feed("refund", _refund("5011", "912", "9.50"))  # its webhook came after the cancellation's
    shop.sync()

    memos = {m["RefNumber"]: m for m in shop.company.transactions("CreditMemo")}
    assert memos["R912"]["TotalAmount"] == "9.50" and memos["R912"]["CreditRemaining"] == "0.00"
    assert memos["C5011"]["CreditRemaining"] == "14.50"  # still owed: the store has not paid it back yet
    assert [r["TotalAmount"] for r in shop.company.transactions("ARRefundCreditCard")] == ["9.50"]
    assert _undeposited(shop) == Decimal("14.50")


@pytest.mark.parametrize("profile", PROFILES)
def test_a_cancelled_unpaid_invoice_with_a_refund_is_closed_by_the_reversal(shop):
    shop.configure(sync_order_statuses=["processing", "completed", "on_hold"])
    order = make_order(5008, customer=ANN, paid=False, status="on_hold")
    shop.feed("order", order)
    shop.sync()
    shop.feed("refund", _refund("5008", "910", "9.50"))
    shop.sync()

    shop.feed("order", _cancelled(order, [RefundSummary(storefront_id="910", amount=Decimal("9.50"))]))
    shop.sync()

    (invoice,) = shop.company.transactions("Invoice")
    assert not invoice["Memo"].startswith("VOID:")
    assert invoice["BalanceRemaining"] == "0.00"
    assert _customer_books(shop) == (Decimal(0), Decimal(0))
    shop.assert_every_request_valid()


@pytest.mark.parametrize("profile", PROFILES)
def test_a_cancellation_with_nothing_against_the_sale_still_voids_it(shop):
    shop.configure(sync_order_statuses=["processing", "completed", "on_hold"])
    order = make_order(5009, customer=ANN, paid=False, status="on_hold")
    shop.feed("order", order)
    shop.sync()
    shop.feed("order", _cancelled(order))
    shop.sync()

    (invoice,) = shop.company.transactions("Invoice")
    assert invoice["Memo"].startswith("VOID:")
    assert _customer_books(shop) == (Decimal(0), Decimal(0))


@pytest.mark.parametrize("profile", PROFILES)
def test_a_company_file_that_refused_a_credit_memo_of_no_money_is_not_asked_again(shop):
    """QuickBooks refused one credit memo of 0.00 (the other possibility of an assumed behaviour,
    SIMULATOR.md): the next stock returned with no money goes straight to an inventory adjustment, with no
    refused request before it. Both mugs come back; nothing is owed or credited."""
    shop.company.prefs.refuses_zero_credit_memos = True
    shop.feed("product", MUG)
    shop.sync()
    shop.feed("order", _placed_after_the_stock_count(5020, mugs=4))
    shop.sync()
    shop.feed("refund", _refund("5020", "920", "0", restock=True))
    shop.sync()
    assert len(shop.requests("CreditMemoAddRq")) == 1  # refused: the file's answer is learnt here

    shop.feed("refund", _refund("5020", "921", "0", restock=True))
    shop.sync()

    assert len(shop.requests("CreditMemoAddRq")) == 1  # not asked again
    assert not shop.company.transactions("CreditMemo")
    adjusted = sorted(a["RefNumber"] for a in shop.company.transactions("InventoryAdjustment"))
    assert adjusted == ["R920", "R921"]
    assert shop.company.quantity_on_hand("MUG-RED") == Decimal(8)
    assert [j.state for j in shop.jobs(QueueJob.kind == "refund")] == ["done", "done"]
    assert _customer_books(shop) == (Decimal(0), Decimal(0))
