"""The step machine every handler shares: each handler states its steps and what each answer means.

A job goes through steps (look up -> add -> re-query -> mod -> void/reverse ...); the step it is on is
``job.step`` (the step of the request last sent). A handler declares, for each step, a :class:`Step`:

- ``first``: runs before the answer is read (a guard, such as "the link was removed meanwhile");
- ``found``: QuickBooks found, added or changed the record (success, or success with a warning);
- ``empty``: a query answered without the record (nothing found, or ``found`` gave no result);
- ``on``: reactions to specific outcomes (3100 name in use, 3140 missing reference, 3200 stale
  EditSequence, 3120 gone ...); a step's 3200 reaction (read the record again) is bounded here, for every
  handler: after :data:`STALE_LIMIT` 3200 answers in a row the job waits for a person, with the fix;
- ``otherwise``: anything else: the words for :func:`refused` ("customer look-up"), or a reaction.

A reaction is a handler method ``(self, ctx, job, response)`` returning what happens to the job, or None to
let the next rule in that order decide. :func:`react` is pure given its reactions: no session of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from qbsync.qbxml.parse import Response
from qbsync.qbxml.status import Outcome
from qbsync.queue.handlers import (
    Again,
    ApplyResult,
    Context,
    Park,
    note,
    refused,
    set_progress,
)
from qbsync.queue.handlers.answers import FOUND, READABLE
from qbsync.storage.models import QueueJob

# Why a change answered 3200 (stale EditSequence) is read again, for every handler.
STALE = "changed in QuickBooks meanwhile: reading it again"
# Progress note: the changes of the job answered 3200 in a row (each read again and sent anew).
STALE_RUN = "stale"
# After this many 3200 answers in a row the job waits for a person: something keeps changing the record in
# QuickBooks between qbsync's read and its change, and reading it again would only go round for ever.
STALE_LIMIT = 5
# A handler method reading one answer: what happens to the job, or None (the next rule decides).
Reaction = Callable[[Any, Context, QueueJob, Response], ApplyResult | None]


@dataclass(frozen=True)
class Step:
    """What each answer to one step of a job means (see the module docstring for the order of rules)."""

    found: Reaction | None = None
    empty: Reaction | None = None
    on: Mapping[Outcome, Reaction] = field(default_factory=dict)
    otherwise: str | Reaction = "request"
    first: Reaction | None = None

    def reactions(self, outcome: Outcome) -> list[Reaction]:
        """The reactions that may decide an answer with ``outcome``, in the order they are asked."""
        chosen = [self.first] if self.first is not None else []
        if outcome in FOUND and self.found is not None:
            chosen.append(self.found)
        if outcome in READABLE and self.empty is not None:
            chosen.append(self.empty)
        if outcome in self.on:
            chosen.append(self.on[outcome])
        return chosen


def react(steps: Mapping[str, Step], handler: Any, ctx: Context, job: QueueJob, response: Response,
          unknown: str = "a job") -> ApplyResult:
    """What the answer to the job's current step means, by the handler's table ``steps``.

    ``unknown`` names the job for a step the table lacks ("an order job").
    """
    step = steps.get(job.step or "")
    if step is None:
        return Park(f"qbsync does not know the step {job.step!r} of {unknown}")
    stale = step.on.get(Outcome.STALE_EDIT_SEQUENCE)
    if (stale is not None and response.outcome is not Outcome.STALE_EDIT_SEQUENCE
            and note(job, STALE_RUN) is not None):
        set_progress(job, **{STALE_RUN: None})  # a change answered otherwise: the run is broken
    for reaction in step.reactions(response.outcome):
        result = reaction(handler, ctx, job, response)
        if result is not None and reaction is stale and response.outcome is Outcome.STALE_EDIT_SEQUENCE:
            return _stale_again(job, response, result)
        if result is not None:
            return result
    if isinstance(step.otherwise, str):
        return refused(response, step.otherwise)
    result = step.otherwise(handler, ctx, job, response)
    return result if result is not None else refused(response, "request")


def _stale_again(job: QueueJob, response: Response, result: ApplyResult) -> ApplyResult:
    """A change answered 3200 once more: ``result`` (read it again), or, after :data:`STALE_LIMIT` in a
    row, a wait for a person with the fix. The reaction's notes stay, so a retry reads it again first."""
    run = int(note(job, STALE_RUN) or 0) + 1
    if run < STALE_LIMIT:
        set_progress(job, **{STALE_RUN: run})
        return result
    set_progress(job, **{STALE_RUN: None})  # a person's retry starts the count over
    return Park(f"QuickBooks refused this change {run} times in a row because the record had changed in "
                f"QuickBooks since qbsync read it ({response.status_code}: {response.message}); each time "
                "qbsync read it again and sent the change anew. Someone or something keeps changing this "
                "record in QuickBooks: close it there (a person editing it, or another program syncing it), "
                "then retry the job")


def go(next_step: str | None, reason: str, **notes: Any) -> Reaction:
    """A reaction: take ``next_step`` in the next round trip (None: the handler's first step again),
    noting ``notes`` in the job's progress."""

    def reaction(handler: Any, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        set_progress(job, next=next_step, **notes)
        return Again(reason)

    reaction.__name__ = f"go_{next_step}"
    return reaction


class StepHandler:
    """A handler whose ``apply`` is its table of steps (:attr:`STEPS`); ``build`` stays its own."""

    kind: str = ""
    STEPS: Mapping[str, Step] = {}
    UNKNOWN = "a job"  # how a step the table lacks names the job: "an order job"

    def apply(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        """What QuickBooks' answer to the job's current step means (by :attr:`STEPS`)."""
        return react(self.STEPS, self, ctx, job, response, self.UNKNOWN)
