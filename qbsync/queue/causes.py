"""Why jobs need a person, grouped: one cause for every job that waits on the same fix (parked jobs, and jobs
preflight held back because they name a record QuickBooks lacks).

A bookkeeper with 230 orders refused because QuickBooks has no account "Chase Checking" needs one row
("230 orders: QuickBooks has no account 'Chase Checking'") with one fix and one "retry all", not 230
messages. :func:`cause_of` is pure: it turns what a parked job carries (QuickBooks' status code and
message, or qbsync's own reason) into a :class:`Cause`; :func:`parked_causes` groups a connection's parked
jobs, and the jobs waiting behind them, by it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from qbsync.qbxml.status import explain
from qbsync.queue import preflight
from qbsync.queue.handlers.answers import reference_in
from qbsync.storage.models import JobDependency, QueueJob

# qbsync's own reason for a request preflight held back (queue/preflight.py): the same cause as its 3140.
_HELD_BACK = re.compile(r"""QuickBooks has no (?P<word>account|item|payment method|sales tax code|vendor|"""
                        r"""class) (?P<q>['"])(?P<name>.*?)(?P=q)""")
_LIST_OF_WORD = {"account": "Account", "item": "Item", "payment method": "PaymentMethod",
                 "sales tax code": "SalesTaxCode", "vendor": "Vendor", "class": "Class"}
# Numbers that differ from job to job (ids, order numbers) but not from cause to cause.
_VARYING_NUMBER = re.compile(r"#\d+|\b\d{3,}\b")


@dataclass(frozen=True)
class Cause:
    """One reason jobs cannot go to QuickBooks, in words a bookkeeper can act on."""

    key: str  # stable across requests: the page links and "retry all" name a cause by it
    title: str
    fix: str
    status_code: int | None = None
    missing_list: str | None = None  # 3140: the kind of record QuickBooks lacks ("Account", "Item")
    missing_name: str | None = None  # and its name


def cause_of(status_code: int | None, message: str | None, reason: str | None) -> Cause:
    """The cause behind a parked job's last answer (``status_code``/``message``) or qbsync's ``reason``."""
    message = (message or "").strip()
    reason = (reason or "").strip()
    if status_code is not None and status_code >= 3000:
        found = reference_in(message)
        explanation = explain(status_code)
        if status_code == 3140 and found:
            return _missing(found.kind, found.name, status_code)
        text = _VARYING_NUMBER.sub("#…", message) or explanation.title
        return Cause(key=_key(str(status_code), text),
                     title=f"{explanation.title} ({status_code}): {message or 'QuickBooks gave no message'}",
                     fix=explanation.fix, status_code=status_code)
    held = _HELD_BACK.search(reason)
    if held:
        return _missing(_LIST_OF_WORD[held.group("word")], held.group("name"), 3140)
    text = _VARYING_NUMBER.sub("#…", reason) or "no reason recorded"
    return Cause(key=_key("qbsync", text), title=reason or "Parked without a reason",
                 fix="Read the reason, correct the record in the store, in QuickBooks or in the sync "
                     "settings, then retry.")


def _missing(kind: str, name: str, status_code: int) -> Cause:
    """A reference to a record QuickBooks lacks: answered 3140, or held back before it was sent."""
    return Cause(
        key=_key("3140", kind.lower(), name),
        title=f"QuickBooks has no {kind.lower()} \u201c{name}\u201d",
        fix=(f"Create the {kind.lower()} \u201c{name}\u201d in QuickBooks (then refresh the lists), "
             "or change the sync setting or mapping that names it to one QuickBooks has."),
        status_code=status_code, missing_list=kind, missing_name=name)


def _key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


@dataclass
class CauseGroup:
    """A cause with the parked jobs it holds and how many jobs wait behind them."""

    cause: Cause
    parked: list[QueueJob] = field(default_factory=list)
    waiting_behind: int = 0

    @property
    def count(self) -> int:
        return len(self.parked)

    def kinds(self) -> str:
        """'230 orders, 2 customers': what the parked jobs are, in the merchant's words."""
        counts: dict[str, int] = {}
        for job in self.parked:
            counts[job.kind] = counts.get(job.kind, 0) + 1
        parts = []
        for kind, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            noun = kind.replace("_", " ")
            parts.append(f"{count} {noun}{'' if count == 1 else 's'}")
        return ", ".join(parts)


def parked_causes(session: Session, connection_id: int) -> list[CauseGroup]:
    """The connection's parked jobs grouped by cause, biggest first, with the jobs blocked behind each."""
    groups: dict[str, CauseGroup] = {}
    by_job: dict[int, str] = {}
    # Jobs preflight held back (they name a record QuickBooks lacks) need the same person as parked ones.
    parked = session.scalars(select(QueueJob).where(
        QueueJob.connection_id == connection_id,
        (QueueJob.state == "parked") | ((QueueJob.state == "waiting") & (QueueJob.step == preflight.STEP)),
    ).order_by(QueueJob.id))
    for job in parked:
        if job.state == "waiting":  # held back by preflight: its reason says why, not an earlier answer
            cause = cause_of(None, None, job.reason)
        else:
            cause = cause_of(job.last_status_code, job.last_message, job.reason)
        groups.setdefault(cause.key, CauseGroup(cause)).parked.append(job)
        by_job[job.id] = cause.key
    if groups:
        _count_waiting_behind(session, connection_id, groups, by_job)
    return sorted(groups.values(), key=lambda g: (-(g.count + g.waiting_behind), g.cause.title))


def _count_waiting_behind(session: Session, connection_id: int, groups: dict[str, CauseGroup],
                          by_job: dict[int, str]) -> None:
    # Follow each waiting job's unfinished dependencies down to a parked one (what jobs.root_blocker does
    # for one job), with every edge read in one query.
    edges: dict[int, list[int]] = {}
    rows = session.execute(
        select(JobDependency.job_id, JobDependency.depends_on_id)
        .join(QueueJob, QueueJob.id == JobDependency.job_id)
        .where(QueueJob.connection_id == connection_id, QueueJob.state == "waiting"))
    for job_id, depends_on in rows:
        edges.setdefault(job_id, []).append(depends_on)
    for start in edges:
        seen, stack = {start}, list(edges[start])
        while stack:
            current = stack.pop()
            if current in by_job:
                groups[by_job[current]].waiting_behind += 1
                break
            if current not in seen:
                seen.add(current)
                stack.extend(edges.get(current, ()))


def jobs_with_cause(session: Session, connection_id: int, key: str) -> list[QueueJob]:
    """The parked jobs of ``connection_id`` whose cause has ``key`` (for "retry all")."""
    for group in parked_causes(session, connection_id):
        if group.cause.key == key:
            return group.parked
    return []
