"""Webhooks that would void an order's transaction are believed only when the store says so.

WooCommerce signs the body, not the ``X-WC-Webhook-Topic`` header, and a signed body can be sent again:
an ``order.updated`` body replayed as ``order.deleted``, or an old deletion replayed after the order was
restored, must leave the sales receipt in QuickBooks as it is. The store (the storefront double, over
real HTTP) is asked; a deletion it confirms voids; when it cannot be asked, a person decides.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from qbsync.queue import jobs
from qbsync.simulator.storefront import StorefrontDouble, make_orders
from qbsync.storage.models import QueueJob, WebhookDelivery
from qbsync.storefronts.shopify import normalize as shopify
from qbsync.storefronts.woocommerce import normalize as woo
from tests.accounting import check_order, check_synced_order
from tests.ops.processes import process_shopify_delivery, woo_delivery

SECRET = "woo-webhook-secret"
# The store's orders are taxed US orders: the default company and the multicurrency one (US, USD) where a
# void changes the books; the tests where nothing is voided stay on the default company (each one is a
# few seconds of real HTTP).


@pytest.fixture
def double() -> Iterator[StorefrontDouble]:
    with StorefrontDouble() as running:
        yield running


@pytest.fixture
def order(double) -> dict[str, Any]:
    """A paid order in the store, changed an hour ago."""
    made = make_orders(1, "woocommerce", seed=5)[0]
    made.update(status="processing", set_paid=True)
    double.add_orders([made], platform="woocommerce")
    return double.update_order(made["id"], {}, platform="woocommerce", modified_at=_ago(hours=1))


def _ago(**delta: float) -> datetime:
    return datetime.now(UTC).replace(tzinfo=None) - timedelta(**delta)


def _shop(make_shop, double, credentials: bool = True, store_url: str | None = None,
          profile: str | None = None):
    """The store's connection and its simulated company (``profile``: qbsync.simulator.profiles)."""
    api = {"consumer_key": double.consumer_key, "consumer_secret": double.consumer_secret}
    return make_shop(platform="woocommerce", webhook_secret=SECRET, store_url=store_url or double.base_url,
                     api_credentials=api if credentials else None, profile=profile)


def _deliver(client, runtime, body_of: dict[str, Any], topic: str, delivery_id: str) -> WebhookDelivery:
    """A signed delivery reaching the receiver, processed in the background; the stored delivery."""
    body, headers = woo_delivery(body_of, delivery_id, secret=SECRET, topic=topic)
    answer = client.post("/webhooks/woocommerce/shop", data=body, headers=headers)
    assert answer.status_code == 200 and answer.json["status"] == "stored", answer.json
    runtime.dispatcher.shutdown(wait=True)
    with runtime.db.transaction() as session:
        return session.get(WebhookDelivery, answer.json["delivery"])


def _receipt(shop) -> dict[str, Any]:
    (receipt,) = shop.company.transactions("SalesReceipt")
    return receipt


def _synced(client, runtime, shop, order) -> dict[str, Any]:
    delivery = _deliver(client, runtime, order, "order.updated", "first")
    assert delivery.state == "processed", delivery.error
    shop.sync()
    receipt = _receipt(shop)
    assert receipt["TotalAmount"] != "0.00" and not receipt.get("Memo", "").startswith("VOID:")
    check_synced_order(shop.company, woo.order(order))
    return receipt


def _voided_books(shop, number: str) -> None:
    """The order's sale voided: nothing sold, paid or owed, no tax, no credit left."""
    check_order(shop.company, number, sold="0.00", paid="0.00", open_balance="0.00",
                open_credits="0.00", tax_total="0.00")


def _assert_not_voided(shop, before: dict[str, Any]) -> None:
    assert not shop.requests("TxnVoidRq")
    after = _receipt(shop)
    assert (after["TotalAmount"], after.get("Memo")) == (before["TotalAmount"], before.get("Memo"))
    (mapping,) = [shop.mapping("order", job.record_id) for job in shop.jobs(QueueJob.kind == "order")][:1]
    assert mapping is not None and mapping.synced_hash != "voided"


