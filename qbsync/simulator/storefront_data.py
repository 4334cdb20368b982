"""Realistic, varied storefront records for the storefront double, tests and benchmarks.

Shapes follow the REST samples in the shared reference folder (WooCommerce v3, Shopify 2026-07): money as
decimal strings (WooCommerce ``line_items[].price`` a number), taxes per line and per order, shipping,
coupons, refunds, guests and registered customers, variations/variants with their own SKUs. Everything
is deterministic for a given ``seed``. Orders reference the catalogue of :func:`make_products` and the
customers of :func:`make_customers` (customer ids 1..``customers``), so a double loaded with all three
is consistent. Fast enough for 50,000 orders in a couple of seconds.
"""

from __future__ import annotations

import gc
import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

PLATFORMS = ("woocommerce", "shopify")

# name, SKU stem, price in cents, options (each option becomes a variation/variant), taxable
_CATALOGUE: tuple[tuple[str, str, int, tuple[str, ...], bool], ...] = (
    ("Ceramic Mug", "MUG-CER", 1299, (), True),
    ("Enamel Camp Mug", "MUG-ENA", 1650, (), True),
    ("Pour-Over Coffee Kit", "KIT-POUR", 4800, (), True),
    ("Whole Bean Coffee 1 lb", "COF-WB", 1700, ("Light Roast", "Medium Roast", "Dark Roast"), False),
    ("Classic Tee", "TEE-CLS", 2400, ("S", "M", "L", "XL"), True),
    ("Pullover Hoodie", "HOOD-PUL", 5400, ("S", "M", "L"), True),
    ("Canvas Tote", "TOTE-CNV", 1800, (), True),
    ("Dot Grid Notebook A5", "NOTE-A5", 950, (), True),
    ("Gift Card $25", "GIFT-25", 2500, (), False),
    ("Sticker Pack (5)", "STK-5", 600, (), True),
    ("Insulated Bottle 750 ml", "BTL-750", 2800, ("Black", "Sage", "Sand"), True),
    ("Six-Panel Cap", "CAP-6P", 2200, (), True),
    ("Rib Beanie", "BEAN-RIB", 1900, ("Charcoal", "Rust"), True),
    ("Espresso Cups, set of 2", "CUP-ESP2", 2100, (), True),
    ("Hand Grinder", "GRND-HND", 8900, (), True),
    ("Gooseneck Kettle", "KTL-GOOSE", 6900, (), True),
    ("Paper Filters (100)", "FLT-100", 650, (), True),
    ("Loose Leaf Tea Sampler", "TEA-SMP", 2350, (), False),
    ("Art Print 18x24", "PRT-1824", 3000, (), True),
    ("Crew Socks", "SOCK-CRW", 1200, ("S/M", "L/XL"), True),
)

_FIRST = (
    "John",
    "Maria",
    "Wei",
    "Aisha",
    "Carlos",
    "Emma",
    "Noah",
    "Olivia",
    "Liam",
    "Sofia",
    "Mateo",
    "Chloé",
    "Ravi",
    "Hannah",
    "Kenji",
    "Fatima",
    "Lucas",
    "Zoë",
    "Jonas",
    "Amara",
    "Björn",
    "Ana",
)
_LAST = (
    "Doe",
    "García",
    "Chen",
    "Okafor",
    "Smith",
    "Müller",
    "Nguyen",
    "O'Brien",
    "Kowalski",
    "Haddad",
    "Rossi",
    "Johansson",
    "Patel",
    "Tanaka",
    "Dubois",
    "Silva",
    "Novak",
    "Cohen",
    "Murphy",
    "Larsen",
)
_COMPANIES = ("", "", "", "", "Acme Corp", "Blue Door Café", "Northwind Traders", "Parkside Studio")
# city, state code, state name, ZIP, sales-tax rate in basis points (0 = no tax collected)
_PLACES = (
    ("San Francisco", "CA", "California", "94103", 863),
    ("Los Angeles", "CA", "California", "90012", 950),
    ("Brooklyn", "NY", "New York", "11201", 888),
    ("Austin", "TX", "Texas", "78701", 825),
    ("Portland", "OR", "Oregon", "97205", 0),
    ("Seattle", "WA", "Washington", "98101", 1035),
    ("Chicago", "IL", "Illinois", "60601", 1025),
    ("Denver", "CO", "Colorado", "80202", 881),
    ("Miami", "FL", "Florida", "33130", 700),
    ("Wilmington", "DE", "Delaware", "19801", 0),
)
_RATE_IDS = {place[0]: 70 + index for index, place in enumerate(_PLACES)}  # WooCommerce tax rate ids
_STREETS = ("Market St", "Main St", "Oak Ave", "2nd St", "Pine St", "Elm St", "Lake Shore Dr", "Broadway")
_WOO_STATUSES = (
    ("completed", 62),
    ("processing", 18),
    ("on-hold", 4),
    ("pending", 4),
    ("cancelled", 5),
    ("refunded", 4),
    ("failed", 3),
)
_WOO_PAYMENTS = (
    ("stripe", "Credit Card (Stripe)"),
    ("stripe", "Credit Card (Stripe)"),
    ("paypal", "PayPal"),
    ("bacs", "Direct Bank Transfer"),
    ("cod", "Cash on delivery"),
)
_SHOPIFY_FINANCIAL = (
    ("paid", 76),
    ("pending", 5),
    ("authorized", 5),
    ("partially_refunded", 5),
    ("refunded", 4),
    ("voided", 4),
    ("partially_paid", 1),
)
_SITE_OFFSET = timedelta(hours=-5)  # the stores' local time zone (site time / shop time)
_SITE_SUFFIX = "-05:00"
_COUPONS = (("TENOFF", 10), ("WELCOME15", 15), ("VIP20", 20))


