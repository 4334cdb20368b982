"""Background processing of stored deliveries: storefront records, queue jobs, ordering, retries."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from qbsync.config import Config
from qbsync.service.background import Dispatcher
from qbsync.service.runtime import Runtime, install
from qbsync.storage.models import WebhookDelivery, utcnow
from qbsync.webhooks import processing
from qbsync.webhooks.processing import MAX_ATTEMPTS, process_delivery, redispatch_stored


def _payload(storefront_dir, platform: str, name: str, **changes) -> dict:
    data = json.loads((storefront_dir / platform / name).read_text())
    data.update(changes)
    return data


def _post_woo(client, kit, payload: dict, topic: str = "order.updated"):
    body = kit.compact(payload)
    return client.post("/webhooks/woocommerce/woo", data=body, headers=kit.woo_headers(body, topic=topic))


def _post_shopify(client, kit, payload: dict, topic: str):
    body = kit.compact(payload)
    return client.post("/webhooks/shopify/shop", data=body, headers=kit.shopify_headers(body, topic=topic))


def test_order_delivery_becomes_storefront_record_and_queue_job(client, woo, kit, storefront_dir):
    response = _post_woo(client, kit, _payload(storefront_dir, "woocommerce", "order.json"), "order.created")
    assert response.status_code == 200
    kit.finish_background()

    (delivery,) = kit.deliveries()
    assert delivery.state == "processed" and delivery.error is None and delivery.processed_at
    record = kit.record("order", "727")
    assert record is not None and not record.deleted
    assert record.data["number"] == "727" and record.data["total"] == "29.35"
    assert record.modified_at == datetime(2017, 3, 22, 19, 28, 8)
    (job,) = kit.jobs_for("order")
    assert (job.kind, job.record_id) == ("order", "727") and job.state in ("pending", "waiting")
    assert job.payload["event"] == "created"
    assert job.payload["record"]["total"] == "29.35"


def test_processing_twice_queues_nothing_twice(client, woo, kit, storefront_dir):
    _post_woo(client, kit, _payload(storefront_dir, "woocommerce", "customer.json"), "customer.created")
    kit.finish_background()
    (delivery,) = kit.deliveries()
    before = [(job.id, job.updated_at, job.payload) for job in kit.jobs()]
    assert [job.record_type for job in kit.jobs()] == ["customer"]
    assert process_delivery(delivery.id) == "processed"
    again = kit.delivery(delivery.id)
    assert again.attempts == delivery.attempts == 1
    assert [(job.id, job.updated_at, job.payload) for job in kit.jobs()] == before


def test_older_payload_arriving_late_never_overwrites_newer(client, woo, kit, storefront_dir):
    newer = _payload(storefront_dir, "woocommerce", "order.json", status="completed",
                     date_modified_gmt="2017-03-25T10:00:00")
    older = _payload(storefront_dir, "woocommerce", "order.json", status="processing",
                     date_modified_gmt="2017-03-22T19:28:08")
    _post_woo(client, kit, newer)
    kit.finish_background()
    _post_woo(client, kit, older)
    kit.finish_background()

    first, second = kit.deliveries()
    assert (first.state, second.state) == ("processed", "stale")
    record = kit.record("order", "727")
    assert record.data["status"] == "completed"
    assert record.modified_at == datetime(2017, 3, 25, 10, 0, 0)
    (job,) = kit.jobs_for("order")
    assert job.payload["record"]["status"] == "completed"


def test_newer_payload_replaces_older_and_updates_the_queued_job(client, woo, kit, storefront_dir):
    _post_woo(client, kit, _payload(storefront_dir, "woocommerce", "order.json", status="processing"))
    kit.finish_background()
    _post_woo(client, kit, _payload(storefront_dir, "woocommerce", "order.json", status="completed",
                                    date_modified_gmt="2017-03-25T10:00:00"))
    kit.finish_background()
    assert [d.state for d in kit.deliveries()] == ["processed", "processed"]
    assert kit.record("order", "727").data["status"] == "completed"
    (job,) = kit.jobs_for("order")  # the unsent job carries the newest data
    assert job.payload["record"]["status"] == "completed"


def test_same_payload_again_is_a_duplicate_not_new_work(client, woo, kit, storefront_dir):
    # WooCommerce sends product.created and product.updated for one save, with the same body.
    order = _payload(storefront_dir, "woocommerce", "order.json")
    _post_woo(client, kit, order, "order.created")
    kit.finish_background()
    before = [(job.id, job.updated_at, job.payload) for job in kit.jobs()]
    _post_woo(client, kit, order, "order.updated")
    kit.finish_background()
    assert [d.state for d in kit.deliveries()] == ["processed", "duplicate"]
    assert [(job.id, job.updated_at, job.payload) for job in kit.jobs()] == before


def test_shopify_customer_update_and_delete(client, shop, kit, storefront_dir):
    customer = _payload(storefront_dir, "shopify", "customer.json")
    _post_shopify(client, kit, customer, "customers/update")
    kit.finish_background()
    assert kit.record("customer", "207119551").data["email"] == customer["email"]

    jobs_before = len(kit.jobs())

    _post_shopify(client, kit, {"id": 207119551}, "customers/delete")
    kit.finish_background()
    assert [d.state for d in kit.deliveries()] == ["processed", "processed"]
    record = kit.record("customer", "207119551")
    assert record.deleted
    assert record.data["email"] == customer["email"]  # the last known data stays for reference
    assert len(kit.jobs()) == jobs_before  # the queue leaves a deleted customer in QuickBooks as it is

    # A late update from before the deletion does not bring the customer back.
    _post_shopify(client, kit, customer, "customers/update")
    kit.finish_background()
    assert kit.deliveries()[-1].state == "stale"
    assert kit.record("customer", "207119551").deleted


def test_products_are_stored_per_variant(client, shop, kit, storefront_dir):
    product = _payload(storefront_dir, "shopify", "product.json")
    _post_shopify(client, kit, product, "products/update")
    kit.finish_background()
    (delivery,) = kit.deliveries()
    assert delivery.state == "processed", delivery.error
    variant_ids = sorted(str(v["id"]) for v in product["variants"])
    stored = [kit.record("product", vid) for vid in variant_ids]
    assert all(r is not None and r.data["product_id"] == str(product["id"]) for r in stored)
    assert sorted(j.record_id for j in kit.jobs_for("product")) == variant_ids

    _post_shopify(client, kit, {"id": product["id"]}, "products/delete")
    kit.finish_background()
    assert all(kit.record("product", vid).deleted for vid in variant_ids)


def test_normalizer_refusal_marks_delivery_invalid(client, woo, kit, storefront_dir):
    order = _payload(storefront_dir, "woocommerce", "order.json", line_items="not a list")
    assert _post_woo(client, kit, order).status_code == 200  # the receiver does not normalize
    kit.finish_background()
    (delivery,) = kit.deliveries()
    assert delivery.state == "invalid" and "line_items" in delivery.error
    assert kit.jobs() == []


# -- hand-off failures and the scheduler's re-dispatch -------------------------------------------------


def test_redis_down_delivery_is_stored_answered_and_later_processed(db, config, woo, kit, storefront_dir):
    from qbsync.service.app import create_app

    # Nothing listens on port 1, so queueing fails at once.
    redis_down = dataclasses.replace(config, redis_url="redis://127.0.0.1:1/0")
    runtime = Runtime(config=redis_down, db=db, dispatcher=Dispatcher(redis_down))
    install(runtime)
    client = create_app(runtime=runtime).test_client()
    response = _post_woo(client, kit, _payload(storefront_dir, "woocommerce", "order.json"))
    assert response.status_code == 200 and response.get_json()["status"] == "stored"
    (delivery,) = kit.deliveries()
    assert delivery.state == "stored" and delivery.attempts == 0
    assert kit.jobs() == []

    later = utcnow() + timedelta(seconds=31)
    assert redispatch_stored(runtime, now=utcnow()) == 0  # too soon: it may still be on its way
    assert redispatch_stored(runtime, now=later) == 0  # Redis still down: kept, not lost
    assert kit.delivery(delivery.id).state == "stored"

    working = Config(database_url=config.database_url, redis_url=None, data_dir=config.data_dir,
                     secret_key=config.secret_key)
    runtime.dispatcher = Dispatcher(working)
    try:
        assert redispatch_stored(runtime, now=later) == 1
        runtime.dispatcher.shutdown(wait=True)
    finally:
        runtime.dispatcher.shutdown(wait=True)
    assert kit.delivery(delivery.id).state == "processed"
    (job,) = kit.jobs_for("order")
    assert job.record_id == "727"


def test_failed_processing_is_retried_a_bounded_number_of_times(client, runtime, woo, kit, storefront_dir,
                                                                monkeypatch):
    def queue_unavailable(*args, **kwargs):
        raise RuntimeError("queue table locked")

    monkeypatch.setattr(processing, "record_changed", queue_unavailable)
    _post_woo(client, kit, _payload(storefront_dir, "woocommerce", "order.json"))
    kit.finish_background()
    (delivery,) = kit.deliveries()
    assert delivery.state == "failed" and "queue table locked" in delivery.error
    assert delivery.attempts == 1
    assert kit.record("order", "727") is None  # rolled back with the failure

    monkeypatch.undo()
    assert redispatch_stored(runtime, now=delivery.processed_at + timedelta(seconds=5)) == 0  # backing off
    assert redispatch_stored(runtime, now=delivery.processed_at + timedelta(seconds=31)) == 1
    kit.finish_background()
    retried = kit.delivery(delivery.id)
    assert retried.state == "processed" and retried.error is None and retried.attempts == 2
    assert len(kit.jobs_for("order")) == 1


@pytest.mark.parametrize("state", ["failed", "stored"])
def test_delivery_that_keeps_failing_is_left_for_a_person(client, runtime, woo, kit, storefront_dir, state):
    _post_woo(client, kit, _payload(storefront_dir, "woocommerce", "order.json"))
    kit.finish_background()
    (delivery,) = kit.deliveries()
    with runtime.db.transaction() as session:
        # As if every attempt so far had failed (or its worker had died mid-way, leaving it "stored").
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery.id)
                        .values(state=state, attempts=MAX_ATTEMPTS, error="boom"))
    assert redispatch_stored(runtime, now=utcnow() + timedelta(days=1)) == 0
    left = kit.delivery(delivery.id)
    assert left.state == "failed" and left.error
    assert left.attempts == MAX_ATTEMPTS


def test_scheduler_task_redispatches_left_behind_deliveries(runtime, woo, kit, storefront_dir):
    from qbsync.service import scheduler

    # A delivery stored a minute ago whose hand-off never happened (the web process died after the commit).
    delivery_id = kit.store_woo(_payload(storefront_dir, "woocommerce", "order.json"))
    with runtime.db.transaction() as session:
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                        .values(received_at=utcnow() - timedelta(minutes=1)))

    ran = scheduler.run_due(runtime, {})
    assert "redispatch-webhooks" in ran
    kit.finish_background()
    assert kit.delivery(delivery_id).state == "processed"
    assert [j.record_id for j in kit.jobs_for("order")] == ["727"]


# -- bursts: one run takes many deliveries, two runs never share one ------------------------------------


def _store_orders(kit, storefront_dir, count: int) -> list[int]:
    """Store ``count`` signed order deliveries (orders 1000, 1001, ...) without announcing them."""
    return [kit.store_woo(_payload(storefront_dir, "woocommerce", "order.json", id=1000 + n,
                                   number=str(1000 + n)), delivery_id=str(5000 + n))
            for n in range(count)]


def test_two_runs_at_once_process_every_delivery_exactly_once(runtime, woo, kit, storefront_dir):
    from concurrent.futures import ThreadPoolExecutor

    ids = _store_orders(kit, storefront_dir, 40)
    with ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(processing.process_new, runtime.db, 1000) for _ in range(2)]
        done = [run.result() for run in runs]

    assert sum(done) == 40
    deliveries = kit.deliveries()
    assert [d.id for d in deliveries] == ids
    assert {(d.state, d.attempts) for d in deliveries} == {("processed", 1)}
    assert sorted(int(j.record_id) for j in kit.jobs_for("order")) == list(range(1000, 1040))


def test_a_run_stops_at_its_limit_and_leaves_the_rest_for_the_next(runtime, woo, kit, storefront_dir):
    ids = _store_orders(kit, storefront_dir, 7)
    assert processing.process_new(runtime.db, limit=5) == 5
    states = [kit.delivery(i).state for i in ids]
    assert states == ["processed"] * 5 + ["stored"] * 2  # oldest first
    assert processing.process_new(runtime.db, limit=5) == 2
    assert processing.process_new(runtime.db, limit=5) == 0


def test_a_burst_through_the_receiver_is_processed_in_process(client, woo, kit, storefront_dir):
    for n in range(25):
        payload = _payload(storefront_dir, "woocommerce", "order.json", id=2000 + n, number=str(2000 + n))
        assert _post_woo(client, kit, payload, "order.created").status_code == 200
    kit.finish_background()
    assert {(d.state, d.attempts) for d in kit.deliveries()} == {("processed", 1)}
    assert len(kit.jobs_for("order")) == 25


def test_a_delivery_claimed_by_a_run_that_died_is_retried_by_the_scheduler(runtime, woo, kit, storefront_dir):
    (delivery_id,) = _store_orders(kit, storefront_dir, 1)
    # The run claimed it (counting the attempt) and its worker was killed before the commit of the work.
    with runtime.db.transaction() as session:
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                        .values(attempts=1))
    assert processing.process_new(runtime.db, limit=10) == 0  # not new any more: runs leave it alone
    received = kit.delivery(delivery_id).received_at
    assert redispatch_stored(runtime, now=received + timedelta(seconds=31)) == 0  # backing off
    assert redispatch_stored(runtime, now=received + timedelta(seconds=61)) == 1
    kit.finish_background()
    again = kit.delivery(delivery_id)
    assert (again.state, again.attempts) == ("processed", 2)
    assert [j.record_id for j in kit.jobs_for("order")] == ["1000"]


RUNS: list[str] = []


def record_run(name: str) -> None:
    """A background job for the test below: remembers that it ran."""
    RUNS.append(name)


def test_a_run_that_died_before_starting_does_not_block_the_next(config):
    dispatcher = Dispatcher(config)
    try:
        # The job cannot even be imported, so it never calls started(): its mark must still go.
        dispatcher.submit_once("qbsync.no_such_module:run", key="k")
        dispatcher.shutdown(wait=True)
        dispatcher.submit_once("tests.webhooks.test_processing:record_run", "second", key="k")
        dispatcher.shutdown(wait=True)
    finally:
        dispatcher.shutdown(wait=True)
    assert RUNS == ["second"]


def test_a_failed_delivery_is_listed_with_its_error_and_a_person_can_process_it_again(
        client, runtime, woo, kit, storefront_dir, monkeypatch):
    from qbsync.passwords import hash_password
    from qbsync.storage.models import User
    from tests.pages.conftest import ADMIN, ADMIN_PASSWORD, post, text_of

    def queue_unavailable(*args, **kwargs):
        raise RuntimeError("queue table locked")

    monkeypatch.setattr(processing, "record_changed", queue_unavailable)
    _post_woo(client, kit, _payload(storefront_dir, "woocommerce", "order.json"))
    kit.finish_background()
    monkeypatch.undo()
    with runtime.db.transaction() as session:
        session.add(User(username=ADMIN, password_hash=hash_password(ADMIN_PASSWORD)))
    post(client, "/login", {"username": ADMIN, "password": ADMIN_PASSWORD})

    page = text_of(client.get("/deliveries"))  # failed or invalid: what needs a look
    assert "order.updated order 727 failed RuntimeError: queue table locked" in page
    post(client, "/deliveries/retry", {"all_failed": "1"})
    kit.finish_background()
    (delivery,) = kit.deliveries()
    assert delivery.state == "processed" and delivery.error is None
    assert [job.record_id for job in kit.jobs_for("order")] == ["727"]
    assert "No deliveries match." in text_of(client.get("/deliveries"))
    assert "order.updated order 727 processed" in text_of(client.get("/deliveries?show=all"))
