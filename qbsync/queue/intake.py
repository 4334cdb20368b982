"""Where storefront changes enter the sync queue.

Webhooks, the missed-webhook sweep and the backfill all call :func:`record_changed` with a normalized
record; it decides which queue job (if any) the change needs and queues it, coalescing repeated updates
of the same record into one job that carries the newest data.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.orm import Session

from qbsync.queue import jobs
from qbsync.storage.models import Connection, QueueJob


class Record(Protocol):
    """What intake needs of a normalized storefront record."""

    def to_dict(self) -> dict[str, Any]: ...


# Which queue job kind carries each storefront record type, and how urgent it is (lower first):
# customers and items before the orders that refer to them.
JOB_KINDS: dict[str, tuple[str, int]] = {
    "customer": ("customer", 10),
    "product": ("item", 20),
    "order": ("order", 50),
    "refund": ("refund", 60),
    "stock": ("inventory_adjustment", 70),
}


def coalesce_key(record_type: str, record_id: str) -> str:
    """The key under which updates of one record fold into one job."""
    return f"{record_type}:{record_id}"


def record_changed(session: Session, connection: Connection, record_type: str, record: Record,
                   event: str = "updated") -> QueueJob | None:
    """Queue the sync work a storefront change needs; returns the job (None when nothing is needed)."""
    if record_type not in JOB_KINDS:
        raise ValueError(f"unknown record type {record_type!r}")
    kind, priority = JOB_KINDS[record_type]
    data = record.to_dict()
    record_id = str(data.get("id") or data.get("storefront_id") or "")
    if not record_id:
        raise ValueError(f"the {record_type} record has no id")
    return jobs.enqueue(
        session,
        connection.id,
        kind,
        {"record": data, "event": event},
        record_type=record_type,
        record_id=record_id,
        label=_label(record_type, data),
        coalesce_key=coalesce_key(record_type, record_id),
        priority=priority,
    )


def _label(record_type: str, data: dict[str, Any]) -> str:
    if record_type == "order":
        return f"order {data.get('number') or data.get('id')}"
    if record_type == "customer":
        name = " ".join(p for p in (data.get("first_name"), data.get("last_name")) if p)
        return f"customer {name or data.get('email') or data.get('id')}"
    if record_type == "product":
        return f"item {data.get('sku') or data.get('name') or data.get('id')}"
    return f"{record_type} {data.get('id')}"
