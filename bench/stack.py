"""A fresh qbsync installation to measure: its own database (a new PostgreSQL database or SQLite file),
Redis queue, web processes and workers as subprocesses on 127.0.0.1, and a runtime in this process.

PostgreSQL and Redis come from ``QBSYNC_BENCH_DATABASE_URL`` / ``QBSYNC_BENCH_REDIS_URL`` (defaults: the
local servers the CI leg uses, database ``qbsync_bench``, Redis db 14). The benchmark database is dropped
and created anew each run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.engine import make_url

from qbsync.config import Config, normalize_database_url
from qbsync.connections import NewConnection, add_connection
from qbsync.service.background import Dispatcher
from qbsync.service.runtime import Runtime, install
from qbsync.storage import encryption
from qbsync.storage.db import create_database

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/qbsync_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
WEBHOOK_SECRET = "bench-webhook-secret"
QBWC_PASSWORD = "bench web connector password"


def postgres_url() -> str | None:
    """The benchmark PostgreSQL database (recreated empty), or None when no server answers."""
    url = os.environ.get("QBSYNC_BENCH_DATABASE_URL", DEFAULT_PG)
    parsed = make_url(normalize_database_url(url))
    try:
        import psycopg

        admin = parsed.set(database="postgres").render_as_string(hide_password=False)
        admin = admin.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{parsed.database}"')
    except Exception as exc:  # no server: the PostgreSQL runs are skipped with the reason
        print(f"PostgreSQL not available for benchmarks ({exc}); set QBSYNC_BENCH_DATABASE_URL")
        return None
    return url


def redis_url() -> str | None:
    """The benchmark Redis, or None when it does not answer."""
    url = os.environ.get("QBSYNC_BENCH_REDIS_URL", DEFAULT_REDIS)
    try:
        from redis import Redis

        Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:
        print(f"Redis not available for benchmarks ({exc}); set QBSYNC_BENCH_REDIS_URL")
        return None
    return url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident memory so far (VmHWM), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path
    url: str | None = None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period (by this process's own group id)."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)


@dataclass
class Stack:
    """One installation: a database, optionally Redis, and the processes started on it."""

    database_url: str
    redis_url: str | None = None
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="qbsync-bench-")))
    secret_key: str = field(default_factory=lambda: Fernet.generate_key().decode())
    queue: str = field(default_factory=lambda: f"qbsync-bench-{uuid.uuid4().hex[:8]}")
    processes: list[Process] = field(default_factory=list)
    runtime: Runtime | None = None
    source: Path = REPO  # the checkout whose code the processes run (see bench/denial_of_service.py)

    @classmethod
    def sqlite(cls) -> Stack:
        tmp = Path(tempfile.mkdtemp(prefix="qbsync-bench-"))
        return cls(database_url=f"sqlite:///{tmp / 'qbsync.sqlite3'}", tmp=tmp)

    def __enter__(self) -> Stack:
        config = Config.from_env(self.env())
        encryption.configure(self.secret_key)
        db = create_database(config.database_url)
        db.upgrade()
        self.runtime = Runtime(config=config, db=db, dispatcher=Dispatcher(config))
        install(self.runtime)
        return self

    def __exit__(self, *exc: object) -> None:
        for process in reversed(self.processes):
            process.stop()
        if self.runtime is not None:
            self.runtime.dispatcher.shutdown(wait=False)
            self.runtime.db.dispose()
        if self.redis_url:
            from redis import Redis
            from rq import Queue

            Queue(self.queue, connection=Redis.from_url(self.redis_url)).delete(delete_jobs=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("QBSYNC_")}
        env.update(QBSYNC_DATABASE_URL=self.database_url, QBSYNC_SECRET_KEY=self.secret_key,
                   QBSYNC_DATA_DIR=str(self.tmp / "data"), QBSYNC_RQ_QUEUE=self.queue,
                   QBSYNC_LOG_FORMAT="json", PYTHONUNBUFFERED="1")
        if self.redis_url:
            env["QBSYNC_REDIS_URL"] = self.redis_url
        env.update(extra)
        return env

    def database_version(self) -> str:
        assert self.runtime is not None
        with self.runtime.db.engine.connect() as conn:
            if self.runtime.db.is_sqlite:
                return "SQLite " + conn.execute(text("select sqlite_version()")).scalar_one()
            return "PostgreSQL " + conn.execute(text("show server_version")).scalar_one().split()[0]

    def add_connection(self, name: str = "shop", **overrides: Any):
        assert self.runtime is not None
        spec = dict(name=name, platform="woocommerce", store_url="https://shop.example.com",
                    webhook_secret=WEBHOOK_SECRET, qbwc_username=f"{name}-qbwc", qbwc_password=QBWC_PASSWORD)
        spec.update(overrides)
        with self.runtime.db.transaction() as session:
            return add_connection(session, NewConnection(**spec))

    def _start(self, name: str, args: list[str], **env: str) -> Process:
        log = self.tmp / f"{name}-{len(self.processes)}.log"
        with open(log, "wb") as out:
            popen = subprocess.Popen(args, cwd=self.source, env=self.env(**env), stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def serve(self, threads: int = 8, **env: str) -> Process:
        """``qbsync serve`` (waitress)."""
        port = free_port()
        process = self._start("serve", [sys.executable, "-m", "qbsync.service.cli", "serve", "--host",
                                        "127.0.0.1", "--port", str(port), "--threads", str(threads)], **env)
        process.url = f"http://127.0.0.1:{port}"
        self._wait(process)
        return process

    def gunicorn(self, workers: int, threads: int, **env: str) -> Process:
        """gunicorn with deploy/gunicorn.conf.py."""
        port = free_port()
        process = self._start("gunicorn", [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py",
                                           "qbsync.service.wsgi:app"],
                              QBSYNC_BIND=f"127.0.0.1:{port}", QBSYNC_WEB_WORKERS=str(workers),
                              QBSYNC_WEB_THREADS=str(threads), **env)
        process.url = f"http://127.0.0.1:{port}"
        self._wait(process)
        return process

    def worker(self, burst: bool = True) -> Process:
        """``qbsync worker`` on this stack's queue."""
        return self._start("worker", [sys.executable, "-m", "qbsync.service.cli", "worker"]
                           + (["--burst"] if burst else []))

    def _wait(self, process: Process, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.popen.poll() is not None:
                raise RuntimeError(f"{process.name} exited: {process.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{process.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{process.name} did not become healthy in {timeout:.0f} s")
