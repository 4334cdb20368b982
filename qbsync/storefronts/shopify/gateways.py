"""Which Shopify orders must be read with their transactions to know who paid what (pure, no I/O).

An order body lists ``payment_gateway_names`` but not what each gateway took; the order's transactions
(``GET orders/<id>/transactions.json``) do. Kept apart from ``normalize`` so the REST client can ask it
without reading orders itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

GIFT_CARD_GATEWAY = "gift_card"  # Shopify's gateway name for payments with its gift cards


def gateway_names(order: Mapping[str, Any]) -> list[str]:
    """The order's ``payment_gateway_names`` (non-empty strings only)."""
    names = order.get("payment_gateway_names") or []
    return [g for g in names if isinstance(g, str) and g] if isinstance(names, list) else []


def needs_transactions(payload: Mapping[str, Any]) -> bool:
    """Whether the order (a webhook body, or ``{"order": {...}}``) must be read with its transactions to
    know who paid what: more than one payment gateway, or a gift card among them, and no transactions in
    the body (an order webhook or REST order never carries them)."""
    inner = payload.get("order")
    order = inner if "id" not in payload and isinstance(inner, Mapping) else payload
    if order.get("transactions"):
        return False
    gateways = set(gateway_names(order))
    return len(gateways) > 1 or GIFT_CARD_GATEWAY in gateways
