"""Background work: on rq when Redis is configured, on an in-process thread pool otherwise.

Callers name a job by its import path ("qbsync.webhooks.processing:process_delivery") and pass plain
arguments, so the same call works in the web process and in an rq worker. Nothing is lost if Redis is
down: the caller has already stored the work durably, and the scheduler re-dispatches what is left.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from qbsync.config import Config

if TYPE_CHECKING:
    from rq import Queue

log = logging.getLogger(__name__)

# How long a "run already queued" mark lives if the run never starts (its worker died): after that the
# next submit queues a new run. The scheduler re-dispatches left-behind work well before then anyway.
PENDING_MARK_SECONDS = 120


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
        self._queue: Queue | None = None
        self._pending: set[str] = set()
        self._pending_lock = threading.Lock()

    @property
    def uses_redis(self) -> bool:
        return self.config.redis_url is not None

    def _rq_queue(self) -> Queue:
        if self._queue is None:
            from redis import Redis
            from rq import Queue

            if self.config.redis_url is None:
                raise DispatchFailed("Redis is not configured (QBSYNC_REDIS_URL)")
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

    def submit_once(self, job: str, *args: Any, key: str) -> None:
        """Queue a run of ``job(*args)`` unless one queued under ``key`` has not started yet.

        For work a run picks up by itself from the database (every stored webhook delivery, say): a
        burst then costs one queued run, not one per item. The job must call :meth:`started` with the
        same key before it reads its work, so anything stored after that queues a new run. Raises
        :class:`DispatchFailed` if it cannot be queued.
        """
        if self.uses_redis:
            try:
                redis = self._rq_queue().connection
                if not redis.set(self._mark(key), "1", nx=True, ex=PENDING_MARK_SECONDS):
                    return
            except Exception as exc:
                raise DispatchFailed(f"could not queue {job}: {exc}") from exc
        else:
            with self._pending_lock:
                if key in self._pending:
                    return
                self._pending.add(key)
        try:
            future = self.submit(job, *args)
        except DispatchFailed:
            with contextlib.suppress(Exception):  # Redis is failing: the mark expires by itself
                self._unmark(key)
            raise
        if future is not None:
            # In-process there is no expiry: however the run ended (even before it could call started),
            # the next submit must queue a new one.
            future.add_done_callback(lambda _: self._unmark(key))

    def started(self, key: str) -> None:
        """Called by a job queued with :meth:`submit_once` when it starts: the next submit queues anew."""
        try:
            self._unmark(key)
        except Exception as exc:  # Redis went away: the mark expires by itself
            log.warning("could not clear the queued-run mark %s: %s", key, exc)

    def _mark(self, key: str) -> str:
        return f"{self.config.rq_queue_name}:queued-run:{key}"

    def _unmark(self, key: str) -> None:
        if self.uses_redis:
            self._rq_queue().connection.delete(self._mark(key))
        else:
            with self._pending_lock:
                self._pending.discard(key)

    def redis_ok(self) -> bool:
        """Whether Redis answers (True when Redis is not used)."""
        if not self.uses_redis:
            return True
        try:
            return bool(self._rq_queue().connection.ping())
        except Exception:
            return False

    def shutdown(self, wait: bool = True, cancel_queued: bool = False) -> None:
        """Stop the in-process pool: ``wait`` for what runs (and, unless ``cancel_queued``, for what is
        queued: tests let processing finish so). Cancelling queued work loses nothing: it is stored and
        the scheduler re-dispatches it."""
        if self._executor is not None:
            self._executor.shutdown(wait=wait, cancel_futures=cancel_queued)
            self._executor = None


def _log_failure(job: str) -> Callable[[Future], None]:
    def callback(future: Future) -> None:
        if future.cancelled():
            return  # dropped by a stop that cancels the queue: its work is stored and dispatched again
        exc = future.exception()
        if exc is not None:
            log.error("background job %s failed", job, exc_info=exc)

    return callback
