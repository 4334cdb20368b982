"""One Web Connector round trip, seen from the queue.

``next_request`` chooses the jobs to send, asks their handlers for qbXML, validates the batch against the
schema, records exactly what is sent and marks the jobs in flight. ``handle_response`` matches each answer
to its job by requestID and applies what it means. A batch QuickBooks fails as a whole (it could not parse
it, or its answer cannot be read) is split to find the request at fault (``queue.isolation``). All of these
run inside the SOAP call's transaction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeGuard

from lxml import etree
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from qbsync.qbxml import status
from qbsync.qbxml.parse import QbxmlParseError, Response, ResponseSet, answer_xml, parse_response
from qbsync.qbxml.render import build_message
from qbsync.qbxml.schema import validate_each
from qbsync.qbxml.status import Outcome
from qbsync.queue import isolation, jobs, lists, lookups, mappings, periodic, preflight
from qbsync.queue.handlers import (
    Again,
    ApplyResult,
    BuildResult,
    Context,
    Defer,
    Done,
    Finish,
    Park,
    Reject,
    Request,
    Retry,
    Wait,
    build_next,
    handler_for,
    note,
    prepare_all,
    progress,
    set_progress,
)
from qbsync.queue.settings import SyncSettings
from qbsync.queue.storable import unstorable
from qbsync.storage.models import (
    HRESULT_LENGTH,
    Connection,
    Exchange,
    JobAttempt,
    QbwcSession,
    QueueJob,
    utcnow,
)

log = logging.getLogger(__name__)

DEFAULT_VERSION = "13.0"
MAX_FILL_ROUNDS = 4
# A request QuickBooks did not process because another failed (3231) is resent at once this many times,
# then with backoff.
IMMEDIATE_RESENDS = 5


@dataclass
class _Planned:
    job: QueueJob
    request: Request
    request_id: str  # the job's id and attempt, as the request carries it


def has_work(session: Session, connection_id: int, now: datetime | None = None) -> bool:
    """Whether a session for this connection would have anything to send now (periodic work included)."""
    now = now or utcnow()
    connection = session.get(Connection, connection_id)
    if connection is not None:
        periodic.plan(session, connection, now, in_session=False)
    return jobs.has_ready(session, connection_id, now)


def next_request(session: Session, qb_session: QbwcSession, now: datetime | None = None) -> str | None:
    """The qbXML document to send next in ``qb_session``, or None when there is nothing to do."""
    now = now or utcnow()
    started = time.perf_counter()
    connection = qb_session.connection
    periodic.plan(session, connection, now)
    settings = SyncSettings(connection.settings)
    version = qb_session.qbxml_version or DEFAULT_VERSION
    budget = settings.exchange_budget_ms / 1000.0
    batch_size, max_bytes = settings.batch_size, settings.max_message_bytes  # read once, not once per job
    cache: dict = {}  # shared by the handlers for this round trip
    planned: list[_Planned] = []
    size = 0
    seen: set[int] = set()
    for _ in range(MAX_FILL_ROUNDS):
        room = batch_size - len(planned)
        if room <= 0:
            break
        candidates = list(jobs.pending_ready(session, connection.id, now, room + len(seen), seen=seen))
        candidates, probing = _narrow(session, candidates, seen, first=not planned)
        if not candidates:
            break
        jobs.expect_dependencies(session, [j.id for j in candidates])  # a Defer's links: one read for all
        batch_ctx = Context(session, connection, settings, version, now, "", qb_session.id, cache)
        prepare_all(batch_ctx, candidates)
        for job in candidates:
            seen.add(job.id)
            # The budget ends a round trip that has something to send, never one that has nothing yet: a
            # slow machine (or a slow periodic plan) would otherwise end the session with work queued.
            if len(planned) >= batch_size or (planned and time.perf_counter() - started > budget):
                break
            request_id = f"{job.id}.{job.attempts + 1}"
            ctx = Context(session, connection, settings, version, now, request_id, qb_session.id, cache)
            result = _build(ctx, job)
            if isinstance(result, Request) and preflight.hold_back(
                    session, connection, settings, job, result.fragment, now, cache):
                continue  # it names a record QuickBooks lacks: it waits, with the cause, instead of a 3140
            if isinstance(result, Request):
                if size + len(result.fragment) > max_bytes and planned:
                    break
                planned.append(_Planned(job, result, request_id))
                size += len(result.fragment)
            else:
                _apply_build_result(session, job, result, now)
        if planned and (probing or time.perf_counter() - started > budget):
            break  # a probe goes out on its own, or its failure would not say whose it is
    if not planned:
        return None
    planned = _drop_invalid(session, planned, version, now)
    if not planned:
        return next_request(session, qb_session, now)
    fragments = [p.request.fragment for p in planned]
    if settings.shared_lookups:
        fragments = lookups.merge(fragments)  # one query per kind of look-up; answers split back per job
    document = build_message(fragments, on_error="continueOnError", version=version)
    _record_sent(session, qb_session, planned, document, now, started)
    return document


def _narrow(session: Session, candidates: list[QueueJob], seen: set[int],
            first: bool) -> tuple[list[QueueJob], bool]:
    """Keep jobs of a batch QuickBooks failed as a whole apart from the rest; returns (jobs, probing).

    In the first fill round they make up the whole batch (a probe: part of one failed batch); in later
    rounds they are left for the next round trip. Either way they never share a batch with other jobs.
    """
    # Only a job that was sent can have been in a failed batch: those never sent need no look-up.
    sent = [j.id for j in candidates if j.attempts]
    groups = isolation.groups_of(session, sent) if sent else {}
    if not groups:
        return candidates, False
    if first:
        chosen = set(isolation.probe([j.id for j in candidates], groups))
        return [j for j in candidates if j.id in chosen], True
    seen.update(groups)  # not fetched again in this round trip
    return [j for j in candidates if j.id not in groups], False


def _build(ctx: Context, job: QueueJob) -> BuildResult:
    try:
        return build_next(ctx, job)  # queues the work a Defer names (handlers' builds never queue)
    except (ValueError, KeyError, TypeError) as exc:
        # Bad data in one record must not stop the others.
        log.warning("job %s could not be built: %s", job.id, exc)
        return Reject(f"could not build the request: {exc}")


def _apply_build_result(session: Session, job: QueueJob, result: Finish | Defer | Reject,
                        now: datetime) -> None:
    if isinstance(result, Finish):
        jobs.mark_done(session, job, now)
        job.reason = result.reason  # after mark_done, which clears it: why nothing was sent
    elif isinstance(result, Defer):
        if not result.wait_for:
            job.state = "waiting"  # woken by whatever it waits for (e.g. its order reaching the queue)
        for dep_id in result.wait_for:
            dep = session.get(QueueJob, dep_id)
            if dep is not None:
                jobs.add_dependency(session, job, dep)
        job.reason = result.reason
    elif isinstance(result, Reject):
        jobs.park(session, job, result.reason, now)


def _drop_invalid(session: Session, planned: list[_Planned], version: str, now: datetime) -> list[_Planned]:
    """An invalid request never reaches QuickBooks: its job is parked with the schema's message."""
    errors = validate_each([p.request.fragment for p in planned], version)
    if not errors:
        return planned
    kept = []
    for index, item in enumerate(planned):
        if index in errors:
            item.job.last_request_xml = item.request.fragment
            reason = f"the request failed the qbXML {version} schema: {errors[index]}"
            jobs.park(session, item.job, reason, now)
        else:
            kept.append(item)
    return kept


