"""The dashboard: per connection, the Web Connector's last contact, the queue, recent errors, records
synced per day, and plain warnings about what needs doing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, render_template, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qbsync.queue.causes import parked_causes
from qbsync.queue.company_file import refused_file, same_file
from qbsync.queue.jobs import counts_by_state
from qbsync.qwc.qwcfile import url_warnings
from qbsync.service.pages.charts import BarChart, daily_bars, last_days
from qbsync.service.pages.lookup import (
    all_connections,
    connection_secrets,
    error_answers_filter,
    is_local_request_host,
    qbwc_url,
    runtime,
)
from qbsync.service.pages.xmlview import Masker
from qbsync.storage.models import Connection, JobAttempt, QbwcSession, QueueJob, utcnow

blueprint = Blueprint("dashboard", __name__)

SILENT_AFTER = timedelta(hours=3)
CHART_DAYS = 14
QUEUE_STATES = ("pending", "in_flight", "waiting", "held", "parked")


@dataclass
class ConnectionHealth:
    """What the dashboard shows for one connection."""

    connection: Connection
    last_session: QbwcSession | None
    counts: dict[str, int]
    error_answers: int
    parked: int
    blocked: int  # jobs waiting, directly or not, on a parked job: they need the same person
    recent_errors: list[ErrorCause]
    chart: BarChart
    warnings: list[tuple[str, str, str]] = field(default_factory=list)  # (text, link, link label)
    last_result: str = ""  # the result of the last session that did work, credentials masked
    last_working_session: QbwcSession | None = None


@dataclass(frozen=True)
class ErrorCause:
    """One kind of QuickBooks error answer in the last 24 hours: how often, and the latest one."""

    status_code: int | None
    message: str
    count: int
    latest: JobAttempt


def error_causes(attempts: list[JobAttempt], limit: int) -> list[ErrorCause]:
    """Group error answers (newest first) by code and message, so one cause is one row."""
    groups: dict[tuple[int | None, str], list[JobAttempt]] = {}
    for attempt in attempts:
        groups.setdefault((attempt.status_code, attempt.status_message or ""), []).append(attempt)
    causes = [ErrorCause(code, message, len(found), found[0]) for (code, message), found in groups.items()]
    return causes[:limit]


def synced_per_day(session: Session, connection_id: int, since: datetime) -> dict[date, int]:
    """Storefront records finished per day (done jobs about a record), from ``since``."""
    day = func.date(QueueJob.done_at)
    rows = session.execute(
        select(day, func.count()).where(QueueJob.connection_id == connection_id, QueueJob.state == "done",
                                        QueueJob.record_type.is_not(None), QueueJob.done_at >= since)
        .group_by(day)
    )
    counts: dict[date, int] = {}
    for value, count in rows:
        if value is None:
            continue
        parsed = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
        counts[parsed] = counts.get(parsed, 0) + int(count)
    return counts


def health_of(session: Session, conn: Connection, now: datetime) -> ConnectionHealth:
    """Gather the dashboard numbers for ``conn``."""
    last = session.scalar(select(QbwcSession).where(QbwcSession.connection_id == conn.id)
                          .order_by(QbwcSession.last_seen_at.desc()).limit(1))
    counts = counts_by_state(session, conn.id)
    since = now - timedelta(hours=24)
    recent = select(JobAttempt).where(JobAttempt.connection_id == conn.id, JobAttempt.created_at >= since,
                                      error_answers_filter())
    error_answers = session.scalar(select(func.count()).select_from(recent.subquery())) or 0
    # The newest 500 error answers are plenty to name the few causes shown.
    recent_errors = error_causes(
        list(session.scalars(recent.order_by(JobAttempt.created_at.desc()).limit(500))), 5)
    # An idle poll ("nothing to do") says nothing about the books: show the last session that did work.
    working = session.scalar(select(QbwcSession).where(QbwcSession.connection_id == conn.id,
                                                       QbwcSession.exchanges > 0)
                             .order_by(QbwcSession.last_seen_at.desc()).limit(1))
    days = last_days(now.date(), CHART_DAYS)
    start = datetime.combine(days[0], datetime.min.time())
    chart = daily_bars(synced_per_day(session, conn.id, start), days)
    blocked = (sum(g.waiting_behind for g in parked_causes(session, conn.id))
               if counts.get("parked") else 0)
    health = ConnectionHealth(connection=conn, last_session=last, counts=counts, error_answers=error_answers,
                              parked=counts.get("parked", 0), blocked=blocked, recent_errors=recent_errors,
                              chart=chart)
    health.warnings = (file_warnings(session, conn) + warnings_for(health, now)
                       + setup_warnings(session, conn) + renamed_notes(session, conn))
    health.last_working_session = working
    if working is not None and working.result:
        health.last_result = Masker.of(connection_secrets(conn)).text(working.result)
    return health


def warnings_for(health: ConnectionHealth, now: datetime) -> list[tuple[str, str, str]]:
    """Plain sentences about what needs a person, each with a link to where to act."""
    conn = health.connection
    found: list[tuple[str, str, str]] = []
    last = health.last_session
    if last is None:
        found.append(("The Web Connector has never contacted qbsync for this connection: download the .qwc "
                      "file and add it to the Web Connector on the QuickBooks PC.",
                      url_for("connections.show", name=conn.name) + "#web-connector", "Get the .qwc file"))
    elif now - last.last_seen_at > SILENT_AFTER:
        hours = int((now - last.last_seen_at).total_seconds() // 3600)
        found.append((f"The Web Connector has not polled for {hours} hours: check that the QuickBooks PC is "
                      "on, QuickBooks is open and the application's Auto-Run box is ticked.",
                      url_for("log.index", connection=conn.name), "See the log"))
    # A session refused for another company file is said by file_warnings, with its fix.
    wrong_file = bool(last and last.company_file and not same_file(last.company_file, conn.company_file))
    if last is not None and last.state == "failed" and last.last_error and not wrong_file:
        error = Masker.of(connection_secrets(conn)).text(last.last_error)
        found.append((f"The last Web Connector session failed: {error}",
                      url_for("log.session", session_id=last.id), "See the session"))
    if health.parked:
        noun = "job needs" if health.parked == 1 else "jobs need"
        behind = (f" {health.blocked} more wait{'s' if health.blocked == 1 else ''} behind "
                  f"{'it' if health.parked == 1 else 'them'}." if health.blocked else "")
        found.append((f"{health.parked} {noun} attention.{behind}", url_for("errors.index"),
                      "See the sync errors"))
    return found


def file_warnings(session: Session, conn: Connection) -> list[tuple[str, str, str]]:
    """The Web Connector had another company file open than the connection's: nothing syncs until a person
    opens the right file or switches the connection."""
    other = refused_file(session, conn)
    if other is None:
        return []
    return [(f"Nothing is synced: the last update had the company file \"{other}\" open, but this connection "
             f"belongs to \"{conn.company_file}\". Open that file in QuickBooks, or switch the connection.",
             url_for("connections.show", name=conn.name) + "#company-file", "Company file")]


def setup_warnings(session: Session, conn: Connection) -> list[tuple[str, str, str]]:
    """After the first session: what the company setup decided, until a person reviewed it; and jobs held
    back because they name a record QuickBooks lacks."""
    from qbsync.queue import preflight, setup

    found: list[tuple[str, str, str]] = []
    link = url_for("company_setup.show", name=conn.name)
    state = setup.state(session, conn.id)
    if state["done"] and not state["reviewed"]:
        created = sum(1 for d in state["done"] if d["how"] == "created")
        chosen = len(state["done"]) - created
        found.append((f"QuickBooks was read: qbsync chose {chosen} of its records for the sync settings and "
                      f"created {created}.", link, "Review the company setup"))
    held = session.scalar(select(func.count()).select_from(QueueJob).where(
        QueueJob.connection_id == conn.id, QueueJob.state == "waiting", QueueJob.step == preflight.STEP)) or 0
    if held:
        found.append((f"{held} job{'s wait' if held != 1 else ' waits'} for a record QuickBooks lacks.", link,
                      "Choose it on the company setup page"))
    return found


def renamed_notes(session: Session, conn: Connection) -> list[tuple[str, str, str]]:
    """Customers and products QuickBooks has under another name than the store's, with where to see why."""
    from qbsync.queue import mappings

    found = []
    for kind, noun in (("customer", "customer"), ("product", "product")):
        count = mappings.renamed_count(session, conn.id, kind)
        if count:
            found.append((f"{count} {noun}{'s have' if count != 1 else ' has'} another name in QuickBooks "
                          "than in the store (cut to fit, characters changed, or a suffix added).",
                          url_for("mappings.show", name=conn.name, kind=kind, show="renamed"),
                          "See which and why"))
    return found


