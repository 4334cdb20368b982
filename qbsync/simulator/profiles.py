"""Named company profiles: a simulated QuickBooks company as QuickBooks' own setup leaves it.

A QuickBooks Desktop company file starts from the EasyStep Interview / Express Start: the merchant picks
an industry, says whether they sell products (inventory), charge sales tax, use more than one currency,
and QuickBooks fills the chart of accounts, the sales tax codes and items of the company's country, and a
few payment methods. A merchant's company therefore never holds the account and item names qbsync's
defaults name (``qbsync/queue/settings.py``); the profiles below make our tests meet such a company.

Every record and every preference carries its source: a real capture under ``shared/reference``, an
Intuit page, or ``assumed`` with the reason (docs/SIMULATOR.md lists them all).

>>> from qbsync.simulator import QuickBooksCompany
>>> company = QuickBooksCompany(profile="retail")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# -- sources ----------------------------------------------------------------------------------------------

CAPTURE_HCP = (
    "real capture: shared/reference/qbxml/samples/captured/"
    "hcp_host_company_preferences_rs.QBPro2006.2008.xml "
    "(HostRet, CompanyRet and PreferencesRet of a real QuickBooks Pro 2006 company: codes Tax and Non)"
)
INTUIT_INTERVIEW = (
    "Intuit in-product help 'Use accounts in QuickBooks' (support.quickbooks.intuit.com/support/pages/"
    "inproducthelp/Core/QB2K12/ContentPackage/Core/Setup/f1_onboarding_chart_of_accounts.html): QuickBooks "
    "recommends income and expense accounts for the industry chosen in the EasyStep Interview"
)
ASSUMED_INDUSTRY_NAME = (
    f"assumed name: {INTUIT_INTERVIEW}; the exact names of that recommended list were not found (searched "
    "again for issue 14: Intuit's pages, the Intuit community, public qbXML captures; none lists the "
    "accounts a US, Canadian or UK interview makes for an industry), so this name is assumed (chosen to "
    "differ from qbsync's defaults)"
)
AUTO_CREATED = (
    "QuickBooks book chapter 'Automatically Created Accounts' (keepautomation.com/arc/237/49/): Accounts "
    "Receivable is established the first time you create an invoice, Undeposited Funds the first time you "
    "receive a payment and do not deposit it, Inventory Asset and Cost of Goods Sold the first time you "
    "add an inventory item, Uncategorized Income/Expense for opening balances on the accrual basis; "
    "SpecialAccountType values from the qbXML 13.0 XSD"
)
SALES_TAX_PAYABLE = (
    "QuickBooks help 'Using the Sales Tax Payable register' (dx.198449.com/qq2/quickbookstgz.zip): every "
    "tax agency's tax is kept in the one Sales Tax Payable account QuickBooks keeps; 'Pay Sales Tax window: "
    "see how much you owe each tax agency'"
)
SPECIAL_ACCOUNTS = (
    "assumed: accounts QuickBooks makes on first use (Accounts Payable on the first bill); "
    "SpecialAccountType from the XSD"
)
SETUP_EQUITY = (
    "QuickBooks help 'Equity accounts' (dx.198449.com/qq2/quickbookstgz.zip): 'When you set up your company "
    "file, QuickBooks automatically sets up two equity accounts for you': Opening Bal Equity ('QuickBooks "
    "records the opening balance of each account in Opening Bal Equity') and Retained Earnings; "
    "QuickBooks 2010 Solutions Guide ch. 13 (oreilly.com/library/view/quickbooks-2010-solutions/"
    "9780768695366/ch13.html): 'QuickBooks automatically creates the Opening Bal Equity account when you "
    "create a new data file'; "
    "named Opening Balance Equity by newer versions; SpecialAccountType from the XSD"
)
INTUIT_TAX_CODES = (
    "Intuit SalesTaxCodeAdd reference (developer.intuit.com/app/developer/qbdesktop/docs/api-reference/"
    "qbdesktop/salestaxcodeadd): 'Two general codes, which can be modified but not deleted, appear on the "
    "sales-tax code list by default' (non-taxable and taxable); 'If the \"Do You Charge Sales Tax?\" "
    "preference within QuickBooks is set to No, QuickBooks will assign the default non-taxable sales-tax "
    "code to all sales'; names Tax/Non as in the real capture"
)
ASSUMED_BANK = "assumed: the interview's 'add your bank account' step; the name is the merchant's"
ASSUMED_PAYMENT_METHODS = (
    "Intuit in-product help 'Use the Payment Method list' (support.quickbooks.intuit.com/support/pages/"
    "inproducthelp/Core/QB2K12/ContentPackage/Core/Payments/pop_paymeth.html: cash, check, MasterCard, Visa, "
    "American Express); qbgarage.com/tag/payment-method: the payment types built into QuickBooks (Cash, "
    "Check, American Express, Discover, MasterCard, Visa, Debit Card, Gift Card, E-Check, ...); that a new "
    "file holds one method of each type under these names is assumed (no PayPal)"
)
CA_EXPRESS_START = (
    "Intuit community 'How to set up sales tax in QuickBooks Desktop' (quickbooks.intuit.com/community/"
    "Help-Articles/How-to-set-up-sales-tax-in-QuickBooks-Desktop/m-p/291479): 'QuickBooks automatically "
    "sets all standard and provincial Sales Tax codes based on the company information you enter in the "
    "Express Start Interview' (Ontario: code H); 'Customer and Supplier Tax Codes' checkboxes"
)
CA_HST = (
    "gtimmons.com/resources/corporations/quickbooks/HST.html (QuickBooks 2010, Canada): sales tax item "
    "'HST (13%) on Sales', tax agency 'Receiver General', code H taxable; code G is GST only"
)
CA_ZERO_EXEMPT = (
    "Intuit QuickBooks Canada help 'Common sales tax codes' (plugin-qbo.intuit.com/.../en_CA/.../"
    "help_globaltax_info_salestax_codes_domestic.htm): Z zero-rated 0% taxable, E tax-exempt non-taxable, "
    "GST 5%, HST ON 13%"
)
UK_VAT = (
    "Intuit UK community 'Common VAT Codes' (quickbooks.intuit.com/learn-support/en-uk/vat/common-vat-codes/"
    "00/239529): 'When you set up VAT, QuickBooks automatically sets up a list of common VAT codes': "
    "S 20% standard, R 5% reduced, Z 0% zero rate, Exempt"
)
CA_MULTICURRENCY = (
    "Intuit Canada 'Set up and use Multicurrency' for QuickBooks Desktop (quickbooks.intuit.com/"
    "learn-support/en-ca/help-article/multicurrency/set-use-multicurrency/L3AqaWJ9i_CA_en_CA): Edit > "
    "Preferences > Multiple Currencies with a home currency; existing names and accounts get the home "
    "currency; one currency per customer or supplier profile; currencies on bank, credit card, A/R and "
    "A/P accounts"
)
CA_EXCHANGE_GAIN_LOSS = (
    "a user's accepted reply on Intuit's Canada board (quickbooks.intuit.com/learn-support/forums/replypage/"
    "board-id/reports-accounting-ca/message-id/2, QuickBooks Desktop Canada): 'To utilize the Multicurrency "
    "function correctly, an Exchange Gain/Loss (Expense type) account must be created in the COA', so the "
    "merchant made it (no special account type); the name is the reply's"
)
MULTICURRENCY = (
    "Intuit 'Using the multicurrency feature with the sdk' (developer.intuit.com/app/developer/qbdesktop/"
    "docs/develop/tutorials/using-the-multicurrency-feature-with-the-sdk): built-in currencies, of which "
    "only a few are active by default; CurrencyRef on customers, ExchangeRate on transactions (XSD 13.0)"
)


@dataclass(frozen=True)
class Seed:
    """One list element the setup creates: its kind, its ``XxxAdd`` data, and why it is there.

    ``role`` names the preference that points at it (``ar_account``, ``taxable_code``...), if any.
    ``first_use``: QuickBooks makes it only when a transaction first needs it (not at setup).
    """

    kind: str
    data: dict[str, Any]
    source: str
    role: str = ""
    first_use: bool = False


@dataclass(frozen=True)
class Profile:
    """A company as QuickBooks' setup leaves it for one kind of merchant."""

    name: str
    summary: str
    country: str  # HostRet/Country: US, CA or UK
    product: str  # HostRet/ProductName before the year ("QuickBooks Pro")
    company_type: str  # CompanyRet/CompanyType: the industry picked in the interview
    inventory: bool
    sales_tax: bool
    multicurrency: bool
    home_currency: str  # ISO code
    class_tracking: bool
    seeds: tuple[Seed, ...] = ()
    # SalesTaxPreferences elements of Canadian and UK files (IsUsingCustomerTaxCode...), None for US
    regional_tax_preferences: dict[str, str] | None = None
    sources: dict[str, str] = field(default_factory=dict)

    def seeded(self, kind: str) -> list[str]:
        """Names of the records of ``kind`` the setup creates (not those made on first use)."""
        return [str(seed.data["Name"]) for seed in self.seeds if seed.kind == kind and not seed.first_use]

    def first_use_seed(self, role: str) -> Seed | None:
        """The record QuickBooks makes for ``role`` (``ar_account``...) the first time it is needed."""
        return next((seed for seed in self.seeds if seed.role == role and seed.first_use), None)


