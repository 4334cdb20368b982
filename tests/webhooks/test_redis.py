"""With real Redis (the CI leg that sets QBSYNC_TEST_REDIS_URL): deliveries go through rq and a worker."""

from __future__ import annotations

import dataclasses
import json
import uuid

import pytest

from qbsync.service.background import Dispatcher
from qbsync.service.runtime import Runtime, install
from qbsync.webhooks.processing import NEW_DELIVERIES_JOB

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_runtime(redis_url, db, config, runtime):
    """A runtime that queues background work on its own rq queue in the real Redis.

    Installed after the default ``runtime`` fixture (which the connection fixtures use), so the jobs an
    rq worker runs in this process see this one, as a worker started from the environment would.
    """
    from redis import Redis
    from rq import Queue

    queue_name = f"qbsync-test-{uuid.uuid4().hex[:8]}"
    cfg = dataclasses.replace(config, redis_url=redis_url, rq_queue_name=queue_name)
    with_redis = Runtime(config=cfg, db=db, dispatcher=Dispatcher(cfg))
    install(with_redis)
    queue = Queue(cfg.rq_queue_name, connection=Redis.from_url(redis_url))
    yield with_redis, queue
    queue.delete(delete_jobs=True)
    for key in queue.connection.scan_iter(f"{queue_name}:*"):
        queue.connection.delete(key)


def test_delivery_is_queued_on_rq_and_processed_by_a_worker(redis_runtime, woo, kit, storefront_dir):
    from rq import SimpleWorker

    from qbsync.service.app import create_app

    runtime, queue = redis_runtime
    client = create_app(runtime=runtime).test_client()
    body = kit.compact(json.loads((storefront_dir / "woocommerce" / "order.json").read_text()))
    response = client.post("/webhooks/woocommerce/woo", data=body, headers=kit.woo_headers(body))
    assert response.status_code == 200

    (delivery,) = kit.deliveries()
    assert delivery.state == "stored"  # waiting for a worker
    (job,) = queue.get_jobs()
    assert job.args == (NEW_DELIVERIES_JOB,)

    SimpleWorker([queue], connection=queue.connection).work(burst=True)

    assert queue.count == 0
    assert kit.delivery(delivery.id).state == "processed"
    (queued,) = kit.jobs_for("order")
    assert queued.record_id == "727"


def test_a_burst_queues_one_run_and_a_worker_processes_it_all(redis_runtime, woo, kit, storefront_dir):
    from rq import SimpleWorker

    from qbsync.service.app import create_app

    runtime, queue = redis_runtime
    client = create_app(runtime=runtime).test_client()
    order = json.loads((storefront_dir / "woocommerce" / "order.json").read_text())
    for n in range(30):
        body = kit.compact({**order, "id": 3000 + n, "number": str(3000 + n)})
        assert client.post("/webhooks/woocommerce/woo", data=body,
                           headers=kit.woo_headers(body, topic="order.created")).status_code == 200
    assert queue.count == 1  # thirty deliveries, one queued run

    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert {(d.state, d.attempts) for d in kit.deliveries()} == {("processed", 1)}
    assert len(kit.jobs_for("order")) == 30

    # The run has started (and finished): the next delivery queues a new one.
    body = kit.compact({**order, "id": 3100, "number": "3100"})
    response = client.post("/webhooks/woocommerce/woo", data=body,
                           headers=kit.woo_headers(body, topic="order.created"))
    assert response.get_json()["status"] == "stored"
    assert queue.count == 1
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert [j.record_id for j in kit.jobs_for("order")][-1] == "3100"
