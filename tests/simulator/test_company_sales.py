"""Transactions: totals to the cent, sales tax, stock quantities, payments, edits, void and delete."""

from __future__ import annotations

from decimal import Decimal

import pytest

from qbsync.simulator import QuickBooksCompany
from tests.simulator.qbxml_messages import (
    customer_add,
    inventory_add,
    message,
    responses,
    ret,
    sales_add,
    sales_line,
    status,
    valid_response,
)


def process_ok(company: QuickBooksCompany, *requests: str) -> list:
    answers = responses(valid_response(company.process(message(*requests))))
    assert [status(rs)[0] for rs in answers] == [0] * len(answers), [status(rs) for rs in answers]
    return answers


@pytest.fixture
def shop(company: QuickBooksCompany) -> QuickBooksCompany:
    process_ok(
        company,
        customer_add("Jane Doe"),
        inventory_add("Widget", "19.99", "10", "2"),
        inventory_add("Gadget", "5.00", "3", "3"),
    )
    return company


def adjustment(item: str, field: str, value: str) -> str:
    return (
        "<InventoryAdjustmentAddRq><InventoryAdjustmentAdd><AccountRef><FullName>Inventory Adjustments"
        "</FullName></AccountRef><InventoryAdjustmentLineAdd>"
        f"<ItemRef><FullName>{item}</FullName></ItemRef><QuantityAdjustment><{field}>{value}</{field}>"
        "</QuantityAdjustment></InventoryAdjustmentLineAdd></InventoryAdjustmentAdd></InventoryAdjustmentAddRq>"
    )


def test_invoice_totals_with_sales_tax_to_the_cent(shop: QuickBooksCompany) -> None:
    """Assumed rounding: each line's amount rounded half up; the tax rounded once on the taxable
    subtotal."""
    lines = [
        sales_line("Invoice", "Widget", "3"),  # 3 x 19.99 = 59.97, taxable (item default)
        sales_line("Invoice", "Gadget", "3", rate="4.335"),  # 13.005 -> 13.01, taxable
        sales_line("Invoice", "Shipping", amount="7.50"),
    ]  # shipping item is non-taxable
    (rs,) = process_ok(
        shop, sales_add("Invoice", "Jane Doe", lines, ref_number="1001", tax_item="State Sales Tax")
    )

    invoice = ret(rs, "InvoiceRet")
    # taxable 72.98 x 6.25% = 4.56125 -> 4.56
    assert (invoice["Subtotal"], invoice["SalesTaxPercentage"], invoice["SalesTaxTotal"]) == (
        "80.48",
        "6.25",
        "4.56",
    )
    assert (invoice["BalanceRemaining"], invoice["IsPaid"], invoice["RefNumber"]) == (
        "85.04",
        "false",
        "1001",
    )
    assert [line.findtext("Amount") for line in rs.iter("InvoiceLineRet")] == ["59.97", "13.01", "7.50"]
    assert shop.find("Customer", "Jane Doe")["Balance"] == "85.04"


def test_tax_carried_as_a_plain_line_adds_no_sales_tax(shop: QuickBooksCompany) -> None:
    lines = [
        sales_line("SalesReceipt", "Widget", "2", tax_code="Non"),
        sales_line("SalesReceipt", "Shipping", amount="4.99"),
        sales_line("SalesReceipt", "Shipping", amount="3.12"),
    ]  # the store's tax, as a plain line
    (rs,) = process_ok(shop, sales_add("SalesReceipt", "Jane Doe", lines, tax_item="State Sales Tax"))

    receipt = ret(rs, "SalesReceiptRet")
    assert (receipt["Subtotal"], receipt["SalesTaxTotal"], receipt["TotalAmount"]) == (
        "48.09",
        "0.00",
        "48.09",
    )


