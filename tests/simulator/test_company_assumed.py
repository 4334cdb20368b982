"""Behaviours the simulator assumes (no capture or Intuit page found; docs/SIMULATOR.md lists them).
Each test pins one so that a change is deliberate and a real capture can replace the assumption."""

from __future__ import annotations

from decimal import Decimal

import pytest
from lxml import etree

from qbsync.simulator import QbxmlRequestRejected, QuickBooksCompany
from tests.simulator.conftest import FakeClock
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


def ask(company: QuickBooksCompany, request: str) -> etree._Element:
    (rs,) = responses(valid_response(company.process(message(request))))
    return rs


def ok(company: QuickBooksCompany, request: str) -> etree._Element:
    rs = ask(company, request)
    assert status(rs)[0] == 0, status(rs)
    return rs


def test_assumed_an_account_cannot_be_its_own_parent(company: QuickBooksCompany) -> None:
    """Assumed: QuickBooks refuses making a list element its own parent with 3180."""
    rs = ok(
        company,
        "<AccountAddRq><AccountAdd><Name>Web</Name><AccountType>Income</AccountType></AccountAdd></AccountAddRq>",
    )
    account = rs.find("AccountRet")
    mod = (
        f"<AccountModRq><AccountMod><ListID>{account.findtext('ListID')}</ListID>"
        f"<EditSequence>{account.findtext('EditSequence')}</EditSequence>"
        "<ParentRef><FullName>Web</FullName></ParentRef></AccountMod></AccountModRq>"
    )
    assert status(ask(company, mod))[0] == 3180


def test_assumed_new_records_get_the_default_tax_codes(clock: FakeClock) -> None:
    """Assumed: on a US file a new customer gets the taxable code; goods (inventory, non-inventory) the
    taxable code and other items the non-taxable one. Canadian and UK customers get no code."""
    us = QuickBooksCompany(profile="retail", clock=clock)
    ok(us, customer_add("Ann"))
    assert us.find("Customer", "Ann")["SalesTaxCodeRef"]["FullName"] == "Tax"
    ok(us, inventory_add("Mug").replace("Merchandise Sales", "Sales"))
    assert us.find("Item", "Mug")["SalesTaxCodeRef"]["FullName"] == "Tax"
    service = (
        "<ItemServiceAddRq><ItemServiceAdd><Name>Fix</Name><SalesOrPurchase>"
        "<AccountRef><FullName>Sales</FullName></AccountRef></SalesOrPurchase></ItemServiceAdd></ItemServiceAddRq>"
    )
    ok(us, service)
    assert us.find("Item", "Fix")["SalesTaxCodeRef"]["FullName"] == "Non"
    canada = QuickBooksCompany(profile="canada", clock=clock)
    ok(canada, customer_add("Luc"))
    assert "SalesTaxCodeRef" not in canada.find("Customer", "Luc")


def test_assumed_a_name_range_includes_names_that_start_with_its_upper_bound(
    company: QuickBooksCompany,
) -> None:
    """Assumed: NameRangeFilter's ToName keeps names that begin with it ("Bo" keeps "Bob")."""
    for name in ("Al", "Bob", "Cy"):
        ok(company, customer_add(name))
    rs = ok(
        company,
        "<CustomerQueryRq><NameRangeFilter><FromName>A</FromName><ToName>Bo</ToName></NameRangeFilter>"
        "</CustomerQueryRq>",
    )
    assert [r.findtext("Name") for r in rs.findall("CustomerRet")] == ["Al", "Bob"]


def test_assumed_date_macros_beyond_the_common_ones_are_not_simulated(company: QuickBooksCompany) -> None:
    """Assumed: only All, Today, Yesterday, ThisMonth(ToDate), LastMonth, ThisYear(ToDate) are simulated;
    the others answer 1030 rather than a guess."""
    ok(company, customer_add("Ann"))
    ok(company, inventory_add("Mug"))
    ok(company, sales_add("Invoice", "Ann", [sales_line("Invoice", "Mug", "1")]))
    rs = ask(
        company,
        "<InvoiceQueryRq><TxnDateRangeFilter><DateMacro>ThisFiscalQuarter</DateMacro></TxnDateRangeFilter>"
        "</InvoiceQueryRq>",
    )
    assert status(rs)[0] == 1030


