"""An order as the fields of a QuickBooks sales transaction: header and lines (pure, no I/O).

Lines: one per product line (quantity, amount before discounts; a gift card sold goes on the gift card
item, so its money is a liability until the card is redeemed, never income or stock), then discounts
(negative, on the discount item), shipping and fees on their items, and (tax_mode 'line') the store's
tax of each rate on a line of its sales tax item (see ``sales_tax``), so QuickBooks' total equals the
storefront's to the cent and the tax reaches the sales tax liability. Lines the store taxed carry the
taxable code. Prices that include tax are split: each line is booked net of its tax, and the tax goes on
the tax lines. When the storefront's own rounding leaves a cent or two between its lines and its total, a
rounding line says so; a larger difference is refused rather than posted wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from qbsync.qbxml.limits import fit
from qbsync.queue import dates, mappings, naming, rules, sales_tax, tax_codes
from qbsync.storefronts.records import DiscountLine, Order, OrderLine

CENT = Decimal("0.01")
PRICE_STEP = Decimal("0.00001")


@dataclass(frozen=True)
class Refs:
    """The QuickBooks references an order needs, as ``{"ListID": ...}`` or ``{"FullName": ...}``."""

    customer: dict[str, str]
    items: dict[str, dict[str, str]]  # product key -> ItemRef
    specials: dict[str, dict[str, str]] = field(default_factory=dict)  # role -> ItemRef


def money(value: Decimal | str | int | None) -> Decimal:
    """An amount as Decimal cents (None or "": nothing); also QuickBooks' amounts, which are text."""
    if isinstance(value, Decimal):
        return value.quantize(CENT)
    return Decimal(str(value or "0")).quantize(CENT)


def line_key(line: OrderLine) -> str:
    """The product key of an order line (as items are mapped)."""
    return mappings.product_key(line.product_id, line.variant_id, line.sku, line.name)


def _tax_code(settings: Mapping[str, Any], taxable: bool) -> dict[str, str] | None:
    # An empty code: the company has no sales tax codes (sales tax off), so the line names none.
    name = settings["taxable_code"] if taxable else settings["non_taxable_code"]
    return {"FullName": name} if name else None


def _net(order: Order, amount: Decimal, tax: Decimal) -> Decimal:
    """A line's ``amount`` without the ``tax`` in it (prices that include tax), else the amount itself."""
    if order.prices_include_tax:
        return money(amount) - money(tax)
    return money(amount)


def _discount_taxable(order: Order, discount: DiscountLine) -> bool:
    """Whether the store took the discount off taxed sales: it says so (the tax it removed), or the
    discounted lines it spread it over are taxed."""
    if money(discount.tax):
        return True
    return any(
        _line_taxed(order, line) and money(line.subtotal) != money(line.total) for line in order.lines
    )


def _line_taxed(order: Order, line: OrderLine) -> bool:
    """Whether the store taxes this product line (an order without any tax taxes nothing)."""
    if not line.taxable:
        return False
    return bool(money(line.tax)) or money(order.tax_total) != 0 or bool(order.tax_lines)


def _product_line(
    order: Order, line: OrderLine, ref: dict[str, str], settings: Mapping[str, Any]
) -> dict[str, Any]:
    quantity = line.quantity
    amount = _net(order, line.subtotal, line.tax)
    entry: dict[str, Any] = {"ItemRef": ref, "Desc": line.name or None, "Quantity": quantity}
    if quantity:
        rate = amount / quantity
        if rate == rate.quantize(PRICE_STEP):
            entry["Rate"] = rate  # only when exact: QuickBooks checks Quantity x Rate against Amount
    entry["Amount"] = amount
    entry["SalesTaxCodeRef"] = _tax_code(settings, _line_taxed(order, line))
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


