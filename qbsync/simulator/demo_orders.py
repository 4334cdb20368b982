"""The sample orders ``qbsync demo`` posts: a handful of varied WooCommerce orders (pure, no I/O).

They are picked from the storefront double's own made-up orders (:func:`make_orders`, deterministic), so
they sell the double's catalogue and the double can serve them, and then given the one trait each shows:
a guest checkout, a coupon, shipping, tax, one paid by invoice (placed, not yet paid) and one refunded.
Beyond those six, ``--orders N`` adds more ordinary paid orders from the same source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from qbsync.simulator.storefront_data import make_orders

# Enough made-up orders to find one with every trait below (checked by the tests).
_POOL_SIZE = 400
_SEED = 17
_WHAT_A_GUEST_IS = 0  # WooCommerce customer_id of a guest checkout


@dataclass(frozen=True)
class SampleOrder:
    """One order to post, and what it shows in plain words."""

    order: dict[str, Any]
    shows: str

    @property
    def number(self) -> str:
        """The order number the merchant sees (and QuickBooks' RefNumber)."""
        return str(self.order["number"])


def _money(value: Any) -> Decimal:
    return Decimal(str(value or "0"))


def _is_guest(order: dict[str, Any]) -> bool:
    return order["customer_id"] == _WHAT_A_GUEST_IS


def _has_coupon(order: dict[str, Any]) -> bool:
    return bool(order["coupon_lines"])


def _has_shipping(order: dict[str, Any]) -> bool:
    return _money(order["shipping_total"]) > 0


def _has_tax(order: dict[str, Any]) -> bool:
    return _money(order["total_tax"]) > 0


def _plain(order: dict[str, Any]) -> bool:
    return not order["fee_lines"] and not order["refunds"]


# (what the order shows, which made-up order can show it)
_TRAITS: tuple[tuple[str, Callable[[dict[str, Any]], bool]], ...] = (
    ("guest checkout", lambda o: _is_guest(o) and not _has_coupon(o)),
    ("coupon", lambda o: _has_coupon(o) and not _is_guest(o)),
    ("shipping", lambda o: _has_shipping(o) and not _has_tax(o) and not _is_guest(o)),
    ("sales tax", lambda o: _has_tax(o) and not _is_guest(o) and not _has_coupon(o)),
    ("paid by invoice", lambda o: not _is_guest(o) and not _has_coupon(o)),
    ("refunded", lambda o: not _is_guest(o) and not _has_coupon(o)),
)


def sample_orders(count: int = 6) -> list[SampleOrder]:
    """``count`` WooCommerce orders: the six showcase orders first (as many as fit), then ordinary ones.

    Every order is in a status qbsync syncs by default (processing or completed), so each one ends up
    in QuickBooks: paid ones as sales receipts, the invoice one as an invoice.
    """
    if count < 1:
        raise ValueError("the demo needs at least one order")
    pool = [o for o in make_orders(_POOL_SIZE, "woocommerce", seed=_SEED) if _plain(o)]
    chosen: list[SampleOrder] = []
    used: set[int] = set()
    for shows, fits in _TRAITS[:count]:
        order = next(o for o in pool if o["id"] not in used and fits(o))
        used.add(order["id"])
        chosen.append(SampleOrder(_with_trait(order, shows), shows))
    for order in pool:
        if len(chosen) >= count:
            break
        if order["id"] not in used:
            used.add(order["id"])
            chosen.append(SampleOrder(_paid(order), "an ordinary paid order"))
    if len(chosen) < count:
        raise ValueError(f"the demo can post at most {len(chosen)} orders")
    chosen.sort(key=lambda s: s.order["id"])
    return chosen


def _paid(order: dict[str, Any]) -> dict[str, Any]:
    """The order as a paid, completed order (the made-up pool has every status)."""
    paid_at = order["date_paid_gmt"] or order["date_created_gmt"]
    local_paid = order["date_paid"] or order["date_created"]
    return {**order, "status": "completed", "date_paid_gmt": paid_at, "date_paid": local_paid,
            "date_completed_gmt": order["date_modified_gmt"], "date_completed": order["date_modified"]}


def _with_trait(order: dict[str, Any], shows: str) -> dict[str, Any]:
    if shows == "paid by invoice":
        # Placed and being prepared, not paid yet: the buyer pays the invoice by bank transfer.
        return {**order, "status": "processing", "payment_method": "bacs",
                "payment_method_title": "Pay by invoice (bank transfer)", "transaction_id": "",
                "date_paid": None, "date_paid_gmt": None, "date_completed": None,
                "date_completed_gmt": None}
    paid = _paid(order)
    if shows == "refunded":
        total = _money(order["total"])
        paid["status"] = "refunded"
        paid["refunds"] = [{"id": order["id"] * 10 + 9, "reason": "Customer returned the items",
                            "total": f"{-total:.2f}"}]
    return paid


def refund_records(order: dict[str, Any]) -> list[dict[str, Any]]:
    """The full WooCommerce refund records (``GET /orders/<id>/refunds``) of a refunded sample order."""
    records = []
    for summary in order.get("refunds") or []:
        amount = -_money(summary["total"])
        records.append({
            "id": summary["id"],
            "date_created": order["date_modified"],
            "date_created_gmt": order["date_modified_gmt"],
            "amount": f"{amount:.2f}",
            "reason": summary["reason"],
            "refunded_by": 1,
            "refunded_payment": True,
            "meta_data": [],
            "line_items": [
                {"id": line["id"] + 1_000_000, "name": line["name"], "product_id": line["product_id"],
                 "variation_id": line["variation_id"], "quantity": -line["quantity"],
                 "tax_class": line["tax_class"], "subtotal": f"{-_money(line['subtotal']):.2f}",
                 "subtotal_tax": f"{-_money(line['subtotal_tax']):.2f}",
                 "total": f"{-_money(line['total']):.2f}", "total_tax": f"{-_money(line['total_tax']):.2f}",
                 "sku": line["sku"], "price": -line["price"],
                 "meta_data": [{"key": "_refunded_item_id", "value": str(line["id"])}]}
                for line in order["line_items"]
            ],
            "shipping_lines": [
                {"id": s["id"] + 1_000_000, "method_title": s["method_title"],
                 "total": f"{-_money(s['total']):.2f}"}
                for s in order["shipping_lines"] if _money(s["total"])
            ],
        })
    return records
