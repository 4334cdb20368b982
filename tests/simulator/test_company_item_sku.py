"""Where an item keeps a product's full SKU: ``BarCode/BarCodeValue`` on the Add comes back as the Ret's
``BarCodeValue`` (and ``ManufacturerPartNumber`` as it was sent), so a later look-up can check it."""

from __future__ import annotations

import pytest

from qbsync.simulator import QuickBooksCompany
from tests.simulator.qbxml_messages import message, responses, ret, status, valid_response

LONG_SKU = "ACME-WIDGET-DELUXE-BLUE-2024-EDITION-S"  # 38 characters: more than a name holds


def test_the_barcode_and_part_number_sent_on_the_add_come_back_on_a_query(company: QuickBooksCompany) -> None:
    add = (
        '<ItemNonInventoryAddRq requestID="1"><ItemNonInventoryAdd><Name>Widget S</Name>'
        f"<BarCode><BarCodeValue>{LONG_SKU}</BarCodeValue></BarCode>"
        "<ManufacturerPartNumber>AC-123</ManufacturerPartNumber>"
        "<SalesOrPurchase><Price>12.00</Price><AccountRef><FullName>Merchandise Sales</FullName></AccountRef>"
        "</SalesOrPurchase></ItemNonInventoryAdd></ItemNonInventoryAddRq>"
    )
    query = '<ItemQueryRq requestID="2"><FullName>Widget S</FullName></ItemQueryRq>'
    added, found = responses(valid_response(company.process(message(add, query))))

    assert status(added)[0] == 0
    item = ret(found, "ItemNonInventoryRet")
    assert item["BarCodeValue"] == LONG_SKU
    assert item["ManufacturerPartNumber"] == "AC-123"


def test_assumed_two_items_may_carry_the_same_barcode(company: QuickBooksCompany) -> None:
    """Assumed (no capture found): QuickBooks may refuse a barcode another item has; not simulated."""
    adds = [
        f'<ItemServiceAddRq requestID="{n}"><ItemServiceAdd><Name>Service {n}</Name>'
        f"<BarCode><BarCodeValue>{LONG_SKU}</BarCodeValue></BarCode>"
        "<SalesOrPurchase><Price>1.00</Price><AccountRef><FullName>Merchandise Sales</FullName></AccountRef>"
        "</SalesOrPurchase></ItemServiceAdd></ItemServiceAddRq>"
        for n in (1, 2)
    ]
    first, second = responses(valid_response(company.process(message(*adds))))
    assert status(first)[0] == 0 and status(second)[0] == 0


@pytest.mark.parametrize("profile", ["canada", "uk"])
def test_assumed_canadian_and_uk_files_keep_a_barcode_too(profile: str) -> None:
    """Assumed: Intuit's reference lists BarCode on item adds from qbXML 12.0 with no country limit, but
    the SDK's regional schemas (QBCqbxml, QBUqbxml) were not found to confirm it."""
    company = QuickBooksCompany(profile=profile)
    add = (
        '<ItemNonInventoryAddRq requestID="1"><ItemNonInventoryAdd><Name>Widget S</Name>'
        f"<BarCode><BarCodeValue>{LONG_SKU}</BarCodeValue></BarCode>"
        "<SalesOrPurchase><Price>12.00</Price><AccountRef><FullName>Sales</FullName></AccountRef>"
        "</SalesOrPurchase></ItemNonInventoryAdd></ItemNonInventoryAddRq>"
    )
    query = '<ItemQueryRq requestID="2"><FullName>Widget S</FullName></ItemQueryRq>'
    added, found = responses(valid_response(company.process(message(add, query))))
    assert status(added)[0] == 0
    assert ret(found, "ItemNonInventoryRet")["BarCodeValue"] == LONG_SKU
