"""Micro-benchmark: reading an order job's payload into the typed ``Order`` record, and planning it.

``python -m bench.records`` prints µs per call for ``Order.from_dict`` (what a handler does the first
time it reads a job), ``to_dict``, the JSON round trip, the order's plan (``order_plan.plan``: the pure
part of the order handler's build) from the payload's dict, record read included, and ``record_of`` for
a job read before (build, then apply), then what the stock counts read of a stored order (its
``LastKnownOrder``, and the products it sells), on the reference payloads (WooCommerce and Shopify orders,
normalized, as queued). Printed only: the numbers are for comparing two commits on one machine.
"""

from __future__ import annotations

import json
import time
import timeit
from pathlib import Path
from typing import Any

from qbsync.queue.handlers import record_of
from qbsync.queue.handlers.order_lines import line_key
from qbsync.queue.handlers.order_plan import Company, needs, plan
from qbsync.queue.handlers.orders import special_names
from qbsync.queue.inventory import sold_in
from qbsync.queue.settings import SyncSettings
from qbsync.storage.models import QueueJob
from qbsync.storefronts.records import LastKnownOrder, Order, load_payload
from qbsync.storefronts.shopify import normalize as shopify
from qbsync.storefronts.woocommerce import normalize as woocommerce

REFERENCE = Path("/work/shared/reference/storefront")


def _payloads() -> dict[str, dict[str, Any]]:
    """Each reference order as a job carries it: ``to_dict()`` through JSON, as the database gives it."""
    orders = {
        name: normalize.order(load_payload((REFERENCE / name / "order.json").read_bytes()))
        for name, normalize in (("woocommerce", woocommerce), ("shopify", shopify))
    }
    return {name: json.loads(json.dumps(order.to_dict())) for name, order in orders.items()}


def _per_call(statement: Any, number: int) -> float:
    """Best of 5 runs, in µs per call."""
    # CPU time of this process: the machine may be busy with other work.
    return min(timeit.repeat(statement, number=number, repeat=7, timer=time.process_time)) / number * 1e6


def _reloaded(data: dict[str, Any]) -> QueueJob:
    """A job whose record was read before, its payload loaded again (equal JSON, other objects)."""
    record_of(QueueJob(id=-1, payload={"record": data}), Order)
    return QueueJob(id=-1, payload={"record": json.loads(json.dumps(data))})


def _build(data: dict[str, Any], company: Company, settings: SyncSettings) -> None:
    """What the order handler's prepare and build compute from the order, database left out."""
    order = Order.from_dict(data)
    special_names(order, settings)
    [line_key(line) for line in order.lines]
    needs(order, company, settings)
    special_names(order, settings)
    plan(order, company, settings)


def _company(order: Order, settings: SyncSettings) -> Company:
    """Every reference the order names, linked (the plan's full path)."""
    items = {line_key(line): {"ListID": "I"} for line in order.lines}
    specials = {role: {"ListID": f"S-{role}"} for role in special_names(order, settings)}
    return Company(customer={"ListID": "C-1"}, items=items, specials=specials, platform="woocommerce")


def run(number: int = 2000) -> dict[str, float]:
    """Print and return µs per call of each measured step."""
    results = {}
    settings = SyncSettings()
    for name, data in _payloads().items():
        order = Order.from_dict(data)
        company = _company(order, settings)
        steps: dict[str, Any] = {
            "from_dict": lambda data=data: Order.from_dict(data),
            "to_dict": order.to_dict,
            "json round trip": lambda data=data: json.loads(json.dumps(data)),
            "plan(record)": lambda order=order, company=company: plan(order, company, settings),
            "read + plan": lambda data=data, company=company: plan(Order.from_dict(data), company, settings),
            # The pure part of an order job's first build: prepare's keys, the links it needs, the plan.
            "build (pure part)": lambda data=data, company=company: _build(data, company, settings),
            # What a handler pays when the job was read before (build, then apply a request later): the
            # payload is loaded anew, so the cache compares it with the JSON the record was read from.
            "record_of, read before": lambda job=_reloaded(data): record_of(job, Order),
            # What the stock counts read of each stored order (inventory._sold_from_stock), and a
            # cancellation of its job's payload: the last known part of it.
            "LastKnownOrder read": lambda data=data: LastKnownOrder.from_dict(data),
            "stock count read": lambda data=data: sold_in(LastKnownOrder.from_dict(data), "0", settings),
        }
        for step, statement in steps.items():
            key = f"{name} {step}"
            results[key] = _per_call(statement, number)
            print(f"{key:<32} {results[key]:8.1f} µs  ({len(order.lines)} lines)")
    return results


if __name__ == "__main__":
    run()
