"""gunicorn settings for a server deployment (`gunicorn -c deploy/gunicorn.conf.py qbsync.service.wsgi:app`).

Every web process is stateless: sessions, tickets, the queue and webhooks live in PostgreSQL/Redis, so
add processes or machines behind the load balancer freely.
"""

import gc
import multiprocessing
import os

from qbsync.service.logging_setup import dict_config

bind = os.environ.get("QBSYNC_BIND", "127.0.0.1:8000")
# Two processes per core with a few threads each: on 2 cores this shape (4 x 3) kept webhook ingest at
# 500/s under 50 ms p99 where fewer processes with more threads queued behind the GIL (bench/).
workers = int(os.environ.get("QBSYNC_WEB_WORKERS", multiprocessing.cpu_count() * 2))
threads = int(os.environ.get("QBSYNC_WEB_THREADS", 3))
worker_class = "gthread"
# The Web Connector waits for each call; QuickBooks answers can be large. Keep well above a slow exchange.
timeout = 120
graceful_timeout = 30
keepalive = 5
# Each worker touches a heartbeat file on every request: in memory, that is a few percent of a webhook's
# CPU less than on disk (and a disk that stalls cannot make the arbiter think the worker hung).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# Recycle workers now and then (a leak can never grow for ever), but rarely: a retiring worker drops its
# keep-alive connections, which at 500 deliveries a second shows up as a latency spike.
max_requests = 50000
max_requests_jitter = 5000
# JSON lines on stderr for gunicorn's own messages too; qbsync writes one access line per request itself
# (with the X-Request-ID nginx sets), so gunicorn's access log stays off.
accesslog = None
errorlog = "-"
logconfig_dict = dict_config(os.environ.get("QBSYNC_LOG_LEVEL", "INFO"))
forwarded_allow_ips = os.environ.get("QBSYNC_FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_worker_init(worker: object) -> None:
    """Keep the objects every worker starts with (the app, its modules) out of garbage collection.

    Without this a full collection walks them all, a pause of tens of milliseconds in the middle of
    requests now and then (the webhook ingest's p99).
    """
    gc.freeze()
