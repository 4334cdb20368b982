"""Job handlers: for each kind of queue job, what to send next and what QuickBooks' answer means.

A handler is a small class with two pure-ish methods over an open session:

- ``build(ctx, job)`` returns the next :class:`Request` to send for the job, or says it needs nothing
  (:class:`Finish`), must wait (:class:`Defer`) or cannot be sent (:class:`Reject`). Build queues no
  job: a Defer names the work to queue (:class:`Needed`) and :func:`build_next` queues it;
- ``apply(ctx, job, response)`` reads the parsed answer and returns what happens to the job:
  :class:`Done`, :class:`Again` (another step follows), :class:`Retry`, :class:`Park` or :class:`Wait`.
  Handlers state what each answer to each of their steps means as a table (``steps.StepHandler``); the
  answer itself is read in one place (``answers.py``: FOUND, the 3140 missing reference).

Lock errors and "not processed" answers are retried by the exchange before a handler sees them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session

from qbsync.qbxml.parse import Response
from qbsync.qbxml.render import render_request  # loaded with qbsync.qbxml anyway: no import per request
from qbsync.queue.handlers.answers import found
from qbsync.queue.rules import CustomerChoice
from qbsync.queue.settings import SyncSettings
from qbsync.storage.models import Connection, IdMapping, QueueJob
from qbsync.storefronts.records import Order, Record

R = TypeVar("R", bound=Record)


@dataclass
class Context:
    """What a handler may use: the open session, the connection, its settings, the qbXML version.

    ``qb_session_id`` is the Web Connector session the request goes out in (iterators live only that
    long); ``cache`` is shared by every job of one round trip (reference lists, names seen in the batch).
    """

    session: Session
    connection: Connection
    settings: SyncSettings
    version: str
    now: datetime
    request_id: str = ""
    qb_session_id: int | None = None
    cache: dict[str, Any] = field(default_factory=dict)


# The records read from jobs' payloads, by (record class, job id), with the JSON each was read from; the
# most recent READ_CACHE_SIZE are kept, for every round trip the process serves: a job built in one
# sendRequestXML is applied in the next receiveResponseXML, and more than one round trip may be in
# flight (threads), hence the lock.
READ_CACHE_SIZE = 2048
# (The records are typed Any here so a hit returns one without a cast: typing.cast is a Python call.)
_read_cache: dict[tuple[type, int | None], tuple[Any, Any]] = {}
_read_lock = threading.Lock()


def record_of(job: QueueJob, kind: type[R]) -> R:
    """The record the job carries (``payload["record"]``) as a ``kind`` record.

    Read from its JSON once: prepare, build, the plan's decision and, a request later, apply share it.
    A job's payload is loaded anew by every request, so the cached record is reused only when the JSON
    it was read from is the payload's: a loaded payload is the one read-only value every load of the same
    text shares (``storage.frozen_json``), so that is an identity check; new data coalesced into the job
    makes it read again. A dict equal but not the same (a payload assigned in this process, or a text
    decoded again after others pushed it out) is compared, still cheaper than reading it again.
    """
    raw = job.payload.get("record") or {}
    key = (kind, job.id)
    cached = _read_cache.get(key)
    if cached is not None:
        read_from, record = cached
        if read_from is raw:
            return record
        if read_from == raw:
            # Kept with this load's dict: the job's later reads (prepare, build, the plan, apply...) are
            # then an identity check, not a comparison of the whole order each.
            with _read_lock:
                _read_cache[key] = (raw, record)
            return record
    record = kind.from_dict(raw)
    with _read_lock:
        _read_cache.pop(key, None)
        _read_cache[key] = (raw, record)
        if len(_read_cache) > READ_CACHE_SIZE:
            del _read_cache[next(iter(_read_cache))]  # the oldest
    return record


# --- what build() returns --------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One qbXML request element to send for the job (``fragment`` carries ``request_id``)."""

    request_type: str  # e.g. "InvoiceAddRq"
    fragment: str
    step: str  # the handler's own name for this step, e.g. "lookup", "add", "mod"


@dataclass(frozen=True)
class Finish:
    """Nothing needs sending (already in QuickBooks, excluded by a rule...)."""

    reason: str | None = None


@dataclass(frozen=True)
class Needed:
    """Work a deferred job waits for that may not be queued yet (:func:`build_next` queues it): the jobs
    bringing an ``order``'s customer (``customer``, the one its job chose; None when its sale has one),
    items and special items into QuickBooks, reads of ``lists``, or of the customers changed in
    QuickBooks since the list was read (``customer_changes``)."""

    order: Order | None = None
    lists: tuple[str, ...] = ()
    customer: CustomerChoice | None = None
    customer_changes: bool = False