def _account(
    name: str, account_type: str, source: str, special: str = "", role: str = "", first_use: bool = False
) -> Seed:
    data: dict[str, Any] = {"Name": name, "AccountType": account_type}
    if special:
        data["SpecialAccountType"] = special
    return Seed("Account", data, source, role, first_use)


_CURRENCY_NAMES = {"USD": "US Dollar", "CAD": "Canadian Dollar", "EUR": "Euro",
                   "GBP": "British Pound Sterling"}


def _currencies(home: str, rates: dict[str, str]) -> tuple[Seed, ...]:
    """The home currency (rate 1, preference home_currency) and the active foreign ones at ``rates``
    (home units per foreign unit) of a multicurrency company."""
    seeds = [Seed("Currency", {"Name": _CURRENCY_NAMES[home], "CurrencyCode": home, "ExchangeRate": "1"},
                  MULTICURRENCY, "home_currency")]
    seeds += [Seed("Currency", {"Name": _CURRENCY_NAMES[code], "CurrencyCode": code, "ExchangeRate": rate},
                   MULTICURRENCY) for code, rate in rates.items()]
    return tuple(seeds)


def _payment_methods() -> tuple[Seed, ...]:
    methods = (
        ("American Express", "AmericanExpress"),
        ("Cash", "Cash"),
        ("Check", "Check"),
        ("Debit Card", "DebitCard"),
        ("Discover", "Discover"),
        ("E-Check", "ECheck"),
        ("Gift Card", "GiftCard"),
        ("MasterCard", "MasterCard"),
        ("Visa", "Visa"),
    )
    return tuple(
        Seed("PaymentMethod", {"Name": name, "PaymentMethodType": kind}, ASSUMED_PAYMENT_METHODS)
        for name, kind in methods
    )


