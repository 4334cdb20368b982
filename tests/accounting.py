"""The accounting check end-to-end tests run after orders are synced: per order, what QuickBooks' books
say must match what the store says, to the cent.

    from tests.accounting import OrderBooks, check_order, check_stock, check_synced_order

    check_order(company, "1001", customer="Jane Doe", sold="54.10", open_balance="0.00",
                open_credits="0.00", tax_by_agency={"State Department of Revenue": "3.30"})
    check_stock(company, {"MUG-1": 7, "TEE-S": 0})
    check_synced_order(company, order)  # the store's order as it is: total, tax, paid or open

Each check collects every difference and fails once with all of them listed, so a failing end-to-end
test tells which number is wrong, not only the first. Amounts are compared as Decimal to the cent;
quantities as Decimal. Works on every simulator profile (``QuickBooksCompany(profile=...)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from qbsync.simulator import QuickBooksCompany
from qbsync.simulator.company_store import decimal_of, to_cent
from qbsync.storefronts.records import Order

Amount = str | int | float | Decimal


def cents(value: Amount) -> Decimal:
    """``value`` as a Decimal rounded to the cent (floats go through str, so 0.1 stays 0.10)."""
    return to_cent(Decimal(str(value)))


@dataclass
class OrderBooks:
    """One order as QuickBooks books it: its transactions (found by RefNumber and links) and totals."""

    ref_number: str
    transactions: list[dict] = field(default_factory=list)
    customer: str = ""
    sold: Decimal = Decimal(0)  # invoices + sales receipts (after tax)
    credited: Decimal = Decimal(0)  # credit memos
    paid: Decimal = Decimal(0)  # sales receipts + payments received
    refunded: Decimal = Decimal(0)  # card refunds + refund checks paid out
    tax_by_agency: dict[str, Decimal] = field(default_factory=dict)
    open_balance: Decimal = Decimal(0)  # the customer's whole open balance (QuickBooks' Balance)
    open_credits: Decimal = Decimal(0)  # the customer's credits not yet applied or refunded
    currencies: set[str] = field(default_factory=set)  # ISO codes of the sales forms (home when none)
    sale_dates: set[str] = field(default_factory=set)  # TxnDate of the invoices and sales receipts
    accounts: dict[str, Decimal] = field(default_factory=dict)  # what the order's transactions posted
    home_accounts: dict[str, Decimal] = field(default_factory=dict)  # the same, all in home currency


def order_books(company: QuickBooksCompany, ref_number: str) -> OrderBooks:
    """Gather what QuickBooks holds for the order numbered ``ref_number``."""
    txns = company.order_transactions(ref_number)
    result = OrderBooks(ref_number=ref_number, transactions=txns)
    for txn in txns:
        kind = txn["kind"]
        total = decimal_of(txn.get("TotalAmount"))
        if kind == "Invoice":
            total = decimal_of(txn.get("Subtotal")) + decimal_of(txn.get("SalesTaxTotal"))
        if kind in ("Invoice", "SalesReceipt"):
            result.sold += total
            result.sale_dates.add(str(txn.get("TxnDate")))
        if kind in ("Invoice", "SalesReceipt", "CreditMemo"):
            result.currencies.add(_currency_code(company, txn))
        if kind == "CreditMemo":
            result.credited += total
        if kind in ("SalesReceipt", "ReceivePayment"):
            result.paid += total
        if kind == "ARRefundCreditCard":
            result.refunded += total
        if kind == "Check":
            result.refunded += decimal_of(txn.get("Amount"))
        customer = txn.get("CustomerRef") or txn.get("PayeeEntityRef")
        if isinstance(customer, dict) and not result.customer:
            result.customer = customer["FullName"]
    books = company.books([t["TxnID"] for t in txns])
    result.tax_by_agency = books.tax_by_agency
    result.accounts = books.accounts
    result.home_accounts = books.home_accounts
    if result.customer:
        whole = company.books()
        result.open_balance = whole.customer_balance.get(result.customer, Decimal(0))
        result.open_credits = whole.customer_credits.get(result.customer, Decimal(0))
    return result


def _currency_code(company: QuickBooksCompany, txn: dict) -> str:
    ref = txn.get("CurrencyRef")
    currency = company.find("Currency", ref["ListID"]) if isinstance(ref, dict) else None
    return str(currency["CurrencyCode"]) if currency else company.profile.home_currency


def check_order(
    company: QuickBooksCompany,
    ref_number: str,
    *,
    customer: str | None = None,
    sold: Amount | None = None,
    credited: Amount | None = None,
    paid: Amount | None = None,
    refunded: Amount | None = None,
    open_balance: Amount | None = None,
    open_credits: Amount | None = None,
    tax_by_agency: Mapping[str, Amount] | None = None,
    tax_total: Amount | None = None,
    currency: str | None = None,
    sale_date: str | None = None,
    accounts: Mapping[str, Amount] | None = None,
    home_accounts: Mapping[str, Amount] | None = None,
) -> OrderBooks:
    """Assert the order's books; only the figures given are checked (all of them, then one failure).

    ``tax_by_agency`` names the agencies; ``tax_total`` only checks that the agencies together are owed
    the store's tax (for tests that do not care which sales tax item the engine picked). ``currency``:
    the sales forms are in this ISO currency (a single-currency file books everything in its home
    currency). ``sale_date``: the invoice or sales receipt is dated so (YYYY-MM-DD, the store's local
    date). ``accounts``: what the order's transactions posted to these accounts (FullName -> balance
    change, the account's natural sign; e.g. a gift-card liability, never an income account).
    ``home_accounts``: the same in the home currency, a foreign account's postings each at its
    transaction's ExchangeRate (a foreign A/R account back to zero in its currency but not at home: the
    order's transactions were booked at different rates)."""
    books = order_books(company, ref_number)
    problems = []
    if not books.transactions:
        problems.append(f"no transaction numbered {ref_number!r} in QuickBooks")
    if customer is not None and books.customer != customer:
        problems.append(f"customer: QuickBooks has {books.customer!r}, expected {customer!r}")
    for name, wanted in (
        ("sold", sold),
        ("credited", credited),
        ("paid", paid),
        ("refunded", refunded),
        ("open_balance", open_balance),
        ("open_credits", open_credits),
    ):
        if wanted is not None and cents(getattr(books, name)) != cents(wanted):
            problems.append(f"{name}: QuickBooks has {cents(getattr(books, name))}, expected {cents(wanted)}")
    if tax_by_agency is not None:
        expected = {k: cents(v) for k, v in tax_by_agency.items() if cents(v)}
        actual = {k: cents(v) for k, v in books.tax_by_agency.items() if cents(v)}
        if expected != actual:
            problems.append(f"sales tax per agency: QuickBooks has {actual}, expected {expected}")
    if tax_total is not None:
        owed = cents(sum(books.tax_by_agency.values(), Decimal(0)))
        if owed != cents(tax_total):
            problems.append(f"sales tax owed to agencies: QuickBooks has {owed}, expected {cents(tax_total)}")
    if currency is not None and books.currencies != {currency}:
        problems.append(f"currency: QuickBooks booked {sorted(books.currencies)}, expected {currency}")
    if sale_date is not None and books.sale_dates != {sale_date}:
        problems.append(f"sale date: QuickBooks has {sorted(books.sale_dates)}, expected {sale_date}")
    for label, posted, expected in (("", books.accounts, accounts), (" at home", books.home_accounts,
                                                                     home_accounts)):
        for account, wanted in (expected or {}).items():
            have = cents(posted.get(account, Decimal(0)))
            if have != cents(wanted):
                problems.append(
                    f"account {account!r}{label}: the order posted {have}, expected {cents(wanted)}"
                )
    if problems:
        kinds = ", ".join(f"{t['kind']} {t.get('RefNumber', t['TxnID'])}" for t in books.transactions)
        raise AssertionError(f"order {ref_number} ({kinds or 'nothing'}):\n  " + "\n  ".join(problems))
    return books


