"""Line handling of SalesReceiptMod/InvoiceMod as Intuit documents it ("Modify delete and void requests
and responses"; InvoiceMod reference): no line aggregates = body only; any line aggregate = every line
not named is deleted; TxnLineID -1 adds a line where it is listed."""

from __future__ import annotations

from lxml import etree

from qbsync.simulator import QuickBooksCompany
from tests.simulator.qbxml_messages import (
    customer_add,
    inventory_add,
    message,
    responses,
    sales_add,
    sales_line,
    status,
    valid_response,
)


def ok(company: QuickBooksCompany, request: str) -> etree._Element:
    (rs,) = responses(valid_response(company.process(message(request))))
    assert status(rs)[0] == 0, status(rs)
    return rs


def receipt(company: QuickBooksCompany) -> etree._Element:
    for request in (
        customer_add("Ann"),
        inventory_add("Mug", "10.00", "9"),
        inventory_add("Cup", "4.00", "9"),
    ):
        ok(company, request)
    lines = [sales_line("SalesReceipt", "Mug", "1"), sales_line("SalesReceipt", "Cup", "2")]
    return ok(company, sales_add("SalesReceipt", "Ann", lines, "R1")).find("SalesReceiptRet")


def mod(ret: etree._Element, body: str) -> str:
    return (
        f"<SalesReceiptModRq><SalesReceiptMod><TxnID>{ret.findtext('TxnID')}</TxnID>"
        f"<EditSequence>{ret.findtext('EditSequence')}</EditSequence>{body}</SalesReceiptMod>"
        "</SalesReceiptModRq>"
    )


def items(ret: etree._Element) -> list[tuple[str, str]]:
    return [
        (x.findtext("ItemRef/FullName"), x.findtext("Quantity")) for x in ret.findall("SalesReceiptLineRet")
    ]


def test_a_mod_without_lines_changes_the_body_only(company: QuickBooksCompany) -> None:
    before = receipt(company)
    after = ok(company, mod(before, "<Memo>gift</Memo>")).find("SalesReceiptRet")
    assert after.findtext("Memo") == "gift"
    assert items(after) == [("Mug", "1"), ("Cup", "2")]
    assert after.findtext("TotalAmount") == before.findtext("TotalAmount")


def test_lines_not_named_are_deleted_and_minus_one_adds_where_listed(company: QuickBooksCompany) -> None:
    before = receipt(company)
    cup_line = before.findall("SalesReceiptLineRet")[1].findtext("TxnLineID")
    body = (
        "<SalesReceiptLineMod><TxnLineID>-1</TxnLineID><ItemRef><FullName>Mug</FullName></ItemRef>"
        "<Quantity>3</Quantity></SalesReceiptLineMod>"
        f"<SalesReceiptLineMod><TxnLineID>{cup_line}</TxnLineID></SalesReceiptLineMod>"
    )
    after = ok(company, mod(before, body)).find("SalesReceiptRet")

    assert items(after) == [("Mug", "3"), ("Cup", "2")]  # the first Mug line was not named: deleted
    assert after.findall("SalesReceiptLineRet")[1].findtext("TxnLineID") == cup_line
    assert company.quantity_on_hand("Mug") == 6  # 9 - 3: the deleted line's sale is taken back
