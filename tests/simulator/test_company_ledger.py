"""The books of the simulated company: sales tax owed per agency (only what sales tax items computed),
account balances, stock, foreign-currency sales, and the accounting check end-to-end tests use."""

from __future__ import annotations

from decimal import Decimal

import pytest
from lxml import etree

from qbsync.simulator import QuickBooksCompany
from tests.accounting import check_order, check_stock
from tests.simulator.conftest import FakeClock
from tests.simulator.qbxml_messages import (
    customer_add,
    message,
    responses,
    sales_add,
    sales_line,
    status,
    valid_response,
)

AGENCY = "State Department of Revenue"
SUBTOTAL_ITEM = (
    "<ItemSubtotalAddRq><ItemSubtotalAdd><Name>Subtotal</Name></ItemSubtotalAdd></ItemSubtotalAddRq>"
)


def one(company: QuickBooksCompany, request: str) -> etree._Element:
    (rs,) = responses(valid_response(company.process(message(request))))
    assert status(rs)[0] == 0, status(rs)
    return rs


def inventory_item(name: str, on_hand: str, income: str = "Sales") -> str:
    return (
        f"<ItemInventoryAddRq><ItemInventoryAdd><Name>{name}</Name><SalesPrice>10.00</SalesPrice>"
        f"<IncomeAccountRef><FullName>{income}</FullName></IncomeAccountRef>"
        "<COGSAccountRef><FullName>Cost of Goods Sold</FullName></COGSAccountRef>"
        "<AssetAccountRef><FullName>Inventory Asset</FullName></AssetAccountRef>"
        f"<QuantityOnHand>{on_hand}</QuantityOnHand></ItemInventoryAdd></ItemInventoryAddRq>"
    )


def other_charge(name: str, account: str) -> str:
    return (
        f"<ItemOtherChargeAddRq><ItemOtherChargeAdd><Name>{name}</Name>"
        "<SalesTaxCodeRef><FullName>Non</FullName></SalesTaxCodeRef>"
        f"<SalesOrPurchase><AccountRef><FullName>{account}</FullName></AccountRef></SalesOrPurchase>"
        "</ItemOtherChargeAdd></ItemOtherChargeAddRq>"
    )


@pytest.fixture
def retail(clock: FakeClock) -> QuickBooksCompany:
    company = QuickBooksCompany(profile="retail", clock=clock)
    for request in (customer_add("Ann"), inventory_item("MUG", "10"), other_charge("Tax Line", "Sales")):
        one(company, request)
    return company


def test_header_sales_tax_is_owed_to_the_items_agency(retail: QuickBooksCompany) -> None:
    rs = one(retail, sales_add("SalesReceipt", "Ann", [sales_line("SalesReceipt", "MUG", "3")], "1001"))
    # 3 x 10.00 taxable at State Tax 6.5% = 1.95
    assert rs.findtext("SalesReceiptRet/TotalAmount") == "31.95"
    books = retail.books()
    assert books.tax_by_agency == {AGENCY: Decimal("1.95")}
    assert books.accounts["Sales Tax Payable"] == Decimal("1.95")
    assert books.accounts["Sales"] == Decimal("30.00")
    assert books.accounts["Undeposited Funds"] == Decimal("31.95")


def test_tax_typed_on_an_other_charge_line_is_income_not_a_liability(retail: QuickBooksCompany) -> None:
    """The defect issue 14 item 4 names: the total matches, but no agency is owed the tax."""
    lines = [
        sales_line("SalesReceipt", "MUG", "3", tax_code="Non"),
        sales_line("SalesReceipt", "Tax Line", amount="1.95"),
    ]
    rs = one(retail, sales_add("SalesReceipt", "Ann", lines, "1002"))

    assert rs.findtext("SalesReceiptRet/TotalAmount") == "31.95"  # totals to the cent...
    books = retail.books()
    assert books.tax_by_agency == {}  # ...but the Sales Tax Liability report shows nothing owed
    assert books.accounts["Sales"] == Decimal("31.95")
    with pytest.raises(AssertionError, match="sales tax per agency"):
        check_order(retail, "1002", sold="31.95", tax_by_agency={AGENCY: "1.95"})


