"""Backfill ("Push") of 50,000 WooCommerce orders from the storefront REST double: records per second and
the memory of the process running it.

The double serves the orders from this process; the push itself runs in a child process (as an rq
worker or the embedded thread pool would), so its peak memory is measured on its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from sqlalchemy import func, select

from bench import machine, results
from bench.stack import REPO, Stack, peak_rss_mb, postgres_url
from qbsync.simulator.storefront import StorefrontDouble
from qbsync.simulator.storefront_data import make_orders
from qbsync.storage.models import PushRun, QueueJob
from qbsync.storefronts.backfill import start_push

NAME = "backfill"
ORDERS = 50_000
LIMIT_SECONDS = 480.0  # the push stops here if it has not finished: the rate is what is measured
GOALS = {"memory": "flat (pages are handled one at a time)"}


class _TimeUp(Exception):
    """The push ran for the benchmark's time limit."""


def _child(push_id: int, limit_seconds: float) -> None:
    """Run the push in this process for at most ``limit_seconds``; print its progress and peak memory."""
    from qbsync.storefronts.backfill import run_push

    started = time.perf_counter()
    samples: list[tuple[float, int]] = []

    def progress(update: Any) -> None:
        elapsed = time.perf_counter() - started
        samples.append((round(elapsed, 1), int(update.read)))
        if elapsed > limit_seconds:
            raise _TimeUp

    try:
        state = run_push(push_id, on_progress=progress)
    except _TimeUp:
        state = "stopped at the time limit"
    seconds = time.perf_counter() - started
    # VmHWM, not ru_maxrss: Linux carries the parent's peak (the store double's 50,000 orders) into
    # ru_maxrss across fork and exec.
    print(json.dumps({"state": state, "seconds": round(seconds, 1), "peak_rss_mb": peak_rss_mb(os.getpid()),
                      "samples": samples}))


def _rate(samples: list[list[float]], first: bool) -> float | None:
    """Records per second over the first (or last) fifth of the run."""
    if len(samples) < 5:
        return None
    part = max(2, len(samples) // 5)
    window = samples[:part] if first else samples[-part:]
    (t0, r0), (t1, r1) = window[0], window[-1]
    return round((r1 - r0) / (t1 - t0)) if t1 > t0 else None


def _one(setup: str, stack: Stack, store: StorefrontDouble) -> dict[str, Any]:
    assert stack.runtime is not None
    connection = stack.add_connection(store_url=store.base_url, api_credentials={
        "consumer_key": store.consumer_key, "consumer_secret": store.consumer_secret})
    run = start_push(stack.runtime, connection, "order", {}, dispatch=False)
    done = subprocess.run([sys.executable, "-m", "bench.backfill", "child", str(run.id), str(LIMIT_SECONDS)],
                          cwd=REPO, env=stack.env(), capture_output=True, text=True,
                          timeout=LIMIT_SECONDS + 600)
    if done.returncode != 0:
        raise RuntimeError(f"the push failed: {done.stderr[-3000:]}")
    child = json.loads(done.stdout.strip().splitlines()[-1])
    database = stack.database_version()
    with stack.runtime.db.transaction() as session:
        push = session.get(PushRun, run.id)
        jobs = session.scalar(select(func.count()).select_from(QueueJob).where(
            QueueJob.connection_id == connection.id, QueueJob.kind == "order"))
        result = {"setup": setup, "orders_in_store": ORDERS, "state": child["state"], "read": push.read,
                  "queued": push.queued, "skipped": push.skipped, "order_jobs": jobs,
                  "seconds": child["seconds"], "peak_rss_mb": child["peak_rss_mb"],
                  "records_per_second": round(push.read / child["seconds"]) if child["seconds"] else None,
                  "first_fifth_per_second": _rate(child["samples"], first=True),
                  "last_fifth_per_second": _rate(child["samples"], first=False),
                  "database": database}
    print(f"  {setup}: read {result['read']} orders in {result['seconds']} s "
          f"({result['records_per_second']}/s), queued {result['queued']}, "
          f"peak RSS {result['peak_rss_mb']} MB")
    return result


def run() -> dict[str, Any]:
    started = time.perf_counter()
    store = StorefrontDouble()
    store.add_orders(make_orders(ORDERS, "woocommerce", seed=3), platform="woocommerce")
    print(f"  storefront double with {ORDERS} orders built in {time.perf_counter() - started:.1f} s")
    runs = []
    with store:
        with Stack.sqlite() as stack:
            runs.append(_one("embedded (SQLite)", stack, store))
        pg = postgres_url()
        if pg:
            with Stack(database_url=pg) as stack:
                runs.append(_one("PostgreSQL", stack, store))
    info = machine.describe(", ".join(sorted({r["database"] for r in runs})))
    notes = ["the store double runs in the benchmark process on the same cores; serving its pages is part "
             "of the time", f"each push is stopped after {LIMIT_SECONDS:.0f} s if it has not finished; "
             "records/s is over what it read, with the rate of its first and last fifth"]
    path = results.save(NAME, info, runs, GOALS, notes)
    print(results.table(runs, ["setup", "read", "queued", "skipped", "seconds", "records_per_second",
                               "first_fifth_per_second", "last_fifth_per_second", "peak_rss_mb", "state"]))
    print(f"written {path}")
    return {"runs": runs}


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "child":
    _child(int(sys.argv[2]), float(sys.argv[3]))