@pytest.mark.parametrize("profile", ["retail", "multicurrency"])
def test_an_update_body_replayed_as_a_deletion_voids_nothing(client, runtime, make_shop, double, order,
                                                             profile):
    shop = _shop(make_shop, double, profile=profile)
    receipt = _synced(client, runtime, shop, order)

    # The same signed body, a new delivery id, the unsigned topic header changed.
    replayed = _deliver(client, runtime, order, "order.deleted", "replay-1")
    shop.sync()

    assert replayed.state == "stale"
    assert "the store says it is processing" in replayed.error
    _assert_not_voided(shop, receipt)


@pytest.mark.parametrize("profile", ["retail", "multicurrency"])
def test_an_old_deletion_replayed_after_the_order_was_restored_voids_nothing(
        client, runtime, make_shop, double, order, profile):
    shop = _shop(make_shop, double, profile=profile)
    receipt = _synced(client, runtime, shop, order)
    # Trashed and restored in the store before the Web Connector's next run: the deletion is genuine
    # when it arrives, the restore wins.
    trashed = double.update_order(order["id"], {"status": "trash"}, platform="woocommerce",
                                  modified_at=_ago(minutes=30))
    deletion = {"id": order["id"]}
    assert _deliver(client, runtime, deletion, "order.deleted", "delete-1").state == "processed"
    restored = double.update_order(order["id"], {"status": "processing"}, platform="woocommerce",
                                   modified_at=_ago(minutes=20))
    assert trashed["date_modified_gmt"] < restored["date_modified_gmt"]
    assert _deliver(client, runtime, restored, "order.restored", "restore-1").state == "processed"
    shop.sync()
    _assert_not_voided(shop, receipt)

    # Days later someone sends the old deletion again (same body, new delivery id).
    replayed = _deliver(client, runtime, deletion, "order.deleted", "delete-replay")
    shop.sync()

    assert replayed.state == "stale" and "the store says it is processing" in replayed.error
    _assert_not_voided(shop, receipt)


@pytest.mark.parametrize(("how", "profile"), [("trashed", "retail"), ("deleted for good", "multicurrency")])
def test_a_deletion_the_store_confirms_voids_the_sales_receipt(client, runtime, make_shop, double, order,
                                                              how, profile):
    shop = _shop(make_shop, double, profile=profile)
    _synced(client, runtime, shop, order)
    if how == "trashed":
        double.update_order(order["id"], {"status": "trash"}, platform="woocommerce")
    else:
        double.delete_order(order["id"], platform="woocommerce")

    deletion = _deliver(client, runtime, {"id": order["id"]}, "order.deleted", "delete-1")
    shop.sync()

    assert deletion.state == "processed", deletion.error
    receipt = _receipt(shop)
    assert receipt["TotalAmount"] == "0.00" and receipt["Memo"].startswith("VOID:")
    assert [a.status_code for a in shop.attempts("TxnVoidRq")] == [0]
    assert double.requests_to(f"/orders/{order['id']}", "GET")  # the store was asked
    _voided_books(shop, woo.order(order).number)


@pytest.mark.parametrize("profile", ["retail", "multicurrency"])
def test_a_cancellation_the_store_does_not_confirm_voids_nothing(client, runtime, make_shop, double, order,
                                                                 profile):
    shop = _shop(make_shop, double, profile=profile)
    receipt = _synced(client, runtime, shop, order)
    # A signed body saying "cancelled", newer than anything we know, but the store says processing.
    cancelled = {**order, "status": "cancelled",
                 "date_modified_gmt": _ago(minutes=1).replace(microsecond=0).isoformat()}
    delivery = _deliver(client, runtime, cancelled, "order.updated", "cancel-1")
    shop.sync()

    assert delivery.state == "stale" and "cancellation" in delivery.error
    _assert_not_voided(shop, receipt)


