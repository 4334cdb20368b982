"""Receiving webhook deliveries: find the receiving connection, check the signature, keep each event once.

The receiver calls :func:`receive` through ``Database.run_statements`` before it answers. It uses
SQLAlchemy Core, not the ORM: this is the hottest path in the service (hundreds of deliveries a second at
a flash sale), and a delivery needs one row read and one row written, with the duplicate check done by the
unique index (``INSERT … ON CONFLICT DO NOTHING``) instead of a query before the insert. That single
statement is the only write, so on PostgreSQL it commits by itself (no BEGIN/COMMIT round trips), and
running :func:`receive` twice stores the delivery once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection as DbConnection
from sqlalchemy import Text, bindparam, select, type_coerce
from sqlalchemy.dialects import postgresql, sqlite

from qbsync.storage.encryption import decrypt_cached
from qbsync.storage.models import Connection, WebhookDelivery, utcnow
from qbsync.webhooks.envelope import (
    Envelope,
    is_woocommerce_ping,
    kept_headers,
    read_envelope,
    shopify_shop_of,
    wrong_shop,
)
from qbsync.webhooks.signatures import SIGNATURE_HEADERS, candidate_secrets, signature_matches

_connections = Connection.__table__
_deliveries = WebhookDelivery.__table__
_DEDUPE_COLUMNS = ("connection_id", "dedupe_key")

# The statements are built once, not per delivery: building one (and its cache key) costs about as much
# CPU as the rest of storing a delivery. The secrets are read as their stored tokens and decrypted
# through the per-token cache: Fernet costs more than the rest of the lookup, and the storefront API
# credentials are never decrypted here.
_FIND_RECEIVER = (
    select(_connections.c.id, _connections.c.platform, _connections.c.store_url,
           type_coerce(_connections.c.webhook_secret, Text),
           type_coerce(_connections.c.previous_webhook_secret, Text))
    .where(_connections.c.name == bindparam("name"))
)
_FIND_STORED = select(_deliveries.c.id, _deliveries.c.state, _deliveries.c.error).where(
    _deliveries.c.connection_id == bindparam("connection_id"),
    _deliveries.c.dedupe_key == bindparam("dedupe_key"),
)


# ``INSERT … ON CONFLICT (connection, dedupe key) DO NOTHING RETURNING id``, in each dialect's words.
_INSERT_NEW = {
    dialect.__name__.rsplit(".", 1)[-1]: dialect.insert(_deliveries)
    .on_conflict_do_nothing(index_elements=list(_DEDUPE_COLUMNS))
    .returning(_deliveries.c.id)
    for dialect in (postgresql, sqlite)
}


# A refused delivery (its signature did not match) is not kept, but a person must be able to see that
# deliveries are being refused: one row per connection, hour and reason counts them (in ``attempts``), so a
# flood of forged requests adds no rows. ``INSERT … ON CONFLICT DO UPDATE`` in each dialect's words.
_COUNT_REFUSAL = {
    dialect.__name__.rsplit(".", 1)[-1]: (lambda insert: insert.on_conflict_do_update(
        index_elements=list(_DEDUPE_COLUMNS),
        set_={"attempts": _deliveries.c.attempts + 1, "processed_at": insert.excluded.processed_at}))(
            dialect.insert(_deliveries))
    for dialect in (postgresql, sqlite)
}


@dataclass(frozen=True)
class Receiver:
    """What the receiver needs of a connection, read once per delivery."""

    connection_id: int
    name: str
    platform: str
    store_url: str
    secrets: tuple[str | None, ...]  # current first, then the one before a rotation
    shop: str | None = None  # a Shopify connection's <shop>.myshopify.com, read from its store URL


@dataclass(frozen=True)
class Stored:
    """The outcome of storing a delivery: its row and its state ("stored", "duplicate", "invalid", ...)."""

    delivery_id: int
    state: str
    error: str | None = None


@dataclass(frozen=True)
class Refused:
    """A delivery that was not stored: the HTTP status to answer and the reason the sender is told."""

    status: int
    reason: str


@dataclass(frozen=True)
class Pinged:
    """WooCommerce's unsigned creation ping: answered, not stored."""


