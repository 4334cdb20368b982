"""Sync errors: every parked job grouped by its cause, one row per cause with its fix, a link to where to
fix it and "retry all" — so 230 orders refused for one missing account are one thing to do, not 230."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for

from qbsync.queue import causes, company_file, jobs
from qbsync.queue.settings import SyncSettings
from qbsync.service.pages.lookup import all_connections, connection_or_404, runtime
from qbsync.storage.models import Connection

log = logging.getLogger(__name__)

blueprint = Blueprint("errors", __name__, url_prefix="/errors")


def settings_naming(conn: Connection, name: str | None) -> list[str]:
    """The sync settings of ``conn`` whose value names ``name`` (where a wrong name is fixed)."""
    if not name:
        return []
    wanted = name.strip().lower()
    found = []
    for setting, value in SyncSettings(conn.settings).items():
        values = value if isinstance(value, list | tuple) else [value]
        texts = [str(v).strip().lower() for v in values]
        if isinstance(value, dict):
            texts = [str(v).strip().lower() for v in value.values()]
        if wanted in texts:
            found.append(setting)
    return found


@blueprint.get("")
def index() -> Any:
    """Parked jobs of every connection, grouped by cause."""
    with runtime().db.transaction() as session:
        sections = []
        total = 0
        for conn in all_connections(session):
            groups = causes.parked_causes(session, conn.id)
            other_file = company_file.refused_file(session, conn)  # nothing syncs: a cause of its own
            total += len(groups) + (other_file is not None)
            sections.append(dict(conn=conn, other_file=other_file, groups=[
                dict(group=g, settings=settings_naming(conn, g.cause.missing_name)) for g in groups]))
        return render_template("errors/index.html", sections=sections, total=total)


@blueprint.post("/<name>/<key>/retry")
def retry_all(name: str, key: str) -> Any:
    """Retry every parked job with this cause (after the cause was fixed)."""
    with runtime().db.transaction() as session:
        conn = connection_or_404(session, name)
        found = causes.jobs_with_cause(session, conn.id, key)
        if not found:
            abort(404, description="No parked job has that cause any more: it may have been retried already.")
        for job in found:
            jobs.retry_now(session, job)
        count = len(found)
    log.info("connection %s: %s parked jobs retried by a person", name, count)
    flash(f"{count} job{'' if count == 1 else 's'} queued to retry at the next Web Connector session.", "ok")
    return redirect(url_for("errors.index"))
