"""Background work survives its infrastructure failing: a worker killed mid-job, Redis unreachable.

Real subprocesses (``qbsync worker``, ``qbsync serve``) on the real PostgreSQL and Redis of the CI leg.
"""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, text

from qbsync.service.app import create_app
from qbsync.service.background import Dispatcher
from qbsync.service.runtime import Runtime
from qbsync.simulator.storefront_data import make_orders
from qbsync.storage.models import QueueJob, StorefrontRecord, WebhookDelivery, utcnow
from qbsync.webhooks.processing import PROCESS_JOB, redispatch_stored
from tests.ops.processes import WEBHOOK_SECRET, delivery_states, free_port, wait_until, woo_delivery

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

# The scheduler's clock, moved past every re-dispatch delay (it runs every 30 s in production).
LATER = timedelta(minutes=30)


def _redis_runtime(runtime, spawner) -> Runtime:
    """A runtime in this test process that queues background work on the spawned workers' rq queue."""
    cfg = dataclasses.replace(runtime.config, redis_url=spawner.redis_url, rq_queue_name=spawner.rq_queue)
    return Runtime(config=cfg, db=runtime.db, dispatcher=Dispatcher(cfg))


def _order_jobs(runtime, connection_id: int) -> list[tuple[str, str]]:
    with runtime.db.transaction() as session:
        return list(session.execute(
            select(QueueJob.record_id, QueueJob.state).where(QueueJob.connection_id == connection_id,
                                                             QueueJob.kind == "order")
            .order_by(QueueJob.record_id)).all())


def _stored_orders(runtime) -> list[str]:
    with runtime.db.transaction() as session:
        return sorted(session.scalars(select(StorefrontRecord.record_id).where(
            StorefrontRecord.record_type == "order")))


