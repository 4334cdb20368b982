"""Shopify normalizers against every reference sample (values checked against the files)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from qbsync.storefronts.platforms import normalizer_for
from qbsync.storefronts.records import load_payload
from qbsync.storefronts.shopify import normalize as shopify

# Files in the sample folder that are not resource bodies: the signature vector and a request body.
NOT_RESOURCES = {"webhook_signature_vector.json", "rest_inventory_levels_set_request.json"}
SAMPLES = {
    "order.json": shopify.order,
    "order_webhook_body_compact.json": shopify.order,
    "customer.json": shopify.customer,
    "product.json": shopify.products,
    "inventory_level.json": shopify.stock_level,
    "rest_inventory_levels_response.json": lambda body: [shopify.stock_level(level)
                                                         for level in body["inventory_levels"]],
}


@pytest.fixture(scope="module")
def folder(reference_dir: Path) -> Path:
    return reference_dir / "storefront" / "shopify"


def load(folder: Path, name: str) -> dict[str, Any]:
    return load_payload((folder / name).read_bytes())


def test_every_sample_is_normalized(folder: Path) -> None:
    names = {p.name for p in folder.glob("*.json")}
    assert names - NOT_RESOURCES == set(SAMPLES), "a new sample needs a test"
    for name, read in SAMPLES.items():
        read(load(folder, name))  # raises InvalidPayload if the sample cannot be read


def test_registry_gives_this_module() -> None:
    assert normalizer_for("shopify") is shopify


# --------------------------------------------------------------------------------------------------
# order.json: #1001, partially refunded, TENOFF spread over 3 lines, 6 % state tax, free shipping


def test_order_header(folder: Path) -> None:
    order = shopify.order(load(folder, "order.json"))
    assert order.storefront_id == "450789469"
    assert order.number == "1001"  # name "#1001"
    assert order.raw_status == "partially_refunded"
    assert order.status == "processing"  # paid (partly refunded), not fulfilled, not cancelled
    assert order.paid is True
    assert order.cancelled_at is None
    assert order.currency == "USD"
    assert order.created_at == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)  # 11:00-05:00
    assert order.modified_at == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)
    assert order.date_paid == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)  # processed_at
    assert order.payment_method == "bogus"
    assert order.prices_include_tax is False  # taxes_included false


def test_order_customer_and_addresses(folder: Path) -> None:
    order = shopify.order(load(folder, "order.json"))
    customer = order.customer
    assert customer.storefront_id == "207119551" and customer.is_guest is False
    assert (customer.first_name, customer.last_name) == ("Bob", "Norman")
    assert customer.email == "bob.norman@mail.example.com"
    assert customer.phone == "+16136120707"
    assert order.billing is not None
    assert (order.billing.line1, order.billing.city, order.billing.state, order.billing.postcode,
            order.billing.country) == ("Chestnut Street 92", "Louisville", "KY", "40202", "US")
    # The customer's billing is what the buyer gave on this order (with names), not the nameless default.
    assert customer.billing == order.billing and customer.billing.first_name == "Bob"
    assert order.shipping == order.billing and customer.shipping == order.shipping


def test_order_lines_carry_their_discount_allocations_and_taxes(folder: Path) -> None:
    lines = shopify.order(load(folder, "order.json")).lines
    assert [line.sku for line in lines] == ["IPOD2008GREEN", "IPOD2008RED", "IPOD2008BLACK"]
    assert [line.variant_id for line in lines] == ["39072856", "49148385", "457924702"]
    assert {line.product_id for line in lines} == {"632910392"}
    assert [line.id for line in lines] == ["466157049", "518995019", "703073504"]
    assert lines[0].name == "IPod Nano - 8gb - green"
    assert all(line.quantity == Decimal("1") and line.unit_price == Decimal("199.00") for line in lines)
    assert [line.total for line in lines] == [Decimal("195.66"), Decimal("195.67"), Decimal("195.67")]
    assert [line.discount for line in lines] == [Decimal("3.34"), Decimal("3.33"), Decimal("3.33")]
    for line in lines:
        assert line.taxable and line.tax == Decimal("3.98")
        (tax,) = line.tax_lines
        assert (tax.label, tax.rate_percent, tax.amount) == ("State Tax", Decimal("6"), Decimal("3.98"))


def test_order_discounts_taxes_and_totals(folder: Path) -> None:
    order = shopify.order(load(folder, "order.json"))
    (discount,) = order.discounts
    assert (discount.code, discount.amount) == ("TENOFF", Decimal("10.00"))  # 3.34 + 3.33 + 3.33
    (tax,) = order.tax_lines
    assert (tax.label, tax.rate_percent, tax.amount, tax.shipping_amount) == (
        "State Tax", Decimal("6"), Decimal("11.94"), Decimal("0"))
    (shipping,) = order.shipping_lines
    assert (shipping.id, shipping.title, shipping.amount, shipping.tax) == (
        "369256396", "Free Shipping", Decimal("0.00"), Decimal("0"))
    assert order.subtotal == Decimal("597.00")  # total_line_items_price
    assert order.discount_total == Decimal("10.00")
    assert order.shipping_total == Decimal("0.00")
    assert order.tax_total == Decimal("11.94")
    assert order.total == Decimal("598.94")  # total_price as placed (current_total_price is after refunds)


def test_order_total_invariant_holds_to_the_cent(folder: Path) -> None:
    body = load(folder, "order.json")
    order = shopify.order(body)
    # lines 3 x 199.00 - discount 10.00 + shipping 0.00 + tax 11.94 = 598.94 = total_price
    assert order.computed_total() == Decimal(body["total_price"])
    assert order.total_difference() == Decimal("0")
    # The refund does not enter the order's total: total_* are as placed, refunds are separate records.
    assert body["current_total_price"] != body["total_price"]


def test_order_refund_summary_and_embedded_refunds(folder: Path) -> None:
    body = load(folder, "order.json")
    order = shopify.order(body)
    (summary,) = order.refunds
    assert (summary.storefront_id, summary.amount, summary.reason) == (
        "509562969", Decimal("209.00"), "it broke during shipping")  # the refund transaction's amount
    (refund,) = shopify.order_refunds(body)
    assert (refund.storefront_id, refund.order_id, refund.amount) == (
        "509562969", "450789469", Decimal("209.00"))
    assert refund.restock is True
    assert refund.created_at == datetime(2025, 7, 2, 16, 29, 59, tzinfo=UTC)
    black, green = refund.lines
    assert (black.line_id, black.sku, black.quantity, black.amount, black.tax, black.restock) == (
        "703073504", "IPOD2008BLACK", Decimal("1"), Decimal("195.66"), Decimal("3.98"), True)
    assert (green.line_id, green.variant_id, green.amount) == ("466157049", "39072856", Decimal("195.67"))
    # The lines' subtotal/total_tax are JSON numbers in the file; the string shop_money twin is used.
    assert isinstance(body["refunds"][0]["refund_line_items"][0]["subtotal"], Decimal)
    assert shopify.refund(body["refunds"][0]) == refund
    assert shopify.refund({"refund": body["refunds"][0]}) == refund  # REST answers wrap it


def test_a_cancellation_says_whether_it_restocked_beyond_its_refunds(folder: Path) -> None:
    """restocked_on_cancel: a refund made with the cancellation lists what Shopify restocked (type
    "cancel") or kept out ("no_restock"), so nothing more comes back with the cancellation (False); an
    order wholly restocked says True; a refund made days before the cancellation says nothing about it."""
    body = load(folder, "order.json")
    assert shopify.order(body).restocked_on_cancel is None  # not cancelled
    assert shopify.order(body).refunds[0].lines == shopify.order_refunds(body)[0].lines
    assert body["refunds"][0]["created_at"] < "2025-07-09"  # its lines are "legacy_restock"
    cancelled = {**body, "cancelled_at": "2025-07-09T10:00:00-05:00"}
    assert shopify.order(cancelled).restocked_on_cancel is None
    assert shopify.order({**cancelled, "fulfillment_status": "restocked"}).restocked_on_cancel is True

    def made_on_cancelling(restock_type: str) -> dict[str, Any]:
        refund = dict(body["refunds"][0], created_at="2025-07-09T10:00:01-05:00")
        refund["refund_line_items"] = [dict(line, restock_type=restock_type)
                                       for line in refund["refund_line_items"]]
        return {**cancelled, "refunds": [body["refunds"][0], refund]}

    assert shopify.order(made_on_cancelling("cancel")).restocked_on_cancel is False
    assert shopify.order(made_on_cancelling("no_restock")).restocked_on_cancel is False


def test_compact_webhook_body_gives_the_same_order(folder: Path) -> None:
    compact = shopify.order(load(folder, "order_webhook_body_compact.json"))
    assert compact == shopify.order(load(folder, "order.json"))


def test_order_read_with_plain_json_floats_gives_the_same_record(folder: Path) -> None:
    plain = json.loads((folder / "order.json").read_text())
    assert shopify.order(plain) == shopify.order(load(folder, "order.json"))
    assert shopify.order({"order": plain}) == shopify.order(plain)  # REST answers wrap it


# --------------------------------------------------------------------------------------------------
# customer.json, product.json, inventory levels


def test_customer(folder: Path) -> None:
    customer = shopify.customer(load(folder, "customer.json"))
    assert customer.storefront_id == "207119551" and customer.is_guest is False
    assert (customer.email, customer.first_name, customer.last_name) == (
        "bob.norman@mail.example.com", "Bob", "Norman")
    assert customer.phone == "+16136120707"
    assert customer.billing is not None and customer.billing == customer.shipping
    assert (customer.billing.line1, customer.billing.state, customer.billing.country) == (
        "Chestnut Street 92", "KY", "US")
    assert customer.modified_at == datetime(2025, 7, 2, 16, 25, 58, tzinfo=UTC)


def test_product_gives_one_item_per_variant(folder: Path) -> None:
    body = load(folder, "product.json")
    items = shopify.products(body)
    assert [p.sku for p in items] == ["IPOD2008PINK", "IPOD2008RED", "IPOD2008GREEN", "IPOD2008BLACK"]
    assert [p.variant_id for p in items] == [str(v["id"]) for v in body["variants"]]
    assert [p.inventory_item_id for p in items] == [str(v["inventory_item_id"]) for v in body["variants"]]
    assert [p.stock_quantity for p in items] == [Decimal(10), Decimal(20), Decimal(30), Decimal(40)]
    assert [p.name for p in items] == ["IPod Nano - 8GB - Pink", "IPod Nano - 8GB - Red",
                                      "IPod Nano - 8GB - Green", "IPod Nano - 8GB - Black"]
    for item in items:
        assert (item.product_id, item.parent_id) == ("632910392", "632910392")
        assert item.price == Decimal("199.00") and item.cost is None
        assert (item.kind, item.manages_stock, item.taxable, item.active) == ("inventory", True, True, True)
        assert item.description.startswith("It's the small iPod") and "<p>" not in item.description
        assert item.modified_at == datetime(2025, 10, 2, 16, 29, 59, tzinfo=UTC)


def test_untracked_single_variant_product(folder: Path) -> None:
    body = load(folder, "product.json")
    variant = body["variants"][0] | {"title": "Default Title", "inventory_management": None,
                                      "requires_shipping": False, "taxable": False}
    (item,) = shopify.products(body | {"variants": [variant], "status": "draft"})
    assert item.name == "IPod Nano - 8GB"
    assert (item.kind, item.manages_stock, item.stock_quantity) == ("service", False, None)
    assert (item.taxable, item.active) == (False, False)
    assert shopify.product_variation(variant, parent=body).variant_id == "808950810"


def test_inventory_level(folder: Path) -> None:
    level = shopify.stock_level(load(folder, "inventory_level.json"))
    assert (level.inventory_item_id, level.location_id, level.quantity) == (
        "808950810", "655441491", Decimal(42))
    assert level.modified_at == datetime(2025, 7, 2, 16, 30, 13, tzinfo=UTC)
    assert level.product_id is None and level.sku is None
    wrapped = {"inventory_level": load(folder, "inventory_level.json")}  # the set/adjust answer
    assert shopify.stock_level(wrapped) == level


def test_inventory_levels_list_response(folder: Path) -> None:
    levels = [shopify.stock_level(item) for item in load(folder, "rest_inventory_levels_response.json")[
        "inventory_levels"]]
    assert [(lv.inventory_item_id, lv.location_id, lv.quantity) for lv in levels] == [
        ("808950810", "487838322", Decimal(9)), ("808950810", "655441491", Decimal(1))]


# --------------------------------------------------------------------------------------------------
# Webhook bookkeeping


def test_modified_at_converts_the_offset_to_utc(folder: Path) -> None:
    assert shopify.modified_at("order", load(folder, "order.json")) == datetime(
        2008, 1, 10, 16, 0, tzinfo=UTC)
    assert shopify.modified_at("stock", load(folder, "inventory_level.json")) == datetime(
        2025, 7, 2, 16, 30, 13, tzinfo=UTC)
    refund = load(folder, "order.json")["refunds"][0]
    assert shopify.modified_at("refund", refund) == datetime(2025, 7, 2, 16, 29, 59, tzinfo=UTC)
    assert shopify.modified_at("product", {"id": 1}) is None  # a products/delete body


def test_topic_of_the_example_headers(folder: Path) -> None:
    vector = json.loads((folder / "webhook_signature_vector.json").read_text())
    assert shopify.resource_of_topic(vector["example_headers_illustrative"]["X-Shopify-Topic"]) == (
        "order", "created")


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("orders/create", ("order", "created")),
        ("orders/updated", ("order", "updated")),
        ("orders/paid", ("order", "updated")),
        ("orders/cancelled", ("order", "updated")),
        ("orders/delete", ("order", "deleted")),
        ("refunds/create", ("refund", "created")),
        ("inventory_levels/update", ("stock", "updated")),
        ("inventory_levels/disconnect", ("stock", "deleted")),
        ("products/update", ("product", "updated")),
        ("products/delete", ("product", "deleted")),
        ("customers/create", ("customer", "created")),
    ],
)
def test_resource_of_topic(topic: str, expected: tuple[str, str]) -> None:
    assert shopify.resource_of_topic(topic) == expected


@pytest.mark.parametrize("topic", ["app/uninstalled", "customers/redact", "shop/redact", "order.created", ""])
def test_unknown_topics_are_refused(topic: str) -> None:
    with pytest.raises(ValueError, match="unsupported Shopify webhook topic"):
        shopify.resource_of_topic(topic)


def test_an_order_the_buyer_paid_in_another_currency_keeps_shop_money(folder: Path) -> None:
    """The order's amounts stay in its own (the shop's) currency; the buyer's total is kept beside them
    so the books can take the store's rate."""
    body = load(folder, "order.json")

    def presented(node: Any) -> None:
        if isinstance(node, dict):
            if "presentment_money" in node:
                money = node["presentment_money"]
                node["presentment_money"] = {"amount": str(Decimal(money["amount"]) * Decimal("0.9")),
                                             "currency_code": "EUR"}
            for value in node.values():
                presented(value)
        elif isinstance(node, list):
            for value in node:
                presented(value)

    presented(body)
    body["presentment_currency"] = "EUR"
    order = shopify.order(body)
    assert order.currency == "USD" and order.total == Decimal("598.94")  # shop money, as the lines are
    assert order.total_difference() == 0
    assert (order.presentment_currency, order.presentment_total) == ("EUR", Decimal("539.046"))
    assert shopify.order(load(folder, "order.json")).presentment_total is None  # same currency: nothing
