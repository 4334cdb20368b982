"""WooCommerce REST v3 / webhook JSON → plain records (pure, no I/O).

Webhook bodies for ``order.*``, ``customer.*`` and ``product.*`` are exactly what
``GET /wp-json/wc/v3/<resource>s/<id>`` returns, so these functions serve webhooks and backfill alike.
Parse bodies with :func:`qbsync.storefronts.records.load_payload` so money keeps its exact digits.

WooCommerce facts these functions rely on: money is a decimal string except ``line_items[].price``
(a JSON number, the unit price *after* discounts); line, shipping, fee and coupon amounts always exclude
tax, whatever the store's ``prices_include_tax``; ``*_gmt`` dates are UTC without an offset;
``customer_id`` 0 means a guest; order ``refunds[].total`` is negative.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from qbsync.storefronts.records import (
    MAX_HTML_CHARS,
    ZERO,
    Address,
    Customer,
    DiscountLine,
    FeeLine,
    InvalidPayload,
    MetaNumber,
    Order,
    OrderLine,
    Payload,
    Product,
    Refund,
    RefundLine,
    RefundSummary,
    ShippingLine,
    StockLevel,
    TaxLine,
    check_resource_type,
    plain_text,
    to_decimal,
    to_id,
    utc_offset_minutes,
)

# WooCommerce's own statuses → the records' vocabulary. Anything else (plugin statuses such as
# "shipped") is mapped by payment: processing when paid, else pending; raw_status keeps the word.
_STATUSES = {
    "pending": "pending",
    "processing": "processing",
    "on-hold": "on_hold",
    "completed": "completed",
    "cancelled": "cancelled",
    "refunded": "refunded",
    "failed": "failed",
    "checkout-draft": "pending",
    "draft": "pending",
    "trash": "cancelled",
}

_TOPIC_RESOURCES = ("order", "customer", "product", "coupon")
_TOPIC_EVENTS = {"created": "created", "updated": "updated", "deleted": "deleted", "restored": "restored",
                 "published": "updated"}
# Custom action topics fired after WooCommerce changes stock; their "arg" is no REST resource, so the
# product must be fetched again.
_STOCK_ACTIONS = ("action.woocommerce_product_set_stock", "action.woocommerce_variation_set_stock")

# Meta keys that carry a product's cost (WooCommerce core has no cost field; the Cost of Goods
# extension stores it here).
_COST_META_KEYS = ("_wc_cog_cost",)
_MAX_META_NUMBERS = 20

# Unit prices with more places than QuickBooks keeps are rounded to this.
_UNIT_PRICE_PLACES = Decimal("0.00001")


# --------------------------------------------------------------------------------------------------
# Orders


def order(payload: Mapping[str, Any]) -> Order:
    """An order (``GET /orders/<id>`` or an ``order.*`` webhook body) as an :class:`Order`."""
    p = Payload(payload)
    order_id = p.id("id")
    rates = _order_tax_rates(p)
    lines = tuple(_order_line(item, rates) for item in p.required_objects("line_items"))
    shipping_lines = tuple(
        ShippingLine(
            id=s.optional_id("id"),
            method_id=s.text("method_id"),
            title=html.unescape(s.text("method_title")),
            amount=s.decimal("total"),
            tax=s.decimal_or("total_tax"),
            tax_lines=_line_taxes(s, rates),
        )
        for s in p.objects("shipping_lines")
    )
    fee_lines = tuple(
        FeeLine(
            id=f.optional_id("id"),
            name=html.unescape(f.text("name")),
            amount=f.decimal("total"),
            tax=f.decimal_or("total_tax"),
            taxable=f.text("tax_status") == "taxable",
            tax_lines=_line_taxes(f, rates),
        )
        for f in p.objects("fee_lines")
    )
    billing = _address(p.object("billing"))
    shipping = _address(p.object("shipping"))
    date_paid = p.when("date_paid_gmt") or p.when("date_paid")
    raw_status = p.text("status")
    status = _STATUSES.get(raw_status, "processing" if date_paid else "pending")
    created_at = p.when("date_created_gmt") or p.when("date_created")
    if created_at is None:
        raise InvalidPayload("date_created_gmt: required field is missing")
    currency = p.text("currency")
    if not currency:
        raise InvalidPayload("currency: required field is missing")
    discounts = _discounts(p)
    gift_cards = _gift_cards(p)
    return Order(
        storefront_id=order_id,
        number=p.text("number") or order_id,
        status=status,
        raw_status=raw_status,
        paid=date_paid is not None,
        date_paid=date_paid,
        cancelled_at=None,
        # Not known from the body. WooCommerce core restores stock on cancelling only for orders it had
        # reduced stock for (wc-stock-functions.php: wc_maybe_increase_stock_levels on
        # woocommerce_order_status_cancelled), then clears the marks that said so (the order's
        # _order_stock_reduced, internal data the REST body omits, and each line's _reduced_stock); the
        # reference bodies (shared/reference/storefront/woocommerce/order.json) carry neither. So a
        # cancelled order cannot prove what came back: restock_unknown_cancellations decides.
        restocked_on_cancel=None,
        currency=currency,
        created_at=created_at,
        # date_created is the shop's local time, date_created_gmt the same moment in UTC.
        utc_offset_minutes=utc_offset_minutes(p.get("date_created"), p.get("date_created_gmt")),
        modified_at=_modified(p),
        customer=_order_customer(p, billing, shipping),
        billing=billing,
        shipping=shipping,
        lines=lines,
        shipping_lines=shipping_lines,
        fee_lines=fee_lines,
        discounts=tuple(d for d in discounts if d.code not in _store_credit_codes(p)),
        tax_lines=tuple(rates.values()),
        subtotal=sum((line.subtotal for line in lines), ZERO),
        discount_total=p.decimal_or("discount_total"),
        shipping_total=p.decimal_or("shipping_total"),
        tax_total=p.decimal_or("total_tax"),
        # WooCommerce's total is after gift cards and store credit; the record's total includes them.
        total=p.decimal("total") + gift_cards,
        gift_card_amount=gift_cards,
        # WooCommerce line/shipping/fee/coupon amounts exclude tax even when the shop enters gross prices.
        prices_include_tax=False,
        payment_method=p.text("payment_method"),
        payment_method_title=p.text("payment_method_title"),
        transaction_id=p.optional_text("transaction_id"),
        note=p.text("customer_note"),
        refunds=tuple(
            RefundSummary(
                storefront_id=r.id("id"),
                amount=abs(r.decimal_or("total")),
                # Some older controllers emit the reason under "refund".
                reason=r.text("reason") or r.text("refund"),
            )
            for r in p.objects("refunds")
        ),
        input_notes=tuple(p.notes),  # last: every text field above has been read (and cleaned)
    )


def _order_tax_rates(p: Payload) -> dict[str | None, TaxLine]:
    """The order's tax lines keyed by rate id (line ``taxes[].id`` refers to them)."""
    rates: dict[str | None, TaxLine] = {}
    for t in p.objects("tax_lines"):
        shipping_tax = t.decimal_or("shipping_tax_total")
        rate_id = t.optional_id("rate_id") or t.optional_id("id")
        rates[rate_id] = TaxLine(
            rate_id=rate_id,
            code=t.text("rate_code"),
            label=html.unescape(t.text("label")),
            rate_percent=t.optional_decimal("rate_percent"),
            amount=t.decimal_or("tax_total") + shipping_tax,
            shipping_amount=shipping_tax,
            compound=t.flag("compound"),
        )
    return rates