def _record_sent(session: Session, qb_session: QbwcSession, planned: list[_Planned], document: str,
                 now: datetime, started: float) -> None:
    qb_session.exchanges = (qb_session.exchanges or 0) + 1
    # The exchange row is inserted on its own, without flushing the session first (Session.execute would,
    # even for a Core statement). A flush here wrote every job's new progress notes, and commit then wrote
    # the same jobs again with their in-flight state: now each job's row is written once, at commit.
    with session.no_autoflush:
        exchange_id = session.execute(_INSERT_EXCHANGE, {
            "session_id": qb_session.id, "connection_id": qb_session.connection_id,
            "seq": qb_session.exchanges, "request_xml": document, "job_count": len(planned), "sent_at": now,
        }).scalar_one()
    attempts: list[dict[str, object]] = []
    for item in planned:
        job, request = item.job, item.request
        job.attempts += 1
        job.state = "in_flight"
        job.session_id = qb_session.id
        job.request_id = item.request_id
        if job.step != request.step:
            job.step = request.step
        if job.needs_lookup and request.step in ("lookup", "recheck"):
            # The look-up (or a refund's re-read of its credit) settles whether a lost add happened; if
            # its own answer is lost, the flag returns.
            job.needs_lookup = False
        job.last_request_xml = request.fragment
        job.updated_at = now
        attempts.append({"exchange_id": exchange_id, "job_id": job.id, "connection_id": job.connection_id,
                         "request_id": item.request_id, "request_type": request.request_type,
                         "label": job.label, "created_at": now})
    # One executemany: as ORM objects SQLite would insert them one statement each (to read back each id),
    # and nothing reads them back in this transaction. A Core INSERT of the table: the ORM's bulk INSERT
    # of the same rows sorted out each row's parameters again. The jobs' changes are written at commit.
    with session.no_autoflush:
        session.execute(_INSERT_ATTEMPTS, attempts)
        session.execute(_SET_SERVICE_MS, {"exchange_id": exchange_id,
                                          "service_ms": (time.perf_counter() - started) * 1000.0})


