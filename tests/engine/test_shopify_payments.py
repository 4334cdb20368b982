"""A Shopify order paid partly by gift card and partly by card: qbsync reads the order's transactions
from the store (the storefront double, over real HTTP) to learn what each gateway paid, and books it:
the gift card part out of the gift card liability, the rest as money received."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from qbsync.simulator.company_lists import add_list_element
from qbsync.simulator.storefront import StorefrontDouble, make_orders
from qbsync.storage.models import QueueJob
from tests.accounting import check_order
from tests.ops.processes import process_shopify_delivery

SECRET = "shpss_payments_secret"


@pytest.fixture
def double() -> Iterator[StorefrontDouble]:
    with StorefrontDouble() as running:
        yield running


def _mixed_order(double: StorefrontDouble) -> dict[str, Any]:
    """A paid order of 11.62: 5.00 by gift card, 6.62 by card."""
    order = make_orders(1, "shopify", seed=8)[0]
    order["payment_gateway_names"] = ["gift_card", "shopify_payments"]
    double.add_orders([order], platform="shopify")
    double.add_transactions(order["id"], [
        {"id": 1, "kind": "sale", "status": "success", "gateway": "gift_card", "amount": "5.00"},
        {"id": 2, "kind": "authorization", "status": "success", "gateway": "shopify_payments",
         "amount": "6.62"},
        {"id": 3, "kind": "capture", "status": "success", "gateway": "shopify_payments", "amount": "6.62"},
    ])
    return order


@pytest.mark.parametrize("profile", ["retail", "multicurrency"])
def test_an_order_paid_by_gift_card_and_card_is_split_per_gateway(runtime, make_shop, double, profile):
    order = _mixed_order(double)
    shop = make_shop(platform="shopify", webhook_secret=SECRET, store_url=double.base_url,
                     api_credentials={"access_token": double.access_token}, profile=profile)
    add_list_element(shop.company.store, shop.company.prefs, "Account",
                     {"Name": "Gift Card Liability", "AccountType": "OtherCurrentLiability"})

    delivery = process_shopify_delivery(runtime, order, "e1", SECRET, topic="orders/create")
    assert (delivery.state, delivery.error) == ("processed", None)
    assert len(double.requests_to(f"/orders/{order['id']}/transactions.json")) == 1
    shop.sync()

    (job,) = shop.jobs(QueueJob.kind == "order")
    record = job.payload["record"]
    assert record["payments"] == [{"gateway": "gift_card", "amount": "5.00"},
                                  {"gateway": "shopify_payments", "amount": "6.62"}]
    assert record["payment_method"] == "shopify_payments"  # the card paid the money, not the gift card
    (receipt,) = shop.company.transactions("SalesReceipt")
    books = check_order(shop.company, receipt["RefNumber"], sold="6.62", paid="6.62", tax_total="0.62",
                        accounts={"Gift Card Liability": "-5.00", "Undeposited Funds": "6.62"})
    assert books.open_balance == 0


@pytest.mark.parametrize("profile", ["retail", "multicurrency"])
def test_without_store_access_the_order_waits_with_the_fix(runtime, make_shop, double, profile):
    order = _mixed_order(double)
    shop = make_shop(platform="shopify", webhook_secret=SECRET, store_url=double.base_url,
                     profile=profile)  # no token

    delivery = process_shopify_delivery(runtime, order, "e1", SECRET, topic="orders/create")
    assert delivery.state == "processed" and "transactions could not be read" in delivery.error
    shop.sync()

    assert not shop.company.transactions("SalesReceipt")
    (job,) = shop.jobs(QueueJob.kind == "order")
    assert job.state == "parked" and "fix the token on the connection page" in job.reason
    assert Decimal(job.payload["record"]["total"]) == Decimal("11.62")