@dataclass(frozen=True)
class _Sellable:
    """One thing that can be on an order line: a simple product or one variation/variant."""

    product_id: int
    variation_id: int  # WooCommerce variation id or Shopify variant id; 0 for a simple WooCommerce product
    inventory_item_id: int  # Shopify only
    sku: str
    name: str  # product name
    option: str  # variation/variant title, "" when none
    price: int  # cents
    taxable: bool


def _check_platform(platform: str) -> str:
    if platform not in PLATFORMS:
        raise ValueError(f"platform must be one of {', '.join(PLATFORMS)}, not {platform!r}")
    return platform


@cache
def _sellables(platform: str) -> tuple[_Sellable, ...]:
    out = []
    for index, (name, stem, price, options, taxable) in enumerate(_CATALOGUE):
        if platform == "woocommerce":
            product_id = 100 + index * 10
            if not options:
                out.append(_Sellable(product_id, 0, 0, stem, name, "", price, taxable))
            for number, option in enumerate(options, start=1):
                sku = f"{stem}-{_sku_part(option)}"
                out.append(_Sellable(product_id, product_id + number, 0, sku, name, option, price, taxable))
        else:
            product_id = 7_100_000_000 + index * 1_117
            for number, option in enumerate(options or ("Default Title",), start=1):
                variant_id = 41_200_000_000 + index * 100 + number
                sku = f"{stem}-{_sku_part(option)}" if options else stem
                out.append(
                    _Sellable(
                        product_id,
                        variant_id,
                        variant_id + 3_300_000_000,
                        sku,
                        name,
                        option if options else "",
                        price,
                        taxable,
                    )
                )
    return tuple(out)


def _sku_part(option: str) -> str:
    return "".join(ch for ch in option.upper() if ch.isalnum())[:4]


@cache
def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def _tax(cents: int, rate_bp: int) -> int:
    """Sales tax on ``cents`` at ``rate_bp`` basis points, rounded half up."""
    return (cents * rate_bp + 5_000) // 10_000


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    roll = rng.random() * sum(weight for _value, weight in weighted)
    for value, weight in weighted:
        roll -= weight
        if roll < 0:
            return value
    return weighted[-1][0]


@dataclass(frozen=True)
class _Person:
    first: str
    last: str
    company: str
    email: str
    phone: str
    street: str
    city: str
    state: str
    state_name: str
    zip: str
    tax_bp: int


