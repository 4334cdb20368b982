"""Operations test fixtures: subprocesses on the real PostgreSQL and Redis of the CI leg.

Subprocess tests skip when QBSYNC_TEST_DATABASE_URL / QBSYNC_TEST_REDIS_URL are unset (a laptop without the
servers) and fail, never skip, when the variables are set but the servers cannot be used.
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from qbsync.service import logging_setup
from tests.ops.processes import Spawner


@pytest.fixture
def pg_database_url(database_url: str) -> str:
    """The real PostgreSQL of the CI leg (skips on the embedded SQLite default)."""
    if not os.environ.get("QBSYNC_TEST_DATABASE_URL"):
        pytest.skip("QBSYNC_TEST_DATABASE_URL not set (the CI leg with real PostgreSQL runs this)")
    if not database_url.startswith("postgresql"):
        pytest.fail(f"QBSYNC_TEST_DATABASE_URL must name PostgreSQL for the operations tests: {database_url}")
    return database_url


@pytest.fixture
def spawn(pg_database_url: str, db, tmp_path: Path) -> Iterator[Spawner]:
    """Start qbsync subprocesses on the test PostgreSQL (after the tables were emptied)."""
    spawner = Spawner(database_url=pg_database_url, tmp=tmp_path)
    try:
        yield spawner
    finally:
        spawner.stop_all()


@pytest.fixture
def spawn_redis(spawn: Spawner, redis_url: str) -> Iterator[Spawner]:
    """Like ``spawn``, with the real Redis and a queue of this test's own (deleted afterwards)."""
    from redis import Redis

    try:
        Redis.from_url(redis_url, socket_connect_timeout=2).ping()
    except Exception as exc:
        pytest.fail(f"QBSYNC_TEST_REDIS_URL is set but Redis does not answer: {exc}")
    spawn.redis_url = redis_url
    yield spawn
    _forget_queue(Redis.from_url(redis_url), spawn.rq_queue)


def _forget_queue(redis, name: str) -> None:
    """Delete the test's rq queue, every job it touched (killed workers leave some started) and the
    registries of its workers, so repeated runs leave nothing behind in the shared Redis."""
    from rq import Queue
    from rq.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry

    queue = Queue(name, connection=redis)
    for registry_class in (StartedJobRegistry, FailedJobRegistry, FinishedJobRegistry):
        registry = registry_class(queue=queue)
        for key in redis.zrange(registry.key, 0, -1):
            redis.delete(f"rq:job:{key.decode().split(':')[0]}")
    queue.delete(delete_jobs=True)
    for key in redis.scan_iter(match=f"*{name}*", count=500):
        redis.delete(key)


@pytest.fixture
def log_lines():
    """Root logging as JSON lines into a buffer (DEBUG, so everything chatty is included); restored after."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogger("httpx").level)
    buffer = io.StringIO()
    logging_setup.configure(logging.DEBUG, fmt="json", stream=buffer)

    def read() -> list[dict]:
        return [json.loads(line) for line in buffer.getvalue().splitlines()]

    yield read
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    logging.getLogger("httpx").setLevel(saved[2])
