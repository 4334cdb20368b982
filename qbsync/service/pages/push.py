"""Push: bring existing storefront orders, customers or products into QuickBooks (the backfill), with a
count before starting, a live progress bar and the history of pushes."""

from __future__ import annotations

import importlib
import logging
import re
from dataclasses import dataclass, field
from datetime import date
from types import ModuleType
from typing import Any

from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from qbsync.service.pages.lookup import all_connections, chosen_connection, connection_or_404, runtime
from qbsync.storage.models import Connection, PushRun

log = logging.getLogger(__name__)

blueprint = Blueprint("push", __name__, url_prefix="/push")

RECORD_TYPES = {"order": "Orders", "customer": "Customers", "product": "Products"}
ORDER_STATUSES = ("pending", "processing", "on_hold", "completed", "cancelled", "refunded", "failed")
MAX_IDS = 1000
HISTORY = 25
BACKFILL_MODULE = "qbsync.storefronts.backfill"


def backfill_module() -> tuple[ModuleType | None, str]:
    """The backfill service, or None and why it cannot be used."""
    try:
        return importlib.import_module(BACKFILL_MODULE), ""
    except ImportError as exc:
        if getattr(exc, "name", None) == BACKFILL_MODULE:
            return None, f"the backfill service ({BACKFILL_MODULE}) is not installed"
        log.warning("the backfill service cannot be loaded", exc_info=True)
        return None, f"the backfill service ({BACKFILL_MODULE}) cannot be loaded: {exc}"


@dataclass
class PushForm:
    """The push form, parsed; ``errors`` by field."""

    connection: str = ""
    record_type: str = "order"
    date_from: str = ""
    date_to: str = ""
    statuses: list[str] = field(default_factory=list)
    ids_text: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_form(cls, form: Any) -> PushForm:
        found = cls(connection=form.get("connection", ""), record_type=form.get("record_type", "order"),
                    date_from=form.get("date_from", "").strip(), date_to=form.get("date_to", "").strip(),
                    statuses=[s for s in form.getlist("status") if s], ids_text=form.get("ids", "").strip())
        if found.record_type not in RECORD_TYPES:
            found.errors["record_type"] = "Choose orders, customers or products."
        parsed = {}
        for key in ("date_from", "date_to"):
            raw = getattr(found, key)
            if raw:
                try:
                    parsed[key] = date.fromisoformat(raw)
                except ValueError:
                    found.errors[key] = f"Enter the date as YYYY-MM-DD, not {raw!r}."
        if len(parsed) == 2 and parsed["date_from"] > parsed["date_to"]:
            found.errors["date_to"] = "The end date is before the start date."
        unknown = [s for s in found.statuses if s not in ORDER_STATUSES]
        if unknown:
            found.errors["status"] = f"Unknown order status {', '.join(unknown)}."
        if len(found.ids()) > MAX_IDS:
            found.errors["ids"] = f"At most {MAX_IDS} ids or numbers at once; push in parts or use dates."
        return found

    def ids(self) -> list[str]:
        """Ids or order numbers, separated by commas, spaces or lines ('#1001' is taken as 1001)."""
        return [part.lstrip("#") for part in re.split(r"[\s,;]+", self.ids_text) if part.lstrip("#")]

    def filters(self) -> dict[str, Any]:
        """The filters handed to the backfill service (only those given)."""
        found: dict[str, Any] = {}
        if self.date_from:
            found["date_from"] = self.date_from
        if self.date_to:
            found["date_to"] = self.date_to
        if self.record_type == "order" and self.statuses:
            found["statuses"] = list(self.statuses)
        if self.ids():
            found["ids"] = self.ids()
        return found


def progress_of(run: PushRun) -> dict[str, Any]:
    """A push's progress as plain data (for the JSON endpoint and the first render)."""
    finished = run.state in ("done", "failed")
    handled = run.queued + run.already_synced + run.skipped
    percent = min(100, round(100 * max(run.read, handled) / run.total)) if run.total else 0
    if run.state == "done":
        percent = 100
    return {"id": run.id, "state": run.state, "total": run.total, "read": run.read, "queued": run.queued,
            "already_synced": run.already_synced, "skipped": run.skipped, "percent": percent,
            "finished": finished, "error": run.error}


def _page(conn: Connection | None, form: PushForm, **extra: Any) -> Any:
    with runtime().db.transaction() as session:
        history = list(session.scalars(select(PushRun).order_by(PushRun.id.desc()).limit(HISTORY)))
        connections = all_connections(session)
        names = {c.id: c.name for c in connections}
    status = 400 if form.errors or extra.get("error") else 200
    return render_template("push/index.html", conn=conn, form=form, history=history, names=names,
                           connections=connections, record_types=RECORD_TYPES, statuses=ORDER_STATUSES,
                           unavailable=backfill_module()[1],
                           progress_of=progress_of, **extra), status


@blueprint.get("")
def index() -> Any:
    """The push form and the history."""
    with runtime().db.transaction() as session:
        conn = chosen_connection(session, request.args.get("connection"))
    return _page(conn, PushForm(connection=conn.name if conn else ""))


@blueprint.post("")
def submit() -> Any:
    """'count' says how many records match; 'push' starts the backfill."""
    form = PushForm.from_form(request.form)
    action = request.form.get("action", "count")
    with runtime().db.transaction() as session:
        conn = connection_or_404(session, form.connection) if form.connection else None
    if conn is None:
        form.errors["connection"] = "Choose a connection."
    if form.errors:
        return _page(conn, form)
    backfill, why_not = backfill_module()
    if backfill is None:
        return _page(conn, form, error=f"Push is not available: {why_not}.")
    from qbsync.storefronts.http import StorefrontError

    try:
        if action == "push":
            run = backfill.start_push(runtime(), conn, form.record_type, form.filters())
            log.info("push #%s of %s started for %s with %s", run.id, form.record_type, conn.name,
                     form.filters())
            return redirect(url_for("push.show", run_id=run.id))
        count = backfill.count_matching(runtime(), conn, form.record_type, form.filters())
    except (StorefrontError, ValueError) as exc:
        return _page(conn, form, error=f"The storefront could not be read: {exc}")
    return _page(conn, form, count=count)


@blueprint.get("/<int:run_id>")
def show(run_id: int) -> Any:
    """One push with its live progress bar."""
    with runtime().db.transaction() as session:
        run = session.get(PushRun, run_id)
        if run is None:
            abort(404, description=f"There is no push #{run_id}.")
        conn = session.get(Connection, run.connection_id)
        return render_template("push/show.html", run=run, conn=conn, progress=progress_of(run),
                               record_types=RECORD_TYPES)


@blueprint.get("/<int:run_id>/progress.json")
def progress(run_id: int) -> Any:
    """The push's counters, polled by the progress bar every second."""
    with runtime().db.transaction() as session:
        run = session.get(PushRun, run_id)
        if run is None:
            return jsonify(error=f"There is no push #{run_id}."), 404
        return jsonify(progress_of(run))