def test_assumed_due_and_ship_dates_default_to_the_transaction_date(company: QuickBooksCompany) -> None:
    """Assumed: without terms, DueDate and ShipDate are the TxnDate."""
    ok(company, customer_add("Ann"))
    ok(company, inventory_add("Mug"))
    rs = ok(
        company,
        sales_add(
            "Invoice", "Ann", [sales_line("Invoice", "Mug", "1")], header="<TxnDate>2024-02-10</TxnDate>"
        ),
    )
    ret = rs.find("InvoiceRet")
    assert ret.findtext("DueDate") == ret.findtext("ShipDate") == "2024-02-10"


def test_assumed_stock_moves_do_not_touch_the_items_time_modified(
    company: QuickBooksCompany, clock: FakeClock
) -> None:
    """Assumed (qbsync's inventory pull relies on it): a sale changes QuantityOnHand but not the item's
    TimeModified or EditSequence."""
    ok(company, customer_add("Ann"))
    ok(company, inventory_add("Mug", on_hand="5"))
    before = company.find("Item", "Mug")
    clock.advance(minutes=5)
    ok(company, sales_add("SalesReceipt", "Ann", [sales_line("SalesReceipt", "Mug", "2")]))
    after = company.find("Item", "Mug")
    assert after["QuantityOnHand"] == "3"
    assert (after["TimeModified"], after["EditSequence"]) == (before["TimeModified"], before["EditSequence"])


def test_assumed_an_invoice_cannot_be_modified_below_its_payments(company: QuickBooksCompany) -> None:
    """Assumed: an InvoiceMod whose new total is under what was already paid gets 3180."""
    ok(company, customer_add("Ann"))
    ok(company, inventory_add("Mug"))
    invoice = ok(company, sales_add("Invoice", "Ann", [sales_line("Invoice", "Mug", "2")])).find("InvoiceRet")
    ok(
        company,
        "<ReceivePaymentAddRq><ReceivePaymentAdd><CustomerRef><FullName>Ann</FullName></CustomerRef>"
        f"<TotalAmount>20.00</TotalAmount><AppliedToTxnAdd><TxnID>{invoice.findtext('TxnID')}</TxnID>"
        "<PaymentAmount>20.00</PaymentAmount></AppliedToTxnAdd></ReceivePaymentAdd></ReceivePaymentAddRq>",
    )
    fresh = company.find("Invoice", invoice.findtext("TxnID"))
    line_id = fresh["InvoiceLineRet"][0]["TxnLineID"]
    mod = (
        f"<InvoiceModRq><InvoiceMod><TxnID>{fresh['TxnID']}</TxnID><EditSequence>{fresh['EditSequence']}"
        f"</EditSequence><InvoiceLineMod><TxnLineID>{line_id}</TxnLineID><Quantity>1</Quantity>"
        "</InvoiceLineMod></InvoiceMod></InvoiceModRq>"
    )
    assert status(ask(company, mod))[0] == 3180


def test_assumed_auto_apply_pays_the_oldest_invoice_first(company: QuickBooksCompany) -> None:
    """Assumed: IsAutoApply applies the payment to open invoices by TxnDate, oldest first."""
    ok(company, customer_add("Ann"))
    ok(company, inventory_add("Mug"))
    newer = sales_add(
        "Invoice",
        "Ann",
        [sales_line("Invoice", "Mug", "1")],
        header="<TxnDate>2024-02-02</TxnDate><RefNumber>N</RefNumber>",
    )
    older = sales_add(
        "Invoice",
        "Ann",
        [sales_line("Invoice", "Mug", "1")],
        header="<TxnDate>2024-02-01</TxnDate><RefNumber>O</RefNumber>",
    )
    ok(company, newer)
    ok(company, older)
    ok(
        company,
        "<ReceivePaymentAddRq><ReceivePaymentAdd><CustomerRef><FullName>Ann</FullName></CustomerRef>"
        "<TotalAmount>10.00</TotalAmount><IsAutoApply>true</IsAutoApply></ReceivePaymentAdd></ReceivePaymentAddRq>",
    )
    assert company.find("Invoice", "O")["BalanceRemaining"] == "0.00"
    assert company.find("Invoice", "N")["BalanceRemaining"] == "10.00"


