"""Shopify orders paid through several gateways: who paid what is read from the order's transactions.

An order webhook lists its ``payment_gateway_names`` but not what each took: an order paid partly by gift
card and partly by card cannot be booked from it (the gift card part is a liability used up, the rest is
money received). For such an order (see ``shopify.gateways.needs_transactions``) the order's transactions
are read from the store (``GET orders/<id>/transactions.json``) outside the delivery's transaction and
added to the order before it is normalized. When the store cannot be asked, the order is stored as sent
and waits in the queue with a reason that names the fix.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qbsync.storage.models import Connection
from qbsync.storefronts.clients import client_for
from qbsync.storefronts.http import RetryPolicy, StorefrontError
from qbsync.storefronts.shopify.client import ShopifyClient
from qbsync.storefronts.shopify.gateways import needs_transactions

log = logging.getLogger(__name__)

# A background job asks; a store that is down is not waited for long (the order then waits for a person).
_TIMEOUT_SECONDS = 10.0
_RETRY = RetryPolicy(attempts=2, base_delay=0.5, max_retry_after=5.0)


@dataclass(frozen=True)
class Transactions:
    """What the store answered: the order's transactions, or why they could not be read."""

    found: list[dict[str, Any]] | None
    problem: str | None = None


def needed(platform: str, payload: Mapping[str, Any]) -> bool:
    """Whether this order body must be completed with its transactions before it is normalized."""
    return platform == "shopify" and needs_transactions(payload)


def read_transactions(connection: Connection, order_id: str) -> Transactions:
    """Read the order's transactions from the connection's Shopify store (the only I/O here)."""
    try:
        with client_for(connection, timeout=_TIMEOUT_SECONDS, retry=_RETRY) as client:
            if not isinstance(client, ShopifyClient):
                return Transactions(None, "only Shopify orders carry transactions")
            return Transactions(client.order_transactions(int(order_id)))
    except (StorefrontError, ValueError) as exc:  # MissingCredentials is a StorefrontError too
        log.warning("could not read the transactions of order %s of %r: %s", order_id, connection.name, exc)
        return Transactions(None, str(exc))


def with_transactions(payload: Mapping[str, Any], paid_by: Transactions) -> dict[str, Any]:
    """The order body with its transactions, when they were read; else as it was."""
    if paid_by.found is None:
        return dict(payload)
    return {**payload, "transactions": paid_by.found}
