"""Company profiles: each starts as QuickBooks' setup leaves it, answers HostQuery/PreferencesQuery for
its country and preferences, and refuses what that setup left off."""

from __future__ import annotations

import pytest
from lxml import etree

from qbsync.queue.settings import BY_NAME
from qbsync.simulator import QbxmlRequestRejected, QuickBooksCompany
from qbsync.simulator.profiles import PROFILES
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

NEW_PROFILES = ("service", "retail", "canada", "uk", "multicurrency", "uk-service", "oregon")

# Names qbsync's settings default to that QuickBooks' setup does not create (cogs_account and
# asset_account default to "Cost of Goods Sold" and "Inventory Asset", which QuickBooks does create).
OUR_ACCOUNT_SETTINGS = (
    "income_account",
    "shipping_account",
    "discount_account",
    "tax_account",
    "inventory_adjustment_account",
)
OUR_ITEM_SETTINGS = ("shipping_item", "fee_item", "discount_item", "tax_item", "adjustment_item")


def ask(company: QuickBooksCompany, request: str) -> etree._Element:
    (rs,) = responses(valid_response(company.process(message(request))))
    return rs


def names(company: QuickBooksCompany, kind: str) -> list[str]:
    with company._lock:
        return [company.store.full_name(r) for r in company.store.all((kind,))]


def preferences(company: QuickBooksCompany) -> etree._Element:
    rs = ask(company, "<PreferencesQueryRq/>")
    assert status(rs)[0] == 0
    return rs.find("PreferencesRet")


def host(company: QuickBooksCompany) -> etree._Element:
    rs = ask(company, "<HostQueryRq/>")
    assert status(rs)[0] == 0
    return rs.find("HostRet")


def test_no_profile_is_the_retail_company_and_legacy_is_still_there() -> None:
    assert QuickBooksCompany().profile.name == "retail"
    assert "Merchandise Sales" in names(QuickBooksCompany(profile="legacy"), "Account")


def test_an_unknown_profile_names_the_choices() -> None:
    with pytest.raises(ValueError, match="service, retail"):
        QuickBooksCompany(profile="wholesale")


@pytest.mark.parametrize("profile", NEW_PROFILES)
def test_a_merchants_company_has_none_of_our_default_names(profile: str) -> None:
    company = QuickBooksCompany(profile=profile)
    accounts = {n.lower() for n in names(company, "Account")}
    items = {r["FullName"].lower() for r in company.items()}

    our_accounts = {str(BY_NAME[s].default).lower() for s in OUR_ACCOUNT_SETTINGS}
    our_items = {str(BY_NAME[s].default).lower() for s in OUR_ITEM_SETTINGS}
    our_accounts.discard("sales tax payable")  # QuickBooks creates this one when sales tax is on
    assert accounts.isdisjoint(our_accounts)
    assert items.isdisjoint(our_items)


def special_accounts(company: QuickBooksCompany) -> dict[str, str]:
    found = (company.find("Account", n) for n in names(company, "Account"))
    return {a["SpecialAccountType"]: a["Name"] for a in found if a and a.get("SpecialAccountType")}


def test_retail_keeps_the_accounts_quickbooks_itself_creates() -> None:
    company = QuickBooksCompany(profile="retail")
    special = special_accounts(company)
    assert special["SalesTaxPayable"] == "Sales Tax Payable"
    assert special["InventoryAssets"] == "Inventory Asset"
    assert special["CostOfGoodsSold"] == "Cost of Goods Sold"
    assert "PayPal" not in names(company, "PaymentMethod")


