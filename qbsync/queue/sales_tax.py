"""The store's sales tax as QuickBooks sales tax items, so it lands in the sales tax liability (pure, no I/O).

QuickBooks only counts tax towards the Sales Tax Liability report and Pay Sales Tax when it sits on a sales
tax item (``ItemSalesTax``, paid to its ``TaxVendorRef`` agency); an other-charge line does not. In tax
mode 'line' every store tax rate gets its own sales tax item (named after its label and rate, created
with the store's rate when missing) and the store's amount goes on a line of that item. The transaction's
own ``ItemSalesTaxRef`` is a 0 % sales tax item, so the taxable lines are reported as taxable sales and
QuickBooks adds no tax of its own on top.

Intuit, ItemSalesTaxAdd ("Taxes can be reflected in transaction line items"): tax lines that supply
their own Amount keep it; a single sales tax item (not a group) can be a line.
https://developer.intuit.com/app/developer/qbdesktop/docs/api-reference/qbdesktop/itemsalestaxadd

The creation requests (the agency vendor and the sales tax items) are all here, so the setup's resolver
can take them over in one place.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from qbsync.qbxml.limits import fit, required_max_length
from qbsync.storefronts.records import Order, Refund

# Special-item roles (mapping keys) of the sales tax items: one per store rate, plus the 0 % header item.
RATE_ROLE_PREFIX = "sales_tax:"
ZERO_ROLE = "sales_tax_zero"
NAME_LIMIT = required_max_length("ItemSalesTaxAdd/Name")  # 31
CENT = Decimal("0.01")


@dataclass(frozen=True)
class TaxItem:
    """One sales tax item an order's tax goes on: its role (mapping key), QuickBooks name and rate."""

    role: str
    name: str
    rate: Decimal
    desc: str
    store_name: str = ""  # the store's label and rate before QuickBooks' limits ("CA State Tax 7.25%")


def is_sales_tax_role(role: str) -> bool:
    """True for the roles whose special item is a QuickBooks sales tax item."""
    return role == ZERO_ROLE or role.startswith(RATE_ROLE_PREFIX)


def _percent(rate: Any) -> Decimal | None:
    if rate in (None, ""):
        return None
    return Decimal(str(rate)).normalize()


@functools.lru_cache(maxsize=1024)  # every build of an order asks again, for each of its rates
def store_name(label: str, rate: Any) -> str:
    """A store rate's label and rate as one name, before QuickBooks' limits: ``"CA State Tax 7.25%"``."""
    label = " ".join(str(label or "Sales tax").split())
    percent = _percent(rate)
    return f"{label} {percent:f}%" if percent is not None else label


@functools.lru_cache(maxsize=1024)
def item_name(label: str, rate: Any) -> str:
    """The sales tax item name of a store rate: ``"CA State Tax 7.25%"`` within 31 characters.

    A label too long is cut and given a short hash of the whole, so two long labels stay two items.
    """
    label = " ".join(str(label or "Sales tax").replace(":", "-").split())
    percent = _percent(rate)
    tail = f" {percent:f}%" if percent is not None else ""
    whole = f"{label}{tail}"
    if len(whole) <= NAME_LIMIT:
        return fit("ItemSalesTaxAdd/Name", whole)
    digest = hashlib.sha256(whole.encode()).hexdigest()[:4]
    room = NAME_LIMIT - len(tail) - len(digest) - 1
    return fit("ItemSalesTaxAdd/Name", f"{label[:room].rstrip()}~{digest}{tail}")


def zero_item(settings: Mapping[str, Any]) -> TaxItem:
    """The 0 % sales tax item named on the transaction itself (``line_tax_zero_item``)."""
    return _zero_item(str(settings["line_tax_zero_item"]))


@functools.lru_cache(maxsize=64)
def _zero_item(configured: str) -> TaxItem:
    name = fit("ItemSalesTaxAdd/Name", configured)
    return TaxItem(ZERO_ROLE, name, Decimal(0), "Tax charged by the store, on the lines above")


def order_tax_items(order: Order) -> list[tuple[TaxItem, Decimal]]:
    """(sales tax item, amount) per store tax rate of the order, in the store's order.

    An order with a tax total but no rates gets one item named "Sales tax".
    """
    found: dict[str, tuple[TaxItem, Decimal]] = {}
    for tax in order.tax_lines:
        label = tax.label or tax.code or "Sales tax"
        name = item_name(label, tax.rate_percent)
        new = TaxItem(RATE_ROLE_PREFIX + name.lower(), name, _percent(tax.rate_percent) or Decimal(0), label,
                      store_name(label, tax.rate_percent))
        item, before = found.get(name.lower(), (new, Decimal(0)))
        found[name.lower()] = (item, before + tax.amount)
    if not order.tax_lines and order.tax_total:
        item = TaxItem(RATE_ROLE_PREFIX + "sales tax", "Sales tax", Decimal(0), "Sales tax")
        found["sales tax"] = (item, order.tax_total)
    return [(item, amount) for item, amount in found.values() if amount]