def check_stock(company: QuickBooksCompany, store_stock: Mapping[str, Amount]) -> None:
    """Assert QuickBooks' quantity on hand of each item equals the store's stock (item name -> qty)."""
    on_hand = company.books().quantity_on_hand
    lowered = {name.lower(): qty for name, qty in on_hand.items()}
    problems = []
    for name, wanted in store_stock.items():
        have = lowered.get(name.lower())
        if have is None:
            problems.append(f"{name}: no inventory item in QuickBooks")
        elif have != Decimal(str(wanted)):
            problems.append(f"{name}: QuickBooks has {have} on hand, the store {wanted}")
    if problems:
        raise AssertionError("stock differs:\n  " + "\n  ".join(problems))


def check_synced_order(company: QuickBooksCompany, order: Order, **expected: Any) -> OrderBooks:
    """:func:`check_order` for a store ``order`` synced as it is: sold its total, the store's tax owed to
    the agencies, no refund and no open credit, and, for the customer's only order, paid in full (open
    balance 0) or not paid at all (open balance its total). ``expected`` overrides or adds figures."""
    figures: dict[str, Any] = dict(
        customer=None,
        sold=order.total,
        paid=order.total if order.paid else "0.00",
        refunded="0.00",
        open_balance="0.00" if order.paid else order.total,
        open_credits="0.00",
        tax_total=order.tax_total,
    )
    figures.update(expected)
    return check_order(company, order.number, **figures)