def test_assumed_void_keeps_the_transaction_with_zero_amounts_and_a_void_memo(
    company: QuickBooksCompany,
) -> None:
    """Assumed: a voided sale stays, amounts and quantities zero, "VOID:" before its memo."""
    ok(company, customer_add("Ann"))
    ok(company, inventory_add("Mug", on_hand="5"))
    receipt = ok(company, sales_add("SalesReceipt", "Ann", [sales_line("SalesReceipt", "Mug", "2")], "V1"))
    txn_id = receipt.findtext("SalesReceiptRet/TxnID")
    ok(company, f"<TxnVoidRq><TxnVoidType>SalesReceipt</TxnVoidType><TxnID>{txn_id}</TxnID></TxnVoidRq>")
    voided = company.find("SalesReceipt", txn_id)
    assert voided["TotalAmount"] == "0.00" and voided["Memo"] == "VOID:"
    assert voided["SalesReceiptLineRet"][0]["Quantity"] == "0"
    assert company.quantity_on_hand("Mug") == 5


def test_assumed_adjustment_value_is_quantity_times_average_cost(company: QuickBooksCompany) -> None:
    """Assumed: an inventory adjustment's ValueDifference is the quantity change at the item's
    average cost (PurchaseCost 4.00 in the test item)."""
    ok(company, inventory_add("Mug", on_hand="5"))
    rs = ok(
        company,
        "<InventoryAdjustmentAddRq><InventoryAdjustmentAdd><AccountRef><FullName>Inventory Adjustments"
        "</FullName></AccountRef><InventoryAdjustmentLineAdd><ItemRef><FullName>Mug</FullName></ItemRef>"
        "<QuantityAdjustment><NewQuantity>2</NewQuantity></QuantityAdjustment></InventoryAdjustmentLineAdd>"
        "</InventoryAdjustmentAdd></InventoryAdjustmentAddRq>",
    )
    line = rs.find("InventoryAdjustmentRet/InventoryAdjustmentLineRet")
    assert (line.findtext("QuantityDifference"), line.findtext("ValueDifference")) == ("-3", "-12.00")


def test_assumed_canadian_tax_is_rounded_once_per_tax_item(clock: FakeClock) -> None:
    """Assumed: per-line codes are summed per sales tax item and rounded once (not per line)."""
    company = QuickBooksCompany(profile="canada", clock=clock)
    ok(company, customer_add("Luc"))
    ok(company, inventory_add("Pen", price="0.10").replace("Merchandise Sales", "Sales"))
    lines = [sales_line("SalesReceipt", "Pen", "1") for _ in range(3)]
    rs = ok(company, sales_add("SalesReceipt", "Luc", lines))
    # 3 x 0.10 at 13%: rounded once 0.039 -> 0.04 (per line it would be 3 x 0.01 = 0.03)
    assert rs.findtext("SalesReceiptRet/SalesTaxTotal") == "0.04"


def test_assumed_canadian_and_uk_editions_report_the_us_version_list(clock: FakeClock) -> None:
    """Assumed: the regional editions of a year support the same qbXML versions as the US one."""
    us = ok(QuickBooksCompany(profile="retail", clock=clock), "<HostQueryRq/>")
    for profile in ("canada", "uk"):
        host = ok(QuickBooksCompany(profile=profile, clock=clock), "<HostQueryRq/>")
        versions = [v.text for v in host.findall("HostRet/SupportedQBXMLVersion")]
        assert versions == [v.text for v in us.findall("HostRet/SupportedQBXMLVersion")]


def test_assumed_voiding_a_refunded_credit_memo_leaves_the_refund_standing(clock: FakeClock) -> None:
    """Assumed: voiding a credit memo that was refunded removes the credit but not the refund, so the
    customer's balance shows money paid out with nothing against it (the books a cancellation must
    never produce)."""
    company = QuickBooksCompany(profile="retail", clock=clock)
    ok(company, customer_add("Ann"))
    ok(company, inventory_add("Mug").replace("Merchandise Sales", "Sales"))
    memo = ok(company, sales_add("CreditMemo", "Ann", [sales_line("CreditMemo", "Mug", "1", tax_code="Non")]))
    memo_id = memo.findtext("CreditMemoRet/TxnID")
    ok(
        company,
        "<ARRefundCreditCardAddRq><ARRefundCreditCardAdd><CustomerRef><FullName>Ann</FullName></CustomerRef>"
        f"<RefundAppliedToTxnAdd><TxnID>{memo_id}</TxnID><RefundAmount>10.00</RefundAmount>"
        "</RefundAppliedToTxnAdd></ARRefundCreditCardAdd></ARRefundCreditCardAddRq>",
    )
    assert company.books().customer_balance["Ann"] == 0
    ok(company, f"<TxnVoidRq><TxnVoidType>CreditMemo</TxnVoidType><TxnID>{memo_id}</TxnID></TxnVoidRq>")
    assert company.books().customer_balance["Ann"] == Decimal("10.00")