def test_default_sales_tax_item_charges_nothing(shop: QuickBooksCompany) -> None:
    (rs,) = process_ok(shop, sales_add("SalesReceipt", None, [sales_line("SalesReceipt", "Widget", "1")]))

    receipt = ret(rs, "SalesReceiptRet")
    assert (receipt["SalesTaxTotal"], receipt["TotalAmount"]) == ("0.00", "19.99")
    assert rs.findtext("SalesReceiptRet/ItemSalesTaxRef/FullName") == "Out of State"
    assert rs.findtext("SalesReceiptRet/DepositToAccountRef/FullName") == "Undeposited Funds"


def test_non_taxable_customer_pays_no_tax(shop: QuickBooksCompany) -> None:
    process_ok(
        shop, customer_add("Exempt Co", extra="<SalesTaxCodeRef><FullName>Non</FullName></SalesTaxCodeRef>")
    )

    (rs,) = process_ok(
        shop,
        sales_add("Invoice", "Exempt Co", [sales_line("Invoice", "Widget", "1")], tax_item="State Sales Tax"),
    )

    assert ret(rs, "InvoiceRet")["SalesTaxTotal"] == "0.00"


def test_quantity_on_hand_after_adjustments(shop: QuickBooksCompany) -> None:
    process_ok(shop, adjustment("Widget", "QuantityDifference", "-3"))
    assert shop.quantity_on_hand("Widget") == Decimal(7)

    (rs,) = process_ok(shop, adjustment("Widget", "NewQuantity", "25"))

    assert shop.quantity_on_hand("Widget") == Decimal(25)
    assert rs.findtext("InventoryAdjustmentRet/InventoryAdjustmentLineRet/QuantityDifference") == "18"


def test_sales_move_quantity_on_hand_and_sales_orders_move_quantity_on_sales_order(
    shop: QuickBooksCompany,
) -> None:
    """Sales lower QuantityOnHand (Intuit InvoiceAdd reference); that an open sales order line raises
    QuantityOnSalesOrder until invoiced or closed is assumed."""
    process_ok(
        shop,
        sales_add("Invoice", "Jane Doe", [sales_line("Invoice", "Widget", "2")]),
        sales_add(
            "SalesReceipt",
            "Jane Doe",
            [sales_line("SalesReceipt", "Widget", "1"), sales_line("SalesReceipt", "Gadget", "3")],
        ),
        sales_add("CreditMemo", "Jane Doe", [sales_line("CreditMemo", "Gadget", "1")]),
        sales_add("SalesOrder", "Jane Doe", [sales_line("SalesOrder", "Widget", "4")]),
    )

    widget, gadget = shop.find("Item", "Widget"), shop.find("Item", "Gadget")
    assert (widget["QuantityOnHand"], widget["QuantityOnSalesOrder"]) == ("7", "4")
    assert (gadget["QuantityOnHand"], gadget["QuantityOnSalesOrder"]) == ("1", "0")
    (query,) = process_ok(shop, "<ItemInventoryQueryRq><FullName>Widget</FullName></ItemInventoryQueryRq>")
    assert ret(query, "ItemInventoryRet")["QuantityOnHand"] == "7"


def test_selling_more_than_on_hand_goes_negative(shop: QuickBooksCompany) -> None:
    """Assumed: QuickBooks lets quantity on hand go negative (it warns in its window, not through the
    SDK)."""
    process_ok(shop, sales_add("SalesReceipt", None, [sales_line("SalesReceipt", "Gadget", "5")]))

    assert shop.quantity_on_hand("Gadget") == Decimal(-2)


def test_pending_sales_do_not_move_stock(shop: QuickBooksCompany) -> None:
    """Assumed: a pending sale does not post, so it moves no stock."""
    process_ok(
        shop,
        sales_add(
            "SalesReceipt",
            None,
            [sales_line("SalesReceipt", "Widget", "2")],
            header="<IsPending>true</IsPending>",
        ),
    )

    assert shop.quantity_on_hand("Widget") == Decimal(10)


