"""Gift cards and store credit that paid an order are read as such (not as discounts or fees), from the
reference orders with the fields the platforms add when a gift card pays."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from qbsync.storefronts.records import load_payload
from qbsync.storefronts.shopify import gateways
from qbsync.storefronts.shopify import normalize as shopify
from qbsync.storefronts.woocommerce import normalize as wc


@pytest.fixture(scope="module")
def storefront(reference_dir: Path) -> Path:
    return reference_dir / "storefront"


def _load(folder: Path, name: str) -> dict[str, Any]:
    return load_payload((folder / name).read_bytes())


def test_a_shopify_order_paid_only_by_gift_card(storefront: Path) -> None:
    body = _load(storefront, "shopify/order.json")
    body["payment_gateway_names"] = ["gift_card"]
    order = shopify.order(body)
    assert order.gift_card_amount == order.total == Decimal("598.94")


def test_a_shopify_order_read_with_its_transactions_takes_the_gift_card_sales(storefront: Path) -> None:
    body = _load(storefront, "shopify/order.json")
    body["payment_gateway_names"] = ["gift_card", "bogus"]
    body["transactions"] = [
        {"gateway": "gift_card", "kind": "sale", "status": "success", "amount": "50.00"},
        {"gateway": "gift_card", "kind": "sale", "status": "failure", "amount": "70.00"},
        {"gateway": "bogus", "kind": "sale", "status": "success", "amount": "548.94"},
    ]
    assert not gateways.needs_transactions(body)
    order = shopify.order(body)
    assert order.gift_card_amount == Decimal("50.00")
    assert order.total == Decimal("598.94") and order.total_difference() == 0
    assert [(p.gateway, p.amount) for p in order.payments] == [("gift_card", Decimal("50.00")),
                                                               ("bogus", Decimal("548.94"))]
    assert order.payment_method == order.payment_method_title == "bogus"  # the money, not the gift card


def test_a_shopify_webhook_with_a_gift_card_among_its_gateways_says_the_amount_is_unknown(storefront: Path):
    body = _load(storefront, "shopify/order.json")
    body["payment_gateway_names"] = ["bogus", "gift_card"]
    assert gateways.needs_transactions(body)  # so the webhook processing reads them from the store
    assert shopify.order(body).gift_card_amount is None
    assert shopify.order(_load(storefront, "shopify/order.json")).gift_card_amount == 0


def test_woocommerce_gift_cards_are_added_back_to_the_total(storefront: Path) -> None:
    body = _load(storefront, "woocommerce/order.json")
    body["gift_cards"] = [{"id": 3, "code": "GC-7Q2X", "amount": "10.00"}]
    body["total"] = "19.35"  # WooCommerce's total is what is left to pay
    order = wc.order(body)
    assert order.gift_card_amount == Decimal("10.00")
    assert order.total == Decimal("29.35") and order.total_difference() == 0


def test_woocommerce_store_credit_coupons_are_not_discounts(storefront: Path) -> None:
    body = _load(storefront, "woocommerce/order.json")
    credit = {"id": 9, "code": "credit-ann", "discount": "5.00", "discount_type": "smart_coupon"}
    coupon = {"id": 10, "code": "SUMMER", "discount": "2.00", "discount_type": "fixed_cart"}
    body["coupon_lines"] = [credit, coupon]
    body["discount_total"] = "7.00"
    body["total"] = "22.35"
    order = wc.order(body)
    assert [d.code for d in order.discounts] == ["SUMMER"]
    assert order.gift_card_amount == Decimal("5.00")
    assert order.total == Decimal("27.35") and order.total_difference() == 0


def test_a_shopify_gift_card_line_is_marked_as_a_gift_card_sold(storefront: Path) -> None:
    body = _load(storefront, "shopify/order.json")
    body["line_items"][0]["gift_card"] = True  # Shopify's REST Order line_items[].gift_card
    order = shopify.order(body)
    assert [line.gift_card for line in order.lines] == [True, False, False][: len(order.lines)]