def _common_accounts(
    bank: str, receivable: str = "Accounts Receivable", payable: str = "Accounts Payable"
) -> tuple[Seed, ...]:
    return (
        _account(bank, "Bank", ASSUMED_BANK),
        _account(receivable, "AccountsReceivable", AUTO_CREATED, "AccountsReceivable", "ar_account", True),
        _account(
            "Undeposited Funds",
            "OtherCurrentAsset",
            AUTO_CREATED,
            "UndepositedFunds",
            "undeposited_funds",
            True,
        ),
        _account(payable, "AccountsPayable", SPECIAL_ACCOUNTS, "AccountsPayable", first_use=True),
        _account("Opening Balance Equity", "Equity", SETUP_EQUITY, "OpeningBalanceEquity"),
        _account("Retained Earnings", "Equity", SETUP_EQUITY, "RetainedEarnings"),
        _account("Uncategorized Income", "Income", AUTO_CREATED, "UncategorizedIncome", first_use=True),
        _account("Uncategorized Expenses", "Expense", AUTO_CREATED, "UncategorizedExpenses", first_use=True),
    )


def _inventory_accounts() -> tuple[Seed, ...]:
    # made with the first inventory item; the merchant who turned inventory on has items, so they exist
    return (
        _account("Inventory Asset", "OtherCurrentAsset", AUTO_CREATED, "InventoryAssets"),
        _account("Cost of Goods Sold", "CostOfGoodsSold", AUTO_CREATED, "CostOfGoodsSold"),
    )