def receive(db: DbConnection, platform: str, name: str, headers: Iterable[tuple[str, str]],
            signature: str | None, body: bytes) -> Stored | Refused | Pinged:
    """Store a delivery for connection ``name`` if ``signature`` proves its secret signed ``body``.

    Runs on the caller's connection (a transaction, or autocommit); safe to run again. Raises
    :class:`~qbsync.storage.encryption.SecretKeyError` when the connection's secret cannot be read;
    database errors propagate (the caller must not answer 200).
    """
    receiver = find_receiver(db, name)
    if receiver is None:
        return Refused(404, f"no connection named {name!r}")
    if receiver.platform != platform:
        return Refused(404, f"connection {name!r} is a {receiver.platform} connection: use "
                            f"/webhooks/{receiver.platform}/{name}")
    kept = kept_headers(platform, headers)
    if platform == "woocommerce" and signature is None and is_woocommerce_ping(kept, body):
        return Pinged()
    if signature is None:
        return note_refusal(db, receiver, Refused(401, f"missing {SIGNATURE_HEADERS[platform]} header"))
    if not signature_matches(body, signature, candidate_secrets(platform, receiver.secrets)):
        return note_refusal(db, receiver, Refused(
            401, f"{SIGNATURE_HEADERS[platform]} does not match the body: check the webhook secret of "
                 f"connection {name!r}"))
    if platform == "shopify":
        # Checked after the signature, so an unsigned request learns nothing about the connection.
        problem = wrong_shop(kept, receiver.shop, receiver.store_url)
        if problem is not None:
            return note_refusal(db, receiver, Refused(403, problem))
    return store_delivery(db, receiver, read_envelope(platform, kept, body))


def note_refusal(db: DbConnection, receiver: Receiver, refused: Refused) -> Refused:
    """Count ``refused`` for the Deliveries page (state "refused", no body or headers kept); returns it."""
    now = utcnow()
    key = f"refused:{now:%Y%m%d%H}:{hashlib.sha256(refused.reason.encode()).hexdigest()[:16]}"
    db.execute(_COUNT_REFUSAL[db.dialect.name], {
        "connection_id": receiver.connection_id, "platform": receiver.platform, "topic": None,
        "dedupe_key": key, "headers": {}, "body": b"", "state": "refused",
        "error": f"{refused.status}: {refused.reason}", "received_at": now, "processed_at": now,
        "attempts": 1})
    return refused


def find_receiver(db: DbConnection, name: str) -> Receiver | None:
    """The connection called ``name`` as a :class:`Receiver`, or None if there is none.

    Raises :class:`~qbsync.storage.encryption.SecretKeyError` when its webhook secret cannot be read.
    """
    if "\x00" in name or len(name) > 100:  # no connection is called that; PostgreSQL cannot even compare it
        return None
    row = db.execute(_FIND_RECEIVER, {"name": name}).first()
    if row is None:
        return None
    conn_id, platform, store_url, secret, previous = row
    return Receiver(connection_id=conn_id, name=name, platform=platform, store_url=store_url,
                    secrets=(decrypt_cached(secret), decrypt_cached(previous)),
                    shop=shopify_shop_of(store_url) if platform == "shopify" else None)


def store_delivery(db: DbConnection, receiver: Receiver, envelope: Envelope) -> Stored:
    """Store ``envelope`` on the caller's connection, unless the same event is already stored.

    The state is "stored" (ready to process), "invalid" (kept for inspection, with the reason), "ignored"
    (a topic qbsync does not sync) or, for an event stored before, "duplicate" ("invalid" again for an
    invalid one). Database errors propagate: the caller must not answer 200.
    """
    state, error = "stored", None
    if envelope.problem is not None:
        state, error = "invalid", envelope.problem
    elif envelope.ignored is not None:
        state, error = "ignored", envelope.ignored
    values = _row(receiver, envelope, state, error)
    # When the same event arrives twice at once, the second insert waits for the first and then does
    # nothing; the select below then sees the committed row.
    new_id = db.execute(_INSERT_NEW[db.dialect.name], values).scalar()
    if new_id is not None:
        return Stored(delivery_id=new_id, state=state, error=error)
    found = db.execute(_FIND_STORED, {"connection_id": receiver.connection_id,
                                      "dedupe_key": envelope.dedupe_key}).one()
    # An invalid delivery stays invalid for its retries: they get the same 400 and reason.
    return Stored(delivery_id=found.id, state="invalid" if found.state == "invalid" else "duplicate",
                  error=found.error)


def _row(receiver: Receiver, envelope: Envelope, state: str, error: str | None) -> dict[str, Any]:
    return {
        "connection_id": receiver.connection_id,
        "platform": envelope.platform,
        "topic": envelope.topic[:100] if envelope.topic else None,
        "dedupe_key": envelope.dedupe_key,
        "headers": envelope.headers,
        "body": envelope.body,
        "state": state,
        "error": error,
        "resource_type": envelope.resource_type,
        "resource_id": envelope.resource_id[:100] if envelope.resource_id else None,
        "resource_modified_at": envelope.resource_modified_at,
        "received_at": utcnow(),
        "attempts": 0,
    }
