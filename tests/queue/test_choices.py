"""The company setup's choices (pure): what each setting that names a QuickBooks record gets on a company
whose chart is the merchant's own; and preflight's reading of a request's references."""

from __future__ import annotations

from qbsync.queue import choices, preflight
from qbsync.queue.choices import CHOOSE, CREATE, KEEP, UNUSED, Company, Entry
from qbsync.queue.settings import BY_NAME, SyncSettings


def A(name: str, account_type: str, special: str = "") -> Entry:  # noqa: N802 - reads like the list
    return Entry("Account", name, account_type, special)


MERCHANT = Company(entries=(
    A("Checking", "Bank"),
    A("Undeposited Funds", "OtherCurrentAsset", "UndepositedFunds"),
    A("Stock on Hand", "OtherCurrentAsset", "InventoryAssets"),
    A("Prepaid Insurance", "OtherCurrentAsset"),
    A("State Tax Liability", "OtherCurrentLiability", "SalesTaxPayable"),
    A("Consulting Income", "Income"),
    A("Sales Income", "Income"),
    A("Freight Income", "Income"),
    A("Cost of Sales", "CostOfGoodsSold", "CostOfGoodsSold"),
    A("Owner's Equity", "Equity"),
    A("Retained Earnings", "Equity", "RetainedEarnings"),
    A("Startup Balances", "Equity", "OpeningBalanceEquity"),  # QuickBooks' own, renamed by the merchant
    Entry("Item", "Freight Out", "ItemNonInventory"),
    Entry("Item", "State Sales Tax", "ItemSalesTax"),
    Entry("Item", "Sales Tax", "ItemSalesTaxGroup"),
    Entry("SalesTaxCode", "Txb", taxable=True),
    Entry("SalesTaxCode", "Ex", taxable=False),
    Entry("PaymentMethod", "Visa", "Visa"),
    Entry("Vendor", "Dept. of Revenue", agency=True),
))
DEFAULTS = {name: s.default for name, s in BY_NAME.items()}


def _by_setting(company: Company, **settings) -> dict[str, choices.Proposal]:
    found = choices.propose(company, SyncSettings(settings), DEFAULTS)
    return {p.setting if p.need is not choices.PAYMENT_METHOD else f"method:{p.current}": p for p in found}


def test_on_a_merchants_own_chart_each_setting_gets_a_fitting_record_or_one_to_create():
    proposed = _by_setting(MERCHANT)

    chosen = {k: p.choice for k, p in proposed.items() if p.action == CHOOSE}
    assert chosen == {
        "income_account": "Sales Income",  # an income account, its name says sales
        "cogs_account": "Cost of Sales",  # QuickBooks' own, by SpecialAccountType
        "asset_account": "Stock on Hand",  # likewise, though no word of it says inventory asset
        "shipping_account": "Freight Income",  # by the word freight, not "Consulting Income"
        "tax_account": "State Tax Liability",
        "non_taxable_code": "Ex",  # the non-taxable code, by IsTaxable
        "tax_agency": "Dept. of Revenue",  # the company's own sales tax agency
        # QuickBooks' Opening Balance Equity, by SpecialAccountType, not "Owner's Equity"
        "opening_balance_account": "Startup Balances",
    }
    created = {k: (p.choice, p.request[0]) for k, p in proposed.items() if p.action == CREATE}
    assert created == {
        "discount_account": ("Sales Discounts", "AccountAdd"),
        # "Freight Out" is a non-inventory item: it says freight, but it is not a charge item
        "shipping_item": ("Shipping", "ItemOtherChargeAdd"),
        "fee_item": ("Fee", "ItemOtherChargeAdd"),
        "discount_item": ("Discount", "ItemDiscountAdd"),
        # the name "Sales Tax" is taken by a sales tax group: items share one name space
        "tax_item": ("Sales Tax (web)", "ItemOtherChargeAdd"),
        "adjustment_item": ("Rounding", "ItemOtherChargeAdd"),
    }
    # the items to create name the records chosen before them
    shipping = proposed["shipping_item"].request[1]
    assert shipping["SalesOrPurchase"]["AccountRef"] == {"FullName": "Freight Income"}
    assert shipping["SalesTaxCodeRef"] == {"FullName": "Ex"}
    assert proposed["discount_item"].request[1]["AccountRef"] == {"FullName": "Sales Discounts"}
    tax_line = proposed["tax_item"].request[1]["SalesOrPurchase"]
    assert tax_line["AccountRef"] == {"FullName": "State Tax Liability"}
    assert proposed["deposit_account"].action == KEEP  # empty: QuickBooks' Undeposited Funds
    assert proposed["inventory_adjustment_account"].action == UNUSED  # QuickBooks is the stock master
    assert proposed["taxable_code"].action == UNUSED  # tax_mode line sends every line non-taxable