def _line_taxes(item: Payload, rates: Mapping[str | None, TaxLine]) -> tuple[TaxLine, ...]:
    """A line's ``taxes[{id,total,subtotal}]`` as tax lines named after the order's rates."""
    taxes = []
    for t in item.objects("taxes"):
        rate_id = t.optional_id("id")
        rate = rates.get(rate_id)
        taxes.append(
            TaxLine(
                rate_id=rate_id,
                code=rate.code if rate else "",
                label=rate.label if rate else "",
                rate_percent=rate.rate_percent if rate else None,
                amount=t.decimal_or("total"),
                compound=rate.compound if rate else False,
            )
        )
    return tuple(taxes)


def _order_line(item: Payload, rates: Mapping[str | None, TaxLine]) -> OrderLine:
    quantity = item.decimal("quantity")
    total = item.decimal("total")
    subtotal = item.decimal_or("subtotal", total)
    tax = item.decimal_or("total_tax")
    tax_lines = _line_taxes(item, rates)
    return OrderLine(
        id=item.optional_id("id"),
        product_id=item.optional_id("product_id"),
        variant_id=item.optional_id("variation_id"),
        sku=item.optional_text("sku"),
        name=html.unescape(item.text("name")),
        quantity=quantity,
        unit_price=_unit_price(item, subtotal, quantity),
        subtotal=subtotal,
        total=total,
        tax=tax,
        # Order lines do not carry the product's tax status: a line is taxable when a rate applied.
        taxable=bool(tax_lines) or tax != ZERO,
        tax_lines=tax_lines,
    )