def test_a_sales_tax_item_on_a_line_is_owed_to_its_agency(retail: QuickBooksCompany) -> None:
    lines = [
        sales_line("SalesReceipt", "MUG", "3", tax_code="Non"),
        sales_line("SalesReceipt", "State Tax", amount="1.95"),
    ]
    one(retail, sales_add("SalesReceipt", "Ann", lines, "1003"))
    check_order(retail, "1003", customer="Ann", sold="31.95", paid="31.95", tax_by_agency={AGENCY: "1.95"})
    assert retail.books().accounts["Sales Tax Payable"] == Decimal("1.95")


def test_a_sales_tax_item_line_without_an_amount_takes_its_rate_of_the_subtotal(
    retail: QuickBooksCompany,
) -> None:
    one(retail, SUBTOTAL_ITEM)
    lines = [
        sales_line("Invoice", "MUG", "2", tax_code="Non"),
        sales_line("Invoice", "MUG", "1", tax_code="Non"),
        sales_line("Invoice", "Subtotal"),
        sales_line("Invoice", "State Tax"),
    ]
    rs = one(retail, sales_add("Invoice", "Ann", lines, "1004"))
    amounts = [line.findtext("Amount") for line in rs.findall("InvoiceRet/InvoiceLineRet")]
    assert amounts == ["20.00", "10.00", "30.00", "1.95"]
    assert rs.findtext("InvoiceRet/Subtotal") == "31.95"  # the subtotal line is not counted twice
    check_order(retail, "1004", sold="31.95", open_balance="31.95", tax_by_agency={AGENCY: "1.95"})


def test_a_credit_memo_takes_tax_back_from_the_agency_and_stock_back_in(retail: QuickBooksCompany) -> None:
    one(retail, sales_add("Invoice", "Ann", [sales_line("Invoice", "MUG", "3")], "1005"))
    one(retail, sales_add("CreditMemo", "Ann", [sales_line("CreditMemo", "MUG", "1")], "1005"))
    check_order(
        retail,
        "1005",
        sold="31.95",
        credited="10.65",
        open_balance="21.30",
        open_credits="10.65",
        tax_by_agency={AGENCY: "1.30"},
    )
    check_stock(retail, {"MUG": 8})


def test_stock_moves_with_sales_returns_and_adjustments(retail: QuickBooksCompany) -> None:
    one(retail, sales_add("SalesReceipt", "Ann", [sales_line("SalesReceipt", "MUG", "4")], "1006"))
    adjustment = (
        "<InventoryAdjustmentAddRq><InventoryAdjustmentAdd>"
        "<AccountRef><FullName>Inventory Shrinkage</FullName></AccountRef>"
        "<InventoryAdjustmentLineAdd><ItemRef><FullName>MUG</FullName></ItemRef>"
        "<QuantityAdjustment><QuantityDifference>-1</QuantityDifference></QuantityAdjustment>"
        "</InventoryAdjustmentLineAdd></InventoryAdjustmentAdd></InventoryAdjustmentAddRq>"
    )
    one(retail, adjustment)
    check_stock(retail, {"MUG": 5})
    with pytest.raises(AssertionError, match="MUG: QuickBooks has 5 on hand, the store 6"):
        check_stock(retail, {"MUG": 6})
    with pytest.raises(AssertionError, match="TEE: no inventory item"):
        check_stock(retail, {"TEE": 1})


def test_the_accounting_check_lists_every_difference(retail: QuickBooksCompany) -> None:
    one(retail, sales_add("Invoice", "Ann", [sales_line("Invoice", "MUG", "1")], "1007"))
    with pytest.raises(AssertionError) as caught:
        check_order(retail, "1007", customer="Bob", sold="10.00", open_balance="0.00")
    text = str(caught.value)
    assert "customer: QuickBooks has 'Ann', expected 'Bob'" in text
    assert "sold: QuickBooks has 10.65, expected 10.00" in text
    assert "open_balance: QuickBooks has 10.65, expected 0.00" in text
    with pytest.raises(AssertionError, match="no transaction numbered '9999'"):
        check_order(retail, "9999")


def test_canadian_tax_is_owed_to_the_receiver_general(clock: FakeClock) -> None:
    company = QuickBooksCompany(profile="canada", clock=clock)
    one(company, customer_add("Luc"))
    one(company, inventory_item("MUG", "5"))
    one(company, sales_add("SalesReceipt", "Luc", [sales_line("SalesReceipt", "MUG", "2")], "C1"))
    # inventory items take the taxable code H: HST ON 13% of 20.00
    check_order(company, "C1", sold="22.60", tax_by_agency={"Receiver General": "2.60"})
    assert company.books().accounts["GST/HST Payable"] == Decimal("2.60")


