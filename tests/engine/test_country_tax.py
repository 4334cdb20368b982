"""Canadian and UK company files: the store's GST/HST/VAT through the company's tax codes on every line;
nothing US-only (no transaction-wide sales tax item, no sales tax item lines) is sent to them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from qbsync.storefronts.records import OrderLine, Refund, RefundLine, ShippingLine, TaxLine
from tests.accounting import check_order, check_synced_order
from tests.engine.conftest import account_of_type, make_order

# What the merchant (or the company setup) picks for these companies: their accounts and codes.
CHOSEN = {"income_account": "Sales", "shipping_account": "Sales", "discount_account": "Sales",
          "non_taxable_code": "E"}


def _lines(sale):
    return {line["ItemRef"]["FullName"]: line for line in sale[f"{sale['kind']}LineRet"]}


def _nothing_us_only_was_sent(shop) -> None:
    sent = "".join(entry.request for entry in shop.company.request_log)
    assert "<ItemSalesTaxRef>" not in sent
    assert shop.requests("ItemSalesTaxAddRq") == [] and shop.requests("VendorAddRq") == []
    shop.assert_every_request_valid()


def _order(number: int, currency: str, rate: str, tax: str, shipping_tax: str, **fields):
    """2 x 20.00 taxed and a 5.00 untaxed book, 10.00 shipping taxed, at one rate."""
    lines = (
        OrderLine(id="1", product_id="101", sku="MUG-RED", name="Red mug", quantity=Decimal(2),
                  unit_price=Decimal("20.00"), subtotal=Decimal("40.00"), total=Decimal("40.00"),
                  tax=Decimal(tax), taxable=True),
        OrderLine(id="2", product_id="102", sku="BOOK", name="Book", quantity=Decimal(1),
                  unit_price=Decimal("5.00"), subtotal=Decimal("5.00"), total=Decimal("5.00"), taxable=False),
    )
    total_tax = Decimal(tax) + Decimal(shipping_tax)
    values = dict(
        currency=currency,
        lines=lines,
        shipping_lines=(
            ShippingLine(id="s", title="Post", amount=Decimal("10.00"), tax=Decimal(shipping_tax)),
        ),
        tax_lines=(TaxLine(label="Tax", rate_percent=Decimal(rate), amount=total_tax),),
        subtotal=Decimal("45.00"),
        shipping_total=Decimal("10.00"),
        tax_total=total_tax,
        total=Decimal("55.00") + total_tax,
    )
    values.update(fields)
    return make_order(number, **values)


# Canada's own codes and rounding (H and GST) on both Canadian companies, with and without multicurrency;
# the UK's VAT-inclusive prices on both UK companies (a web shop with stock, a consultancy without). The
# tests further down that apply to both countries run on both.
CANADIAN = pytest.mark.parametrize("profile", ["canada", "canada-multicurrency"])


@CANADIAN
def test_a_canadian_company_charges_the_store_s_hst_through_code_h(make_shop, profile):
    shop = make_shop(profile=profile)
    shop.configure(**CHOSEN)
    shop.sync()  # the first session: QuickBooks tells it is a Canadian edition
    shop.feed("order", _order(5001, "CAD", rate="13", tax="5.20", shipping_tax="1.30"))
    shop.sync()

    (sale,) = shop.sales()
    by_item = _lines(sale)
    codes = {name: line["SalesTaxCodeRef"]["FullName"] for name, line in by_item.items()}
    assert codes == {"MUG-RED": "H", "BOOK": "E", "Shipping": "H"}
    assert (sale["SalesTaxTotal"], sale["TotalAmount"]) == ("6.50", "61.50")
    assert shop.company.books().tax_by_agency == {"Receiver General": Decimal("6.50")}
    check_synced_order(shop.company, _order(5001, "CAD", rate="13", tax="5.20", shipping_tax="1.30"))
    _nothing_us_only_was_sent(shop)


@pytest.mark.parametrize("profile", ["uk", "uk-service"])
def test_a_uk_company_books_vat_inclusive_prices_net_with_the_vat_through_code_s(make_shop, profile):
    shop = make_shop(profile=profile)
    income = account_of_type(shop.company, "Income")
    accounts = dict.fromkeys(("income_account", "shipping_account", "discount_account"), income)
    shop.configure(**(CHOSEN | accounts))
    shop.sync()
    line = OrderLine(id="1", product_id="101", sku="MUG-RED", name="Red mug", quantity=Decimal(2),
                     unit_price=Decimal("24.00"), subtotal=Decimal("48.00"), total=Decimal("48.00"),
                     tax=Decimal("8.00"), taxable=True)
    book = OrderLine(id="2", product_id="102", sku="BOOK", name="Book", quantity=Decimal(1),
                     unit_price=Decimal("5.00"), subtotal=Decimal("5.00"), total=Decimal("5.00"),
                     taxable=False)
    order = make_order(
        5002,
        currency="GBP",
        prices_include_tax=True,
        lines=(line, book),
        shipping_lines=(
            ShippingLine(id="s", title="Royal Mail", amount=Decimal("12.00"), tax=Decimal("2.00")),
        ),
        tax_lines=(TaxLine(label="VAT", rate_percent=Decimal("20"), amount=Decimal("10.00")),),
        subtotal=Decimal("53.00"),
        shipping_total=Decimal("12.00"),
        tax_total=Decimal("10.00"),
        total=Decimal("65.00"),
    )
    shop.feed("order", order)
    shop.sync()

    (sale,) = shop.sales()
    by_item = _lines(sale)
    booked = {name: (line["Amount"], line["SalesTaxCodeRef"]["FullName"]) for name, line in by_item.items()}
    assert booked == {"MUG-RED": ("40.00", "S"), "BOOK": ("5.00", "E"), "Shipping": ("10.00", "S")}
    assert (sale["SalesTaxTotal"], sale["TotalAmount"]) == ("10.00", "65.00")
    assert shop.company.books().tax_by_agency == {"HM Revenue & Customs": Decimal("10.00")}
    check_synced_order(shop.company, order)
    _nothing_us_only_was_sent(shop)


@CANADIAN
def test_the_cent_between_the_store_s_gst_and_quickbooks_goes_on_the_adjustment_line(make_shop, profile):
    """The store rounds GST per line (3 x 0.055 -> 0.18); QuickBooks rounds the sum (0.165 -> 0.17)."""
    shop = make_shop(profile=profile)
    shop.configure(**CHOSEN)
    shop.sync()
    lines = tuple(
        OrderLine(id=str(n), product_id=str(100 + n), sku=f"PIN-{n}", name=f"Pin {n}", quantity=Decimal(1),
                  unit_price=Decimal("1.10"), subtotal=Decimal("1.10"), total=Decimal("1.10"),
                  tax=Decimal("0.06"), taxable=True)
        for n in range(3)
    )
    order = make_order(
        5003, currency="CAD", lines=lines, shipping_lines=(), shipping_total=Decimal("0"),
        tax_lines=(TaxLine(label="GST", rate_percent=Decimal("5"), amount=Decimal("0.18")),),
        subtotal=Decimal("3.30"), tax_total=Decimal("0.18"), total=Decimal("3.48"),
    )
    shop.feed("order", order)
    shop.sync()

    (sale,) = shop.sales()
    assert (sale["SalesTaxTotal"], sale["TotalAmount"]) == ("0.17", "3.48")
    rounding = _lines(sale)["Rounding"]
    assert (rounding["Amount"], rounding["SalesTaxCodeRef"]["FullName"]) == ("0.01", "E")
    _nothing_us_only_was_sent(shop)


REFUNDS = [  # profile, currency, rate, tax on the 2 mugs, on the shipping, refunded, owed after, agency, code
    ("canada", "CAD", "13", "5.20", "1.30", "38.90", "2.60", "Receiver General", "H"),
    ("uk", "GBP", "20", "8.00", "2.00", "41.00", "4.00", "HM Revenue & Customs", "S"),
]


@pytest.mark.parametrize(("profile", "currency", "rate", "tax", "shipping_tax", "refunded", "owed", "agency",
                          "code"), REFUNDS)
def test_a_refund_takes_its_tax_off_through_the_order_s_codes(
    make_shop, profile, currency, rate, tax, shipping_tax, refunded, owed, agency, code
):
    """One of the two mugs (20.00 and its tax), the untaxed book (5.00) and the taxed shipping (10.00 and
    its tax) refunded: the credit memo's lines carry the sale's codes, so the tax owed is the order's tax
    less the refunded tax, and the credit is the money refunded."""
    shop = make_shop(profile=profile)
    shop.configure(**CHOSEN)
    shop.sync()
    shop.feed("order", _order(5011, currency, rate=rate, tax=tax, shipping_tax=shipping_tax))
    shop.sync()
    mug = RefundLine(line_id="1", product_id="101", sku="MUG-RED", quantity=Decimal(1),
                     amount=Decimal("20.00"),
                     tax=Decimal(tax) / 2, restock=True)
    book = RefundLine(line_id="2", product_id="102", sku="BOOK", quantity=Decimal(1), amount=Decimal("5.00"),
                      restock=True)
    shop.feed("refund", Refund(storefront_id="971", order_id="5011", amount=Decimal(refunded),
                               shipping=Decimal("10.00"), lines=(mug, book),
                               created_at=datetime(2024, 3, 5, 12, 0, tzinfo=UTC)))
    shop.sync()

    (memo,) = shop.company.transactions("CreditMemo")
    lines = memo["CreditMemoLineRet"]
    assert {line["ItemRef"]["FullName"]: line["SalesTaxCodeRef"]["FullName"] for line in lines} == {
        "MUG-RED": code, "BOOK": "E", "Shipping": code}  # and no tax typed on a line
    assert shop.company.books().tax_by_agency == {agency: Decimal(owed)}
    check_order(shop.company, "R971", credited=refunded, refunded=refunded, open_balance="0.00",
                open_credits="0.00")
    _nothing_us_only_was_sent(shop)


COUNTRIES = [  # profile, currency, rate, tax on the 2 mugs, on the shipping, agency, the taxed lines' code
    ("canada", "CAD", "13", "5.20", "1.30", "Receiver General", "H"),
    ("uk", "GBP", "20", "8.00", "2.00", "HM Revenue & Customs", "S"),
]


@pytest.mark.parametrize(("profile", "currency", "rate", "tax", "shipping_tax", "agency", "code"), COUNTRIES)
def test_a_refund_built_while_the_tax_codes_are_being_read_again_waits_for_them(
    make_shop, profile, currency, rate, tax, shipping_tax, agency, code
):
    """The codes list is being read again (a refresh started, entries not back yet) when the refund comes:
    it waits for the read, as orders do, and then takes the sale's codes; it is never parked."""
    from sqlalchemy import delete

    from qbsync.queue import lists
    from qbsync.storage.models import Checkpoint, QbListEntry

    shop = make_shop(profile=profile)
    shop.configure(**CHOSEN)
    shop.sync()
    shop.feed("order", _order(5013, currency, rate=rate, tax=tax, shipping_tax=shipping_tax))
    shop.sync()
    with shop.runtime.db.transaction() as session:
        session.execute(delete(QbListEntry).where(QbListEntry.connection_id == shop.connection_id,
                                                  QbListEntry.list_type == "SalesTaxCode"))
        session.execute(delete(Checkpoint).where(Checkpoint.connection_id == shop.connection_id,
                                                 Checkpoint.name == f"{lists.CHECKPOINT}:SalesTaxCode"))
    half = Decimal(tax) / 2
    mug = RefundLine(line_id="1", product_id="101", sku="MUG-RED", quantity=Decimal(1),
                     amount=Decimal("20.00"), tax=half, restock=True)
    refunded = str(Decimal("20.00") + half)
    shop.feed("refund", Refund(storefront_id="973", order_id="5013", amount=Decimal(refunded), lines=(mug,),
                               created_at=datetime(2024, 3, 5, 12, 0, tzinfo=UTC)))
    shop.sync()

    (memo,) = shop.company.transactions("CreditMemo")
    assert {line["ItemRef"]["FullName"]: line["SalesTaxCodeRef"]["FullName"]
            for line in memo["CreditMemoLineRet"]} == {"MUG-RED": code}
    assert not [job for job in shop.jobs() if job.state == "parked"]
    check_order(shop.company, "R973", credited=refunded, refunded=refunded, open_balance="0.00",
                open_credits="0.00")


