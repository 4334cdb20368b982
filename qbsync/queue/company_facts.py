"""What the QuickBooks company says about itself that decides how an order may be booked: its country
(US, CA, UK editions take different tax elements) and its currencies.

QuickBooks tells on the first sendRequestXML of every session (HostQuery, PreferencesQuery; stored in
``QbwcSession.host_info``). ``of_host_info`` is pure; ``read`` takes the newest session that told.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qbsync.storage.models import QbwcSession
from qbsync.storefronts.records import LastKnownOrder, Order

# The currency a company without multicurrency keeps its books in: its edition's country's.
HOME_BY_COUNTRY = {"US": "USD", "CA": "CAD", "UK": "GBP"}
# QuickBooks' names of currencies (its Currency list's FullName), by ISO 4217 code. Source: Intuit,
# "Using the multicurrency feature with the sdk" (the names the simulator's multicurrency profile seeds).
CURRENCY_NAMES = {
    "USD": "US Dollar",
    "CAD": "Canadian Dollar",
    "EUR": "Euro",
    "GBP": "British Pound Sterling",
    "AUD": "Australian Dollar",
}


@dataclass(frozen=True)
class CompanyFacts:
    """``country`` "US", "CA" or "UK" ("" when QuickBooks has not told yet); ``home_currency`` an ISO
    code ("" when unknown)."""

    country: str = ""
    multicurrency: bool = False
    home_currency: str = ""

    @property
    def is_us(self) -> bool:
        """True for a US edition (and while the edition is unknown: qbsync's long-standing default)."""
        return self.country in ("", "US")


def _code_of(name: str) -> str:
    wanted = name.strip().lower()
    return next((code for code, known in CURRENCY_NAMES.items() if known.lower() == wanted), "")


def of_host_info(host: Mapping[str, Any] | None) -> CompanyFacts:
    """The facts in a parsed HCP response (``qbxml.versions.parse_host_response``)."""
    host = host or {}
    country = str(host.get("country") or "").upper()
    preferences = host.get("preferences") or {}
    currency = preferences.get("MultiCurrencyPreferences") or {}
    multicurrency = str(currency.get("IsMultiCurrencyOn") or "").lower() == "true"
    home_ref = currency.get("HomeCurrencyRef") or {}
    home = _code_of(str(home_ref.get("FullName") or "")) if multicurrency else ""
    return CompanyFacts(
        country=country, multicurrency=multicurrency, home_currency=home or HOME_BY_COUNTRY.get(country, "")
    )


_READ = "qbsync.company_facts"  # session.info: connection id -> CompanyFacts


def read(session: Session, connection_id: int) -> CompanyFacts:
    """The facts the newest session of the connection reported (empty facts when none did yet), read once
    per database session: a Web Connector session reports them as it starts, before anything is planned."""
    known: dict[int, CompanyFacts] = session.info.setdefault(_READ, {})
    if connection_id not in known:
        known[connection_id] = _newest(session, connection_id)
    return known[connection_id]


def _newest(session: Session, connection_id: int) -> CompanyFacts:
    told = session.scalars(
        select(QbwcSession.host_info)
        .where(QbwcSession.connection_id == connection_id)
        .order_by(QbwcSession.id.desc())
        .limit(10)
    )
    return of_host_info(next((host for host in told if isinstance(host, Mapping) and host), None))


def currency_problem(currency: str, facts: CompanyFacts) -> str | None:
    """Why an order in ``currency`` cannot be booked in this company, naming the fix; None when it can.

    An amount in another currency is never booked as if it were the home currency.
    """
    currency = (currency or "").strip().upper()
    home = facts.home_currency
    if not currency or not home or currency == home:
        return None
    if not facts.multicurrency:
        return (
            f"the order is in {currency} but the QuickBooks company keeps its books in {home} and has "
            f"multicurrency off, so its amounts would be booked as {home}: turn on multicurrency in "
            "QuickBooks (Edit > Preferences > Multiple Currencies) and retry, or record the order by hand"
        )
    return None


def foreign_currency(currency: str, facts: CompanyFacts) -> str | None:
    """The ISO code of the currency an order must be booked in when it is not the home currency of a
    multicurrency company (its customer then is a customer in that currency); None otherwise."""
    currency = (currency or "").strip().upper()
    if not facts.multicurrency or not currency or not facts.home_currency or currency == facts.home_currency:
        return None
    return currency


# Digits of an exchange rate: QuickBooks shows rates to 5 or 6 decimals depending on the currency pair
# (0.99160 USD per CAD in its help); that it keeps 6 when given more is assumed.
RATE_STEP = Decimal("0.000001")


def exchange_rate(order: Order | LastKnownOrder, facts: CompanyFacts) -> Decimal | None:
    """The ExchangeRate of a foreign-currency order's transaction, from the store's own conversion.

    QuickBooks records "the number of home currency units it takes to equal one foreign currency unit"
    and multiplies the transaction's total by it for the home value (QuickBooks help, "What to know about
    exchange rates"). The store tells that rate only when the buyer paid in the company's home currency
    while the order's amounts are in another (Shopify: ``presentment_money`` of the total over its shop
    money): the buyer's total over the order's total. None for a home-currency order, or when the store
    did not convert to the home currency (WooCommerce orders carry no rate): QuickBooks then takes the
    rate of its currency list. (An order known only in part: None too unless all of that is known.)
    """
    if foreign_currency(order.currency or "", facts) is None:
        return None
    if (order.presentment_currency or "").strip().upper() != facts.home_currency:
        return None
    home_total, total = order.presentment_total, order.total
    if home_total is None or total is None or home_total <= 0 or total <= 0:
        return None
    return (home_total / total).quantize(RATE_STEP)


def booked_rate(sale_rate: Any, order: Order | LastKnownOrder, facts: CompanyFacts) -> Decimal | None:
    """The ExchangeRate of what undoes or settles a foreign-currency order (its refund's credit memo and
    money paid back, the credit applied to its invoice, its cancellation's reversal): the rate its sale
    was booked with, so the credit is worth at home what the sale was and the accounts it moved (A/R,
    Undeposited Funds) come back to zero to the cent.

    ``sale_rate``: the ExchangeRate QuickBooks reports on the sale (InvoiceRet, SalesReceiptRet), which
    holds even when QuickBooks took its currency list's rate that has changed since; else the store's own
    (:func:`exchange_rate`). None for an order in the home currency (or a company without multicurrency):
    nothing is sent, as for its sale. (``order``: what a cancellation last knew of it will do.)"""
    if foreign_currency(order.currency or "", facts) is None:
        return None
    try:
        rate = Decimal(str(sale_rate)) if sale_rate not in (None, "") else None
    except ArithmeticError:
        rate = None
    if rate is not None and rate.is_finite() and rate > 0:
        return rate
    return exchange_rate(order, facts)


def currency_ref(code: str) -> dict[str, str]:
    """CurrencyRef of a currency by ISO code (QuickBooks' name for the ones it ships)."""
    return {"FullName": CURRENCY_NAMES.get(code, code)}


def keyed(key: str, currency: str | None) -> str:
    """A customer mapping key for the customer's account in ``currency`` (the key itself for the home
    currency): one QuickBooks customer holds one currency."""
    return f"{key}@{currency}" if currency else key
