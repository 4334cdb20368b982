"""An order in another currency than the company's home currency is never booked as home-currency money."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from tests.accounting import cents, check_order
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


# A company that keeps its books in another currency than the order's, without multicurrency: Canada's in
# CAD and the UK's in GBP, each with an order in US dollars.
@pytest.mark.parametrize(("profile", "home"), [("canada", "CAD"), ("uk", "GBP")])
def test_a_dollar_order_waits_on_a_company_of_another_currency_without_multicurrency(make_shop, profile,
                                                                                    home):
    shop = make_shop(profile=profile)
    shop.sync()  # the connection's first session: QuickBooks tells its edition and currencies
    shop.feed("order", make_order(4003, currency="USD"))
    shop.sync()

    assert shop.sales() == []
    assert [job.kind for job in shop.jobs() if job.kind in ("customer", "item")] == []  # nothing added
    (waiting,) = [job for job in shop.jobs() if job.kind == "order"]
    assert waiting.state == "parked" and f"keeps its books in {home}" in waiting.reason


@dataclass(frozen=True)
class Books:
    """A multicurrency company and the figures a test expects of it. ``store``: a store in a foreign
    currency whose buyers paid in the company's home currency, ``paid_home`` for the 24.00 order."""

    profile: str
    home: str
    euro_rate: str  # the currency list's rate for the euro when the company is set up
    euro_rate_later: str  # what the merchant updates it to
    store: str
    paid_home: str
    store_rate: str  # paid_home / 24.00, to six places: home units per unit of the store's currency

    @property
    def receivable(self) -> str:
        """The A/R account QuickBooks keeps for the store's currency (name assumed: company_currency.py)."""
        return f"Accounts Receivable - {self.store}"

    def paid_at_home(self) -> dict[str, Any]:
        return {"currency": self.store, "presentment_currency": self.home,
                "presentment_total": Decimal(self.paid_home)}


# A US company with Canadian-dollar buyers, and a Canadian one selling to the US in US dollars.
MULTICURRENCY_BOOKS = [
    Books("multicurrency", "USD", "1.08", "1.10", store="CAD", paid_home="17.89",
          store_rate="0.745417"),
    Books("canada-multicurrency", "CAD", "1.47", "1.50", store="USD", paid_home="32.65",
          store_rate="1.360417"),
]
ON_MULTICURRENCY = pytest.mark.parametrize("currency_books", MULTICURRENCY_BOOKS,
                                            ids=lambda b: b.profile)


def _multicurrency_shop(make_shop, books: Books, **settings: Any):
    shop = make_shop(profile=books.profile)
    shop.configure(**(RETAIL if books.home == "USD" else {}), **settings)
    shop.sync()  # the first session: QuickBooks says multicurrency is on, and the home currency
    return shop


@ON_MULTICURRENCY
def test_a_euro_order_on_a_multicurrency_company_goes_to_the_buyer_s_euro_account(make_shop,
                                                                                  currency_books):
    books: Books = currency_books
    shop = _multicurrency_shop(make_shop, books)
    shop.feed("order", make_order(4004, currency="EUR"))
    shop.feed("order", make_order(4054, currency=books.home))  # the same buyer, in the home currency
    shop.sync()

    by_ref = {sale["RefNumber"]: sale for sale in shop.sales()}
    euro = by_ref["4004"]
    customer = shop.company.find("Customer", euro["CustomerRef"]["FullName"])
    assert customer["CurrencyRef"]["FullName"] == "Euro"
    assert euro["CustomerRef"]["FullName"].endswith("(EUR)")
    assert euro["ExchangeRate"] == books.euro_rate  # QuickBooks' rate for the euro, not 1
    assert euro["TotalAmount"] == "24.00"  # euros, as the store charged
    check_order(shop.company, "4004", currency="EUR", sold="24.00", paid="24.00",
                accounts={"Undeposited Funds": cents(Decimal("24.00") * Decimal(books.euro_rate))})
    at_home = by_ref["4054"]
    assert at_home["CustomerRef"]["FullName"] == "Number4, Buyer"  # the buyer's own (home currency) account
    assert at_home["ExchangeRate"] == "1"
    shop.assert_every_request_valid()


@ON_MULTICURRENCY
def test_the_stores_own_rate_books_a_foreign_order_at_what_the_buyer_paid_at_home(make_shop,
                                                                                  currency_books):
    """A shop in a foreign currency whose buyer paid in the company's home currency: the sale is in the
    store's currency (the order's own amounts) at the store's rate, so its home value is what the buyer
    paid, to the cent; the invoiced order's payment is received at the same rate (no exchange difference)."""
    books: Books = currency_books
    shop = _multicurrency_shop(make_shop, books)
    shop.feed("order", make_order(4005, **books.paid_at_home()))
    shop.sync()
    shop.configure(paid_order_as="invoice")
    shop.feed("order", make_order(4006, **books.paid_at_home()))
    shop.sync()

    by_ref = {sale["RefNumber"]: sale for sale in shop.sales()}
    receipt = by_ref["4005"]
    assert receipt["ExchangeRate"] == books.store_rate
    assert receipt["TotalAmount"] == "24.00"  # in the store's currency, as the order's amounts are
    assert receipt["TotalAmountInHomeCurrency"] == books.paid_home  # = 24.00 x the rate, to the cent
    check_order(shop.company, "4005", currency=books.store, sold="24.00", paid="24.00",
                accounts={"Undeposited Funds": books.paid_home})
    assert by_ref["4006"]["ExchangeRate"] == books.store_rate
    (payment,) = shop.company.transactions("ReceivePayment")
    assert payment["ExchangeRate"] == books.store_rate
    check_order(shop.company, "4006", currency=books.store, sold="24.00", paid="24.00", open_balance="0.00",
                accounts={"Undeposited Funds": books.paid_home, books.receivable: "0.00"})
    shop.assert_every_request_valid()


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


