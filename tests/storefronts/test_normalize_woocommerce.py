"""WooCommerce normalizers against every reference sample (values checked against the files)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from qbsync.storefronts.platforms import normalizer_for
from qbsync.storefronts.records import load_payload
from qbsync.storefronts.woocommerce import normalize as wc

# Files in the sample folder that are not resource bodies (signature vector, header captures).
NOT_RESOURCES = {"webhook_signature_vector.json", "webhook_deliveries_example.json"}
# How each resource sample is read; test_every_sample_is_normalized keeps this list complete.
SAMPLES = {
    "order.json": wc.order,
    "order_webhook_body_compact.json": wc.order,
    "order_refund.json": wc.refund,
    "customer.json": wc.customer,
    "product_simple.json": wc.products,
    "product_variable.json": wc.products,
    "product_variation.json": wc.product_variation,
}


@pytest.fixture(scope="module")
def folder(reference_dir: Path) -> Path:
    return reference_dir / "storefront" / "woocommerce"


def load(folder: Path, name: str) -> dict[str, Any]:
    return load_payload((folder / name).read_bytes())


def test_every_sample_is_normalized(folder: Path) -> None:
    names = {p.name for p in folder.glob("*.json")}
    assert names - NOT_RESOURCES == set(SAMPLES), "a new sample needs a test"
    for name, read in SAMPLES.items():
        read(load(folder, name))  # raises InvalidPayload if the sample cannot be read


def test_registry_gives_this_module() -> None:
    assert normalizer_for("woocommerce") is wc
    assert normalizer_for(" WooCommerce ") is wc


# --------------------------------------------------------------------------------------------------
# order.json: order 727, a guest, two lines (one a variation), one tax rate, flat-rate shipping


def test_order_header(folder: Path) -> None:
    order = wc.order(load(folder, "order.json"))
    assert order.storefront_id == "727" and order.number == "727"
    assert (order.status, order.raw_status) == ("processing", "processing")
    assert order.currency == "USD"
    assert order.created_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)  # date_created_gmt
    assert order.modified_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    assert order.paid is True and order.date_paid == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    assert (order.payment_method, order.payment_method_title) == ("bacs", "Direct Bank Transfer")
    assert order.transaction_id is None  # "" in the file
    assert order.prices_include_tax is False


def test_order_guest_customer_comes_from_billing(folder: Path) -> None:
    order = wc.order(load(folder, "order.json"))
    customer = order.customer
    assert customer.is_guest is True and customer.storefront_id is None  # customer_id 0
    assert (customer.first_name, customer.last_name) == ("John", "Doe")
    assert customer.email == "john.doe@example.com"
    assert customer.phone == "(555) 555-5555"
    assert order.billing is not None and order.billing.line1 == "969 Market"
    assert (order.billing.city, order.billing.state, order.billing.postcode, order.billing.country) == (
        "San Francisco", "CA", "94103", "US")
    assert order.shipping is not None and order.shipping.phone == ""


def test_order_lines(folder: Path) -> None:
    first, second = wc.order(load(folder, "order.json")).lines
    assert (first.id, first.product_id, first.variant_id, first.sku) == ("315", "93", None, None)
    assert first.name == "Woo Single #1"
    assert first.quantity == Decimal("2")
    assert first.unit_price == Decimal("3.00")  # subtotal 6.00 / 2 (the file's price is the number 3)
    assert (first.subtotal, first.total, first.tax) == (Decimal("6.00"), Decimal("6.00"), Decimal("0.45"))
    assert [t.rate_id for t in first.tax_lines] == ["75"]
    assert first.tax_lines[0].code == "US-CA-STATE TAX" and first.tax_lines[0].amount == Decimal("0.45")

    assert (second.id, second.product_id, second.variant_id, second.sku) == ("316", "22", "23", "Bar3")
    assert second.name == "Ship Your Idea \u2013 Color: Black, Size: M Test"  # &ndash; decoded
    assert (second.quantity, second.unit_price, second.total) == (
        Decimal("1"), Decimal("12.00"), Decimal("12.00"))
    assert second.tax_lines[0].amount == Decimal("0.9")
    assert all(line.taxable for line in (first, second))


def test_order_shipping_tax_and_totals_add_up(folder: Path) -> None:
    order = wc.order(load(folder, "order.json"))
    (shipping,) = order.shipping_lines
    assert (shipping.id, shipping.method_id, shipping.title) == ("317", "flat_rate", "Flat Rate")
    assert (shipping.amount, shipping.tax) == (Decimal("10.00"), Decimal("0.00"))
    (tax,) = order.tax_lines
    assert (tax.rate_id, tax.code, tax.label, tax.compound) == ("75", "US-CA-STATE TAX", "State Tax", False)
    assert (tax.amount, tax.shipping_amount) == (Decimal("1.35"), Decimal("0.00"))
    assert order.fee_lines == () and order.discounts == () and order.refunds == ()
    assert order.subtotal == Decimal("18.00")
    assert (order.discount_total, order.shipping_total, order.tax_total) == (
        Decimal("0.00"), Decimal("10.00"), Decimal("1.35"))
    assert order.total == Decimal("29.35")
    # 6.00 + 12.00 + 10.00 shipping + 1.35 tax = 29.35 to the cent
    assert order.computed_total() == Decimal("29.35")
    assert order.total_difference() == Decimal("0")


def test_compact_webhook_body_gives_the_same_order(folder: Path) -> None:
    raw = (folder / "order_webhook_body_compact.json").read_bytes()
    assert b"\\/" in raw and b"\\u2013" not in raw  # wp_json_encode escaping is really in the file
    from_webhook = wc.order(load_payload(raw))
    assert from_webhook == wc.order(load(folder, "order.json"))
    assert from_webhook.fingerprint() == wc.order(load(folder, "order.json")).fingerprint()


def test_order_read_with_plain_json_floats_gives_the_same_record(folder: Path) -> None:
    # Callers should use load_payload, but a body parsed with floats must not change any amount.
    plain = json.loads((folder / "order.json").read_text())
    assert wc.order(plain) == wc.order(load(folder, "order.json"))


# --------------------------------------------------------------------------------------------------
# order_refund.json, customer.json


def test_refund(folder: Path) -> None:
    refund = wc.refund(load(folder, "order_refund.json"))
    assert refund.storefront_id == "726"
    assert refund.order_id == "723"  # from _links.up: the body has no order id field
    assert refund.amount == Decimal("10.00")
    assert refund.reason == "" and refund.lines == () and refund.restock is None
    assert refund.created_at == datetime(2017, 3, 21, 20, 7, 11, tzinfo=UTC)
    assert wc.refund(load(folder, "order_refund.json"), order_id=723).order_id == "723"


def test_customer(folder: Path) -> None:
    customer = wc.customer(load(folder, "customer.json"))
    assert customer.storefront_id == "25" and customer.is_guest is False
    assert (customer.email, customer.first_name, customer.last_name) == (
        "john.doe@example.com", "John", "Doe")
    assert customer.phone == "(555) 555-5555"
    assert customer.billing is not None and customer.billing.line1 == "969 Market"
    assert customer.shipping is not None and customer.shipping.country == "US"
    assert customer.modified_at == datetime(2017, 3, 21, 19, 9, 30, tzinfo=UTC)


# --------------------------------------------------------------------------------------------------
# Products, variations, stock


def test_simple_product(folder: Path) -> None:
    (product,) = wc.products(load(folder, "product_simple.json"))
    assert (product.product_id, product.variant_id, product.parent_id) == ("794", None, None)
    assert product.name == "Premium Quality" and product.sku is None
    assert product.price == Decimal("21.99") and product.cost is None
    assert product.manages_stock is False and product.stock_quantity is None
    assert product.kind == "non_inventory"  # not virtual, ships, stock not managed
    assert product.taxable is True and product.active is True
    assert product.description.startswith("Pellentesque habitant morbi") and "<p>" not in product.description
    assert product.modified_at == datetime(2017, 3, 23, 20, 1, 14, tzinfo=UTC)


def test_managed_stock_makes_an_inventory_item(folder: Path) -> None:
    body = load(folder, "product_simple.json") | {"manage_stock": True, "stock_quantity": 7, "sku": "PQ-1"}
    (product,) = wc.products(body)
    assert (product.kind, product.manages_stock, product.stock_quantity) == ("inventory", True, Decimal("7"))
    level = wc.stock_level(body)
    assert (level.product_id, level.variant_id, level.sku, level.quantity) == (
        "794", None, "PQ-1", Decimal("7"))
    assert level.location_id is None and level.inventory_item_id is None


def test_virtual_product_is_a_service(folder: Path) -> None:
    body = load(folder, "product_simple.json") | {"virtual": True, "tax_status": "none", "status": "draft"}
    (product,) = wc.products(body)
    assert (product.kind, product.taxable, product.active) == ("service", False, False)


def test_variable_product_lists_nothing_until_its_variations_are_fetched(folder: Path) -> None:
    body = load(folder, "product_variable.json")
    assert body["variations"] == [] and wc.products(body) == []
    with_ids = body | {"variations": [732, 733]}
    assert wc.products(with_ids) == []
    assert wc.variation_ids_to_fetch(with_ids) == ["732", "733"]


def test_variable_product_with_embedded_variations_lists_them(folder: Path) -> None:
    variation = load(folder, "product_variation.json")
    body = load(folder, "product_variable.json") | {"variations": [variation]}
    (product,) = wc.products(body)
    assert (product.product_id, product.variant_id, product.parent_id) == ("799", "732", "799")
    assert product.name == "Ship Your Idea - Black"  # parent name + the variation's option
    assert product.price == Decimal("9.00")
    assert wc.variation_ids_to_fetch(body) == []


def test_variation_on_its_own(folder: Path) -> None:
    body = load(folder, "product_variation.json")
    product = wc.product_variation(body)
    assert (product.product_id, product.variant_id) == ("22", "732")  # parent from _links.up
    assert product.name == "Black" and product.sku is None
    assert product.price == Decimal("9.00") and product.kind == "non_inventory"
    assert product.modified_at == datetime(2017, 3, 23, 3, 36, 38, tzinfo=UTC)
    # products() recognises a variation body too (a product.updated for a variation id)
    assert wc.products(body) == [product]
    level = wc.stock_level(body)
    assert (level.product_id, level.variant_id, level.quantity) == ("22", "732", None)


def test_variation_inherits_tax_status_and_parent_stock(folder: Path) -> None:
    parent = load(folder, "product_variable.json") | {"tax_status": "none"}
    body = load(folder, "product_variation.json") | {"tax_status": "parent", "manage_stock": "parent",
                                                       "stock_quantity": 12, "sku": "SYI-BLK"}
    product = wc.product_variation(body, parent=parent)
    assert product.product_id == "799" and product.taxable is False
    assert (product.kind, product.stock_quantity, product.sku) == ("inventory", Decimal("12"), "SYI-BLK")


# --------------------------------------------------------------------------------------------------
# Webhook bookkeeping


def test_modified_at(folder: Path) -> None:
    assert wc.modified_at("order", load(folder, "order.json")) == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    assert wc.modified_at("product", load(folder, "product_simple.json")) == datetime(
        2017, 3, 23, 20, 1, 14, tzinfo=UTC)
    assert wc.modified_at("refund", load(folder, "order_refund.json")) == datetime(
        2017, 3, 21, 20, 7, 11, tzinfo=UTC)
    # Without the _gmt field the site-time field is the fallback.
    body = {"id": 1, "date_modified": "2017-03-22T16:28:08"}
    assert wc.modified_at("order", body) == datetime(2017, 3, 22, 16, 28, 8, tzinfo=UTC)
    assert wc.modified_at("order", {"id": 1}) is None  # an order.deleted body
    with pytest.raises(ValueError, match="unknown resource type"):
        wc.modified_at("invoice", {})


def test_topic_of_the_captured_delivery(folder: Path) -> None:
    headers = json.loads((folder / "webhook_deliveries_example.json").read_text())[
        "order_created_delivery_captured"]["headers"]
    assert wc.resource_of_topic(headers["x-wc-webhook-topic"]) == (
        headers["x-wc-webhook-resource"], headers["x-wc-webhook-event"])


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("order.updated", ("order", "updated")),
        ("order.deleted", ("order", "deleted")),
        ("order.restored", ("order", "restored")),
        ("customer.created", ("customer", "created")),
        ("product.updated", ("product", "updated")),
        ("coupon.deleted", ("coupon", "deleted")),
        ("action.woocommerce_variation_set_stock", ("stock", "updated")),
    ],
)
def test_resource_of_topic(topic: str, expected: tuple[str, str]) -> None:
    assert wc.resource_of_topic(topic) == expected


@pytest.mark.parametrize("topic", ["", "order", "orders/create", "order.exploded", "action.wp_login"])
def test_unknown_topics_are_refused(topic: str) -> None:
    with pytest.raises(ValueError, match="unsupported WooCommerce webhook topic"):
        wc.resource_of_topic(topic)
