"""A cancelled order that was paid (or refunded) is reversed by a credit memo dated the cancellation, never
voided, and its products come back to QuickBooks' stock only when the store restocked them on cancelling
(``restock_unknown_cancellations`` when it does not say), less what refunds already restocked: after the
cancellation QuickBooks' quantity on hand equals the store's, and A/R and Undeposited Funds balance once
the store paid the money back. Run on two companies with inventory."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from qbsync.storage.models import QueueJob
from qbsync.storefronts.records import (
    Customer,
    OrderLine,
    Product,
    Refund,
    RefundLine,
    RefundSummary,
)
from tests.accounting import check_order, check_stock
from tests.engine.conftest import account_of_type, make_order

pytestmark = pytest.mark.parametrize("profile", ["retail", "multicurrency"])

ANN = Customer(storefront_id="42", email="ann@example.com", first_name="Ann", last_name="Lee")
STOCK = Decimal(10)  # the store's count when qbsync read the product
MUG = Product(
    product_id="101", sku="MUG-RED", name="Red mug", price=Decimal("9.50"), manages_stock=True,
    stock_quantity=STOCK, kind="inventory",
)


def _order(number: int, quantity: int = 2):
    """A paid order of ``quantity`` mugs the shopper placed after qbsync read the product's stock (so the
    store's count, and QuickBooks' opening quantity, did not include it)."""
    later = datetime.now(UTC) + timedelta(minutes=1)
    line = OrderLine(
        id=f"{number}1", product_id="101", sku="MUG-RED", name="Red mug", quantity=Decimal(quantity),
        unit_price=Decimal("9.50"), subtotal=Decimal("9.50") * quantity, total=Decimal("9.50") * quantity,
    )
    return make_order(number, customer=ANN, lines=(line,), created_at=later, modified_at=later)


def _refund(order_id: str, refund_id: str, amount: str, quantity: int, restock: bool | None) -> Refund:
    return Refund(
        storefront_id=refund_id, order_id=order_id, amount=Decimal(amount), reason="broken",
        lines=(RefundLine(product_id="101", sku="MUG-RED", quantity=Decimal(quantity),
                          amount=Decimal(amount), restock=restock),),
        created_at=datetime.now(UTC) + timedelta(minutes=2),
    )


def _cancelled(order, restocked: bool | None, refunds=()):
    return dataclasses.replace(
        order,
        status="cancelled",
        cancelled_at=datetime(2024, 3, 9, 10, 0, tzinfo=UTC),
        restocked_on_cancel=restocked,
        modified_at=order.modified_at + timedelta(days=8),
        refunds=tuple(refunds),
    )


@pytest.fixture(params=["invoice_paid", "receipt_deposited"])
def paid_shop(request, shop):
    """Money against the sale: a paid invoice with its payment, or a sales receipt whose money went
    straight into the bank (``deposit_account``). (A sales receipt whose money waits in Undeposited Funds
    is voided on cancelling, by design: test_order_changes.)"""
    if request.param == "invoice_paid":
        shop.configure(paid_order_as="invoice")
    else:
        shop.configure(deposit_account=account_of_type(shop.company, "Bank"))
    return shop


def _synced(shop, order):
    shop.feed("product", MUG)
    shop.sync()
    shop.feed("order", order)
    shop.sync()
    check_stock(shop.company, {"MUG-RED": STOCK - order.lines[0].quantity})


def _nothing_voided(shop):
    assert not shop.requests("TxnVoidRq")
    for kind in ("SalesReceipt", "Invoice", "ReceivePayment"):
        for txn in shop.company.transactions(kind):
            assert not str(txn.get("Memo") or "").startswith("VOID:"), f"{kind} {txn['TxnID']} was voided"


def _summary(shop) -> str:
    job = shop.jobs(QueueJob.kind == "order")[-1]
    assert job.state == "done", (job.state, job.reason, job.last_message)
    return " ".join(filter(None, (job.last_message, job.reason)))


def _paid_back(shop, number: int, refund_id: str, amount: str):
    """The store pays the cancelled order's money back: A/R and Undeposited Funds come back to zero."""
    shop.feed("refund", _refund(str(number), refund_id, amount, 0, None))
    shop.sync()
    books = shop.company.books()
    assert books.customer_balance.get("Lee, Ann", Decimal(0)) == 0
    assert books.customer_credits.get("Lee, Ann", Decimal(0)) == 0
    assert books.accounts.get("Undeposited Funds", Decimal(0)) == 0
    assert books.accounts.get(account_of_type(shop.company, "Bank"), Decimal(0)) == 0