def test_void_and_delete_give_the_stock_back(shop: QuickBooksCompany) -> None:
    first, second = process_ok(
        shop,
        sales_add("Invoice", "Jane Doe", [sales_line("Invoice", "Widget", "2")]),
        sales_add("SalesReceipt", None, [sales_line("SalesReceipt", "Widget", "3")]),
    )
    invoice_id = ret(first, "InvoiceRet")["TxnID"]
    receipt_id = ret(second, "SalesReceiptRet")["TxnID"]
    assert shop.quantity_on_hand("Widget") == Decimal(5)

    voided, deleted = process_ok(
        shop,
        f"<TxnVoidRq><TxnVoidType>Invoice</TxnVoidType><TxnID>{invoice_id}</TxnID></TxnVoidRq>",
        f"<TxnDelRq><TxnDelType>SalesReceipt</TxnDelType><TxnID>{receipt_id}</TxnID></TxnDelRq>",
    )

    assert (voided.findtext("TxnVoidType"), voided.findtext("TxnID")) == ("Invoice", invoice_id)
    assert (deleted.findtext("TxnDelType"), deleted.findtext("TxnID")) == ("SalesReceipt", receipt_id)
    assert deleted.findtext("TimeDeleted")
    assert shop.quantity_on_hand("Widget") == Decimal(10)
    invoice = shop.find("Invoice", invoice_id)
    assert (invoice["Subtotal"], invoice["BalanceRemaining"], invoice["Memo"]) == ("0.00", "0.00", "VOID:")
    assert shop.find("SalesReceipt", receipt_id) is None
    (again,) = responses(
        shop.process(
            message(f"<TxnDelRq><TxnDelType>SalesReceipt</TxnDelType><TxnID>{receipt_id}</TxnID></TxnDelRq>")
        )
    )
    assert status(again)[0] == 3120


def test_payment_reduces_the_balance_and_pays_the_invoice(shop: QuickBooksCompany) -> None:
    (rs,) = process_ok(shop, sales_add("Invoice", "Jane Doe", [sales_line("Invoice", "Widget", "2")]))
    invoice = ret(rs, "InvoiceRet")

    def payment(amount: str) -> str:
        return (
            "<ReceivePaymentAddRq><ReceivePaymentAdd><CustomerRef><FullName>Jane Doe</FullName></CustomerRef>"
            f"<TotalAmount>{amount}</TotalAmount><PaymentMethodRef><FullName>Visa</FullName></PaymentMethodRef>"
            f"<AppliedToTxnAdd><TxnID>{invoice['TxnID']}</TxnID><PaymentAmount>{amount}</PaymentAmount>"
            "</AppliedToTxnAdd></ReceivePaymentAdd></ReceivePaymentAddRq>"
        )

    (first,) = process_ok(shop, payment("10.00"))
    assert first.findtext("ReceivePaymentRet/AppliedToTxnRet/BalanceRemaining") == "29.98"
    assert (
        shop.find("Invoice", invoice["TxnID"])["BalanceRemaining"],
        shop.find("Invoice", "1")["IsPaid"],
    ) == ("29.98", "false")

    (too_much,) = responses(shop.process(message(payment("30.00"))))
    assert status(too_much)[0] == 3210 and "You cannot pay more than the amount due." in status(too_much)[2]

    process_ok(shop, payment("29.98"))
    paid = shop.find("Invoice", invoice["TxnID"])
    assert (paid["BalanceRemaining"], paid["AppliedAmount"], paid["IsPaid"]) == ("0.00", "-39.98", "true")
    assert paid["EditSequence"] != invoice["EditSequence"]  # applying a payment modifies the invoice
    assert shop.find("Customer", "Jane Doe")["Balance"] == "0.00"


