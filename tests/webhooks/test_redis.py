"""With real Redis (the CI leg that sets QBSYNC_TEST_REDIS_URL): deliveries go through rq and a worker."""

from __future__ import annotations

import dataclasses
import json
import uuid

import pytest

from qbsync.service.background import Dispatcher
from qbsync.service.runtime import Runtime, install
from qbsync.webhooks.processing import PROCESS_JOB

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_runtime(redis_url, db, config):
    """A runtime that queues background work on its own rq queue in the real Redis."""
    from redis import Redis
    from rq import Queue

    queue_name = f"qbsync-test-{uuid.uuid4().hex[:8]}"
    cfg = dataclasses.replace(config, redis_url=redis_url, rq_queue_name=queue_name)
    runtime = Runtime(config=cfg, db=db, dispatcher=Dispatcher(cfg))
    install(runtime)
    queue = Queue(cfg.rq_queue_name, connection=Redis.from_url(redis_url))
    yield runtime, queue
    queue.delete(delete_jobs=True)


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
    assert job.args == (PROCESS_JOB, delivery.id)

    SimpleWorker([queue], connection=queue.connection).work(burst=True)

    assert queue.count == 0
    assert kit.delivery(delivery.id).state == "processed"
    (queued,) = kit.jobs_for("order")
    assert queued.record_id == "727"