def test_a_foreign_currency_sale_is_booked_in_that_currency(clock: FakeClock) -> None:
    """Assumed: the A/R account of a currency is named 'Accounts Receivable - EUR', the rate defaults to
    the currency's, home amounts are rounded to the cent per posting."""
    company = QuickBooksCompany(profile="multicurrency", clock=clock)
    one(company, customer_add("Zoe", extra="<CurrencyRef><FullName>Euro</FullName></CurrencyRef>"))
    one(company, inventory_item("MUG", "5"))

    rs = one(company, sales_add("Invoice", "Zoe", [sales_line("Invoice", "MUG", "2")], "E1"))

    ret = rs.find("InvoiceRet")
    assert ret.findtext("CurrencyRef/FullName") == "Euro"
    assert ret.findtext("ExchangeRate") == "1.08"
    assert ret.findtext("ARAccountRef/FullName") == "Accounts Receivable - EUR"
    books = company.books()
    # 20.00 EUR + 6.5% = 21.30 EUR owed; income and tax in USD at 1.08
    assert books.customer_balance["Zoe"] == Decimal("21.30")
    assert books.accounts["Accounts Receivable - EUR"] == Decimal("21.30")
    assert books.accounts["Sales"] == Decimal("21.60")
    assert books.tax_by_agency == {AGENCY: Decimal("1.40")}


def test_a_sale_at_a_given_rate_is_worth_its_total_times_the_rate_at_home(clock: FakeClock) -> None:
    company = QuickBooksCompany(profile="multicurrency", clock=clock)
    one(company, customer_add("Zoe", extra="<CurrencyRef><FullName>Euro</FullName></CurrencyRef>"))
    one(company, inventory_item("MUG", "5"))
    lines = [sales_line("SalesReceipt", "MUG", "2")]

    rate = "<ExchangeRate>1.0934</ExchangeRate>"
    rs = one(company, sales_add("SalesReceipt", "Zoe", lines, "E2", header=rate))

    ret = rs.find("SalesReceiptRet")
    assert ret.findtext("ExchangeRate") == "1.0934"  # the request's rate, not the currency list's 1.08
    assert ret.findtext("TotalAmount") == "21.30"  # euros
    assert ret.findtext("TotalAmountInHomeCurrency") == "23.29"  # 21.30 x 1.0934 = 23.28942
    assert company.books().accounts["Undeposited Funds"] == Decimal("23.29")


def test_assumed_a_credit_at_another_rate_leaves_the_foreign_receivable_at_zero_but_not_at_home(
    clock: FakeClock,
) -> None:
    """Assumed: the home value of a foreign account is each posting at its own transaction's rate; the
    difference QuickBooks would book as exchange gain or loss is not posted."""
    company = QuickBooksCompany(profile="multicurrency", clock=clock)
    one(company, customer_add("Zoe", extra="<CurrencyRef><FullName>Euro</FullName></CurrencyRef>"))
    one(company, inventory_item("MUG", "5"))
    one(company, sales_add("Invoice", "Zoe", [sales_line("Invoice", "MUG", "2")], "E3"))  # at 1.08
    credit = [sales_line("CreditMemo", "MUG", "2")]
    one(company, sales_add("CreditMemo", "Zoe", credit, "R3", header="<ExchangeRate>1.10</ExchangeRate>"))

    books = company.books()
    assert books.accounts["Accounts Receivable - EUR"] == Decimal("0.00")  # 21.30 EUR owed, 21.30 credited
    assert books.home_accounts["Accounts Receivable - EUR"] == Decimal("-0.43")  # 23.00 - 23.43 USD
    assert books.home_accounts["Sales"] == books.accounts["Sales"] == Decimal("-0.40")  # 21.60 - 22.00


def test_a_home_currency_customer_on_a_multicurrency_file_uses_the_home_receivable(clock: FakeClock) -> None:
    company = QuickBooksCompany(profile="multicurrency", clock=clock)
    one(company, customer_add("Sam"))
    one(company, inventory_item("MUG", "5"))
    rs = one(company, sales_add("Invoice", "Sam", [sales_line("Invoice", "MUG", "1")], "U1"))
    assert rs.findtext("InvoiceRet/CurrencyRef/FullName") == "US Dollar"
    assert rs.findtext("InvoiceRet/ARAccountRef/FullName") == "Accounts Receivable"


