"""The queue: what is waiting to go to QuickBooks, each job's record, qbXML and last answer, and the actions
a person takes (retry now, hold, release, remove), one job at a time or in bulk."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import Text, cast, exists, func, or_, select
from sqlalchemy.orm import Session

from qbsync.queue import jobs
from qbsync.queue.exchange import answer_of
from qbsync.queue.handlers import progress
from qbsync.queue.settings import SyncSettings
from qbsync.queue.summary import order_summary
from qbsync.service.pages.lookup import (
    all_connections,
    connection_or_404,
    connection_secrets,
    explain_status,
    latest_qbxml_version,
    page_count,
    page_number,
    runtime,
)
from qbsync.service.pages.xmlview import Masker
from qbsync.service.security import safe_next
from qbsync.storage.models import Connection, Exchange, IdMapping, JobAttempt, QueueJob, utcnow

log = logging.getLogger(__name__)

blueprint = Blueprint("queue", __name__, url_prefix="/queue")

PAGE_SIZE = 50
PREVIEW_SIZE = 200  # one Web Connector round trip's worth (batch_size' default)
STATES = ("pending", "in_flight", "waiting", "held", "parked", "done", "cancelled")
OPEN_VIEW = ("pending", "in_flight", "waiting", "held", "parked")
# Not a state: finished jobs that record a record the merchant's rules keep out of QuickBooks.
LEFT_OUT_VIEW = "left_out"
# Where a job is in its life decides whether its next request can be previewed.
PREVIEWABLE = ("pending", "waiting", "held", "parked")

ACTIONS: dict[str, tuple[Callable[..., None], str]] = {
    "retry": (jobs.retry_now, "queued to retry now"),
    "hold": (jobs.hold, "held"),
    "release": (jobs.release, "released"),
    "remove": (jobs.remove, "removed from the queue"),
}


def allowed_actions(job: QueueJob) -> list[str]:
    """The actions that fit the job's state (the queue's own checks still have the last word)."""
    found = []
    if job.state in ("parked", "held", "waiting", "cancelled") or (job.state == "pending" and job.not_before):
        found.append("retry")
    if job.state in ("pending", "waiting", "parked"):
        found.append("hold")
    if job.state == "held":
        found.append("release")
    if job.state not in ("in_flight", "done", "cancelled"):
        found.append("remove")
    return found


@dataclass(frozen=True)
class QueueFilter:
    """The list's filters, read from the query string."""

    connection: str = ""
    state: str = "open"
    kind: str = ""
    text: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: Any) -> QueueFilter:
        state = args.get("state", "open")
        if state not in (*STATES, "open", "all", LEFT_OUT_VIEW):
            state = "open"
        page = page_number(args.get("page", 1))
        return cls(connection=args.get("connection", ""), state=state, kind=args.get("kind", ""),
                   text=args.get("q", "").strip(), page=page)

    def args(self, **changes: Any) -> dict[str, Any]:
        """Query-string arguments for a link to this list (with ``changes``)."""
        values = {"connection": self.connection, "state": self.state, "kind": self.kind, "q": self.text,
                  "page": self.page}
        values.update(changes)
        return {k: v for k, v in values.items() if v not in ("", None) and not (k == "page" and v == 1)}


def query_jobs(session: Session, flt: QueueFilter) -> tuple[list[QueueJob], int]:
    """The page of jobs matching ``flt`` and how many match in all."""
    stmt = matching(session, flt)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(QueueJob.priority, QueueJob.id)
                           .offset((flt.page - 1) * PAGE_SIZE).limit(PAGE_SIZE))
    return list(rows), total


