"""Which QuickBooks company file a connection belongs to, and deliberately moving it to another.

A connection's links (id_mappings: ListIDs and TxnIDs) and reference lists describe the records of ONE company
file. The file is bound to the connection at its first Web Connector session (the ``strCompanyFileName`` of
sendRequestXML). A session that has another file open is sent nothing: qbsync cannot prove that any of its
links, or any record it would change, belongs to that file. A person moves the connection to another file with
:func:`switch` (connection page, or ``qbsync connection switch-file``), which forgets the old file's links and
lists so the new file gets its first contact and every record is looked up afresh. When the file is the same
one reached by another path (moved to a new server, opened through a UNC path instead of a mapped drive),
a person says so with :func:`same_file_elsewhere`, which keeps every link.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from qbsync.queue import inventory, jobs, lists, setup
from qbsync.queue.handlers import reset_progress, zero_refusals
from qbsync.storage import checkpoints
from qbsync.storage.models import (
    Checkpoint,
    Connection,
    IdMapping,
    QbListEntry,
    QbwcSession,
    QueueJob,
    utcnow,
)

# What QuickBooks said about the old file and when qbsync last read it: meaningless for another file.
# A sign-in with nothing to do still opens a session this long after the last one that reported a file, so a
# company file opened since is noticed (and said) even while no order comes: one QuickBooks session an hour
# with no request in it.
FILE_CHECK_INTERVAL = timedelta(hours=1)
# Jobs not finished yet: what they noted about the old file (names chosen, records found) is dropped.
OPEN_STATES = ("pending", "waiting", "held", "parked")
# What the file refuses (a credit memo or a sale of 0.00) is learnt again from the new file.
FILE_CHECKPOINTS = (setup.STATE, lists.PLANNED, inventory.CHECKPOINT, inventory.FULL_PULL, inventory.PLANNED,
                    *zero_refusals.CHECKPOINTS.values())
# Per item or order, keyed by the old file's ListIDs (which another file may give to other items): the store
# stock QuickBooks accounted for, the orders it expected to post, what was added back for each, what was
# booked since the store's count.
FILE_CHECKPOINT_PREFIXES = (inventory.BASELINE, inventory.WAITING, inventory.COUNTED, inventory.MOVED)


def same_file(a: str | None, b: str | None) -> bool:
    """Whether two company file paths name the same file (Windows: case and slashes do not matter)."""
    return _normal(a) == _normal(b)


def _normal(value: str | None) -> str:
    return " ".join(str(value or "").replace("/", "\\").split()).casefold()


def refusal(connection_name: str, bound: str, opened: str) -> str:
    """The Web Connector's message for a session that opened another company file than the bound one."""
    return (f"qbsync: QuickBooks has the company file \"{opened}\" open, but connection {connection_name} "
            f"belongs to \"{bound}\". Nothing was sent. Open \"{bound}\" in QuickBooks and run the update "
            "again; or, if the store now belongs to the other file, switch the connection to it on its page "
            f"in qbsync (or: qbsync connection switch-file {connection_name}); if it is the same file, moved "
            f"or opened by another path, say so there (or: qbsync connection switch-file {connection_name} "
            "--same-file).")


def check(connection: Connection, opened: str | None, now: datetime | None = None) -> str | None:
    """Bind ``connection`` to ``opened`` if it has no file yet; the refusal text if it belongs to another.

    None means the session may go on. A session that reports no file cannot be compared and goes on (the
    Web Connector always reports one for QuickBooks Financial, PROTOCOL.md section 3).
    """
    if not _normal(opened):
        return None
    if not _normal(connection.company_file):
        connection.company_file = str(opened).strip()
        connection.company_file_bound_at = now or utcnow()
        return None
    if same_file(connection.company_file, opened):
        return None
    return refusal(connection.name, str(connection.company_file), str(opened).strip())


def check_due(session: Session, connection: Connection, now: datetime) -> bool:
    """Whether a sign-in with no work should open a session anyway, to see which company file is open.

    Not before the first session (which has its first contact to do anyway), and not within
    :data:`FILE_CHECK_INTERVAL` of the last session that reported a file.
    """
    if not _normal(connection.company_file):
        return False
    last = session.scalar(select(func.max(QbwcSession.last_seen_at)).where(
        QbwcSession.connection_id == connection.id, QbwcSession.company_file.is_not(None)))
    return last is None or now - last >= FILE_CHECK_INTERVAL


