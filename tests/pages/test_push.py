"""Push: count, start, watch progress, history — against the real backfill and the storefront double."""

from __future__ import annotations

import sys
import time
from datetime import datetime

import pytest
from sqlalchemy import select

from qbsync.service.pages import push as push_pages
from qbsync.simulator.storefront import StorefrontDouble, make_orders
from qbsync.storage.models import PushRun
from tests.pages.conftest import post, text_of


@pytest.fixture
def store():
    """A WooCommerce store with 30 orders: 10 in each of January, February and March 2024."""
    double = StorefrontDouble()
    double.add_orders(make_orders(30, "woocommerce", start=datetime(2024, 1, 1), end=datetime(2024, 4, 1)))
    with double:
        yield double


@pytest.fixture
def store_conn(make_connection, store):
    return make_connection("shop", store_url=store.base_url,
                           api_credentials={"consumer_key": store.consumer_key,
                                            "consumer_secret": store.consumer_secret})


def wait_until_finished(runtime, run_id: int, seconds: float = 20.0) -> PushRun:
    deadline = time.monotonic() + seconds
    while True:
        with runtime.db.transaction() as session:
            run = session.get(PushRun, run_id)
        if run.state in ("done", "failed") or time.monotonic() > deadline:
            return run
        time.sleep(0.05)


def test_count_says_how_many_orders_match(signed_in, store_conn, store):
    everything = post(signed_in, "/push", {"connection": "shop", "record_type": "order", "action": "count"})
    assert everything.status_code == 200
    assert "30 orders match." in text_of(everything)
    january = post(signed_in, "/push", {"connection": "shop", "record_type": "order", "action": "count",
                                        "date_from": "2024-01-01", "date_to": "2024-01-31"})
    expected = sum(1 for o in store.orders("woocommerce") if o["date_created_gmt"].startswith("2024-01"))
    assert 0 < expected < 30
    assert f"{expected} orders match." in text_of(january)
    picked = post(signed_in, "/push", {"connection": "shop", "record_type": "order", "action": "count",
                                       "ids": "#1001, 1002\n1003"})
    assert "3 orders match." in text_of(picked)


def test_push_runs_in_the_background_and_its_progress_reaches_100(signed_in, store_conn, runtime):
    response = post(signed_in, "/push", {"connection": "shop", "record_type": "order", "action": "push",
                                         "ids": "1001 1002 1003 1004"})
    assert response.status_code == 302
    run_id = int(response.headers["Location"].rsplit("/", 1)[1])
    run = wait_until_finished(runtime, run_id)
    assert run.state == "done", run.error
    progress = signed_in.get(f"/push/{run_id}/progress.json").get_json()
    assert progress["percent"] == 100 and progress["finished"] is True
    assert progress["read"] == 4
    assert progress["queued"] + progress["already_synced"] + progress["skipped"] == 4
    page = text_of(signed_in.get(f"/push/{run_id}"))
    assert "100 %" in page or "100%" in page
    assert "ids 1001, 1002, 1003, 1004" in page
    history = text_of(signed_in.get("/push"))
    assert f"{run_id} shop Orders done 100%" in history


def test_bad_filters_are_shown_next_to_their_fields(signed_in, store_conn, runtime):
    response = post(signed_in, "/push", {"connection": "shop", "record_type": "order", "action": "push",
                                         "date_from": "2024-02-30", "date_to": "2024-01-01",
                                         "status": "lost"})
    assert response.status_code == 400
    page = text_of(response)
    assert "Enter the date as YYYY-MM-DD, not '2024-02-30'." in page
    assert "Unknown order status lost." in page
    with runtime.db.transaction() as session:
        assert session.scalars(select(PushRun)).all() == []


def test_a_store_that_refuses_the_key_is_explained(signed_in, make_connection, store):
    make_connection("shop", store_url=store.base_url,
                    api_credentials={"consumer_key": "ck_wrong", "consumer_secret": "cs_wrong"})
    response = post(signed_in, "/push", {"connection": "shop", "record_type": "customer", "action": "count"})
    assert response.status_code == 400
    assert "The storefront could not be read:" in text_of(response)


def test_without_the_backfill_service_the_page_says_so(signed_in, conn, monkeypatch):
    monkeypatch.setitem(sys.modules, push_pages.BACKFILL_MODULE, None)
    page = text_of(signed_in.get("/push"))
    assert ("Push is not available yet: the backfill service (qbsync.storefronts.backfill) is not "
            "installed.") in page
    refused = post(signed_in, "/push", {"connection": "shop", "record_type": "order", "action": "count"})
    assert refused.status_code == 400
    assert "Push is not available: the backfill service" in text_of(refused)


def test_a_range_to_the_calendars_last_day_counts_everything_after_the_start(signed_in, store_conn):
    found = post(signed_in, "/push", {"connection": "shop", "record_type": "order", "action": "count",
                                      "date_from": "2024-01-01", "date_to": "9999-12-31"})
    assert found.status_code == 200
    assert "30 orders match." in text_of(found)


def test_an_unknown_push_is_a_404(signed_in):
    assert signed_in.get("/push/" + "9" * 30).status_code == 404
    assert signed_in.get("/push/12345").status_code == 404
    assert signed_in.get("/push/12345/progress.json").status_code == 404
