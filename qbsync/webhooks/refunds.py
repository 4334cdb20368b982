"""WooCommerce refunds named by an order webhook: read from the store, then synced like any refund.

A WooCommerce order lists its refunds only as summaries (id, total, reason) and no WooCommerce webhook
topic carries a refund itself (its lines, shipping and tax; see shared/reference/storefront/STOREFRONTS.md),
so without this a refund made in the store never reached QuickBooks. When an order arrives naming a
refund qbsync has no record of, the order's refunds are read from the store (``GET /orders/<id>/refunds``)
once the delivery is stored, outside its transaction, and each new one is queued as a refund record.
Shopify needs none of this: its ``refunds/create`` webhook carries the refund.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from qbsync.queue.intake import record_changed, record_id_of
from qbsync.storage.db import Database
from qbsync.storage.models import Connection, StorefrontRecord
from qbsync.storefronts.clients import client_for
from qbsync.storefronts.http import StorefrontError
from qbsync.storefronts.platforms import normalizer_for
from qbsync.storefronts.records import Order

log = logging.getLogger(__name__)

_NOTED = "qbsync.webhooks.refunds_to_read"


def note_unseen_refunds(session: Session, connection: Connection, order: Order) -> None:
    """Remember, in ``session``, a WooCommerce ``order`` that lists refunds qbsync has no record of."""
    if connection.platform != "woocommerce" or not order.refunds:
        return
    listed = [summary.storefront_id for summary in order.refunds]
    known = set(session.scalars(select(StorefrontRecord.record_id).where(
        StorefrontRecord.connection_id == connection.id, StorefrontRecord.record_type == "refund",
        StorefrontRecord.record_id.in_(listed))))
    if any(refund_id not in known for refund_id in listed):
        session.info.setdefault(_NOTED, []).append((connection.id, order.storefront_id))


def take_noted(session: Session) -> list[tuple[int, str]]:
    """The (connection id, order id) pairs noted in ``session`` (forgotten there)."""
    return session.info.pop(_NOTED, [])


def read_noted_refunds(db: Database, noted: list[tuple[int, str]]) -> int:
    """Read the refunds of each noted order from its store and queue the new ones; returns how many.

    A store that cannot be read (no REST credentials, down) is logged, not raised: the delivery itself is
    processed, and the refund is read when the order's next webhook names it again.
    """
    queued = 0
    normalizer = normalizer_for("woocommerce")
    for connection_id, order_id in noted:
        with db.transaction() as session:
            connection = session.get(Connection, connection_id)
            if connection is None:
                continue
            session.expunge(connection)
        try:
            with client_for(connection) as client:
                raws = list(client.iter_refunds(int(order_id)))
        except (StorefrontError, ValueError) as exc:
            log.warning("order %s of %r lists a refund qbsync could not read from the store: %s", order_id,
                        connection.name, exc)
            continue
        with db.transaction() as session:
            connection = session.get(Connection, connection_id)
            for raw in raws:
                refund = normalizer.refund(raw, order_id)
                data = refund.to_dict()
                refund_id = record_id_of("refund", data)
                if session.scalar(select(StorefrontRecord.id).where(
                        StorefrontRecord.connection_id == connection_id,
                        StorefrontRecord.record_type == "refund",
                        StorefrontRecord.record_id == refund_id)) is not None:
                    continue  # refunds never change once made
                # record_changed keeps the refund's storefront record, as for a webhook's records.
                record_changed(session, connection, "refund", refund, "created")
                queued += 1
    return queued