def _us_tax_codes() -> tuple[Seed, ...]:
    return (
        Seed(
            "SalesTaxCode",
            {"Name": "Tax", "IsTaxable": "true", "Desc": "Taxable Sales"},
            INTUIT_TAX_CODES,
            "taxable_code",
        ),
        Seed(
            "SalesTaxCode",
            {"Name": "Non", "IsTaxable": "false", "Desc": "Non-Taxable Sales"},
            INTUIT_TAX_CODES,
            "non_taxable_code",
        ),
    )


def _uk_payment_methods() -> tuple[Seed, ...]:
    """The payment methods of the UK profiles (a cheque, not a check)."""
    return (
        Seed("PaymentMethod", {"Name": "Cash", "PaymentMethodType": "Cash"}, ASSUMED_PAYMENT_METHODS),
        Seed("PaymentMethod", {"Name": "Cheque", "PaymentMethodType": "Check"}, ASSUMED_PAYMENT_METHODS),
        Seed(
            "PaymentMethod", {"Name": "Debit Card", "PaymentMethodType": "DebitCard"}, ASSUMED_PAYMENT_METHODS
        ),
        Seed("PaymentMethod", {"Name": "Visa", "PaymentMethodType": "Visa"}, ASSUMED_PAYMENT_METHODS),
        Seed(
            "PaymentMethod",
            {"Name": "MasterCard", "PaymentMethodType": "MasterCard"},
            ASSUMED_PAYMENT_METHODS,
        ),
    )


UK_COUNTRY = "qbXML 13.0 XSD (HostRet/Country; SalesTaxCountry enumerates UK)"


def _uk_vat_control() -> Seed:
    """The UK edition's VAT liability account."""
    return _account(
        "VAT Control",
        "OtherCurrentLiability",
        "assumed name: the UK edition's VAT liability; 'VAT Control' is QuickBooks Online UK's (QBO "
        "certification cards, cram.com/flashcards/quickbooks-online-certification-course-5122223: "
        "'QuickBooks Online uses VAT CONTROL for entries from bills, expenses, invoices'); the Desktop UK "
        "name was not found (Intuit UK's 'Using VAT in QuickBooks 2008' guide was found only as a table "
        "of contents)",
        "SalesTaxPayable",
    )


