"""The log: every Web Connector session and every request/response pair, searchable, with the raw qbXML
pretty-printed (credentials masked) and QuickBooks' status codes explained."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from qbsync.service.pages.lookup import (
    all_connections,
    connection_or_404,
    connection_secrets,
    error_answers_filter,
    explain_status,
    page_count,
    page_number,
    runtime,
)
from qbsync.service.pages.xmlview import Masker
from qbsync.storage.models import Connection, Exchange, JobAttempt, QbwcSession, QueueJob

blueprint = Blueprint("log", __name__, url_prefix="/log")

PAGE_SIZE = 50
SESSIONS_SHOWN = 20
# Status codes are 32-bit integers in the database; anything larger cannot match and overflows the query.
MAX_STATUS_CODE = 2**31 - 1


@dataclass
class LogSearch:
    """The log's search form, parsed; ``errors`` explains any field that could not be used."""

    connection: str = ""
    record: str = ""
    order: str = ""
    status: int | None = None
    only_errors: bool = False
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1
    raw: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_args(cls, args: Any) -> LogSearch:
        raw = {k: args.get(k, "").strip()
               for k in ("connection", "record", "order", "status", "errors", "from", "to")}
        found = cls(connection=raw["connection"], record=raw["record"], order=raw["order"].lstrip("#"),
                    only_errors=raw["errors"] == "1", raw=raw)
        if raw["status"]:
            try:
                found.status = int(raw["status"])
            except ValueError:
                found.errors["status"] = f"A status code is a number such as 3100, not {raw['status']!r}."
            else:
                if not -MAX_STATUS_CODE <= found.status <= MAX_STATUS_CODE:
                    found.status = None
                    found.errors["status"] = f"{raw['status'][:20]!r} is not a QuickBooks status code."
        for key, attr in (("from", "date_from"), ("to", "date_to")):
            if raw[key]:
                try:
                    setattr(found, attr, date.fromisoformat(raw[key]))
                except ValueError:
                    found.errors[key] = f"Enter the date as YYYY-MM-DD, not {raw[key]!r}."
        if found.date_from and found.date_to and found.date_from > found.date_to:
            found.errors["to"] = "The end date is before the start date."
        found.page = page_number(args.get("page", 1))
        return found

    def args(self, **changes: Any) -> dict[str, Any]:
        values: dict[str, Any] = dict(self.raw)
        values["page"] = self.page
        values.update(changes)
        return {k: v for k, v in values.items() if v not in ("", None) and not (k == "page" and v == 1)}

    def time_range(self) -> tuple[datetime | None, datetime | None]:
        """[start, end) in stored time for the chosen dates (whole days, inclusive)."""
        start = datetime.combine(self.date_from, datetime.min.time()) if self.date_from else None
        # The last day the calendar holds has no "next day": no upper bound is the same range.
        end = (datetime.combine(self.date_to + timedelta(days=1), datetime.min.time())
               if self.date_to and self.date_to < date.max else None)
        return start, end


def search_attempts(session: Session, search: LogSearch, connection_id: int | None) -> Select:
    """The request/response rows (one per job per exchange) matching ``search``."""
    stmt = (select(JobAttempt, Exchange, QueueJob)
            .join(Exchange, Exchange.id == JobAttempt.exchange_id)
            .outerjoin(QueueJob, QueueJob.id == JobAttempt.job_id))
    if connection_id is not None:
        stmt = stmt.where(JobAttempt.connection_id == connection_id)
    if search.record:
        like = f"%{search.record}%"
        stmt = stmt.where(or_(JobAttempt.label.ilike(like), QueueJob.label.ilike(like),
                              QueueJob.record_id == search.record, JobAttempt.request_id == search.record))
    if search.order:
        like = f"%{search.order}%"
        stmt = stmt.where(QueueJob.record_type == "order",
                          or_(QueueJob.label.ilike(like), JobAttempt.label.ilike(like),
                              QueueJob.record_id == search.order))
    if search.status is not None:
        stmt = stmt.where(JobAttempt.status_code == search.status)
    if search.only_errors:
        stmt = stmt.where(error_answers_filter())
    start, end = search.time_range()
    if start is not None:
        stmt = stmt.where(JobAttempt.created_at >= start)
    if end is not None:
        stmt = stmt.where(JobAttempt.created_at < end)
    return stmt