def _unit_price(item: Payload, subtotal: Decimal, quantity: Decimal) -> Decimal:
    """Price of one unit before discounts. WooCommerce's ``price`` is after discounts, so it is only
    the fallback for a zero quantity."""
    if quantity == ZERO:
        return item.decimal_or("price")
    price = subtotal / quantity
    # 10.00 / 3 does not end: keep the places QuickBooks can hold.
    if price != price.quantize(_UNIT_PRICE_PLACES):
        price = price.quantize(_UNIT_PRICE_PLACES)
    return price


# Coupon types that spend store credit the customer already paid for (WooCommerce Smart Coupons' "store
# credit / gift certificate"), not a price reduction: WooCommerce 8.3+ names the type in coupon_lines.
STORE_CREDIT_COUPON_TYPES = ("smart_coupon",)


def _store_credit_codes(p: Payload) -> set[str]:
    lines = p.objects("coupon_lines")
    return {c.text("code") for c in lines if c.text("discount_type") in STORE_CREDIT_COUPON_TYPES}


def _gift_cards(p: Payload) -> Decimal:
    """Gift cards and store credit that paid part of the order (WooCommerce's total is after them):
    the ``gift_cards`` the WooCommerce Gift Cards extension adds to the order ({code, amount}), and
    store-credit coupons (:data:`STORE_CREDIT_COUPON_TYPES`)."""
    cards = sum((abs(g.decimal_or("amount")) for g in p.objects("gift_cards")), ZERO)
    credit = sum(
        (
            c.decimal_or("discount")
            for c in p.objects("coupon_lines")
            if c.text("discount_type") in STORE_CREDIT_COUPON_TYPES
        ),
        ZERO,
    )
    return cards + credit


def _discounts(p: Payload) -> tuple[DiscountLine, ...]:
    discounts = [
        DiscountLine(
            code=c.text("code"),
            title=c.text("code"),
            amount=c.decimal_or("discount"),
            tax=c.decimal_or("discount_tax"),
        )
        for c in p.objects("coupon_lines")
    ]
    # A discount entered by hand on an older store has no coupon line; discount_total still has it.
    remainder = p.decimal_or("discount_total") - sum((d.amount for d in discounts), ZERO)
    if remainder > ZERO:
        remainder_tax = p.decimal_or("discount_tax") - sum((d.tax for d in discounts), ZERO)
        discounts.append(DiscountLine(title="Discount", amount=remainder, tax=max(remainder_tax, ZERO)))
    return tuple(discounts)


