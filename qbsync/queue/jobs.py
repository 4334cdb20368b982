"""The durable queue: add jobs (coalescing updates to the same record), dependencies, state changes.

Every function takes an open SQLAlchemy session and leaves committing to the caller, so a webhook's
storage and its queue job land in one transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, event, exists, func, inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, SessionTransaction, aliased

from qbsync.storage.db import rows_changed
from qbsync.storage.models import JobDependency, QueueJob, utcnow

OPEN_STATES = ("pending", "waiting", "held")  # not yet sent: updates coalesce into these
ACTIVE_STATES = ("pending", "waiting", "held", "in_flight")
FINISHED_STATES = ("done", "cancelled")
# Jobs run by background workers, never sent to QuickBooks (e.g. writing stock back to the store).
BACKGROUND_KINDS = ("stock_writeback",)
# session.info key: the dependencies add_dependency added in this transaction, by (job id, depends-on id).
_ADDED_DEPENDENCIES = "qbsync.added_dependencies"
# session.info key: jobs whose stored dependencies are read together on the first add_dependency of one
# of them (expect_dependencies), and then, by job id, the ids they were found to depend on.
_EXPECTED = "qbsync.dependencies_expected"
_STORED = "qbsync.dependencies_stored"


class JobStateError(ValueError):
    """An action that does not fit the job's state (e.g. retrying a job that is in flight)."""


