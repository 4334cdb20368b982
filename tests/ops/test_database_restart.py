"""PostgreSQL restarted in the middle of a webhook burst: no delivery is answered 200 and then lost.

Every delivery is either stored (and then processed) or refused with a 5xx the platform retries. Shopify
retries 5xx, so re-sending the refused ones completes the set; WooCommerce does not, so the missed-webhook
sweep must find those records in the store instead. The restart uses ``pg_ctlcluster`` on the cluster that
serves QBSYNC_TEST_DATABASE_URL (the CI leg runs as root).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from qbsync.simulator.storefront_data import make_orders
from qbsync.storage.models import QueueJob, StorefrontRecord, WebhookDelivery, utcnow
from qbsync.webhooks.processing import redispatch_stored
from tests.ops.processes import WEBHOOK_SECRET, delivery_states, shopify_delivery, wait_until, woo_delivery

# servers_alone: the restart drops every connection to the cluster, so .ci/run runs this module while no
# other test process uses PostgreSQL.
pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.servers_alone]

SHOP_DOMAIN = "ops-shop.myshopify.com"
BURST_ORDERS = 400  # an upper bound: the burst stops a second after the restart is over
PACE_SECONDS = 0.004


@pytest.fixture
def postgres_cluster(pg_database_url: str) -> tuple[str, str]:
    """(version, name) of the local cluster serving the test database."""
    if shutil.which("pg_ctlcluster") is None or os.geteuid() != 0:
        message = "restarting PostgreSQL needs pg_ctlcluster and root (as on the CI leg)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    url = make_url(pg_database_url)
    if url.host not in ("127.0.0.1", "localhost"):
        pytest.fail(f"the operations tests only talk to 127.0.0.1, not {url.host}")
    listed = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True)
    for line in listed.stdout.splitlines():
        version, name, port, *_ = line.split()
        if int(port) == (url.port or 5432):
            return version, name
    pytest.fail(f"no local PostgreSQL cluster listens on port {url.port or 5432}")


def _restart(cluster: tuple[str, str]) -> None:
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, "restart"], check=True,
                   capture_output=True, timeout=90)


def _burst(url: str, deliveries: list[tuple[bytes, dict[str, str]]], cluster: tuple[str, str]) -> list:
    """Send ``deliveries`` one after another while PostgreSQL restarts; the answer (or error) of each."""
    answers: list = []
    restarted_at: list[float] = []

    def send() -> None:
        with httpx.Client(timeout=15) as client:
            for body, headers in deliveries:
                if restarted_at and time.monotonic() > restarted_at[0] + 1.0:
                    break
                try:
                    answers.append(client.post(url, content=body, headers=headers))
                except httpx.HTTPError as exc:  # the platform sees a failed delivery and (maybe) retries
                    answers.append(exc)
                time.sleep(PACE_SECONDS)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    wait_until(lambda: len(answers) >= 20, 30, "the burst to start")
    _restart(cluster)
    restarted_at.append(time.monotonic())
    sender.join(timeout=120)
    assert not sender.is_alive()
    return answers


def _outcomes(answers: list) -> tuple[list[int], list[int]]:
    """Indexes answered 200 and indexes refused (5xx or no answer); fails on anything else."""
    ok, refused = [], []
    for index, answer in enumerate(answers):
        if isinstance(answer, Exception) or answer.status_code >= 500:
            refused.append(index)
        else:
            assert answer.status_code == 200, f"delivery {index}: {answer.status_code} {answer.text}"
            ok.append(index)
    return ok, refused


def _process_everything(runtime) -> None:
    """What the scheduler does every 30 s, with its clock moved on, until nothing is left behind."""
    for _ in range(5):
        if set(delivery_states(runtime)) <= {"processed"}:
            return
        redispatch_stored(runtime, now=utcnow() + timedelta(hours=2))
        runtime.dispatcher.shutdown(wait=True)


def _stored_order_ids(runtime, connection_id: int) -> set[str]:
    with runtime.db.transaction() as session:
        return set(session.scalars(select(StorefrontRecord.record_id).where(
            StorefrontRecord.connection_id == connection_id, StorefrontRecord.record_type == "order")))


def _queued_orders(runtime, connection_id: int) -> list[str]:
    with runtime.db.transaction() as session:
        return list(session.scalars(select(QueueJob.record_id).where(
            QueueJob.connection_id == connection_id, QueueJob.kind == "order")))


def test_shopify_burst_across_a_restart_every_delivery_is_stored_once_or_retried(
        spawn, runtime, make_connection, postgres_cluster):
    conn = make_connection("shop", platform="shopify", webhook_secret=WEBHOOK_SECRET,
                           store_url=f"https://{SHOP_DOMAIN}")
    web = spawn.serve()
    orders = make_orders(BURST_ORDERS, "shopify", seed=31)
    deliveries = [shopify_delivery(order, f"evt-{n}", SHOP_DOMAIN) for n, order in enumerate(orders)]
    url = f"{web.url}/webhooks/shopify/shop"

    answers = _burst(url, deliveries, postgres_cluster)
    ok, refused = _outcomes(answers)
    assert ok and refused, "the restart should have refused some deliveries and accepted others"
    with runtime.db.transaction() as session:
        stored = {d.id for d in session.scalars(select(WebhookDelivery))}
    assert {answers[i].json()["delivery"] for i in ok} <= stored  # every 200 was stored

    # Shopify retries what was refused (same event id): now each is accepted, none stored twice.
    wait_until(lambda: httpx.get(f"{web.url}/healthz", timeout=5).status_code == 200, 30,
               "the service to reach the database again")
    with httpx.Client(timeout=15) as client:
        for index in refused:
            body, headers = deliveries[index]
            retry = client.post(url, content=body, headers=headers)
            assert retry.status_code == 200, retry.text
    sent = {str(orders[i]["id"]) for i in range(len(answers))}
    with runtime.db.transaction() as session:
        assert len(session.scalars(select(WebhookDelivery.id)).all()) == len(answers)

    _process_everything(runtime)
    assert delivery_states(runtime) == {"processed": len(answers)}
    assert _stored_order_ids(runtime, conn.id) == sent
    queued = _queued_orders(runtime, conn.id)
    assert queued and len(queued) == len(set(queued)) and set(queued) <= sent


def test_woocommerce_burst_across_a_restart_the_sweep_finds_what_was_refused(
        spawn, runtime, make_connection, postgres_cluster):
    from qbsync.simulator.storefront import StorefrontDouble
    from qbsync.storefronts.sweep import sweep_connection

    # Changed within the last hours: the first sweep looks back a day.
    now = utcnow()
    orders = make_orders(BURST_ORDERS, "woocommerce", seed=32, start=now - timedelta(hours=6),
                         end=now - timedelta(minutes=10))
    with StorefrontDouble() as store:
        store.add_orders(orders, platform="woocommerce")
        conn = make_connection("woo", platform="woocommerce", webhook_secret=WEBHOOK_SECRET,
                               store_url=store.base_url,
                               api_credentials={"consumer_key": store.consumer_key,
                                                "consumer_secret": store.consumer_secret})
        web = spawn.serve()
        deliveries = [woo_delivery(order, f"woo-{n}") for n, order in enumerate(orders)]
        answers = _burst(f"{web.url}/webhooks/woocommerce/woo", deliveries, postgres_cluster)
        ok, refused = _outcomes(answers)
        assert ok and refused, "the restart should have refused some deliveries and accepted others"
        wait_until(lambda: httpx.get(f"{web.url}/healthz", timeout=5).status_code == 200, 30,
                   "the service to reach the database again")
        _process_everything(runtime)
        missing = {str(orders[i]["id"]) for i in refused}
        assert missing.isdisjoint(_stored_order_ids(runtime, conn.id))  # WooCommerce never retries them

        swept = sweep_connection(runtime, conn.id)
        assert swept.error is None, swept.error
        runtime.dispatcher.shutdown(wait=True)

    assert delivery_states(runtime) == {"processed": len(ok)}
    assert {str(orders[i]["id"]) for i in range(len(answers))} <= _stored_order_ids(runtime, conn.id)
    queued = _queued_orders(runtime, conn.id)
    assert missing & set(queued) and len(queued) == len(set(queued))