def _order_customer(p: Payload, billing: Address | None, shipping: Address | None) -> Customer:
    """The registered customer, or a guest (``customer_id`` 0) built from the billing details."""
    bill = p.object("billing") or Payload({}, "billing")
    customer_id = p.optional_id("customer_id")
    return Customer(
        storefront_id=customer_id,
        email=bill.email("email"),
        first_name=bill.text("first_name"),
        last_name=bill.text("last_name"),
        company=bill.text("company"),
        phone=bill.text("phone"),
        billing=billing,
        shipping=shipping,
        is_guest=customer_id is None,
    )


def order_refunds(payload: Mapping[str, Any]) -> list[Refund]:
    """Refunds embedded in an order: none for WooCommerce, whose orders list only summaries
    (``Order.refunds``); fetch ``GET /orders/<id>/refunds`` and pass each to :func:`refund`."""
    Payload(payload)
    return []


# --------------------------------------------------------------------------------------------------
# Refunds


def refund(payload: Mapping[str, Any], order_id: str | int | None = None) -> Refund:
    """A refund (``GET /orders/<order_id>/refunds/<id>``). Its body does not name the order except in
    ``_links.up``: pass ``order_id`` when known. Amounts and quantities come out positive; WooCommerce
    does not report whether items were restocked, so ``restock`` is None."""
    p = Payload(payload)
    refund_id = p.id("id")
    if order_id is not None:
        parent = to_id(order_id, "order_id")
    else:
        parent = p.optional_id("order_id") or p.optional_id("parent_id") or _linked_parent(p, "orders")
    if parent is None:
        raise InvalidPayload("order_id: the refund does not name its order (pass order_id)")
    lines = tuple(
        RefundLine(
            line_id=_meta(item, "_refunded_item_id"),
            product_id=item.optional_id("product_id"),
            variant_id=item.optional_id("variation_id"),
            sku=item.optional_text("sku"),
            quantity=abs(item.decimal_or("quantity")),
            amount=abs(item.decimal_or("total")),
            tax=abs(item.decimal_or("total_tax")),
        )
        for item in p.objects("line_items")
    )
    return Refund(
        storefront_id=refund_id,
        order_id=parent,
        amount=abs(p.decimal("amount")),
        reason=p.text("reason") or p.text("refund"),
        lines=lines,
        shipping=sum((abs(s.decimal_or("total")) for s in p.objects("shipping_lines")), ZERO),
        # Refund bodies that list shipping_lines give each one's total_tax; older ones list no shipping.
        shipping_tax=(sum((abs(s.decimal_or("total_tax")) for s in p.objects("shipping_lines")), ZERO)
                      if "shipping_lines" in payload else None),
        restock=None,
        created_at=p.when("date_created_gmt") or p.when("date_created"),
    )


# --------------------------------------------------------------------------------------------------
# Customers


def customer(payload: Mapping[str, Any]) -> Customer:
    """A registered customer (``GET /customers/<id>`` or a ``customer.*`` webhook body)."""
    p = Payload(payload)
    bill = p.object("billing") or Payload({}, "billing")
    return Customer(
        storefront_id=p.id("id"),
        email=p.email("email") or bill.email("email"),
        first_name=p.text("first_name") or bill.text("first_name"),
        last_name=p.text("last_name") or bill.text("last_name"),
        company=bill.text("company"),
        phone=bill.text("phone"),
        billing=_address(p.object("billing")),
        shipping=_address(p.object("shipping")),
        modified_at=_modified(p),
        is_guest=False,
    )


def _address(a: Payload | None) -> Address | None:
    """An address object; None when absent or every field is blank (a guest with no shipping)."""
    if a is None:
        return None
    address = Address(
        first_name=a.text("first_name"),
        last_name=a.text("last_name"),
        company=a.text("company"),
        line1=a.text("address_1"),
        line2=a.text("address_2"),
        city=a.text("city"),
        state=a.text("state"),
        postcode=a.text("postcode"),
        country=a.text("country"),
        phone=a.text("phone"),
    )
    return None if address == Address() else address


# --------------------------------------------------------------------------------------------------
# Products and stock