@blueprint.get("/")
def index() -> Any:
    """The dashboard."""
    now = utcnow()
    with runtime().db.transaction() as session:
        healths = [health_of(session, conn, now) for conn in all_connections(session)]
        page_warnings = https_warnings()
        return render_template("dashboard.html", healths=healths, page_warnings=page_warnings,
                               queue_states=QUEUE_STATES, now=now,
                               errors_since=(now - timedelta(hours=24)).date().isoformat())


def https_warnings() -> list[str]:
    """'https is not configured' when people and the Web Connector reach us over plain http remotely;
    and when this page was opened from elsewhere while the .qwc file can only name this machine."""
    found = [f"https is not configured: {text}" for text in url_warnings(qbwc_url())]
    config = runtime().config
    if not config.public_url and not config.trusts_forwarded_host and not is_local_request_host():
        found.append(f"QBSYNC_PUBLIC_URL is not set, so the .qwc file and webhook URLs name {qbwc_url()} "
                     "(this machine), not the address this page was opened at: set QBSYNC_PUBLIC_URL to the "
                     "https address the Web Connector and the store reach.")
    return found


@blueprint.get("/support")
def support() -> Any:
    """The .qwc file's AppSupport page: public (the Web Connector opens it without signing in), so it names
    no store and no connection; a bookkeeper follows it to sign in and see the last sync."""
    return render_template("support.html")
