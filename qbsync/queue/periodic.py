"""Work QuickBooks sessions do on a schedule: pulling inventory and refreshing the reference lists.

The first contact with a company (HostQuery, PreferencesQuery, the lists, then the company setup) happens
once for every connection, whatever ``list_refresh_hours`` says: without it the setup and the checks before
each request have nothing to go on. (A session with another company file open gets nothing at all; moving
the connection to another file queues the first contact again: ``queue.company_file``.)

:func:`plan` runs when the Web Connector signs in (``exchange.has_work``) and before every round trip
(``exchange.next_request``); it queues what is due, so the session that is open anyway does it. It costs a
few small queries and queues nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from qbsync.queue import inventory, lists, setup
from qbsync.queue.settings import SyncSettings
from qbsync.storage.models import Connection, QueueJob


def plan(session: Session, connection: Connection, now: datetime, in_session: bool = True) -> list[QueueJob]:
    """Queue the periodic work that is due for ``connection``; returns the jobs queued.

    ``in_session`` is False when the Web Connector is only asking whether there is work (sign-in): work
    that merely rides along with a session is not planned then.
    """
    settings = SyncSettings(connection.settings)
    planned = []
    if _lists_due(session, connection.id, settings, now):
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

