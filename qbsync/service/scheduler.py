"""Periodic work: re-dispatch stored webhooks, expire stale sessions, sweep for missed webhooks.

Runs as its own process (`qbsync scheduler`) on servers, or as a thread inside `qbsync serve` on the
embedded default. Each task is a plain function taking the runtime; tasks must be idempotent because
several schedulers may run at once behind a load balancer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from qbsync.service.background import resolve
from qbsync.service.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicTask:
    """A job path run every ``every_seconds``."""

    name: str
    job: str  # "module:function", called with the runtime
    every_seconds: float


# Modules add their periodic work here (by import path, so this module imports none of them).
TASKS: list[PeriodicTask] = [
    PeriodicTask("redispatch-webhooks", "qbsync.webhooks.processing:redispatch_stored", 30),
    PeriodicTask("expire-sessions", "qbsync.qwc.sessions:expire_stale_sessions", 60),
    # Storefront backfill, missed-webhook sweep (each connection's own interval), stock write-back.
    PeriodicTask("resume-pushes", "qbsync.storefronts.backfill:resume_pushes", 60),
    PeriodicTask("sweep-storefronts", "qbsync.storefronts.sweep:sweep_all", 60),
    PeriodicTask("stock-writebacks", "qbsync.storefronts.writeback:run_due_writebacks", 30),
    # Ended admin sessions, spent setup links and sign-in counts older than their window.
    PeriodicTask("forget-sign-ins", "qbsync.service.security:forget_expired", 3600),
]


def run_due(runtime: Runtime, last_run: dict[str, float], now: float | None = None) -> list[str]:
    """Run every task whose interval has passed; return the names that ran."""
    now = time.monotonic() if now is None else now
    ran = []
    for task in TASKS:
        if now - last_run.get(task.name, float("-inf")) < task.every_seconds:
            continue
        last_run[task.name] = now
        try:
            func: Callable[[Runtime], object] = resolve(task.job)
            func(runtime)
            ran.append(task.name)
        except Exception:  # one failing task must not stop the others
            log.exception("periodic task %s failed", task.name)
    return ran


def run_forever(runtime: Runtime, stop: threading.Event, tick_seconds: float = 5.0) -> None:
    """Loop until ``stop`` is set."""
    last_run: dict[str, float] = {}
    while not stop.is_set():
        run_due(runtime, last_run)
        stop.wait(tick_seconds)


def start_thread(runtime: Runtime) -> tuple[threading.Thread, threading.Event]:
    """Run the scheduler in a daemon thread of this process."""
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, args=(runtime, stop), name="qbsync-scheduler", daemon=True)
    thread.start()
    return thread, stop
