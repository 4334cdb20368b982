"""Transactions are dated on the day the order was placed where the shop is, not in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from qbsync.queue.settings import validate_overrides
from qbsync.storefronts.shopify import normalize as shopify
from qbsync.storefronts.woocommerce import normalize as woo
from tests.engine.conftest import make_order


@pytest.mark.parametrize("profile", ["retail", "multicurrency"])
def test_a_woocommerce_evening_order_in_new_york_is_dated_that_evening(make_shop, sample, profile):
    shop = make_shop(profile=profile)
    shop.configure(income_account="Sales", shipping_account="Freight Income",
                   tax_agency="State Department of Revenue")
    body = sample("woocommerce/order.json")
    body["date_created"] = "2024-03-01T20:30:00"  # the shop's clock (UTC-5)
    body["date_created_gmt"] = "2024-03-02T01:30:00"  # already the next day in UTC
    shop.feed("order", woo.order(body))
    shop.sync()

    (sale,) = shop.sales()
    assert sale["TxnDate"] == "2024-03-01"


@pytest.mark.parametrize("profile", ["retail", "multicurrency"])
def test_a_shopify_morning_order_in_tokyo_is_dated_that_morning(shop, sample):
    body = sample("shopify/order.json")
    body["created_at"] = "2024-03-01T08:00:00+09:00"  # 2024-02-29 23:00 in UTC
    shop.feed("order", shopify.order(body))
    shop.sync()

    (sale,) = shop.sales()
    assert sale["TxnDate"] == "2024-03-01"


@pytest.mark.parametrize("profile", ["retail", "multicurrency"])
def test_the_connection_s_time_zone_dates_orders_that_carry_no_offset(shop):
    shop.configure(store_timezone="America/Los_Angeles")
    shop.feed("order", make_order(3001, created_at=datetime(2024, 7, 1, 5, 0, tzinfo=UTC)))  # 22:00 PDT
    shop.sync()

    (sale,) = shop.sales()
    assert sale["TxnDate"] == "2024-06-30"


def test_an_unknown_time_zone_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="store_timezone must be an IANA time zone name such as Amer"):
        validate_overrides({"store_timezone": "Eastern"})
    assert validate_overrides({"store_timezone": "Europe/London"}) == {"store_timezone": "Europe/London"}
