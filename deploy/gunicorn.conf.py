"""gunicorn settings for a server deployment (`gunicorn -c deploy/gunicorn.conf.py qbsync.service.wsgi:app`).

Every web process is stateless: sessions, tickets, the queue and webhooks live in PostgreSQL/Redis, so
add processes or machines behind the load balancer freely.
"""

import multiprocessing
import os

from qbsync.service.logging_setup import dict_config

bind = os.environ.get("QBSYNC_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("QBSYNC_WEB_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("QBSYNC_WEB_THREADS", 4))
worker_class = "gthread"
# The Web Connector waits for each call; QuickBooks answers can be large. Keep well above a slow exchange.
timeout = 120
graceful_timeout = 30
keepalive = 5
max_requests = 5000
max_requests_jitter = 500
# JSON lines on stderr for gunicorn's own messages too; qbsync writes one access line per request itself
# (with the X-Request-ID nginx sets), so gunicorn's access log stays off.
accesslog = None
errorlog = "-"
logconfig_dict = dict_config(os.environ.get("QBSYNC_LOG_LEVEL", "INFO"))
forwarded_allow_ips = os.environ.get("QBSYNC_FORWARDED_ALLOW_IPS", "127.0.0.1")
