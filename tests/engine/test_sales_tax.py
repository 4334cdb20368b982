"""The store's sales tax lands in QuickBooks' sales tax liability (owed to an agency), totals to the cent."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from qbsync.queue import lists
from qbsync.storefronts.records import DiscountLine, OrderLine, Refund, RefundLine, ShippingLine, TaxLine
from qbsync.storefronts.shopify import normalize as shopify
from qbsync.storefronts.woocommerce import normalize as woo
from tests.accounting import check_order
from tests.engine.conftest import account_of_type, make_order

PROFILES = ("retail", "multicurrency")
# What a merchant picks on the settings page for a company set up as 'retail' (until setup chooses them).
CHOSEN = {
    "retail": {
        "income_account": "Sales",
        "shipping_account": "Freight Income",
        "discount_account": "Discounts Given",
        "tax_agency": "State Department of Revenue",
    },
}
CHOSEN["multicurrency"] = CHOSEN["retail"]  # the same US shop with multicurrency on


def _shop(make_shop, profile: str):
    shop = make_shop(profile=profile)
    shop.configure(**CHOSEN[profile])
    return shop


def _agency(profile: str) -> str:
    return CHOSEN[profile]["tax_agency"]


@pytest.fixture
def shop(make_shop, profile: str):
    """A shop on ``profile`` (each test below names its profiles) with the accounts its merchant chose."""
    return _shop(make_shop, profile)


def _state_sales_tax_item(shop, profile: str) -> None:
    """The merchant's own 6.25 % sales tax item, for tax_mode=quickbooks (QuickBooks computes the tax)."""
    shop.in_quickbooks("ItemSalesTaxAdd", {"Name": "State Sales Tax", "TaxRate": "6.25",
                                           "TaxVendorRef": {"FullName": _agency(profile)}})


def _lines(sale):
    return sale[f"{sale['kind']}LineRet"]


def _total(sale) -> Decimal:
    return Decimal(sale.get("TotalAmount") or Decimal(sale["Subtotal"]) + Decimal(sale["SalesTaxTotal"]))


def _item_kinds(shop) -> dict[str, str]:
    return {item["Name"]: item["kind"] for item in shop.company.items()}


def _taxed_order(number: int, **fields):
    """2 x 20.00 taxable + 10.00 exempt, 5.00 shipping taxed; state 6.25 % and county 1.5 %."""
    lines = (
        OrderLine(id="1", product_id="101", sku="MUG-RED", name="Red mug", quantity=Decimal(2),
                  unit_price=Decimal("20.00"), subtotal=Decimal("40.00"), total=Decimal("40.00"),
                  tax=Decimal("3.10"), taxable=True),
        OrderLine(id="2", product_id="102", sku="BOOK", name="Book", quantity=Decimal(1),
                  unit_price=Decimal("10.00"), subtotal=Decimal("10.00"), total=Decimal("10.00"),
                  tax=Decimal("0"), taxable=False),
    )
    values = dict(
        lines=lines,
        shipping_lines=(
            ShippingLine(id="s1", title="Flat rate", amount=Decimal("5.00"), tax=Decimal("0.39")),
        ),
        tax_lines=(
            TaxLine(label="State Tax", rate_percent=Decimal("6.25"), amount=Decimal("2.81")),
            TaxLine(label="County Tax", rate_percent=Decimal("1.5"), amount=Decimal("0.68")),
        ),
        subtotal=Decimal("50.00"),
        shipping_total=Decimal("5.00"),
        tax_total=Decimal("3.49"),
        total=Decimal("58.49"),
    )
    values.update(fields)
    return make_order(number, **values)


@pytest.mark.parametrize("profile", PROFILES)
def test_each_store_rate_is_owed_to_the_tax_agency_on_its_own_sales_tax_item(make_shop, profile):
    shop = _shop(make_shop, profile)
    order = _taxed_order(2001)
    shop.feed("order", order)
    shop.sync()

    (sale,) = shop.sales()
    assert _total(sale) == order.total
    assert Decimal(sale["SalesTaxTotal"]) == 0  # QuickBooks added nothing of its own
    assert shop.company.books().tax_by_agency == {_agency(profile): Decimal("3.49")}
    by_name = {line["ItemRef"]["FullName"]: line for line in _lines(sale)}
    assert by_name["State Tax 6.25%"]["Amount"] == "2.81"
    assert by_name["County Tax 1.5%"]["Amount"] == "0.68"
    kinds = _item_kinds(shop)
    assert kinds["State Tax 6.25%"] == kinds["County Tax 1.5%"] == "ItemSalesTax"
    state = shop.company.find("Item", "State Tax 6.25%")
    assert (state["TaxRate"], state["TaxVendorRef"]["FullName"]) == ("6.25", _agency(profile))
    # Taxable sales are reported as taxable, the exempt book is not; no other-charge "Sales Tax" line.
    assert by_name["MUG-RED"]["SalesTaxCodeRef"]["FullName"] == "Tax"
    assert by_name["BOOK"]["SalesTaxCodeRef"]["FullName"] == "Non"
    assert by_name["Shipping"]["SalesTaxCodeRef"]["FullName"] == "Tax"
    assert "Sales Tax" not in by_name
    assert shop.requests("VendorAddRq") == []  # the merchant's own agency, not a new one
    shop.assert_every_request_valid()


