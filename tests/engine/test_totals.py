"""Totals in QuickBooks equal the storefront's to the cent, for the reference sample orders."""

from __future__ import annotations

from decimal import Decimal

import pytest

from qbsync.storefronts.shopify import normalize as shopify
from qbsync.storefronts.woocommerce import normalize as woo
from tests.accounting import check_synced_order

# The samples are US orders (US rates, USD): the US default and the multicurrency company (US, home
# currency USD). Canadian and UK tax flows are in test_country_tax.py, with orders of those countries.
pytestmark = pytest.mark.parametrize("profile", ["retail", "multicurrency"])


@pytest.mark.parametrize(
    ("sample_name", "normalizer"),
    [
        ("woocommerce/order.json", woo.order),
        ("shopify/order.json", shopify.order),
    ],
)
def test_sample_orders_have_the_storefront_total_in_quickbooks(shop, sample, sample_name, normalizer):
    order = normalizer(sample(sample_name))
    shop.feed("order", order)
    shop.sync()

    (sale,) = shop.sales()
    total = Decimal(sale.get("TotalAmount") or Decimal(sale["Subtotal"]) + Decimal(sale["SalesTaxTotal"]))
    assert total == order.total
    lines = sale[f"{sale['kind']}LineRet"]
    assert sum(Decimal(line["Amount"]) for line in lines) == order.total
    kinds = {item["Name"]: item["kind"] for item in shop.company.items()}
    tax_lines = [line for line in lines if kinds[line["ItemRef"]["FullName"]] == "ItemSalesTax"]
    assert sum(Decimal(line["Amount"]) for line in tax_lines) == order.tax_total
    assert sale["RefNumber"] == order.number
    assert f"order #{order.number}" in sale["Memo"]
    check_synced_order(shop.company, order)
    shop.assert_every_request_valid()


def test_the_shopify_sample_shows_its_coupon_and_each_variant(shop, sample):
    order = shopify.order(sample("shopify/order.json"))
    shop.feed("order", order)
    shop.sync()

    (sale,) = shop.sales()
    lines = sale[f"{sale['kind']}LineRet"]
    by_item = {line["ItemRef"]["FullName"]: line for line in lines}
    assert {"IPOD2008GREEN", "IPOD2008RED", "IPOD2008BLACK"} <= set(by_item)
    assert by_item["Discount"]["Amount"] == "-10.00" and "TENOFF" in by_item["Discount"]["Desc"]
    assert shop.company.find("Customer", "Norman, Bob")["Email"] == "bob.norman@mail.example.com"
    check_synced_order(shop.company, order)


def test_with_quickbooks_tax_the_lines_carry_tax_codes_and_quickbooks_adds_the_tax(shop, sample):
    shop.configure(tax_mode="quickbooks", quickbooks_tax_item="State Tax")
    order = woo.order(sample("woocommerce/order.json"))
    shop.feed("order", order)
    shop.sync()

    (sale,) = shop.sales()
    lines = sale["SalesReceiptLineRet"]
    codes = {line["ItemRef"]["FullName"]: line["SalesTaxCodeRef"]["FullName"] for line in lines}
    assert codes == {"Woo Single #1": "Tax", "Bar3": "Tax", "Shipping": "Non"}
    assert sale["ItemSalesTaxRef"]["FullName"] == "State Tax"
    assert Decimal(sale["SalesTaxTotal"]) > 0
    shop.assert_every_request_valid()
