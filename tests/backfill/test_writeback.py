"""Stock write-back jobs (queued by the inventory pull) reach the store: WooCommerce in batch requests,
Shopify per inventory item; what the store refuses is parked or retried with its reason."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from qbsync.queue import jobs
from qbsync.simulator.storefront import make_products
from qbsync.storage.models import QueueJob, utcnow
from qbsync.storefronts import backfill, writeback
from qbsync.storefronts.http import RetryPolicy


def _queue(runtime, conn, quantity: Any, *, product_id=None, variant_id=None, inventory_item_id=None,
           sku=None) -> int:
    """A write-back job as the inventory pull queues it (qbsync.queue.inventory.queue_writeback)."""
    key = str(variant_id or product_id or inventory_item_id)
    payload = {"product_key": key, "product_id": product_id and str(product_id),
               "variant_id": variant_id and str(variant_id), "sku": sku,
               "inventory_item_id": inventory_item_id and str(inventory_item_id), "quantity": str(quantity),
               "item_list_id": f"80000-{key}", "item": sku}
    with runtime.db.transaction() as session:
        job = jobs.enqueue(session, conn.id, "stock_writeback", payload, record_type="product", record_id=key,
                           label=f"stock of {sku}", coalesce_key=f"stock_writeback:{key}", priority=100)
        return job.id


def test_woocommerce_stock_is_written_in_batches_and_jobs_are_done(runtime, double, store, reads):
    products = make_products("woocommerce")
    double.add_products(products, "woocommerce")
    conn = store("woocommerce")
    simple = [p for p in products if p["type"] == "simple"]
    variations = [p for p in products if p["type"] == "variation"]
    parent = variations[0]["parent_id"]
    siblings = [v for v in variations if v["parent_id"] == parent]
    ids = [_queue(runtime, conn, 10 + i, product_id=p["id"], sku=p["sku"]) for i, p in enumerate(simple)]
    ids += [_queue(runtime, conn, "3", product_id=parent, variant_id=v["id"], sku=v["sku"]) for v in siblings]
    with runtime.db.transaction() as session:  # never sent to QuickBooks
        assert jobs.pending_ready(session, conn.id, utcnow(), 500, lock=False) == []

    result = writeback.run_stock_writebacks(runtime, conn.id)

    assert (result.written, result.retrying, result.parked) == (len(ids), 0, 0)
    assert all(reads.job(i).state == "done" for i in ids)
    assert double.product(simple[0]["id"])["stock_quantity"] == 10
    assert double.product(siblings[-1]["id"])["stock_quantity"] == 3
    assert len(double.requests_to("/products/batch", "POST")) == 1
    assert len(double.requests_to(f"/products/{parent}/variations/batch", "POST")) == 1
    assert sorted(w["quantity"] for w in double.stock_writes) == sorted(
        [10 + i for i in range(len(simple))] + [3] * len(siblings))
    assert "WooCommerce stock set to 10" in reads.job(ids[0]).last_message


def test_shopify_stock_is_set_per_inventory_item_and_refusals_are_parked(runtime, double, store, reads):
    products = make_products("shopify")
    double.add_products(products, "shopify")
    conn = store("shopify")
    # The products push tells qbsync each variant's inventory item.
    run = backfill.start_push(runtime, conn, "products", {}, dispatch=False)
    assert backfill.run_push(run.id) == "done"
    first, second = products[0]["variants"][0], products[1]["variants"][0]
    given = _queue(runtime, conn, 8, product_id=products[0]["id"], variant_id=first["id"],
                   inventory_item_id=first["inventory_item_id"], sku=first["sku"])
    looked_up = _queue(runtime, conn, "12.000", product_id=products[1]["id"], variant_id=second["id"],
                       sku=second["sku"])
    fraction = _queue(runtime, conn, "2.5", product_id=products[2]["id"],
                      inventory_item_id=products[2]["variants"][0]["inventory_item_id"], sku="HALF")
    unknown = _queue(runtime, conn, 4, inventory_item_id=999999, sku="GONE")

    result = writeback.run_stock_writebacks(runtime, conn.id)

    assert (result.written, result.parked) == (2, 2)
    location = double.locations[0]["id"]
    assert double.inventory_levels == {(first["inventory_item_id"], location): 8,
                                       (second["inventory_item_id"], location): 12}
    assert reads.job(given).state == reads.job(looked_up).state == "done"
    half = reads.job(fraction)
    assert half.state == "parked" and "whole units" in half.reason and "2.5" in half.reason
    gone = reads.job(unknown)
    assert gone.state == "parked" and "Inventory item not found" in gone.reason


def test_refused_credentials_leave_jobs_waiting_with_the_fix(runtime, double, store, reads):
    double.add_products(make_products("shopify"), "shopify")
    conn = store("shopify", credentials={"access_token": "shpat_wrong"})
    item = make_products("shopify")[0]["variants"][0]["inventory_item_id"]
    job_id = _queue(runtime, conn, 5, inventory_item_id=item, sku="MUG")

    result = writeback.run_stock_writebacks(runtime, conn.id)

    job = reads.job(job_id)
    assert result.retrying == 1 and double.stock_writes == []
    assert job.state == "pending" and job.attempts == 1 and job.not_before > utcnow()
    assert "refused the access token" in job.reason and "connection page" in job.reason


def test_missing_credentials_say_what_to_add(runtime, double, store, reads):
    conn = store("woocommerce", credentials={})
    job_id = _queue(runtime, conn, 5, product_id=1, sku="MUG")
    result = writeback.run_stock_writebacks(runtime, conn.id)
    job = reads.job(job_id)
    assert "add a consumer key and secret on the connection page" in result.error
    assert job.state == "pending" and "add a consumer key and secret" in job.reason
    assert job.not_before > utcnow()


def test_an_unreachable_store_is_retried_and_a_newer_quantity_replaces_the_old(runtime, double, store, reads,
                                                                             monkeypatch):
    real_client_for = writeback.client_for
    monkeypatch.setattr(writeback, "client_for",
                        lambda c, **options: real_client_for(c, retry=RetryPolicy(attempts=1), **options))
    products = make_products("woocommerce")
    double.add_products(products, "woocommerce")
    conn = store("woocommerce")
    item = next(p for p in products if p["type"] == "simple")
    old = _queue(runtime, conn, 7, product_id=item["id"], sku=item["sku"])
    double.fail_next(1, 503)

    assert writeback.run_stock_writebacks(runtime, conn.id).retrying == 1
    waiting = reads.job(old)
    assert waiting.state == "pending" and waiting.not_before > utcnow() and "did not answer" in waiting.reason

    # A newer pull's quantity folds into the waiting job; once due it is written.
    newer = _queue(runtime, conn, 9, product_id=item["id"], sku=item["sku"])
    assert newer == old
    later = utcnow() + timedelta(hours=2)
    assert writeback.run_stock_writebacks(runtime, conn.id, now=later).written == 1
    assert double.product(item["id"])["stock_quantity"] == 9


def test_a_job_left_in_flight_by_a_dead_worker_is_written_again(runtime, double, store, reads):
    products = make_products("woocommerce")
    double.add_products(products, "woocommerce")
    conn = store("woocommerce")
    item = next(p for p in products if p["type"] == "simple")
    job_id = _queue(runtime, conn, 6, product_id=item["id"], sku=item["sku"])
    with runtime.db.transaction() as session:
        job = session.get(QueueJob, job_id)
        job.state, job.updated_at = "in_flight", utcnow() - writeback.STALE_IN_FLIGHT * 2

    assert writeback.run_due_writebacks(runtime)[conn.id].written == 1
    assert reads.job(job_id).state == "done"
    assert double.product(item["id"])["stock_quantity"] == 6