def test_a_restocked_cancellation_of_a_paid_order_brings_quickbooks_stock_back(paid_shop):
    shop = paid_shop
    order = _order(6001)
    _synced(shop, order)

    shop.feed("order", _cancelled(order, restocked=True))
    shop.sync()

    check_stock(shop.company, {"MUG-RED": STOCK})  # the store put both mugs back
    reversal = shop.company.find("CreditMemo", "C6001")
    assert reversal["TxnDate"] == "2024-03-09" and reversal["TotalAmount"] == "24.00"
    _nothing_voided(shop)
    assert "goes back to stock (the store restocked it)" in _summary(shop)
    _paid_back(shop, 6001, "961", "24.00")
    check_stock(shop.company, {"MUG-RED": STOCK})  # the refund of the money restocks nothing again
    shop.assert_every_request_valid()


@pytest.mark.parametrize("restocked", [False, None])
def test_a_cancellation_the_store_did_not_restock_leaves_quickbooks_stock_alone(paid_shop, restocked):
    shop = paid_shop
    order = _order(6002)
    _synced(shop, order)

    shop.feed("order", _cancelled(order, restocked=restocked))
    shop.sync()

    check_stock(shop.company, {"MUG-RED": STOCK - 2})  # the store's count is still without the mugs
    assert shop.company.find("CreditMemo", "C6002")["TotalAmount"] == "24.00"
    _nothing_voided(shop)
    assert "nothing goes back to stock" in _summary(shop)
    _paid_back(shop, 6002, "962", "24.00")
    check_stock(shop.company, {"MUG-RED": STOCK - 2})


def test_an_unknown_restock_counts_back_when_the_setting_says_so(paid_shop):
    shop = paid_shop
    shop.configure(restock_unknown_cancellations=True)
    order = _order(6003)
    _synced(shop, order)

    shop.feed("order", _cancelled(order, restocked=None))
    shop.sync()

    check_stock(shop.company, {"MUG-RED": STOCK})
    assert "restock_unknown_cancellations is on" in _summary(shop)


@pytest.mark.parametrize("listed", ["with_lines", "totals_only"])
def test_a_cancellation_after_a_restocked_partial_refund_restocks_only_the_rest(shop, listed):
    """1 of 3 mugs refunded and restocked, then the order cancelled and restocked: the store has all 3
    back, and QuickBooks too (the cancellation returns 2, not 3). ``totals_only``: the order lists its
    refund without lines (as WooCommerce does); the refund as the store sent it says what came back."""
    order = _order(6004, quantity=3)
    _synced(shop, order)
    refund = _refund("6004", "964", "9.50", 1, True)
    shop.feed("refund", refund)
    shop.sync()
    check_stock(shop.company, {"MUG-RED": STOCK - 2})

    lines = refund.lines if listed == "with_lines" else ()
    summary = RefundSummary(storefront_id="964", amount=Decimal("9.50"), lines=lines)
    shop.feed("order", _cancelled(order, restocked=True, refunds=[summary]))
    shop.sync()

    check_stock(shop.company, {"MUG-RED": STOCK})
    reversal = shop.company.find("CreditMemo", "C6004")
    assert reversal["TotalAmount"] == "24.00"  # 33.50 sold, 9.50 refunded before
    _nothing_voided(shop)
    check_order(shop.company, "R964", credited="9.50", refunded="9.50")
    _paid_back(shop, 6004, "965", "24.00")
    check_stock(shop.company, {"MUG-RED": STOCK})
    shop.assert_every_request_valid()


def _unsettled_shop(shop, kind: str):
    """Nothing against the sale: an unpaid invoice, or a sales receipt whose money waits in Undeposited
    Funds."""
    if kind == "invoice_unpaid":
        shop.configure(sync_order_statuses=["processing", "completed", "on_hold"])
    return shop