def sales_lines(
    order: Order,
    refs: Refs,
    settings: Mapping[str, Any],
    quickbooks_rate: Decimal | None = None,
    country: tax_codes.CountryTax | None = None,
) -> list[dict[str, Any]]:
    """The transaction's lines, in the order a bookkeeper reads them.

    ``quickbooks_rate``: the rate of the sales tax item QuickBooks computes tax with (tax_mode
    'quickbooks'), when known; the cent its rounding differs from the store's tax goes on the adjustment
    line. ``country``: a Canadian or UK company's tax codes (see ``tax_codes``): every line gets the code
    of the store's rate and QuickBooks computes the tax, in either tax mode.
    """
    lines = []
    sources: list[tuple[tax_codes.StoreLine, bool]] = []  # (store line, taxed) per line, for ``country``
    for line in order.lines:
        sold_card = rules.is_gift_card_sale(line, settings)
        ref = refs.specials["gift_card"] if sold_card else refs.items[line_key(line)]
        lines.append(_product_line(order, line, ref, settings))
        sources.append((line, _line_taxed(order, line)))
    for discount in order.discounts:
        label = discount.title or discount.code or "Discount"
        if discount.code and discount.code != label:
            label = f"{label} ({discount.code})"
        elif discount.code:
            label = f"Coupon {label}"
        taxable = _discount_taxable(order, discount)
        amount = -money(discount.amount)
        lines.append(_charge(refs.specials["discount"], label, amount, settings, taxable))
        sources.append((_discounted(order, discount), taxable))
    for shipping in order.shipping_lines:
        taxable = money(shipping.tax) != 0
        lines.append(
            _charge(
                refs.specials["shipping"],
                shipping.title or "Shipping",
                _net(order, shipping.amount, shipping.tax),
                settings,
                taxable,
            )
        )
        sources.append((shipping, taxable))
    for fee in order.fee_lines:
        taxable = fee.taxable or money(fee.tax) != 0
        amount = _net(order, fee.amount, fee.tax)
        lines.append(_charge(refs.specials["fee"], fee.name or "Fee", amount, settings, taxable))
        sources.append((fee, taxable))
    if country is not None:
        _country_codes(lines, sources, order, country)
        computed = tax_codes.quickbooks_tax(lines, country)
        _add_gift_card(lines, order, refs, settings, {"FullName": country.exempt})
        _adjust(lines, order, refs, settings, computed, {"FullName": country.exempt})
        return lines
    if settings["tax_mode"] == "quickbooks" and quickbooks_rate is not None:
        taxed = [line for line in lines
                 if (line["SalesTaxCodeRef"] or {}).get("FullName") == settings["taxable_code"]]
        taxed_total = sum((line["Amount"] for line in taxed), Decimal(0))
        computed = (taxed_total * quickbooks_rate / 100).quantize(CENT, ROUND_HALF_UP)
        difference = money(order.total) - sum((line["Amount"] for line in lines), computed)
        if difference and abs(difference) <= CENT * max(1, len(lines)):
            label = "Tax rounding difference from the store"
            lines.append(_charge(refs.specials["adjustment"], label, difference, settings))
    if settings["tax_mode"] == "line":
        _add_tax_lines(lines, order, refs)
        _add_gift_card(lines, order, refs, settings, None)
        _adjust(lines, order, refs, settings, Decimal(0), None)
    else:
        _add_gift_card(lines, order, refs, settings, None)
    return lines


def _add_gift_card(lines: list[dict[str, Any]], order: Order, refs: Refs,
                   settings: Mapping[str, Any], code: dict[str, str] | None) -> None:
    """Paid with a gift card or store credit: the liability is used up; income stays as sold. Last, so no
    sales tax line follows a negative line."""
    gift_cards = money(order.gift_card_amount)
    if not gift_cards:
        return
    entry = _charge(refs.specials["gift_card"], "Paid with gift card / store credit", -gift_cards, settings)
    if code is not None:
        entry["SalesTaxCodeRef"] = code
    lines.append(entry)


def _adjust(
    lines: list[dict[str, Any]],
    order: Order,
    refs: Refs,
    settings: Mapping[str, Any],
    tax_added: Decimal,
    code: dict[str, str] | None,
) -> None:
    """Put the cent or two between the store's total and QuickBooks' on the adjustment line; refuse more."""
    due = money(order.total) - money(order.gift_card_amount)  # what is paid in money
    difference = due - sum((line["Amount"] for line in lines), tax_added)
    if not difference:
        return
    allowed = CENT * max(1, len(lines))
    if abs(difference) > allowed:
        raise ValueError(
            f"the order's lines add up to {due - difference} but its total is {due}; qbsync will not post "
            "a transaction that disagrees with the store by more than rounding (check the order's lines "
            "and taxes in the store)"
        )
    entry = _charge(refs.specials["adjustment"], "Rounding difference from the store", difference, settings)
    if code is not None:
        entry["SalesTaxCodeRef"] = code
    lines.append(entry)


