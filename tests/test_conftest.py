"""The suite's own setup: each pytest-xdist worker of the PostgreSQL + Redis leg has a Redis db of its own."""

from __future__ import annotations

import pytest

from tests.conftest import worker_redis_url


def test_each_test_process_counts_one_down_from_the_named_redis_db():
    assert worker_redis_url("redis://127.0.0.1:6379/15", 0) == "redis://127.0.0.1:6379/15"
    assert worker_redis_url("redis://127.0.0.1:6379/15", 1) == "redis://127.0.0.1:6379/14"
    assert worker_redis_url("redis://:pw@127.0.0.1:6379/9?socket_timeout=5", 2) == \
        "redis://:pw@127.0.0.1:6379/7?socket_timeout=5"
    assert worker_redis_url("redis://127.0.0.1:6379", 0) == "redis://127.0.0.1:6379/0"


def test_a_redis_url_without_room_for_every_process_is_refused():
    with pytest.raises(ValueError, match="too low for test process 1"):
        worker_redis_url("redis://127.0.0.1:6379/0", 1)
    with pytest.raises(ValueError, match="by number"):
        worker_redis_url("redis://127.0.0.1:6379/fifteen", 0)