def test_opening_stock_is_valued_from_total_value(retail: QuickBooksCompany) -> None:
    """Intuit InvoiceAdd reference: an item added with quantity on hand and its total value."""
    add = inventory_item("TEE", "4").replace(
        "</QuantityOnHand>", "</QuantityOnHand><TotalValue>30.00</TotalValue>"
    )
    one(retail, add)
    assert retail.books().inventory_value["TEE"] == Decimal("30.00")
    one(retail, sales_add("SalesReceipt", "Ann", [sales_line("SalesReceipt", "TEE", "1")], "1008"))
    assert retail.books().inventory_value["TEE"] == Decimal("22.50")  # 3 left at 7.50 each


def test_the_check_sees_currency_date_and_where_money_went(clock: FakeClock) -> None:
    """A EUR order booked on a single-currency USD file is in dollars; the check says so."""
    company = QuickBooksCompany(profile="retail", clock=clock)
    one(company, customer_add("Ann"))
    one(company, inventory_item("MUG", "5"))
    one(company, other_charge("Gift Card", "Sales"))
    lines = [sales_line("SalesReceipt", "MUG", "1"), sales_line("SalesReceipt", "Gift Card", amount="-5.00")]
    one(company, sales_add("SalesReceipt", "Ann", lines, "1010"))

    books = check_order(company, "1010", currency="USD", accounts={"Sales": "5.00"})
    assert books.sale_dates == {"2024-03-01"}  # the company clock's date
    with pytest.raises(AssertionError) as caught:
        check_order(
            company, "1010", currency="EUR", sale_date="2024-02-29", accounts={"Gift Card Liability": "-5.00"}
        )
    text = str(caught.value)
    assert "currency: QuickBooks booked ['USD'], expected EUR" in text
    assert "sale date: QuickBooks has ['2024-03-01'], expected 2024-02-29" in text
    assert "account 'Gift Card Liability': the order posted 0.00, expected -5.00" in text


def test_only_the_first_tax_line_after_a_subtotal_is_computed(retail: QuickBooksCompany) -> None:
    """Intuit ItemSalesTaxAdd reference: "the tax is only applied automatically for the first tax line
    after the subtotal line ... If you don't supply an amount the amount comes out as zero"."""
    one(retail, SUBTOTAL_ITEM)
    one(
        retail,
        "<ItemSalesTaxAddRq><ItemSalesTaxAdd><Name>City Tax</Name><TaxRate>1.0</TaxRate>"
        f"<TaxVendorRef><FullName>{AGENCY}</FullName></TaxVendorRef></ItemSalesTaxAdd></ItemSalesTaxAddRq>",
    )
    lines = [
        sales_line("Invoice", "MUG", "3", tax_code="Non"),
        sales_line("Invoice", "Subtotal"),
        sales_line("Invoice", "State Tax"),
        sales_line("Invoice", "City Tax"),
        sales_line("Invoice", "City Tax", amount="0.30"),
    ]
    rs = one(retail, sales_add("Invoice", "Ann", lines, "1011"))
    amounts = [line.findtext("Amount") for line in rs.findall("InvoiceRet/InvoiceLineRet")]
    assert amounts == ["30.00", "30.00", "1.95", "0.00", "0.30"]


def test_assumed_a_credit_memo_of_no_money_takes_goods_back_into_stock(retail: QuickBooksCompany) -> None:
    """Assumed (no capture or Intuit page says QuickBooks takes a 0.00 credit memo): the cancellation of an
    order refunded in full whose goods the store restocked sends one, the returned quantity on the item's
    line and the same amount back off on an other-charge line. Stock comes back; money and credit do not."""
    lines = [sales_line("CreditMemo", "MUG", "2", amount="20.00", tax_code="Non"),
             sales_line("CreditMemo", "Tax Line", amount="-20.00")]
    rs = one(retail, sales_add("CreditMemo", "Ann", lines, "C1001"))

    assert rs.findtext("CreditMemoRet/TotalAmount") == "0.00"
    assert rs.findtext("CreditMemoRet/CreditRemaining") == "0.00"
    assert retail.quantity_on_hand("MUG") == 12
    books = retail.books()
    assert books.accounts["Sales"] == Decimal(0)  # the mug's income and the line taking it back
    assert books.customer_credits == {}


