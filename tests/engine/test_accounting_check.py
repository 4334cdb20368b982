"""The accounting check (tests/accounting.py) on orders synced end to end, on two company profiles.

The strict xfails are the defects of issues 14 and 15 the check makes visible; each turns into a failure
(XPASS) the day the defect is fixed, so whoever fixes it removes the mark."""

from __future__ import annotations

import pytest

from qbsync.storefronts.woocommerce import normalize as woo
from tests.accounting import check_order
from tests.engine.conftest import make_order


@pytest.mark.parametrize("profile", ["retail", "multicurrency"])
def test_a_paid_untaxed_order_balances(make_shop, profile: str) -> None:
    shop = make_shop(profile=profile)
    order = make_order(1001)
    shop.feed("order", order)
    shop.sync()

    check_order(
        shop.company,
        order.number,
        sold=order.total,
        paid=order.total,
        refunded="0.00",
        open_balance="0.00",
        open_credits="0.00",
        tax_total="0.00",
    )


@pytest.mark.parametrize(
    "profile",
    ["retail", "multicurrency"],
)
def test_the_stores_tax_is_owed_to_a_tax_agency(make_shop, sample, profile: str) -> None:
    shop = make_shop(profile=profile)
    order = woo.order(sample("woocommerce/order.json"))
    assert order.tax_total > 0
    shop.feed("order", order)
    shop.sync()

    check_order(shop.company, order.number, sold=order.total, tax_total=order.tax_total)
