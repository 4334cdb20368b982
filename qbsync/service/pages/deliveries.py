"""Webhook deliveries: what the stores sent and what became of it — stored, processed, ignored, invalid
(the payload could not be read) or failed in processing, with the error and a retry for failed ones."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select, update

from qbsync.service.pages.lookup import all_connections, connection_or_404, page_count, page_number, runtime
from qbsync.storage.models import WebhookDelivery
from qbsync.webhooks import processing

log = logging.getLogger(__name__)

blueprint = Blueprint("deliveries", __name__, url_prefix="/deliveries")

PAGE_SIZE = 50
# What a person may need to look at first; "all" shows every delivery.
VIEWS = {"attention": ("failed", "invalid", "refused"), "failed": ("failed",), "invalid": ("invalid",),
         "refused": ("refused",),
         "ignored": ("ignored",), "stored": ("stored",), "processed": ("processed",), "all": ()}


@blueprint.get("")
def index() -> Any:
    """Deliveries of every (or one) connection, newest first, filtered by what became of them."""
    view = request.args.get("show", "attention")
    if view not in VIEWS:
        view = "attention"
    name = request.args.get("connection", "")
    page = page_number(request.args.get("page", 1))
    with runtime().db.transaction() as session:
        stmt = select(WebhookDelivery)
        if name:
            stmt = stmt.where(WebhookDelivery.connection_id == connection_or_404(session, name).id)
        if VIEWS[view]:
            stmt = stmt.where(WebhookDelivery.state.in_(VIEWS[view]))
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        pages = page_count(total, PAGE_SIZE)
        if page > pages:
            return redirect(url_for("deliveries.index", show=view, connection=name or None, page=pages))
        rows = list(session.scalars(stmt.order_by(WebhookDelivery.id.desc())
                                    .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
        connections = all_connections(session)
        return render_template("deliveries/index.html", rows=rows, total=total, page=page, pages=pages,
                               view=view, views=list(VIEWS), connection=name, connections=connections,
                               names={c.id: c.name for c in connections})


@blueprint.post("/retry")
def retry() -> Any:
    """Process failed deliveries again: the ticked ones, or every failed one."""
    ids = [int(v) for v in request.form.getlist("delivery_id") if v.isdecimal() and len(v) <= 18]
    every = request.form.get("all_failed") == "1"
    if not ids and not every:
        flash("Tick at least one failed delivery first.", "error")
        return redirect(url_for("deliveries.index", show="failed"))
    rt = runtime()
    with rt.db.transaction() as session:
        stmt = (update(WebhookDelivery).where(WebhookDelivery.state == "failed")
                .values(state="stored", attempts=0, error=None, processed_at=None))
        if not every:
            stmt = stmt.where(WebhookDelivery.id.in_(ids))
        count = session.execute(stmt).rowcount or 0
    if count:
        processing.announce(rt)  # picked up like a new delivery; the scheduler catches it if this fails
    log.info("%s failed webhook deliveries retried by a person", count)
    noun = 'delivery' if count == 1 else 'deliveries'
    flash(f"{count} {noun} queued to be processed again.", "ok" if count else "error")
    return redirect(url_for("deliveries.index", show="attention"))
