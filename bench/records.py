"""Micro-benchmark: reading an order job's payload into the typed ``Order`` record.

``python -m bench.records`` prints µs per call for ``Order.from_dict`` (what a handler does once per job
per round trip), ``to_dict`` and the JSON round trip, on the reference payloads (WooCommerce and Shopify
orders, normalized, as queued). Printed only: the numbers are for comparing two commits on one machine.
"""

from __future__ import annotations

import json
import timeit
from pathlib import Path
from typing import Any

from qbsync.storefronts.records import Order, load_payload
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
    return min(timeit.repeat(statement, number=number, repeat=5)) / number * 1e6


def run(number: int = 2000) -> dict[str, float]:
    """Print and return µs per call of each measured step."""
    results = {}
    for name, data in _payloads().items():
        order = Order.from_dict(data)
        lines = len(order.lines)
        results[f"{name} from_dict"] = _per_call(lambda data=data: Order.from_dict(data), number)
        results[f"{name} to_dict"] = _per_call(order.to_dict, number)
        results[f"{name} json round trip"] = _per_call(lambda data=data: json.loads(json.dumps(data)), number)
        for key in (f"{name} from_dict", f"{name} to_dict", f"{name} json round trip"):
            print(f"{key:<28} {results[key]:8.1f} µs  ({lines} lines)")
    return results


if __name__ == "__main__":
    run()
