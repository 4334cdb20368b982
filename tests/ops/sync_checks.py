"""Driving a whole sync from the outside and checking that each order reached QuickBooks exactly once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import httpx
from sqlalchemy import func, select

from qbsync.simulator import QuickBooksCompany
from qbsync.storage.models import IdMapping, QueueJob
from tests.ops.processes import delivery_states, wait_until, woo_delivery

SALES_KINDS = ("SalesReceipt", "Invoice", "SalesOrder")


def send_orders(base_urls: list[str], connection: str, orders: list[dict[str, Any]], prefix: str) -> None:
    """Deliver each order as a signed WooCommerce webhook, round-robin over ``base_urls``; all must be 200."""
    clients = [httpx.Client(base_url=url, timeout=15) for url in base_urls]
    try:
        for n, order in enumerate(orders):
            body, headers = woo_delivery(order, f"{prefix}-{n}")
            answer = clients[n % len(clients)].post(f"/webhooks/woocommerce/{connection}", content=body,
                                                    headers=headers)
            assert answer.status_code == 200, answer.text
    finally:
        for client in clients:
            client.close()


def wait_processed(runtime, count: int, timeout: float = 60) -> None:
    """Wait until ``count`` deliveries are processed (by the service's own background work)."""
    wait_until(lambda: delivery_states(runtime).get("processed", 0) >= count, timeout,
               f"{count} webhook deliveries to be processed (now {delivery_states(runtime)})", every=0.2)
    assert set(delivery_states(runtime)) == {"processed"}, delivery_states(runtime)


def sales_ref_numbers(company: QuickBooksCompany) -> list[str]:
    """RefNumbers of every sales transaction in the company (duplicates kept)."""
    return [str(t.get("RefNumber")) for kind in SALES_KINDS for t in company.transactions(kind)]


def job_states(runtime, connection_id: int) -> Counter:
    """(kind, state) -> count of the connection's queue jobs."""
    with runtime.db.transaction() as session:
        rows = session.execute(select(QueueJob.kind, QueueJob.state, func.count())
                               .where(QueueJob.connection_id == connection_id)
                               .group_by(QueueJob.kind, QueueJob.state))
        return Counter({(kind, state): n for kind, state, n in rows})


def assert_each_order_once(runtime, company: QuickBooksCompany, connection_id: int,
                           order_numbers: Iterable[str]) -> list[str]:
    """Every queued order is done and in QuickBooks exactly once, under its own number; returns the numbers.

    ``order_numbers``: the numbers of the orders this connection was sent (nothing else may appear).
    """
    states = job_states(runtime, connection_id)
    unfinished = {key: n for key, n in states.items() if key[1] not in ("done", "cancelled")}
    assert not unfinished, f"unfinished queue jobs: {unfinished}"
    with runtime.db.transaction() as session:
        mapped = list(session.scalars(select(IdMapping.qb_name).where(
            IdMapping.connection_id == connection_id, IdMapping.record_type == "order")))
    assert mapped, "no order reached QuickBooks"
    refs = sales_ref_numbers(company)
    duplicated = [ref for ref, n in Counter(refs).items() if n > 1]
    assert not duplicated, f"orders added to QuickBooks twice: {duplicated}"
    assert sorted(refs) == sorted(mapped)
    assert set(refs) <= {str(n) for n in order_numbers}
    assert states[("order", "done")] == len(refs)
    return refs
