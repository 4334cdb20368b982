"""An order in another currency than the company's home currency is never booked as home-currency money."""

from __future__ import annotations

import pytest

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