def test_a_setting_naming_a_fitting_record_is_kept_and_one_of_the_wrong_type_is_not():
    proposed = _by_setting(MERCHANT, income_account="Consulting Income", shipping_account="Cost of Sales")
    assert proposed["income_account"].action == KEEP
    assert proposed["shipping_account"].action == CHOOSE
    assert "not a fitting account (CostOfGoodsSold)" in proposed["shipping_account"].reason


def test_quickbooks_tax_mode_needs_a_taxable_code_and_creates_a_sales_tax_item_for_the_agency():
    proposed = _by_setting(MERCHANT, tax_mode="quickbooks", quickbooks_tax_item="Web Sales Tax")
    assert proposed["taxable_code"].choice == "Txb"
    assert proposed["tax_item"].action == UNUSED
    # "Sales Tax" (a group) and "State Sales Tax" fit by type and name: the closest one is chosen
    assert proposed["quickbooks_tax_item"].action == CHOOSE
    alone = Company(entries=tuple(e for e in MERCHANT.entries if "Sales Tax" not in e.name))
    proposals = _by_setting(alone, tax_mode="quickbooks", quickbooks_tax_item="Web Sales Tax")
    proposal = proposals["quickbooks_tax_item"]
    assert proposal.action == CREATE
    assert proposal.request == ("ItemSalesTaxAdd", {
        "Name": "Web Sales Tax", "ItemDesc": "Sales tax collected by the web store", "TaxRate": "0",
        "TaxVendorRef": {"FullName": "Dept. of Revenue"}})


def test_without_sales_tax_lines_name_no_tax_code():
    no_tax = Company(entries=tuple(e for e in MERCHANT.entries if e.list_type != "SalesTaxCode"),
                     sales_tax=False)
    proposed = _by_setting(no_tax)
    assert (proposed["non_taxable_code"].action, proposed["non_taxable_code"].choice) == (CHOOSE, "")
    assert proposed["shipping_item"].request[1]["SalesTaxCodeRef"] is None  # left out when rendered
    not_read = Company(entries=no_tax.entries, read=frozenset({"Account", "Item"}))
    assert _by_setting(not_read)["non_taxable_code"].action == "missing"


def test_mapped_payment_methods_qbsync_lacks_are_created_with_the_type_their_name_says():
    mapped = ["stripe=Stripe Card", "visa=Visa", "bacs=Bank Transfer"]
    proposed = _by_setting(MERCHANT, payment_method_map=mapped)
    assert proposed["method:Visa"].action == KEEP
    assert proposed["method:Stripe Card"].request == (
        "PaymentMethodAdd", {"Name": "Stripe Card", "PaymentMethodType": "OtherCreditCard"})
    assert proposed["method:Bank Transfer"].request[1]["PaymentMethodType"] == "Other"


def test_every_need_is_a_setting_with_a_default():
    for need in choices.NEEDS:
        assert need.setting in BY_NAME, need.setting


def test_preflight_finds_references_by_name_the_company_lacks():
    fragment = """<SalesReceiptAddRq requestID="7.1"><SalesReceiptAdd>
      <CustomerRef><ListID>80000001-1</ListID></CustomerRef>
      <DepositToAccountRef><FullName>Chase Checking</FullName></DepositToAccountRef>
      <SalesReceiptLineAdd><ItemRef><FullName>Shipping &amp; Handling</FullName></ItemRef>
        <SalesTaxCodeRef><FullName>Non</FullName></SalesTaxCodeRef></SalesReceiptLineAdd>
      <SalesReceiptLineAdd><ItemRef><ListID>80000009-1</ListID><FullName>Mug</FullName></ItemRef>
        <SalesTaxCodeRef><FullName>Non</FullName></SalesTaxCodeRef></SalesReceiptLineAdd>
    </SalesReceiptAdd></SalesReceiptAddRq>"""
    have = {("SalesTaxCode", "non")}
    unread = {"PaymentMethod"}

    def known(list_type: str, name: str):
        return None if list_type in unread else (list_type, name.casefold()) in have

    missing = preflight.missing_references(fragment, known)
    assert [(m.element, m.list_type, m.name) for m in missing] == [
        ("DepositToAccountRef", "Account", "Chase Checking"),
        ("ItemRef", "Item", "Shipping & Handling"),
    ]
    assert missing[0].describe({"deposit_account": "Chase Checking"}) == (
        "account 'Chase Checking' (setting deposit_account)")