@pytest.mark.parametrize("profile", PROFILES)
def test_a_second_order_reuses_the_sales_tax_items(shop, profile):
    shop.feed("order", _taxed_order(2001))
    shop.sync()
    sent = len(shop.requests("ItemSalesTaxAddRq")) + len(shop.requests("VendorAddRq"))
    shop.feed("order", _taxed_order(2002))
    shop.sync()

    assert len(shop.sales()) == 2
    assert shop.company.books().tax_by_agency == {_agency(profile): Decimal("6.98")}
    assert len(shop.requests("ItemSalesTaxAddRq")) + len(shop.requests("VendorAddRq")) == sent
    kinds = _item_kinds(shop)
    assert [kinds[name] for name in ("State Tax 6.25%", "County Tax 1.5%", "Store Tax On Lines")] == [
        "ItemSalesTax"
    ] * 3


@pytest.mark.parametrize("profile", PROFILES)
def test_tax_after_a_discount_keeps_its_sign(shop, profile):
    """QuickBooks gives a tax line the sign of the line above: the tax must not follow the discount."""
    order = _taxed_order(
        2003,
        shipping_lines=(),
        shipping_total=Decimal("0"),
        discounts=(DiscountLine(code="SAVE5", title="SAVE5", amount=Decimal("5.00"), tax=Decimal("0.39")),),
        discount_total=Decimal("5.00"),
        tax_total=Decimal("3.49"),
        total=Decimal("48.49"),
    )
    shop.feed("order", order)
    shop.sync()

    (sale,) = shop.sales()
    assert _total(sale) == Decimal("48.49")
    assert shop.company.books().tax_by_agency == {_agency(profile): Decimal("3.49")}


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(
    ("sample_name", "normalizer"),
    [("woocommerce/order.json", woo.order), ("shopify/order.json", shopify.order)],
)
def test_sample_orders_owe_the_store_s_tax(shop, sample, sample_name, normalizer, profile):
    order = normalizer(sample(sample_name))
    shop.feed("order", order)
    shop.sync()

    (sale,) = shop.sales()
    assert _total(sale) == order.total
    assert shop.company.books().tax_by_agency == {_agency(profile): order.tax_total}


@pytest.mark.parametrize("profile", PROFILES)
def test_prices_that_include_tax_are_split_into_income_and_tax(make_shop, profile):
    """Shopify's taxes_included: 2 x 21.25 holds 2.50 of tax at 6.25 %; the buyer pays 42.50 + 5.00."""
    shop = _shop(make_shop, profile)
    line = OrderLine(id="1", product_id="101", sku="MUG-RED", name="Red mug", quantity=Decimal(2),
                     unit_price=Decimal("21.25"), subtotal=Decimal("42.50"), total=Decimal("42.50"),
                     tax=Decimal("2.50"), taxable=True)
    order = make_order(
        2006,
        lines=(line,),
        prices_include_tax=True,
        tax_lines=(TaxLine(label="State Tax", rate_percent=Decimal("6.25"), amount=Decimal("2.50")),),
        tax_total=Decimal("2.50"),
        subtotal=Decimal("42.50"),
        total=Decimal("47.50"),
    )
    shop.feed("order", order)
    shop.sync()

    (sale,) = shop.sales()
    assert _total(sale) == Decimal("47.50")  # the buyer paid the same
    assert shop.company.books().tax_by_agency == {_agency(profile): Decimal("2.50")}
    by_name = {line["ItemRef"]["FullName"]: line for line in _lines(sale)}
    assert by_name["MUG-RED"]["Amount"] == "40.00"  # income without the tax in the price
    assert by_name["Shipping"]["Amount"] == "5.00"


@pytest.mark.parametrize("profile", PROFILES)
def test_a_same_named_item_that_is_not_a_sales_tax_item_is_not_used(shop, profile):
    shop.in_quickbooks(
        "ItemOtherChargeAdd",
        {
            "Name": "State Tax 6.25%",
            "SalesOrPurchase": {"Price": "0", "AccountRef": {"FullName": "Sales Tax Payable"}},
        },
    )
    order = _taxed_order(2004)
    shop.feed("order", order)
    shop.sync()

    assert shop.sales() == []
    (parked,) = [job for job in shop.jobs() if job.state == "parked"]
    assert "not a sales tax item" in parked.reason and "State Tax 6.25%" in parked.reason