def test_receivable_and_undeposited_funds_appear_with_the_first_sale_that_needs_them() -> None:
    """A/R with the first invoice, Undeposited Funds with the first payment not deposited (source:
    'Automatically Created Accounts', profiles.AUTO_CREATED)."""
    company = QuickBooksCompany(profile="uk")
    assert {"AccountsReceivable", "UndepositedFunds"}.isdisjoint(special_accounts(company))
    ask(company, customer_add("Ada"))
    item = (
        "<ItemServiceAddRq><ItemServiceAdd><Name>Fix</Name><SalesOrPurchase><Price>5.00</Price>"
        "<AccountRef><FullName>Sales</FullName></AccountRef></SalesOrPurchase></ItemServiceAdd></ItemServiceAddRq>"
    )
    assert status(ask(company, item))[0] == 0
    assert status(ask(company, sales_add("Invoice", "Ada", [sales_line("Invoice", "Fix", "1")])))[0] == 0
    assert special_accounts(company)["AccountsReceivable"] == "Trade Debtors"
    assert "UndepositedFunds" not in special_accounts(company)
    assert (
        status(ask(company, sales_add("SalesReceipt", "Ada", [sales_line("SalesReceipt", "Fix", "1")])))[0]
        == 0
    )
    assert special_accounts(company)["UndepositedFunds"] == "Undeposited Funds"


@pytest.mark.parametrize(
    ("profile", "country", "inventory", "class_tracking"),
    [
        ("legacy", "US", "true", "false"),
        ("service", "US", "false", "false"),
        ("retail", "US", "true", "false"),
        ("canada", "CA", "true", "false"),
        ("uk", "UK", "true", "false"),
        ("multicurrency", "US", "true", "true"),
        ("uk-service", "UK", "false", "false"),
        ("oregon", "US", "true", "false"),
    ],
)
def test_host_and_preferences_answer_the_profile(
    profile: str, country: str, inventory: str, class_tracking: str
) -> None:
    company = QuickBooksCompany(profile=profile)
    ret = host(company)
    prefs = preferences(company)

    assert ret.findtext("Country") == country
    assert ret.findtext("ProductName").startswith(PROFILES[profile].product)
    assert [v.text for v in ret.findall("SupportedQBXMLVersion")][-1] == "13.0"
    assert prefs.findtext("PurchasesAndVendorsPreferences/IsUsingInventory") == inventory
    assert prefs.findtext("AccountingPreferences/IsUsingClassTracking") == class_tracking


def test_assumed_a_company_with_sales_tax_off_reports_no_sales_tax_preferences() -> None:
    """Assumed: PreferencesRet leaves SalesTaxPreferences out (the XSD makes it optional) when sales
    tax is off."""
    prefs = preferences(QuickBooksCompany(profile="service"))
    assert prefs.find("SalesTaxPreferences") is None
    assert prefs.find("MultiCurrencyPreferences") is None


def test_multicurrency_company_reports_its_home_currency() -> None:
    prefs = preferences(QuickBooksCompany(profile="multicurrency"))
    assert prefs.findtext("MultiCurrencyPreferences/IsMultiCurrencyOn") == "true"
    assert prefs.findtext("MultiCurrencyPreferences/HomeCurrencyRef/FullName") == "US Dollar"


def test_a_canadian_multicurrency_file_has_the_exchange_account_its_merchant_made() -> None:
    """A user's accepted reply on Intuit's Canada board (profiles.CA_EXCHANGE_GAIN_LOSS): on QuickBooks
    Desktop Canada 'an Exchange Gain/Loss (Expense type) account must be created', so the account there is
    the merchant's, an expense account without QuickBooks' special type (the US profile keeps its assumed
    'Exchange Gain or Loss')."""
    rs = ask(QuickBooksCompany(profile="canada-multicurrency"), "<AccountQueryRq/>")
    accounts = {a.findtext("Name"): a for a in rs.findall("AccountRet")}
    assert "Exchange Gain or Loss" not in accounts
    made = accounts["Exchange Gain/Loss"]
    assert made.findtext("AccountType") == "Expense" and made.find("SpecialAccountType") is None