def _uk_vat() -> tuple[Seed, ...]:
    """HMRC, the VAT items and the codes S/R/Z/E the UK edition sets up when VAT is turned on."""
    return (
        Seed(
            "Vendor",
            {"Name": "HM Revenue & Customs", "CompanyName": "HM Revenue & Customs"},
            "assumed: VAT agency name",
        ),
        Seed(
            "ItemSalesTax",
            {
                "Name": "20.0% S (Sales)",
                "ItemDesc": "Standard rate",
                "TaxRate": "20.0",
                "TaxVendorRef": {"FullName": "HM Revenue & Customs"},
            },
            UK_VAT,
            "default_item_sales_tax",
        ),
        Seed(
            "ItemSalesTax",
            {
                "Name": "5.0% R (Sales)",
                "ItemDesc": "Reduced rate",
                "TaxRate": "5.0",
                "TaxVendorRef": {"FullName": "HM Revenue & Customs"},
            },
            UK_VAT,
        ),
        Seed(
            "ItemSalesTax",
            {
                "Name": "0.0% Z (Sales)",
                "ItemDesc": "Zero rate",
                "TaxRate": "0.0",
                "TaxVendorRef": {"FullName": "HM Revenue & Customs"},
            },
            UK_VAT,
        ),
        Seed(
            "SalesTaxCode",
            {
                "Name": "S",
                "IsTaxable": "true",
                "Desc": "Standard rate VAT",
                "ItemSalesTaxRef": {"FullName": "20.0% S (Sales)"},
            },
            UK_VAT,
            "taxable_code",
        ),
        Seed(
            "SalesTaxCode",
            {
                "Name": "R",
                "IsTaxable": "true",
                "Desc": "Reduced rate VAT",
                "ItemSalesTaxRef": {"FullName": "5.0% R (Sales)"},
            },
            UK_VAT,
        ),
        Seed(
            "SalesTaxCode",
            {
                "Name": "Z",
                "IsTaxable": "true",
                "Desc": "Zero rate VAT",
                "ItemSalesTaxRef": {"FullName": "0.0% Z (Sales)"},
            },
            UK_VAT,
        ),
        Seed(
            "SalesTaxCode", {"Name": "E", "IsTaxable": "false", "Desc": "Exempt"}, UK_VAT, "non_taxable_code"
        ),
    )


# -- the profiles ---------------------------------------------------------------------------------------

SERVICE = Profile(
    name="service",
    summary="US consulting firm: no inventory, no sales tax, one currency.",
    country="US",
    product="QuickBooks Pro",
    company_type="Professional Consulting",
    inventory=False,
    sales_tax=False,
    multicurrency=False,
    home_currency="USD",
    class_tracking=False,
    seeds=(
        *_common_accounts("Business Checking"),
        _account("Consulting Income", "Income", ASSUMED_INDUSTRY_NAME),
        _account("Reimbursed Expenses", "Income", ASSUMED_INDUSTRY_NAME),
        _account("Bank Service Charges", "Expense", ASSUMED_INDUSTRY_NAME),
        _account("Professional Fees", "Expense", ASSUMED_INDUSTRY_NAME),
        *_payment_methods(),
        *_us_tax_codes(),
        Seed("StandardTerms", {"Name": "Net 30", "StdDueDays": "30"}, "assumed: standard terms list"),
    ),
    sources={
        "inventory": "assumed: the interview's 'Do you sell products?' answered no (inventory off)",
        "sales_tax": "assumed: the interview's 'Do you charge sales tax?' answered no; the codes Tax and Non "
        "still exist and every sale gets Non (Intuit SalesTaxCodeAdd reference)",
        "host": CAPTURE_HCP,
    },
)

RETAIL = Profile(
    name="retail",
    summary="US web shop: inventory and sales tax on, accounts named as QuickBooks names them.",
    country="US",
    product="QuickBooks Pro",
    company_type="Retail Shop or Online Commerce",
    inventory=True,
    sales_tax=True,
    multicurrency=False,
    home_currency="USD",
    class_tracking=False,
    seeds=(
        *_common_accounts("Checking"),
        *_inventory_accounts(),
        _account("Sales Tax Payable", "OtherCurrentLiability", SALES_TAX_PAYABLE, "SalesTaxPayable"),
        _account("Sales", "Income", ASSUMED_INDUSTRY_NAME),
        _account("Freight Income", "Income", ASSUMED_INDUSTRY_NAME),
        _account("Discounts Given", "Income", ASSUMED_INDUSTRY_NAME),
        _account("Merchant Fees", "Expense", ASSUMED_INDUSTRY_NAME),
        _account("Inventory Shrinkage", "CostOfGoodsSold", ASSUMED_INDUSTRY_NAME),
        *_payment_methods(),
        *_us_tax_codes(),
        Seed(
            "Vendor",
            {"Name": "State Department of Revenue", "CompanyName": "State Department of Revenue"},
            "assumed: the tax agency named when the sales tax preference creates the first sales tax item",
        ),
        Seed(
            "ItemSalesTax",
            {
                "Name": "State Tax",
                "ItemDesc": "State sales tax",
                "TaxRate": "6.5",
                "TaxVendorRef": {"FullName": "State Department of Revenue"},
            },
            "assumed name and rate: turning sales tax on asks for the most common sales tax item, which "
            "SalesTaxPreferences/DefaultItemSalesTaxRef (required by the XSD) then names",
            "default_item_sales_tax",
        ),
    ),
    sources={
        "inventory": "assumed: 'Do you sell products?' yes, inventory preference on",
        "sales_tax": SALES_TAX_PAYABLE,
        "tax_codes": CAPTURE_HCP,
        "host": CAPTURE_HCP,
    },
)