@cache
def _person(number: int) -> _Person:
    """Customer ``number`` (1-based), the same every time; guests use numbers above the customers."""
    first = _FIRST[(number * 7) % len(_FIRST)]
    last = _LAST[(number * 13 + number // len(_FIRST)) % len(_LAST)]
    place = _PLACES[(number * 3) % len(_PLACES)]
    email_name = f"{first}.{last}".lower().replace("'", "").replace(" ", "")
    email_name = unicodedata.normalize("NFKD", email_name).encode("ascii", "ignore").decode() or "customer"
    return _Person(
        first,
        last,
        _COMPANIES[number % len(_COMPANIES)],
        f"{email_name}{number}@example.com",
        f"(555) {100 + number % 900:03d}-{number % 10_000:04d}",
        f"{100 + number % 9_800} {_STREETS[number % len(_STREETS)]}",
        place[0],
        place[1],
        place[2],
        place[3],
        place[4],
    )


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _local(moment: datetime) -> str:
    return (moment + _SITE_OFFSET).isoformat(timespec="seconds")


def _shopify_time(moment: datetime) -> str:
    return (moment + _SITE_OFFSET).isoformat(timespec="seconds") + _SITE_SUFFIX


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def make_orders(
    n: int,
    platform: str,
    *,
    seed: int = 0,
    first_id: int | None = None,
    first_number: int = 1001,
    start: datetime = datetime(2024, 1, 1),
    end: datetime = datetime(2025, 12, 31),
    customers: int = 500,
) -> list[dict[str, Any]]:
    """``n`` orders of ``platform`` ("woocommerce" or "shopify"), ids ascending, created across
    [``start``, ``end``) (naive = UTC) in id order, about a third changed again later.

    WooCommerce ids start at ``first_id`` (default 1001) with ``number`` = id; Shopify ids start just
    below 2**53 (default) so larger runs cross the float-safe limit, with ``order_number`` from
    ``first_number``. Customer ids are drawn from 1..``customers``; about 30% of orders are guests.
    """
    orders = generate_orders(
        n,
        platform,
        seed=seed,
        first_id=first_id,
        first_number=first_number,
        start=start,
        end=end,
        customers=customers,
    )
    # Millions of short-lived containers: the cyclic collector would otherwise rescan them all repeatedly.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return list(orders)
    finally:
        if collecting:
            gc.enable()


def generate_orders(
    n: int,
    platform: str,
    *,
    seed: int = 0,
    first_id: int | None = None,
    first_number: int = 1001,
    start: datetime = datetime(2024, 1, 1),
    end: datetime = datetime(2025, 12, 31),
    customers: int = 500,
) -> Iterator[dict[str, Any]]:
    """The orders of :func:`make_orders`, one at a time (to load a double without holding them all)."""
    _check_platform(platform)
    if n < 0:
        raise ValueError("n must not be negative")
    start, end = _utc(start), _utc(end)
    if end <= start:
        raise ValueError("end must be after start")
    return _generate(n, platform, seed, first_id, first_number, start, end, customers)


def _generate(
    n: int,
    platform: str,
    seed: int,
    first_id: int | None,
    first_number: int,
    start: datetime,
    end: datetime,
    customers: int,
) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    span = (end - start).total_seconds()
    if platform == "woocommerce":
        base = 1001 if first_id is None else first_id
        build = _woo_order
    else:
        base = 2**53 - 250 if first_id is None else first_id
        build = _shopify_order
    sellables = _sellables(platform)
    for i in range(n):
        yield _one_order(rng, build, sellables, span, start, base + i, first_number + i, i + 1, n, customers)


def _one_order(
    rng: random.Random,
    build: Any,
    sellables: tuple[_Sellable, ...],
    span: float,
    start: datetime,
    order_id: int,
    order_number: int,
    serial: int,
    n: int,
    customers: int,
) -> dict[str, Any]:
    rand = rng.random
    created = start + timedelta(seconds=int(span * (serial - 1 + rand()) / n))
    if rand() < 0.33:  # changed again later: status moves, edits, refunds
        modified = created + timedelta(seconds=3_600 + int(rand() * 9 * 86_400))
    else:
        modified = created + timedelta(seconds=int(rand() * 600))
    customer = 1 + int(rand() * customers) if rand() < 0.7 else 0
    person = _person(customer or customers + 1 + int(rand() * 10_000))
    count = 1 if rand() < 0.45 else 2 + int(rand() * 3)
    picked = rng.sample(sellables, count)
    lines = [(item, 1 if rand() < 0.7 else 2 + int(rand() * 3)) for item in picked]
    coupon = _COUPONS[int(rand() * len(_COUPONS))] if rand() < 0.12 else None
    return build(rng, order_id, order_number, serial, created, modified, customer, person, lines, coupon)


def _woo_order(
    rng: random.Random,
    order_id: int,
    _order_number: int,
    _serial: int,
    created: datetime,
    modified: datetime,
    customer: int,
    person: _Person,
    lines: list[tuple[_Sellable, int]],
    coupon: tuple[str, int] | None,
) -> dict[str, Any]:
    status = _pick(rng, _WOO_STATUSES)
    rate = person.tax_bp
    rate_id = _RATE_IDS[person.city]
    line_items = []
    subtotal = discount = cart_tax = discount_tax = 0
    for number, (item, quantity) in enumerate(lines):
        line_subtotal = item.price * quantity
        line_total = line_subtotal - (line_subtotal * coupon[1] // 100 if coupon else 0)
        line_rate = rate if item.taxable else 0
        line_tax, line_subtotal_tax = _tax(line_total, line_rate), _tax(line_subtotal, line_rate)
        subtotal += line_subtotal
        discount += line_subtotal - line_total
        cart_tax += line_tax
        discount_tax += line_subtotal_tax - line_tax
        unit = line_total / quantity / 100
        line_items.append(
            {
                "id": order_id * 10 + number,
                "name": f"{item.name} - {item.option}" if item.option else item.name,
                "product_id": item.product_id,
                "variation_id": item.variation_id,
                "quantity": quantity,
                "tax_class": "" if item.taxable else "zero-rate",
                "subtotal": _money(line_subtotal),
                "subtotal_tax": _money(line_subtotal_tax),
                "total": _money(line_total),
                "total_tax": _money(line_tax),
                "taxes": [{"id": rate_id, "total": _money(line_tax), "subtotal": _money(line_subtotal_tax)}]
                if line_rate
                else [],
                "meta_data": [{"id": order_id * 10 + number, "key": "option", "value": item.option}]
                if item.option
                else [],
                "sku": item.sku,
                "price": int(unit) if unit == int(unit) else round(unit, 2),
            }
        )
    shipping = 0 if subtotal - discount >= 7_500 else (500 if rng.random() < 0.6 else 1_000)
    fee = 300 if rng.random() < 0.03 else 0
    total_tax = cart_tax
    total = subtotal - discount + shipping + fee + total_tax
    paid = status in ("processing", "completed", "refunded")
    paid_at = created + timedelta(seconds=45) if paid else None
    completed_at = modified if status == "completed" else None
    method, title = _WOO_PAYMENTS[order_id % len(_WOO_PAYMENTS)]
    refunds = []
    if status == "refunded":
        refunds.append(
            {"id": order_id * 10 + 9, "reason": "Customer returned the items", "total": _money(-total)}
        )
    elif status == "completed" and rng.random() < 0.05:
        refunds.append(
            {"id": order_id * 10 + 9, "reason": "Damaged in transit", "total": _money(-(total // 4))}
        )
    billing = {
        "first_name": person.first,
        "last_name": person.last,
        "company": person.company,
        "address_1": person.street,
        "address_2": "",
        "city": person.city,
        "state": person.state,
        "postcode": person.zip,
        "country": "US",
        "email": person.email,
        "phone": person.phone,
    }
    return {
        "id": order_id,
        "parent_id": 0,
        "number": str(order_id),
        "order_key": f"wc_order_{(order_id * 2_654_435_761) % 16**13:013x}",
        "created_via": "checkout",
        "version": "8.9.3",
        "status": status,
        "currency": "USD",
        "date_created": _local(created),
        "date_created_gmt": _stamp(created),
        "date_modified": _local(modified),
        "date_modified_gmt": _stamp(modified),
        "discount_total": _money(discount),
        "discount_tax": _money(discount_tax),
        "shipping_total": _money(shipping),
        "shipping_tax": "0.00",
        "cart_tax": _money(cart_tax),
        "total": _money(total),
        "total_tax": _money(total_tax),
        "prices_include_tax": False,
        "customer_id": customer,
        "customer_ip_address": f"203.0.113.{order_id % 250 + 1}",
        "customer_user_agent": "Mozilla/5.0",
        "customer_note": "Please leave at the door" if order_id % 17 == 0 else "",
        "billing": billing,
        "shipping": {k: v for k, v in billing.items() if k not in ("email", "phone")} | {"phone": ""},
        "payment_method": method,
        "payment_method_title": title,
        "transaction_id": f"ch_{order_id * 7_919:x}{order_id:06d}" if method == "stripe" and paid else "",
        "date_paid": _local(paid_at) if paid_at else None,
        "date_paid_gmt": _stamp(paid_at) if paid_at else None,
        "date_completed": _local(completed_at) if completed_at else None,
        "date_completed_gmt": _stamp(completed_at) if completed_at else None,
        "cart_hash": "",
        "meta_data": [],
        "line_items": line_items,
        "tax_lines": [
            {
                "id": order_id * 10 + 7,
                "rate_code": f"US-{person.state}-SALES TAX-1",
                "rate_id": rate_id,
                "label": f"{person.state} Sales Tax",
                "compound": False,
                "tax_total": _money(cart_tax),
                "shipping_tax_total": "0.00",
                "rate_percent": rate / 100,
                "meta_data": [],
            }
        ]
        if cart_tax
        else [],
        "shipping_lines": [
            {
                "id": order_id * 10 + 8,
                "method_title": "Free shipping" if shipping == 0 else "Flat rate",
                "method_id": "free_shipping" if shipping == 0 else "flat_rate",
                "total": _money(shipping),
                "total_tax": "0.00",
                "taxes": [],
                "meta_data": [],
            }
        ],
        "fee_lines": [
            {
                "id": order_id * 10 + 6,
                "name": "Gift wrap",
                "tax_class": "",
                "tax_status": "none",
                "total": _money(fee),
                "total_tax": "0.00",
                "taxes": [],
                "meta_data": [],
            }
        ]
        if fee
        else [],
        "coupon_lines": [
            {
                "id": order_id * 10 + 5,
                "code": coupon[0].lower(),
                "discount": _money(discount),
                "discount_tax": _money(discount_tax),
                "meta_data": [],
            }
        ]
        if coupon
        else [],
        "refunds": refunds,
    }


def _set(amount: str) -> dict[str, Any]:
    return {
        "shop_money": {"amount": amount, "currency_code": "USD"},
        "presentment_money": {"amount": amount, "currency_code": "USD"},
    }


def _shopify_order(
    rng: random.Random,
    order_id: int,
    order_number: int,
    serial: int,
    created: datetime,
    modified: datetime,
    customer: int,
    person: _Person,
    lines: list[tuple[_Sellable, int]],
    coupon: tuple[str, int] | None,
) -> dict[str, Any]:
    financial = _pick(rng, _SHOPIFY_FINANCIAL)
    rate = person.tax_bp
    line_items = []
    subtotal = discount = total_tax = 0
    for number, (item, quantity) in enumerate(lines):
        line_price = item.price * quantity
        line_discount = line_price * coupon[1] // 100 if coupon else 0
        tax = _tax(line_price - line_discount, rate) if item.taxable else 0
        subtotal += line_price
        discount += line_discount
        total_tax += tax
        line_id = order_id % 10**9 * 10 + number
        line_items.append(
            {
                "id": line_id,
                "admin_graphql_api_id": f"gid://shopify/LineItem/{line_id}",
                "current_quantity": quantity,
                "fulfillable_quantity": quantity,
                "fulfillment_service": "manual",
                "fulfillment_status": None,
                "gift_card": item.sku.startswith("GIFT"),
                "grams": 200,
                "name": f"{item.name} - {item.option}" if item.option else item.name,
                "price": _money(item.price),
                "price_set": _set(_money(item.price)),
                "product_exists": True,
                "product_id": item.product_id,
                "properties": [],
                "quantity": quantity,
                "requires_shipping": not item.sku.startswith("GIFT"),
                "sku": item.sku,
                "taxable": item.taxable,
                "title": item.name,
                "total_discount": "0.00",
                "total_discount_set": _set("0.00"),
                "variant_id": item.variation_id,
                "variant_inventory_management": "shopify",
                "variant_title": item.option or None,
                "vendor": "Double Goods",
                "tax_lines": [
                    {
                        "channel_liable": False,
                        "price": _money(tax),
                        "price_set": _set(_money(tax)),
                        "rate": rate / 10_000,
                        "title": f"{person.state} State Tax",
                    }
                ]
                if tax
                else [],
                "duties": [],
                "discount_allocations": [
                    {
                        "amount": _money(line_discount),
                        "amount_set": _set(_money(line_discount)),
                        "discount_application_index": 0,
                    }
                ]
                if line_discount
                else [],
            }
        )
    shipping = 0 if subtotal - discount >= 7_500 else (500 if rng.random() < 0.6 else 1_000)
    total = subtotal - discount + shipping + total_tax
    cancelled = financial == "voided" or (financial == "refunded" and rng.random() < 0.5)
    refunded = {"refunded": total, "partially_refunded": total // 3}.get(financial, 0)
    fulfilled = (
        None
        if cancelled or financial in ("pending", "authorized")
        else ("fulfilled" if rng.random() < 0.85 else None)
    )
    closed = fulfilled == "fulfilled" and financial == "paid" and rng.random() < 0.6
    refunds = []
    if refunded:
        refund_id = order_id % 10**9 + 500_000_000
        refunds.append(
            {
                "id": refund_id,
                "admin_graphql_api_id": f"gid://shopify/Refund/{refund_id}",
                "order_id": order_id,
                "created_at": _shopify_time(modified),
                "processed_at": _shopify_time(modified),
                "note": "Customer returned the items" if financial == "refunded" else "Partial refund",
                "restock": financial == "refunded",
                "user_id": None,
                "order_adjustments": [],
                "duties": [],
                "refund_line_items": [],
                "transactions": [
                    {
                        "id": refund_id + 1,
                        "admin_graphql_api_id": f"gid://shopify/OrderTransaction/{refund_id + 1}",
                        "amount": _money(refunded),
                        "currency": "USD",
                        "kind": "refund",
                        "status": "success",
                        "gateway": "shopify_payments",
                        "order_id": order_id,
                        "created_at": _shopify_time(modified),
                        "processed_at": _shopify_time(modified),
                        "test": False,
                    }
                ],
            }
        )
    address = {
        "first_name": person.first,
        "last_name": person.last,
        "name": f"{person.first} {person.last}",
        "company": person.company or None,
        "address1": person.street,
        "address2": "",
        "city": person.city,
        "province": person.state_name,
        "province_code": person.state,
        "zip": person.zip,
        "country": "United States",
        "country_code": "US",
        "phone": person.phone,
    }
    money = {
        "current_subtotal_price": subtotal - discount - (refunded if financial == "refunded" else 0),
        "current_total_discounts": discount,
        "current_total_price": total - refunded,
        "current_total_tax": total_tax if financial != "refunded" else 0,
        "subtotal_price": subtotal - discount,
        "total_discounts": discount,
        "total_line_items_price": subtotal,
        "total_price": total,
        "total_tax": total_tax,
    }
    order: dict[str, Any] = {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "app_id": 580111,
        "browser_ip": f"203.0.113.{serial % 250 + 1}",
        "buyer_accepts_marketing": serial % 3 == 0,
        "cancel_reason": "customer" if cancelled else None,
        "cancelled_at": _shopify_time(modified) if cancelled else None,
        "closed_at": _shopify_time(modified) if closed else None,
        "confirmed": True,
        "contact_email": person.email,
        "created_at": _shopify_time(created),
        "currency": "USD",
        "customer_locale": "en",
        "discount_codes": [{"code": coupon[0], "amount": _money(discount), "type": "percentage"}]
        if coupon
        else [],
        "email": person.email,
        "estimated_taxes": False,
        "financial_status": financial,
        "fulfillment_status": fulfilled,
        "name": f"#{order_number}",
        "note": "Please leave at the door" if serial % 17 == 0 else None,
        "note_attributes": [],
        "number": serial,
        "order_number": order_number,
        "payment_gateway_names": ["shopify_payments"],
        "phone": None,
        "presentment_currency": "USD",
        "processed_at": _shopify_time(created),
        "source_name": "web",
        "tags": "wholesale" if person.company else "",
        "tax_exempt": False,
        "tax_lines": [
            {
                "price": _money(total_tax),
                "rate": rate / 10_000,
                "title": f"{person.state} State Tax",
                "price_set": _set(_money(total_tax)),
                "channel_liable": False,
            }
        ]
        if total_tax
        else [],
        "taxes_included": False,
        "test": False,
        "token": f"{order_id * 2_654_435_761 % 16**32:032x}",
        "total_outstanding": _money(total) if financial in ("pending", "authorized") else "0.00",
        "total_shipping_price_set": _set(_money(shipping)),
        "total_tip_received": "0.00",
        "total_weight": 200 * sum(quantity for _item, quantity in lines),
        "updated_at": _shopify_time(modified),
        "user_id": None,
        "billing_address": address,
        "shipping_address": address,
        "customer": {
            "id": 6_200_000_000 + customer,
            "email": person.email,
            "first_name": person.first,
            "last_name": person.last,
            "state": "enabled",
            "verified_email": True,
            "tax_exempt": False,
            "phone": None,
            "currency": "USD",
            "tags": "",
            "admin_graphql_api_id": f"gid://shopify/Customer/{6_200_000_000 + customer}",
        }
        if customer
        else None,
        "discount_applications": [
            {
                "target_type": "line_item",
                "type": "discount_code",
                "value": f"{coupon[1]}.0",
                "value_type": "percentage",
                "allocation_method": "across",
                "target_selection": "all",
                "code": coupon[0],
            }
        ]
        if coupon
        else [],
        "fulfillments": [],
        "line_items": line_items,
        "payment_terms": None,
        "refunds": refunds,
        "shipping_lines": [
            {
                "id": order_id % 10**9 + 900_000_000,
                "carrier_identifier": None,
                "code": "Free Shipping" if shipping == 0 else "Standard",
                "title": "Free Shipping" if shipping == 0 else "Standard",
                "price": _money(shipping),
                "price_set": _set(_money(shipping)),
                "discounted_price": _money(shipping),
                "discounted_price_set": _set(_money(shipping)),
                "is_removed": False,
                "phone": None,
                "source": "shopify",
                "tax_lines": [],
                "discount_allocations": [],
            }
        ],
    }
    for key, cents in money.items():
        order[key] = _money(cents)
        order[key + "_set"] = _set(order[key])
    return order


def make_customers(n: int, platform: str, *, start: datetime = datetime(2023, 6, 1)) -> list[dict[str, Any]]:
    """Customers 1..``n`` of ``platform``, matching the customers :func:`make_orders` puts on orders
    (WooCommerce id = number; Shopify id = 6,200,000,000 + number)."""
    _check_platform(platform)
    start = _utc(start)
    out = []
    for number in range(1, n + 1):
        person = _person(number)
        created = start + timedelta(hours=number * 7)
        if platform == "woocommerce":
            billing = {
                "first_name": person.first,
                "last_name": person.last,
                "company": person.company,
                "address_1": person.street,
                "address_2": "",
                "city": person.city,
                "state": person.state,
                "postcode": person.zip,
                "country": "US",
                "email": person.email,
                "phone": person.phone,
            }
            out.append(
                {
                    "id": number,
                    "date_created": _local(created),
                    "date_created_gmt": _stamp(created),
                    "date_modified": _local(created),
                    "date_modified_gmt": _stamp(created),
                    "email": person.email,
                    "first_name": person.first,
                    "last_name": person.last,
                    "role": "customer",
                    "username": person.email.split("@")[0],
                    "billing": billing,
                    "shipping": {k: v for k, v in billing.items() if k not in ("email", "phone")}
                    | {"phone": ""},
                    "is_paying_customer": True,
                    "avatar_url": "",
                    "meta_data": [],
                }
            )
        else:
            customer_id = 6_200_000_000 + number
            address = {
                "id": customer_id + 1_000_000,
                "customer_id": customer_id,
                "first_name": person.first,
                "last_name": person.last,
                "company": person.company or None,
                "address1": person.street,
                "address2": "",
                "city": person.city,
                "province": person.state_name,
                "country": "United States",
                "zip": person.zip,
                "phone": person.phone,
                "name": f"{person.first} {person.last}",
                "province_code": person.state,
                "country_code": "US",
                "country_name": "United States",
                "default": True,
            }
            out.append(
                {
                    "id": customer_id,
                    "email": person.email,
                    "created_at": _shopify_time(created),
                    "updated_at": _shopify_time(created),
                    "first_name": person.first,
                    "last_name": person.last,
                    "state": "enabled",
                    "note": None,
                    "verified_email": True,
                    "multipass_identifier": None,
                    "tax_exempt": False,
                    "tags": "wholesale" if person.company else "",
                    "currency": "USD",
                    "phone": None,
                    "addresses": [address],
                    "tax_exemptions": [],
                    "email_marketing_consent": {
                        "state": "not_subscribed",
                        "opt_in_level": "single_opt_in",
                        "consent_updated_at": None,
                    },
                    "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
                    "default_address": address,
                }
            )
    return out


def make_products(
    platform: str, *, stock: int = 25, when: datetime = datetime(2023, 5, 1)
) -> list[dict[str, Any]]:
    """The catalogue :func:`make_orders` sells from, each item with ``stock`` units.

    WooCommerce: simple and variable products, each variable product followed by its variation records
    (those carry ``parent_id`` and ``type: "variation"``). Shopify: products with ``variants`` whose
    ``inventory_item_id`` differs from the variant id, as on real shops.
    """
    _check_platform(platform)
    when = _utc(when)
    by_product: dict[int, list[_Sellable]] = {}
    for item in _sellables(platform):
        by_product.setdefault(item.product_id, []).append(item)
    out: list[dict[str, Any]] = []
    for product_id, items in by_product.items():
        first = items[0]
        slug = first.name.lower().replace(" ", "-").replace(",", "").replace("$", "")
        if platform == "woocommerce":
            variable = bool(first.variation_id)
            out.append(
                {
                    "id": product_id,
                    "name": first.name,
                    "slug": slug,
                    "type": "variable" if variable else "simple",
                    "status": "publish",
                    "date_created": _local(when),
                    "date_created_gmt": _stamp(when),
                    "date_modified": _local(when),
                    "date_modified_gmt": _stamp(when),
                    "sku": first.sku.rsplit("-", 1)[0] if variable else first.sku,
                    "price": _money(first.price),
                    "regular_price": _money(first.price),
                    "sale_price": "",
                    "tax_status": "taxable" if first.taxable else "none",
                    "tax_class": "",
                    "manage_stock": not variable,
                    "stock_quantity": None if variable else stock,
                    "stock_status": "instock",
                    "backorders": "no",
                    "parent_id": 0,
                    "attributes": [
                        {"id": 1, "name": "Option", "variation": True, "options": [i.option for i in items]}
                    ]
                    if variable
                    else [],
                    "variations": [i.variation_id for i in items] if variable else [],
                    "meta_data": [],
                }
            )
            if variable:
                out.extend(
                    {
                        "id": item.variation_id,
                        "parent_id": product_id,
                        "type": "variation",
                        "sku": item.sku,
                        "date_created": _local(when),
                        "date_created_gmt": _stamp(when),
                        "date_modified": _local(when),
                        "date_modified_gmt": _stamp(when),
                        "price": _money(item.price),
                        "regular_price": _money(item.price),
                        "sale_price": "",
                        "status": "publish",
                        "tax_status": "taxable" if item.taxable else "none",
                        "tax_class": "",
                        "manage_stock": True,
                        "stock_quantity": stock,
                        "stock_status": "instock",
                        "backorders": "no",
                        "attributes": [{"id": 1, "name": "Option", "option": item.option}],
                        "meta_data": [],
                    }
                    for item in items
                )
        else:
            out.append(
                {
                    "id": product_id,
                    "title": first.name,
                    "body_html": f"<p>{first.name}</p>",
                    "vendor": "Double Goods",
                    "product_type": "",
                    "handle": slug,
                    "status": "active",
                    "created_at": _shopify_time(when),
                    "updated_at": _shopify_time(when),
                    "published_at": _shopify_time(when),
                    "tags": "",
                    "published_scope": "global",
                    "admin_graphql_api_id": f"gid://shopify/Product/{product_id}",
                    "options": [
                        {
                            "id": product_id + 1,
                            "product_id": product_id,
                            "name": "Option" if first.option else "Title",
                            "position": 1,
                            "values": [i.option or "Default Title" for i in items],
                        }
                    ],
                    "variants": [
                        {
                            "id": item.variation_id,
                            "product_id": product_id,
                            "title": item.option or "Default Title",
                            "price": _money(item.price),
                            "sku": item.sku,
                            "position": position,
                            "inventory_policy": "deny",
                            "compare_at_price": None,
                            "option1": item.option or "Default Title",
                            "option2": None,
                            "option3": None,
                            "created_at": _shopify_time(when),
                            "updated_at": _shopify_time(when),
                            "taxable": item.taxable,
                            "barcode": None,
                            "fulfillment_service": "manual",
                            "grams": 200,
                            "inventory_management": "shopify",
                            "requires_shipping": True,
                            "weight": 0.2,
                            "weight_unit": "kg",
                            "inventory_item_id": item.inventory_item_id,
                            "inventory_quantity": stock,
                            "old_inventory_quantity": stock,
                            "admin_graphql_api_id": f"gid://shopify/ProductVariant/{item.variation_id}",
                        }
                        for position, item in enumerate(items, start=1)
                    ],
                    "images": [],
                    "image": None,
                }
            )
    return out
