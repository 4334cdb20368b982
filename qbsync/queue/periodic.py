"""Work QuickBooks sessions do on a schedule: pulling inventory and refreshing the reference lists.

The first contact with a company (HostQuery, PreferencesQuery, the lists, then the company setup) happens
once for every connection and again whenever the Web Connector reports another company file, whatever
``list_refresh_hours`` says: without it the setup and the checks before each request have nothing to go on.

:func:`plan` runs when the Web Connector signs in (``exchange.has_work``) and before every round trip
(``exchange.next_request``); it queues what is due, so the session that is open anyway does it. It costs a
few small queries and queues nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from qbsync.queue import inventory, lists, setup
from qbsync.queue.settings import SyncSettings
from qbsync.storage.models import Checkpoint, Connection, QueueJob, utcnow

COMPANY_FILE = "company_file"  # checkpoint: the company file the lists were last read from


def plan(session: Session, connection: Connection, now: datetime, in_session: bool = True,
         company_file: str | None = None) -> list[QueueJob]:
    """Queue the periodic work that is due for ``connection``; returns the jobs queued.

    ``in_session`` is False when the Web Connector is only asking whether there is work (sign-in): work
    that merely rides along with a session is not planned then. ``company_file`` is the file the session's
    Web Connector has open (unknown at sign-in): another file than the lists were read from means another
    company, so its first contact happens again.
    """
    settings = SyncSettings(connection.settings)
    planned = []
    new_file = _company_file_changed(session, connection.id, company_file)
    if new_file:
        lists.forget_company(session, connection.id)  # another company: read it before trusting a name
    if (new_file and not lists.refresh_active(session, connection.id)) or _lists_due(
            session, connection.id, settings, now):
        refreshing = lists.request_refresh(session, connection.id, now=now)
        planned.extend(refreshing)
        # Then the settings are checked against what was read: what they name and QuickBooks lacks is chosen
        # or created before the orders that need it.
        planned.append(setup.request_setup(session, connection.id, now, after=refreshing))
    if inventory.pull_due(session, connection.id, settings, now, in_session):
        planned.append(inventory.request_pull(session, connection.id, now))
    return planned


def _lists_due(session: Session, connection_id: int, settings: SyncSettings, now: datetime) -> bool:
    last = lists.last_planned(session, connection_id)
    hours = int(settings.list_refresh_hours)
    if last is not None and hours <= 0:
        return False  # refreshes only when asked; the first contact happened
    if last is not None and inventory.as_utc(now) - inventory.as_utc(last) < timedelta(hours=hours):
        return False
    return not lists.refresh_active(session, connection_id)


def _company_file(value: str | None) -> str:
    # Windows paths: the same file whatever the case or the slashes.
    return " ".join(str(value or "").replace("/", "\\").split()).casefold()


def _company_file_changed(session: Session, connection_id: int, company_file: str | None) -> bool:
    """Whether the Web Connector has another company file open than the lists were read from (the file is
    remembered the first time it is seen)."""
    if not _company_file(company_file):
        return False
    row = session.get(Checkpoint, (connection_id, COMPANY_FILE))
    if row is None:
        session.add(Checkpoint(connection_id=connection_id, name=COMPANY_FILE, value=company_file))
        return False  # the first file seen: its first contact is the one planned by _lists_due
    if _company_file(row.value) == _company_file(company_file):
        return False
    row.value = company_file
    row.updated_at = utcnow()
    return True
