"""Handing the inventory pull's ``stock_writeback`` jobs to the store writer once they are committed.

The writing itself is :mod:`qbsync.storefronts.writeback` (batched WooCommerce/Shopify writes, retries,
parking); this module only makes sure a pull's jobs reach it right after the pull's transaction commits,
so the worker sees them. Jobs that could not be handed over are run by that module's periodic task.
"""

from __future__ import annotations

import logging

from sqlalchemy import event
from sqlalchemy.orm import Session

from qbsync.storage.models import QueueJob

log = logging.getLogger(__name__)

_PENDING = "qbsync.writeback_connections"


def dispatch_after_commit(session: Session, job: QueueJob) -> None:
    """Have the store writer run the connection of ``job`` once the current transaction has committed."""
    pending: set[int] | None = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = set()
        event.listen(session, "after_commit", _dispatch, once=True)
        event.listen(session, "after_rollback", _forget, once=True)
    pending.add(job.connection_id)


def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _dispatch(session: Session) -> None:
    connection_ids = sorted(session.info.pop(_PENDING, set()))
    try:
        from qbsync.service.runtime import current
        from qbsync.storefronts.writeback import dispatch_stock_writebacks

        runtime = current()
    except Exception:  # no runtime in this process: the periodic write-back task runs them
        log.warning("stock write-backs of connections %s queued; left for the periodic task", connection_ids)
        return
    for connection_id in connection_ids:
        dispatch_stock_writebacks(runtime, connection_id)

