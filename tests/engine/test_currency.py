"""An order in another currency than the company's home currency is never booked as home-currency money."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.accounting import check_order
from tests.engine.conftest import make_order

RETAIL = {
    "income_account": "Sales",
    "shipping_account": "Freight Income",
    "discount_account": "Discounts Given",
}


@pytest.mark.parametrize("profile", ["retail", "service"])
def test_a_euro_order_waits_on_a_dollar_company_without_multicurrency(make_shop, profile):
    shop = make_shop(profile=profile)
    if profile == "retail":
        shop.configure(**RETAIL)
    shop.feed("order", make_order(4001, currency="EUR"))
    shop.feed("order", make_order(4002))  # another buyer's order in dollars goes ahead
    shop.sync()

    assert [sale["RefNumber"] for sale in shop.sales()] == ["4002"]
    (waiting,) = [job for job in shop.jobs() if job.kind == "order" and job.record_id == "4001"]
    assert waiting.state == "parked"
    assert "the order is in EUR" in waiting.reason and "turn on multicurrency in QuickBooks" in waiting.reason


# From here on one company each: a foreign order is booked only where multicurrency is on, which of the
# profiles only `multicurrency` has (and this first test needs a non-US home currency: `canada`).
def test_a_dollar_order_waits_on_a_canadian_company_without_multicurrency(make_shop):
    shop = make_shop(profile="canada")
    shop.sync()  # the connection's first session: QuickBooks tells its edition and currencies
    shop.feed("order", make_order(4003, currency="USD"))
    shop.sync()

    assert shop.sales() == []
    assert [job.kind for job in shop.jobs() if job.kind in ("customer", "item")] == []  # nothing added
    (waiting,) = [job for job in shop.jobs() if job.kind == "order"]
    assert waiting.state == "parked" and "keeps its books in CAD" in waiting.reason


def test_a_euro_order_on_a_multicurrency_company_goes_to_the_buyer_s_euro_account(make_shop):
    shop = make_shop(profile="multicurrency")
    shop.configure(**RETAIL)
    shop.sync()  # the first session: QuickBooks says multicurrency is on, home currency US Dollar
    shop.feed("order", make_order(4004, currency="EUR"))
    shop.feed("order", make_order(4054))  # the same buyer, in dollars
    shop.sync()

    by_ref = {sale["RefNumber"]: sale for sale in shop.sales()}
    euro = by_ref["4004"]
    customer = shop.company.find("Customer", euro["CustomerRef"]["FullName"])
    assert customer["CurrencyRef"]["FullName"] == "Euro"
    assert euro["CustomerRef"]["FullName"].endswith("(EUR)")
    assert euro["ExchangeRate"] == "1.08"  # QuickBooks' rate for the euro, not 1
    assert euro["TotalAmount"] == "24.00"  # euros, as the store charged
    dollars = by_ref["4054"]
    assert dollars["CustomerRef"]["FullName"] == "Number4, Buyer"  # the buyer's own (dollar) account
    assert dollars["ExchangeRate"] == "1"


def test_the_stores_own_rate_books_a_foreign_order_at_what_the_buyer_paid_at_home(make_shop):
    """A Canadian-dollar shop whose buyer paid in US dollars, the company's home currency: the sale is in
    Canadian dollars (the order's own amounts) at the store's rate, so its home value is what the buyer
    paid, to the cent; the invoiced order's payment is received at the same rate (no exchange difference)."""
    shop = make_shop(profile="multicurrency")
    shop.configure(**RETAIL)
    shop.sync()
    paid_in_dollars = {"currency": "CAD", "presentment_currency": "USD",
                       "presentment_total": Decimal("17.89")}
    shop.feed("order", make_order(4005, **paid_in_dollars))
    shop.sync()
    shop.configure(paid_order_as="invoice")
    shop.feed("order", make_order(4006, **paid_in_dollars))
    shop.sync()

    by_ref = {sale["RefNumber"]: sale for sale in shop.sales()}
    receipt = by_ref["4005"]
    assert receipt["ExchangeRate"] == "0.745417"  # 17.89 USD / 24.00 CAD: home units per Canadian dollar
    assert receipt["TotalAmount"] == "24.00"  # Canadian dollars, as the order's amounts are
    assert receipt["TotalAmountInHomeCurrency"] == "17.89"  # = 24.00 x 0.745417, to the cent
    check_order(shop.company, "4005", currency="CAD", sold="24.00", paid="24.00",
                accounts={"Undeposited Funds": "17.89"})
    assert by_ref["4006"]["ExchangeRate"] == "0.745417"
    (payment,) = shop.company.transactions("ReceivePayment")
    assert payment["ExchangeRate"] == "0.745417"
    check_order(shop.company, "4006", currency="CAD", sold="24.00", paid="24.00", open_balance="0.00",
                accounts={"Undeposited Funds": "17.89", "Accounts Receivable - CAD": "0.00"})
    shop.assert_every_request_valid()


PAID_IN_DOLLARS = {"currency": "CAD", "presentment_currency": "USD", "presentment_total": Decimal("17.89")}


def _full_refund(order_id: str, refund_id: str):
    """The whole order back: the mugs (19.00) and the shipping (5.00)."""
    from datetime import UTC, datetime

    from qbsync.storefronts.records import Refund, RefundLine

    return Refund(
        storefront_id=refund_id, order_id=order_id, amount=Decimal("24.00"), shipping=Decimal("5.00"),
        reason="returned", created_at=datetime(2024, 3, 5, 12, 0, tzinfo=UTC),
        lines=(RefundLine(line_id=f"{order_id}1", product_id="101", sku="MUG-RED", quantity=Decimal(2),
                          amount=Decimal("19.00"), restock=True),),
    )


def _rates(shop, kind: str) -> list[str]:
    return [txn.get("ExchangeRate") for txn in shop.company.transactions(kind)]


def _nothing_left_at_home(shop, receivable: str) -> None:
    """Sold and refunded in full: the money and what the buyer owes are back to zero, in their currency
    and at home (no exchange difference between the sale and its refund)."""
    books = shop.company.books()
    assert books.accounts.get(receivable, Decimal(0)) == 0
    assert books.home_accounts.get(receivable, Decimal(0)) == 0, books.home_accounts
    assert books.home_accounts.get("Undeposited Funds", Decimal(0)) == 0, books.home_accounts
    assert books.customer_credits == {}


def test_a_full_refund_of_a_foreign_order_is_booked_at_the_rate_of_its_sale(make_shop):
    """A sales receipt and a paid invoice at the store's rate, an unpaid invoice, and a WooCommerce euro
    order QuickBooks booked at its list's 1.08, each refunded in full after the merchant updated the euro
    to 1.10: the credit memos, the money paid back and the credit applied carry each sale's rate (not the
    list's 0.74 or 1.10), so Undeposited Funds and A/R come back to zero at home, to the cent."""
    shop = make_shop(profile="multicurrency")
    shop.configure(**RETAIL)
    shop.sync()
    shop.feed("order", make_order(4011, **PAID_IN_DOLLARS))
    shop.feed("order", make_order(4014, currency="EUR"))
    shop.sync()
    shop.configure(paid_order_as="invoice", sync_order_statuses=["processing", "completed", "on_hold"])
    shop.feed("order", make_order(4012, **PAID_IN_DOLLARS))
    shop.feed("order", make_order(4013, paid=False, status="on_hold", **PAID_IN_DOLLARS))
    shop.sync()
    assert shop.company.books().home_accounts["Undeposited Funds"] == Decimal("61.70")  # 2 x 17.89 + 25.92
    (euro,) = [c for c in shop.company.store.all(("Currency",)) if c.data.get("CurrencyCode") == "EUR"]
    euro.data["ExchangeRate"] = "1.10"  # Lists > Currency List > Update exchange rates, by hand

    for number in ("4011", "4012", "4013", "4014"):
        shop.feed("refund", _full_refund(number, f"9{number}"))
    shop.sync()

    by_ref = {memo["RefNumber"]: memo["ExchangeRate"] for memo in shop.company.transactions("CreditMemo")}
    assert by_ref == {"R94011": "0.745417", "R94012": "0.745417", "R94013": "0.745417", "R94014": "1.08"}
    assert sorted(_rates(shop, "ARRefundCreditCard")) == ["0.745417", "0.745417", "1.08"]  # money back
    assert _rates(shop, "ReceivePayment") == ["0.745417"] * 2  # 4012's payment; 4013's credit applied
    check_order(shop.company, "4013", sold="24.00", paid="0.00", credited="24.00", currency="CAD",
                home_accounts={"Accounts Receivable - CAD": "0.00"})  # the credit applied at the sale's rate
    _nothing_left_at_home(shop, "Accounts Receivable - CAD")
    _nothing_left_at_home(shop, "Accounts Receivable - EUR")
    shop.assert_every_request_valid()


def test_a_cancelled_foreign_invoice_is_reversed_at_the_rate_of_its_sale(make_shop):
    """Paid, then cancelled: the reversing credit memo is worth at home what the invoice was; the refund
    paid out of it afterwards brings everything back to zero."""
    import dataclasses
    from datetime import UTC, datetime, timedelta

    shop = make_shop(profile="multicurrency")
    shop.configure(paid_order_as="invoice", **RETAIL)
    shop.sync()
    order = make_order(4015, **PAID_IN_DOLLARS)
    shop.feed("order", order)
    shop.sync()
    later = order.modified_at + timedelta(days=2)
    when = datetime(2024, 3, 3, tzinfo=UTC)
    shop.feed("order", dataclasses.replace(order, status="cancelled", modified_at=later, cancelled_at=when))
    shop.sync()

    (reversal,) = shop.company.transactions("CreditMemo")
    assert reversal["RefNumber"] == "C4015" and reversal["ExchangeRate"] == "0.745417"
    assert shop.company.books().home_accounts["Accounts Receivable - CAD"] == Decimal("-17.89")  # owed back

    shop.feed("refund", _full_refund("4015", "94015"))
    shop.sync()
    assert _rates(shop, "ARRefundCreditCard") == ["0.745417"]
    _nothing_left_at_home(shop, "Accounts Receivable - CAD")
    shop.assert_every_request_valid()