@ON_MULTICURRENCY
def test_a_full_refund_of_a_foreign_order_is_booked_at_the_rate_of_its_sale(make_shop, currency_books):
    """A sales receipt and a paid invoice at the store's rate, an unpaid invoice, and a WooCommerce euro
    order QuickBooks booked at its list's rate, each refunded in full after the merchant updated the euro's
    rate: the credit memos, the money paid back and the credit applied carry each sale's rate (not the
    list's), so Undeposited Funds and A/R come back to zero at home, to the cent."""
    books: Books = currency_books
    shop = _multicurrency_shop(make_shop, books)
    shop.feed("order", make_order(4011, **books.paid_at_home()))
    shop.feed("order", make_order(4014, currency="EUR"))
    shop.sync()
    shop.configure(paid_order_as="invoice", sync_order_statuses=["processing", "completed", "on_hold"])
    shop.feed("order", make_order(4012, **books.paid_at_home()))
    shop.feed("order", make_order(4013, paid=False, status="on_hold", **books.paid_at_home()))
    shop.sync()
    euro_home = cents(Decimal("24.00") * Decimal(books.euro_rate))
    assert shop.company.books().home_accounts["Undeposited Funds"] == 2 * Decimal(books.paid_home) + euro_home
    (euro,) = [c for c in shop.company.store.all(("Currency",)) if c.data.get("CurrencyCode") == "EUR"]
    euro.data["ExchangeRate"] = books.euro_rate_later  # Lists > Currency List > Update exchange rates

    for number in ("4011", "4012", "4013", "4014"):
        shop.feed("refund", _full_refund(number, f"9{number}"))
    shop.sync()

    by_ref = {memo["RefNumber"]: memo["ExchangeRate"] for memo in shop.company.transactions("CreditMemo")}
    rate = books.store_rate
    assert by_ref == {"R94011": rate, "R94012": rate, "R94013": rate, "R94014": books.euro_rate}
    assert sorted(_rates(shop, "ARRefundCreditCard")) == sorted([rate, rate, books.euro_rate])  # money back
    assert _rates(shop, "ReceivePayment") == [rate] * 2  # 4012's payment; 4013's credit applied
    check_order(shop.company, "4013", sold="24.00", paid="0.00", credited="24.00", currency=books.store,
                home_accounts={books.receivable: "0.00"})  # the credit applied at the sale's rate
    _nothing_left_at_home(shop, books.receivable)
    _nothing_left_at_home(shop, "Accounts Receivable - EUR")
    shop.assert_every_request_valid()


@ON_MULTICURRENCY
def test_a_cancelled_foreign_invoice_is_reversed_at_the_rate_of_its_sale(make_shop, currency_books):
    """Paid, then cancelled: the reversing credit memo is worth at home what the invoice was; the refund
    paid out of it afterwards brings everything back to zero."""
    books: Books = currency_books
    import dataclasses
    from datetime import UTC, datetime, timedelta

    shop = _multicurrency_shop(make_shop, books, paid_order_as="invoice")
    order = make_order(4015, **books.paid_at_home())
    shop.feed("order", order)
    shop.sync()
    later = order.modified_at + timedelta(days=2)
    when = datetime(2024, 3, 3, tzinfo=UTC)
    shop.feed("order", dataclasses.replace(order, status="cancelled", modified_at=later, cancelled_at=when))
    shop.sync()

    (reversal,) = shop.company.transactions("CreditMemo")
    assert reversal["RefNumber"] == "C4015" and reversal["ExchangeRate"] == books.store_rate
    owed_back = -Decimal(books.paid_home)
    assert shop.company.books().home_accounts[books.receivable] == owed_back

    shop.feed("refund", _full_refund("4015", "94015"))
    shop.sync()
    assert _rates(shop, "ARRefundCreditCard") == [books.store_rate]
    _nothing_left_at_home(shop, books.receivable)
    shop.assert_every_request_valid()


@ON_MULTICURRENCY
def test_a_refund_check_of_a_foreign_order_pays_out_at_home_what_the_sale_was_worth(make_shop,
                                                                                    currency_books):
    """A refund paid by check from the home-currency bank the sale was deposited in: the check is in the
    buyer's currency at the rate of the sale, so the bank pays out at home what came in, and the buyer's
    receivable is back at zero in both currencies (QuickBooks converts a payment to a foreign name from a
    home-currency account at the transaction's rate: docs/SIMULATOR.md, Money)."""
    books: Books = currency_books
    bank = "Checking" if books.home == "USD" else "Chequing"
    shop = _multicurrency_shop(make_shop, books, refund_paid_by="check", deposit_account=bank)
    shop.feed("order", make_order(4016, **books.paid_at_home()))
    shop.sync()
    shop.feed("refund", _full_refund("4016", "94016"))
    shop.sync()

    home = shop.company.books().home_accounts
    assert home[bank] == 0  # the sale's money came into the bank and went back out, at home too
    assert home[books.receivable] == 0
    (check,) = shop.company.transactions("Check")
    assert check["ExchangeRate"] == books.store_rate and check["Amount"] == "24.00"
    assert check["AmountInHomeCurrency"] == books.paid_home
    assert shop.company.books().customer_credits == {}
    shop.assert_every_request_valid()
