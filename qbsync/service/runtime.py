"""The process's configuration and database, opened once and shared by web requests and background jobs.

rq workers import job functions by name in a fresh process; they reach the database through here.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from qbsync.config import Config
from qbsync.service.background import Dispatcher
from qbsync.storage.db import Database, open_database


@dataclass
class Runtime:
    """What every entry point needs: configuration, database, background dispatcher."""

    config: Config
    db: Database
    dispatcher: Dispatcher


_lock = threading.Lock()
_current: Runtime | None = None


def _after_fork_in_child() -> None:
    # rq forks a work horse per job: the child must not reuse the parent's pooled database connections
    # (two processes on one connection corrupt it; psycopg reports clashing prepared statements).
    if _current is not None:
        _current.db.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork_in_child)


def install(runtime: Runtime) -> None:
    """Make ``runtime`` the one this process uses (the app factory and tests call this)."""
    global _current
    with _lock:
        _current = runtime


def current() -> Runtime:
    """The process's runtime, opened from the environment on first use (rq workers, CLI)."""
    global _current
    with _lock:
        if _current is None:
            config = Config.from_env()
            db = open_database(config, upgrade=False)
            _current = Runtime(config=config, db=db, dispatcher=Dispatcher(config))
        return _current


def open_runtime(config: Config, *, upgrade: bool = True) -> Runtime:
    """Open the database for ``config`` (migrating it when asked) and install the result."""
    db = open_database(config, upgrade=upgrade)
    runtime = Runtime(config=config, db=db, dispatcher=Dispatcher(config))
    install(runtime)
    return runtime