def refunded_tax_items(order: Order, refunded: Decimal) -> list[tuple[TaxItem, Decimal]]:
    """(sales tax item, amount) the ``refunded`` tax comes off: the order's own sales tax items, in
    proportion to what each charged, to the cent and summing to ``refunded`` (largest remainders get
    the odd cents). Empty when the order charged no tax."""
    charged = order_tax_items(order)
    total = sum((amount for _, amount in charged), Decimal(0))
    if not charged or not total or not refunded:
        return []
    exact = [refunded * amount / total for _, amount in charged]
    shares = [share.quantize(CENT, rounding=ROUND_DOWN) for share in exact]
    left = int((refunded - sum(shares, Decimal(0))) / CENT)
    by_remainder = sorted(range(len(exact)), key=lambda i: exact[i] - shares[i], reverse=True)
    step = CENT if left >= 0 else -CENT
    for i in by_remainder[: abs(left)]:
        shares[i] += step
    return [(item, share) for (item, _), share in zip(charged, shares, strict=True) if share]


def refunded_shipping(refund: Refund, order: Order | None) -> tuple[Decimal, Decimal]:
    """(shipping, the tax on it) a refund returned, so the shipping tax comes off the sales tax items too.

    The store's own figures when it itemized the shipping tax (Shopify's "shipping_refund" adjustment
    before API 2024-10, WooCommerce's refund ``shipping_lines``). Otherwise they are read off the money
    returned beyond the refund's lines and their tax, only where it is unambiguous (to a cent per line):
    the refund names its shipping, and the rest is that shipping at the rate the order's shipping was
    taxed; or it names none (Shopify since 2024-10 leaves refunded shipping out of refund bodies) and the
    rest is the order's whole shipping with its tax. Any other remainder is explained by nothing here and
    stays on the credit memo's adjustment line. (``order`` None: qbsync never stored it.)"""
    shipping = refund.shipping
    if refund.shipping_tax is not None:
        return shipping, refund.shipping_tax
    lines = refund.lines
    beyond = refund.amount - shipping - sum((line.amount + line.tax for line in lines), Decimal(0))
    charged = order.shipping_lines if order is not None else ()
    tax = sum((s.tax for s in charged), Decimal(0))
    net = sum((s.amount for s in charged), Decimal(0))
    if order is not None and order.prices_include_tax:
        net -= tax
    slack = CENT * (len(lines) + 1)
    if shipping:
        if net and tax and abs(beyond - shipping * tax / net) <= slack:
            return shipping, beyond
        return shipping, Decimal(0)
    if net and beyond > 0 and abs(beyond - (net + tax)) <= slack:
        return net, beyond - net
    return Decimal(0), Decimal(0)


def has_tax(order: Order) -> bool:
    """Whether the store charged any tax on the order."""
    return bool(order_tax_items(order))


def special_payload(item: TaxItem) -> dict[str, Any]:
    """The item job's payload creating ``item`` when QuickBooks lacks it (with the store's label and rate
    when it is a store rate's, so the link can say why the QuickBooks name differs)."""
    payload = {"special": item.role, "name": item.name, "tax_rate": str(item.rate), "desc": item.desc}
    if item.store_name:
        payload["store_name"] = item.store_name
    return payload


def item_add(payload: Mapping[str, Any], settings: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(request type, data) adding a sales tax item paid to the tax agency."""
    return "ItemSalesTaxAdd", {
        "Name": payload["name"],
        "ItemDesc": payload.get("desc") or payload["name"],
        "TaxRate": Decimal(str(payload.get("tax_rate") or "0")),
        "TaxVendorRef": {"FullName": agency_name(settings)},
    }


def agency_name(settings: Mapping[str, Any]) -> str:
    """The tax agency (a QuickBooks vendor) the sales tax items qbsync creates are paid to."""
    return fit("VendorAdd/Name", str(settings["tax_agency"]))


def agency_add(settings: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(request type, data) adding the tax agency vendor when QuickBooks lacks it."""
    name = agency_name(settings)
    return "VendorAdd", {"Name": name, "CompanyName": name}