_EXCHANGES = Exchange.metadata.tables[Exchange.__tablename__]
# Built once: building a round trip's statements cost about as much as running them.
_INSERT_EXCHANGE = insert(_EXCHANGES).returning(_EXCHANGES.c.id)
_SET_SERVICE_MS = update(_EXCHANGES).where(_EXCHANGES.c.id == bindparam("exchange_id"))


def handle_response(session: Session, qb_session: QbwcSession, response_xml: str,
                    now: datetime | None = None) -> int:
    """Apply QuickBooks' answer to the jobs of the last exchange; return the session's percent done."""
    now = now or utcnow()
    started = time.perf_counter()
    exchange = _open_exchange(session, qb_session)
    if exchange is None:
        qb_session.last_error = "qbsync received a response it did not ask for; the session was restarted"
        return -1
    try:
        parsed = parse_response(response_xml)
    except QbxmlParseError as exc:
        # QuickBooks did process the batch (its answer arrived), so every job looks its record up before
        # it is added again; which request spoiled the answer is found by splitting the batch.
        exchange.response_xml = response_xml
        exchange.received_at = now
        exchange.message = f"qbsync could not read QuickBooks' answer: {exc}"
        return _split(session, qb_session, exchange, f"QuickBooks' answer could not be read: {exc}", now,
                      processed=True)
    connection = qb_session.connection
    settings = SyncSettings(connection.settings)
    version = qb_session.qbxml_version or DEFAULT_VERSION
    attempts = _attempts_of(session, exchange)
    base = Context(session, connection, settings, version, now, "", qb_session.id, {})
    prepare_all(base, [j for _, j in attempts if _awaiting(j, qb_session)], answers=True)
    # Records the answers name are kept in their lists as they are applied: one query finds the stored
    # ones for all of them (not one per new customer or item).
    lists.preload(session, connection.id,
                  (str(r["ListID"]) for rs in parsed for r in rs.records if r.get("ListID")))
    # The preflight's wakes once for the batch, not once per item added; the links the answers make are
    # inserted together at the end, not as ORM objects one statement each.
    with preflight.wakes_deferred(session, now), mappings.written_together(session):
        finished = _apply_answers(qb_session, exchange, parsed, attempts, base)
    jobs.wake_dependents_of(session, finished, now)  # once for the batch, not once per job
    _save_attempts(session, attempts)
    # The exchange's row, which holds both documents (hundreds of kB), is changed once, at the end: each
    # UPDATE of it rewrites the whole row, and an answer set on it first was written by the first flush
    # (a lazy load) and again with service_ms.
    exchange.response_xml = response_xml
    exchange.received_at = now
    exchange.service_ms = (exchange.service_ms or 0.0) + (time.perf_counter() - started) * 1000.0
    return percent_done(session, qb_session, now)


