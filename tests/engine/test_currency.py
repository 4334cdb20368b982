"""An order in another currency than the company's home currency is never booked as home-currency money."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.accounting import check_order
from tests.engine.conftest import make_order

RETAIL = {
    "income_account": "Sales",
    "shipping_account": "Freight Income",
    "discount_account": "Discounts Given",
}


@pytest.mark.parametrize("profile", ["legacy", "retail"])
def test_a_euro_order_waits_on_a_dollar_company_without_multicurrency(make_shop, profile):
    shop = make_shop(profile=profile)
    if profile == "retail":
        shop.configure(**RETAIL)
    shop.feed("order", make_order(4001, currency="EUR"))
    shop.feed("order", make_order(4002))  # another buyer's order in dollars goes ahead
    shop.sync()

    assert [sale["RefNumber"] for sale in shop.sales()] == ["4002"]
    (waiting,) = [job for job in shop.jobs() if job.kind == "order" and job.record_id == "4001"]
    assert waiting.state == "parked"
    assert "the order is in EUR" in waiting.reason and "turn on multicurrency in QuickBooks" in waiting.reason


def test_a_dollar_order_waits_on_a_canadian_company_without_multicurrency(make_shop):
    shop = make_shop(profile="canada")
    shop.sync()  # the connection's first session: QuickBooks tells its edition and currencies
    shop.feed("order", make_order(4003, currency="USD"))
    shop.sync()

    assert shop.sales() == []
    assert [job.kind for job in shop.jobs() if job.kind in ("customer", "item")] == []  # nothing added
    (waiting,) = [job for job in shop.jobs() if job.kind == "order"]
    assert waiting.state == "parked" and "keeps its books in CAD" in waiting.reason


def test_a_euro_order_on_a_multicurrency_company_goes_to_the_buyer_s_euro_account(make_shop):
    shop = make_shop(profile="multicurrency")
    shop.configure(**RETAIL)
    shop.sync()  # the first session: QuickBooks says multicurrency is on, home currency US Dollar
    shop.feed("order", make_order(4004, currency="EUR"))
    shop.feed("order", make_order(4054))  # the same buyer, in dollars
    shop.sync()

    by_ref = {sale["RefNumber"]: sale for sale in shop.sales()}
    euro = by_ref["4004"]
    customer = shop.company.find("Customer", euro["CustomerRef"]["FullName"])
    assert customer["CurrencyRef"]["FullName"] == "Euro"
    assert euro["CustomerRef"]["FullName"].endswith("(EUR)")
    assert euro["ExchangeRate"] == "1.08"  # QuickBooks' rate for the euro, not 1
    assert euro["TotalAmount"] == "24.00"  # euros, as the store charged
    dollars = by_ref["4054"]
    assert dollars["CustomerRef"]["FullName"] == "Number4, Buyer"  # the buyer's own (dollar) account
    assert dollars["ExchangeRate"] == "1"


def test_the_stores_own_rate_books_a_foreign_order_at_what_the_buyer_paid_at_home(make_shop):
    """A Canadian-dollar shop whose buyer paid in US dollars, the company's home currency: the sale is in
    Canadian dollars (the order's own amounts) at the store's rate, so its home value is what the buyer
    paid, to the cent; the invoiced order's payment is received at the same rate (no exchange difference)."""
    shop = make_shop(profile="multicurrency")
    shop.configure(**RETAIL)
    shop.sync()
    paid_in_dollars = {"currency": "CAD", "presentment_currency": "USD",
                       "presentment_total": Decimal("17.89")}
    shop.feed("order", make_order(4005, **paid_in_dollars))
    shop.sync()
    shop.configure(paid_order_as="invoice")
    shop.feed("order", make_order(4006, **paid_in_dollars))
    shop.sync()

    by_ref = {sale["RefNumber"]: sale for sale in shop.sales()}
    receipt = by_ref["4005"]
    assert receipt["ExchangeRate"] == "0.745417"  # 17.89 USD / 24.00 CAD: home units per Canadian dollar
    assert receipt["TotalAmount"] == "24.00"  # Canadian dollars, as the order's amounts are
    assert receipt["TotalAmountInHomeCurrency"] == "17.89"  # = 24.00 x 0.745417, to the cent
    check_order(shop.company, "4005", currency="CAD", sold="24.00", paid="24.00",
                accounts={"Undeposited Funds": "17.89"})
    assert by_ref["4006"]["ExchangeRate"] == "0.745417"
    (payment,) = shop.company.transactions("ReceivePayment")
    assert payment["ExchangeRate"] == "0.745417"
    check_order(shop.company, "4006", currency="CAD", sold="24.00", paid="24.00", open_balance="0.00",
                accounts={"Undeposited Funds": "17.89", "Accounts Receivable - CAD": "0.00"})
    shop.assert_every_request_valid()
