"""Gift cards and store credit are not income: what they paid of an order is taken out of the gift card
liability (an item and account named in the settings), never booked on shipping, fees or discounts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from qbsync.simulator.company_lists import add_list_element
from qbsync.storage.models import QueueJob
from qbsync.storefronts.records import Customer
from tests.engine.conftest import make_order
from tests.engine.test_accounting_check import NOT_OUR_NAMES

PROFILES = ["legacy", pytest.param("retail", marks=NOT_OUR_NAMES)]
ANN = Customer(storefront_id="42", email="ann@example.com", first_name="Ann", last_name="Lee")


@pytest.fixture(params=PROFILES)
def gift_shop(request, make_shop):
    shop = make_shop(profile=request.param)
    # The bookkeeper's liability account for gift cards sold (qbsync creates the item, not accounts).
    add_list_element(
        shop.company.store, shop.company.prefs, "Account",
        {"Name": "Gift Card Liability", "AccountType": "OtherCurrentLiability"},
    )
    return shop


def _income(shop) -> Decimal:
    accounts = shop.company.books().accounts
    names = ("Merchandise Sales", "Shipping and Delivery Income")
    return sum((accounts.get(name, Decimal(0)) for name in names), Decimal(0))


def test_a_gift_card_payment_comes_out_of_the_liability_not_income(gift_shop):
    shop = gift_shop
    shop.feed("order", make_order(6001, customer=ANN, gift_card_amount=Decimal("10.00")))
    shop.sync()

    (receipt,) = shop.company.transactions("SalesReceipt")
    assert receipt["TotalAmount"] == "14.00"  # the money received
    gift = [line for line in receipt["SalesReceiptLineRet"] if line["ItemRef"]["FullName"] == "Gift Card"]
    assert [line["Amount"] for line in gift] == ["-10.00"]
    books = shop.company.books()
    assert books.accounts["Gift Card Liability"] == Decimal("-10.00")  # the liability used up
    assert _income(shop) == Decimal("24.00")  # sold as sold: nothing taken off shipping or sales
    assert books.accounts.get("Undeposited Funds") == Decimal("14.00")
    item = shop.company.find("Item", "Gift Card")
    assert item["SalesOrPurchase"]["AccountRef"]["FullName"] == "Gift Card Liability"
    shop.assert_every_request_valid()


def test_an_invoiced_order_paid_partly_by_gift_card_is_paid_in_full(gift_shop):
    shop = gift_shop
    shop.configure(paid_order_as="invoice")
    shop.feed("order", make_order(6002, customer=ANN, gift_card_amount=Decimal("4.00")))
    shop.sync()

    (invoice,) = shop.company.transactions("Invoice")
    assert invoice["BalanceRemaining"] == "0.00"
    (payment,) = shop.company.transactions("ReceivePayment")
    assert payment["TotalAmount"] == "20.00"
    assert shop.company.books().customer_balance.get("Lee, Ann", Decimal(0)) == 0


def test_an_order_with_an_unknown_gift_card_part_waits_for_a_person(shop):
    shop.feed("order", make_order(6003, customer=ANN, gift_card_amount=None))
    shop.sync()

    assert not shop.company.transactions("SalesReceipt")
    job = shop.jobs(QueueJob.kind == "order")[-1]
    assert job.state == "parked" and "gift card" in job.reason
