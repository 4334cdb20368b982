"""An order as the fields of a QuickBooks sales transaction: header and lines (pure, no I/O).

Lines: one per product line (quantity, amount before discounts), then discounts (negative, on the discount
item), shipping and fees on their items, and the storefront's sales tax as a plain line on the tax item
(tax_mode 'line'), so QuickBooks' total equals the storefront's to the cent. When the storefront's own
rounding leaves a cent or two between its lines and its total, a rounding line says so; a larger
difference is refused rather than posted wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from qbsync.qbxml.limits import fit
from qbsync.queue import mappings, naming, rules

CENT = Decimal("0.01")
PRICE_STEP = Decimal("0.00001")


@dataclass(frozen=True)
class Refs:
    """The QuickBooks references an order needs, as ``{"ListID": ...}`` or ``{"FullName": ...}``."""

    customer: dict[str, str]
    items: dict[str, dict[str, str]]  # product key -> ItemRef
    specials: dict[str, dict[str, str]] = field(default_factory=dict)  # role -> ItemRef


def money(value: Any) -> Decimal:
    """A storefront amount as Decimal cents."""
    return Decimal(str(value or "0")).quantize(CENT)


def line_key(line: Mapping[str, Any]) -> str:
    """The product key of an order line (as items are mapped)."""
    return mappings.product_key(
        line.get("product_id"), line.get("variant_id"), line.get("sku"), line.get("name")
    )


def _tax_code(settings: Mapping[str, Any], taxable: bool) -> dict[str, str]:
    if settings["tax_mode"] == "quickbooks" and taxable:
        return {"FullName": settings["taxable_code"]}
    return {"FullName": settings["non_taxable_code"]}


def _product_line(
    line: Mapping[str, Any], ref: dict[str, str], settings: Mapping[str, Any]
) -> dict[str, Any]:
    quantity = Decimal(str(line.get("quantity") or "0"))
    amount = money(line.get("subtotal"))
    entry: dict[str, Any] = {"ItemRef": ref, "Desc": line.get("name") or None, "Quantity": quantity}
    if quantity:
        rate = amount / quantity
        if rate == rate.quantize(PRICE_STEP):
            entry["Rate"] = rate  # only when exact: QuickBooks checks Quantity x Rate against Amount
    entry["Amount"] = amount
    entry["SalesTaxCodeRef"] = _tax_code(settings, bool(line.get("taxable", True)))
    return entry


def _charge(
    ref: dict[str, str], desc: str, amount: Decimal, settings: Mapping[str, Any], taxable: bool = False
) -> dict[str, Any]:
    return {
        "ItemRef": ref,
        "Desc": desc or None,
        "Amount": amount,
        "SalesTaxCodeRef": _tax_code(settings, taxable),
    }


def sales_lines(order: Mapping[str, Any], refs: Refs, settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The transaction's lines, in the order a bookkeeper reads them."""
    lines = []
    for line in order.get("lines") or ():
        lines.append(_product_line(line, refs.items[line_key(line)], settings))
    for discount in order.get("discounts") or ():
        label = discount.get("title") or discount.get("code") or "Discount"
        if discount.get("code") and discount.get("code") != label:
            label = f"{label} ({discount['code']})"
        elif discount.get("code"):
            label = f"Coupon {label}"
        lines.append(_charge(refs.specials["discount"], label, -money(discount.get("amount")), settings))
    for shipping in order.get("shipping_lines") or ():
        taxable = money(shipping.get("tax")) != 0
        lines.append(
            _charge(
                refs.specials["shipping"],
                shipping.get("title") or "Shipping",
                money(shipping.get("amount")),
                settings,
                taxable,
            )
        )
    for fee in order.get("fee_lines") or ():
        lines.append(
            _charge(
                refs.specials["fee"],
                fee.get("name") or "Fee",
                money(fee.get("amount")),
                settings,
                bool(fee.get("taxable")),
            )
        )
    if settings["tax_mode"] == "line" and not order.get("prices_include_tax"):
        taxes = order.get("tax_lines") or ()
        for tax in taxes:
            label = tax.get("label") or tax.get("code") or "Sales tax"
            if tax.get("rate_percent") not in (None, ""):
                label = f"{label} {Decimal(str(tax['rate_percent'])).normalize():f}%"
            lines.append(_charge(refs.specials["tax"], label, money(tax.get("amount")), settings))
        if not taxes and money(order.get("tax_total")) != 0:
            lines.append(_charge(refs.specials["tax"], "Sales tax", money(order.get("tax_total")), settings))
    gift_cards = money(order.get("gift_card_amount"))
    if gift_cards:
        # Paid with a gift card or store credit: the liability is used up; income stays as sold.
        label = "Paid with gift card / store credit"
        lines.append(_charge(refs.specials["gift_card"], label, -gift_cards, settings))
    due = money(order.get("total")) - gift_cards  # what the customer pays in money
    if settings["tax_mode"] == "line":
        difference = due - sum((line["Amount"] for line in lines), Decimal(0))
        if difference:
            allowed = CENT * max(1, len(lines))
            if abs(difference) > allowed:
                raise ValueError(
                    f"the order's lines add up to {due - difference} but its total is {due}; qbsync will "
                    "not post a transaction that disagrees with the store by more than rounding (check the "
                    "order's lines and taxes in the store)"
                )
            lines.append(
                _charge(
                    refs.specials["adjustment"], "Rounding difference from the store", difference, settings
                )
            )
    return lines


def header(
    order: Mapping[str, Any],
    txn_type: str,
    refs: Refs,
    settings: Mapping[str, Any],
    platform: str,
    omit_payment_method: bool = False,
) -> dict[str, Any]:
    """The transaction's header fields (customer, date, number, addresses, memo, payment method)."""
    from qbsync.queue.handlers.customers import qb_address

    note = str(order.get("note") or "")
    if order.get("prices_include_tax") and money(order.get("tax_total")):
        note = f"prices include {money(order.get('tax_total'))} tax. {note}".strip()
    data: dict[str, Any] = {
        "CustomerRef": refs.customer,
        "TxnDate": str(order.get("created_at") or "")[:10] or None,
        "RefNumber": naming.ref_number(
            str(order.get("number") or order.get("storefront_id")), str(settings["ref_number_prefix"] or "")
        ),
        "BillAddress": qb_address(order.get("billing")),
        "ShipAddress": qb_address(order.get("shipping")),
        "Memo": naming.order_memo(
            platform, str(order.get("number") or ""), str(order.get("storefront_id") or ""), note
        ),
    }
    if settings["tax_mode"] == "quickbooks" and settings["quickbooks_tax_item"]:
        data["ItemSalesTaxRef"] = {"FullName": settings["quickbooks_tax_item"]}
    if txn_type == "SalesReceipt":
        method = None if omit_payment_method else rules.payment_method_name(order, settings)
        if method:
            data["PaymentMethodRef"] = {"FullName": fit("PaymentMethodAdd/Name", method)}
        if settings["deposit_account"]:
            data["DepositToAccountRef"] = {"FullName": settings["deposit_account"]}
    return {k: v for k, v in data.items() if v is not None}