def _apply_answers(qb_session: QbwcSession, exchange: Exchange, parsed: ResponseSet,
                   attempts: list[tuple[_Attempt, QueueJob | None]], base: Context) -> list[QueueJob]:
    """Apply each attempt's answer to its job (``base``: the round trip's context); returns the jobs done."""
    session, settings, now = base.session, base.settings, base.now
    finished: list[QueueJob] = []
    answers = _answers_of(qb_session, exchange, parsed, attempts)
    # How many requests QuickBooks left without an answer: one alone is counted against itself, several
    # are sent again together, then split apart (isolation.unanswered).
    unanswered = sum(1 for _, job, response, _ in answers if response is None and _awaiting(job, qb_session))
    for attempt, job, response, lookup in answers:
        if response is not None:
            attempt.status_code = response.status_code
            attempt.status_severity = response.severity
            attempt.status_message = response.message
        if not _awaiting(job, qb_session):
            attempt.outcome = "ignored"
            continue
        if response is None:
            # With continueOnError QuickBooks answers every request it reads: one left out is its doing, done
            # or not (the job looks its record up first).
            result, attempt.outcome = _unanswered(job, unanswered, "QuickBooks did not answer this request",
                                                  settings)
            _apply_result(session, qb_session, job, result, settings, now)
            continue
        ctx = _context_for(base, attempt.request_id)
        if _shared_query_refused(lookup, response):
            # Refused as a whole, the shared query says nothing about this job's key: its jobs go out again
            # in smaller batches until the key at fault is alone (and gets its own answer).
            job.last_status_code = response.status_code
            job.last_message = response.message
            if job.step in ("lookup", "recheck"):
                job.needs_lookup = True  # the look-up settled nothing: it must still happen
            result = isolation.verdict(2, f"QuickBooks refused a shared look-up ({response.status_code}: "
                                          f"{response.message})", parse_error=False, failed_alone=0,
                                       give_up_after=0)
            attempt.outcome = isolation.outcome_of(result)
            _apply_result(session, qb_session, job, result, settings, now)
            continue
        result = _interpret(ctx, job, response)
        attempt.outcome = type(result).__name__.lower()
        _apply_result(session, qb_session, job, result, settings, now)
        if isinstance(result, Done):
            finished.append(job)
    return finished


def _context_for(base: Context, request_id: str) -> Context:
    """``base`` (the round trip's context) for the request ``request_id``: what ``dataclasses.replace``
    gives, built directly (replace works out the fields anew for every answer, at six times the cost)."""
    return Context(base.session, base.connection, base.settings, base.version, base.now, request_id,
                   base.qb_session_id, base.cache)


def _answers_of(qb_session: QbwcSession, exchange: Exchange, parsed: ResponseSet,
                attempts: list[tuple[_Attempt, QueueJob | None]],
                ) -> list[tuple[_Attempt, QueueJob | None, Response | None, lookups.Lookup | None]]:
    """Each attempt with its job, QuickBooks' answer to it (None: none came) and, for a look-up that went
    out in a query shared with other jobs, its key (None otherwise)."""
    shared: dict[tuple[str, str], str] | None = None  # merged look-ups of the sent document, read on need
    # Each merged answer's records by key, worked out once for all its jobs (by its requestID and key field).
    by_key: dict[tuple[str, str], dict[str, list[int]]] = {}
    found: list[tuple[_Attempt, QueueJob | None, Response | None, lookups.Lookup | None]] = []
    for attempt, job in attempts:
        response = parsed.by_request_id(attempt.request_id)
        lookup = lookups.lookup_of(job.last_request_xml or "") if _awaiting(job, qb_session) else None
        if lookup is not None:
            if shared is None:
                shared = lookups.shared_queries(exchange.request_xml or "")
            if lookup.slot in shared:  # its key went out in a query shared with other jobs
                merged = parsed.by_request_id(shared[lookup.slot])
                response = None
                if merged is not None:
                    split = (shared[lookup.slot], lookup.field)
                    if split not in by_key:
                        by_key[split] = lookups.records_by_key(merged, lookup.field)
                    response = lookups.answer_for(merged, lookup, by_key[split])
            else:
                lookup = None
        found.append((attempt, job, response, lookup))
    return found


