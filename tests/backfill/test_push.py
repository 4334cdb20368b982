"""Push (the backfill) against the storefront double over real HTTP: what gets queued, idempotency,
counting with filters, resuming an interrupted run, and bad credentials."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from qbsync.simulator.storefront import make_customers, make_orders, make_products
from qbsync.storage.models import IdMapping, PushRun, utcnow
from qbsync.storefronts import backfill
from qbsync.storefronts.clients import MissingCredentials

SYNCED = ("processing", "completed")  # the default sync_order_statuses


def _synced_ids(orders: list[dict]) -> set[str]:
    """Orders the default settings bring into QuickBooks: a synced status and a total above zero."""
    return {str(o["id"]) for o in orders if o["status"] in SYNCED and Decimal(str(o["total"])) != 0}


def _pages_read(double) -> list[str]:
    """The WooCommerce order pages the push asked for, in order (the count asks for pages of 1)."""
    return [r.params["page"] for r in double.requests_to("/orders", "GET")
            if r.params.get("per_page") == "100"]


@pytest.mark.slow
@pytest.mark.volume
def test_pushing_orders_twice_queues_each_once_and_counts_what_is_already_in_quickbooks(
        runtime, double, store, reads):
    n = 2500  # "a few thousand"
    double.add_orders(make_orders(n, "woocommerce"), "woocommerce")
    conn = store("woocommerce")
    raw = double.orders("woocommerce")

    first = backfill.start_push(runtime, conn, "orders", {}, dispatch=False)
    assert backfill.run_push(first.id) == "done"
    run = reads.run(first.id)
    order_jobs = reads.jobs("order")
    assert {j.record_id for j in order_jobs} == _synced_ids(raw)
    queued = len(order_jobs)
    assert (run.read, run.queued, run.already_synced, run.skipped) == (n, queued, 0, n - queued)
    assert run.total == n and run.error is None and run.finished_at is not None
    stored = reads.records("order")
    assert len(stored) == n and {r.source for r in stored.values()} == {"push"}
    # Pages were read oldest first, one request per 100 orders (plus one to count).
    assert _pages_read(double) == [str(page) for page in range(1, n // 100 + 1)]

    # Five orders reach QuickBooks; one still queued is edited in the store.
    in_quickbooks = sorted(order_jobs, key=lambda j: j.id)[:5]
    edited = order_jobs[10]
    with runtime.db.transaction() as session:
        for job in in_quickbooks:
            session.add(IdMapping(connection_id=conn.id, record_type="order", storefront_id=job.record_id,
                                  qb_type="SalesReceipt", qb_id=f"TXN-{job.record_id}"))
    double.update_order(int(edited.record_id), {"customer_note": "leave at the door"}, platform="woocommerce",
                        modified_at=datetime(2026, 1, 5, 12, 0))
    jobs_before = reads.job_count()

    second = backfill.start_push(runtime, conn, "orders", {}, dispatch=False)
    assert backfill.run_push(second.id) == "done"
    again = reads.run(second.id)
    assert (again.read, again.queued, again.already_synced, again.skipped) == (n, 0, 5, n - 5)
    assert reads.job_count() == jobs_before
    refreshed = reads.job(edited.id)
    assert refreshed.state in ("pending", "waiting")
    assert refreshed.payload["record"]["modified_at"].startswith("2026-01-05T12:00")


def test_count_matching_applies_dates_statuses_and_ids(runtime, double, store):
    orders = make_orders(300, "woocommerce", start=datetime(2024, 1, 1), end=datetime(2024, 12, 31))
    double.add_orders(orders, "woocommerce")
    conn = store("woocommerce")

    def count(**filters):
        return backfill.count_matching(runtime, conn, "orders", filters)

    created = [datetime.fromisoformat(o["date_created_gmt"]) for o in orders]
    in_march = sum(1 for c in created if datetime(2024, 3, 1) <= c < datetime(2024, 4, 1))
    completed = sum(1 for o in orders if o["status"] == "completed")
    on_hold = sum(1 for o in orders if o["status"] == "on-hold")
    assert count() == 300
    assert count(date_from="2024-03-01", date_to="2024-03-31") == in_march > 0
    assert count(statuses=["completed", "on_hold"]) == completed + on_hold > 0
    assert count(ids="#1005, 1010 1010") == 2
    with pytest.raises(ValueError, match="not one of|unknown order status"):
        count(statuses=["shipped"])
    with pytest.raises(ValueError, match="end date is before the start date"):
        count(date_from="2024-05-01", date_to="2024-04-01")


def test_count_matching_on_shopify_finds_orders_by_number_and_status(runtime, double, store):
    orders = make_orders(300, "shopify")
    double.add_orders(orders, "shopify")
    conn = store("shopify")
    paid = sum(1 for o in orders if o["financial_status"] == "paid" and not o.get("cancelled_at")
               and o.get("fulfillment_status") != "fulfilled")
    assert backfill.count_matching(runtime, conn, "orders", {}) == 300
    assert backfill.count_matching(runtime, conn, "orders", {"ids": ["#1001", str(orders[5]["id"])]}) == 2
    assert backfill.count_matching(runtime, conn, "orders", {"statuses": ["processing"]}) >= paid > 0


def test_customers_and_products_are_pushed_with_their_own_keys(runtime, double, store, reads):
    double.add_customers(make_customers(40, "shopify"), "shopify")
    double.add_products(make_products("shopify"), "shopify")
    conn = store("shopify")
    variants = sum(len(p["variants"]) for p in make_products("shopify"))
    assert backfill.count_matching(runtime, conn, "products", {}) == variants
    assert backfill.count_matching(runtime, conn, "customers", {"ids": ["6200000003"]}) == 1

    for record_type, expected in (("customers", 40), ("products", variants)):
        run = backfill.start_push(runtime, conn, record_type, {}, dispatch=False)
        assert backfill.run_push(run.id) == "done"
        done = reads.run(run.id)
        assert (done.read, done.queued) == (expected, expected), record_type
    assert len(reads.jobs("customer")) == 40 and len(reads.jobs("item")) == variants
    products = reads.records("product")
    assert all(row.data["inventory_item_id"] for row in products.values())


def test_an_interrupted_push_resumes_at_the_page_it_was_on_without_duplicates(
        runtime, double, store, reads, monkeypatch):
    double.add_orders(make_orders(450, "woocommerce"), "woocommerce")
    conn = store("woocommerce")
    run = backfill.start_push(runtime, conn, "orders", {}, dispatch=False)

    class Crash(BaseException):
        """The worker process dies (nothing catches this)."""

    real_page = backfill.push_page
    calls = []

    def dying_page(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise Crash
        return real_page(*args, **kwargs)

    monkeypatch.setattr(backfill, "push_page", dying_page)
    with pytest.raises(Crash):
        backfill.run_push(run.id)
    monkeypatch.setattr(backfill, "push_page", real_page)
    cut_short = reads.run(run.id)
    assert cut_short.state == "running" and cut_short.read == 200 and cut_short.cursor["page"] == 3
    queued_before = cut_short.queued

    # A live run is left alone; once silent for long enough it is resumed in the background.
    assert backfill.resume_pushes(runtime) == []
    assert backfill.resume_pushes(runtime, utcnow() + backfill.STALE_AFTER + timedelta(seconds=1)) == [run.id]
    runtime.dispatcher.shutdown(wait=True)

    finished = reads.run(run.id)
    assert finished.state == "done" and finished.read == 450
    order_jobs = reads.jobs("order")
    assert len({j.coalesce_key for j in order_jobs}) == len(order_jobs) == finished.queued > queued_before
    assert {j.record_id for j in order_jobs} == _synced_ids(double.orders("woocommerce"))
    assert _pages_read(double) == ["1", "2", "3", "3", "4", "5"]


def test_a_shopify_push_resumes_from_its_page_info_cursor(runtime, double, store, reads, monkeypatch):
    double.add_orders(make_orders(300, "shopify"), "shopify")
    conn = store("shopify")
    run = backfill.start_push(runtime, conn, "orders", {"date_from": "2024-01-01"}, dispatch=False)
    real_page = backfill.push_page
    calls = []

    class Crash(BaseException):
        pass

    def dying_page(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise Crash
        return real_page(*args, **kwargs)

    monkeypatch.setattr(backfill, "push_page", dying_page)
    with pytest.raises(Crash):
        backfill.run_push(run.id)
    monkeypatch.setattr(backfill, "push_page", real_page)
    assert reads.run(run.id).cursor["page_info"]
    with runtime.db.transaction() as session:
        session.get(PushRun, run.id).updated_at = utcnow() - backfill.STALE_AFTER * 2
    assert backfill.run_push(run.id) == "done"
    finished = reads.run(run.id)
    assert finished.read == 300 and len(reads.records("order")) == 300
    assert len(reads.jobs("order")) == finished.queued
    # The first page was not read again: the resumed run started at the saved cursor.
    cursors = [r.params.get("page_info") for r in double.requests_to("/orders.json", "GET")]
    assert len(cursors) == 3 and cursors[0] is None and cursors[1] == cursors[2] is not None


def test_start_push_runs_in_the_background_and_the_page_can_show_its_filters(runtime, double, store, reads):
    double.add_orders(make_orders(120, "woocommerce"), "woocommerce")
    conn = store("woocommerce")
    run = backfill.start_push(runtime, conn, "order", {"date_from": "2024-01-01", "date_to": "2025-12-31",
                                                        "statuses": ["completed"], "ids": []})
    runtime.dispatcher.shutdown(wait=True)
    done = reads.run(run.id)
    assert done.state == "done" and done.record_type == "order"
    assert done.filters == {"date_from": "2024-01-01", "date_to": "2025-12-31", "statuses": ["completed"]}
    completed = [o for o in double.orders("woocommerce") if o["status"] == "completed"]
    assert done.read == done.total == len(completed)


def test_missing_credentials_are_refused_before_anything_is_stored(runtime, double, store):
    conn = store("woocommerce", credentials={})
    with pytest.raises(MissingCredentials, match="add a consumer key and secret on the connection page"):
        backfill.start_push(runtime, conn, "orders", {})
    with pytest.raises(MissingCredentials, match="add a consumer key and secret"):
        backfill.count_matching(runtime, conn, "orders", {})
    with runtime.db.transaction() as session:
        assert session.scalars(select(PushRun)).all() == []


@pytest.mark.parametrize("platform", ["woocommerce", "shopify"])
def test_refused_credentials_fail_the_run_with_the_fix(runtime, double, store, reads, platform):
    double.add_orders(make_orders(10, platform), platform)
    wrong = ({"consumer_key": double.consumer_key, "consumer_secret": "cs_wrong"} if platform == "woocommerce"
             else {"access_token": "shpat_wrong"})
    conn = store(platform, credentials=wrong)
    run = backfill.start_push(runtime, conn, "orders", {}, dispatch=False)
    assert backfill.run_push(run.id) == "failed"
    failed = reads.run(run.id)
    assert failed.finished_at is not None and failed.read == 0
    assert "connection page" in failed.error
    assert ("refused the consumer key/secret" in failed.error if platform == "woocommerce"
            else "refused the access token" in failed.error)
    assert reads.job_count() == 0


def test_an_unreachable_store_pauses_the_push_and_it_resumes_later(runtime, double, store, reads,
                                                                   monkeypatch):
    from qbsync.storefronts.http import RetryPolicy

    double.add_orders(make_orders(150, "woocommerce"), "woocommerce")
    conn = store("woocommerce")
    real_client_for = backfill.client_for
    monkeypatch.setattr(backfill, "client_for",
                        lambda c, **options: real_client_for(c, retry=RetryPolicy(attempts=1), **options))
    run = backfill.start_push(runtime, conn, "orders", {}, dispatch=False)
    double.fail_next(1, 503)
    assert backfill.run_push(run.id) == "pending"
    paused = reads.run(run.id)
    assert "paused" in paused.error and "try 1 of" in paused.error
    assert backfill.resume_pushes(runtime, utcnow() + backfill.RETRY_AFTER + timedelta(seconds=1)) == [run.id]
    runtime.dispatcher.shutdown(wait=True)
    assert reads.run(run.id).state == "done" and reads.run(run.id).read == 150


def test_bad_filters_are_refused_with_a_reason(runtime, double, store):
    conn = store("woocommerce")
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        backfill.start_push(runtime, conn, "orders", {"date_from": "01/02/2024"})
    with pytest.raises(ValueError, match="orders only"):
        backfill.start_push(runtime, conn, "customers", {"statuses": ["completed"]})
    with pytest.raises(ValueError, match="unknown push filter"):
        backfill.start_push(runtime, conn, "orders", {"colour": "red"})
    with pytest.raises(ValueError, match="orders, customers or products"):
        backfill.start_push(runtime, conn, "coupons", {})
    with pytest.raises(ValueError, match="whole numbers"):
        backfill.count_matching(runtime, conn, "orders", {"ids": ["abc"]})


def test_an_order_queued_by_another_process_during_a_page_is_queued_once(runtime, double, store, reads,
                                                                         monkeypatch):
    """A page is queued in one insert batch; when another process queued one of its orders after the
    page's look-up, the unique open-job index refuses the batch and the page is redone one order at a time,
    folding into that job."""
    from qbsync.queue import intake, jobs

    double.add_orders(make_orders(40, "woocommerce"), "woocommerce")
    conn = store("woocommerce")
    synced = sorted(_synced_ids(double.orders("woocommerce")), key=int)
    raced = synced[len(synced) // 2]
    with runtime.db.transaction() as session:
        theirs = jobs.enqueue(session, conn.id, "order", {"record": {}}, record_type="order",
                              record_id=raced, coalesce_key=intake.coalesce_key("order", raced), priority=50)
    preload = intake._preload_orders

    def preload_missing_theirs(session, connection, datas):
        # As if the other process committed its job just after this look-up.
        preload(session, connection, datas)
        session.info[intake._ACTIVE_KEYS].discard(intake.coalesce_key("order", raced))
        session.info[intake._JOBS_SEEN].pop((conn.id, intake.coalesce_key("order", raced)), None)

    calls = []
    one = intake.record_changed
    monkeypatch.setattr(intake, "_preload_orders", preload_missing_theirs)
    monkeypatch.setattr(intake, "record_changed", lambda *a, **k: calls.append(a[3]) or one(*a, **k))

    push = backfill.start_push(runtime, conn, "orders", {}, dispatch=False)
    assert backfill.run_push(push.id) == "done"
    # The batch up to the refused insert, then the whole page again one order at a time.
    assert 40 < len(calls) < 2 * 40
    assert [c.to_dict()["storefront_id"] for c in calls[-40:]] == [str(o["id"]) for o in
                                                                   double.orders("woocommerce")]
    run = reads.run(push.id)
    order_jobs = reads.jobs("order")
    assert sorted((j.record_id for j in order_jobs), key=int) == synced  # one job per order
    assert (run.read, run.queued, run.skipped) == (40, len(synced) - 1, 40 - len(synced) + 1)
    folded = reads.job(theirs.id)
    assert folded.payload["record"]["storefront_id"] == raced