def _discounted(order: Order, discount: DiscountLine) -> tax_codes.StoreLine:
    """What a discount was taken off, for its tax code: the first discounted taxed line (or the first)."""
    taxed = [
        line for line in order.lines
        if _line_taxed(order, line) and money(line.subtotal) != money(line.total)
    ]
    found: list[tax_codes.StoreLine] = [*taxed, *order.lines, discount]
    return found[0]


def _country_codes(
    lines: list[dict[str, Any]],
    sources: list[tuple[tax_codes.StoreLine, bool]],
    order: Order,
    country: tax_codes.CountryTax,
) -> None:
    """Give each line the company's code of the rate the store taxed it at (exempt when untaxed)."""
    for entry, (record, taxed) in zip(lines, sources, strict=True):
        code = country.exempt
        if taxed:
            rate = tax_codes.store_rate(order, record, abs(entry["Amount"]))
            found = country.code_for_rate(rate) if rate is not None else None
            if found is None:
                raise ValueError(
                    f"the store taxed {entry.get('Desc') or 'a line'!r} at {rate}% and no QuickBooks sales "
                    "tax code charges that rate: add one (Lists > Sales Tax Code List), then retry"
                )
            code = found.name
        entry["SalesTaxCodeRef"] = {"FullName": code}


def _add_tax_lines(lines: list[dict[str, Any]], order: Order, refs: Refs) -> None:
    """Put the store's tax of each rate on a line of its sales tax item.

    The lines go right after the last line with a positive amount: QuickBooks gives a sales tax line the
    sign of the line above it (a tax line after a negative line turns negative), as a developer reported
    ("Why are my tax items changing with context?", a Stack Overflow question copied at
    https://www.generacodice.com/en/articolo/12529247/why-are-my-tax-items-changing-with-context).
    """
    taxes = [
        {"ItemRef": refs.specials[item.role], "Desc": _tax_desc(item), "Amount": money(amount)}
        for item, amount in sales_tax.order_tax_items(order)
    ]
    if not taxes:
        return
    at = max((i + 1 for i, line in enumerate(lines) if line["Amount"] > 0), default=len(lines))
    lines[at:at] = taxes


def _tax_desc(item: sales_tax.TaxItem) -> str:
    if item.rate:
        return f"{item.desc} {item.rate:f}%"
    return item.desc


def ref_number(order: Order, settings: Mapping[str, Any]) -> str:
    """The order's transaction number in QuickBooks (RefNumber): what its header carries and what the
    look-up before its add asks for."""
    return naming.ref_number(order.number or order.storefront_id, str(settings["ref_number_prefix"] or ""))


def header(
    order: Order,
    txn_type: str,
    refs: Refs,
    settings: Mapping[str, Any],
    platform: str,
    omit_payment_method: bool = False,
    us: bool = True,
    exchange_rate: Decimal | None = None,
) -> dict[str, Any]:
    """The transaction's header fields (customer, date, number, addresses, memo, payment method, and the
    store's ``exchange_rate`` for a foreign-currency order, see ``company_facts.exchange_rate``)."""
    from qbsync.queue.handlers.customers import qb_address

    data: dict[str, Any] = {
        "CustomerRef": refs.customer,
        "TxnDate": dates.shop_date(order.created_at, order, settings),
        "RefNumber": ref_number(order, settings),
        "BillAddress": qb_address(order.billing),
        "ShipAddress": qb_address(order.shipping),
        "Memo": naming.order_memo(platform, order.number, order.storefront_id, order.note),
    }
    if not us:
        pass  # Canadian and UK files take no transaction-wide sales tax item: the line codes decide
    elif settings["tax_mode"] == "quickbooks" and settings["quickbooks_tax_item"]:
        data["ItemSalesTaxRef"] = {"FullName": settings["quickbooks_tax_item"]}
    elif settings["tax_mode"] == "line" and sales_tax.has_tax(order):
        # The store's tax is on the lines: QuickBooks must add none of its own to the taxable lines.
        data["ItemSalesTaxRef"] = refs.specials[sales_tax.ZERO_ROLE]
    if txn_type == "SalesReceipt":
        method = None if omit_payment_method else rules.payment_method_name(order, settings)
        if method:
            data["PaymentMethodRef"] = {"FullName": fit("PaymentMethodAdd/Name", method)}
        if settings["deposit_account"]:
            data["DepositToAccountRef"] = {"FullName": settings["deposit_account"]}
    data["ExchangeRate"] = exchange_rate
    return {k: v for k, v in data.items() if v is not None}
