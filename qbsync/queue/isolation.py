"""Split to isolate: when QuickBooks fails a whole batch, find the request that did it.

QuickBooks answers a batch it cannot parse (HRESULT 0x80040400) with no response at all, and an answer
qbsync cannot read says nothing about any single request either. Resending the same batch would fail the
same way, session after session, so one bad record would block every record sent with it. Instead the
jobs of such a batch are *split*: they go out again in batches half the size, on their own. A half that
gets through proceeds normally; a half that fails is split again, until the job at fault fails alone and
is *isolated*: parked with QuickBooks' words and the exact qbXML (a parse error repeats for the same
text), or, when the answer was merely unreadable or never came (QuickBooks or the session died on the
batch), retried alone with backoff until it has failed alone too often.

The split needs no state of its own: each job's attempts already say which failed batch it was in
(outcome ``split``, or ``isolated`` for a job that failed alone), and that batch's size gives the next.
A batch left without any answer (:func:`unanswered`: QuickBooks or the session died) is split the same
way, from the second time in a row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from qbsync.queue.handlers import Again, ApplyResult, Park, Retry
from qbsync.storage.models import Exchange, JobAttempt

SPLIT = "split"  # the attempt's batch failed as a whole with others in it: sent again in a smaller one
ISOLATED = "isolated"  # the attempt failed alone with an unreadable answer: retried alone, with backoff
PARKED = "park"  # failed alone with a parse error: parked (the outcome every parked attempt has)
RESENT = "resent"  # left without an answer with others, the first time: sent again as it was
_SUSPECT_OUTCOMES = (SPLIT, ISOLATED)
_CHUNK = 500  # ids per IN (...) list, well under every database's limit


@dataclass(frozen=True)
class Group:
    """The failed batch a job was last in: its exchange and how many requests it held."""

    exchange_id: int
    size: int


def probe_size(failed_size: int) -> int:
    """How many jobs of a failed batch of ``failed_size`` go out together next: half, rounded up."""
    return max(1, (failed_size + 1) // 2)


def probe(order: Sequence[int], groups: Mapping[int, Group]) -> list[int]:
    """The jobs to send next, alone, to narrow a failed batch down; empty when none of ``order`` is a suspect.

    ``order`` is the ready jobs in the order they would be sent; ``groups`` the failed batch of those that
    were in one. The first suspect's batch is narrowed first, so one split finishes before the next starts
    and a failure of the probe can only point at its own members.
    """
    first = next((job_id for job_id in order if job_id in groups), None)
    if first is None:
        return []
    group = groups[first]
    members = [job_id for job_id in order if groups.get(job_id) == group]
    return members[:probe_size(group.size)]


def verdict(batch_size: int, reason: str, *, parse_error: bool, failed_alone: int,
            give_up_after: int, unanswered: bool = False) -> ApplyResult:
    """What becomes of one job of a batch that failed as a whole.

    With others in the batch, nothing points at this job yet: it is sent again in a smaller batch at once,
    without counting a failure (:class:`Again`). Alone, it is the one at fault: a parse error is parked
    for a person, since QuickBooks refuses the same text every time; an unreadable answer, or none at all
    (``unanswered``: QuickBooks or the session died on it), is retried with backoff (QuickBooks may have
    done the work, so the retry looks it up first) and parked once the same request has failed alone
    ``give_up_after`` times in a row (``failed_alone`` counts the earlier ones; 0 never gives up). Busy
    answers are no such failure: ``busy_retries`` alone governs them, so they are not counted here.
    """
    if batch_size > 1:
        return Again(f"{reason}; sent again in smaller batches to find the request at fault")
    if parse_error:
        return Park(f"{reason}. QuickBooks refused this request even on its own, so something in this "
                    "record's data is at fault; the qbXML sent is kept with the job. Correct the record "
                    "(or the mapping it uses) and retry the job")
    tries = failed_alone + 1
    if give_up_after > 0 and tries >= give_up_after:
        if unanswered:
            return Park(f"QuickBooks left this request without an answer {tries} times in a row, each time "
                        f"sent on its own (last: {reason}), so qbsync stopped sending it. QuickBooks may be "
                        "crashing or timing out on it: open the job to see the qbXML sent, correct what in "
                        "the record QuickBooks cannot take (in the store, or the mapping it uses) and retry "
                        "the job. If QuickBooks, the Web Connector or the network was down at those times, "
                        "retry the job once they run again. Either way it looks its record up first, so "
                        "nothing is added twice")
        return Park(f"{reason}; it failed on its own in {tries} sessions, so a person must "
                    "look (the qbXML sent is kept with the job)")
    if unanswered:
        return Retry(f"{reason}; this request got no answer on its own and is sent again alone later, "
                     "after a look-up")
    return Retry(f"{reason}; this request failed on its own and is retried alone later")


def outcome_of(result: ApplyResult) -> str:
    """The attempt's outcome for a :func:`verdict`, which tells the next round trip what to split."""
    if isinstance(result, Again):
        return SPLIT
    return PARKED if isinstance(result, Park) else ISOLATED


def unanswered(together: int, reason: str, *, lost_before: int, alone_before: int,
               give_up_after: int) -> tuple[ApplyResult, str]:
    """What becomes of a request QuickBooks left without an answer, and its attempt's outcome.

    ``together``: how many requests of its batch were left so; ``lost_before``: how many times in a row
    this request (same job, same step) was left so before, in any batch; ``alone_before``: how many of
    those, and of unreadable answers, it had alone. A whole batch left unanswered once is most likely a
    session or a connection that dropped: it is sent again as it was. Left so again, it is split like a
    batch QuickBooks failed (:func:`verdict`), so a request QuickBooks crashes on ends up alone without
    the others waiting on it; alone, it is sent again at once the first time, then with backoff, and
    parked with the fix once it has failed alone ``give_up_after`` times in a row. Never counted against
    a request in a batch, so a network that drops never parks a batch. QuickBooks may have done it
    either way: the caller has the job look its record up first.
    """
    if together > 1 and lost_before == 0:
        return Retry(f"{reason}; sent again, its record looked up first", counts_as_failure=False), RESENT
    result = verdict(together, reason, parse_error=False, failed_alone=alone_before,
                     give_up_after=give_up_after, unanswered=True)
    if isinstance(result, Retry) and alone_before == 0:
        result = Retry(result.reason, counts_as_failure=False)  # the first time alone: at once
    return result, outcome_of(result)


# Built once: building it (the join above all) cost about as much as running it, on every fill round.
_GROUPS = (select(JobAttempt.job_id, JobAttempt.exchange_id, Exchange.job_count)
           .join(Exchange, Exchange.id == JobAttempt.exchange_id)
           .where(JobAttempt.job_id.in_(bindparam("job_ids", expanding=True)),
                  JobAttempt.outcome.in_(_SUSPECT_OUTCOMES)))


def groups_of(session: Session, job_ids: Sequence[int]) -> dict[int, Group]:
    """For each of ``job_ids`` that is still being narrowed down, the failed batch it was last in."""
    found: dict[int, Group] = {}
    for start in range(0, len(job_ids), _CHUNK):
        rows = session.execute(_GROUPS, {"job_ids": list(job_ids[start:start + _CHUNK])})
        for job_id, exchange_id, size in rows:
            if job_id is None:  # never: the query names the jobs (the column only goes NULL on deletion)
                continue
            known = found.get(job_id)
            if known is None or exchange_id > known.exchange_id:
                found[job_id] = Group(exchange_id, size or 1)
    return found