@dataclass(frozen=True)
class Defer:
    """The job must wait for the given jobs (already queued), or for the work ``queue`` names, before it
    can be built."""

    reason: str
    wait_for: tuple[int, ...] = ()
    queue: Needed | None = None


@dataclass(frozen=True)
class Reject:
    """The job cannot be turned into a valid request; a person must look."""

    reason: str


# --- what apply() returns --------------------------------------------------------------------------


@dataclass(frozen=True)
class Done:
    """The job's work is in QuickBooks."""

    note: str | None = None


@dataclass(frozen=True)
class Again:
    """Send the job's next step in the next round trip."""

    reason: str | None = None


@dataclass(frozen=True)
class Retry:
    """Try again later (backoff from the settings unless ``delay`` is given)."""

    reason: str
    delay: timedelta | None = None
    counts_as_failure: bool = True


@dataclass(frozen=True)
class Park:
    """Stop: a person must look."""

    reason: str


@dataclass(frozen=True)
class Wait:
    """Wait for other jobs (e.g. a missing customer discovered by 3140) and then run again."""

    reason: str
    wait_for: tuple[int, ...] = field(default_factory=tuple)


BuildResult = Request | Finish | Defer | Reject
ApplyResult = Done | Again | Retry | Park | Wait


class Handler(Protocol):
    """The interface every job kind implements.

    A handler may also define ``prepare(ctx, jobs)``: called once per round trip with all its jobs of the
    batch before ``build`` (or ``apply``) runs for each, to load what they need in a few queries.
    """

    kind: str

    def build(self, ctx: Context, job: QueueJob) -> BuildResult: ...

    def apply(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult: ...


def prepare_all(ctx: Context, jobs: list[QueueJob], *, answers: bool = False) -> None:
    """Run the ``prepare`` hook of every handler that has one, with its jobs of the batch.

    ``answers``: the jobs' answers are about to be applied, not their requests built; a handler whose
    answers need less than its builds (``prepare_answers``) loads only that.
    """
    by_kind: dict[str, list[QueueJob]] = {}
    for job in jobs:
        by_kind.setdefault(job.kind, []).append(job)
    for kind, group in by_kind.items():
        handler = handler_for(kind)
        prepare = (getattr(handler, "prepare_answers", None) if answers else None) or getattr(
            handler, "prepare", None)
        if prepare is not None:
            prepare(ctx, group)


def progress(job: QueueJob) -> dict[str, Any]:
    """The handler's own notes on how far the job got (step to take next, name chosen, iterator...).

    New data coalesced into the job starts it over with a clean slate (``jobs.enqueue`` clears them).
    """
    return dict(notes_of(job.progress, job.payload) or {})


def note(job: QueueJob, name: str) -> Any:
    """One of the job's progress notes (None when it has none of that name), read without copying them
    all (:func:`progress`): the answer side asks this of every job."""
    return (notes_of(job.progress, job.payload) or {}).get(name)


def notes_of(notes: dict[str, Any] | None, payload: dict[str, Any] | None) -> dict[str, Any] | None:
    """A job's progress notes from its two columns: a job written before migration 0009 keeps them in its
    payload until they next change."""
    return notes if notes is not None else (payload or {}).get("progress")


def set_progress(job: QueueJob, **changes: Any) -> None:
    """Update the job's progress notes (None removes a note)."""
    current = progress(job)
    notes = {k: v for k, v in {**current, **changes}.items() if v is not None}
    if notes == current and "progress" not in job.payload:
        return  # unchanged (a build repeating its notes): nothing to write back
    if "progress" in job.payload:  # an old job's notes move to their column, once
        job.payload = {k: v for k, v in job.payload.items() if k != "progress"}
    job.progress = notes


def reset_progress(job: QueueJob) -> None:
    """Forget the job's progress notes (start over from the first step)."""
    if "progress" in job.payload:
        job.payload = {k: v for k, v in job.payload.items() if k != "progress"}
    job.progress = None


def default_apply(response: Response) -> ApplyResult:
    """What an answer means when the handler has nothing special to say."""
    if found(response):
        return Done()
    return Park(f"QuickBooks answered {response.status_code}: {response.message}")


# Context.cache: the jobs whose Defer named work that turned out to be queued already or not needed.
DEPENDENCIES_QUEUED = "dependencies_queued"


def build_next(ctx: Context, job: QueueJob) -> BuildResult:
    """The job's next request, by its handler; the work a :class:`Defer` names is queued here (a handler's
    build never queues), and the job waits for it. When nothing needed queueing the job is built again,
    past that wait."""
    handler = handler_for(job.kind)
    if handler is None:
        return Reject(f"no handler for jobs of kind {job.kind!r}")
    done: set[int] = ctx.cache.setdefault(DEPENDENCIES_QUEUED, set())
    while True:
        result = handler.build(ctx, job)
        if not isinstance(result, Defer) or result.queue is None:
            return result
        queued = queue_needed(ctx, result.queue)
        if queued:
            reason = result.reason
            if result.queue.order is not None:
                names = ", ".join(j.label or j.kind for j in queued[:3])
                reason = f"waiting for {names} to reach QuickBooks"
            return Defer(reason, tuple(j.id for j in queued))
        if job.id in done:
            return Reject(f"{result.reason}, but nothing could be queued for it")
        done.add(job.id)


def queue_needed(ctx: Context, needed: Needed) -> list[QueueJob]:
    """Queue (or find queued) the jobs ``needed`` names; returns them."""
    from qbsync.queue import intake, lists

    found: list[QueueJob] = []
    if needed.order is not None:
        found += intake.order_dependencies(ctx.session, ctx.connection, ctx.settings, needed.order,
                                           needed.customer)
    if needed.lists:
        found += lists.request_refresh(ctx.session, ctx.connection.id, list(needed.lists), now=ctx.now)
    if needed.customer_changes:
        found.append(lists.request_customer_changes(ctx.session, ctx.connection.id, ctx.now))
    return found


HANDLERS: dict[str, Handler] = {}


def register(handler: Handler) -> Handler:
    """Make ``handler`` the one for its kind."""
    HANDLERS[handler.kind] = handler
    return handler


def handler_for(kind: str) -> Handler | None:
    """The handler of ``kind`` (loading the built-in handlers on first use)."""
    if not _loaded:
        _load_builtin()
    return HANDLERS.get(kind)


_loaded: list[str] = []  # the built-in modules imported so far (one module may import another's handler)


def _load_builtin() -> None:
    import importlib

    for module in BUILTIN_MODULES:
        importlib.import_module(module)
        _loaded.append(module)


# Modules that register handlers when imported.
BUILTIN_MODULES: list[str] = [
    "qbsync.queue.handlers.raw",
    "qbsync.queue.handlers.customers",
    "qbsync.queue.handlers.items",
    "qbsync.queue.handlers.orders",
    "qbsync.queue.handlers.payments",
    "qbsync.queue.handlers.refunds",
    "qbsync.queue.handlers.inventory",
    "qbsync.queue.handlers.list_refresh",
    "qbsync.queue.handlers.company_setup",
]


# --- small pieces every handler uses --------------------------------------------------------------


def render(ctx: Context, request_type: str, data: dict[str, Any], step: str) -> Request:
    """Render ``request_type`` ("CustomerAdd") for this job's requestID and qbXML version."""
    fragment = render_request(request_type, data, request_id=ctx.request_id, version=ctx.version)
    return Request(request_type=f"{request_type}Rq", fragment=fragment, step=step)


def list_record_deleted(
    ctx: Context, job: QueueJob, mapping: IdMapping, list_type: str, word: str
) -> ApplyResult:
    """A customer or item the mapping points at is gone from QuickBooks: add it again, unless a person
    linked it by hand (then they choose what replaces it)."""
    from qbsync.queue import lists, mappings

    if mapping.manual:
        return Park(
            f"the QuickBooks {word} {mapping.qb_name!r} linked by hand no longer exists; "
            "link another one on the mappings page"
        )
    mappings.forget(ctx.session, mapping)
    lists.forget_entry(ctx.session, ctx.connection.id, list_type, mapping.qb_id)
    reset_progress(job)
    return Again(f"the QuickBooks {word} {mapping.qb_name!r} was deleted: adding it again")


def refused(response: Response, what: str) -> Park:
    """Park with QuickBooks' own words (the exact qbXML sent stays on the job)."""
    return Park(f"QuickBooks refused the {what} ({response.status_code}): {response.message}")


def corrective_step_due(ctx: Context, job: QueueJob) -> bool:
    """Whether a job that kept failing should now try its corrective step (once).

    After ``corrective_after_sessions`` failed sessions the handler re-reads the record (a fresh
    EditSequence, or whether it exists after all) before sending its change again. Busy answers count
    among those sessions: one read more is harmless, and a record someone had open may have changed. The
    corrective step parks nothing: a job answered busy waits for a person after ``busy_retries``
    (``exchange._busy``); a request whose answer could not be read, or never came, once it has failed
    alone ``corrective_after_sessions`` times in a row (``isolation.verdict``, ``isolation.unanswered``).
    """
    limit = int(ctx.settings.corrective_after_sessions)
    if limit <= 0 or job.failed_sessions < limit or progress(job).get("corrected"):
        return False
    set_progress(job, corrected=True)
    return True