def test_assumed_opening_balances_are_ignored(clock: FakeClock) -> None:
    """Assumed (not simulated): OpenBalance on a customer or account Add is dropped; it would need the
    opening-balance transaction QuickBooks makes, which the simulator does not keep."""
    company = QuickBooksCompany(profile="retail", clock=clock)
    ok(company, customer_add("Ann", extra="<OpenBalance>25.00</OpenBalance>"))
    assert company.find("Customer", "Ann")["Balance"] == "0.00"
    assert company.books().customer_balance == {}


def test_assumed_a_refund_check_needs_an_accounts_receivable_line(clock: FakeClock) -> None:
    """Assumed: a check applied to a credit without an expense line on an A/R account gets 3180 (the
    Intuit CheckAdd page says the A/R account comes from the expense line)."""
    company = QuickBooksCompany(profile="retail", clock=clock)
    ok(company, customer_add("Ann"))
    ok(company, inventory_add("Mug").replace("Merchandise Sales", "Sales"))
    memo = ok(company, sales_add("CreditMemo", "Ann", [sales_line("CreditMemo", "Mug", "1")]))
    check = (
        "<CheckAddRq><CheckAdd><AccountRef><FullName>Checking</FullName></AccountRef>"
        "<PayeeEntityRef><FullName>Ann</FullName></PayeeEntityRef><ApplyCheckToTxnAdd>"
        f"<TxnID>{memo.findtext('CreditMemoRet/TxnID')}</TxnID><Amount>5.00</Amount></ApplyCheckToTxnAdd>"
        "<ExpenseLineAdd><AccountRef><FullName>Merchant Fees</FullName></AccountRef><Amount>5.00</Amount>"
        "</ExpenseLineAdd></CheckAdd></CheckAddRq>"
    )
    assert status(ask(company, check))[0] == 3180
    assert company.transactions("Check") == []


def test_assumed_a_vendor_named_by_a_sales_tax_item_is_a_tax_agency(clock: FakeClock) -> None:
    """Assumed: VendorRet/IsTaxAgency (XSD) is true for the vendors sales tax items name, so the first
    session can list the tax agencies."""
    company = QuickBooksCompany(profile="retail", clock=clock)
    ok(company, "<VendorAddRq><VendorAdd><Name>Paper Supplier</Name></VendorAdd></VendorAddRq>")
    rs = ok(company, "<VendorQueryRq/>")
    agencies = {v.findtext("Name"): v.findtext("IsTaxAgency") for v in rs.findall("VendorRet")}
    assert agencies == {"State Department of Revenue": "true", "Paper Supplier": "false"}


def test_assumed_voiding_a_deposited_sale_leaves_undeposited_funds_short(clock: FakeClock) -> None:
    """Assumed: voiding a sales receipt that was already deposited keeps the deposit, so Undeposited
    Funds goes below zero (what a cancellation must never do to a deposited sale)."""
    company = QuickBooksCompany(profile="retail", clock=clock)
    ok(company, customer_add("Ann"))
    ok(company, inventory_add("Mug").replace("Merchandise Sales", "Sales"))
    receipt = ok(
        company, sales_add("SalesReceipt", "Ann", [sales_line("SalesReceipt", "Mug", "1", tax_code="Non")])
    )
    txn_id = receipt.findtext("SalesReceiptRet/TxnID")
    ok(
        company,
        "<DepositAddRq><DepositAdd><DepositToAccountRef><FullName>Checking</FullName></DepositToAccountRef>"
        f"<DepositLineAdd><PaymentTxnID>{txn_id}</PaymentTxnID></DepositLineAdd></DepositAdd></DepositAddRq>",
    )
    ok(company, f"<TxnVoidRq><TxnVoidType>SalesReceipt</TxnVoidType><TxnID>{txn_id}</TxnID></TxnVoidRq>")
    accounts = company.books().accounts
    assert accounts["Undeposited Funds"] == Decimal("-10.00")
    assert accounts["Checking"] == Decimal("10.00")


