"""How long an rq worker takes to exit: ``--burst`` once the queue is empty, and after SIGTERM when idle.

rq 3.0 with redis-py 8.2 could take 60 s (see qbsync/service/rq_worker.py). Measured for rq's stock
``Worker`` (what ``qbsync worker`` ran before), for :class:`qbsync.service.rq_worker.QbsyncWorker` alone,
and for the ``qbsync worker`` command. Times run from the moment the worker starts leaving
(its "unsubscribing" log line for --burst; the signal for SIGTERM) to the process's exit.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import machine, results
from bench.stack import REPO, Stack, redis_url

NAME = "worker_exit"
RUNS = 10
GOALS = {"exit": "within a few seconds, every time (no 60 s waits)"}
# The worker class alone, as `qbsync worker` builds it (without the CLI's start-up and shut-down).
BARE = ("import os\nfrom redis import Redis\nfrom rq import Queue, Worker\n"
        "from qbsync.service.rq_worker import QbsyncWorker\n"
        "r = Redis.from_url(os.environ['QBSYNC_REDIS_URL'])\n"
        "{cls}([Queue(os.environ['QBSYNC_RQ_QUEUE'], connection=r)], connection=r).work(burst={burst})\n")
VARIANTS = {
    "rq Worker (before)": "Worker",  # what `qbsync worker` ran before QbsyncWorker
    "QbsyncWorker": "QbsyncWorker",
    "qbsync worker (CLI)": None,
}


def _command(variant: str, burst: bool) -> list[str]:
    cls = VARIANTS[variant]
    if cls is not None:
        return [sys.executable, "-c", BARE.format(cls=cls, burst=burst)]
    return [sys.executable, "-m", "qbsync.service.cli", "worker"] + (["--burst"] if burst else [])


def _wait_for(log: Path, text: str, popen: subprocess.Popen, timeout: float = 120) -> float:
    """The moment ``text`` appears in ``log`` (polled every 5 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return time.monotonic()
        if popen.poll() is not None and text not in log.read_text(errors="replace"):
            raise RuntimeError(f"worker exited before {text!r}: {log.read_text()[-1500:]}")
        time.sleep(0.005)
    raise RuntimeError(f"no {text!r} within {timeout} s")


def _one(stack: Stack, variant: str, burst: bool, n: int) -> float:
    log = stack.tmp / f"worker-{variant[:5]}-{burst}-{n}.log"
    with open(log, "wb") as out:
        popen = subprocess.Popen(_command(variant, burst), env=stack.env(), stdout=out,
                                 stderr=subprocess.STDOUT, cwd=REPO)
    try:
        if burst:
            started = _wait_for(log, "unsubscribing", popen)
        else:
            _wait_for(log, "Listening on", popen)
            time.sleep(0.5)
            started = time.monotonic()
            popen.send_signal(signal.SIGTERM)
        popen.wait(timeout=180)
        return round(time.monotonic() - started, 2)
    finally:
        if popen.poll() is None:
            popen.kill()
            popen.wait()


def run() -> None:
    """Measure both cases for both workers and store the figures."""
    redis = redis_url()
    if redis is None:
        raise RuntimeError("this benchmark needs Redis (QBSYNC_BENCH_REDIS_URL)")
    load = os.getloadavg()
    rows = []
    with Stack.sqlite() as stack:
        stack.redis_url = redis
        for variant in VARIANTS:
            for burst in (True, False):
                times = [_one(stack, variant, burst, n) for n in range(RUNS)]
                case = "--burst, empty queue" if burst else "SIGTERM when idle"
                rows.append({"worker": variant, "case": case, "runs": RUNS,
                             "median_s": statistics.median(times), "max_s": max(times),
                             "over_10_s": sum(t > 10 for t in times), "times_s": times})
                print(results.table(rows[-1:], ["worker", "case", "runs", "median_s", "max_s", "over_10_s"]))
        described = machine.describe(database_version=stack.database_version(),
                                     redis_version=_redis_version(redis))
    described["load_average_at_start"] = [round(x, 2) for x in load]
    path = results.save(NAME, described, rows, GOALS, [
        "From the worker starting to leave (--burst: its 'unsubscribing' log line; SIGTERM: the signal) to "
        "its exit. 'rq Worker (before)' is the class `qbsync worker` ran before QbsyncWorker; the CLI row "
        "adds the command's own start-up objects to the exit. Other work shared the 2 cores (see the load "
        "average): the 60 s waits are the finding, the sub-second figures are noisy.",
    ])
    print(f"saved {path}")


def _redis_version(url: str) -> str | None:
    from redis import Redis

    return str(Redis.from_url(url).info("server").get("redis_version"))
