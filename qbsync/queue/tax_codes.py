"""Sales tax in Canadian and UK company files: a tax code on every line (pure, no I/O).

Canadian and UK editions of QuickBooks compute GST/HST/VAT themselves from each line's sales tax code
(``SalesTaxCodeRef``: H, G, S, Z, E ...; each taxable code names the sales tax item, and so the rate and
the agency, it charges); they take no transaction-wide ``ItemSalesTaxRef`` (a US element) and no tax
typed as a line. So every line the store taxed carries the company's code whose rate is the store's rate,
the rest an exempt code, and the cent QuickBooks' rounding differs from the store's tax goes on the
adjustment line. Sources: the qbXML 13.0 XSD (SalesTaxCodeRet/ItemSalesTaxRef is for CA/UK), Intuit
"Common sales tax codes" (Canada) and "Common VAT Codes" (UK), as docs/SIMULATOR.md cites them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from qbsync.storefronts.records import (
    DiscountLine,
    FeeLine,
    Order,
    OrderLine,
    RefundLine,
    ShippingLine,
)

CENT = Decimal("0.01")
# How far the store's rate may be from a code's rate and still be that code (the store's own rounding of
# an effective rate worked out from amounts).
RATE_TOLERANCE = Decimal("0.5")


@dataclass(frozen=True)
class TaxCode:
    """One of the company's sales tax codes; ``rate`` of its sales tax item (None when not taxable)."""

    name: str
    taxable: bool
    rate: Decimal | None = None


@dataclass(frozen=True)
class CountryTax:
    """The company's codes, and which is used for what the store did not tax."""

    codes: tuple[TaxCode, ...]
    exempt: str

    def code_for_rate(self, rate: Decimal) -> TaxCode | None:
        """The taxable code whose rate is closest to ``rate`` (within :data:`RATE_TOLERANCE`)."""
        found = [
            c for c in self.codes if c.taxable and c.rate is not None and abs(c.rate - rate) <= RATE_TOLERANCE
        ]
        return min(found, key=lambda c: abs((c.rate or Decimal(0)) - rate), default=None)

    def rate_of(self, name: str) -> Decimal:
        """The rate QuickBooks charges with the code ``name`` (0 for an exempt or unknown code)."""
        code = next((c for c in self.codes if c.name.lower() == name.lower()), None)
        return code.rate if code is not None and code.taxable and code.rate is not None else Decimal(0)


def country_tax(
    codes: Iterable[Mapping[str, Any]], item_rates: Mapping[str, Any], preferred_exempt: str = ""
) -> CountryTax | None:
    """The company's codes from the pulled lists: SalesTaxCode entries (``Name``, ``IsTaxable``,
    ``ItemSalesTaxRef``) and sales tax item rates by name. None when no code is known yet."""
    found = []
    for code in codes:
        taxable = str(code.get("IsTaxable") or "").lower() == "true"
        item = code.get("ItemSalesTaxRef") or {}
        rate = item_rates.get(str(item.get("FullName") or "").lower()) if isinstance(item, Mapping) else None
        known = Decimal(str(rate)) if rate not in (None, "") else None
        found.append(TaxCode(str(code["Name"]), taxable, known))
    if not found:
        return None
    exempt = next((c.name for c in found if not c.taxable and c.name.lower() == preferred_exempt.lower()), "")
    exempt = exempt or next((c.name for c in found if not c.taxable), "")
    return CountryTax(tuple(found), exempt)


# What a line of a transaction was made from: an order's product, shipping or fee line; a discount line
# by the line it was taken off (by itself when the order has no lines).
StoreLine = OrderLine | ShippingLine | FeeLine | DiscountLine


def store_rate(order: Order, record: StoreLine | None, net: Decimal) -> Decimal | None:
    """The rate the store taxed a line at: its own tax lines' rates, else the order's only rate, else
    the line's tax over its amount (``record`` None: only the order's rate can tell)."""
    rates = []
    if record is not None and not isinstance(record, DiscountLine):
        rates = [t.rate_percent for t in record.tax_lines if t.rate_percent]
    if rates:
        return sum(rates, Decimal(0))
    order_rates = {t.rate_percent for t in order.tax_lines if t.rate_percent}
    if len(order_rates) == 1:
        return order_rates.pop()
    tax = record.tax if record is not None else Decimal(0)
    if tax and net:
        return (tax / net * 100).quantize(CENT)
    return None


def quickbooks_tax(lines: Iterable[Mapping[str, Any]], tax: CountryTax) -> Decimal:
    """The tax QuickBooks will add: per code, its lines' amount at its rate, rounded once per code."""
    bases: dict[str, Decimal] = {}
    for line in lines:
        name = str(line["SalesTaxCodeRef"]["FullName"])
        bases[name] = bases.get(name, Decimal(0)) + Decimal(str(line["Amount"]))
    return sum(
        ((base * tax.rate_of(name) / 100).quantize(CENT, ROUND_HALF_UP) for name, base in bases.items()),
        Decimal(0),
    )


# --- refunds: the codes of the sale, so the tax return sees the refund ------------------------------


def _sold_line(order: Order, refund_line: RefundLine) -> OrderLine | None:
    line_id = refund_line.line_id
    return next((x for x in order.lines if line_id and x.id == line_id), None)


def _code_of_rate(tax: CountryTax, rate: Decimal | None, what: str) -> str:
    found = tax.code_for_rate(rate) if rate is not None else None
    if found is None:
        raise ValueError(
            f"the store refunded tax on {what} at {rate}% and no QuickBooks sales tax code charges that "
            "rate: add one (Lists > Sales Tax Code List), then retry"
        )
    return found.name


def refunded_line_code(order: Order | None, refund_line: RefundLine, tax: CountryTax) -> str:
    """The code of a refunded product line: the code of the rate the store taxed the sold line at (its
    own rates, the order's only rate, else the refund's tax over its amount), so QuickBooks takes the
    refunded tax off the same tax item the sale charged; exempt when the store refunded no tax on it. A
    refund of an order qbsync never stored (``order`` None) has only its own amounts to tell the rate."""
    refunded = refund_line.tax
    if not refunded:
        return tax.exempt
    rate = store_rate(order, _sold_line(order, refund_line), Decimal(0)) if order is not None else None
    amount = refund_line.amount
    if rate is None and amount:
        rate = (refunded / amount * 100).quantize(CENT)
    return _code_of_rate(tax, rate, repr(refund_line.sku or "a line"))


def refunded_shipping_code(order: Order | None, shipping_tax: Decimal, tax: CountryTax) -> str:
    """The code of refunded shipping: the code the order's shipping was taxed with when tax on it was
    refunded (``sales_tax.refunded_shipping``), so it comes off the same tax item; exempt otherwise."""
    taxed = [s for s in order.shipping_lines if s.tax] if order is not None else []
    if order is None or not shipping_tax or not taxed:
        return tax.exempt
    net = taxed[0].amount
    if order.prices_include_tax:
        net -= taxed[0].tax
    return _code_of_rate(tax, store_rate(order, taxed[0], net), "shipping")