@pytest.mark.slow
def test_a_worker_killed_mid_job_is_re_run_and_its_effect_lands_once(spawn_redis, runtime, make_connection):
    conn = make_connection("shop", webhook_secret=WEBHOOK_SECRET)
    order = make_orders(1, "woocommerce", seed=11)[0]
    order_id = str(order["id"])
    redis_runtime = _redis_runtime(runtime, spawn_redis)
    # An older copy of the order, whose row the test locks: the job blocks half-way, after it has counted
    # its attempt and before it has changed anything.
    with runtime.db.transaction() as session:
        session.add(StorefrontRecord(connection_id=conn.id, record_type="order", record_id=order_id,
                                     modified_at=utcnow() - timedelta(days=900), data={}, source="webhook"))
    locker = runtime.db.engine.connect()
    try:
        lock = locker.begin()
        locker.execute(select(StorefrontRecord).with_for_update())

        body, headers = woo_delivery(order, "kill-1")
        answer = create_app(runtime=redis_runtime).test_client().post(
            "/webhooks/woocommerce/shop", data=body, headers=headers)
        assert answer.status_code == 200 and answer.json["status"] == "stored"
        delivery_id = answer.json["delivery"]

        worker = spawn_redis.worker()

        def blocked() -> bool:
            with runtime.db.transaction() as session:
                attempts = session.get(WebhookDelivery, delivery_id).attempts
                waiting = session.scalar(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"))
            return attempts == 1 and waiting >= 1

        wait_until(blocked, 30, "the worker to start the job and block on the order's row")
        worker.kill()
        lock.rollback()
    finally:
        locker.close()

    with runtime.db.transaction() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        assert (delivery.state, delivery.attempts) == ("stored", 1)  # nothing applied, nothing lost
    assert _order_jobs(runtime, conn.id) == []

    # The scheduler finds the delivery left behind and queues it again; a new worker runs it.
    assert redispatch_stored(redis_runtime, now=utcnow() + LATER) == 1
    rerun = spawn_redis.worker(burst=True)
    assert rerun.popen.wait(timeout=60) == 0, rerun.output()[-2000:]
    assert delivery_states(runtime) == {"processed": 1}
    assert [record_id for record_id, _ in _order_jobs(runtime, conn.id)] == [order_id]

    # rq may also hand the abandoned job out again: running it once more changes nothing.
    redis_runtime.dispatcher.submit(PROCESS_JOB, delivery_id)
    again = spawn_redis.worker(burst=True)
    assert again.popen.wait(timeout=60) == 0
    assert [record_id for record_id, _ in _order_jobs(runtime, conn.id)] == [order_id]
    assert _stored_orders(runtime) == [order_id]
    with runtime.db.transaction() as session:
        assert session.get(WebhookDelivery, delivery_id).attempts == 2


@pytest.mark.slow
def test_with_redis_down_deliveries_are_stored_and_answered_then_processed_when_it_is_back(
        spawn_redis, runtime, make_connection):
    conn = make_connection("shop", webhook_secret=WEBHOOK_SECRET)
    nobody = f"redis://127.0.0.1:{free_port()}/0"  # a closed port: the shared Redis is never stopped
    web = spawn_redis.serve(QBSYNC_REDIS_URL=nobody)
    health = httpx.get(f"{web.url}/healthz", timeout=10)
    assert health.status_code == 503 and health.json()["checks"] == {"database": "ok",
                                                                     "redis": "error: unreachable"}
    orders = make_orders(25, "woocommerce", seed=12)
    with httpx.Client(timeout=10) as client:
        for n, order in enumerate(orders):
            body, headers = woo_delivery(order, f"redis-down-{n}")
            answer = client.post(f"{web.url}/webhooks/woocommerce/shop", content=body, headers=headers)
            assert answer.status_code == 200, answer.text
            assert answer.json()["status"] == "stored"
    assert delivery_states(runtime) == {"stored": len(orders)}
    assert _order_jobs(runtime, conn.id) == []

    # Redis is back (the configuration now names the real one): the scheduler re-queues what waited,
    # a burst worker processes it.
    assert redispatch_stored(_redis_runtime(runtime, spawn_redis), now=utcnow() + LATER) == len(orders)
    worker = spawn_redis.worker(burst=True)
    assert worker.popen.wait(timeout=90) == 0, worker.output()[-2000:]
    assert delivery_states(runtime) == {"processed": len(orders)}, worker.output()[-3000:]
    assert _stored_orders(runtime) == sorted(str(o["id"]) for o in orders)
    queued = [record_id for record_id, _ in _order_jobs(runtime, conn.id)]
    assert queued and len(queued) == len(set(queued))  # orders the rules sync, each queued once


def test_a_leaving_worker_stops_its_command_listener_within_seconds(redis_url):
    """The race that made `qbsync worker` take 60 s to exit, forced: the listener thread reads the
    unsubscribe reply before it is told to stop, so its next read waits for a subscription that never
    comes. rq 3.0's own Worker waits out its 60 s read here; the worker `qbsync worker` runs does not."""
    import time

    from redis import Redis
    from rq import Queue

    from qbsync.service.rq_worker import QbsyncWorker

    redis = Redis.from_url(redis_url)
    worker = QbsyncWorker([Queue("qbsync-test-exit", connection=redis)], connection=redis)
    worker.subscribe()
    try:
        worker.pubsub.unsubscribe()
        wait_until(lambda: not worker.pubsub.subscribed, 10, "the listener to read the unsubscribe reply")
        time.sleep(0.2)  # back in its read, now waiting for a subscription
        started = time.monotonic()
        worker.pubsub_thread.stop()
        stopped_after = time.monotonic() - started
    finally:
        worker.pubsub_thread.stop(timeout=0)
        worker.pubsub.close()
    assert not worker.pubsub_thread.is_alive()
    assert stopped_after < 10, f"the listener took {stopped_after:.1f} s to stop"


def test_a_stop_that_cancels_the_queue_waits_only_for_what_runs(caplog):
    """The demo's Ctrl-C: the job running finishes, the ones queued behind it are dropped (their work is
    stored and the scheduler re-dispatches it), so stopping never works through a backlog first."""
    from qbsync.config import Config

    dispatcher = Dispatcher(Config.from_env({}), max_workers=1)
    # The running job holds the one thread until the stop has been asked for: a job that merely slept a
    # while could end first on a busy machine, and the thread would take a queued one (which then runs).
    release = threading.Event()
    running = dispatcher.submit(f"{__name__}:_hold_until", release)
    assert running is not None
    wait_until(running.running, 5, "the first job to start")  # taken by the one thread: not cancellable
    queued = [dispatcher.submit("time:sleep", 30) for _ in range(3)]
    stopping = threading.Thread(target=dispatcher.shutdown, kwargs={"wait": True, "cancel_queued": True})
    stopping.start()
    wait_until(lambda: all(f is not None and f.cancelled() for f in queued), 5, "the queued jobs cancelled")
    assert stopping.is_alive() and not running.done()  # the stop waits for what runs
    release.set()
    stopping.join(5)
    assert not stopping.is_alive()
    assert running.done() and not running.cancelled() and running.result() is True
    # A job dropped so is no failure: nothing is logged as an error for it.
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []


def _hold_until(release: threading.Event) -> bool:
    """A background job that runs until ``release`` is set (or 10 s pass)."""
    return release.wait(10)
