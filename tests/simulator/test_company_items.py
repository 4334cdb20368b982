"""Every item type: Add, Query, Mod, and how their prices land on sales lines."""

from __future__ import annotations

from qbsync.simulator import QuickBooksCompany
from tests.simulator.qbxml_messages import (
    customer_add,
    message,
    responses,
    ret,
    sales_add,
    sales_line,
    status,
    valid_response,
)

ITEM_ADDS = {
    "ItemService": "<SalesOrPurchase><Price>40.00</Price><AccountRef><FullName>Sales</FullName></AccountRef>"
    "</SalesOrPurchase>",
    "ItemNonInventory": "<SalesOrPurchase><Desc>Gift card</Desc><Price>25.00</Price>"
    "<AccountRef><FullName>Sales</FullName></AccountRef></SalesOrPurchase>",
    "ItemOtherCharge": "<SalesOrPurchase><Price>2.50</Price>"
    "<AccountRef><FullName>Sales</FullName></AccountRef></SalesOrPurchase>",
    "ItemDiscount": "<DiscountRatePercent>10.0</DiscountRatePercent><AccountRef><FullName>Sales Discounts"
    "</FullName></AccountRef>",
    "ItemSalesTax": "<TaxRate>8.875</TaxRate><TaxVendorRef><FullName>State Board of Equalization</FullName>"
    "</TaxVendorRef>",
}


def add_all(company: QuickBooksCompany) -> list:
    requests = [
        f'<{kind}AddRq requestID="{kind}"><{kind}Add><Name>My {kind}</Name>{body}</{kind}Add></{kind}AddRq>'
        for kind, body in ITEM_ADDS.items()
    ]
    return responses(valid_response(company.process(message(*requests))))


def test_each_item_type_is_added_and_found_by_its_own_query(company: QuickBooksCompany) -> None:
    added = add_all(company)

    assert [(rs.tag, status(rs)[0]) for rs in added] == [(f"{k}AddRs", 0) for k in ITEM_ADDS]
    for kind in ITEM_ADDS:
        (rs,) = responses(
            valid_response(
                company.process(message(f"<{kind}QueryRq><FullName>My {kind}</FullName></{kind}QueryRq>"))
            )
        )
        assert ret(rs, f"{kind}Ret")["Name"] == f"My {kind}"
    assert ret(added[4], "ItemSalesTaxRet")["TaxRate"] == "8.875"


def test_non_inventory_mod_changes_only_the_fields_sent(company: QuickBooksCompany) -> None:
    added = ret(add_all(company)[1], "ItemNonInventoryRet")
    mod = (
        f"<ItemNonInventoryModRq><ItemNonInventoryMod><ListID>{added['ListID']}</ListID><EditSequence>"
        f"{added['EditSequence']}</EditSequence><SalesOrPurchaseMod><Price>30.00</Price></SalesOrPurchaseMod>"
        "</ItemNonInventoryMod></ItemNonInventoryModRq>"
    )

    (rs,) = responses(valid_response(company.process(message(mod))))

    assert status(rs)[0] == 0
    assert rs.findtext("ItemNonInventoryRet/SalesOrPurchase/Price") == "30.00"
    assert rs.findtext("ItemNonInventoryRet/SalesOrPurchase/Desc") == "Gift card"
    assert rs.findtext("ItemNonInventoryRet/SalesOrPurchase/AccountRef/FullName") == "Sales"


def test_item_prices_discounts_and_tax_items_on_a_sale(company: QuickBooksCompany) -> None:
    """Assumed: a discount item's line always takes money off, whatever the sign of its rate."""
    add_all(company)
    company.process(message(customer_add("Ann")))
    lines = [
        sales_line("SalesReceipt", "My ItemService", "2"),  # 2 x 40.00, non-taxable by default
        sales_line("SalesReceipt", "My ItemDiscount"),  # 10% off the line above: -8.00
        sales_line("SalesReceipt", "My ItemNonInventory", "1", tax_code="Tax"),
    ]  # 25.00 taxable

    (rs,) = responses(
        valid_response(
            company.process(message(sales_add("SalesReceipt", "Ann", lines, tax_item="My ItemSalesTax")))
        )
    )

    assert [line.findtext("Amount") for line in rs.iter("SalesReceiptLineRet")] == ["80.00", "-8.00", "25.00"]
    receipt = ret(rs, "SalesReceiptRet")
    # 25.00 x 8.875% = 2.21875 -> 2.22
    assert (receipt["Subtotal"], receipt["SalesTaxTotal"], receipt["TotalAmount"]) == (
        "97.00",
        "2.22",
        "99.22",
    )


def test_sales_receipt_mod_recomputes_the_total(company: QuickBooksCompany) -> None:
    add_all(company)
    (rs,) = responses(
        company.process(
            message(sales_add("SalesReceipt", None, [sales_line("SalesReceipt", "My ItemService", "1")]))
        )
    )
    receipt = ret(rs, "SalesReceiptRet")
    line_id = rs.findtext("SalesReceiptRet/SalesReceiptLineRet/TxnLineID")
    mod = (
        f"<SalesReceiptModRq><SalesReceiptMod><TxnID>{receipt['TxnID']}</TxnID><EditSequence>"
        f"{receipt['EditSequence']}</EditSequence><SalesReceiptLineMod><TxnLineID>{line_id}</TxnLineID>"
        "<Rate>45.50</Rate></SalesReceiptLineMod></SalesReceiptMod></SalesReceiptModRq>"
    )

    (modified,) = responses(valid_response(company.process(message(mod))))

    assert ret(modified, "SalesReceiptRet")["TotalAmount"] == "45.50"
    (stale,) = responses(company.process(message(mod)))
    assert status(stale)[0] == 3200


def test_sixteen_point_zero_company_answers_in_sixteen_point_zero() -> None:
    company = QuickBooksCompany(profile="legacy", qbxml_version="16.0")
    company.process(message(customer_add("Ann"), version="16.0"))

    document = company.process(
        message("<CustomerQueryRq></CustomerQueryRq>", "<HostQueryRq></HostQueryRq>", version="16.0")
    )

    valid_response(document, "16.0")
    assert [v.text for v in responses(document)[1].iter("SupportedQBXMLVersion")][-1] == "16.0"