@blueprint.get("")
def index() -> Any:
    """Sessions and request/response pairs, searchable."""
    search = LogSearch.from_args(request.args)
    with runtime().db.transaction() as session:
        connections = all_connections(session)
        conn = connection_or_404(session, search.connection) if search.connection else None
        conn_id = conn.id if conn else None
        rows: list[Any] = []
        total = 0
        if not search.errors:
            stmt = search_attempts(session, search, conn_id)
            total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
            rows = session.execute(stmt.order_by(JobAttempt.id.desc())
                                   .offset((search.page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
        sessions_stmt = select(QbwcSession).order_by(QbwcSession.started_at.desc()).limit(SESSIONS_SHOWN)
        if conn_id is not None:
            sessions_stmt = sessions_stmt.where(QbwcSession.connection_id == conn_id)
        start, end = search.time_range()
        if start is not None and not search.errors:
            sessions_stmt = sessions_stmt.where(QbwcSession.last_seen_at >= start)
        if end is not None and not search.errors:
            sessions_stmt = sessions_stmt.where(QbwcSession.started_at < end)
        sessions = list(session.scalars(sessions_stmt))
        names = {c.id: c.name for c in connections}
        maskers = {c.id: Masker.of(connection_secrets(c)) for c in connections}
        notes = {s.id: maskers[s.connection_id].text(s.last_error or s.result or "") for s in sessions}
        pages = page_count(total, PAGE_SIZE)
        if search.page > pages:  # past the end: show the last page instead
            return redirect(url_for("log.index", **search.args(page=pages)))
        return render_template(
            "log/index.html", search=search, connections=connections, names=names, sessions=sessions,
            notes=notes, rows=[(a, e, j, explain_status(a.status_code)) for a, e, j in rows], total=total,
            pages=pages,
        )


@blueprint.get("/sessions/<int:session_id>")
def session(session_id: int) -> Any:
    """One Web Connector session and its round trips."""
    with runtime().db.transaction() as db_session:
        qb_session = db_session.get(QbwcSession, session_id)
        if qb_session is None:
            abort(404, description=f"There is no Web Connector session #{session_id}.")
        conn = db_session.get(Connection, qb_session.connection_id)
        exchanges = list(db_session.scalars(select(Exchange).where(Exchange.session_id == session_id)
                                            .order_by(Exchange.seq)))
        failures = dict(db_session.execute(
            select(JobAttempt.exchange_id, func.count()).join(Exchange, Exchange.id == JobAttempt.exchange_id)
            # Errors only: a look-up that finds nothing (statusCode 1, severity Info) is an ordinary answer.
            .where(Exchange.session_id == session_id, error_answers_filter())
            .group_by(JobAttempt.exchange_id)
        ).all())
        masker = Masker.of(connection_secrets(conn))
        return render_template("log/session.html", qb_session=qb_session, conn=conn, exchanges=exchanges,
                               failures=failures, last_error=masker.text(qb_session.last_error),
                               result=masker.text(qb_session.result))


@blueprint.get("/exchanges/<int:exchange_id>")
def exchange(exchange_id: int) -> Any:
    """One round trip: the qbXML sent, QuickBooks' answer, and each job's part in it."""
    with runtime().db.transaction() as session:
        found = session.get(Exchange, exchange_id)
        if found is None:
            abort(404, description=f"There is no exchange #{exchange_id}.")
        conn = session.get(Connection, found.connection_id)
        masker = Masker.of(connection_secrets(conn))
        attempts = session.execute(
            select(JobAttempt, QueueJob).outerjoin(QueueJob, QueueJob.id == JobAttempt.job_id)
            .where(JobAttempt.exchange_id == exchange_id).order_by(JobAttempt.id)
        ).all()
        return render_template(
            "log/exchange.html", exchange=found, conn=conn, request_xml=masker.xml(found.request_xml),
            response_xml=masker.xml(found.response_xml), message=masker.text(found.message),
            attempts=[(a, j, explain_status(a.status_code)) for a, j in attempts],
        )
