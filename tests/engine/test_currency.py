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