@pytest.mark.parametrize("profile", ["retail", "multicurrency"])
@pytest.mark.parametrize("why", ["no API credentials", "store unreachable"])
def test_when_the_store_cannot_be_asked_the_void_waits_for_a_person(
        client, runtime, make_shop, double, order, why, profile):
    if why == "no API credentials":
        shop = _shop(make_shop, double, credentials=False, profile=profile)
    else:  # nothing listens on port 9
        shop = _shop(make_shop, double, store_url="http://127.0.0.1:9", profile=profile)
    receipt = _synced(client, runtime, shop, order)

    deletion = _deliver(client, runtime, {"id": order["id"]}, "order.deleted", "delete-1")
    shop.sync()

    assert deletion.state == "processed"
    _assert_not_voided(shop, receipt)
    (job,) = [j for j in shop.jobs(QueueJob.kind == "order") if j.state == "parked"]
    assert "could not confirm the deletion" in job.reason and "retry this job to void" in job.reason

    # A person checked the store and retries the job: now it is voided.
    with runtime.db.transaction() as session:
        jobs.retry_now(session, session.get(QueueJob, job.id))
    shop.sync()
    assert _receipt(shop)["Memo"].startswith("VOID:")
    _voided_books(shop, woo.order(order).number)


def test_a_store_answer_is_judged_by_what_it_says():
    from qbsync.webhooks.confirm import StoreSays, judge

    assert judge("7", "deleted", StoreSays(found=False)).verdict == "confirmed"
    assert judge("7", "cancelled", StoreSays(found=True, status="cancelled", cancelled=True)).verdict \
        == "confirmed"
    refuted = judge("7", "deleted", StoreSays(found=True, status="processing",
                                              modified_at=datetime(2026, 1, 2, 3, 4, 5)))
    assert refuted.verdict == "refuted" and "2026-01-02 03:04:05" in refuted.reason
    unasked = judge("7", "deleted", "Connection 'shop' has no storefront API access")
    assert unasked.unconfirmed is not None and "no storefront API access" in unasked.unconfirmed
    assert json.dumps(unasked.reason)  # plain text, kept on the job


# -- Shopify: the same rule, through the Shopify Admin API double -----------------------------------


@pytest.mark.parametrize("profile", ["retail", "multicurrency"])
def test_shopify_deletions_and_cancellations_void_only_what_the_store_confirms(runtime, make_shop, double,
                                                                              profile):
    made = make_orders(1, "shopify", seed=8)[0]
    made.update(financial_status="paid", cancelled_at=None)
    double.add_orders([made], platform="shopify")
    order = double.update_order(made["id"], {}, platform="shopify", modified_at=_ago(hours=1))
    shop = make_shop(platform="shopify", webhook_secret=SECRET, store_url=double.base_url,
                     api_credentials={"access_token": double.access_token}, profile=profile)
    assert process_shopify_delivery(runtime, order, "e1", SECRET, "orders/updated").state == "processed"
    shop.sync()
    receipt = _receipt(shop)
    check_synced_order(shop.company, shopify.order(order))

    # A cancellation body the store does not back (the order is not cancelled there), then a deletion
    # of an order the store still has: neither voids anything.
    cancelled = {**order, "cancelled_at": _ago(minutes=5).isoformat() + "+00:00",
                 "updated_at": _ago(minutes=5).isoformat() + "+00:00"}
    assert process_shopify_delivery(runtime, cancelled, "e2", SECRET, "orders/cancelled").state == "stale"
    deleted = {"id": order["id"]}
    assert process_shopify_delivery(runtime, deleted, "e3", SECRET, "orders/delete").state == "stale"
    shop.sync()
    _assert_not_voided(shop, receipt)

    # Deleted in the store for real: the deletion it confirms voids the sales receipt.
    double.delete_order(order["id"], platform="shopify")
    assert process_shopify_delivery(runtime, deleted, "e4", SECRET, "orders/delete").state == "processed"
    shop.sync()
    assert _receipt(shop)["Memo"].startswith("VOID:")
    _voided_books(shop, shopify.order(order).number)
