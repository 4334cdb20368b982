"""Prometheus metrics at ``/metrics``, read from the database at scrape time.

Nothing is counted in process memory: every number is a cheap aggregate over the tables (webhook
deliveries, queue jobs, sessions, exchanges, job attempts), so any number of web processes behind a load
balancer report the same truth, and a restart loses nothing. The text exposition format 0.0.4 is written
directly (``prometheus_client`` is not a dependency); it is small and fully specified:
https://prometheus.io/docs/instrumenting/exposition_formats/

Hook: ``metrics.register(app)`` in the app factory.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask, Response, current_app, request
from sqlalchemy import ColumnElement, case, extract, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from qbsync.storage.models import (
    Connection,
    Exchange,
    JobAttempt,
    QbwcSession,
    QueueJob,
    WebhookDelivery,
    utcnow,
)

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Web Connector session lengths, in seconds: most end in seconds, a big backlog takes minutes.
SESSION_BUCKETS: tuple[float, ...] = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600)

Labels = tuple[tuple[str, str], ...]


@dataclass
class Family:
    """One metric family: its name, type and help text, and its samples (suffix, labels, value)."""

    name: str
    kind: str  # "gauge" | "counter" | "histogram"
    help: str
    samples: list[tuple[str, Labels, float]] = field(default_factory=list)

    def add(self, value: float, suffix: str = "", **labels: str) -> None:
        self.samples.append((suffix, tuple(labels.items()), value))


# --- the text format ------------------------------------------------------------------------------


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def render(families: Iterable[Family]) -> str:
    """The families in the Prometheus text exposition format 0.0.4."""
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for suffix, labels, value in family.samples:
            label_text = ",".join(f'{key}="{_escape_label(str(val))}"' for key, val in labels)
            lines.append(f"{family.name}{suffix}{{{label_text}}} {_number(value)}" if label_text
                         else f"{family.name}{suffix} {_number(value)}")
    return "\n".join(lines) + "\n"


# --- reading the numbers ---------------------------------------------------------------------------


def _names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Connection.id, Connection.name)).all())


def _name(names: dict[int, str], connection_id: int) -> str:
    # A connection deleted between the two queries still gets a stable label.
    return names.get(connection_id, f"#{connection_id}")


def _state_gauge(session: Session, names: dict[int, str], name: str, help_text: str, model: Any) -> Family:
    family = Family(name, "gauge", help_text)
    rows = session.execute(
        select(model.connection_id, model.state, func.count()).group_by(model.connection_id, model.state)
        .order_by(model.connection_id, model.state)
    )
    for connection_id, state, count in rows:
        family.add(count, connection=_name(names, connection_id), state=state)
    return family


def _duration_seconds(session: Session) -> ColumnElement[float]:
    if session.get_bind().dialect.name == "postgresql":
        return extract("epoch", QbwcSession.closed_at - QbwcSession.started_at)
    return (func.julianday(QbwcSession.closed_at) - func.julianday(QbwcSession.started_at)) * 86400.0


def _session_durations(session: Session, names: dict[int, str]) -> Family:
    family = Family("qbsync_qbwc_session_duration_seconds", "histogram",
                    "Length of ended Web Connector sessions (authenticate to close, stale or failure).")
    seconds = _duration_seconds(session)
    columns = [func.sum(case((seconds <= bound, 1), else_=0)) for bound in SESSION_BUCKETS]
    rows = session.execute(
        select(QbwcSession.connection_id, func.count(), func.coalesce(func.sum(seconds), 0.0), *columns)
        .where(QbwcSession.closed_at.is_not(None))
        .group_by(QbwcSession.connection_id).order_by(QbwcSession.connection_id)
    )
    for connection_id, count, total, *cumulative in rows:
        connection = _name(names, connection_id)
        for bound, below in zip(SESSION_BUCKETS, cumulative, strict=True):
            family.add(below or 0, "_bucket", connection=connection, le=_number(bound))
        family.add(count, "_bucket", connection=connection, le="+Inf")
        family.add(max(0.0, float(total or 0.0)), "_sum", connection=connection)
        family.add(count, "_count", connection=connection)
    return family


def _exchange_families(session: Session, names: dict[int, str]) -> list[Family]:
    exchanges = Family("qbsync_qbwc_exchanges_total", "counter",
                       "Web Connector round trips (one sendRequestXML with its answer).")
    requests = Family("qbsync_qbwc_exchange_requests_total", "counter",
                      "qbXML requests sent to QuickBooks inside those round trips.")
    service = Family("qbsync_qbwc_exchange_service_milliseconds_total", "counter",
                     "Milliseconds qbsync itself spent building requests and applying answers.")
    rows = session.execute(
        select(Exchange.connection_id, func.count(), func.coalesce(func.sum(Exchange.job_count), 0),
               func.coalesce(func.sum(Exchange.service_ms), 0.0))
        .group_by(Exchange.connection_id).order_by(Exchange.connection_id)
    )
    for connection_id, count, job_count, service_ms in rows:
        connection = _name(names, connection_id)
        exchanges.add(count, connection=connection)
        requests.add(job_count, connection=connection)
        service.add(float(service_ms), connection=connection)
    return [exchanges, requests, service]


def _quickbooks_statuses(session: Session, names: dict[int, str]) -> Family:
    family = Family("qbsync_quickbooks_requests_total", "counter",
                    "Requests sent to QuickBooks by the statusCode it answered "
                    '("none": no answer yet, or the answer was lost).')
    rows = session.execute(
        select(JobAttempt.connection_id, JobAttempt.status_code, func.count())
        .group_by(JobAttempt.connection_id, JobAttempt.status_code)
        .order_by(JobAttempt.connection_id, JobAttempt.status_code)
    )
    for connection_id, status_code, count in rows:
        family.add(count, connection=_name(names, connection_id),
                   status_code="none" if status_code is None else str(status_code))
    return family


def _oldest_ready(session: Session, names: dict[int, str], now: datetime) -> Family:
    family = Family("qbsync_queue_oldest_pending_age_seconds", "gauge",
                    "Age of the oldest pending queue job per connection (a growing value means sync stalls).")
    rows = session.execute(
        select(QueueJob.connection_id, func.min(QueueJob.created_at))
        .where(QueueJob.state == "pending").group_by(QueueJob.connection_id).order_by(QueueJob.connection_id)
    )
    for connection_id, oldest in rows:
        if oldest is not None:
            family.add(max(0.0, (now - oldest).total_seconds()), connection=_name(names, connection_id))
    return family


def collect(session: Session, now: datetime | None = None) -> list[Family]:
    """Every metric family, read from the database through ``session``."""
    now = now or utcnow()
    names = _names(session)
    connections = Family("qbsync_connections", "gauge", "Configured connections.")
    connections.add(len(names))
    return [
        connections,
        _state_gauge(session, names, "qbsync_webhook_deliveries", "Stored webhook deliveries by their "
                     "result (stored, processed, duplicate, stale, ignored, invalid, failed).",
                     WebhookDelivery),
        _state_gauge(session, names, "qbsync_queue_jobs", "Queue jobs by state (queue depth).", QueueJob),
        _oldest_ready(session, names, now),
        _state_gauge(session, names, "qbsync_qbwc_sessions", "Web Connector sessions by state.", QbwcSession),
        _session_durations(session, names),
        *_exchange_families(session, names),
        _quickbooks_statuses(session, names),
    ]


def exposition(session: Session, now: datetime | None = None) -> str:
    """The whole ``/metrics`` page, including how long reading it took."""
    started = time.perf_counter()
    families = collect(session, now)
    took = Family("qbsync_metrics_scrape_duration_seconds", "gauge",
                  "Seconds this process spent reading the metrics from the database.")
    took.add(round(time.perf_counter() - started, 6))
    return render([*families, took])


# --- the route --------------------------------------------------------------------------------------


def _refusal(token: str | None, remote_addr: str | None, authorization: str | None) -> Response | None:
    """Why this scrape may not read the metrics (they name every connection), or None when it may.

    With QBSYNC_METRICS_TOKEN set, the scrape must send it as a bearer token (from anywhere); without it,
    only this machine may read them (Prometheus beside the service, or nginx's allow-listed location).
    """
    if token:
        scheme, _, sent = (authorization or "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode()):
            return None
        return Response("# qbsync: /metrics needs the bearer token set in QBSYNC_METRICS_TOKEN\n",
                        status=401, content_type=CONTENT_TYPE,
                        headers={"WWW-Authenticate": 'Bearer realm="qbsync metrics"'})
    try:
        loopback = ipaddress.ip_address((remote_addr or "").split("%")[0]).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return None
    return Response("# qbsync: /metrics answers only this machine; set QBSYNC_METRICS_TOKEN and send it as a "
                    "bearer token to scrape from elsewhere\n", status=403, content_type=CONTENT_TYPE)


def _metrics_view() -> Response:
    runtime = current_app.extensions["qbsync"]
    refused = _refusal(runtime.config.metrics_token, request.remote_addr,
                       request.headers.get("Authorization"))
    if refused is not None:
        log.warning("refused /metrics to %s (%s)", request.remote_addr, refused.status)
        return refused
    try:
        with runtime.db.transaction() as session:
            body = exposition(session)
    except SQLAlchemyError as exc:
        # A failed scrape (503) shows as up == 0 in Prometheus; the health check says the same.
        log.warning("metrics unavailable: database error %s", type(exc).__name__)
        return Response(f"# database unavailable: {type(exc).__name__}\n", status=503,
                        content_type=CONTENT_TYPE)
    return Response(body, content_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})


def register(app: Flask) -> None:
    """Serve ``GET /metrics`` on ``app`` (endpoint name "metrics", public like /healthz). Idempotent."""
    if "metrics" in app.view_functions:
        return
    app.add_url_rule("/metrics", endpoint="metrics", view_func=_metrics_view, methods=["GET"])