def test_invoice_mod_replaces_lines_and_moves_stock(shop: QuickBooksCompany) -> None:
    (rs,) = process_ok(
        shop,
        sales_add(
            "Invoice",
            "Jane Doe",
            [sales_line("Invoice", "Widget", "2"), sales_line("Invoice", "Gadget", "1")],
        ),
    )
    invoice = ret(rs, "InvoiceRet")
    widget_line = rs.find("InvoiceRet/InvoiceLineRet").findtext("TxnLineID")
    mod = (
        f"<InvoiceModRq><InvoiceMod><TxnID>{invoice['TxnID']}</TxnID><EditSequence>{invoice['EditSequence']}"
        "</EditSequence><Memo>changed</Memo>"
        f"<InvoiceLineMod><TxnLineID>{widget_line}</TxnLineID><Quantity>5</Quantity></InvoiceLineMod>"
        "<InvoiceLineMod><TxnLineID>-1</TxnLineID><ItemRef><FullName>Shipping</FullName></ItemRef>"
        "<Amount>6.00</Amount></InvoiceLineMod></InvoiceMod></InvoiceModRq>"
    )

    (modified,) = process_ok(shop, mod)

    lines = list(modified.iter("InvoiceLineRet"))
    assert [(line.findtext("ItemRef/FullName"), line.findtext("Amount")) for line in lines] == [
        ("Widget", "99.95"),
        ("Shipping", "6.00"),
    ]  # the Gadget line was left out, so it is deleted
    assert lines[0].findtext("TxnLineID") == widget_line
    assert ret(modified, "InvoiceRet")["Subtotal"] == "105.95"
    assert (shop.quantity_on_hand("Widget"), shop.quantity_on_hand("Gadget")) == (Decimal(5), Decimal(3))


def test_automatic_ref_numbers_count_up(shop: QuickBooksCompany) -> None:
    """Assumed: without a RefNumber, the next number after the highest numeric one of that kind."""
    answers = process_ok(
        shop,
        *[
            sales_add("Invoice", "Jane Doe", [sales_line("Invoice", "Widget", "1")], request_id=str(i))
            for i in range(3)
        ],
    )

    assert [ret(rs, "InvoiceRet")["RefNumber"] for rs in answers] == ["1", "2", "3"]


def test_renamed_item_shows_its_new_name_in_old_transactions(shop: QuickBooksCompany) -> None:
    process_ok(shop, sales_add("Invoice", "Jane Doe", [sales_line("Invoice", "Widget", "1")], ref_number="7"))
    widget = shop.find("Item", "Widget")
    process_ok(
        shop,
        f"<ItemInventoryModRq><ItemInventoryMod><ListID>{widget['ListID']}</ListID><EditSequence>"
        f"{widget['EditSequence']}</EditSequence><Name>Widget Pro</Name></ItemInventoryMod>"
        "</ItemInventoryModRq>",
    )

    (rs,) = process_ok(
        shop,
        "<InvoiceQueryRq><RefNumber>7</RefNumber><IncludeLineItems>true</IncludeLineItems></InvoiceQueryRq>",
    )

    assert rs.findtext("InvoiceRet/InvoiceLineRet/ItemRef/FullName") == "Widget Pro"


def test_sales_tax_lines_reach_their_agency_and_take_the_sign_of_the_line_above(
    shop: QuickBooksCompany,
) -> None:
    lines = [
        sales_line("SalesReceipt", "Widget", "2"),  # 39.98, taxable
        sales_line("SalesReceipt", "State Sales Tax", amount="2.50"),  # after a positive line: as sent
        sales_line("SalesReceipt", "Shipping", amount="-1.00"),
        sales_line("SalesReceipt", "State Sales Tax", amount="0.30"),  # after a negative line: negative
        sales_line("SalesReceipt", "Widget", "1"),  # 19.99
        sales_line("SalesReceipt", "State Sales Tax"),  # no amount: 6.25 % of the line above = 1.25
    ]
    (rs,) = process_ok(shop, sales_add("SalesReceipt", "Jane Doe", lines, tax_item="Out of State"))

    assert [line.findtext("Amount") for line in rs.iter("SalesReceiptLineRet")] == [
        "39.98", "2.50", "-1.00", "-0.30", "19.99", "1.25",
    ]
    assert ret(rs, "SalesReceiptRet")["TotalAmount"] == "62.42"
    assert shop.books().tax_by_agency == {"State Board of Equalization": Decimal("3.45")}