CANADA = Profile(
    name="canada",
    summary="Ontario web shop on QuickBooks Desktop Canada: inventory, GST/HST codes, home currency CAD.",
    country="CA",
    product="QuickBooks Pro",
    company_type="Retail Shop or Online Commerce",
    inventory=True,
    sales_tax=True,
    multicurrency=False,
    home_currency="CAD",
    class_tracking=False,
    seeds=(
        *_common_accounts("Chequing"),
        *_inventory_accounts(),
        _account(
            "GST/HST Payable",
            "OtherCurrentLiability",
            "assumed name: the liability QuickBooks Canada posts GST/HST to (SalesTaxPayable)",
            "SalesTaxPayable",
        ),
        _account("Sales", "Income", ASSUMED_INDUSTRY_NAME),
        _account("Freight Income", "Income", ASSUMED_INDUSTRY_NAME),
        *_payment_methods(),
        Seed("Vendor", {"Name": "Receiver General", "CompanyName": "Receiver General"}, CA_HST),
        Seed(
            "ItemSalesTax",
            {
                "Name": "GST on Sales",
                "ItemDesc": "GST 5%",
                "TaxRate": "5.0",
                "TaxVendorRef": {"FullName": "Receiver General"},
            },
            CA_ZERO_EXEMPT,
        ),
        Seed(
            "ItemSalesTax",
            {
                "Name": "HST ON on Sales",
                "ItemDesc": "HST Ontario 13%",
                "TaxRate": "13.0",
                "TaxVendorRef": {"FullName": "Receiver General"},
            },
            CA_HST,
            "default_item_sales_tax",
        ),
        Seed(
            "ItemSalesTax",
            {
                "Name": "Zero-rated on Sales",
                "ItemDesc": "Zero-rated 0%",
                "TaxRate": "0.0",
                "TaxVendorRef": {"FullName": "Receiver General"},
            },
            CA_ZERO_EXEMPT,
        ),
        Seed(
            "SalesTaxCode",
            {
                "Name": "G",
                "IsTaxable": "true",
                "Desc": "GST",
                "ItemSalesTaxRef": {"FullName": "GST on Sales"},
            },
            CA_HST,
        ),
        Seed(
            "SalesTaxCode",
            {
                "Name": "H",
                "IsTaxable": "true",
                "Desc": "HST ON",
                "ItemSalesTaxRef": {"FullName": "HST ON on Sales"},
            },
            CA_EXPRESS_START,
            "taxable_code",
        ),
        Seed(
            "SalesTaxCode",
            {
                "Name": "Z",
                "IsTaxable": "true",
                "Desc": "Zero-rated",
                "ItemSalesTaxRef": {"FullName": "Zero-rated on Sales"},
            },
            CA_ZERO_EXEMPT,
        ),
        Seed(
            "SalesTaxCode",
            {"Name": "E", "IsTaxable": "false", "Desc": "Exempt"},
            CA_ZERO_EXEMPT,
            "non_taxable_code",
        ),
    ),
    regional_tax_preferences={
        "IsUsingVendorTaxCode": "true",
        "IsUsingCustomerTaxCode": "true",
        "IsUsingAmountsIncludeTax": "false",
    },
    sources={
        "country": "qbXML 13.0 XSD (HostRet/Country; SalesTaxCountry enumerates Australia, Canada, UK, US)",
        "tax_codes": CA_EXPRESS_START,
        "regional_tax_preferences": CA_EXPRESS_START,
        "host": "assumed: same version list as the US edition of the same year",
    },
)