def _unsettled_order(number: int, kind: str):
    order = _order(number)
    if kind == "invoice_unpaid":
        order = dataclasses.replace(order, paid=False, status="on_hold")
    return order


@pytest.mark.parametrize("kind", ["invoice_unpaid", "receipt_undeposited"])
@pytest.mark.parametrize("restocked", [False, None])
def test_a_cancelled_sale_with_nothing_against_it_the_store_did_not_restock_keeps_quickbooks_stock(
    shop, kind, restocked
):
    """Voiding the sale would put the 2 mugs back in QuickBooks' stock, which the store did not: the
    sale is reversed by a credit memo without quantities instead, and the money still balances."""
    shop = _unsettled_shop(shop, kind)
    order = _unsettled_order(6101, kind)
    _synced(shop, order)

    shop.feed("order", _cancelled(order, restocked=restocked))
    shop.sync()

    check_stock(shop.company, {"MUG-RED": STOCK - 2})
    _nothing_voided(shop)
    reversal = shop.company.find("CreditMemo", "C6101")
    assert reversal["TotalAmount"] == "24.00" and reversal["TxnDate"] == "2024-03-09"
    assert not any(line.get("Quantity") for line in _lines(reversal))
    summary = _summary(shop)
    assert "nothing goes back to stock" in summary
    if restocked is None:
        assert "restock_unknown_cancellations is off" in summary
    if kind == "invoice_unpaid":
        # The credit closes the invoice: nothing owed, no credit left.
        check_order(shop.company, "6101", open_balance="0.00", open_credits="0.00")
        assert shop.company.books().accounts.get("Undeposited Funds", Decimal(0)) == 0
    else:
        _paid_back(shop, 6101, "9611", "24.00")
    check_stock(shop.company, {"MUG-RED": STOCK - 2})
    shop.assert_every_request_valid()


@pytest.mark.parametrize("kind", ["invoice_unpaid", "receipt_undeposited"])
def test_a_cancelled_sale_with_nothing_against_it_the_store_restocked_is_still_voided(shop, kind):
    shop = _unsettled_shop(shop, kind)
    order = _unsettled_order(6102, kind)
    _synced(shop, order)

    shop.feed("order", _cancelled(order, restocked=True))
    shop.sync()

    check_stock(shop.company, {"MUG-RED": STOCK})
    assert len(shop.requests("TxnVoidRq")) == 1
    assert not shop.company.transactions("CreditMemo")
    check_order(shop.company, "6102", sold="0.00", open_balance="0.00", open_credits="0.00")
    assert shop.company.books().accounts.get("Undeposited Funds", Decimal(0)) == 0


def _refunded_then_cancelled(shop, order, refund_id: str, amount: str, quantity: int, restock: bool | None):
    """The order synced, ``quantity`` mugs of it refunded (``restock`` as the store says), then the order
    cancelled and restocked, listing the refund with its lines."""
    _synced(shop, order)
    refund = _refund(order.storefront_id, refund_id, amount, quantity, restock)
    shop.feed("refund", refund)
    shop.sync()
    summary = RefundSummary(storefront_id=refund_id, amount=Decimal(amount), lines=refund.lines)
    shop.feed("order", _cancelled(order, restocked=True, refunds=[summary]))
    shop.sync()
    return order, summary