def enqueue(
    session: Session,
    connection_id: int,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    record_type: str | None = None,
    record_id: str | None = None,
    label: str | None = None,
    coalesce_key: str | None = None,
    priority: int = 100,
    depends_on: Iterable[QueueJob] = (),
    now: datetime | None = None,
) -> QueueJob:
    """Add a job, or fold it into the unsent job with the same ``coalesce_key`` (the newest payload wins).

    If a job with the same key is already in flight, the new one waits for it: the answer to the first
    tells the second whether the record now exists in QuickBooks.
    """
    now = now or utcnow()
    in_flight: list[QueueJob] = []
    if coalesce_key is not None:
        # One query finds both the unsent job to fold into and any job with the key being sent.
        same_key = session.scalars(select(QueueJob).where(
            QueueJob.connection_id == connection_id,
            QueueJob.coalesce_key == coalesce_key,
            QueueJob.state.in_(ACTIVE_STATES),
        )).all()
        existing = next((j for j in same_key if j.state in OPEN_STATES), None)
        in_flight = [j for j in same_key if j.state == "in_flight"]
        if existing is not None:
            existing.payload = payload or {}
            existing.progress = None  # new data starts the job over
            existing.label = label or existing.label
            existing.updated_at = now
            for dep in depends_on:
                add_dependency(session, existing, dep)
            return existing
    job = QueueJob(
        connection_id=connection_id,
        kind=kind,
        payload=payload or {},
        record_type=record_type,
        record_id=record_id,
        label=label,
        coalesce_key=coalesce_key,
        priority=priority,
        state="pending",
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
    except IntegrityError:
        # Another process queued the same record a moment ago: fold into theirs. (Without a key there is
        # nothing to fold into: the error is another one.)
        existing = None if coalesce_key is None else _open_job_with_key(session, connection_id, coalesce_key)
        if existing is None:
            raise
        existing.payload = payload or {}
        existing.progress = None
        existing.updated_at = now
        return existing
    # A new job has no dependencies yet: add them without looking for existing rows.
    added: set[int] = {job.id}
    for dep in (*in_flight, *depends_on):
        if dep.id in added:
            continue
        added.add(dep.id)
        session.add(JobDependency(job_id=job.id, depends_on_id=dep.id))
        if dep.state not in FINISHED_STATES and job.state == "pending":
            job.state = "waiting"
            job.reason = f"waiting for job #{dep.id} ({dep.label or dep.kind})"
    return job


# Built once: intake and every round trip's periodic plan look jobs up by key, and building the statement
# cost about as much as running it.
_WITH_KEY = (QueueJob.connection_id == bindparam("connection_id"), QueueJob.coalesce_key == bindparam("key"))
_OPEN_WITH_KEY = select(QueueJob).where(*_WITH_KEY, QueueJob.state.in_(OPEN_STATES))
_IN_FLIGHT_WITH_KEY = (select(QueueJob).where(*_WITH_KEY, QueueJob.state == "in_flight")
                       .order_by(QueueJob.id.desc()).limit(1))


def _open_job_with_key(session: Session, connection_id: int, key: str) -> QueueJob | None:
    return session.scalar(_OPEN_WITH_KEY, {"connection_id": connection_id, "key": key})


def find_open(session: Session, connection_id: int, coalesce_key: str,
              include_in_flight: bool = False) -> QueueJob | None:
    """The unsent job with this coalescing key (or, when asked, the one being sent), or None."""
    job = _open_job_with_key(session, connection_id, coalesce_key)
    if job is None and include_in_flight:
        job = session.scalar(_IN_FLIGHT_WITH_KEY, {"connection_id": connection_id, "key": coalesce_key})
    return job


LEFT_OUT = "Left out by rule: "  # the reason of a record the merchant's rules keep out of QuickBooks


def record_left_out(session: Session, connection_id: int, kind: str, payload: dict[str, Any], *,
                    record_type: str, record_id: str, label: str, coalesce_key: str, rule: str,
                    now: datetime | None = None) -> QueueJob:
    """Keep a visible trace of a record the rules leave out (an order whose status is not synced, say):
    one finished job per record, its reason naming the rule, updated when the record changes again.
    Finished, so it never blocks the record from being queued once the rule lets it in."""
    now = now or utcnow()
    reason = LEFT_OUT + rule
    job = session.scalar(select(QueueJob).where(
        QueueJob.connection_id == connection_id, QueueJob.coalesce_key == coalesce_key,
        QueueJob.state == "cancelled", QueueJob.reason.like(LEFT_OUT + "%")).limit(1))
    if job is None:
        job = QueueJob(connection_id=connection_id, kind=kind, record_type=record_type, record_id=record_id,
                       coalesce_key=coalesce_key, state="cancelled", created_at=now)
        session.add(job)
    job.payload, job.progress, job.label, job.reason, job.updated_at = payload, None, label, reason, now
    return job


def enqueue_qbxml(session: Session, connection_id: int, fragment: str, *, label: str | None = None,
                  priority: int = 100) -> QueueJob:
    """Queue one hand-written qbXML request element (e.g. ``<CustomerQueryRq>…``) to send as it is."""
    return enqueue(session, connection_id, "qbxml", {"request": fragment}, label=label, priority=priority)


def add_dependency(session: Session, job: QueueJob, depends_on: QueueJob) -> None:
    """Make ``job`` wait until ``depends_on`` is done."""
    if job.id is None or depends_on.id is None:
        session.flush()  # a job queued in this transaction gets its id
    if job.id == depends_on.id:
        return
    # Without a flush per call: a round trip defers hundreds of orders, and a flush each wrote the jobs
    # changed so far one small batch at a time. The links added but not yet flushed are remembered here
    # (session.get sees only flushed ones), so none is added twice.
    pair = (job.id, depends_on.id)
    added: dict[tuple[int, int], JobDependency] = session.info.setdefault(_ADDED_DEPENDENCIES, {})
    known = added.get(pair)
    if known is None or not inspect(known).pending:
        stored = _stored_dependencies(session, job.id)
        # Not among the links read with the round trip's others: not stored (only a new job gets links
        # elsewhere). Otherwise stored then: still there?
        if known is not None or stored is None or depends_on.id in stored:
            with session.no_autoflush:
                known = session.get(JobDependency, pair)
        if known is None:
            known = JobDependency(job_id=job.id, depends_on_id=depends_on.id)
            session.add(known)
            added[pair] = known
    if depends_on.state not in FINISHED_STATES and job.state == "pending":
        job.state = "waiting"
        job.reason = f"waiting for job #{depends_on.id} ({depends_on.label or depends_on.kind})"


def expect_dependencies(session: Session, job_ids: Collection[int]) -> None:
    """``job_ids`` (a round trip's candidates) may be made to wait: the first :func:`add_dependency` of
    one of them reads what all of them already depend on, in one query per 500, instead of one look-up
    per link (a round trip defers hundreds of orders)."""
    session.info[_EXPECTED] = set(job_ids) - set(session.info.get(_STORED, {}))


def _stored_dependencies(session: Session, job_id: int) -> Collection[int] | None:
    """The jobs ``job_id`` depended on when it was read with the others :func:`expect_dependencies` named
    (a link added since is in ``_ADDED_DEPENDENCIES``, one deleted since is looked up again); None for a
    job nobody announced (its links are looked up one by one)."""
    stored: dict[int, set[int]] = session.info.setdefault(_STORED, {})
    if job_id not in stored:
        expected: set[int] = session.info.get(_EXPECTED, set())
        if job_id not in expected:
            return None
        ids = sorted(expected)
        session.info[_EXPECTED] = set()
        for announced in ids:
            stored[announced] = set()
        with session.no_autoflush:  # the round trip's changes so far are written at commit, as before
            for start in range(0, len(ids), 500):
                rows = session.execute(select(JobDependency.job_id, JobDependency.depends_on_id)
                                       .where(JobDependency.job_id.in_(ids[start:start + 500])))
                for dependent, depended in rows:
                    stored[dependent].add(depended)
    return stored[job_id]


@event.listens_for(Session, "after_transaction_end")
def _forget_stored_dependencies(session: Session, transaction: SessionTransaction) -> None:
    """What :func:`_stored_dependencies` read is true for one transaction: another may add links."""
    if transaction.parent is None:  # the transaction itself, not a savepoint released inside it
        session.info.pop(_EXPECTED, None)
        session.info.pop(_STORED, None)


def dependencies(session: Session, job: QueueJob) -> list[QueueJob]:
    """The jobs ``job`` waits for."""
    return list(
        session.scalars(
            select(QueueJob).join(JobDependency, JobDependency.depends_on_id == QueueJob.id)
            .where(JobDependency.job_id == job.id).order_by(QueueJob.id)
        )
    )


def dependents(session: Session, job: QueueJob) -> list[QueueJob]:
    """The jobs that wait for ``job``."""
    return list(
        session.scalars(
            select(QueueJob).join(JobDependency, JobDependency.job_id == QueueJob.id)
            .where(JobDependency.depends_on_id == job.id).order_by(QueueJob.id)
        )
    )


@dataclass(frozen=True)
class Dependent:
    """A job waiting for another, read without its payload (:func:`dependents_read_lightly`)."""

    id: int
    kind: str
    state: str
    created_at: datetime
    notes: dict[str, Any] | None  # its progress notes (None: it has none)


def dependents_read_lightly(session: Session, job: QueueJob) -> list[Dependent]:
    """:func:`dependents`, without their payloads: hundreds of orders may wait for one customer, and
    reading them whole decodes every order to tell their kinds, states and notes. (A job written before
    migration 0009 keeps its notes in its payload: the database reads them out of it.)"""
    rows = session.execute(
        select(QueueJob.id, QueueJob.kind, QueueJob.state, QueueJob.created_at, QueueJob.progress,
               QueueJob.payload["progress"].label("notes_before_0009"))
        .join(JobDependency, JobDependency.job_id == QueueJob.id)
        .where(JobDependency.depends_on_id == job.id).order_by(QueueJob.id)
    ).all()
    return [Dependent(row.id, row.kind, row.state, row.created_at,
                      row.progress if row.progress is not None else row.notes_before_0009)
            for row in rows]


_JOBS_BY_ID = select(QueueJob).where(QueueJob.id.in_(bindparam("job_ids", expanding=True)))


def jobs_by_id(session: Session, ids: Sequence[int]) -> list[QueueJob]:
    """The jobs of ``ids``, whole, in the order given (one query; ids no longer there are left out)."""
    found = {j.id: j for j in session.scalars(_JOBS_BY_ID, {"job_ids": list(ids)})}
    return [found[i] for i in ids if i in found]


_DEPENDENCY = aliased(QueueJob, name="dependency")  # built once: constructing an alias is costly


def _unfinished_dependency_exists(job_id_col: Any) -> Any:
    return exists(
        select(JobDependency.job_id)
        .join(_DEPENDENCY, _DEPENDENCY.id == JobDependency.depends_on_id)
        .where(JobDependency.job_id == job_id_col, _DEPENDENCY.state.not_in(FINISHED_STATES))
    )


def unfinished_dependency_exists(job_id_col: Any) -> Any:
    """SQL: the job with id ``job_id_col`` still waits for an unfinished job."""
    return _unfinished_dependency_exists(job_id_col)


def root_blocker(session: Session, job: QueueJob, max_depth: int = 50) -> QueueJob | None:
    """The unfinished job at the bottom of what ``job`` waits for: follow unfinished dependencies,
    preferring one that needs a person (parked or held), until a job that waits on nothing. None when
    ``job`` waits on nothing. Bounded, so a cycle cannot loop forever."""
    current, seen = job, {job.id}
    for _ in range(max_depth):
        unfinished = [dep for dep in dependencies(session, current)
                      if dep.state not in FINISHED_STATES and dep.id not in seen]
        if not unfinished:
            break
        current = next((dep for dep in unfinished if dep.state in ("parked", "held")), unfinished[0])
        seen.add(current.id)
    return None if current is job else current


def wake_dependents(session: Session, job: QueueJob, now: datetime | None = None) -> int:
    """After ``job`` finished: dependents with nothing else to wait for become pending. Returns how many."""
    return wake_dependents_of(session, [job], now)


# The waiting dependents of the jobs ``finished`` that wait for nothing else, built once (every answer
# runs it, and building it cost more than running it).
_WAKEABLE = (select(QueueJob.id)
             .where(QueueJob.id.in_(select(JobDependency.job_id).where(
                        JobDependency.depends_on_id.in_(bindparam("finished", expanding=True)))),
                    QueueJob.state == "waiting",
                    ~_unfinished_dependency_exists(QueueJob.id))
             .order_by(QueueJob.id))


def wake_dependents_of(session: Session, finished: Sequence[QueueJob], now: datetime | None = None) -> int:
    """:func:`wake_dependents` for many finished jobs at once (two statements per 500, whatever their
    number)."""
    ids = [job.id for job in finished if job.id is not None]
    if not ids:
        return 0
    now = now or utcnow()
    session.flush()
    # Ids only: the waiting jobs' payloads (whole orders) are not read to change their state. The jobs that
    # still wait for another are left out by the same query (not read and then looked up again).
    woken: dict[int, None] = {}
    for start in range(0, len(ids), 500):
        woken.update(dict.fromkeys(session.scalars(_WAKEABLE, {"finished": ids[start:start + 500]})))
    ready = list(woken)
    for start in range(0, len(ready), 500):
        # "evaluate": jobs of these ids already loaded in this session see their new state too.
        session.execute(
            update(QueueJob)
            .where(QueueJob.id.in_(ready[start:start + 500]), QueueJob.state == "waiting")
            .values(state="pending", reason=None, updated_at=now)
            .execution_options(synchronize_session="evaluate"))
    return len(ready)


def detach_dependents(session: Session, job: QueueJob, now: datetime | None = None) -> int:
    """Jobs waiting for ``job`` stop waiting for it (they go on, or wait for their other dependencies).

    For a job whose failure need not hold the others back (the company setup: each order then meets what
    is still missing in its own preflight). Returns how many became pending.
    """
    now = now or utcnow()
    waiting = dependents(session, job)
    session.execute(delete(JobDependency).where(JobDependency.depends_on_id == job.id))
    session.flush()
    blocked = set(session.scalars(
        select(JobDependency.job_id)
        .join(_DEPENDENCY, _DEPENDENCY.id == JobDependency.depends_on_id)
        .where(JobDependency.job_id.in_([w.id for w in waiting]),
               _DEPENDENCY.state.not_in(FINISHED_STATES))
    )) if waiting else set()
    woken = 0
    for dependent in waiting:
        if dependent.state == "waiting" and dependent.id not in blocked:
            dependent.state = "pending"
            dependent.reason = None
            dependent.updated_at = now
            woken += 1
    return woken


def block_dependents(session: Session, job: QueueJob, reason: str, now: datetime | None = None) -> None:
    """A job needs a person: its dependents wait on it, with the reason shown."""
    now = now or utcnow()
    for dependent in dependents(session, job):
        if dependent.state in ("pending", "waiting"):
            dependent.state = "waiting"
            dependent.reason = (
                f"waiting for job #{job.id} ({job.label or job.kind}), which needs attention: {reason}"
            )
            dependent.updated_at = now
            block_dependents(session, dependent, reason, now)


def mark_done(session: Session, job: QueueJob, now: datetime | None = None, *, wake: bool = True) -> None:
    """The job's work is in QuickBooks (or needed nothing); wake what waited for it.

    ``wake=False`` leaves waking to the caller, who finishes many jobs and then calls
    :func:`wake_dependents_of` once.
    """
    now = now or utcnow()
    job.state = "done"
    job.done_at = now
    job.updated_at = now
    job.session_id = None
    # Cleared only when set: an attribute set, even to its value, costs its bookkeeping now and in the
    # flush (a round trip finishes hundreds of jobs).
    if job.reason is not None:
        job.reason = None
    if job.needs_lookup:
        job.needs_lookup = False
    if wake:
        wake_dependents(session, job, now)


def park(session: Session, job: QueueJob, reason: str, now: datetime | None = None) -> None:
    """Stop retrying: a person must look (QuickBooks' message and the exact qbXML stay on the job)."""
    now = now or utcnow()
    job.state = "parked"
    job.reason = reason
    job.session_id = None
    job.updated_at = now
    block_dependents(session, job, reason, now)


def retry_later(session: Session, job: QueueJob, reason: str, delay: timedelta,
                now: datetime | None = None) -> None:
    """Send the job again once ``delay`` has passed."""
    now = now or utcnow()
    job.state = "pending"
    job.reason = reason
    job.not_before = now + delay
    job.session_id = None
    job.updated_at = now


def backoff(attempts: int, base_seconds: int, max_seconds: int) -> timedelta:
    """Exponential backoff: base, 2×base, 4×base … capped."""
    return timedelta(seconds=min(max_seconds, base_seconds * (2 ** max(0, attempts - 1))))


# --- actions a person takes on the queue page or the CLI -------------------------------------------


def retry_now(session: Session, job: QueueJob, now: datetime | None = None) -> None:
    """Put a parked, held or waiting-for-retry job back at the front of the line."""
    if job.state in ("in_flight", "done"):
        raise JobStateError(f"job #{job.id} is {job.state}; only queued, parked or held jobs can be retried")
    now = now or utcnow()
    job.state = "pending"
    job.not_before = None
    job.reason = None
    job.failed_sessions = 0
    job.updated_at = now
    session.flush()
    if session.scalar(select(_unfinished_dependency_exists(job.id))):
        job.state = "waiting"
        job.reason = "waiting for the jobs it depends on"


def hold(session: Session, job: QueueJob, now: datetime | None = None) -> None:
    """Keep the job out of sync until released."""
    if job.state not in ("pending", "waiting", "parked"):
        raise JobStateError(f"job #{job.id} is {job.state}; only queued or parked jobs can be held")
    job.state = "held"
    job.reason = "held by a person"
    job.updated_at = now or utcnow()


def release(session: Session, job: QueueJob, now: datetime | None = None) -> None:
    """Undo :func:`hold`."""
    if job.state != "held":
        raise JobStateError(f"job #{job.id} is not held")
    retry_now(session, job, now)


def remove(session: Session, job: QueueJob, now: datetime | None = None) -> None:
    """Take the job out of the queue for good (kept as cancelled for the record)."""
    if job.state == "in_flight":
        raise JobStateError(f"job #{job.id} is being sent to QuickBooks right now; try again in a moment")
    now = now or utcnow()
    job.state = "cancelled"
    job.reason = "removed by a person"
    job.updated_at = now
    wake_dependents(session, job, now)


def counts_by_state(session: Session, connection_id: int) -> dict[str, int]:
    """Queue depth by state, for the dashboard and metrics."""
    rows = session.execute(
        select(QueueJob.state, func.count()).where(QueueJob.connection_id == connection_id)
        .group_by(QueueJob.state)
    )
    return {state: n for state, n in rows}


def return_in_flight(session: Session, session_id: int, reason: str, now: datetime | None = None) -> int:
    """Jobs sent in a session that ended without their answers go back to the queue.

    QuickBooks may have processed them, so each is marked to look its record up before adding again.
    """
    now = now or utcnow()
    return rows_changed(
        session,
        update(QueueJob)
        .where(QueueJob.session_id == session_id, QueueJob.state == "in_flight")
        .values(state="pending", session_id=None, needs_lookup=True, reason=reason, updated_at=now)
        .execution_options(synchronize_session="fetch"),
    )


# What makes a job ready to send (parameters ``connection_id`` and ``now``): the pick, the existence
# check and the progress count share it.
_READY_WHERE = (
    QueueJob.connection_id == bindparam("connection_id"),
    QueueJob.state == "pending",
    QueueJob.kind.not_in(BACKGROUND_KINDS),
    (QueueJob.not_before.is_(None)) | (QueueJob.not_before <= bindparam("now")),
)


def _ready(columns: Any) -> Any:
    """The pick of :func:`pending_ready` (parameters ``connection_id``, ``now``, ``limit``)."""
    return (select(columns).where(*_READY_WHERE).order_by(QueueJob.priority, QueueJob.id)
            .limit(bindparam("limit")))


# Built once, locked (PostgreSQL: skipping rows another process holds) or not: building them cost more
# than running them, on every fill round.
_READY_JOBS = {False: _ready(QueueJob), True: _ready(QueueJob).with_for_update(skip_locked=True)}
_READY_IDS = {False: _ready(QueueJob.id), True: _ready(QueueJob.id).with_for_update(skip_locked=True)}
_ANY_READY = select(exists().where(*_READY_WHERE))
_READY_COUNT = select(func.count()).select_from(QueueJob).where(*_READY_WHERE)


def pending_ready(session: Session, connection_id: int, now: datetime, limit: int,
                  lock: bool = True, seen: Collection[int] = ()) -> Sequence[QueueJob]:
    """The next ``limit`` jobs to send, in priority order, less those in ``seen``.

    On PostgreSQL the rows are locked, skipping rows another process holds, so two web processes serving
    one Web Connector never send the same job. With ``seen`` (jobs a round trip already had) the ids are
    read first and only the others loaded: a whole job (its payload decoded) is not read again to be
    dropped.
    """
    params = {"connection_id": connection_id, "now": now, "limit": limit}
    if not seen:
        return session.scalars(_READY_JOBS[lock], params).all()
    wanted = [job_id for job_id in session.scalars(_READY_IDS[lock], params) if job_id not in seen]
    if not wanted:
        return []
    return jobs_by_id(session, wanted)  # locked above, with the rest of the window; in its order


def has_ready(session: Session, connection_id: int, now: datetime) -> bool:
    """Whether any job can be sent now."""
    return bool(session.scalar(_ANY_READY, {"connection_id": connection_id, "now": now}))


def count_ready(session: Session, connection_id: int, now: datetime) -> int:
    """How many jobs can be sent now."""
    return session.scalar(_READY_COUNT, {"connection_id": connection_id, "now": now}) or 0