def matching(session: Session, flt: QueueFilter) -> Any:
    """SELECT of every job matching ``flt`` (all pages)."""
    stmt = select(QueueJob)
    if flt.connection:
        stmt = stmt.where(QueueJob.connection_id == connection_or_404(session, flt.connection).id)
    if flt.state == "open":
        stmt = stmt.where(QueueJob.state.in_(OPEN_VIEW))
    elif flt.state == LEFT_OUT_VIEW:
        stmt = stmt.where(QueueJob.state == "cancelled", QueueJob.reason.like(jobs.LEFT_OUT + "%"))
    elif flt.state != "all":
        stmt = stmt.where(QueueJob.state == flt.state)
    if flt.kind:
        stmt = stmt.where(QueueJob.kind == flt.kind)
    if flt.text:
        like = f"%{flt.text}%"
        conditions = [
            QueueJob.label.ilike(like), QueueJob.record_id == flt.text, QueueJob.reason.ilike(like),
            # The buyer's e-mail and name live in the record itself.
            cast(QueueJob.payload, Text).ilike(like),
            cast(QueueJob.progress, Text).ilike(like),  # as when the notes were part of the payload
            # The QuickBooks name the record is linked to (customer FullName, item name, RefNumber).
            exists(select(IdMapping.id).where(
                IdMapping.connection_id == QueueJob.connection_id,
                IdMapping.record_type == QueueJob.record_type,
                IdMapping.storefront_id == QueueJob.record_id,
                IdMapping.qb_name.ilike(like))),
        ]
        number = flt.text.lstrip("#")
        # isdecimal, not isdigit ("²" is a digit int() refuses); 18 digits always fit a 64-bit id.
        if number.isdecimal() and len(number) <= 18:
            conditions.append(QueueJob.id == int(number))
        stmt = stmt.where(or_(*conditions))
    return stmt


@blueprint.get("")
def index() -> Any:
    """The queue list, filtered and paginated."""
    flt = QueueFilter.from_args(request.args)
    with runtime().db.transaction() as session:
        rows, total = query_jobs(session, flt)
        connections = all_connections(session)
        names = {c.id: c.name for c in connections}
        kinds = session.scalars(select(QueueJob.kind).distinct().order_by(QueueJob.kind)).all()
        summaries = order_summaries(session, rows)
        pages = page_count(total, PAGE_SIZE)
        if flt.page > pages:  # past the end (a stale link, rows removed): show the last page instead
            return redirect(url_for("queue.index", **flt.args(page=pages)))
        return render_template("queue/index.html", jobs=rows, total=total, flt=flt, pages=pages,
                               connections=connections, names=names, kinds=kinds, states=STATES,
                               actions=ACTIONS, here=request.full_path, summaries=summaries)


def order_summaries(session: Session, rows: list[QueueJob]) -> dict[int, str]:
    """For the order jobs in ``rows``: customer, date, total and the transaction each becomes."""
    settings: dict[int, SyncSettings] = {}
    found: dict[int, str] = {}
    for job in rows:
        if job.kind != "order":
            continue
        if job.connection_id not in settings:
            conn = session.get(Connection, job.connection_id)
            settings[job.connection_id] = SyncSettings(conn.settings if conn else {})
        summary = order_summary(job.payload or {}, settings[job.connection_id])
        if summary is not None:
            found[job.id] = summary.text()
    return found


@blueprint.get("/preview")
def preview() -> Any:
    """What goes to QuickBooks next for one connection, in the order the Web Connector will get it."""
    with runtime().db.transaction() as session:
        connections = all_connections(session)
        if not connections:
            return redirect(url_for("connections.new"))
        name = request.args.get("connection") or connections[0].name
        conn = connection_or_404(session, name)
        upcoming = list(jobs.pending_ready(session, conn.id, utcnow(), PREVIEW_SIZE, lock=False))
        # Then what waits only on those (an order on its customer): it goes once they are in QuickBooks.
        for job in session.scalars(select(QueueJob).where(QueueJob.connection_id == conn.id,
                                                          QueueJob.state == "waiting")
                                   .order_by(QueueJob.priority, QueueJob.id).limit(PREVIEW_SIZE)):
            if len(upcoming) >= PREVIEW_SIZE:
                break
            blocker = jobs.root_blocker(session, job)
            if blocker is None or blocker.state == "pending":
                upcoming.append(job)
        shown = {job.id for job in upcoming}
        waiting = session.scalar(select(func.count()).select_from(QueueJob).where(
            QueueJob.connection_id == conn.id, QueueJob.state.in_(("waiting", "parked", "held")),
            QueueJob.id.not_in(shown))) or 0
        return render_template("queue/preview.html", conn=conn, connections=connections, upcoming=upcoming,
                               summaries=order_summaries(session, upcoming), waiting=waiting,
                               size=PREVIEW_SIZE)