UK = Profile(
    name="uk",
    summary="UK web shop on QuickBooks Desktop UK: inventory, VAT codes S/R/Z/E, home currency GBP.",
    country="UK",
    product="QuickBooks Pro",
    company_type="Retail Shop or Online Commerce",
    inventory=True,
    sales_tax=True,
    multicurrency=False,
    home_currency="GBP",
    class_tracking=False,
    seeds=(
        *_common_accounts("Current Account", receivable="Trade Debtors", payable="Trade Creditors"),
        *_inventory_accounts(),
        _uk_vat_control(),
        _account("Sales", "Income", ASSUMED_INDUSTRY_NAME),
        _account("Carriage Income", "Income", ASSUMED_INDUSTRY_NAME),
        *_uk_payment_methods(),
        *_uk_vat(),
    ),
    regional_tax_preferences={
        "IsUsingVendorTaxCode": "true",
        "IsUsingCustomerTaxCode": "true",
        "IsUsingAmountsIncludeTax": "true",
    },
    sources={
        "country": UK_COUNTRY,
        "tax_codes": UK_VAT,
        "regional_tax_preferences": "assumed: UK shops price VAT-inclusive (IsUsingAmountsIncludeTax true)",
        "host": "assumed: same version list as the US edition of the same year",
    },
)

UK_SERVICE = Profile(
    name="uk-service",
    summary="UK design consultancy on QuickBooks Desktop UK: no inventory, VAT registered (codes S/R/Z/E), "
    "fees quoted net of VAT, home currency GBP.",
    country="UK",
    product="QuickBooks Pro",
    company_type="Professional Consulting",
    inventory=False,
    sales_tax=True,
    multicurrency=False,
    home_currency="GBP",
    class_tracking=False,
    seeds=(
        *_common_accounts("Business Current Account", receivable="Trade Debtors", payable="Trade Creditors"),
        _uk_vat_control(),
        _account("Design Fees", "Income", ASSUMED_INDUSTRY_NAME),
        _account("Bank Charges", "Expense", ASSUMED_INDUSTRY_NAME),
        *_uk_payment_methods(),
        *_uk_vat(),
    ),
    regional_tax_preferences={
        "IsUsingVendorTaxCode": "true",
        "IsUsingCustomerTaxCode": "true",
        "IsUsingAmountsIncludeTax": "false",
    },
    sources={
        "country": UK_COUNTRY,
        "inventory": "assumed: the interview's 'Do you sell products?' answered no (inventory off)",
        "tax_codes": UK_VAT,
        "regional_tax_preferences": "assumed: a firm that bills businesses quotes its fees net of VAT "
        "(IsUsingAmountsIncludeTax false)",
        "host": "assumed: same version list as the US edition of the same year",
    },
)

NO_SALES_TAX_RETAIL = Profile(
    name="oregon",
    summary="Oregon web shop: inventory on, sales tax off (the owner answered no in the interview), "
    "no discount account, one currency.",
    country="US",
    product="QuickBooks Pro",
    company_type="Retail Shop or Online Commerce",
    inventory=True,
    sales_tax=False,
    multicurrency=False,
    home_currency="USD",
    class_tracking=False,
    seeds=(
        *_common_accounts("Operating Account"),
        *_inventory_accounts(),
        _account("Product Sales", "Income", ASSUMED_INDUSTRY_NAME),
        _account("Shipping Income", "Income", ASSUMED_INDUSTRY_NAME),
        _account("Merchant Account Fees", "Expense", ASSUMED_INDUSTRY_NAME),
        *_payment_methods(),
        *_us_tax_codes(),
    ),
    sources={
        "inventory": "assumed: 'Do you sell products?' yes, inventory preference on",
        "sales_tax": "assumed: the interview's 'Do you charge sales tax?' answered no (Oregon levies no "
        "sales tax); the codes Tax and Non still exist and every sale gets Non (Intuit SalesTaxCodeAdd "
        "reference)",
        "tax_codes": INTUIT_TAX_CODES,
        "host": CAPTURE_HCP,
    },
)