@pytest.mark.parametrize(("restock", "refused"), [(False, False), (None, True)])
def test_an_order_refunded_in_full_then_cancelled_with_a_restock_brings_the_stock_back_once(
    paid_shop, restock, refused
):
    """Both mugs refunded (24.00) without going back to stock, then the order cancelled and the store put
    them back: QuickBooks gets the 2 mugs back once, by a credit memo of no money; or, in a QuickBooks
    that refuses one (the other possibility of an assumed behaviour, SIMULATOR.md), by an inventory
    adjustment carrying qbsync's marker, whose answer is lost on its way back and is found, not redone."""
    shop = paid_shop
    shop.company.prefs.refuses_zero_credit_memos = refused
    shop.configure(retry_base_seconds=0)
    shop.company.garble_answers_to("<InventoryAdjustmentAddRq")  # QuickBooks adjusts; the answer is lost
    order, summary = _refunded_then_cancelled(shop, _order(6103), "9631", "24.00", 2, restock)
    shop.sync()  # the lost answer's job goes out again: a look-up

    check_stock(shop.company, {"MUG-RED": STOCK})
    adjusted = [a for a in shop.company.transactions("InventoryAdjustment") if a.get("RefNumber") == "C6103"]
    if refused:
        assert shop.company.find("CreditMemo", "C6103") is None
        (adjustment,) = adjusted
        assert adjustment["Memo"].startswith("WooCommerce cancellation of order #6103: ")
        assert adjustment["CustomerRef"]["FullName"] == "Lee, Ann"
        assert [line["QuantityDifference"] for line in adjustment["InventoryAdjustmentLineRet"]] == ["2"]
        assert len(shop.requests("InventoryAdjustmentAddRq")) == 1
        assert "stock adjustment was already in QuickBooks" in _summary(shop)  # found after the loss
    else:
        assert adjusted == []
        reversal = shop.company.find("CreditMemo", "C6103")
        assert reversal["TotalAmount"] == "0.00"
        assert sum(Decimal(line.get("Quantity") or 0) for line in _lines(reversal)) == 2
    _nothing_voided(shop)
    assert "goes back to stock (the store restocked it)" in _summary(shop)
    books = shop.company.books()
    assert books.customer_balance.get("Lee, Ann", Decimal(0)) == 0
    assert books.customer_credits.get("Lee, Ann", Decimal(0)) == 0
    assert books.accounts.get("Undeposited Funds", Decimal(0)) == 0
    assert books.accounts.get(account_of_type(shop.company, "Bank"), Decimal(0)) == 0

    shop.feed("order", dataclasses.replace(_cancelled(order, restocked=True, refunds=[summary]),
                                           modified_at=order.modified_at + timedelta(days=9)))
    shop.sync()
    check_stock(shop.company, {"MUG-RED": STOCK})  # the same cancellation again brings nothing back twice
    shop.assert_every_request_valid()


def test_a_reversing_line_that_returns_part_of_a_sale_line_keeps_the_sales_rate(shop):
    """3 mugs at 9.50, 1 refunded and restocked, then the order cancelled and restocked: the 2 mugs
    coming back are credited at 9.50 each (not the sale line's 28.50 over 2), the rest of the line
    without a quantity, so the credit memo still reverses 24.00 to the cent."""
    _refunded_then_cancelled(shop, _order(6104, quantity=3), "9641", "9.50", 1, True)

    check_stock(shop.company, {"MUG-RED": STOCK})
    reversal = shop.company.find("CreditMemo", "C6104")
    assert reversal["TotalAmount"] == "24.00"
    back = [line for line in _lines(reversal) if line.get("Quantity")]
    assert [(line["Quantity"], Decimal(line["Rate"]), line["Amount"]) for line in back] == [
        ("2", Decimal("9.50"), "19.00")
    ]
    _paid_back(shop, 6104, "9642", "24.00")


def test_a_refund_the_cancellation_listed_but_stored_later_restocks_nothing_twice(shop):
    """WooCommerce lists a refund on the cancelled order by its total only; its own webhook comes after
    the cancellation was booked. The store restocked the refunded mug and, on cancelling, the other: the
    cancellation returned both, so the refund (restock unknown, counted back by the setting) returns
    none again."""
    shop.configure(restock_unknown_refunds=True)
    order = _order(6105)
    _synced(shop, order)

    summary = RefundSummary(storefront_id="9651", amount=Decimal("9.50"))
    shop.feed("order", _cancelled(order, restocked=True, refunds=[summary]))
    shop.sync()
    check_stock(shop.company, {"MUG-RED": STOCK})

    shop.feed("refund", _refund("6105", "9651", "9.50", 1, None))  # its webhook came late
    shop.sync()

    check_stock(shop.company, {"MUG-RED": STOCK})
    check_order(shop.company, "R9651", credited="9.50", refunded="9.50")
    _paid_back(shop, 6105, "9652", "14.50")
    check_stock(shop.company, {"MUG-RED": STOCK})
    shop.assert_every_request_valid()


def _lines(txn) -> list[dict]:
    found = txn.get("CreditMemoLineRet") or []
    return found if isinstance(found, list) else [found]