@pytest.mark.parametrize(
    ("profile", "taxable", "non_taxable"), [("canada", "H", "E"), ("uk", "S", "E"), ("retail", "Tax", "Non")]
)
def test_sales_tax_codes_are_the_countrys(profile: str, taxable: str, non_taxable: str) -> None:
    company = QuickBooksCompany(profile=profile)
    prefs = preferences(company)
    assert prefs.findtext("SalesTaxPreferences/DefaultTaxableSalesTaxCodeRef/FullName") == taxable
    assert prefs.findtext("SalesTaxPreferences/DefaultNonTaxableSalesTaxCodeRef/FullName") == non_taxable
    rs = ask(company, "<SalesTaxCodeQueryRq/>")
    assert {r.findtext("Name") for r in rs.findall("SalesTaxCodeRet")} >= {taxable, non_taxable}


def test_canada_and_uk_report_customer_tax_codes() -> None:
    for profile in ("canada", "uk"):
        prefs = preferences(QuickBooksCompany(profile=profile))
        assert prefs.findtext("SalesTaxPreferences/IsUsingCustomerTaxCode") == "true"


def test_company_query_names_the_industry() -> None:
    rs = ask(QuickBooksCompany(profile="retail"), "<CompanyQueryRq/>")
    assert rs.findtext("CompanyRet/CompanyType") == "Retail Shop or Online Commerce"


def test_assumed_inventory_off_refuses_inventory_items() -> None:
    """Assumed (no capture found): an ItemInventoryAdd on a file with inventory off gets 3250."""
    company = QuickBooksCompany(profile="service")
    request = (
        "<ItemInventoryAddRq><ItemInventoryAdd><Name>Mug</Name>"
        "<IncomeAccountRef><FullName>Consulting Income</FullName></IncomeAccountRef>"
        "</ItemInventoryAdd></ItemInventoryAddRq>"
    )
    code, severity, text = status(ask(company, request))
    assert (code, severity) == (3250, "Error")
    assert "inventory" in text
    assert company.items() == []


def test_assumed_sales_tax_off_refuses_sales_tax_items() -> None:
    """Assumed: on a company with sales tax off, ItemSalesTaxAdd gets 3250."""
    company = QuickBooksCompany(profile="service")
    tax_item = (
        "<ItemSalesTaxAddRq><ItemSalesTaxAdd><Name>State</Name><TaxRate>5</TaxRate></ItemSalesTaxAdd>"
        "</ItemSalesTaxAddRq>"
    )
    assert status(ask(company, tax_item))[0] == 3250
    assert company.items() == []


def test_sales_tax_off_gives_every_sale_the_non_taxable_code() -> None:
    """Intuit SalesTaxCodeAdd reference: with "Do You Charge Sales Tax?" set to No, QuickBooks assigns
    the default non-taxable code to all sales (the codes Tax and Non still exist)."""
    company = QuickBooksCompany(profile="service")
    assert status(ask(company, customer_add("Ann")))[0] == 0
    service = (
        "<ItemServiceAddRq><ItemServiceAdd><Name>Hour</Name><SalesOrPurchase><Price>100.00</Price>"
        "<AccountRef><FullName>Consulting Income</FullName></AccountRef></SalesOrPurchase>"
        "</ItemServiceAdd></ItemServiceAddRq>"
    )
    assert status(ask(company, service))[0] == 0
    rs = ask(company, sales_add("Invoice", "Ann", [sales_line("Invoice", "Hour", "2", tax_code="Tax")]))
    assert status(rs)[0] == 0
    assert rs.findtext("InvoiceRet/InvoiceLineRet/SalesTaxCodeRef/FullName") == "Non"
    assert rs.findtext("InvoiceRet/BalanceRemaining") == "200.00"
    assert rs.find("InvoiceRet/SalesTaxTotal") is None


def test_assumed_currency_on_a_single_currency_file_is_refused() -> None:
    """Assumed: CurrencyRef (customers) and ExchangeRate (transactions) need multicurrency on: 3250."""
    company = QuickBooksCompany(profile="retail")
    rs = ask(company, customer_add("Zoe", extra="<CurrencyRef><FullName>Euro</FullName></CurrencyRef>"))
    assert status(rs)[0] == 3250
    assert company.customers() == []


