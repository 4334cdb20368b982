"""The webhook load generator, run as its own process: ``python -m bench.loadgen '<json options>'``.

It signs one WooCommerce order delivery per request (every delivery different), then either sends at a
fixed rate (open loop: latency counts from when each request was due, so falling behind shows) or as fast
as ``concurrency`` keep-alive connections allow (closed loop), for a bounded time. Prints one JSON object.

It speaks plain HTTP/1.1 over asyncio streams on one thread: on a 2-core machine the client shares the
CPU with the server it measures, and a full HTTP client library in many threads would take a core of
its own and make the server look slower than it is.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from qbsync.simulator.storefront_data import generate_orders
from qbsync.webhooks.signatures import sign

# The most connections the fixed-rate mode opens when every open one is busy (a real platform opens
# more as the receiver slows down; the bound keeps a stalled server from exhausting ports).
MAX_CONNECTIONS = 256


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


def raw_request(host: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """One HTTP/1.1 POST, as bytes on the wire."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class HttpConnection:
    """One keep-alive connection: send a request, read the status line, headers and body."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> HttpConnection:
        return cls(*await asyncio.open_connection(host, port))

    async def post(self, raw: bytes) -> tuple[int, bool]:
        """Send ``raw``; the response's status and whether the connection can be used again."""
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        length, closing = 0, False
        for line in header_lines:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                closing = True
        if length:
            await self.reader.readexactly(length)
        if closing:  # e.g. a gunicorn worker retiring after max_requests: answered, then gone
            self.close()
        return int(status_line.split(" ", 2)[1]), not closing

    def close(self) -> None:
        self.writer.close()


async def _run(options: dict[str, Any]) -> dict[str, Any]:
    url = urlsplit(options["url"])
    host, port = url.hostname or "127.0.0.1", url.port or 80
    rate, duration = options.get("rate"), float(options["duration"])
    concurrency = int(options.get("concurrency", 16))
    count = int(rate * duration) if rate else int(options.get("max_requests", 2_000 * duration))
    requests = [raw_request(f"{host}:{port}", options["path"], body, headers)
                for body, headers in deliveries(count, options["secret"], int(options.get("seed", 1)))]
    latencies: list[float] = []
    statuses: Counter = Counter()
    finished: list[float] = []
    idle: list[HttpConnection] = []
    opened = 0
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.5

    async def send(index: int, due: float, conn: HttpConnection | None) -> HttpConnection | None:
        """Send request ``index``; the connection back if it can be used again."""
        nonlocal opened
        status: int | str
        for attempt in (1, 2):
            reused = conn is not None
            try:
                if conn is None:
                    conn = await HttpConnection.open(host, port)
                    opened += 1
                status, reusable = await conn.post(requests[index])
                if not reusable:
                    conn = None
                break
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                if conn is not None:
                    conn.close()
                status, conn = type(exc).__name__, None
                # The server closed an idle keep-alive connection before reading the request (gunicorn's
                # keepalive timeout): send it again on a new connection, as HTTP clients do.
                stale = isinstance(exc, ConnectionResetError) or (
                    isinstance(exc, asyncio.IncompleteReadError) and not exc.partial)
                if not (reused and stale and attempt == 1):
                    break
        done = loop.time()
        latencies.append(done - due)
        statuses[status] += 1
        finished.append(done)
        return conn

    if rate:
        slots = asyncio.Semaphore(MAX_CONNECTIONS)

        async def one(index: int, due: float) -> None:
            async with slots:
                conn = await send(index, due, idle.pop() if idle else None)
                if conn is not None:
                    idle.append(conn)

        tasks = []
        for index in range(count):
            due = start + index / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(index, due)))
        await asyncio.wait(tasks, timeout=120)
    else:
        stop_at = start + duration
        next_index = iter(range(count))

        async def closed_loop() -> None:
            await asyncio.sleep(max(0.0, start - loop.time()))
            conn: HttpConnection | None = None
            for index in next_index:
                due = loop.time()
                if due >= stop_at:
                    break
                conn = await send(index, due, conn)
            if conn is not None:
                conn.close()

        await asyncio.gather(*(closed_loop() for _ in range(concurrency)))
    for conn in idle:
        conn.close()
    elapsed = (max(finished) - start) if finished else 0.0
    ms = [x * 1000 for x in latencies]
    return {
        "mode": "fixed rate" if rate else "as fast as possible",
        "target_rate": rate, "concurrency": None if rate else concurrency, "connections": opened,
        "sent": len(latencies),
        "ok": statuses.get(200, 0), "statuses": {str(k): v for k, v in statuses.items()},
        "seconds": round(elapsed, 2), "per_second": round(len(latencies) / elapsed, 1) if elapsed else None,
        "p50_ms": round(percentile(ms, 0.50) or 0, 2), "p90_ms": round(percentile(ms, 0.90) or 0, 2),
        "p99_ms": round(percentile(ms, 0.99) or 0, 2), "max_ms": round(max(ms), 2) if ms else None,
        "mean_ms": round(statistics.fmean(ms), 2) if ms else None,
        "slowest_by_second_ms": _slowest_by_second(latencies, finished, start),
    }


def _slowest_by_second(latencies: list[float], finished: list[float], start: float) -> list[float]:
    """The slowest answer finished in each second of the run: shows whether slow answers come in bursts."""
    slowest: dict[int, float] = {}
    for latency, done in zip(latencies, finished, strict=True):
        second = int(done - start)
        slowest[second] = max(slowest.get(second, 0.0), latency)
    return [round(slowest.get(s, 0.0) * 1000, 1) for s in range(max(slowest) + 1)] if slowest else []


def run(options: dict[str, Any]) -> dict[str, Any]:
    """Run the load described by ``options`` and return its numbers."""
    return asyncio.run(_run(options))


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1]))))