@dataclass(frozen=True)
class Preview:
    """What the job would send next: the qbXML, or why there is none."""

    xml: str | None
    note: str | None


def preview_request(session: Session, job: QueueJob, conn: Connection) -> Preview:
    """Ask the job's handler to build its next request, then undo everything the build touched.

    Runs in the caller's transaction, which must be rolled back afterwards (handlers may look things up,
    add dependencies or queue other jobs while building).
    """
    try:
        from qbsync.queue.handlers import Context, Defer, Finish, Reject, Request, handler_for
    except ImportError as exc:
        return Preview(None, f"preview unavailable: the sync engine is not installed ({exc})")
    handler = handler_for(job.kind)
    if handler is None:
        return Preview(None, f"no handler for jobs of kind {job.kind!r}: this job cannot be sent")
    version = latest_qbxml_version(session, conn.id) or "13.0"
    ctx = Context(session, conn, SyncSettings(conn.settings), version, utcnow(),
                  f"{job.id}.{job.attempts + 1}")
    try:
        result = handler.build(ctx, job)
    except Exception as exc:  # a page must show a broken record, not crash on it
        log.warning("preview of job %s failed", job.id, exc_info=True)
        return Preview(None, f"the request could not be built: {exc}")
    if isinstance(result, Request):
        return Preview(_as_message(result.fragment, version), None)
    if isinstance(result, Finish):
        return Preview(None, f"nothing needs sending{': ' + result.reason if result.reason else ''}")
    if isinstance(result, Defer):
        return Preview(None, f"it must wait first: {result.reason}")
    if isinstance(result, Reject):
        return Preview(None, f"it cannot be sent: {result.reason}")
    return Preview(None, None)


def _as_message(fragment: str, version: str) -> str:
    try:
        from qbsync.qbxml.render import build_message

        return build_message([fragment], on_error="continueOnError", version=version)
    except Exception:  # show the bare request rather than nothing
        return fragment


def _last_answer(job: QueueJob, attempts: Any) -> str | None:
    """QuickBooks' answer to the job's last request that was answered, from its exchange."""
    for attempt, exchange in attempts:  # newest first
        if exchange.response_xml:
            return answer_of(job.last_request_xml, exchange.request_xml,
                             exchange.response_xml, attempt.request_id)
    return None


def _shown_payload(job: QueueJob) -> dict[str, Any]:
    """The job's payload as the page shows it: with its progress notes, kept in a column of their own."""
    notes = progress(job)
    return {**job.payload, "progress": notes} if notes else job.payload


@blueprint.get("/<int:job_id>")
def show(job_id: int) -> Any:
    """One job: its record, dependencies, attempts, qbXML and QuickBooks' last answer."""
    db = runtime().db
    with db.transaction() as session:
        job = session.get(QueueJob, job_id)
        if job is None:
            abort(404, description=f"There is no queue job #{job_id}.")
        conn = session.get(Connection, job.connection_id)
        masker = Masker.of(connection_secrets(conn))
        attempts = session.execute(
            select(JobAttempt, Exchange).join(Exchange, Exchange.id == JobAttempt.exchange_id)
            .where(JobAttempt.job_id == job.id).order_by(JobAttempt.id.desc())
        ).all()
        page = dict(
            job=job, conn=conn, payload=masker.data(_shown_payload(job)),
            dependencies=jobs.dependencies(session, job), dependents=jobs.dependents(session, job),
            attempts=[(a, e, explain_status(a.status_code)) for a, e in attempts],
            last_request=masker.xml(job.last_request_xml),
            last_response=masker.xml(job.last_response_xml or _last_answer(job, attempts)),
            status_help=explain_status(job.last_status_code), allowed=allowed_actions(job),
        )
    preview = None
    if job.state in PREVIEWABLE:
        session = db.sessions()
        try:
            fresh = session.get(QueueJob, job_id)
            fresh_conn = session.get(Connection, fresh.connection_id) if fresh else None
            if fresh is not None and fresh_conn is not None:
                found = preview_request(session, fresh, fresh_conn)
                preview = Preview(masker.xml(found.xml) if found.xml else None, found.note)
        finally:
            session.rollback()
            session.close()
    return render_template("queue/show.html", preview=preview, **page)