def test_assumed_us_only_sales_tax_item_in_a_canadian_file_fails_to_parse() -> None:
    """Assumed: QuickBooks Canada validates against its regional schema, which has no header
    ItemSalesTaxRef on sales forms; the whole document fails as a parse error (0x80040400)."""
    company = QuickBooksCompany(profile="canada")
    assert status(ask(company, customer_add("Luc")))[0] == 0
    document = message(
        sales_add("SalesReceipt", "Luc", [sales_line("SalesReceipt", "X", "1")], tax_item="HST ON on Sales")
    )
    with pytest.raises(QbxmlRequestRejected) as caught:
        company.process(document)
    assert caught.value.hresult == "0x80040400"
    assert company.transactions() == []


def test_canadian_tax_comes_from_each_lines_code() -> None:
    company = QuickBooksCompany(profile="canada")
    ask(company, customer_add("Luc"))
    item = (
        "<ItemNonInventoryAddRq><ItemNonInventoryAdd><Name>Book</Name>"
        "<SalesTaxCodeRef><FullName>Z</FullName></SalesTaxCodeRef>"
        "<SalesOrPurchase><Price>20.00</Price><AccountRef><FullName>Sales</FullName></AccountRef>"
        "</SalesOrPurchase></ItemNonInventoryAdd></ItemNonInventoryAddRq>"
    )
    mug = item.replace("Book", "Mug").replace("<FullName>Z</FullName>", "<FullName>H</FullName>")
    assert status(ask(company, item))[0] == 0 and status(ask(company, mug))[0] == 0
    rs = ask(
        company,
        sales_add(
            "SalesReceipt",
            "Luc",
            [sales_line("SalesReceipt", "Book", "1"), sales_line("SalesReceipt", "Mug", "3", rate="9.99")],
        ),
    )
    assert status(rs)[0] == 0
    # 3 x 9.99 = 29.97 at HST 13% = 3.90; the zero-rated book adds no tax
    assert rs.findtext("SalesReceiptRet/SalesTaxTotal") == "3.90"
    assert rs.findtext("SalesReceiptRet/TotalAmount") == "53.87"


def test_a_saved_company_remembers_its_profile(tmp_path, clock: FakeClock) -> None:
    path = tmp_path / "company.json"
    company = QuickBooksCompany.open(path, profile="uk", clock=clock)
    ask(company, customer_add("Ada"))

    again = QuickBooksCompany.open(path, clock=clock)
    assert again.profile.name == "uk"
    assert host(again).findtext("Country") == "UK"
    assert again.find("Customer", "Ada") is not None
    with pytest.raises(ValueError, match="profile 'uk', not 'retail'"):
        QuickBooksCompany.open(path, profile="retail", clock=clock)


@pytest.mark.parametrize("profile", NEW_PROFILES)
@pytest.mark.parametrize(
    "kind", ["Account", "PaymentMethod", "SalesTaxCode", "ItemSalesTax", "Vendor", "Currency"]
)
def test_the_first_session_reads_exactly_what_the_setup_made(profile: str, kind: str) -> None:
    company = QuickBooksCompany(profile=profile)
    wanted = set(PROFILES[profile].seeded(kind))
    request = "<ItemQueryRq/>" if kind == "ItemSalesTax" else f"<{kind}QueryRq/>"
    rs = ask(company, request)
    if not wanted:
        # nothing of that kind: no match (1), or refused when the feature is off (3250)
        assert status(rs)[0] in (1, 3250) or not rs.findall(f"{kind}Ret")
        return
    assert status(rs)[0] == 0
    assert {r.findtext("Name") for r in rs.findall(f"{kind}Ret")} == wanted


def test_new_files_have_multi_location_inventory_off() -> None:
    """Intuit "SDK support for multi location inventory": company files are created with it turned off,
    and preferences cannot be changed through the SDK (Intuit PreferencesQuery reference)."""
    prefs = preferences(QuickBooksCompany(profile="retail"))
    assert prefs.findtext("MultiLocationInventoryPreferences/IsMultiLocationInventoryEnabled") == "false"
