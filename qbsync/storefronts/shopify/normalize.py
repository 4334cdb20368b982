"""Shopify REST Admin / webhook JSON → plain records (pure, no I/O).

Webhook bodies are the REST resource unwrapped (``{"id": …}``); REST answers wrap it
(``{"order": {…}}``). Every function here takes either. Parse bodies with
:func:`qbsync.storefronts.records.load_payload` so money keeps its exact digits; ids are kept as strings
(they exceed 2^53).

Shopify facts these functions rely on: plain money fields and ``*_set.shop_money`` are the shop's
currency (what the books use), ``presentment_money`` is the buyer's; ``total_*`` are as placed and
``current_*`` after edits/refunds, so an order is taken as placed and refunds come separately;
line discounts are ``discount_allocations`` indexing ``discount_applications``; line prices include tax
when the order's ``taxes_included``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
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
    Order,
    OrderLine,
    Payload,
    Payment,
    Product,
    Refund,
    RefundLine,
    RefundSummary,
    ShippingLine,
    StockLevel,
    TaxLine,
    check_resource_type,
    plain_text,
    to_id,
    utc_offset_minutes,
)
from qbsync.storefronts.shopify.gateways import GIFT_CARD_GATEWAY, gateway_names

_HUNDRED = Decimal(100)
_PAID = ("paid", "partially_refunded", "refunded")

# Topic "<resources>/<action>" → (resource type, event). Order actions other than create/delete all
# mean "the order changed"; the receiver keeps the raw topic if it needs more.
_TOPIC_RESOURCES = {
    "orders": "order",
    "customers": "customer",
    "products": "product",
    "refunds": "refund",
    "inventory_levels": "stock",
}
_TOPIC_EVENTS = {
    "create": "created",
    "update": "updated",
    "updated": "updated",
    "edited": "updated",
    "paid": "updated",
    "cancelled": "updated",
    "fulfilled": "updated",
    "partially_fulfilled": "updated",
    "enable": "updated",
    "disable": "updated",
    "delete": "deleted",
    # An item stocked at a new location / no longer stocked there.
    "connect": "created",
    "disconnect": "deleted",
}


# The key a REST answer wraps each resource in, where it differs from the resource type.
_WRAPPERS = {"stock": "inventory_level"}


def _unwrap(payload: Mapping[str, Any], key: str) -> Payload:
    """The resource object, whether given bare (webhook) or wrapped as ``{key: {...}}`` (REST)."""
    p = Payload(payload)
    inner = p.get(key)
    if "id" not in p.data and isinstance(inner, Mapping) and len(p.data) == 1:
        return Payload(inner, key)
    return p


def _money(p: Payload, key: str, default: Decimal | None = ZERO) -> Decimal:
    """Shop-currency money: ``<key>_set.shop_money.amount`` (always a string) when present, else the
    plain field (which refund lines send as a JSON number). Required when ``default`` is None."""
    money_set = p.object(f"{key}_set")
    shop = money_set.object("shop_money") if money_set else None
    if shop is not None and shop.has("amount"):
        return shop.decimal("amount")
    if default is None:
        return p.decimal(key)
    return p.decimal_or(key, default)


def _allocated(p: Payload) -> Decimal:
    return sum((_money(a, "amount") for a in p.objects("discount_allocations")), ZERO)


# --------------------------------------------------------------------------------------------------
# Orders


def order(payload: Mapping[str, Any]) -> Order:
    """An order (``orders/*`` webhook body or ``GET /orders/<id>.json``) as an :class:`Order`."""
    p = _unwrap(payload, "order")
    order_id = p.id("id")
    currency = p.text("currency")
    if not currency:
        raise InvalidPayload("currency: required field is missing")
    created_at = p.when("created_at") or p.when("processed_at")
    if created_at is None:
        raise InvalidPayload("created_at: required field is missing")
    line_items = p.required_objects("line_items")
    shipping_items = [s for s in p.objects("shipping_lines") if not s.flag("is_removed")]
    lines = tuple(_order_line(item) for item in line_items)
    shipping_lines = tuple(
        ShippingLine(
            id=s.optional_id("id"),
            method_id=s.text("code"),
            title=s.text("title"),
            amount=_money(s, "price"),
            discount=_allocated(s),
            tax=sum((_money(t, "price") for t in s.objects("tax_lines")), ZERO),
            tax_lines=tuple(_tax_line(t) for t in s.objects("tax_lines")),
        )
        for s in shipping_items
    )
    financial_status = p.text("financial_status")
    cancelled_at = p.when("cancelled_at")
    paid = financial_status in _PAID
    billing = _address(p.object("billing_address"))
    shipping = _address(p.object("shipping_address"))
    gateways = gateway_names(p.data)
    payments = _payments(p)
    money_paid = [pay for pay in payments if pay.gateway != GIFT_CARD_GATEWAY]
    if money_paid:  # the gateway that took the money (the largest part), not the gift card
        gateway = max(money_paid, key=lambda pay: pay.amount).gateway
        title = gateway
    else:
        gateway = p.text("gateway") or (gateways[0] if gateways else "")
        title = ", ".join(gateways) or gateway
    number = p.text("name").lstrip("#") or p.text("order_number") or order_id
    total = _money(p, "total_price", None)
    return Order(
        storefront_id=order_id,
        number=number,
        status=_status(financial_status, p.text("fulfillment_status"), cancelled_at),
        raw_status=financial_status,
        paid=paid,
        # Shopify orders do not carry a payment date (transactions do); processed_at is when the
        # checkout completed, which is when a paid order was paid.
        date_paid=(p.when("processed_at") or created_at) if paid else None,
        cancelled_at=cancelled_at,
        restocked_on_cancel=_restocked_on_cancel(p, cancelled_at),
        currency=currency,
        created_at=created_at,
        utc_offset_minutes=utc_offset_minutes(p.get("created_at") or p.get("processed_at"), None),
        modified_at=p.when("updated_at"),
        customer=_order_customer(p, billing, shipping),
        billing=billing,
        shipping=shipping,
        lines=lines,
        shipping_lines=shipping_lines,
        fee_lines=_fees(p),
        discounts=_discounts(p, line_items, shipping_items),
        tax_lines=_order_taxes(p, line_items, shipping_items),
        subtotal=_money(p, "total_line_items_price", sum((line.subtotal for line in lines), ZERO)),
        discount_total=_money(p, "total_discounts"),
        shipping_total=_money(p, "total_shipping_price", sum((s.amount for s in shipping_lines), ZERO)),
        tax_total=_money(p, "total_tax"),
        total=total,
        gift_card_amount=_gift_card_amount(p, gateways, total),
        payments=payments,
        **_presentment(p, currency),
        prices_include_tax=p.flag("taxes_included"),
        payment_method=gateway,
        payment_method_title=title,
        transaction_id=None,
        note=p.text("note"),
        refunds=tuple(
            RefundSummary(storefront_id=r.id("id"), amount=_refund_amount(r, _refund_lines(r)),
                          reason=r.text("note"), lines=_refund_lines(r))
            for r in p.objects("refunds")
        ),
        input_notes=tuple(p.notes),  # last: every text field above has been read (and cleaned)
    )




def _restocked_on_cancel(p: Payload, cancelled_at: datetime | None) -> bool | None:
    """Whether cancelling put back in stock what the order's refunds had not, as the body says. True:
    ``fulfillment_status`` "restocked" (every line restocked). False: a refund made with the cancellation
    lists lines: Shopify states what it restocked on cancelling as refund lines (``restock_type``
    "cancel", or "no_restock" when the merchant kept the stock out), which come back through the refund's
    own credit memo, and what it left out (lines already fulfilled) stayed out. None when the order is
    not cancelled or the body does not say (no refund made with the cancellation)."""
    if cancelled_at is None:
        return None
    if p.text("fulfillment_status") == "restocked":
        return True
    for r in p.objects("refunds"):
        made = r.when("created_at") or r.when("processed_at")
        types = [line.text("restock_type") for line in r.objects("refund_line_items")]
        if "cancel" in types:
            return False  # only the cancellation restocks with this type, whenever its refund was made
        # Made with the cancellation: no earlier than a minute before cancelled_at (assumed: Shopify
        # stamps the cancellation's refund and cancelled_at in one operation).
        if any(types) and made is not None and made >= cancelled_at - timedelta(minutes=1):
            return False
    return None


def _presentment(p: Payload, currency: str) -> dict[str, Any]:
    """The buyer's currency and the order's total in it, when it is not the shop's currency: the store's
    own conversion, so a company keeping its books in the buyer's currency can book it at the store's
    rate (``presentment_money`` of ``total_price_set``)."""
    shown = p.text("presentment_currency").upper()
    money_set = p.object("total_price_set")
    presented = money_set.object("presentment_money") if money_set else None
    if not shown or shown == currency.upper() or presented is None or not presented.has("amount"):
        return {}
    return {"presentment_currency": shown, "presentment_total": presented.decimal("amount")}


def _payments(p: Payload) -> tuple[Payment, ...]:
    """The money each gateway took: successful sale and capture transactions, summed per gateway in the
    order they first appear; empty when the body carries no transactions."""
    paid: dict[str, Decimal] = {}
    for t in p.objects("transactions"):
        if t.text("kind") in ("sale", "capture") and t.text("status") == "success":
            gateway = t.text("gateway")
            paid[gateway] = paid.get(gateway, ZERO) + _money(t, "amount")
    return tuple(Payment(gateway=gateway, amount=amount) for gateway, amount in paid.items())


def _gift_card_amount(p: Payload, gateways: list[str], total: Decimal) -> Decimal | None:
    """What Shopify gift cards paid of the order: its successful ``gift_card`` sale/capture transactions
    when the body carries them (an order read with its transactions), the whole total when gift cards
    were the only gateway, None when a gift card paid an unknown part (an order webhook has no
    transactions), else zero. ``total_price`` includes gift card payments."""
    if p.objects("transactions"):
        return sum((pay.amount for pay in _payments(p) if pay.gateway == GIFT_CARD_GATEWAY), ZERO)
    if gateways and all(g == GIFT_CARD_GATEWAY for g in gateways):
        return total
    return None if GIFT_CARD_GATEWAY in gateways else ZERO


def _status(financial_status: str, fulfillment_status: str, cancelled_at: datetime | None) -> str:
    """Shopify's financial/fulfilment state in the records' vocabulary (authorized: payment held,
    awaiting capture → on_hold)."""
    if cancelled_at is not None or financial_status == "voided":
        return "cancelled"
    if financial_status == "refunded":
        return "refunded"
    if financial_status == "expired":
        return "failed"
    if financial_status in ("paid", "partially_refunded"):
        return "completed" if fulfillment_status == "fulfilled" else "processing"
    if financial_status == "partially_paid":
        return "processing"
    if financial_status == "authorized":
        return "on_hold"
    return "pending"


def _tax_line(t: Payload) -> TaxLine:
    rate = t.optional_decimal("rate")
    title = t.text("title")
    return TaxLine(
        code=title,
        label=title,
        rate_percent=rate * _HUNDRED if rate is not None else None,
        amount=_money(t, "price"),
    )


def _order_line(item: Payload) -> OrderLine:
    quantity = item.decimal("quantity")
    unit_price = _money(item, "price", None)
    subtotal = unit_price * quantity
    if item.get("discount_allocations") is not None:
        discount = _allocated(item)
    else:
        discount = _money(item, "total_discount")
    tax_lines = tuple(_tax_line(t) for t in item.objects("tax_lines"))
    name = item.text("name")
    if not name:
        name = " - ".join(part for part in (item.text("title"), item.text("variant_title")) if part)
    return OrderLine(
        id=item.optional_id("id"),
        product_id=item.optional_id("product_id"),
        variant_id=item.optional_id("variant_id"),
        sku=item.optional_text("sku"),
        name=name,
        quantity=quantity,
        unit_price=unit_price,
        subtotal=subtotal,
        total=subtotal - discount,
        tax=sum((t.amount for t in tax_lines), ZERO),
        taxable=item.flag("taxable", True),
        tax_lines=tax_lines,
        gift_card=item.flag("gift_card"),  # "Whether the item is a gift card" (REST Order line_items)
    )


def _order_taxes(p: Payload, line_items: list[Payload], shipping_items: list[Payload]) -> tuple[TaxLine, ...]:
    """The order's tax lines, each with the part charged on shipping. An order body without
    ``tax_lines`` (trimmed by ``include_fields``) gets them added up from its lines."""
    shipping_tax: dict[tuple[str, Decimal | None], Decimal] = {}
    for s in shipping_items:
        for t in s.objects("tax_lines"):
            tax = _tax_line(t)
            key = (tax.label, tax.rate_percent)
            shipping_tax[key] = shipping_tax.get(key, ZERO) + tax.amount
    if p.get("tax_lines") is not None:
        order_taxes = [_tax_line(t) for t in p.objects("tax_lines")]
    else:
        totals: dict[tuple[str, Decimal | None], Decimal] = {}
        for item in [*line_items, *shipping_items]:
            for t in item.objects("tax_lines"):
                tax = _tax_line(t)
                key = (tax.label, tax.rate_percent)
                totals[key] = totals.get(key, ZERO) + tax.amount
        order_taxes = [TaxLine(code=label, label=label, rate_percent=rate, amount=amount)
                       for (label, rate), amount in totals.items()]
    return tuple(
        TaxLine(code=t.code, label=t.label, rate_percent=t.rate_percent, amount=t.amount,
                shipping_amount=shipping_tax.get((t.label, t.rate_percent), ZERO))
        for t in order_taxes
    )


def _discounts(
    p: Payload, line_items: list[Payload], shipping_items: list[Payload]
) -> tuple[DiscountLine, ...]:
    """One discount line per discount application, its amount the sum of what it allocated to lines
    and shipping; without allocations, the ``discount_codes``; failing both, ``total_discounts``."""
    allocated: dict[int, Decimal] = {}
    for item in [*line_items, *shipping_items]:
        for a in item.objects("discount_allocations"):
            index = a.get("discount_application_index")
            if not isinstance(index, int) or isinstance(index, bool):
                raise InvalidPayload(f"{a.where('discount_application_index')}: expected an index")
            allocated[index] = allocated.get(index, ZERO) + _money(a, "amount")
    applications = p.objects("discount_applications")
    if allocated:
        discounts = []
        for index, amount in sorted(allocated.items()):
            if index >= len(applications):
                raise InvalidPayload(f"discount_applications[{index}]: allocated to but not present")
            app = applications[index]
            code = app.text("code")
            title = app.text("title") or app.text("description") or code
            discounts.append(DiscountLine(code=code, title=title, amount=amount))
        return tuple(discounts)
    codes = tuple(
        DiscountLine(code=c.text("code"), title=c.text("code"), amount=_money(c, "amount"))
        for c in p.objects("discount_codes")
    )
    if codes:
        return codes
    total_discounts = _money(p, "total_discounts")
    return (DiscountLine(title="Discount", amount=total_discounts),) if total_discounts else ()


def _fees(p: Payload) -> tuple[FeeLine, ...]:
    """Duties and additional fees (international orders) as fee lines: both are in ``total_price``."""
    fees = []
    for key, name in (("original_total_duties", "Duties"),
                      ("original_total_additional_fees", "Additional fees")):
        amount = _money(p, key)
        if amount:
            fees.append(FeeLine(name=name, amount=amount))
    return tuple(fees)


def _order_customer(p: Payload, billing: Address | None, shipping: Address | None) -> Customer:
    """The embedded customer with the order's addresses (its e-mail and billing names filling gaps),
    or a guest built from the order's e-mail and billing address when the order has no customer."""
    email = p.email("email") or p.email("contact_email")
    embedded = p.object("customer")
    if embedded is not None and embedded.has("id"):
        found = _customer(embedded)
        return Customer(
            storefront_id=found.storefront_id,
            email=found.email or email,
            first_name=found.first_name or (billing.first_name if billing else ""),
            last_name=found.last_name or (billing.last_name if billing else ""),
            company=found.company or (billing.company if billing else ""),
            phone=found.phone or p.text("phone") or (billing.phone if billing else ""),
            # What the buyer gave at checkout beats the account's default address (often nameless).
            billing=billing or found.billing,
            shipping=shipping or found.shipping,
            modified_at=found.modified_at,
            is_guest=False,
        )
    return Customer(
        storefront_id=None,
        email=email,
        first_name=billing.first_name if billing else "",
        last_name=billing.last_name if billing else "",
        company=billing.company if billing else "",
        phone=p.text("phone") or (billing.phone if billing else ""),
        billing=billing,
        shipping=shipping,
        is_guest=True,
    )


def order_refunds(payload: Mapping[str, Any]) -> list[Refund]:
    """The refunds embedded in an order body, as full :class:`Refund` records."""
    p = _unwrap(payload, "order")
    order_id = p.id("id")
    return [_refund(r, order_id) for r in p.objects("refunds")]


# --------------------------------------------------------------------------------------------------
# Refunds


def refund(payload: Mapping[str, Any], order_id: str | int | None = None) -> Refund:
    """A refund (``refunds/create`` body or ``GET /orders/<id>/refunds/<id>.json``)."""
    p = _unwrap(payload, "refund")
    return _refund(p, to_id(order_id, "order_id") if order_id is not None else None)


def _refund(p: Payload, order_id: str | None) -> Refund:
    refund_id = p.id("id")
    parent = order_id or p.optional_id("order_id")
    if parent is None:
        raise InvalidPayload(f"{p.where('order_id')}: required field is missing")
    lines = _refund_lines(p)
    adjustments = p.objects("order_adjustments")
    shipping_refunds = [a for a in adjustments if a.text("kind") == "shipping_refund"]
    # Before API 2024-10 every adjustment has a ``kind`` and refunded shipping is a "shipping_refund" one,
    # with its tax. Since 2024-10 refund bodies carry no ``kind`` and leave refunded shipping out ("Exposing
    # the order adjustments connection on a Refund", shopify.dev/changelog, 2024-10-01): not itemized.
    itemized = bool(shipping_refunds) or any(a.get("kind") is not None for a in adjustments)
    if p.get("restock") is not None:
        restock: bool | None = p.flag("restock")
    elif any(line.restock is not None for line in lines):
        restock = any(line.restock for line in lines)
    else:
        restock = None
    return Refund(
        storefront_id=refund_id,
        order_id=parent,
        amount=_refund_amount(p, lines),
        reason=p.text("note"),
        lines=lines,
        shipping=sum((-_money(a, "amount") for a in shipping_refunds), ZERO),
        shipping_tax=sum((-_money(a, "tax_amount") for a in shipping_refunds), ZERO) if itemized else None,
        restock=restock,
        created_at=p.when("created_at") or p.when("processed_at"),
    )


def _refund_lines(p: Payload) -> tuple[RefundLine, ...]:
    lines = []
    for r in p.objects("refund_line_items"):
        item = r.object("line_item") or Payload({}, r.where("line_item"))
        restock_type = r.text("restock_type")
        lines.append(RefundLine(
            line_id=r.optional_id("line_item_id") or item.optional_id("id"),
            product_id=item.optional_id("product_id"),
            variant_id=item.optional_id("variant_id"),
            sku=item.optional_text("sku"),
            quantity=r.decimal("quantity"),
            amount=_money(r, "subtotal"),
            tax=_money(r, "total_tax"),
            restock=(restock_type != "no_restock") if restock_type else None,
        ))
    return tuple(lines)


def _refund_amount(p: Payload, lines: tuple[RefundLine, ...]) -> Decimal:
    """The money returned: the successful ``refund`` transactions; without transactions, the refunded
    lines and tax less the order adjustments (shipping refunds are negative adjustments)."""
    transactions = [t for t in p.objects("transactions")
                    if t.text("kind") == "refund" and t.text("status") in ("success", "")]
    if transactions:
        return sum((_money(t, "amount") for t in transactions), ZERO)
    adjustments = sum((_money(a, "amount") + _money(a, "tax_amount") for a in p.objects("order_adjustments")),
                      ZERO)
    return sum((line.amount + line.tax for line in lines), ZERO) - adjustments


# --------------------------------------------------------------------------------------------------
# Customers


def customer(payload: Mapping[str, Any]) -> Customer:
    """A customer (``customers/*`` body or ``GET /customers/<id>.json``); its default address serves as
    billing and shipping address (Shopify customers have no separate ones)."""
    return _customer(_unwrap(payload, "customer"))


def _customer(p: Payload) -> Customer:
    default = p.object("default_address")
    if default is None:
        addresses = p.objects("addresses")
        default = next((a for a in addresses if a.flag("default")), addresses[0] if addresses else None)
    address = _address(default)
    return Customer(
        storefront_id=p.id("id"),
        email=p.email("email"),
        first_name=p.text("first_name") or (address.first_name if address else ""),
        last_name=p.text("last_name") or (address.last_name if address else ""),
        company=address.company if address else "",
        phone=p.text("phone") or (address.phone if address else ""),
        billing=address,
        shipping=address,
        modified_at=p.when("updated_at"),
        is_guest=False,
    )


def _address(a: Payload | None) -> Address | None:
    """An address object; None when absent or blank. State and country as codes when given."""
    if a is None:
        return None
    address = Address(
        first_name=a.text("first_name"),
        last_name=a.text("last_name"),
        company=a.text("company"),
        line1=a.text("address1"),
        line2=a.text("address2"),
        city=a.text("city"),
        state=a.text("province_code") or a.text("province"),
        postcode=a.text("zip"),
        country=a.text("country_code") or a.text("country"),
        phone=a.text("phone"),
    )
    return None if address == Address() else address


# --------------------------------------------------------------------------------------------------
# Products and stock


def products(payload: Mapping[str, Any]) -> list[Product]:
    """One :class:`Product` per variant of a product (``products/*`` body or ``GET
    /products/<id>.json``)."""
    p = _unwrap(payload, "product")
    p.id("id")
    variants = p.required_objects("variants")
    if not variants:
        raise InvalidPayload("variants: a product has at least one variant")
    return [_variant(v, p) for v in variants]


def product_variation(payload: Mapping[str, Any], parent: Mapping[str, Any] | None = None) -> Product:
    """One variant body (``GET /variants/<id>.json``); ``parent`` (the product body) supplies the
    product's title, description and status."""
    v = _unwrap(payload, "variant")
    return _variant(v, _unwrap(parent, "product") if parent is not None else None)


def variation_ids_to_fetch(payload: Mapping[str, Any]) -> list[str]:
    """Always ``[]``: Shopify product bodies embed their variants."""
    _unwrap(payload, "product").id("id")
    return []


def _variant(v: Payload, product: Payload | None) -> Product:
    product_id = product.id("id") if product is not None else v.id("product_id")
    title = product.text("title") if product is not None else ""
    variant_title = v.text("title")
    if variant_title == "Default Title":  # Shopify's title for the only variant of a simple product
        variant_title = ""
    name = " - ".join(part for part in (title, variant_title) if part) or f"Variant {v.id('id')}"
    # A variant is tracked when Shopify (or a fulfilment service) manages its inventory.
    manages_stock = v.has("inventory_management")
    if manages_stock:
        kind = "inventory"
    elif v.get("requires_shipping") is False:
        kind = "service"
    else:
        kind = "non_inventory"
    inventory_item = v.object("inventory_item")
    cost = v.optional_decimal("cost")
    if cost is None and inventory_item is not None:
        cost = inventory_item.optional_decimal("cost")
    stamps = [t for t in (v.when("updated_at"), product.when("updated_at") if product else None) if t]
    return Product(
        product_id=product_id,
        variant_id=v.id("id"),
        parent_id=product_id,
        sku=v.optional_text("sku"),
        name=name,
        description=plain_text(product.text("body_html", MAX_HTML_CHARS)) if product is not None else "",
        price=v.optional_decimal("price"),
        cost=cost,
        manages_stock=manages_stock,
        stock_quantity=v.decimal_or("inventory_quantity") if manages_stock else None,
        taxable=v.flag("taxable", True),
        active=(product.text("status") in ("active", "")) if product is not None else True,
        # A product edit (its title) changes every variant's record too.
        modified_at=max(stamps) if stamps else None,
        inventory_item_id=v.optional_id("inventory_item_id"),
        kind=kind,
    )


def stock_level(payload: Mapping[str, Any]) -> StockLevel:
    """An InventoryLevel (``inventory_levels/*`` body, or one item of ``GET /inventory_levels.json``;
    the ``{"inventory_level": …}`` answer of ``set``/``adjust`` is accepted too). ``available`` null
    (not tracked there) gives quantity None."""
    p = Payload(payload)
    inner = p.get("inventory_level")
    if "inventory_item_id" not in p.data and isinstance(inner, Mapping):
        p = Payload(inner, "inventory_level")
    return StockLevel(
        inventory_item_id=p.id("inventory_item_id"),
        location_id=p.optional_id("location_id"),
        quantity=p.optional_decimal("available"),
        modified_at=p.when("updated_at"),
    )


# --------------------------------------------------------------------------------------------------
# Webhook bookkeeping


def modified_at(resource_type: str, payload: Mapping[str, Any]) -> datetime | None:
    """When the resource last changed, aware UTC, from ``updated_at`` (with its offset); refunds never
    change, so their ``created_at``. None when the body has none."""
    check_resource_type(resource_type)
    p = _unwrap(payload, _WRAPPERS.get(resource_type, resource_type))
    if resource_type == "refund":
        return p.when("created_at") or p.when("processed_at")
    return p.when("updated_at")


def resource_of_topic(topic: str) -> tuple[str, str]:
    """``X-Shopify-Topic`` → (resource type, event): "orders/create" → ("order", "created"),
    "refunds/create" → ("refund", "created"), "inventory_levels/update" → ("stock", "updated"),
    "products/delete" → ("product", "deleted"); orders/paid, /cancelled, /fulfilled, /edited →
    ("order", "updated"). Raise ValueError for topics we do not handle (app/uninstalled, GDPR topics)."""
    resource, _, action = topic.strip().lower().partition("/")
    if resource in _TOPIC_RESOURCES and action in _TOPIC_EVENTS:
        return (_TOPIC_RESOURCES[resource], _TOPIC_EVENTS[action])
    raise ValueError(f"unsupported Shopify webhook topic {topic!r}")
