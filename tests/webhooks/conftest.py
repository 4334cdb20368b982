"""Webhook test helpers: connections with known secrets, signed deliveries, reads of what was stored."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from qbsync.storage.models import QueueJob, StorefrontRecord, WebhookDelivery
from qbsync.webhooks.deliveries import Stored, receive
from qbsync.webhooks.signatures import sign

WOO_SECRET = "woo-webhook-secret"
SHOPIFY_SECRET = "shpss_test_secret"
SHOP_DOMAIN = "test-shop.myshopify.com"


@pytest.fixture
def storefront_dir(reference_dir: Path) -> Path:
    return reference_dir / "storefront"


@pytest.fixture
def woo(make_connection):
    """A WooCommerce connection named "woo"."""
    return make_connection("woo", platform="woocommerce", webhook_secret=WOO_SECRET,
                           store_url="https://shop.example.com")


@pytest.fixture
def shop(make_connection):
    """A Shopify connection named "shop"."""
    return make_connection("shop", platform="shopify", webhook_secret=SHOPIFY_SECRET,
                           store_url=f"https://{SHOP_DOMAIN}")


class Kit:
    """Signed deliveries and reads of what the service stored, for one test's runtime."""

    woo_secret = WOO_SECRET
    shopify_secret = SHOPIFY_SECRET
    shop_domain = SHOP_DOMAIN

    def __init__(self, runtime) -> None:
        self.runtime = runtime

    @staticmethod
    def woo_headers(body: bytes, topic: str = "order.updated", secret: str = WOO_SECRET,
                    delivery_id: str | None = None) -> dict[str, str]:
        """Headers of a WooCommerce delivery of ``body`` signed with ``secret``."""
        resource, _, event = topic.partition(".")
        return {
            "Content-Type": "application/json",
            "User-Agent": "WooCommerce/8.0.2 Hookshot (WordPress/6.3)",
            "X-WC-Webhook-Source": "https://shop.example.com/",
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": resource,
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-ID": "3",
            "X-WC-Webhook-Delivery-ID": delivery_id or uuid.uuid4().hex,
            "X-WC-Webhook-Signature": sign(secret, body),
        }

    @staticmethod
    def shopify_headers(body: bytes, topic: str = "orders/create", secret: str = SHOPIFY_SECRET,
                        event_id: str | None = None, shop_domain: str = SHOP_DOMAIN) -> dict[str, str]:
        """Headers of a Shopify delivery of ``body`` signed with ``secret``."""
        return {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": sign(secret, body),
            "X-Shopify-Shop-Domain": shop_domain,
            "X-Shopify-API-Version": "2026-07",
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
            "X-Shopify-Triggered-At": "2026-07-01T10:00:00.000Z",
        }

    @staticmethod
    def compact(payload: dict[str, Any]) -> bytes:
        """A payload as a storefront sends it (compact JSON)."""
        return json.dumps(payload, separators=(",", ":")).encode()

    def store_woo(self, payload: dict[str, Any], **header_options: Any) -> int:
        """Receive a signed WooCommerce delivery for "woo" as the endpoint does, but without handing it to
        background processing (as if the web process died right after the commit); its id."""
        body = self.compact(payload)
        headers = self.woo_headers(body, **header_options)
        stored = self.runtime.db.run_statements(lambda db: receive(
            db, "woocommerce", "woo", headers.items(), headers["X-WC-Webhook-Signature"], body))
        assert isinstance(stored, Stored) and stored.state == "stored", stored
        return stored.delivery_id

    def deliveries(self) -> list[WebhookDelivery]:
        """Deliveries kept (with their body); refusals are only counted, see :meth:`refusals`."""
        with self.runtime.db.transaction() as session:
            return list(session.scalars(select(WebhookDelivery).where(WebhookDelivery.state != "refused")
                                        .order_by(WebhookDelivery.id)))

    def refusals(self) -> list[WebhookDelivery]:
        """The counted refusals: no body, no headers, a count per hour and reason."""
        with self.runtime.db.transaction() as session:
            return list(session.scalars(select(WebhookDelivery).where(WebhookDelivery.state == "refused")
                                        .order_by(WebhookDelivery.id)))

    def delivery(self, delivery_id: int) -> WebhookDelivery:
        with self.runtime.db.transaction() as session:
            return session.get(WebhookDelivery, delivery_id)

    def jobs(self) -> list[QueueJob]:
        with self.runtime.db.transaction() as session:
            return list(session.scalars(select(QueueJob).order_by(QueueJob.id)))

    def jobs_for(self, record_type: str) -> list[QueueJob]:
        """The queue jobs about records of one type (an order also queues its customer, items...)."""
        return [job for job in self.jobs() if job.record_type == record_type]

    def record(self, record_type: str, record_id: str) -> StorefrontRecord | None:
        with self.runtime.db.transaction() as session:
            return session.scalar(select(StorefrontRecord).where(
                StorefrontRecord.record_type == record_type, StorefrontRecord.record_id == record_id))

    def finish_background(self) -> None:
        """Wait until the in-process background jobs submitted so far have run."""
        self.runtime.dispatcher.shutdown(wait=True)


@pytest.fixture
def kit(runtime) -> Kit:
    return Kit(runtime)
