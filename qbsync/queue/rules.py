"""Which storefront records go to QuickBooks, and as what: the merchant's rules, as pure functions.

Nothing here touches the database: each function reads a record (``Order``, ``OrderLine``, ``Customer``
from ``storefronts.records``) and the connection's settings and answers with a decision a person can
read.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qbsync.storefronts.records import (
    Customer,
    LastKnownLine,
    LastKnownOrder,
    Order,
    OrderLine,
    Product,
    RefundLine,
)

# Our words for the QuickBooks transaction types an order can become.
TXN_TYPES = {"invoice": "Invoice", "sales_receipt": "SalesReceipt", "sales_order": "SalesOrder"}
ITEM_TYPES = {"inventory": "ItemInventory", "non_inventory": "ItemNonInventory", "service": "ItemService"}


@dataclass(frozen=True)
class OrderDecision:
    """Whether an order goes to QuickBooks, as which transaction type, and why not when it does not."""

    sync: bool
    txn_type: str | None = None  # "Invoice", "SalesReceipt", "SalesOrder"
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The decision as JSON-safe data, kept on the order's job (decided once, at intake)."""
        return {"sync": self.sync, "txn_type": self.txn_type, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OrderDecision:
        """The decision :meth:`to_dict` wrote."""
        txn_type = data.get("txn_type")
        return cls(bool(data.get("sync")), str(txn_type) if txn_type else None, str(data.get("reason") or ""))


DECISION = "decision"  # the key of the order's decision in its job's payload


def decision_of(payload: Mapping[str, Any]) -> OrderDecision | None:
    """The decision intake made for the order a job carries, or None when it made none (the order was in
    QuickBooks already when it was queued)."""
    stored = payload.get(DECISION)
    return OrderDecision.from_dict(stored) if isinstance(stored, Mapping) else None


def pairs(entries: Sequence[str] | str | None) -> dict[str, str]:
    """``["a=B", "c = D"]`` (or the same comma-separated) as ``{"a": "B", "c": "D"}``; keys lower-cased."""
    if isinstance(entries, str):
        entries = [part for part in entries.split(",")]
    found: dict[str, str] = {}
    for entry in entries or ():
        key, sep, value = str(entry).partition("=")
        if sep and key.strip() and value.strip():
            found[key.strip().lower()] = value.strip()
    return found


def order_txn_type(order: Order, settings: Mapping[str, Any]) -> str:
    """The transaction type for ``order``: by its status when configured, else by whether it is paid."""
    by_status = pairs(settings["order_type_by_status"])
    chosen = by_status.get(order.status.lower())
    if chosen is None:
        chosen = settings["paid_order_as"] if order.paid else settings["unpaid_order_as"]
    if chosen not in TXN_TYPES:
        raise ValueError(f"order_type_by_status names {chosen!r}; use invoice, sales_receipt or sales_order")
    return TXN_TYPES[chosen]


def has_tag(order: Order, tag: str) -> bool:
    """Whether the order carries ``tag`` in the text of its note, case-insensitive (the records keep no
    platform tags)."""
    wanted = tag.strip().lower()
    if not wanted:
        return False
    return wanted in order.note.lower()


def decide_order(order: Order, settings: Mapping[str, Any]) -> OrderDecision:
    """Whether a new order is brought into QuickBooks (an order already there is always kept up to date)."""
    status = order.status
    statuses = [str(s).strip().lower() for s in settings["sync_order_statuses"]]
    if status.lower() not in statuses:
        return OrderDecision(
            False,
            reason=f"status {status!r} is not one of the synced statuses ({', '.join(statuses) or 'none'})",
        )
    if settings["exclude_zero_total_orders"] and order.total == 0:
        return OrderDecision(False, reason="the order total is zero (exclude_zero_total_orders)")
    tag = str(settings["exclude_order_tag"] or "")
    if has_tag(order, tag):
        return OrderDecision(False, reason=f"the order is tagged {tag!r} (exclude_order_tag)")
    return OrderDecision(True, order_txn_type(order, settings))


def wants_payment(order: Order, txn_type: str, settings: Mapping[str, Any]) -> bool:
    """Whether a paid order recorded as ``txn_type`` needs a ReceivePayment on it (invoices only)."""
    return bool(settings["sync_payments"]) and txn_type == "Invoice" and order.paid


def payment_method_name(order: Order, settings: Mapping[str, Any]) -> str | None:
    """The QuickBooks payment method for the order's storefront method: mapped, else its title."""
    code = order.payment_method.strip()
    mapped = pairs(settings["payment_method_map"]).get(code.lower()) if code else None
    if mapped:
        return mapped
    title = order.payment_method_title.strip()
    return title or code or None


def is_gift_card_sale(
    line: OrderLine | LastKnownLine | RefundLine | Product, settings: Mapping[str, Any]
) -> bool:
    """Whether an order line (or a product) sells a gift card: the store says so (Shopify's
    ``gift_card``), or its SKU is one of the ``gift_card_skus`` setting (case ignored). Such a line is
    owed to the card's holder: it goes on the gift card item (a liability), never on a product's item
    (income, stock), and such a product gets no item of its own."""
    if isinstance(line, OrderLine | LastKnownLine) and line.gift_card:
        return True
    skus = settings["gift_card_skus"]
    if not skus or not line.sku:
        return False  # the usual case, asked for every line of every plan: nothing to compare
    sku = line.sku.strip().lower()
    return bool(sku) and sku in _gift_card_skus(tuple(str(s) for s in skus))


@functools.lru_cache(maxsize=16)
def _gift_card_skus(skus: tuple[str, ...]) -> frozenset[str]:
    """The ``gift_card_skus`` setting as compared (case and spaces ignored), worked out once per value."""
    return frozenset(s.strip().lower() for s in skus)


def refunds_gift_card(
    refund_line: RefundLine, order: Order | LastKnownOrder | None, settings: Mapping[str, Any]
) -> bool:
    """Whether a refund line gives back the money of a gift card sold (:func:`is_gift_card_sale` of the
    order line it refunds, found by ``line_id``, else of the refund line itself): that money comes off
    the gift card liability, as it went on it, never off a product's income. (``order``: the refunded
    order, or what a cancellation last knew of it; None when unknown.)"""
    line_id = refund_line.line_id or ""
    lines = (order.lines or ()) if order is not None else ()
    sold = next((line for line in lines if line_id and line.id == line_id), None)
    return is_gift_card_sale(sold if sold is not None else refund_line, settings)


def refund_restocks(refund_line: RefundLine, settings: Mapping[str, Any]) -> bool:
    """Whether a refunded line went back to stock: what the store says, else
    ``restock_unknown_refunds``."""
    said = refund_line.restock
    return bool(settings["restock_unknown_refunds"]) if said is None else bool(said)


def cancellation_restocks(order: LastKnownOrder, settings: Mapping[str, Any]) -> bool:
    """Whether a cancelled order's products went back to stock: what the store says
    (``restocked_on_cancel``), else ``restock_unknown_cancellations``."""
    said = order.restocked_on_cancel
    return bool(settings["restock_unknown_cancellations"]) if said is None else bool(said)


def customer_is_proxied(customer: Customer, settings: Mapping[str, Any]) -> bool:
    """Whether orders of ``customer`` go to the proxy customer instead of their own (unless a guest's
    e-mail names a QuickBooks customer: :func:`guest_matched_by_email`)."""
    if not str(settings["proxy_customer"] or "").strip():
        return False
    return settings["proxy_customer_for"] == "all" or customer.is_guest or not customer.storefront_id


def guest_matched_by_email(customer: Customer, settings: Mapping[str, Any], foreign_currency: bool) -> bool:
    """Whether a proxied guest's e-mail may take their order to the QuickBooks customer with that e-mail
    (a trade customer checking out without signing in) instead of the proxy customer: with
    ``match_customers_by_email`` on, guests proxied (``proxy_customer_for`` 'guests'; 'all' asks for one
    customer for everything), and the order in the home currency (a customer found by e-mail keeps its
    own currency). The same e-mail is proof; a name alone never is."""
    return (
        bool(settings["match_customers_by_email"])
        and settings["proxy_customer_for"] == "guests"
        and not foreign_currency
        and bool(customer.email.strip())
    )


@dataclass(frozen=True)
class CustomerChoice:
    """Whose QuickBooks customer an order's sale goes to, decided once, when the order is first planned:
    kept in its job's progress notes until the sale is added, then with the sale's link
    (``mappings.SALE_CUSTOMER``), so its edits, payment, refunds and cancellation follow it whatever the
    customer settings say later."""

    key: str  # the customer link (id_mappings of type customer) the sale refers to
    proxy: str | None = None  # the proxy customer's name, when the sale goes to it
    by_email: bool = False  # a proxied guest's own customer, found by e-mail (never added for them)

    def to_dict(self) -> dict[str, Any]:
        """The choice as JSON-safe data (a job's progress note)."""
        return {"key": self.key, "proxy": self.proxy, "by_email": self.by_email}

    @classmethod
    def from_dict(cls, data: Any) -> CustomerChoice | None:
        """The choice :meth:`to_dict` wrote; None when there is none."""
        if not isinstance(data, Mapping) or not data.get("key"):
            return None
        proxy = data.get("proxy")
        return cls(str(data["key"]), str(proxy) if proxy else None, bool(data.get("by_email")))


def item_type(product: Product, settings: Mapping[str, Any]) -> str:
    """The QuickBooks item type (``ItemInventory``...) for a product, by its kind and the settings."""
    kind = product.kind or "non_inventory"
    chosen = settings.get(f"item_type_{kind}") or "non_inventory"
    return ITEM_TYPES.get(chosen, "ItemNonInventory")


def stock_master(sku: str | None, settings: Mapping[str, Any]) -> str:
    """Which side is the master for the stock of the product with ``sku``: quickbooks, storefront, none."""
    master = settings["stock_master"]
    exceptions = {str(s).strip().lower() for s in settings["stock_master_exceptions"]}
    if sku and sku.strip().lower() in exceptions and master != "none":
        return "storefront" if master == "quickbooks" else "quickbooks"
    return master


def counts_stock_in_store(settings: Mapping[str, Any]) -> bool:
    """Whether any product's stock is mastered by the store (its counts reach QuickBooks as differences)."""
    master = settings["stock_master"]
    return master == "storefront" or (master == "quickbooks" and bool(settings["stock_master_exceptions"]))


def pulls_stock(settings: Mapping[str, Any]) -> bool:
    """Whether any product's stock is mastered by QuickBooks (so inventory must be pulled)."""
    master = settings["stock_master"]
    return master == "quickbooks" or (master == "storefront" and bool(settings["stock_master_exceptions"]))
