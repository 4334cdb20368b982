"""Scale-out on one machine: two web processes and two rq workers sharing PostgreSQL and Redis.

Webhooks alternate between the web processes, and every single Web Connector call goes to the other
process than the call before it; all work is still done exactly once, and both processes report the
same metrics and enforce the same sign-in lockout.
"""

from __future__ import annotations

import itertools
from collections import Counter

import httpx
import pytest

from qbsync.qwc.sessions import LOCKOUT_FAILURES
from qbsync.simulator import QuickBooksCompany, WebConnector
from qbsync.simulator.storefront_data import make_orders
from tests.ops.processes import QBWC_PASSWORD, WEBHOOK_SECRET
from tests.ops.sync_checks import assert_each_order_once, send_orders, wait_processed

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


class Alternating(httpx.BaseTransport):
    """Sends each request to the next port in turn (a load balancer with no session affinity)."""

    def __init__(self, ports: list[int]) -> None:
        self._ports = itertools.cycle(ports)
        self._inner = httpx.HTTPTransport()
        self.calls: Counter = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        port = next(self._ports)
        self.calls[port] += 1
        request.url = request.url.copy_with(port=port)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def _scrape(url: str) -> dict[str, str]:
    answer = httpx.get(f"{url}/metrics", timeout=10)
    assert answer.status_code == 200
    # Everything except timings is read from the shared database: both processes must agree.
    samples = [line.rsplit(" ", 1) for line in answer.text.splitlines() if line and not line.startswith("#")]
    return {name: value for name, value in samples
            if "scrape_duration" not in name and "age_seconds" not in name}


def test_two_web_processes_and_two_workers_do_all_work_exactly_once(spawn_redis, runtime, make_connection):
    conn = make_connection("shop", webhook_secret=WEBHOOK_SECRET)
    make_connection("other", webhook_secret=WEBHOOK_SECRET)
    webs = [spawn_redis.serve(), spawn_redis.serve()]
    workers = [spawn_redis.worker(), spawn_redis.worker()]
    orders = make_orders(40, "woocommerce", seed=51)
    send_orders([web.url for web in webs], "shop", orders, "scale")
    wait_processed(runtime, len(orders))
    assert all(worker.alive() for worker in workers)

    transport = Alternating([int(web.url.rsplit(":", 1)[1]) for web in webs])
    company = QuickBooksCompany()
    with httpx.Client(transport=transport, timeout=30) as client, WebConnector(
            f"{webs[0].url}/qbwc", "shop-qbwc", QBWC_PASSWORD, company, http_client=client) as connector:
        reports = connector.run(until_idle=True)
    assert reports[0].ended_by == "closeConnection" and reports[0].round_trips > 1
    assert len(transport.calls) == 2 and min(transport.calls.values()) >= 5
    assert_each_order_once(runtime, company, conn.id, [str(o["number"]) for o in orders])

    metrics = [_scrape(web.url) for web in webs]
    assert metrics[0] == metrics[1]
    assert metrics[0]['qbsync_webhook_deliveries{connection="shop",state="processed"}'] == str(len(orders))

    # Guessing passwords on both processes adds up: the lockout lives in the shared database.
    guesses = itertools.cycle(webs)
    for _ in range(LOCKOUT_FAILURES):
        with WebConnector(f"{next(guesses).url}/qbwc", "other-qbwc", "guess", QuickBooksCompany()) as wc:
            assert wc.run_once().ended_by == "auth:nvu"
    for web in webs:
        with WebConnector(f"{web.url}/qbwc", "other-qbwc", QBWC_PASSWORD, QuickBooksCompany()) as wc:
            assert wc.run_once().ended_by == "auth:nvu"  # locked out: even the right password fails