def _act(session: Session, job: QueueJob, action: str) -> str | None:
    """Apply ``action`` to ``job``; the JobStateError text when it does not fit the job's state."""
    func_, _done = ACTIONS[action]
    try:
        func_(session, job)
    except jobs.JobStateError as exc:
        return str(exc)
    log.info("queue job %s: %s by a person", job.id, action)
    return None


def _still_waiting(session: Session, job: QueueJob) -> str | None:
    """After a retry: why the job still cannot be sent (it waits on another job), or None."""
    if job.state != "waiting":
        return None
    blocker = jobs.root_blocker(session, job)
    if blocker is None:
        return None
    what = blocker.label or blocker.record_id or blocker.kind.replace("_", " ")
    text = f"it waits on {blocker.state.replace('_', ' ')} job #{blocker.id} ({what})"
    if blocker.state in ("parked", "held"):
        text += "; fix, retry or release that job first"
    return text


@blueprint.post("/<int:job_id>/<action>")
def act(job_id: int, action: str) -> Any:
    """Retry now, hold, release or remove one job."""
    if action not in ACTIONS:
        abort(404, description=f"{action!r} is not a queue action")
    with runtime().db.transaction() as session:
        job = session.get(QueueJob, job_id)
        if job is None:
            abort(404, description=f"There is no queue job #{job_id}.")
        error = _act(session, job, action)
        still_waiting = _still_waiting(session, job) if not error and action in ("retry", "release") else None
    if error:
        flash(f"Could not do that: {error}.", "error")
    elif still_waiting:
        flash(f"Job #{job_id} cannot go yet: {still_waiting}.", "error")
    else:
        flash(f"Job #{job_id} {ACTIONS[action][1]}.", "ok")
    return redirect(safe_next(request.form.get("next")) if request.form.get("next")
                    else url_for("queue.show", job_id=job_id))


@blueprint.post("/bulk")
def bulk() -> Any:
    """Apply one action to every ticked job."""
    action = request.form.get("action", "")
    back = safe_next(request.form.get("next")) if request.form.get("next") else url_for("queue.index")
    if action not in ACTIONS:
        flash("Choose what to do with the ticked jobs.", "error")
        return redirect(back)
    everything = request.form.get("all_matching") == "1"
    ids = sorted({int(v) for v in request.form.getlist("job_id") if v.isdecimal() and len(v) <= 18})
    if not ids and not everything:
        flash("Tick at least one job first.", "error")
        return redirect(back)
    done, errors = 0, []
    with runtime().db.transaction() as session:
        # "All N matching": the list's filter again, every page of it, not only the ticked rows.
        chosen = (matching(session, QueueFilter.from_args(request.form)) if everything
                  else select(QueueJob).where(QueueJob.id.in_(ids)))
        for job in session.scalars(chosen.order_by(QueueJob.id)):
            error = _act(session, job, action)
            if error:
                errors.append(error)
            else:
                done += 1
    noun = "job" if done == 1 else "jobs"
    if done:
        flash(f"{done} {noun} {ACTIONS[action][1]}.", "ok")
    for error in errors[:10]:
        flash(f"Could not do that: {error}.", "error")
    if len(errors) > 10:
        flash(f"…and {len(errors) - 10} more jobs could not be changed.", "error")
    return redirect(back)
