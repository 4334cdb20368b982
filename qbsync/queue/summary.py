"""A queue job in the merchant's words: for an order, who bought, when, how much, and what it becomes in
QuickBooks. Pure: it reads the job's stored record and the connection's settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qbsync.queue.rules import order_txn_type
from qbsync.storefronts.records import Order

# How the pages name QuickBooks transaction types.
TXN_WORDS = {"Invoice": "invoice", "SalesReceipt": "sales receipt", "SalesOrder": "sales order"}


@dataclass(frozen=True)
class OrderSummary:
    """What a bookkeeper reads in the queue for one order job."""

    customer: str
    date: str  # the order's date as the store gave it (YYYY-MM-DD)
    total: str  # "24.00 USD"
    becomes: str  # "sales receipt", "invoice", … ("" when the rules cannot tell)

    def text(self) -> str:
        parts = [p for p in (self.customer, self.date, self.total) if p]
        line = " · ".join(parts)
        return f"{line} → {self.becomes}" if self.becomes else line


def order_summary(payload: Mapping[str, Any], settings: Mapping[str, Any],
                  linked_as: str | None = None) -> OrderSummary | None:
    """The summary of an order job's payload; ``linked_as`` is the QuickBooks type it is already linked to.
    None when the payload holds no order."""
    record = payload.get("record") if isinstance(payload, Mapping) else None
    if not isinstance(record, Mapping):
        return None
    given = record.get("customer")
    customer: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    name = " ".join(str(customer.get(k) or "").strip() for k in ("first_name", "last_name")).strip()
    who = name or str(customer.get("company") or "").strip() or str(customer.get("email") or "").strip()
    when = str(record.get("created_at") or "")[:10]
    total = str(record.get("total") or "").strip()
    currency = str(record.get("currency") or "").strip()
    becomes = TXN_WORDS.get(linked_as or "", "")
    if not becomes:
        try:
            becomes = TXN_WORDS.get(order_txn_type(Order.from_dict(record), settings), "")
        except (ValueError, KeyError, TypeError):  # a setting the page shows elsewhere is wrong, or a
            # deleted order's payload holds only what was last known of it
            becomes = ""
    return OrderSummary(who or "guest", when, f"{total} {currency}".strip(), becomes)
