"""qbsync web processes and rq workers as real subprocesses on 127.0.0.1, and signed deliveries.

Every process is started in its own process group and killed by its own id (with what it forked).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from qbsync.storage.models import WebhookDelivery
from qbsync.webhooks.signatures import sign
from tests.conftest import REPO_ROOT, TEST_SECRET_KEY

WEBHOOK_SECRET = "ops-webhook-secret"
QBWC_PASSWORD = "correct horse battery"
START_TIMEOUT = 30.0


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.05) -> Any:
    """Poll ``condition`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


@dataclass
class Process:
    """A subprocess this test started (in its own process group), with its output in a file."""

    name: str
    popen: subprocess.Popen
    log_path: Path
    url: str | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def descendants(self) -> list[int]:
        """Pids of the processes it forked (e.g. rq's work horse, which leaves the process group)."""
        found, todo = [], [self.popen.pid]
        while todo:
            pid = todo.pop()
            for task in Path(f"/proc/{pid}/task").glob("*/children"):
                with contextlib.suppress(OSError):
                    children = [int(c) for c in task.read_text().split()]
                    found += children
                    todo += children
        return found

    def kill(self) -> None:
        """SIGKILL the process, its group and everything it forked, as a crash of the machine would."""
        children = self.descendants() if self.alive() else []
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON log lines the process wrote (other lines skipped)."""
        lines = []
        for line in self.output().splitlines():
            if line.startswith("{"):
                try:
                    lines.append(json.loads(line))
                except ValueError:
                    continue
        return lines


@dataclass
class Spawner:
    """Starts qbsync processes against the test database; kills them all at teardown."""

    database_url: str
    tmp: Path
    redis_url: str | None = None
    rq_queue: str = field(default_factory=lambda: f"qbsync-ops-{uuid.uuid4().hex[:8]}")
    processes: list[Process] = field(default_factory=list)

    def env(self, **overrides: str | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("QBSYNC_")}
        env.update(QBSYNC_DATABASE_URL=self.database_url, QBSYNC_SECRET_KEY=TEST_SECRET_KEY,
                   QBSYNC_DATA_DIR=str(self.tmp / "data"), QBSYNC_LOG_FORMAT="json",
                   QBSYNC_RQ_QUEUE=self.rq_queue, PYTHONUNBUFFERED="1")
        if self.redis_url:
            env["QBSYNC_REDIS_URL"] = self.redis_url
        for key, value in overrides.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def _start(self, name: str, args: list[str], env: dict[str, str]) -> Process:
        log_path = self.tmp / f"{name}-{len(self.processes)}.log"
        with open(log_path, "wb") as out:
            popen = subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        process = Process(name, popen, log_path)
        self.processes.append(process)
        return process

    def serve(self, port: int | None = None, **env: str | None) -> Process:
        """``qbsync serve`` on a free port; returns once /healthz answers."""
        port = port or free_port()
        process = self._start("serve", [sys.executable, "-m", "qbsync.service.cli", "serve", "--host",
                                         "127.0.0.1", "--port", str(port)], self.env(**env))
        process.url = f"http://127.0.0.1:{port}"
        self._wait_healthy(process)
        return process

    def gunicorn(self, workers: int = 2, threads: int = 4, **env: str | None) -> Process:
        """gunicorn with deploy/gunicorn.conf.py on a free port; returns once /healthz answers."""
        port = free_port()
        process = self._start("gunicorn", [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py",
                                           "qbsync.service.wsgi:app"],
                              self.env(QBSYNC_BIND=f"127.0.0.1:{port}", QBSYNC_WEB_WORKERS=str(workers),
                                       QBSYNC_WEB_THREADS=str(threads), **env))
        process.url = f"http://127.0.0.1:{port}"
        self._wait_healthy(process)
        return process

    def worker(self, burst: bool = False, **env: str | None) -> Process:
        """``qbsync worker`` (an rq worker on this test's queue)."""
        args = [sys.executable, "-m", "qbsync.service.cli", "worker"] + (["--burst"] if burst else [])
        return self._start("worker", args, self.env(**env))

    def _wait_healthy(self, process: Process) -> None:
        def healthy() -> bool:
            if not process.alive():
                pytest.fail(f"{process.name} exited with {process.popen.returncode}:\n"
                            f"{process.output()[-3000:]}")
            try:
                return httpx.get(f"{process.url}/healthz", timeout=1.0).status_code in (200, 503)
            except httpx.HTTPError:
                return False

        wait_until(healthy, START_TIMEOUT, f"{process.name} to answer /healthz", every=0.1)

    def stop_all(self) -> None:
        for process in self.processes:
            process.kill()


# --- signed deliveries ------------------------------------------------------------------------------


def woo_delivery(order: dict[str, Any], delivery_id: str, secret: str = WEBHOOK_SECRET,
                 topic: str = "order.updated") -> tuple[bytes, dict[str, str]]:
    """A WooCommerce webhook delivery of ``order``: compact JSON body and signed headers."""
    body = json.dumps(order, separators=(",", ":")).encode()
    resource, _, event = topic.partition(".")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "WooCommerce/8.0.2 Hookshot (WordPress/6.3)",
        "X-WC-Webhook-Source": "https://shop.example.com/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-ID": "7",
        "X-WC-Webhook-Delivery-ID": delivery_id,
        "X-WC-Webhook-Signature": sign(secret, body),
    }
    return body, headers


def delivery_states(runtime, connection_id: int | None = None) -> dict[str, int]:
    """How many webhook deliveries are in each state."""
    with runtime.db.transaction() as session:
        stmt = select(WebhookDelivery.state, func.count()).group_by(WebhookDelivery.state)
        if connection_id is not None:
            stmt = stmt.where(WebhookDelivery.connection_id == connection_id)
        return dict(session.execute(stmt).all())


def shopify_delivery(order: dict[str, Any], event_id: str, shop_domain: str, secret: str = WEBHOOK_SECRET,
                     topic: str = "orders/updated") -> tuple[bytes, dict[str, str]]:
    """A Shopify webhook delivery of ``order``: compact JSON body and signed headers."""
    body = json.dumps(order, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(secret, body),
        "X-Shopify-Shop-Domain": shop_domain,
        "X-Shopify-API-Version": "2026-07",
        "X-Shopify-Webhook-Id": str(uuid.uuid5(uuid.NAMESPACE_URL, event_id)),
        "X-Shopify-Event-Id": event_id,
        "X-Shopify-Triggered-At": "2026-07-01T10:00:00.000Z",
    }
    return body, headers


def process_shopify_delivery(runtime, order: dict[str, Any], event_id: str, secret: str,
                             topic: str = "orders/updated") -> WebhookDelivery:
    """A signed Shopify delivery of ``order`` stored as the receiver of connection "shop" stores it, then
    processed; the delivery as it ended. (Stored directly: the receiver only takes a shop whose store URL is
    its <shop>.myshopify.com, and the storefront double is on 127.0.0.1.)"""
    from qbsync.webhooks.deliveries import find_receiver, store_delivery
    from qbsync.webhooks.envelope import kept_headers, read_envelope
    from qbsync.webhooks.processing import process

    body, headers = shopify_delivery(order, event_id, "double-shop.myshopify.com", secret=secret, topic=topic)
    kept = kept_headers("shopify", headers.items())
    stored = runtime.db.run_statements(
        lambda db: store_delivery(db, find_receiver(db, "shop"), read_envelope("shopify", kept, body)))
    process(runtime.db, stored.delivery_id)
    with runtime.db.transaction() as session:
        return session.get(WebhookDelivery, stored.delivery_id)
