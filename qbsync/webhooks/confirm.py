"""Asking the store before a webhook makes qbsync void anything in QuickBooks.

A signature proves the store sent the body once, not that the body is news: WooCommerce does not sign the
``X-WC-Webhook-Topic`` header (an ``order.updated`` body replays fine as ``order.deleted``), and a deletion
body (``{"id": N}``) carries no date, so an old one replays after the order was restored. So a delivery
that would cancel or delete an order is believed only when the store's REST API says the order really is
cancelled (or in the trash) or gone. When the store cannot be asked (no API credentials, unreachable),
the change is kept but the void waits for a person (see ``qbsync.queue.handlers.orders``).

:func:`judge` decides from what the store answered (pure); :func:`ask_store` asks it (the only I/O here).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from qbsync.storage.models import Connection
from qbsync.storefronts.clients import client_for
from qbsync.storefronts.http import RetryPolicy, StorefrontError, StorefrontNotFound
from qbsync.storefronts.platforms import normalizer_for
from qbsync.storefronts.records import InvalidPayload
from qbsync.webhooks.envelope import naive_utc

log = logging.getLogger(__name__)

DELETED = "deleted"
CANCELLED = "cancelled"
# A background job asks; a store that is down is not waited for long (the void then waits for a person).
_TIMEOUT_SECONDS = 10.0
_RETRY = RetryPolicy(attempts=2, base_delay=0.5, max_retry_after=5.0)


@dataclass(frozen=True)
class StoreSays:
    """What the store's REST API answered about one order."""

    found: bool  # False: 404, the order is deleted for good
    status: str | None = None  # the platform's own word (WooCommerce "trash", Shopify financial status)
    cancelled: bool = False  # cancelled, or in WooCommerce's trash
    modified_at: datetime | None = None  # naive UTC, the store's last change of the order


@dataclass(frozen=True)
class StoreCheck:
    """The verdict on a deletion or cancellation a webhook announced.

    ``verdict`` is "confirmed" (the store agrees), "refuted" (the store says otherwise: the delivery is
    not applied) or "unasked" (the store could not be asked: a person decides before anything is voided).
    ``modified_at`` is the store's own time of the order's last change, when it gave one: deletions are
    dated by the store, never by when the webhook arrived.
    """

    change: str
    verdict: str
    reason: str
    modified_at: datetime | None = None

    @property
    def unconfirmed(self) -> str | None:
        """Why a person must confirm before the void, or None when the store confirmed."""
        return self.reason if self.verdict == "unasked" else None


def judge(order_id: str, change: str, answer: StoreSays | str) -> StoreCheck:
    """The verdict on ``change`` ("deleted" or "cancelled") of ``order_id`` given the store's ``answer``
    (what it said, or why it could not be asked)."""
    what = "deletion" if change == DELETED else "cancellation"
    if isinstance(answer, str):
        return StoreCheck(change, "unasked",
                          f"the store could not confirm the {what} of order {order_id}: {answer}")
    if not answer.found:
        return StoreCheck(change, "confirmed", f"the store no longer has order {order_id}")
    if answer.cancelled:
        return StoreCheck(change, "confirmed", f"the store says order {order_id} is {answer.status}",
                          answer.modified_at)
    when = f" (changed {answer.modified_at:%Y-%m-%d %H:%M:%S} UTC)" if answer.modified_at else ""
    return StoreCheck(change, "refuted",
                      f"not applied: the webhook announced the {what} of order {order_id}, but the store "
                      f"says it is {answer.status}{when}", answer.modified_at)


def ask_store(connection: Connection, order_id: str) -> StoreSays | str:
    """Ask the connection's store about ``order_id``: what it said, or why it could not be asked."""
    try:
        with client_for(connection, timeout=_TIMEOUT_SECONDS, retry=_RETRY) as client:
            payload = client.get_order(int(order_id))
    except StorefrontNotFound:
        return StoreSays(found=False)
    except (StorefrontError, ValueError) as exc:  # MissingCredentials is a StorefrontError too
        log.warning("could not ask %s about order %s: %s", connection.name, order_id, exc)
        return str(exc)
    try:
        order = normalizer_for(connection.platform).order(payload)
    except InvalidPayload as exc:
        return f"the store's answer about the order is unusable: {exc}"
    status = "in the trash" if order.raw_status == "trash" else order.status.replace("_", " ")
    return StoreSays(found=True, status=status,
                     cancelled=order.status == "cancelled", modified_at=naive_utc(order.modified_at))


def check(connection: Connection, order_id: str, change: str) -> StoreCheck:
    """Ask the store and judge ``change`` of ``order_id`` (see :func:`judge`)."""
    return judge(order_id, change, ask_store(connection, order_id))