@pytest.mark.parametrize("profile", PROFILES)
def test_with_quickbooks_tax_a_taxed_discount_lowers_the_taxable_amount(shop, profile):
    """tax_mode=quickbooks: the store took its discount off taxed sales, so QuickBooks must too."""
    _state_sales_tax_item(shop, profile)
    shop.configure(tax_mode="quickbooks", quickbooks_tax_item="State Sales Tax")
    line = OrderLine(id="1", product_id="101", sku="MUG-RED", name="Red mug", quantity=Decimal(2),
                     unit_price=Decimal("20.00"), subtotal=Decimal("40.00"), total=Decimal("30.00"),
                     tax=Decimal("1.88"), taxable=True)
    order = make_order(
        2005,
        lines=(line,),
        shipping_lines=(),
        shipping_total=Decimal("0"),
        discounts=(DiscountLine(code="TEN", title="TEN", amount=Decimal("10.00")),),
        discount_total=Decimal("10.00"),
        tax_lines=(TaxLine(label="State", rate_percent=Decimal("6.25"), amount=Decimal("1.88")),),
        tax_total=Decimal("1.88"),
        total=Decimal("31.88"),
    )
    shop.feed("order", order)
    shop.sync()

    (sale,) = shop.sales()
    assert Decimal(sale["SalesTaxTotal"]) == Decimal("1.88")  # 30.00 x 6.25 %, as the store charged
    assert _total(sale) == order.total


@pytest.mark.parametrize("profile", PROFILES)
def test_with_quickbooks_tax_the_cent_its_rounding_differs_goes_on_the_adjustment_line(shop, profile):
    """The store rounds tax per line (3 x 0.0625 -> 0.18); QuickBooks rounds the sum (0.1875 -> 0.19)."""
    _state_sales_tax_item(shop, profile)
    shop.configure(tax_mode="quickbooks", quickbooks_tax_item="State Sales Tax")
    with shop.runtime.db.transaction() as session:
        lists.request_refresh(session, shop.connection_id, ["Item"])  # as the setup does
    shop.sync()
    lines = tuple(
        OrderLine(id=str(n), product_id=str(100 + n), sku=f"PIN-{n}", name=f"Pin {n}", quantity=Decimal(1),
                  unit_price=Decimal("1.00"), subtotal=Decimal("1.00"), total=Decimal("1.00"),
                  tax=Decimal("0.06"), taxable=True)
        for n in range(3)
    )
    order = make_order(
        2007,
        lines=lines,
        shipping_lines=(),
        shipping_total=Decimal("0"),
        tax_lines=(TaxLine(label="State", rate_percent=Decimal("6.25"), amount=Decimal("0.18")),),
        tax_total=Decimal("0.18"),
        subtotal=Decimal("3.00"),
        total=Decimal("3.18"),
    )
    shop.feed("order", order)
    shop.sync()

    (sale,) = shop.sales()
    assert _total(sale) == Decimal("3.18")
    assert sale["SalesTaxTotal"] == "0.19"
    (rounding,) = [line for line in _lines(sale) if line["ItemRef"]["FullName"] == "Rounding"]
    assert rounding["Amount"] == "-0.01"


# The two companies whose owner answered no to sales tax: a consulting firm and a shop that sells stock.
@pytest.mark.parametrize("profile", ["service", "oregon"])
def test_on_a_company_without_sales_tax_a_taxed_order_waits_with_the_fix(make_shop, profile):
    shop = make_shop(profile=profile)
    income = account_of_type(shop.company, "Income")
    shop.configure(income_account=income, shipping_account=income)
    shop.feed("order", _taxed_order(2008))
    shop.sync()

    assert shop.sales() == []
    reasons = " ".join(job.reason or "" for job in shop.jobs() if job.state == "parked")
    assert "sales tax is turned off in this QuickBooks company" in reasons
    assert "Edit > Preferences > Sales Tax" in reasons


