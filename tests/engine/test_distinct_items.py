"""Distinct products stay distinct (issue 14 item 5): item names cut to QuickBooks' 31 characters stay
unique, the full SKU is kept on the item (BarCodeValue), and an existing item is linked only when its
stored SKU is the product's."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from lxml import etree

from qbsync.qbxml.fields import catalog
from qbsync.qbxml.render import build_message, render_request
from qbsync.qbxml.schema import validate
from qbsync.queue import mappings, naming
from qbsync.storage.models import QueueJob
from qbsync.storefronts.records import OrderLine, Product
from tests.accounting import check_order, check_stock
from tests.engine.conftest import make_order

PROFILES = ["retail", "multicurrency"]
RETAIL_NAMES = {"income_account": "Sales", "shipping_account": "Freight Income"}
# Two SKUs alike in their first 31 characters (a size at the end, as stores name variants).
BLUE_S = "ACME-WIDGET-DELUXE-BLUE-2024-EDITION-S"
BLUE_M = "ACME-WIDGET-DELUXE-BLUE-2024-EDITION-M"


def _shop(make_shop, profile: str):
    shop = make_shop(profile=profile)
    shop.configure(**RETAIL_NAMES)
    return shop


def _product(product_id: str, sku: str, stock: int) -> Product:
    return Product(
        product_id=product_id,
        sku=sku,
        name=f"Widget {sku[-1]}",
        price=Decimal("12.00"),
        cost=Decimal("5.00"),
        manages_stock=True,
        stock_quantity=Decimal(stock),
        kind="inventory",
        modified_at=datetime(2024, 3, 1, 16, 0, tzinfo=UTC),
    )


def _line(number: int, product_id: str, sku: str, quantity: int) -> OrderLine:
    return OrderLine(
        id=f"{number}{product_id}",
        product_id=product_id,
        sku=sku,
        name=f"Widget {sku[-1]}",
        quantity=Decimal(quantity),
        unit_price=Decimal("12.00"),
        subtotal=Decimal("12.00") * quantity,
        total=Decimal("12.00") * quantity,
    )


def _item(shop, name: str) -> dict:
    return shop.company.find("ItemInventory", name)


@pytest.mark.parametrize("profile", PROFILES)
def test_skus_alike_in_their_first_31_characters_become_two_items(make_shop, profile):
    shop = _shop(make_shop, profile)
    shop.feed("product", _product("301", BLUE_S, 4))
    shop.feed("product", _product("302", BLUE_M, 6))
    order = make_order(
        1001,
        lines=(_line(1001, "301", BLUE_S, 1), _line(1001, "302", BLUE_M, 2)),
        created_at=datetime(2024, 3, 1, 17, 0, tzinfo=UTC),
    )
    shop.feed("order", order)
    shop.sync()

    first, second = shop.mapping(mappings.PRODUCT, "301"), shop.mapping(mappings.PRODUCT, "302")
    assert first.qb_id != second.qb_id, "each product has its own item"
    small, medium = first.qb_name, second.qb_name
    assert small != medium and len(small) <= 31 and len(medium) <= 31
    assert _item(shop, small)["BarCodeValue"] == BLUE_S
    assert _item(shop, medium)["BarCodeValue"] == BLUE_M
    # the bookkeeper can see the cut: the store's SKU beside the item's name, and why they differ
    assert (first.store_name, first.rename_reason) == (
        BLUE_S,
        "cut to 31 characters, ending in ~ and a code of the whole, so products that start alike stay apart")
    check_order(shop.company, "1001", sold=order.total, open_balance="0.00")
    check_stock(shop.company, {small: 3, medium: 4})
    shop.assert_every_request_valid()


@pytest.mark.parametrize("profile", PROFILES)
def test_an_item_with_the_same_cut_name_but_another_sku_is_not_linked(make_shop, profile):
    shop = _shop(make_shop, profile)
    name = naming.item_name(Product(product_id="", sku=BLUE_S, name=""), "sku")
    account = RETAIL_NAMES["income_account"]
    theirs = shop.in_quickbooks(
        "ItemNonInventoryAdd",
        {
            "Name": name,
            "BarCode": {"BarCodeValue": "SOMETHING-ELSE"},
            "SalesOrPurchase": {"Price": "1.00", "AccountRef": {"FullName": account}},
        },
    )
    shop.feed("product", _product("301", BLUE_S, 4))
    shop.sync()

    (job,) = shop.jobs(QueueJob.kind == "item", QueueJob.record_type == "product")
    assert job.state == "parked"
    assert "keeps the SKU 'SOMETHING-ELSE', not this product's" in job.reason
    assert shop.mapping(mappings.PRODUCT, "301") is None
    after = shop.company.find("ItemNonInventory", name)
    assert after["EditSequence"] == theirs["EditSequence"], "their item is left as it was"


@pytest.mark.parametrize("profile", PROFILES)
def test_an_item_whose_stored_sku_is_the_products_is_linked(make_shop, profile):
    shop = _shop(make_shop, profile)
    name = naming.item_name(Product(product_id="", sku=BLUE_S, name=""), "sku")
    account = RETAIL_NAMES["income_account"]
    ours = shop.in_quickbooks(
        "ItemNonInventoryAdd",
        {
            "Name": name,
            "BarCode": {"BarCodeValue": BLUE_S},
            "SalesOrPurchase": {"Price": "1.00", "AccountRef": {"FullName": account}},
        },
    )
    shop.feed("product", _product("301", BLUE_S, 4))
    shop.sync()

    mapping = shop.mapping(mappings.PRODUCT, "301")
    assert mapping is not None and mapping.qb_id == ours["ListID"]
    assert not shop.requests("ItemInventoryAddRq")


@pytest.mark.parametrize("profile", PROFILES)
def test_an_item_named_by_the_whole_sku_is_linked_whatever_its_barcode(make_shop, profile):
    """The name holds the whole SKU, so it proves the match; the item's barcode is the merchant's UPC."""
    shop = _shop(make_shop, profile)
    account = RETAIL_NAMES["income_account"]
    ours = shop.in_quickbooks(
        "ItemNonInventoryAdd",
        {
            "Name": "MUG-RED",
            "BarCode": {"BarCodeValue": "012345678905"},
            "SalesOrPurchase": {"Price": "1.00", "AccountRef": {"FullName": account}},
        },
    )
    shop.feed("product", _product("301", "MUG-RED", 4))
    shop.sync()

    mapping = shop.mapping(mappings.PRODUCT, "301")
    assert mapping is not None and mapping.qb_id == ours["ListID"]


class _BeforeBarcodes:
    """The 13.0 schema as a qbXML version before 12.0 has it: no BarCode on item adds (Intuit's reference
    lists BarCode from 12.0; qbsync itself refuses QuickBooks below 13.0, so no real company gets here)."""

    def field_at(self, path: str):
        return None if "/BarCode" in path else catalog("13.0").field_at(path)


def _item_add_sent(request_type: str, sku: str, schema) -> etree._Element:
    product = Product(product_id="", sku=sku, name="")
    data = {"Name": naming.item_name(product, "sku"), **naming.sku_fields(request_type, product, schema)}
    if request_type == "ItemInventoryAdd":
        data.update(IncomeAccountRef={"FullName": "Sales"}, AssetAccountRef={"FullName": "Inventory Asset"},
                    COGSAccountRef={"FullName": "Cost of Goods Sold"})
    else:
        data["SalesOrPurchase"] = {"AccountRef": {"FullName": "Sales"}}
    document = build_message([render_request(request_type, data, request_id="1")])
    validate(document, "13.0")
    return etree.fromstring(document.encode())


@pytest.mark.parametrize("version", ["13.0", "16.0"])
def test_every_version_qbsync_speaks_keeps_the_whole_sku_in_the_barcode(version):
    for request_type in ("ItemInventoryAdd", "ItemNonInventoryAdd", "ItemServiceAdd"):
        sent = _item_add_sent(request_type, BLUE_S, catalog(version))
        assert sent.findtext(f".//{request_type}/BarCode/BarCodeValue") == BLUE_S


def test_without_barcodes_the_sku_goes_in_the_part_number_or_nowhere():
    """Never a BarCode to a version that lacks it: inventory and non-inventory items keep a SKU that
    fits 31 characters as their manufacturer part number; a longer one, or a service item (which has no
    part number), keeps only the hash in its cut name."""
    short, long_sku = "MUG-RED-XL", BLUE_S
    for request_type in ("ItemInventoryAdd", "ItemNonInventoryAdd"):
        sent = _item_add_sent(request_type, short, _BeforeBarcodes())
        assert sent.find(".//BarCode") is None
        assert sent.findtext(f".//{request_type}/ManufacturerPartNumber") == short
        sent = _item_add_sent(request_type, long_sku, _BeforeBarcodes())
        assert sent.find(".//BarCode") is None and sent.find(".//ManufacturerPartNumber") is None
        named = naming.item_name(Product(product_id="", sku=long_sku, name=""), "sku")
        assert sent.findtext(f".//{request_type}/Name") == named
    sent = _item_add_sent("ItemServiceAdd", short, _BeforeBarcodes())
    assert sent.find(".//BarCode") is None and sent.find(".//ManufacturerPartNumber") is None