def test_refund_codes_follow_what_the_store_refunded():
    """Pure. Shipping refunded without its tax, and a line refunded without tax, take the exempt code;
    tax refunded at a rate no code charges is refused with the fix, never booked exempt."""
    from qbsync.queue import sales_tax, tax_codes

    codes = (tax_codes.TaxCode("H", True, Decimal(13)), tax_codes.TaxCode("E", False))
    country = tax_codes.CountryTax(codes, "E")
    order = _order(5012, "CAD", rate="13", tax="5.20", shipping_tax="1.30")
    mug = RefundLine(line_id="1", sku="MUG-RED", amount=Decimal("20.00"), tax=Decimal("2.60"))
    assert tax_codes.refunded_line_code(order, mug, country) == "H"
    assert tax_codes.refunded_line_code(order, replace(mug, tax=Decimal(0)), country) == "E"
    with_tax = Refund(storefront_id="1", order_id="5012", amount=Decimal("33.90"), shipping=Decimal("10.00"),
                      lines=(mug,))
    assert sales_tax.refunded_shipping(with_tax, order) == (Decimal("10.00"), Decimal("1.30"))
    assert tax_codes.refunded_shipping_code(order, Decimal("1.30"), country) == "H"
    without_tax = replace(with_tax, amount=Decimal("32.60"))
    assert sales_tax.refunded_shipping(without_tax, order) == (Decimal("10.00"), 0)
    assert tax_codes.refunded_shipping_code(order, Decimal(0), country) == "E"
    other = replace(order, tax_lines=(), lines=(replace(order.lines[0], tax_lines=()),))
    with pytest.raises(ValueError, match="no QuickBooks sales tax code charges that rate"):
        tax_codes.refunded_line_code(other, replace(mug, tax=Decimal("1.00")), country)


@pytest.mark.parametrize(("profile", "currency", "rate", "tax", "shipping_tax", "agency", "code"), COUNTRIES)
def test_an_order_that_arrives_before_the_first_session_is_booked_with_the_country_s_codes(
    make_shop, profile, currency, rate, tax, shipping_tax, agency, code
):
    """Before QuickBooks has said it is a Canadian or UK file, the order's sales tax items are queued as for
    a US one; they must not be added (nor wait for a US tax agency): the order goes through the country's
    code (H, S)."""
    shop = make_shop(profile=profile)
    shop.configure(**CHOSEN)
    order = _order(5004, currency, rate=rate, tax=tax, shipping_tax=shipping_tax)
    shop.feed("order", order)  # the store's webhook comes before the Web Connector first runs
    shop.sync()

    check_synced_order(shop.company, order, tax_by_agency={agency: str(Decimal(tax) + Decimal(shipping_tax))})
    (sale,) = shop.sales()
    assert _lines(sale)["MUG-RED"]["SalesTaxCodeRef"]["FullName"] == code
    _nothing_us_only_was_sent(shop)