def answer_of(job_request: str | None, request_xml: str | None, response_xml: str | None,
              request_id: str) -> str | None:
    """QuickBooks' answer to one job's request ``request_id`` in an exchange, as qbXML text, or None: the
    answer echoing its id, or, for a look-up that went out in a query shared with other jobs, that
    query's answer (as :func:`_apply_answers` reads it). None also for an answer that cannot be read."""
    if not response_xml:
        return None
    lookup = lookups.lookup_of(job_request or "")
    try:
        if lookup is not None and request_xml:
            request_id = lookups.shared_queries(request_xml).get(lookup.slot, request_id)
        return answer_xml(response_xml, request_id)
    except (QbxmlParseError, etree.XMLSyntaxError):
        return None


def _shared_query_refused(lookup: lookups.Lookup | None, response: Response) -> bool:
    """Whether ``response`` answers a shared look-up that QuickBooks refused as a whole (not for being
    busy, which the job's own retry handles)."""
    return (lookup is not None and lookups.failed_as_a_whole(response)
            and response.outcome is not Outcome.RETRY)


@dataclass
class _Attempt:
    """One ``job_attempts`` row of an exchange as its answer is applied: read in one query and written
    back in one executemany (:func:`_save_attempts`), not as ORM objects loaded and flushed one by one."""

    id: int
    request_id: str
    job_id: int | None
    status_code: int | None
    status_severity: str | None
    status_message: str | None
    outcome: str | None


_ATTEMPT_COLUMNS = (JobAttempt.id, JobAttempt.request_id, JobAttempt.job_id, JobAttempt.status_code,
                    JobAttempt.status_severity, JobAttempt.status_message, JobAttempt.outcome)
_ATTEMPT_CHANGES = ("status_code", "status_severity", "status_message", "outcome")
_ATTEMPTS_WITH_JOBS = (select(*_ATTEMPT_COLUMNS, QueueJob)
                       .outerjoin(QueueJob, QueueJob.id == JobAttempt.job_id)
                       .where(JobAttempt.exchange_id == bindparam("exchange_id")).order_by(JobAttempt.id))


def _attempts_of(session: Session, exchange: Exchange) -> list[tuple[_Attempt, QueueJob | None]]:
    """The exchange's attempts, each with its job (None once the job is deleted)."""
    # One query, its jobs joined to it: reading the ids first and then the jobs by a list of them built
    # and sent a statement of a few hundred parameters every round trip.
    rows = session.execute(_ATTEMPTS_WITH_JOBS, {"exchange_id": exchange.id})
    return [(_Attempt(*row[:-1]), row[-1]) for row in rows]


_ATTEMPTS = JobAttempt.metadata.tables[JobAttempt.__tablename__]
_INSERT_ATTEMPTS = insert(_ATTEMPTS)
# A Core UPDATE by primary key: the ORM's bulk UPDATE of the same rows spent longer sorting out its
# parameters than the database spent writing them.
_SAVE_ATTEMPT = (update(_ATTEMPTS).where(_ATTEMPTS.c.id == bindparam("attempt_id"))
                 .values({name: bindparam(name) for name in _ATTEMPT_CHANGES}))


def _save_attempts(session: Session, attempts: Sequence[tuple[_Attempt, QueueJob | None]]) -> None:
    """Write the attempts' answers and outcomes: one UPDATE by primary key, run as an executemany."""
    if attempts:
        with session.no_autoflush:  # nothing read here: the round trip's changes are written as before
            session.execute(_SAVE_ATTEMPT, [
                {"attempt_id": a.id, "status_code": a.status_code, "status_severity": a.status_severity,
                 "status_message": a.status_message, "outcome": a.outcome}
                for a, _ in attempts])


