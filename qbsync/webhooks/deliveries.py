"""Storing webhook deliveries: find the receiving connection, keep each event once, durably.

The receiver calls these before it answers; nothing here is slow (two short transactions).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qbsync.storage.db import Database
from qbsync.storage.models import Connection, WebhookDelivery, utcnow
from qbsync.webhooks.envelope import Envelope


@dataclass(frozen=True)
class Receiver:
    """What the receiver needs of a connection, read once per delivery."""

    connection_id: int
    name: str
    platform: str
    store_url: str
    secrets: tuple[str | None, ...]  # current first, then the one before a rotation


@dataclass(frozen=True)
class Stored:
    """The outcome of storing a delivery: its row and its state ("stored", "duplicate", "invalid", ...)."""

    delivery_id: int
    state: str
    error: str | None = None


def find_receiver(db: Database, name: str) -> Receiver | None:
    """The connection called ``name`` as a :class:`Receiver`, or None if there is none."""
    if "\x00" in name or len(name) > 100:  # no connection is called that; PostgreSQL cannot even compare it
        return None
    with db.transaction() as session:
        conn = session.scalar(select(Connection).where(Connection.name == name))
        if conn is None:
            return None
        return Receiver(connection_id=conn.id, name=conn.name, platform=conn.platform,
                        store_url=conn.store_url,
                        secrets=(conn.webhook_secret, conn.previous_webhook_secret))


def store_delivery(db: Database, receiver: Receiver, envelope: Envelope) -> Stored:
    """Store ``envelope`` and commit, unless the same event is already stored (then: "duplicate").

    The state is "stored" (ready to process), "invalid" (kept for inspection, with the reason) or
    "ignored" (a topic qbsync does not sync). Database errors propagate: the caller must not answer 200.
    """
    state, error = "stored", None
    if envelope.problem is not None:
        state, error = "invalid", envelope.problem
    elif envelope.ignored is not None:
        state, error = "ignored", envelope.ignored
    try:
        with db.transaction() as session:
            found = _find(session, receiver.connection_id, envelope.dedupe_key)
            if found is not None:
                return _as_repeat(found)
            delivery = _new_delivery(receiver, envelope, state, error)
            session.add(delivery)
            session.flush()
            return Stored(delivery_id=delivery.id, state=state, error=error)
    except IntegrityError:
        # The same event arrived twice at once and the other request stored it first.
        with db.transaction() as session:
            found = _find(session, receiver.connection_id, envelope.dedupe_key)
            if found is None:
                raise
            return _as_repeat(found)


def _new_delivery(receiver: Receiver, envelope: Envelope, state: str, error: str | None) -> WebhookDelivery:
    return WebhookDelivery(
        connection_id=receiver.connection_id,
        platform=envelope.platform,
        topic=envelope.topic[:100] if envelope.topic else None,
        dedupe_key=envelope.dedupe_key,
        headers=envelope.headers,
        body=envelope.body,
        state=state,
        error=error,
        resource_type=envelope.resource_type,
        resource_id=envelope.resource_id[:100] if envelope.resource_id else None,
        resource_modified_at=envelope.resource_modified_at,
        received_at=utcnow(),
        attempts=0,
    )


def _as_repeat(found: WebhookDelivery) -> Stored:
    # An invalid delivery stays invalid for its retries: they get the same 400 and reason.
    state = "invalid" if found.state == "invalid" else "duplicate"
    return Stored(delivery_id=found.id, state=state, error=found.error)


def _find(session: Session, connection_id: int, dedupe_key: str) -> WebhookDelivery | None:
    return session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.connection_id == connection_id, WebhookDelivery.dedupe_key == dedupe_key
        )
    )