MULTICURRENCY_PROFILE = Profile(
    name="multicurrency",
    summary="US web shop with multicurrency on: home currency USD, CAD/EUR/GBP active.",
    country="US",
    product="QuickBooks Premier",
    company_type="Retail Shop or Online Commerce",
    inventory=True,
    sales_tax=True,
    multicurrency=True,
    home_currency="USD",
    class_tracking=True,
    seeds=(
        *_currencies("USD", {"CAD": "0.74", "EUR": "1.08", "GBP": "1.27"}),
        *RETAIL.seeds,
        _account(
            "Exchange Gain or Loss",
            "OtherExpense",
            "assumed: created when multicurrency is turned on",
            "ExchangeGainLoss",
        ),
        Seed(
            "Class",
            {"Name": "Online Store"},
            "assumed: one class the merchant made after turning class tracking on",
        ),
    ),
    sources={
        "multicurrency": MULTICURRENCY,
        "home_currency": MULTICURRENCY,
        "exchange_rates": "assumed: rates entered by the merchant (home currency units per foreign unit)",
        "class_tracking": "assumed: class tracking turned on",
        "host": "assumed: Premier edition of the same year as the US Pro",
    },
)

CANADA_MULTICURRENCY = Profile(
    name="canada-multicurrency",
    summary="Ontario web shop selling to the US in US dollars: the canada company with multicurrency on, "
    "home currency CAD, USD/EUR/GBP active.",
    country="CA",
    product="QuickBooks Premier",
    company_type="Retail Shop or Online Commerce",
    inventory=True,
    sales_tax=True,
    multicurrency=True,
    home_currency="CAD",
    class_tracking=False,
    seeds=(
        *_currencies("CAD", {"USD": "1.36", "EUR": "1.47", "GBP": "1.72"}),
        *CANADA.seeds,
        # a user's word (not Intuit's): on the Canadian edition the merchant makes this account
        _account("Exchange Gain/Loss", "Expense", CA_EXCHANGE_GAIN_LOSS),
    ),
    regional_tax_preferences=CANADA.regional_tax_preferences,
    sources={
        **CANADA.sources,
        "multicurrency": f"{MULTICURRENCY}; {CA_MULTICURRENCY}",
        "home_currency": MULTICURRENCY,
        "exchange_rates": "assumed: rates entered by the merchant (home currency units per foreign unit)",
        "host": "assumed: Premier edition of the same year as the Canadian Pro",
    },
)

LEGACY = Profile(
    name="legacy",
    summary="The simulator's original company: the accounts, items and codes qbsync's defaults name.",
    country="US",
    product="QuickBooks Pro",
    company_type="RetailGeneral",
    inventory=True,
    sales_tax=True,
    multicurrency=False,
    home_currency="USD",
    class_tracking=False,
    sources={
        "all": "assumed: seeded with what qbsync's defaults expect (kept until the default profile changes)"
    },
)

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (LEGACY, SERVICE, RETAIL, CANADA, UK, MULTICURRENCY_PROFILE, CANADA_MULTICURRENCY, UK_SERVICE,
              NO_SALES_TAX_RETAIL)
}
DEFAULT_PROFILE = "retail"


def get_profile(name: str | None) -> Profile:
    """The profile called ``name`` (None = the default); ValueError naming the choices otherwise."""
    key = DEFAULT_PROFILE if name is None else name.strip().lower()
    if key not in PROFILES:
        raise ValueError(f"unknown company profile {name!r}; choose one of: {', '.join(PROFILES)}")
    return PROFILES[key]