def test_assumed_other_possibility_a_company_refusing_a_credit_memo_of_no_money(clock: FakeClock) -> None:
    """The other possibility of the row above (``refuses_zero_credit_memos``): the same credit memo is
    refused (3180, code and text assumed) and nothing moves; a credit memo with money is still taken."""
    company = QuickBooksCompany(profile="retail", clock=clock, refuses_zero_credit_memos=True)
    for request in (customer_add("Ann"), inventory_item("MUG", "10"), other_charge("Tax Line", "Sales")):
        one(company, request)
    lines = [sales_line("CreditMemo", "MUG", "2", amount="20.00", tax_code="Non"),
             sales_line("CreditMemo", "Tax Line", amount="-20.00")]
    request = message(sales_add("CreditMemo", "Ann", lines, "C1001"))
    (rs,) = responses(valid_response(company.process(request)))

    assert status(rs)[0] == 3180 and "Transaction amount must be positive" in status(rs)[2]
    assert company.transactions("CreditMemo") == [] and company.quantity_on_hand("MUG") == 10
    one(company, sales_add("CreditMemo", "Ann", lines[:1], "C1002"))
    assert company.quantity_on_hand("MUG") == 12


@pytest.mark.parametrize("kind", ["Invoice", "SalesReceipt"])
def test_assumed_a_sale_of_no_money_is_taken(retail: QuickBooksCompany, kind: str) -> None:
    """Assumed (no capture or Intuit page says whether QuickBooks takes an InvoiceAdd or SalesReceiptAdd of
    0.00): an order paid in full by gift card, its goods on an item line and the card's amount taken off on
    another, is recorded at 0.00 and its goods leave stock."""
    lines = [sales_line(kind, "MUG", "2", amount="20.00", tax_code="Non"),
             sales_line(kind, "Tax Line", amount="-20.00")]
    rs = one(retail, sales_add(kind, "Ann", lines, "1001"))

    total = "BalanceRemaining" if kind == "Invoice" else "TotalAmount"
    assert rs.findtext(f"{kind}Ret/{total}") == "0.00" and len(retail.transactions(kind)) == 1
    assert retail.quantity_on_hand("MUG") == 8


@pytest.mark.parametrize("kind", ["Invoice", "SalesReceipt"])
def test_assumed_other_possibility_a_company_refusing_a_sale_of_no_money(clock: FakeClock, kind: str) -> None:
    """The other possibility of the row above (``refuses_zero_sales``): the same sale is refused (3180,
    code and text assumed) and nothing moves; a sale with money is still taken."""
    company = QuickBooksCompany(profile="retail", clock=clock, refuses_zero_sales=True)
    for request in (customer_add("Ann"), inventory_item("MUG", "10"), other_charge("Tax Line", "Sales")):
        one(company, request)
    lines = [sales_line(kind, "MUG", "2", amount="20.00", tax_code="Non"),
             sales_line(kind, "Tax Line", amount="-20.00")]
    (rs,) = responses(valid_response(company.process(message(sales_add(kind, "Ann", lines, "1001")))))

    assert status(rs)[0] == 3180 and "Transaction amount must be positive" in status(rs)[2]
    assert company.transactions(kind) == [] and company.quantity_on_hand("MUG") == 10
    one(company, sales_add(kind, "Ann", lines[:1], "1002"))
    assert company.quantity_on_hand("MUG") == 8


@pytest.mark.parametrize("kind", ["Invoice", "SalesReceipt", "CreditMemo"])
def test_a_sale_or_credit_below_zero_is_refused(retail: QuickBooksCompany, kind: str) -> None:
    """ontime360.com/support/kb/a231: QuickBooks refuses an invoice whose total is below zero ("Transaction
    amount must be positive"); the code, the rest of the text and the other kinds: assumed."""
    lines = [sales_line(kind, "MUG", "1", amount="10.00", tax_code="Non"),
             sales_line(kind, "Tax Line", amount="-10.01")]
    (rs,) = responses(valid_response(retail.process(message(sales_add(kind, "Ann", lines, "1001")))))

    assert status(rs)[0] == 3180 and "Transaction amount must be positive" in status(rs)[2]
    assert retail.transactions(kind) == [] and retail.quantity_on_hand("MUG") == 10
