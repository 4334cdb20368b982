"""The webhook load generator, run as its own process: ``python -m bench.loadgen '<json options>'``.

It signs one WooCommerce order delivery per request (every delivery different), then either sends at a
fixed rate (open loop: latency counts from when each request was due, so falling behind shows) or as fast
as ``concurrency`` keep-alive connections allow (closed loop), for a bounded time. Prints one JSON object.
"""

from __future__ import annotations

import itertools
import json
import statistics
import sys
import threading
import time
from collections import Counter
from typing import Any

import httpx

from qbsync.simulator.storefront_data import generate_orders
from qbsync.webhooks.signatures import sign


def deliveries(count: int, secret: str, seed: int) -> list[tuple[bytes, dict[str, str]]]:
    """``count`` signed WooCommerce order deliveries."""
    out = []
    orders = generate_orders(count, "woocommerce", seed=seed, first_id=100_000 + seed * 1_000_000)
    for n, order in enumerate(orders):
        body = json.dumps(order, separators=(",", ":")).encode()
        out.append((body, {
            "Content-Type": "application/json", "X-WC-Webhook-Source": "https://shop.example.com/",
            "X-WC-Webhook-Topic": "order.updated", "X-WC-Webhook-Resource": "order",
            "X-WC-Webhook-Event": "updated", "X-WC-Webhook-ID": "1",
            "X-WC-Webhook-Delivery-ID": f"bench-{seed}-{n}", "X-WC-Webhook-Signature": sign(secret, body)}))
    return out


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run(options: dict[str, Any]) -> dict[str, Any]:
    url, rate, duration = options["url"], options.get("rate"), float(options["duration"])
    concurrency = int(options.get("concurrency", 16))
    count = int(rate * duration) if rate else int(options.get("max_requests", 2_000 * duration))
    requests = deliveries(count, options["secret"], int(options.get("seed", 1)))
    latencies: list[float] = []
    statuses: Counter = Counter()
    lock = threading.Lock()
    counter = itertools.count()
    start = time.perf_counter() + 0.5
    stop_at = start + duration
    finished: list[float] = []

    def worker() -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            while True:
                index = next(counter)
                if index >= len(requests):
                    return
                if rate:
                    due = start + index / rate
                    delay = due - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                else:
                    due = time.perf_counter()
                    if due < start:
                        time.sleep(start - due)
                        due = time.perf_counter()
                    if due >= stop_at:
                        return
                body, headers = requests[index]
                try:
                    status = client.post(options["path"], content=body, headers=headers).status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                done = time.perf_counter()
                with lock:
                    latencies.append(done - due)
                    statuses[status] += 1
                    finished.append(done)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration + 120)
    elapsed = (max(finished) - start) if finished else 0.0
    ms = [x * 1000 for x in latencies]
    return {
        "mode": "fixed rate" if rate else "as fast as possible",
        "target_rate": rate, "concurrency": concurrency, "sent": len(latencies),
        "ok": statuses.get(200, 0), "statuses": {str(k): v for k, v in statuses.items()},
        "seconds": round(elapsed, 2), "per_second": round(len(latencies) / elapsed, 1) if elapsed else None,
        "p50_ms": round(percentile(ms, 0.50) or 0, 2), "p90_ms": round(percentile(ms, 0.90) or 0, 2),
        "p99_ms": round(percentile(ms, 0.99) or 0, 2), "max_ms": round(max(ms), 2) if ms else None,
        "mean_ms": round(statistics.fmean(ms), 2) if ms else None,
    }


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1]))))
