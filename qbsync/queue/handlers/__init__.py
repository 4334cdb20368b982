"""Job handlers: for each kind of queue job, what to send next and what QuickBooks' answer means.

A handler is a small class with two pure-ish methods over an open session:

- ``build(ctx, job)`` returns the next :class:`Request` to send for the job, or says it needs nothing
  (:class:`Finish`), must wait (:class:`Defer`) or cannot be sent (:class:`Reject`);
- ``apply(ctx, job, response)`` reads the parsed answer and returns what happens to the job:
  :class:`Done`, :class:`Again` (another step follows), :class:`Retry`, :class:`Park` or :class:`Wait`.

Lock errors and "not processed" answers are retried by the exchange before a handler sees them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session

from qbsync.qbxml.parse import Response
from qbsync.qbxml.status import Outcome
from qbsync.queue.settings import SyncSettings
from qbsync.storage.models import Connection, QueueJob


@dataclass
class Context:
    """What a handler may use: the open session, the connection, its settings, the qbXML version."""

    session: Session
    connection: Connection
    settings: SyncSettings
    version: str
    now: datetime
    request_id: str = ""


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
class Defer:
    """The job must wait for the given jobs (already queued) before it can be built."""

    reason: str
    wait_for: tuple[int, ...] = ()


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
    """The interface every job kind implements."""

    kind: str

    def build(self, ctx: Context, job: QueueJob) -> BuildResult: ...

    def apply(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult: ...


def default_apply(response: Response) -> ApplyResult:
    """What an answer means when the handler has nothing special to say."""
    if response.outcome in (Outcome.SUCCESS, Outcome.WARNING):
        return Done()
    return Park(f"QuickBooks answered {response.status_code}: {response.message}")


HANDLERS: dict[str, Handler] = {}


def register(handler: Handler) -> Handler:
    """Make ``handler`` the one for its kind."""
    HANDLERS[handler.kind] = handler
    return handler


def handler_for(kind: str) -> Handler | None:
    """The handler of ``kind`` (loading the built-in handlers on first use)."""
    if not HANDLERS:
        _load_builtin()
    return HANDLERS.get(kind)


def _load_builtin() -> None:
    import importlib

    for module in BUILTIN_MODULES:
        importlib.import_module(module)


# Modules that register handlers when imported.
BUILTIN_MODULES: list[str] = ["qbsync.queue.handlers.raw"]