def _awaiting(job: QueueJob | None, qb_session: QbwcSession) -> TypeGuard[QueueJob]:
    """Whether ``job`` still waits for an answer in ``qb_session`` (a person may have moved it meanwhile)."""
    return job is not None and job.state == "in_flight" and job.session_id == qb_session.id


# Statements run on every answer are built once: building one (its expressions coerced, its cache key
# made) cost more than running it.
_OPEN_EXCHANGE = (select(Exchange)
                  .where(Exchange.session_id == bindparam("session_id"), Exchange.received_at.is_(None))
                  .order_by(Exchange.seq.desc()).limit(1))


def _open_exchange(session: Session, qb_session: QbwcSession) -> Exchange | None:
    return session.scalar(_OPEN_EXCHANGE, {"session_id": qb_session.id})


def _interpret(ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
    job.last_status_code = response.status_code
    job.last_message = response.message
    # A read answer stays in its exchange, where the job's page finds it (answer_of); only an answer that
    # could not be read is kept on the job (_split). Cleared only when set (it seldom is): an attribute
    # set, even to its value, costs its bookkeeping on every job and again in the flush.
    if job.last_response_xml is not None:
        job.last_response_xml = None
    if response.outcome is Outcome.RETRY:
        if response.status_code == 3231:
            return Retry(f"not processed because another request in the batch failed ({response.message})",
                         counts_as_failure=False)
        return _busy(ctx, job, response)
    run = note(job, ALONE_RUN)
    if run and run.get("step") == job.step:
        set_progress(job, **{ALONE_RUN: None})  # its request answered: the run of failures is broken
    problem = unstorable(response)
    if problem:
        log.warning("job %s: %s", job.id, problem)
        return Park(problem)
    handler = handler_for(job.kind)
    assert handler is not None  # it built the request
    try:
        return handler.apply(ctx, job, response)
    except (ValueError, KeyError, TypeError) as exc:
        log.exception("job %s: handler failed on the answer", job.id)
        return Park(f"qbsync could not use QuickBooks' answer: {exc}")


# Progress note on the job's current request ({"step", "lost", "alone"}): how many times in a row it was
# left without an answer ("lost", in any batch), and failed alone, its answer unreadable or never come
# ("alone"; ``corrective_after_sessions`` of those park it). Busy answers neither count nor break the
# run (busy_retries governs them); an answer read for the step breaks it, and parking forgets it.
ALONE_RUN = "alone"


def _failed_run(job: QueueJob, *, lost: bool, alone: bool) -> tuple[int, int]:
    """The job's current request (same step) failed again: this time ``lost`` (no answer) and/or
    ``alone``; returns how many times it was lost, and failed alone, in a row before, and notes this one."""
    run = note(job, ALONE_RUN) or {}
    if run.get("step") != job.step:
        run = {}
    lost_before, alone_before = int(run.get("lost") or 0), int(run.get("alone") or 0)
    set_progress(job, **{ALONE_RUN: {"step": job.step, "lost": lost_before + lost,
                                     "alone": alone_before + alone}})
    return lost_before, alone_before


def _unanswered(job: QueueJob, together: int, reason: str, settings: SyncSettings,
                ) -> tuple[ApplyResult, str]:
    """A request QuickBooks left without an answer (``together``: how many of its batch were left so):
    what becomes of its job and its attempt's outcome (:func:`isolation.unanswered`). QuickBooks may or
    may not have done it, so the job looks its record up before anything is added again."""
    job.needs_lookup = True
    job.last_status_code = None
    job.last_message = reason
    lost_before, alone_before = _failed_run(job, lost=True, alone=together == 1)
    return isolation.unanswered(together, reason, lost_before=lost_before, alone_before=alone_before,
                                give_up_after=int(settings.corrective_after_sessions))


# Progress note: the busy answers in a row to the job's current request ({"step", "tries", "sessions"}).
BUSY_RUN = "busy"


def _busy(ctx: Context, job: QueueJob, response: Response) -> Retry | Park:
    """QuickBooks answered busy: tried again later (a failed session, so the wait grows), until the request
    was sent again ``busy_retries`` times, as the setting promises; then the job waits for a person with
    the fix (a record left open in QuickBooks is not closed by waiting longer). Counted per request: a
    look-up's busy answers do not count against the add after it. Parked, it keeps everything; a person's
    retry starts the count over."""
    why = f"QuickBooks is busy ({response.status_code}: {response.message})"
    run = progress(job).get(BUSY_RUN) or {}
    tries = 1
    # Each busy answer adds a failed session (the Retry below), so a run whose count of them changed since
    # was broken: by a person's retry (which sets it to 0) or by a failure of another kind.
    if run.get("step") == job.step and run.get("sessions") == job.failed_sessions:
        tries = int(run.get("tries") or 0) + 1
    limit = int(ctx.settings.busy_retries)
    if limit <= 0 or tries <= limit:
        run = {"step": job.step, "tries": tries, "sessions": job.failed_sessions + 1}
        set_progress(job, **{BUSY_RUN: run})
        return Retry(why)
    return Park(f"{why}; it was still busy after {tries} tries, so qbsync stopped sending "
                f"it: {status.busy_fix(response.status_code)}")


def _apply_result(session: Session, qb_session: QbwcSession, job: QueueJob, result: ApplyResult,
                  settings: SyncSettings, now: datetime) -> None:
    if isinstance(result, Done):
        jobs.mark_done(session, job, now, wake=False)  # handle_response wakes dependents for the batch
        if result.note is not None:
            job.reason = result.note  # after mark_done, which clears it
        qb_session.jobs_done = (qb_session.jobs_done or 0) + 1
    elif isinstance(result, Again):
        job.state = "pending"
        job.session_id = None
        job.reason = result.reason
        if job.not_before is not None:  # seldom: not set again to its value (see _interpret)
            job.not_before = None
    elif isinstance(result, Retry):
        if result.delay is not None:
            delay = result.delay
        elif result.counts_as_failure:
            job.failed_sessions += 1
            delay = jobs.backoff(job.failed_sessions, settings.retry_base_seconds, settings.retry_max_seconds)
        elif job.attempts < IMMEDIATE_RESENDS:
            delay = timedelta(0)  # nothing went wrong with the job itself: resend in this session
        else:
            delay = jobs.backoff(1, settings.retry_base_seconds, settings.retry_max_seconds)
        jobs.retry_later(session, job, result.reason, delay, now)
        if not delay:
            job.not_before = None  # at once: a session ended later than ``now`` (expiry) does not delay it
    elif isinstance(result, Park):
        if note(job, ALONE_RUN) is not None:
            set_progress(job, **{ALONE_RUN: None})  # a person's retry starts the count over
        jobs.park(session, job, result.reason, now)
    elif isinstance(result, Wait):
        job.state = "pending"
        job.session_id = None
        for dep_id in result.wait_for:
            dep = session.get(QueueJob, dep_id)
            if dep is not None:
                jobs.add_dependency(session, job, dep)
        job.reason = result.reason


def percent_done(session: Session, qb_session: QbwcSession, now: datetime) -> int:
    """The session's real progress: jobs finished in it against jobs still ready to send."""
    ready = jobs.count_ready(session, qb_session.connection_id, now)
    if ready == 0:
        return 100
    done = qb_session.jobs_done or 0
    return max(0, min(99, (done * 100) // (done + ready)))


def handle_qb_error(session: Session, qb_session: QbwcSession, hresult: str, message: str,
                    now: datetime | None = None) -> int:
    """QuickBooks threw instead of answering: the exchange is recorded and its jobs go back to the queue."""
    now = now or utcnow()
    exchange = _record_qb_error(session, qb_session, hresult, message, now)
    return _return_unanswered(session, qb_session, exchange, f"QuickBooks reported {hresult}: {message}", now)


def handle_unparsed_batch(session: Session, qb_session: QbwcSession, hresult: str, message: str,
                          now: datetime | None = None) -> int:
    """QuickBooks could not parse the batch (nothing in it was done): split it to find the request at
    fault; returns the session's percent done, or -1 when no batch was awaiting an answer."""
    now = now or utcnow()
    exchange = _record_qb_error(session, qb_session, hresult, message, now)
    if exchange is None:
        qb_session.last_error = "qbsync received an error for a request it did not send; the session ended"
        return -1
    return _split(session, qb_session, exchange, f"QuickBooks reported {hresult}: {message}", now,
                  processed=False)


def _record_qb_error(session: Session, qb_session: QbwcSession, hresult: str, message: str,
                     now: datetime) -> Exchange | None:
    """Keep what the Web Connector reported on the exchange awaiting an answer (None when there is none)."""
    exchange = _open_exchange(session, qb_session)
    if exchange is not None:
        # A real HRESULT is "0x80040400"; anything longer than the column is kept whole in the message.
        if len(hresult) > HRESULT_LENGTH:
            message = f"{message} (HRESULT {hresult})"
        exchange.hresult = hresult[:HRESULT_LENGTH]
        exchange.message = message
        exchange.received_at = now
    return exchange


def _split(session: Session, qb_session: QbwcSession, exchange: Exchange, reason: str, now: datetime,
           *, processed: bool) -> int:
    """The exchange failed as a whole: each of its jobs gets :func:`isolation.verdict`; returns percent done.

    ``processed``: QuickBooks may have done the requests (their answer arrived, unreadable), so each job
    looks its record up before adding it again; after a parse error QuickBooks surely did nothing.
    """
    settings = SyncSettings(qb_session.connection.settings)
    attempts = _attempts_of(session, exchange)
    for attempt, job in attempts:
        if not _awaiting(job, qb_session):
            attempt.outcome = "ignored"
            continue
        if processed:
            job.needs_lookup = True
            job.last_response_xml = exchange.response_xml
        # A parse error leaves needs_lookup as it was: nothing happened, but an earlier lost answer may
        # still need its look-up.
        job.last_status_code = None
        job.last_message = reason
        # An unreadable answer alone counts against the request (busy answers do not: busy_retries).
        failed_alone = _failed_run(job, lost=False, alone=True)[1] if len(attempts) == 1 and processed else 0
        result = isolation.verdict(len(attempts), reason, parse_error=not processed,
                                   failed_alone=failed_alone,
                                   give_up_after=int(settings.corrective_after_sessions))
        attempt.outcome = isolation.outcome_of(result)
        _apply_result(session, qb_session, job, result, settings, now)
    _save_attempts(session, attempts)
    log.warning("session %s: exchange %s failed as a whole (%s); %d job(s) %s", qb_session.id, exchange.seq,
                reason, len(attempts), "split" if len(attempts) > 1 else "isolated")
    return percent_done(session, qb_session, now)


def release_session(
    session: Session, qb_session: QbwcSession, reason: str, now: datetime | None = None
) -> int:
    """A session ended (closed, stale, failed): whatever it had in flight goes back to the queue."""
    now = now or utcnow()
    return _return_unanswered(session, qb_session, _open_exchange(session, qb_session), reason, now)


def _return_unanswered(session: Session, qb_session: QbwcSession, exchange: Exchange | None, reason: str,
                       now: datetime) -> int:
    """The jobs ``exchange`` sent got no answer (the session ended, or QuickBooks threw): each goes back to
    the queue by :func:`_unanswered` (a whole batch is sent again, then split; one alone is counted);
    returns how many.
    A job in flight without an exchange to say so goes back as it is (``jobs.return_in_flight``)."""
    returned = 0
    if exchange is not None:
        settings = SyncSettings(qb_session.connection.settings)
        waiting = [(a, j) for a, j in _attempts_of(session, exchange) if _awaiting(j, qb_session)]
        for attempt, job in waiting:
            result, attempt.outcome = _unanswered(job, len(waiting), reason, settings)
            _apply_result(session, qb_session, job, result, settings, now)
        _save_attempts(session, waiting)
        returned = len(waiting)
    return returned + jobs.return_in_flight(session, qb_session.id, reason, now)
