"""Background work: on rq when Redis is configured, on an in-process thread pool otherwise.

Callers name a job by its import path ("qbsync.webhooks.processing:process_delivery") and pass plain
arguments, so the same call works in the web process and in an rq worker. Nothing is lost if Redis is
down: the caller has already stored the work durably, and the scheduler re-dispatches what is left.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from qbsync.config import Config

log = logging.getLogger(__name__)


def resolve(job: str) -> Callable[..., Any]:
    """Import ``module:function``."""
    module, _, name = job.partition(":")
    return getattr(importlib.import_module(module), name)


def run_job(job: str, *args: Any) -> Any:
    """Entry point rq workers execute: resolve and call the named job."""
    return resolve(job)(*args)


class DispatchFailed(RuntimeError):
    """The job could not be handed to the queue (e.g. Redis is down); it stays stored for later."""


class Dispatcher:
    """Hands named jobs to rq or to a local thread pool."""

    def __init__(self, config: Config, *, max_workers: int = 4) -> None:
        self.config = config
        self._executor: ThreadPoolExecutor | None = None
        self._max_workers = max_workers
        self._queue = None

    @property
    def uses_redis(self) -> bool:
        return self.config.redis_url is not None

    def _rq_queue(self) -> Any:
        if self._queue is None:
            from redis import Redis
            from rq import Queue

            redis = Redis.from_url(self.config.redis_url, socket_connect_timeout=1, socket_timeout=2)
            self._queue = Queue(self.config.rq_queue_name, connection=redis)
        return self._queue

    def submit(self, job: str, *args: Any, job_id: str | None = None) -> Future | None:
        """Run ``job(*args)`` in the background; raise :class:`DispatchFailed` if it cannot be queued."""
        if self.uses_redis:
            try:
                self._rq_queue().enqueue(run_job, job, *args, job_id=job_id, result_ttl=0,
                                         failure_ttl=7 * 24 * 3600)
            except Exception as exc:  # redis.ConnectionError, TimeoutError, ...
                raise DispatchFailed(f"could not queue {job}: {exc}") from exc
            return None
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._max_workers, thread_name_prefix="qbsync-job")
        future = self._executor.submit(run_job, job, *args)
        future.add_done_callback(_log_failure(job))
        return future

    def redis_ok(self) -> bool:
        """Whether Redis answers (True when Redis is not used)."""
        if not self.uses_redis:
            return True
        try:
            return bool(self._rq_queue().connection.ping())
        except Exception:
            return False

    def shutdown(self, wait: bool = True) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=wait)
            self._executor = None


def _log_failure(job: str) -> Callable[[Future], None]:
    def callback(future: Future) -> None:
        exc = future.exception()
        if exc is not None:
            log.error("background job %s failed", job, exc_info=exc)

    return callback