def products(payload: Mapping[str, Any]) -> list[Product]:
    """The sellable items of a product body: a simple product itself; a variable product's variations
    when they are embedded as objects (``variations`` normally holds only ids: see
    :func:`variation_ids_to_fetch`); a variation body itself. Grouped and external products sell
    nothing themselves and give ``[]``."""
    p = Payload(payload)
    if _is_variation(p):
        return [product_variation(payload)]
    kind = p.text("type") or "simple"
    if kind in ("grouped", "external"):
        p.id("id")
        return []
    if kind.startswith("variable"):
        p.id("id")
        return [
            product_variation(v.data, parent=payload)
            for v in _embedded_variations(p)
        ]
    return [_product(p, parent=None)]


def variation_ids_to_fetch(payload: Mapping[str, Any]) -> list[str]:
    """Ids of a variable product's variations that the body lists only by id (fetch them with
    ``GET /products/<id>/variations``)."""
    p = Payload(payload)
    value = p.get("variations")
    if not isinstance(value, list):
        return []
    return [to_id(v, f"variations[{i}]") for i, v in enumerate(value) if not isinstance(v, Mapping)]


def product_variation(payload: Mapping[str, Any], parent: Mapping[str, Any] | None = None) -> Product:
    """A variation (``GET /products/<pid>/variations/<id>``). ``parent`` (the variable product's body)
    supplies the name and an inherited tax status; the parent id comes from ``parent``, the body's
    ``parent_id``, or its ``_links.up``."""
    p = Payload(payload)
    return _product(p, parent=Payload(parent, "parent") if parent is not None else None, variation=True)


def stock_level(payload: Mapping[str, Any]) -> StockLevel:
    """The stock of a product or variation body (WooCommerce has no locations)."""
    p = Payload(payload)
    item = _product(p, parent=None, variation=_is_variation(p))
    return StockLevel(
        product_id=item.product_id,
        variant_id=item.variant_id,
        sku=item.sku,
        quantity=item.stock_quantity,
        modified_at=item.modified_at,
    )


def _product(p: Payload, parent: Payload | None, variation: bool = False) -> Product:
    own_id = p.id("id")
    if variation:
        product_id = parent.id("id") if parent else None
        product_id = product_id or p.optional_id("parent_id") or _linked_parent(p, "products")
        if product_id is None:
            raise InvalidPayload("parent_id: the variation does not name its product (pass parent)")
        variant_id: str | None = own_id
        name = _variation_name(p, parent)
        description = plain_text(p.text("description", MAX_HTML_CHARS))
    else:
        product_id, variant_id = own_id, None
        name = html.unescape(p.text("name"))
        html_text = p.text("short_description", MAX_HTML_CHARS) or p.text("description", MAX_HTML_CHARS)
        description = plain_text(html_text)
    manage_stock = p.get("manage_stock")
    # A variation's "parent" means the parent product's stock is managed (and shared).
    manages_stock = manage_stock is True or manage_stock == "parent"
    if manages_stock:
        kind = "inventory"
    elif p.flag("virtual") or p.flag("downloadable") or p.get("shipping_required") is False:
        kind = "service"
    else:
        kind = "non_inventory"
    tax_status = p.text("tax_status")
    if tax_status == "parent":
        tax_status = parent.text("tax_status") if parent else "taxable"
    status = p.text("status")
    return Product(
        product_id=product_id,
        variant_id=variant_id,
        parent_id=product_id if variation else None,
        sku=p.optional_text("sku"),
        name=name,
        description=description,
        price=p.optional_decimal("price"),
        cost=_cost(p),
        manages_stock=manages_stock,
        stock_quantity=p.optional_decimal("stock_quantity") if manages_stock else None,
        taxable=tax_status in ("taxable", ""),
        active=status in ("publish", ""),
        modified_at=_modified(p),
        inventory_item_id=None,
        kind=kind,
        meta_numbers=_meta_numbers(p),
    )


