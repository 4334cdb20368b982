"""The missed-webhook sweep against the storefront double: it queues changes no webhook brought and leaves
alone what a webhook already stored (same or newer)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from qbsync.simulator.storefront import make_orders, make_products
from qbsync.storage.models import Checkpoint, utcnow
from qbsync.storefronts import sweep
from qbsync.webhooks.deliveries import find_receiver, store_delivery
from qbsync.webhooks.envelope import read_envelope
from qbsync.webhooks.processing import process


def _webhook(runtime, conn, order: dict) -> str:
    """Deliver ``order`` the way the webhook receiver does (store, then process); returns the state."""
    body = json.dumps(order, separators=(",", ":")).encode()
    headers = {"X-WC-Webhook-Topic": "order.updated", "X-WC-Webhook-Source": conn.store_url + "/",
               "X-WC-Webhook-Delivery-ID": uuid.uuid4().hex, "Content-Type": "application/json"}
    with runtime.db.engine.begin() as db:
        stored = store_delivery(db, find_receiver(db, conn.name), read_envelope("woocommerce", headers, body))
    return process(runtime.db, stored.delivery_id)


def test_sweep_queues_what_no_webhook_brought_and_skips_what_one_did(runtime, double, store, reads):
    double.add_orders(make_orders(60, "woocommerce"), "woocommerce")
    conn = store("woocommerce")
    now = utcnow().replace(microsecond=0)
    double.update_order(1010, {"status": "processing"}, platform="woocommerce",
                        modified_at=now - timedelta(minutes=30))
    delivered = double.update_order(1020, {"status": "processing"}, platform="woocommerce",
                                    modified_at=now - timedelta(minutes=20))
    assert _webhook(runtime, conn, delivered) == "processed"
    # The store still shows an older version than the webhook that arrived for order 1030.
    newer = double.update_order(1030, {"status": "completed"}, platform="woocommerce",
                                modified_at=now - timedelta(minutes=5))
    assert _webhook(runtime, conn, newer) == "processed"
    double.update_order(1030, {"status": "processing"}, platform="woocommerce",
                        modified_at=now - timedelta(minutes=10))
    jobs_before = {j.record_id: j.id for j in reads.jobs("order")}
    assert set(jobs_before) == {"1020", "1030"}

    result = sweep.sweep_connection(runtime, conn.id, now=now)

    assert result.error is None
    (orders,) = [c for c in result.counts if c.record_type == "order"]
    assert (orders.listed, orders.queued, orders.known) == (3, 1, 2)
    order_jobs = {j.record_id: j for j in reads.jobs("order")}
    assert set(order_jobs) == {"1010", "1020", "1030"}
    assert order_jobs["1010"].payload["record"]["status"] == "processing"
    assert {k: j.id for k, j in order_jobs.items() if k != "1010"} == jobs_before
    kept = reads.records("order")
    assert kept["1010"].source == "sweep" and kept["1030"].data["status"] == "completed"
    # Only the last day was asked for, a few minutes overlapped; the checkpoint moved to this sweep.
    (asked,) = [r for r in double.requests_to("/orders", "GET") if "modified_after" in r.params]
    assert asked.params["modified_after"] == (now - sweep.FIRST_LOOK_BACK - sweep.OVERLAP).isoformat()
    with runtime.db.transaction() as session:
        assert session.get(Checkpoint, (conn.id, "sweep:order")).value.startswith(now.isoformat())

    jobs_after = reads.job_count()
    again = sweep.sweep_connection(runtime, conn.id, now=now + timedelta(minutes=15))
    assert again.queued == 0 and reads.job_count() == jobs_after
    second_ask = [r for r in double.requests_to("/orders", "GET") if "modified_after" in r.params][-1]
    assert second_ask.params["modified_after"] == (now - sweep.OVERLAP).isoformat()


def test_shopify_sweep_reads_products_customers_and_orders_changed_lately(runtime, double, store, reads):
    double.add_products(make_products("shopify", when=utcnow() - timedelta(hours=2)), "shopify")
    double.add_orders(make_orders(20, "shopify"), "shopify")
    conn = store("shopify")
    order_id = double.orders("shopify")[3]["id"]
    # Paid partly by gift card: the sweep reads what each gateway paid from the order's transactions.
    double.update_order(order_id, {"financial_status": "paid",
                                   "payment_gateway_names": ["gift_card", "shopify_payments"]},
                        platform="shopify", modified_at=utcnow() - timedelta(hours=1))
    double.add_transactions(order_id, [
        {"id": 1, "kind": "sale", "status": "success", "gateway": "gift_card", "amount": "2.00"}])

    result = sweep.sweep_connection(runtime, conn.id)

    counts = {c.record_type: c for c in result.counts}
    variants = sum(len(p["variants"]) for p in make_products("shopify"))
    assert (counts["product"].listed, counts["product"].queued) == (variants, variants)
    assert counts["order"].listed == 1 and counts["customer"].listed == 0
    assert reads.records("order")[str(order_id)].data["gift_card_amount"] == "2.00"
    assert len(double.requests_to("/transactions.json")) == 1  # only for the order with two gateways
    assert len(reads.records("product")) == variants


def test_sweep_all_honours_each_connection_interval_and_skips_stores_without_credentials(
        runtime, double, store, reads):
    double.add_orders(make_orders(5, "woocommerce"), "woocommerce")
    swept = store("woocommerce", name="swept")
    store("woocommerce", name="no-key", credentials={})
    with runtime.db.transaction() as session:
        from qbsync.storage.models import Connection

        session.get(Connection, swept.id).settings = {"sweep_interval_minutes": 30}
    now = utcnow()
    assert [r.connection for r in sweep.sweep_all(runtime, now)] == ["swept"]
    assert sweep.sweep_all(runtime, now + timedelta(minutes=20)) == []
    assert [r.connection for r in sweep.sweep_all(runtime, now + timedelta(minutes=31))] == ["swept"]


def test_a_refused_key_is_reported_and_the_checkpoint_stays(runtime, double, store):
    conn = store("woocommerce", credentials={"consumer_key": double.consumer_key, "consumer_secret": "nope"})
    result = sweep.sweep_connection(runtime, conn.id)
    assert "refused the consumer key/secret" in result.error
    with runtime.db.transaction() as session:
        assert session.get(Checkpoint, (conn.id, "sweep:order")) is None


def test_the_scheduler_runs_the_storefront_tasks_and_the_interval_is_a_setting(runtime, double, store):
    from qbsync.queue.settings import validate_overrides
    from qbsync.service.scheduler import run_due

    store("woocommerce")
    ran = run_due(runtime, {})
    assert {"resume-pushes", "sweep-storefronts", "stock-writebacks"} <= set(ran)
    assert double.requests_to("/orders", "GET")  # the sweep asked the store
    assert validate_overrides({"sweep_interval_minutes": "60"}) == {"sweep_interval_minutes": 60}