def refused_file(session: Session, connection: Connection) -> str | None:
    """The other company file the Web Connector last had open, when its newest session reporting a file was
    refused for it (what the connection page offers to switch to); else None."""
    if not _normal(connection.company_file):
        return None
    latest = session.scalar(
        select(QbwcSession.company_file)
        .where(QbwcSession.connection_id == connection.id, QbwcSession.company_file.is_not(None))
        .order_by(QbwcSession.last_seen_at.desc(), QbwcSession.id.desc()).limit(1))
    if latest and not same_file(latest, connection.company_file):
        return latest
    return None


@dataclass(frozen=True)
class FileLinks:
    """What qbsync holds about the connection's company file: forgotten by a switch."""

    mappings: int
    manual_mappings: int
    list_entries: int
    cancelled_jobs: int = 0  # add-backs naming an item of the old file by its ListID

    def describe(self) -> str:
        """E.g. "12 links to QuickBooks records (1 made by a person) and 40 reference list entries"."""
        manual = f" ({self.manual_mappings} made by a person)" if self.manual_mappings else ""
        return (f"{self.mappings} link{'' if self.mappings == 1 else 's'} to QuickBooks records{manual} and "
                f"{self.list_entries} reference list entr{'y' if self.list_entries == 1 else 'ies'}")

    def cancelled(self) -> str:
        """"" or e.g. "; 2 stock add-backs for the old file's items were cancelled"."""
        if not self.cancelled_jobs:
            return ""
        count = self.cancelled_jobs
        return (f"; {count} stock add-back{'' if count == 1 else 's'} for the old file's items "
                f"{'was' if count == 1 else 'were'} cancelled")


def links_of(session: Session, connection_id: int) -> FileLinks:
    """How many links and list entries a switch would forget."""
    mappings, manual = session.execute(
        select(func.count(), func.count().filter(IdMapping.manual.is_(True)))
        .where(IdMapping.connection_id == connection_id)).one()
    entries = session.scalar(select(func.count()).select_from(QbListEntry)
                             .where(QbListEntry.connection_id == connection_id)) or 0
    return FileLinks(int(mappings or 0), int(manual or 0), int(entries))


def switch(session: Session, connection: Connection, to_file: str | None,
           now: datetime | None = None) -> FileLinks:
    """Move ``connection`` to another company file; returns what was forgotten.

    Every link to the old file's records and every list entry read from it is dropped, with the checkpoints
    about it (setup review, list and stock reads), and the first contact (lists, then the company setup) is
    queued. ``to_file`` binds the connection to that file at once; None leaves it unbound, so the file open at
    the next session is bound. The caller ends live sessions first (their in-flight work goes back to the
    queue and is looked up again before anything is added).
    """
    now = now or utcnow()
    forgotten = links_of(session, connection.id)
    session.execute(delete(IdMapping).where(IdMapping.connection_id == connection.id))
    lists.forget_company(session, connection.id)
    checkpoints.delete(session, connection.id, or_(
        Checkpoint.name.in_(FILE_CHECKPOINTS),
        *(Checkpoint.name.startswith(prefix, autoescape=True) for prefix in FILE_CHECKPOINT_PREFIXES)))
    cancelled = _restart_open_jobs(session, connection.id, now)
    connection.company_file = (to_file or "").strip() or None
    connection.company_file_bound_at = now if connection.company_file else None
    queued = lists.request_refresh(session, connection.id, now=now)
    setup.request_setup(session, connection.id, now, after=queued)
    return FileLinks(forgotten.mappings, forgotten.manual_mappings, forgotten.list_entries, cancelled)


def same_file_elsewhere(connection: Connection, path: str, now: datetime | None = None) -> None:
    """A person says ``path`` is the connection's own company file, moved or opened by another path: bind it
    and keep every link and list (no first contact, nothing looked up again).

    Only a person can say so: a copy of the file (a backup restored elsewhere, an accountant's copy) holds
    the same records under the same ids, so nothing QuickBooks answers tells a move from a copy.
    """
    connection.company_file = path.strip()
    connection.company_file_bound_at = now or utcnow()


def _restart_open_jobs(session: Session, connection_id: int, now: datetime) -> int:
    """Unfinished jobs start over in the new file; returns how many were cancelled instead.

    A stock add-back carries the old file's item ListID (ListIDs of two files can be equal and name other
    items), so it is cancelled: the new file's stock is counted from its own first pull.
    """
    cancelled = 0
    for job in session.scalars(select(QueueJob).where(QueueJob.connection_id == connection_id,
                                                      QueueJob.state.in_(OPEN_STATES))):
        if job.kind == inventory.ADD_BACK_KIND:
            jobs.remove(session, job, now)
            job.reason = "cancelled: it names an item of the company file the connection was switched from"
            cancelled += 1
        else:
            reset_progress(job)
    return cancelled