def _variation_name(p: Payload, parent: Payload | None) -> str:
    """The variation's own name when the body has one, else the parent's name and the options."""
    if p.text("name"):
        return html.unescape(p.text("name"))
    options = ", ".join(a.text("option") for a in p.objects("attributes") if a.text("option"))
    parent_name = html.unescape(parent.text("name")) if parent else ""
    if parent_name and options:
        return f"{parent_name} - {options}"
    return parent_name or options or f"Variation {p.id('id')}"


def _embedded_variations(p: Payload) -> list[Payload]:
    value = p.get("variations")
    if not isinstance(value, list):
        return []
    return [Payload(v, f"variations[{i}]") for i, v in enumerate(value) if isinstance(v, Mapping)]


def _is_variation(p: Payload) -> bool:
    """A variation body: ``type: variation``, or (older stores) no type but a parent product."""
    kind = p.text("type")
    if kind:
        return kind == "variation"
    return p.optional_id("parent_id") is not None or _linked_parent(p, "products") is not None


def _cost(p: Payload) -> Decimal | None:
    for key in _COST_META_KEYS:
        for meta in p.objects("meta_data"):
            if meta.get("key") == key and meta.has("value"):
                return meta.decimal("value")
    return None


def _meta_numbers(p: Payload) -> tuple[MetaNumber, ...]:
    """The product's numeric meta fields (a setting names the one holding the cost), at most
    ``_MAX_META_NUMBERS``: plugins store many, and only short numeric ones can be a cost."""
    found = []
    for meta in p.objects("meta_data"):
        key, value = meta.get("key"), meta.get("value")
        if not isinstance(key, str) or not key or len(key) > 100 or isinstance(value, bool):
            continue
        if not isinstance(value, int | float | str) or not str(value).strip():
            continue
        try:
            number = to_decimal(value, meta.where("value"))
        except (InvalidPayload, ValueError):
            continue  # text, not a number: no cost
        found.append(MetaNumber(key=key, value=number))
        if len(found) == _MAX_META_NUMBERS:
            break
    return tuple(found)


def _meta(p: Payload, key: str) -> str | None:
    for meta in p.objects("meta_data"):
        if meta.get("key") == key and meta.has("value"):
            return meta.id("value")
    return None


_UP_LINK = re.compile(r"/(?P<collection>orders|products)/(?P<id>\d+)/?$")


def _linked_parent(p: Payload, collection: str) -> str | None:
    """The parent id in ``_links.up[0].href`` (…/orders/723 or …/products/22), if any."""
    links = p.object("_links")
    if links is None:
        return None
    for up in links.objects("up"):
        match = _UP_LINK.search(up.text("href"))
        if match and match["collection"] == collection:
            return match["id"]
    return None


# --------------------------------------------------------------------------------------------------
# Webhook bookkeeping


def _modified(p: Payload) -> datetime | None:
    # date_modified is site time without an offset; it is only the fallback when _gmt is absent.
    return p.when("date_modified_gmt") or p.when("date_modified")


def modified_at(resource_type: str, payload: Mapping[str, Any]) -> datetime | None:
    """When the resource last changed, aware UTC: ``date_modified_gmt`` (UTC without offset), else
    ``date_modified``; refunds never change, so their creation date. None when the body has none."""
    check_resource_type(resource_type)
    p = Payload(payload)
    if resource_type == "refund":
        return p.when("date_created_gmt") or p.when("date_created")
    return _modified(p)


def resource_of_topic(topic: str) -> tuple[str, str]:
    """``X-WC-Webhook-Topic`` → (resource type, event), e.g. "order.updated" → ("order", "updated");
    the stock action topics → ("stock", "updated"). Raise ValueError for a topic we do not handle."""
    clean = topic.strip().lower()
    if clean in _STOCK_ACTIONS:
        return ("stock", "updated")
    resource, _, event = clean.partition(".")
    if resource in _TOPIC_RESOURCES and event in _TOPIC_EVENTS:
        return (resource, _TOPIC_EVENTS[event])
    raise ValueError(f"unsupported WooCommerce webhook topic {topic!r}")