def test_quickbooks_own_accounts_keep_their_role_and_inventory_off_makes_products_non_inventory():
    service = Company(entries=(
        A("Uncategorized Income", "Income", "UncategorizedIncome"), A("Consulting Income", "Income"),
        Entry("SalesTaxCode", "Non", taxable=False)), inventory=False, sales_tax=False)
    proposed = _by_setting(service)
    assert proposed["income_account"].choice == "Consulting Income"
    assert proposed["cogs_account"].action == UNUSED
    changes = choices.preference_changes(service, SyncSettings({}))
    assert [(setting, value) for setting, value, _ in changes] == [("item_type_inventory", "non_inventory")]
    assert choices.preference_changes(MERCHANT, SyncSettings({})) == []


def test_names_checked_on_save_point_at_the_closest_fitting_record():
    errors = choices.name_errors({"shipping_account": "Freight Incom", "income_account": "Sales Income",
                                  "non_taxable_code": "", "payment_method_map": ["v=Vsia", "s=Stripe"]},
                                 MERCHANT)
    assert errors == {
        "shipping_account": "QuickBooks has no account 'Freight Incom'; did you mean 'Freight Income'? "
                            "(or let the company setup page create it)",
        # a typo is refused; a method QuickBooks has nothing like (Stripe) is added by the setup
        "payment_method_map": "QuickBooks has no payment method 'Vsia'; did you mean 'Visa'? "
                              "(or let the company setup page create it)",
    }
    assert choices.name_errors({"shipping_account": "Anything"}, Company()) == {}  # lists never read


def test_a_request_held_back_is_the_same_cause_as_the_3140_it_avoided():
    from qbsync.queue.causes import cause_of

    answered = cause_of(3140, 'There is an invalid reference to QuickBooks Account "Chase Checking" in the '
                              'SalesReceipt.  QuickBooks error message: Invalid argument.', None)
    held = cause_of(1, "A query request did not find a matching object",
                    "QuickBooks has no account 'Chase Checking' (setting deposit_account): choose another on "
                    "the setup page")
    assert held == answered
    quoted = cause_of(None, None, 'not sent yet: QuickBooks has no item "Bob\'s Shipping"; waiting for #4')
    assert quoted.title == "QuickBooks has no item \u201cBob's Shipping\u201d"


def test_opening_stock_corrections_get_an_opening_balance_equity_account_whenever_inventory_is_on():
    """Stock master QuickBooks (the default) leaves inventory_adjustment_account unused, but a late order's
    add-back corrects an item's opening stock: it needs the account QuickBooks offsets opening values to."""
    without = Company(entries=tuple(e for e in MERCHANT.entries if e.name != "Startup Balances"))
    proposal = _by_setting(without)["opening_balance_account"]
    assert proposal.action == CREATE  # not "Owner's Equity" nor Retained Earnings: no word, another role
    assert proposal.request == ("AccountAdd", {"Name": "Opening Balance Equity", "AccountType": "Equity",
                                               "Desc": "Added by qbsync for the web store's sales"})
    # The merchant made QuickBooks' own inactive after setup: a fresh one under a free name.
    inactive = Company(entries=(*without.entries,
                                Entry("Account", "Opening Balance Equity", "Equity", "OpeningBalanceEquity",
                                      active=False)))
    proposal = _by_setting(inactive)["opening_balance_account"]
    assert (proposal.action, proposal.choice) == (CREATE, "Opening Balance Equity (web)")
    assert _by_setting(Company(entries=MERCHANT.entries, inventory=False))["opening_balance_account"].action \
        == UNUSED
