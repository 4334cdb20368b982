"""Hostile and unusual payloads: guests, missing addresses, zero totals, several tax rates, fees, coupons,
huge ids, floats, taxes included, currencies, statuses, and payloads that must be refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from qbsync.storefronts.platforms import PLATFORMS, normalizer_for
from qbsync.storefronts.records import InvalidPayload, load_payload
from qbsync.storefronts.shopify import normalize as shopify
from qbsync.storefronts.woocommerce import normalize as wc

# --------------------------------------------------------------------------------------------------
# WooCommerce bodies


def woo_line(line_id: int, subtotal: str, total: str, quantity: int, taxes: list[tuple[int, str]],
             price: float, **extra: Any) -> dict[str, Any]:
    return {
        "id": line_id, "name": f"Item {line_id}", "product_id": 90 + line_id, "variation_id": 0,
        "quantity": quantity, "subtotal": subtotal, "total": total,
        "total_tax": str(sum((Decimal(t) for _, t in taxes), Decimal("0.00"))),
        "taxes": [{"id": rate, "total": t, "subtotal": t} for rate, t in taxes],
        "sku": f"SKU-{line_id}", "price": price, **extra,
    }


def woo_order(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": 1500, "number": "1500", "status": "processing", "currency": "CAD",
        "date_created_gmt": "2024-06-01T10:00:00", "date_modified_gmt": "2024-06-01T10:05:00",
        "date_paid_gmt": "2024-06-01T10:01:00", "customer_id": 11,
        "billing": {"first_name": "Ada", "last_name": "Lovelace", "company": "Engines Ltd",
                    "address_1": "1 Analytical Way", "address_2": "", "city": "Toronto", "state": "ON",
                    "postcode": "M5V 2T6", "country": "CA", "email": "ada@example.com", "phone": "555-0100"},
        "shipping": {"first_name": "Ada", "last_name": "Lovelace", "company": "",
                     "address_1": "1 Analytical Way", "address_2": "", "city": "Toronto", "state": "ON",
                     "postcode": "M5V 2T6", "country": "CA"},
        "payment_method": "stripe", "payment_method_title": "Credit card", "transaction_id": "ch_3PXYZ",
        "customer_note": "Leave at the door", "prices_include_tax": True,
        "line_items": [], "tax_lines": [], "shipping_lines": [], "fee_lines": [], "coupon_lines": [],
        "refunds": [], "discount_total": "0.00", "discount_tax": "0.00", "shipping_total": "0.00",
        "total_tax": "0.00", "total": "0.00",
    }
    body.update(fields)
    return body


def three_rate_order() -> dict[str, Any]:
    """Two lines under a coupon, three tax rates (one compound), taxed shipping, a taxed fee and a credit."""
    return woo_order(
        line_items=[
            woo_line(1, "30.00", "27.00", 3, [(1, "1.62"), (2, "0.27"), (3, "0.14")], 9.0),
            woo_line(2, "15.50", "14.00", 1, [(1, "0.84"), (2, "0.14"), (3, "0.07")], 14.0),
        ],
        tax_lines=[
            {"id": 801, "rate_code": "CA-ON-STATE-1", "rate_id": 1, "label": "State", "compound": False,
             "tax_total": "2.58", "shipping_tax_total": "0.30", "rate_percent": 6.0},
            {"id": 802, "rate_code": "CA-ON-COUNTY-2", "rate_id": 2, "label": "County", "compound": False,
             "tax_total": "0.41", "shipping_tax_total": "0.00", "rate_percent": 1.0},
            {"id": 803, "rate_code": "CA-ON-CITY-3", "rate_id": 3, "label": "City &amp; Transit",
             "compound": True, "tax_total": "0.21", "shipping_tax_total": "0.00", "rate_percent": 0.5},
        ],
        shipping_lines=[{"id": 804, "method_title": "Flat rate", "method_id": "flat_rate", "total": "5.00",
                         "total_tax": "0.30", "taxes": [{"id": 1, "total": "0.30", "subtotal": ""}]}],
        fee_lines=[
            {"id": 805, "name": "Gift wrap", "tax_status": "taxable", "total": "2.00", "total_tax": "0.12",
             "taxes": [{"id": 1, "total": "0.12", "subtotal": ""}]},
            {"id": 806, "name": "Loyalty credit", "tax_status": "none", "total": "-1.00", "total_tax": "0.00",
             "taxes": []},
        ],
        coupon_lines=[{"id": 807, "code": "save10", "discount": "4.50", "discount_tax": "0.38"}],
        discount_total="4.50", discount_tax="0.38", shipping_total="5.00", shipping_tax="0.30",
        cart_tax="3.20", total_tax="3.50", total="50.50",
    )


def test_woo_three_tax_rates_fees_coupon_and_taxed_shipping_add_up() -> None:
    order = wc.order(three_rate_order())
    assert [(t.rate_id, t.code, t.amount, t.shipping_amount, t.compound) for t in order.tax_lines] == [
        ("1", "CA-ON-STATE-1", Decimal("2.88"), Decimal("0.30"), False),
        ("2", "CA-ON-COUNTY-2", Decimal("0.41"), Decimal("0.00"), False),
        ("3", "CA-ON-CITY-3", Decimal("0.21"), Decimal("0.00"), True),
    ]
    assert order.tax_lines[2].label == "City & Transit"
    assert [t.rate_percent for t in order.tax_lines] == [Decimal("6.0"), Decimal("1.0"), Decimal("0.5")]
    first = order.lines[0]
    assert [(t.code, t.amount) for t in first.tax_lines] == [
        ("CA-ON-STATE-1", Decimal("1.62")), ("CA-ON-COUNTY-2", Decimal("0.27")),
        ("CA-ON-CITY-3", Decimal("0.14"))]
    assert (first.unit_price, first.subtotal, first.total, first.discount) == (
        Decimal("10.00"), Decimal("30.00"), Decimal("27.00"), Decimal("3.00"))
    (shipping,) = order.shipping_lines
    assert (shipping.amount, shipping.tax, shipping.tax_lines[0].code) == (
        Decimal("5.00"), Decimal("0.30"), "CA-ON-STATE-1")
    wrap, credit = order.fee_lines
    assert (wrap.name, wrap.amount, wrap.tax, wrap.taxable) == (
        "Gift wrap", Decimal("2.00"), Decimal("0.12"), True)
    assert (credit.amount, credit.taxable) == (Decimal("-1.00"), False)
    (coupon,) = order.discounts
    assert (coupon.code, coupon.amount, coupon.tax) == ("save10", Decimal("4.50"), Decimal("0.38"))
    assert order.subtotal == Decimal("45.50") and order.tax_total == Decimal("3.50")
    # 45.50 - 4.50 + 5.00 + 2.00 - 1.00 + 3.50 = 50.50. WooCommerce line amounts are net even though the
    # shop enters gross prices, so the record says prices do not include tax.
    assert order.prices_include_tax is False
    assert order.total_difference() == Decimal("0")


def test_woo_registered_customer_and_payment_details() -> None:
    order = wc.order(three_rate_order())
    assert order.customer.storefront_id == "11" and order.customer.is_guest is False
    assert (order.customer.company, order.customer.email) == ("Engines Ltd", "ada@example.com")
    assert order.transaction_id == "ch_3PXYZ" and order.note == "Leave at the door"
    assert order.currency == "CAD"


def test_woo_guest_zero_total_order_without_shipping_address() -> None:
    blank = {key: "" for key in ("first_name", "last_name", "company", "address_1", "address_2", "city",
                                 "state", "postcode", "country")}
    body = woo_order(
        customer_id=0, status="completed", date_paid_gmt=None, payment_method="", shipping=blank,
        line_items=[woo_line(1, "0.00", "0.00", 1, [], 0)], total="0.00",
    )
    order = wc.order(body)
    assert order.customer.is_guest and order.customer.storefront_id is None
    assert order.customer.email == "ada@example.com" and order.customer.billing == order.billing
    assert order.shipping is None and order.customer.shipping is None
    assert (order.status, order.paid, order.date_paid) == ("completed", False, None)
    assert order.total == Decimal("0.00") and order.total_difference() == Decimal("0")
    assert order.lines[0].taxable is False


def test_woo_order_without_billing_or_shipping_at_all() -> None:
    body = woo_order(customer_id=0, line_items=[woo_line(1, "5.00", "5.00", 1, [], 5)], total="5.00")
    del body["billing"], body["shipping"]
    order = wc.order(body)
    assert order.billing is None and order.shipping is None
    assert order.customer.is_guest and order.customer.email == ""


def test_woo_manual_discount_without_coupon_line_still_counts() -> None:
    body = woo_order(line_items=[woo_line(1, "20.00", "18.00", 2, [], 9.0)], discount_total="2.00",
                     total="18.00")
    order = wc.order(body)
    (discount,) = order.discounts
    assert (discount.code, discount.title, discount.amount) == ("", "Discount", Decimal("2.00"))
    assert order.total_difference() == Decimal("0")


def test_woo_unit_price_of_an_uneven_split_keeps_five_places() -> None:
    # price is after discounts and a float that cannot be exact: the unit price comes from subtotal.
    body = woo_order(line_items=[woo_line(1, "10.00", "10.00", 3, [], 3.3333333333333335)], total="10.00")
    for parsed in (body, load_payload(json.dumps(body))):
        (line,) = wc.order(parsed).lines
        assert line.unit_price == Decimal("3.33333")
        assert line.total == Decimal("10.00")


def test_woo_money_given_as_floats_keeps_its_decimal_text() -> None:
    body = woo_order(line_items=[woo_line(1, 12.1, 12.1, 1, [], 12.1)], total=12.1)
    order = wc.order(body)
    assert order.total == Decimal("12.1")  # not 12.0999999999999996447286321199499070644378662109375
    assert order.lines[0].subtotal == Decimal("12.1")
    assert order.total_difference() == Decimal("0")


def test_woo_refund_summaries_are_positive_and_read_either_reason_key() -> None:
    body = woo_order(refunds=[{"id": 726, "reason": "", "total": "-10.00"},
                              {"id": 730, "refund": "Late delivery", "total": "-2.50"}])
    assert [(r.storefront_id, r.amount, r.reason) for r in wc.order(body).refunds] == [
        ("726", Decimal("10.00"), ""), ("730", Decimal("2.50"), "Late delivery")]
    assert wc.order_refunds(body) == []


def test_woo_refund_with_negative_lines_and_shipping() -> None:
    body = {
        "id": 900, "amount": "12.50", "reason": "Damaged", "date_created_gmt": "2024-06-03T09:00:00",
        "line_items": [{"id": 55, "name": "Item 1", "product_id": 93, "variation_id": 23, "quantity": -1,
                        "subtotal": "-10.00", "total": "-10.00", "total_tax": "-0.75", "sku": "W1",
                        "price": -10,
                        "meta_data": [{"id": 1, "key": "_refunded_item_id", "value": "315"}]}],
        "shipping_lines": [{"id": 56, "total": "-1.75"}],
    }
    refund = wc.refund(body, order_id="727")
    assert (refund.storefront_id, refund.order_id, refund.amount, refund.reason) == (
        "900", "727", Decimal("12.50"), "Damaged")
    (line,) = refund.lines
    assert (line.line_id, line.product_id, line.variant_id, line.sku) == ("315", "93", "23", "W1")
    assert (line.quantity, line.amount, line.tax) == (Decimal("1"), Decimal("10.00"), Decimal("0.75"))
    assert refund.shipping == Decimal("1.75")
    assert refund.created_at == datetime(2024, 6, 3, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "paid", "expected"),
    [("on-hold", None, "on_hold"), ("pending", None, "pending"), ("failed", None, "failed"),
     ("cancelled", None, "cancelled"), ("refunded", "2024-06-01T10:01:00", "refunded"),
     ("trash", None, "cancelled"), ("checkout-draft", None, "pending"),
     ("shipped", "2024-06-01T10:01:00", "processing"), ("awaiting-review", None, "pending")],
)
def test_woo_status_vocabulary(status: str, paid: str | None, expected: str) -> None:
    order = wc.order(woo_order(status=status, date_paid_gmt=paid))
    assert (order.status, order.raw_status, order.paid) == (expected, status, paid is not None)


# --------------------------------------------------------------------------------------------------
# Shopify bodies


def money_set(shop: str, presentment: str | None = None, currency: str = "USD",
              presentment_currency: str = "USD") -> dict[str, Any]:
    return {"shop_money": {"amount": shop, "currency_code": currency},
            "presentment_money": {"amount": presentment or shop, "currency_code": presentment_currency}}


def shop_line(line_id: int, price: str, quantity: int, taxes: list[tuple[str, float, str]],
              allocations: list[tuple[int, str]], **extra: Any) -> dict[str, Any]:
    return {
        "id": line_id, "product_id": 7000 + line_id, "variant_id": 8000 + line_id, "sku": f"SH-{line_id}",
        "name": f"Thing {line_id}", "title": f"Thing {line_id}", "quantity": quantity, "price": price,
        "price_set": money_set(price), "taxable": True,
        "tax_lines": [{"title": title, "rate": rate, "price": amount, "price_set": money_set(amount)}
                      for title, rate, amount in taxes],
        "discount_allocations": [{"amount": amount, "amount_set": money_set(amount),
                                  "discount_application_index": index} for index, amount in allocations],
        **extra,
    }


def shop_order(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": 5001, "name": "#2001", "order_number": 2001, "email": "guest@example.com",
        "created_at": "2024-06-01T12:00:00+02:00", "updated_at": "2024-06-01T12:30:00+02:00",
        "processed_at": "2024-06-01T12:00:05+02:00", "currency": "USD", "presentment_currency": "USD",
        "financial_status": "paid", "fulfillment_status": None, "cancelled_at": None, "taxes_included": False,
        "billing_address": {"first_name": "Grace", "last_name": "Hopper", "address1": "2 Compiler Rd",
                            "city": "Arlington", "province_code": "VA", "zip": "22201", "country_code": "US",
                            "company": "Navy", "phone": "555-0199"},
        "shipping_address": None, "line_items": [], "shipping_lines": [], "tax_lines": [],
        "discount_applications": [], "discount_codes": [], "payment_gateway_names": ["shopify_payments"],
        "total_line_items_price": "0.00", "total_discounts": "0.00", "total_tax": "0.00",
        "total_price": "0.00",
        "total_shipping_price_set": money_set("0.00"),
    }
    body.update(fields)
    return body


def test_shopify_guest_order_without_shipping_address() -> None:
    order = shopify.order(shop_order(
        line_items=[shop_line(1, "20.00", 1, [], [])], total_line_items_price="20.00", total_price="20.00"))
    assert "customer" not in shop_order()
    customer = order.customer
    assert customer.is_guest and customer.storefront_id is None
    assert (customer.email, customer.first_name, customer.last_name, customer.company) == (
        "guest@example.com", "Grace", "Hopper", "Navy")
    assert order.shipping is None and order.billing is not None and order.billing.state == "VA"
    assert order.number == "2001" and order.payment_method == "shopify_payments"
    assert order.created_at == datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
    assert order.total_difference() == Decimal("0")


def test_shopify_zero_total_order_with_no_addresses() -> None:
    order = shopify.order(shop_order(billing_address=None, financial_status="paid",
                                     line_items=[shop_line(1, "0.00", 1, [], [])]))
    assert order.billing is None and order.shipping is None
    assert order.customer.is_guest and order.customer.email == "guest@example.com"
    assert order.total == Decimal("0.00") and order.total_difference() == Decimal("0")


def test_shopify_huge_ids_stay_exact() -> None:
    huge = 820982911946154508
    text = json.dumps(shop_order(
        id=huge, customer={"id": huge + 1, "email": "big@example.com", "updated_at": "2024-06-01T00:00:00Z"},
        line_items=[shop_line(1, "5.00", 1, [], []) | {"id": huge + 2, "variant_id": 2**63 - 1}],
        total_line_items_price="5.00", total_price="5.00",
    ))
    order = shopify.order(load_payload(text))
    assert order.storefront_id == "820982911946154508"
    assert order.customer.storefront_id == "820982911946154509"
    assert order.lines[0].id == "820982911946154510"
    assert order.lines[0].variant_id == "9223372036854775807"
    assert order.to_dict()["storefront_id"] == "820982911946154508"


def test_shopify_id_already_rounded_by_a_float_parser_is_refused() -> None:
    with pytest.raises(InvalidPayload, match="^id: .*lost precision"):
        shopify.order(shop_order(id=float(820982911946154508)))


def test_shopify_taxes_included_order_does_not_add_tax_twice() -> None:
    body = shop_order(
        taxes_included=True,
        line_items=[shop_line(1, "11.00", 2, [("GST", 0.1, "2.00")], [])],
        shipping_lines=[{"id": 61, "title": "Standard", "code": "STD", "price": "5.50",
                         "price_set": money_set("5.50"), "discount_allocations": [],
                         "tax_lines": [{"title": "GST", "rate": 0.1, "price": "0.50"}]}],
        tax_lines=[{"title": "GST", "rate": 0.1, "price": "2.50"}],
        total_line_items_price="22.00", total_shipping_price_set=money_set("5.50"), total_tax="2.50",
        total_price="27.50",
    )
    order = shopify.order(body)
    assert order.prices_include_tax is True
    (tax,) = order.tax_lines
    assert (tax.amount, tax.shipping_amount, tax.rate_percent) == (
        Decimal("2.50"), Decimal("0.50"), Decimal("10.0"))
    assert order.computed_total() == Decimal("27.50") and order.total_difference() == Decimal("0")


def test_shopify_shipping_discount_two_rates_and_shop_currency() -> None:
    """SPRING (10 % of the line) and FREESHIP (the 8.00 shipping), two tax rates, a buyer paying in EUR."""
    line = shop_line(1, "100.00", 1, [("State", 0.05, "4.50"), ("County", 0.02, "1.80")], [(0, "10.00")])
    line["price_set"] = money_set("100.00", "92.00", presentment_currency="EUR")
    body = shop_order(
        presentment_currency="EUR",
        line_items=[line],
        shipping_lines=[{"id": 62, "title": "Express", "code": "EXP", "price": "8.00",
                         "price_set": money_set("8.00", "7.36", presentment_currency="EUR"),
                         "discounted_price": "0.00", "tax_lines": [],
                         "discount_allocations": [{"amount": "8.00", "amount_set": money_set("8.00", "7.36"),
                                                   "discount_application_index": 1}]}],
        discount_applications=[
            {"target_type": "line_item", "type": "discount_code", "value": "10.0", "value_type": "percentage",
             "code": "SPRING"},
            {"target_type": "shipping_line", "type": "discount_code", "value": "100.0",
             "value_type": "percentage", "code": "FREESHIP"},
        ],
        discount_codes=[{"code": "SPRING", "amount": "10.00", "type": "percentage"},
                        {"code": "FREESHIP", "amount": "8.00", "type": "shipping"}],
        tax_lines=[{"title": "State", "rate": 0.05, "price": "4.50"}, {"title": "County", "rate": 0.02,
                                                                      "price": "1.80"}],
        total_line_items_price="100.00", total_discounts="18.00", total_shipping_price_set=money_set("8.00"),
        total_tax="6.30", total_price="96.30",
    )
    order = shopify.order(body)
    assert [(d.code, d.amount) for d in order.discounts] == [("SPRING", Decimal("10.00")),
                                                             ("FREESHIP", Decimal("8.00"))]
    (shipping,) = order.shipping_lines
    assert (shipping.amount, shipping.discount) == (Decimal("8.00"), Decimal("8.00"))
    assert order.lines[0].unit_price == Decimal("100.00")  # shop money, not the EUR 92.00
    assert [(t.label, t.rate_percent, t.amount) for t in order.tax_lines] == [
        ("State", Decimal("5.00"), Decimal("4.50")), ("County", Decimal("2.00"), Decimal("1.80"))]
    assert order.lines[0].tax == Decimal("6.30")
    assert order.currency == "USD"
    assert order.computed_total() == Decimal("96.30") and order.total_difference() == Decimal("0")


def test_shopify_order_taxes_are_added_up_from_lines_when_the_body_omits_them() -> None:
    body = shop_order(
        line_items=[shop_line(1, "10.00", 2, [("State", 0.06, "1.20")], []),
                    shop_line(2, "5.00", 1, [("State", 0.06, "0.30")], [])],
        shipping_lines=[{"id": 63, "title": "Post", "code": "P", "price": "4.00",
                         "tax_lines": [{"title": "State", "rate": 0.06, "price": "0.24"}]}],
        total_line_items_price="25.00", total_tax="1.74", total_price="30.74",
    )
    del body["tax_lines"]
    (tax,) = shopify.order(body).tax_lines
    assert (tax.label, tax.amount, tax.shipping_amount) == ("State", Decimal("1.74"), Decimal("0.24"))
    assert shopify.order(body).total_difference() == Decimal("0")


def test_shopify_discounts_without_allocations_fall_back_to_codes_then_total() -> None:
    line = shop_line(1, "50.00", 1, [], [])
    del line["discount_allocations"]
    body = shop_order(line_items=[line], discount_codes=[{"code": "FIVER", "amount": "5.00"}],
                      total_line_items_price="50.00", total_discounts="5.00", total_price="45.00")
    assert [(d.code, d.amount) for d in shopify.order(body).discounts] == [("FIVER", Decimal("5.00"))]
    assert shopify.order(body).total_difference() == Decimal("0")
    only_total = shopify.order(body | {"discount_codes": []})
    assert [(d.title, d.amount) for d in only_total.discounts] == [("Discount", Decimal("5.00"))]


def test_shopify_duties_become_a_fee_line() -> None:
    body = shop_order(line_items=[shop_line(1, "40.00", 1, [], [])], total_line_items_price="40.00",
                      original_total_duties_set=money_set("3.20"), total_price="43.20")
    order = shopify.order(body)
    assert [(f.name, f.amount) for f in order.fee_lines] == [("Duties", Decimal("3.20"))]
    assert order.total_difference() == Decimal("0")


def test_shopify_numbers_that_disagree_are_reported_not_hidden() -> None:
    body = shop_order(line_items=[shop_line(1, "19.99", 3, [], [])], total_line_items_price="59.97",
                      total_price="59.98")
    assert shopify.order(body).total_difference() == Decimal("0.01")


@pytest.mark.parametrize(
    ("financial", "fulfillment", "cancelled_at", "expected", "paid"),
    [
        ("paid", None, None, "processing", True),
        ("paid", "fulfilled", None, "completed", True),
        ("partially_refunded", "fulfilled", None, "completed", True),
        ("refunded", None, None, "refunded", True),
        ("pending", None, None, "pending", False),
        ("authorized", None, None, "on_hold", False),
        ("partially_paid", None, None, "processing", False),
        ("voided", None, None, "cancelled", False),
        ("expired", None, None, "failed", False),
        ("refunded", None, "2024-06-02T08:00:00-04:00", "cancelled", True),
    ],
)
def test_shopify_status_vocabulary(financial: str, fulfillment: str | None, cancelled_at: str | None,
                                   expected: str, paid: bool) -> None:
    order = shopify.order(shop_order(financial_status=financial, fulfillment_status=fulfillment,
                                     cancelled_at=cancelled_at))
    assert (order.status, order.raw_status, order.paid) == (expected, financial, paid)
    assert (order.date_paid is not None) == paid
    if cancelled_at:
        assert order.cancelled_at == datetime(2024, 6, 2, 12, 0, tzinfo=UTC)


def test_shopify_refund_without_transactions_adds_up_lines_and_shipping() -> None:
    body = {
        "id": 77, "order_id": 5001, "note": "", "created_at": "2024-06-05T10:00:00Z", "transactions": [],
        "refund_line_items": [{"id": 1, "line_item_id": 11, "quantity": 2, "restock_type": "no_restock",
                               "subtotal": 30.0, "total_tax": 1.8,
                               "line_item": {"id": 11, "product_id": 7001, "variant_id": 8001,
                                             "sku": "SH-1"}}],
        "order_adjustments": [{"id": 9, "kind": "shipping_refund", "amount": "-5.00", "tax_amount": "0.00"}],
    }
    refund = shopify.refund(body)
    assert (refund.order_id, refund.amount, refund.shipping, refund.restock) == (
        "5001", Decimal("36.80"), Decimal("5.00"), False)
    (line,) = refund.lines
    assert (line.line_id, line.sku, line.quantity, line.amount, line.tax, line.restock) == (
        "11", "SH-1", Decimal("2"), Decimal("30.0"), Decimal("1.8"), False)


def test_refunded_shipping_tax_is_itemized_where_the_store_says_it_and_unknown_where_it_does_not() -> None:
    """Shopify before API 2024-10: a "shipping_refund" adjustment with its tax_amount; since 2024-10 refund
    bodies carry no ``kind`` and no refunded shipping (unknown, None). WooCommerce: refund shipping_lines
    with their total_tax; an older refund body without shipping_lines does not say."""
    shopify_body = {"id": 78, "order_id": 5001, "note": "", "created_at": "2024-06-05T10:00:00Z",
                    "transactions": [], "refund_line_items": [],
                    "order_adjustments": [{"id": 9, "kind": "shipping_refund", "amount": "-5.00",
                                           "tax_amount": "-0.39"}]}
    refund = shopify.refund(shopify_body)
    assert (refund.shipping, refund.shipping_tax, refund.amount) == (Decimal("5.00"), Decimal("0.39"),
                                                                     Decimal("5.39"))
    discrepancy = {"id": 9, "amount": "-1.00", "tax_amount": "0.00"}  # no kind, as since 2024-10
    since_2024_10 = {**shopify_body, "order_adjustments": [discrepancy]}
    assert (shopify.refund(since_2024_10).shipping, shopify.refund(since_2024_10).shipping_tax) == (0, None)

    woo_body = {"id": 726, "date_created_gmt": "2024-06-05T10:00:00", "amount": "5.39", "reason": "",
                "line_items": [], "shipping_lines": [{"id": 3, "total": "-5.00", "total_tax": "-0.39"}]}
    refund = wc.refund(woo_body, order_id=723)
    assert (refund.shipping, refund.shipping_tax) == (Decimal("5.00"), Decimal("0.39"))
    older = {k: v for k, v in woo_body.items() if k != "shipping_lines"}
    assert (wc.refund(older, order_id=723).shipping, wc.refund(older, order_id=723).shipping_tax) == (0, None)


# --------------------------------------------------------------------------------------------------
# Payloads that must be refused with a reason naming the field


def _without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


REFUSED: list[tuple[str, Callable[[], Any], str]] = [
    ("woo order without id", lambda: wc.order(_without(three_rate_order(), "id")), "^id: required"),
    ("woo order without lines", lambda: wc.order(_without(three_rate_order(), "line_items")),
     "^line_items: "),
    ("woo order without date", lambda: wc.order(_without(three_rate_order(), "date_created_gmt")),
     "date_created_gmt"),
    ("woo order without currency", lambda: wc.order(_without(three_rate_order(), "currency")), "^currency"),
    ("woo bad line money", lambda: wc.order(three_rate_order() | {"line_items": [
        woo_line(1, "1.00", "1.00", 1, [], 1), woo_line(2, "1.00", "abc", 1, [], 1)]}),
     r"^line_items\[1\]\.total: not a decimal number: 'abc'"),
    ("woo line not an object", lambda: wc.order(three_rate_order() | {"line_items": ["oops"]}),
     r"^line_items\[0\]: expected a JSON object"),
    ("woo lines not a list", lambda: wc.order(three_rate_order() | {"line_items": {"id": 1}}),
     "^line_items: expected a list"),
    ("woo payload a list", lambda: wc.order([1, 2]), "^payload: expected a JSON object"),
    ("woo boolean money", lambda: wc.order(three_rate_order() | {"total": True}),
     "^total: expected a number"),
    ("woo customer without id", lambda: wc.customer({"email": "a@b.c"}), "^id: required"),
    ("woo product without id", lambda: wc.products({"type": "simple", "name": "x"}), "^id: required"),
    ("woo variable without id", lambda: wc.products({"type": "variable"}), "^id: required"),
    ("woo variation without parent", lambda: wc.product_variation({"id": 5, "price": "1.00"}),
     "^parent_id: "),
    ("woo refund without order", lambda: wc.refund({"id": 5, "amount": "1.00"}), "^order_id: "),
    ("woo refund without id", lambda: wc.refund({"amount": "1.00"}, order_id=1), "^id: required"),
    ("woo stock without id", lambda: wc.stock_level({"stock_quantity": 3}), "^id: required"),
    ("woo bad date", lambda: wc.order(three_rate_order() | {"date_modified_gmt": "last tuesday"}),
     "^date_modified_gmt: not an ISO 8601 date"),
    ("shopify order without id", lambda: shopify.order(_without(shop_order(), "id")), "^id: required"),
    ("shopify order without total", lambda: shopify.order(_without(shop_order(), "total_price")),
     "^total_price: required"),
    ("shopify customer without id", lambda: shopify.customer({"email": "a@b.c"}), "^id: required"),
    ("shopify product without id", lambda: shopify.products({"title": "x", "variants": []}), "^id: required"),
    ("shopify product without variants", lambda: shopify.products({"id": 1, "title": "x"}), "^variants: "),
    ("shopify refund without order", lambda: shopify.refund({"id": 3}), "^order_id: required"),
    ("shopify stock without item", lambda: shopify.stock_level({"location_id": 1, "available": 2}),
     "^inventory_item_id: required"),
    ("shopify bad allocation index", lambda: shopify.order(shop_order(
        line_items=[shop_line(1, "1.00", 1, [], [(3, "0.50")])])), r"^discount_applications\[3\]"),
    ("shopify line quantity text", lambda: shopify.order(shop_order(
        line_items=[shop_line(1, "1.00", 1, [], []) | {"quantity": "two"}])), r"^line_items\[0\]\.quantity"),
]


@pytest.mark.parametrize(("case", "call", "message"), REFUSED, ids=[case for case, _, _ in REFUSED])
def test_unreadable_payloads_raise_invalid_payload_naming_the_field(case: str, call: Callable[[], Any],
                                                                   message: str) -> None:
    with pytest.raises(InvalidPayload, match=message):
        call()


def test_invalid_payload_is_a_value_error() -> None:
    assert issubclass(InvalidPayload, ValueError)


# --------------------------------------------------------------------------------------------------
# Registry


def test_every_platform_offers_the_same_functions() -> None:
    names = ["order", "order_refunds", "customer", "products", "product_variation", "variation_ids_to_fetch",
             "refund", "stock_level", "modified_at", "resource_of_topic"]
    assert set(PLATFORMS) == {"woocommerce", "shopify"}
    for platform in PLATFORMS:
        normalizer = normalizer_for(platform)
        assert all(callable(getattr(normalizer, name)) for name in names)


@pytest.mark.parametrize("platform", ["bigcommerce", "", "woo", None])
def test_unknown_platform_is_a_clear_error(platform: Any) -> None:
    with pytest.raises(ValueError, match="unknown storefront platform .*woocommerce, shopify"):
        normalizer_for(platform)


def test_text_a_shopper_typed_badly_is_cleaned_cut_and_noted_on_the_order() -> None:
    body = shop_order(email="y" * 5_000 + "@example.com", note="gift\x00 wrap " + "z" * 5_000,
                      billing_address={**shop_order()["billing_address"], "first_name": "Gr\ud800ace",
                                       "address1": "2\x07 Compiler Rd"})
    order = shopify.order(load_payload(json.dumps(body)))
    assert order.customer.email == "y" * 254 and order.customer.first_name == "Gr\ufffdace"
    assert order.billing.line1 == "2 Compiler Rd" and len(order.note) == 4_095
    assert order.note.startswith("gift wrap zzz")
    assert set(order.input_notes) >= {
        "email: cut from 5012 to 254 characters",
        "note: control characters removed, cut from 5010 to 4095 characters",
        "billing_address.first_name: invalid characters replaced",
        "billing_address.address1: control characters removed",
    }, order.input_notes
    order.to_dict()["customer"]["first_name"].encode("utf-8")  # storable: no lone surrogate left
    assert type(order).from_dict(order.to_dict()) == order
    # How text was cleaned is not a change QuickBooks could see.
    assert order.fingerprint() == type(order).from_dict({**order.to_dict(), "input_notes": []}).fingerprint()