def test_assumed_a_us_file_cannot_parse_amounts_that_include_tax(clock: FakeClock) -> None:
    """Assumed: IsTaxIncluded belongs to the Canadian and UK schemas; a US QuickBooks fails the whole
    document (0x80040400), as a Canadian one fails a US header sales tax item."""
    company = QuickBooksCompany(profile="retail", clock=clock)
    ok(company, customer_add("Ann"))
    document = message(
        sales_add(
            "SalesReceipt",
            "Ann",
            [sales_line("SalesReceipt", "X", "1")],
            header="<IsTaxIncluded>true</IsTaxIncluded>",
        )
    )
    with pytest.raises(QbxmlRequestRejected) as caught:
        company.process(document)
    assert caught.value.hresult == "0x80040400"


def test_assumed_uk_amounts_that_include_vat_are_split_into_net_and_vat(clock: FakeClock) -> None:
    """Assumed: with IsTaxIncluded the line amounts are gross; VAT = gross x rate / (100 + rate) per VAT
    item, Subtotal is net, income is credited net and the VAT is owed to HMRC."""
    company = QuickBooksCompany(profile="uk", clock=clock)
    ok(company, customer_add("Ada"))
    ok(company, inventory_add("Mug", price="12.00").replace("Merchandise Sales", "Sales"))
    rs = ok(
        company,
        sales_add(
            "SalesReceipt",
            "Ada",
            [sales_line("SalesReceipt", "Mug", "1"), sales_line("SalesReceipt", "Mug", "2", rate="6.01")],
            "U1",
            header="<IsTaxIncluded>true</IsTaxIncluded>",
        ),
    )
    ret = rs.find("SalesReceiptRet")
    # gross 12.00 + 12.02 = 24.02; VAT at 20% inside it = 4.00 (4.0033 rounded)
    assert (ret.findtext("Subtotal"), ret.findtext("SalesTaxTotal"), ret.findtext("TotalAmount")) == (
        "20.02",
        "4.00",
        "24.02",
    )
    books = company.books()
    assert books.accounts["Sales"] == Decimal("20.02")
    assert books.accounts["VAT Control"] == Decimal("4.00")
    assert books.tax_by_agency == {"HM Revenue & Customs": Decimal("4.00")}


def test_assumed_a_customer_with_transactions_keeps_its_currency(clock: FakeClock) -> None:
    """Assumed: on a multicurrency file, a CustomerMod changing the currency of a customer that has
    transactions gets 3180; without transactions it is allowed."""
    company = QuickBooksCompany(profile="multicurrency", clock=clock)
    ok(company, customer_add("Zoe"))
    ok(company, inventory_add("Mug").replace("Merchandise Sales", "Sales"))

    def to_euro() -> str:
        zoe = company.find("Customer", "Zoe")
        return (
            f"<CustomerModRq><CustomerMod><ListID>{zoe['ListID']}</ListID><EditSequence>{zoe['EditSequence']}"
            "</EditSequence><CurrencyRef><FullName>Euro</FullName></CurrencyRef></CustomerMod></CustomerModRq>"
        )

    ok(company, to_euro())
    ok(company, sales_add("Invoice", "Zoe", [sales_line("Invoice", "Mug", "1")]))
    mod = to_euro().replace("Euro", "US Dollar")
    assert status(ask(company, mod))[0] == 3180
    assert company.find("Customer", "Zoe")["CurrencyRef"]["FullName"] == "Euro"


def test_assumed_a_sales_tax_item_with_a_rate_needs_its_tax_agency(clock: FakeClock) -> None:
    """A nonzero TaxRate needs a TaxVendorRef (CData's QuickBooks reference); the code 3180 and its text
    are assumed."""
    company = QuickBooksCompany(profile="retail", clock=clock)
    item = (
        "<ItemSalesTaxAddRq><ItemSalesTaxAdd><Name>County</Name><TaxRate>1.5</TaxRate>{}"
        "</ItemSalesTaxAdd></ItemSalesTaxAddRq>"
    )
    assert status(ask(company, item.format("")))[0] == 3180
    agency = "<TaxVendorRef><FullName>State Department of Revenue</FullName></TaxVendorRef>"
    ok(company, item.format(agency))