@pytest.mark.parametrize("profile", PROFILES)
def test_a_refund_takes_its_tax_off_the_sales_tax_items_the_order_used(make_shop, profile):
    """One of the two mugs comes back with its 1.55 of tax: the 3.49 the order owes the agency falls to
    1.94, split over the order's own state and county items; nothing goes on an other-charge tax item.
    The refund was made at 21:00 in New York on 4 March (2 March 02:00 UTC): it is dated the 4th."""
    shop = _shop(make_shop, profile)
    shop.configure(store_timezone="America/New_York")
    shop.feed("order", _taxed_order(2010))
    shop.sync()
    refund = Refund(
        storefront_id="911", order_id="2010", amount=Decimal("21.55"), reason="chipped",
        lines=(RefundLine(product_id="101", sku="MUG-RED", quantity=Decimal(1), amount=Decimal("20.00"),
                          tax=Decimal("1.55"), restock=True),),
        created_at=datetime(2024, 3, 5, 2, 0, tzinfo=UTC),
    )
    shop.feed("refund", refund)
    shop.sync()

    agency = _agency(profile)
    check_order(shop.company, "R911", credited="21.55", refunded="21.55", open_credits="0",
                tax_by_agency={agency: "-1.55"})
    assert shop.company.books().tax_by_agency == {agency: Decimal("1.94")}
    (memo,) = shop.company.transactions("CreditMemo")
    by_name = {line["ItemRef"]["FullName"]: line["Amount"] for line in memo["CreditMemoLineRet"]}
    assert (by_name["State Tax 6.25%"], by_name["County Tax 1.5%"]) == ("1.25", "0.30")
    assert "Sales Tax" not in by_name
    (paid_back,) = shop.company.transactions("ARRefundCreditCard")
    assert memo["TxnDate"] == paid_back["TxnDate"] == "2024-03-04"
    shop.assert_every_request_valid()


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("api", ["itemized", "since 2024-10"])
def test_refunded_shipping_takes_its_tax_off_the_sales_tax_items_too(make_shop, profile, api):
    """A mug (20.00 + 1.55 tax) and the shipping (5.00 + 0.39 tax) come back, 26.94 paid out. Shopify said
    what was shipping and its tax in a "shipping_refund" adjustment before API 2024-10; since then the
    refund body leaves shipping out, and the 5.39 beyond the mug is the order's whole shipping with its
    tax. Either way the agency is owed 3.49 - 1.94 = 1.55, and nothing lands on the adjustment line."""
    shop = _shop(make_shop, profile)
    shop.feed("order", _taxed_order(2012))
    shop.sync()
    adjustments = ([{"id": 9, "kind": "shipping_refund", "amount": "-5.00", "tax_amount": "-0.39"}]
                   if api == "itemized" else [])
    refund = shopify.refund({
        "id": 912, "order_id": 2012, "note": "wrong colour", "created_at": "2024-03-05T12:00:00Z",
        "transactions": [{"kind": "refund", "status": "success", "amount": "26.94",
                          "gateway": "shopify_payments"}],
        "refund_line_items": [{"id": 1, "line_item_id": 1, "quantity": 1, "restock_type": "return",
                               "subtotal": 20.0, "total_tax": 1.55,
                               "line_item": {"id": 1, "product_id": 101, "sku": "MUG-RED"}}],
        "order_adjustments": adjustments,
    })
    shop.feed("refund", refund)
    shop.sync()

    agency = _agency(profile)
    assert shop.company.books().tax_by_agency == {agency: Decimal("1.55")}
    check_order(shop.company, "R912", credited="26.94", refunded="26.94", open_credits="0",
                tax_by_agency={agency: "-1.94"})
    (memo,) = shop.company.transactions("CreditMemo")
    by_name = {line["ItemRef"]["FullName"]: line["Amount"] for line in memo["CreditMemoLineRet"]}
    assert by_name["Shipping"] == "5.00"
    assert sum(Decimal(by_name[name]) for name in ("State Tax 6.25%", "County Tax 1.5%")) == Decimal("1.94")
    assert "Adjustment" not in by_name and "Sales Tax" not in by_name
    shop.assert_every_request_valid()


def test_money_returned_beyond_the_lines_is_shipping_only_when_it_adds_up_to_it():
    """Pure. Without the store's itemized shipping tax, the rest of a refund is read as shipping only where
    it is unambiguous; a goodwill 2.00 is not shipping, and stays on the adjustment line."""
    from qbsync.queue.sales_tax import refunded_shipping

    order = _taxed_order(2013)
    mug = RefundLine(amount=Decimal("20.00"), tax=Decimal("1.55"))

    def refund(amount: str, **fields: Decimal) -> Refund:
        return Refund(storefront_id="1", order_id="2013", amount=Decimal(amount), lines=(mug,), **fields)

    assert refunded_shipping(refund("26.94"), order) == (Decimal("5.00"), Decimal("0.39"))
    assert refunded_shipping(refund("23.55"), order) == (0, 0)  # goodwill
    assert refunded_shipping(refund("26.94", shipping=Decimal("5.00")), order) == (
        Decimal("5.00"), Decimal("0.39"))
    assert refunded_shipping(refund("26.55", shipping=Decimal("5.00")), order) == (
        Decimal("5.00"), 0)  # the shipping, without its tax
    itemized = refund("26.94", shipping=Decimal("5.00"), shipping_tax=Decimal("0.39"))
    assert refunded_shipping(itemized, order) == (Decimal("5.00"), Decimal("0.39"))
