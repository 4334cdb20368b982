"""The connection pages: the .qwc download, the Web Connector password, webhook URLs and secrets, storefront
API credentials (with a live test), and refreshing QuickBooks lists."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from qbsync.connections import (
    PLATFORMS,
    ConnectionSetupError,
    add_connection,
    rebind_same_company_file,
    rotate_webhook_secret,
    set_api_credentials,
    set_qbwc_password,
    switch_company_file,
)
from qbsync.queue import company_file, lists, setup
from qbsync.qwc.qwcfile import build_qwc
from qbsync.service.pages.auth import CREDENTIAL_FIELDS, connection_spec_from
from qbsync.service.pages.lookup import (
    all_connections,
    connection_or_404,
    public_base_url,
    qbwc_url,
    runtime,
)
from qbsync.storage.encryption import mask
from qbsync.storage.models import Connection, QbListEntry, QueueJob

log = logging.getLogger(__name__)

blueprint = Blueprint("connections", __name__, url_prefix="/connections")

# Secrets a person may reveal on the page (one click, fetched on demand so they are never in the HTML).
REVEALABLE = ("webhook_secret", "consumer_key", "consumer_secret", "access_token")
# Extra options for the storefront clients (tests hand in an httpx transport here).
CLIENT_OPTIONS: dict[str, Any] = {}


def webhook_url(conn: Connection) -> str:
    """The address the storefront posts webhooks to."""
    return f"{public_base_url()}/webhooks/{conn.platform}/{conn.name}"


def secret_value(conn: Connection, field: str) -> str | None:
    """The plain value of one of the connection's revealable secrets."""
    if field == "webhook_secret":
        return conn.webhook_secret
    value = (conn.api_credentials or {}).get(field)
    return None if value is None else str(value)


@blueprint.get("")
def index() -> Any:
    """Every connection."""
    with runtime().db.transaction() as session:
        return render_template("connections/index.html", connections=all_connections(session))


@blueprint.route("/new", methods=["GET", "POST"])
def new() -> Any:
    """Link another store."""
    if request.method == "GET":
        return render_template("connections/new.html", form={}, platforms=PLATFORMS,
                               credential_fields=CREDENTIAL_FIELDS)
    try:
        spec = connection_spec_from(request.form)
        with runtime().db.transaction() as session:
            conn = add_connection(session, spec)
            name = conn.name
    except (ConnectionSetupError, IntegrityError) as exc:
        message = str(exc) if isinstance(exc, ConnectionSetupError) else "that name or user is already taken"
        safe_form = {k: v for k, v in request.form.items() if "password" not in k}
        return render_template("connections/new.html", form=safe_form, error=message, platforms=PLATFORMS,
                               credential_fields=CREDENTIAL_FIELDS), 400
    flash(f"Connection {name} added. Download its .qwc file and add it to the Web Connector.", "ok")
    return redirect(url_for("connections.show", name=name))


@blueprint.get("/<name>")
def show(name: str) -> Any:
    """One connection: everything needed to wire up the Web Connector and the storefront."""
    with runtime().db.transaction() as session:
        conn = connection_or_404(session, name)
        qwc = build_qwc(conn, qbwc_url())
        credentials = {key: mask(str(value)) for key, value in (conn.api_credentials or {}).items()
                       if key != "location_id"}
        if "location_id" in (conn.api_credentials or {}):
            credentials["location_id"] = str(conn.api_credentials["location_id"])
        list_counts = session.execute(
            select(QbListEntry.list_type, func.count(), func.max(QbListEntry.refreshed_at))
            .where(QbListEntry.connection_id == conn.id).group_by(QbListEntry.list_type)
            .order_by(QbListEntry.list_type)
        ).all()
        refresh_jobs = list(session.scalars(
            select(QueueJob).where(QueueJob.connection_id == conn.id, QueueJob.kind == lists.REFRESH_KIND,
                                   QueueJob.state.in_(("pending", "in_flight", "waiting", "held", "parked")))
            .order_by(QueueJob.id)
        ))
        other_file = company_file.refused_file(session, conn)
        return render_template(
            "connections/show.html", conn=conn, other_file=other_file,
            file_links=company_file.links_of(session, conn.id), qwc=qwc, qbwc_url=qbwc_url(),
            webhook_url=webhook_url(conn),
            webhook_secret_masked=mask(conn.webhook_secret), credentials=credentials,
            credential_fields=CREDENTIAL_FIELDS[conn.platform], lists=list_counts, refresh_jobs=refresh_jobs,
            has_previous_secret=bool(conn.previous_webhook_secret),
        )


@blueprint.get("/<name>/qwc")
def download_qwc(name: str) -> Any:
    """The .qwc file for the Web Connector (same OwnerID and FileID on every download)."""
    with runtime().db.transaction() as session:
        conn = connection_or_404(session, name)
        qwc = build_qwc(conn, qbwc_url())
    return Response(qwc.xml, mimetype="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="qbsync-{conn.name}.qwc"'})


@blueprint.post("/<name>/password")
def change_password(name: str) -> Any:
    """Set or rotate the Web Connector password."""
    password = request.form.get("password", "")
    if password != request.form.get("password_confirm", ""):
        flash("The two passwords do not match; nothing was changed.", "error")
        return redirect(url_for("connections.show", name=name))
    try:
        with runtime().db.transaction() as session:
            set_qbwc_password(session, connection_or_404(session, name), password)
    except ConnectionSetupError as exc:
        flash(f"Password not changed: {exc}.", "error")
    else:
        log.info("Web Connector password changed for connection %s", name)
        flash("Web Connector password saved. Enter the same password in the Web Connector "
              "(Password column) on the QuickBooks PC.", "ok")
    return redirect(url_for("connections.show", name=name) + "#web-connector")


@blueprint.post("/<name>/webhook-secret")
def change_webhook_secret(name: str) -> Any:
    """Rotate the webhook secret (the previous one stays accepted during the changeover)."""
    secret = request.form.get("webhook_secret", "").strip()
    try:
        with runtime().db.transaction() as session:
            rotate_webhook_secret(session, connection_or_404(session, name), secret)
    except ConnectionSetupError as exc:
        flash(f"Webhook secret not changed: {exc}.", "error")
    else:
        log.info("webhook secret rotated for connection %s", name)
        flash("Webhook secret saved. Enter the same secret in the storefront's webhook settings; "
              "deliveries signed with the previous one are still accepted for a while.", "ok")
    return redirect(url_for("connections.show", name=name) + "#webhooks")


@blueprint.post("/<name>/credentials")
def change_credentials(name: str) -> Any:
    """Store storefront API credentials; fields left blank keep their current value."""
    with runtime().db.transaction() as session:
        conn = connection_or_404(session, name)
        merged = dict(conn.api_credentials or {})
        for form_field, key, _label in CREDENTIAL_FIELDS[conn.platform]:
            value = request.form.get(form_field, "").strip()
            if value:
                merged[key] = value
        set_api_credentials(session, conn, merged)
    flash("Storefront API credentials saved (stored encrypted). Use 'Test connection' to check them.", "ok")
    return redirect(url_for("connections.show", name=name) + "#storefront-api")


def storefront_client(conn: Connection) -> Any:
    """The REST client for the connection's storefront, from its stored credentials (the caller closes it)."""
    from qbsync.storefronts.clients import client_for

    return client_for(conn, timeout=15.0, **CLIENT_OPTIONS)


@blueprint.post("/<name>/test")
def test_storefront(name: str) -> Any:
    """Call the storefront with the stored credentials and say what happened."""
    from qbsync.storefronts.http import StorefrontError

    with runtime().db.transaction() as session:
        conn = connection_or_404(session, name)
    zone = None
    try:
        with storefront_client(conn) as client:
            description = client.check_credentials()
            if not (conn.settings or {}).get("store_timezone"):
                zone = client.timezone()
    except StorefrontError as exc:
        flash(f"The storefront refused or could not be reached: {exc}", "error")
    else:
        if zone and _known_zone(zone):
            # QuickBooks transactions are dated on the shop's day: keep the zone the store reports.
            with runtime().db.transaction() as session:
                stored = connection_or_404(session, name)
                stored.settings = {**(stored.settings or {}), "store_timezone": zone}
            description = f"{description}; time zone {zone} saved as store_timezone"
        flash(f"It works. {description}", "ok")
    return redirect(url_for("connections.show", name=name) + "#storefront-api")


def _known_zone(zone: str) -> bool:
    from qbsync.queue.dates import zone as time_zone

    try:
        time_zone(zone)
    except ValueError:
        return False
    return True


@blueprint.post("/<name>/refresh-lists")
def refresh_lists(name: str) -> Any:
    """Queue a read of QuickBooks' lists (accounts, items, payment methods, tax codes...)."""
    with runtime().db.transaction() as session:
        conn = connection_or_404(session, name)
        queued = lists.request_refresh(session, conn.id)
        setup.request_setup(session, conn.id, after=queued)  # then the settings are checked against them
        names = ", ".join(job.payload.get("list", "") for job in queued)
    flash(f"Queued a refresh of {names}: the lists are read from QuickBooks the next time the Web Connector "
          "runs.", "ok")
    return redirect(url_for("connections.show", name=name) + "#quickbooks-lists")


@blueprint.post("/<name>/switch-file")
def switch_file(name: str) -> Any:
    """Move the connection to the company file a refused update had open (or to the one open next time),
    forgetting the old file's links and lists."""
    with runtime().db.transaction() as session:
        conn = connection_or_404(session, name)
        old = conn.company_file
        target = company_file.refused_file(session, conn)
        forgotten = switch_company_file(session, conn, target)
    log.info("connection %s switched from company file %r to %r by a person", name, old, target)
    flash(f"Switched to {target or 'the company file QuickBooks has open at the next update'}. Forgot "
          f"{forgotten.describe()} of {old or 'the old file'}{forgotten.cancelled()}. At the next update "
          "qbsync reads the new file's lists and company setup, and looks every record up again before "
          "adding or changing anything.", "ok")
    return redirect(url_for("connections.show", name=name) + "#company-file")


@blueprint.post("/<name>/same-file")
def same_file(name: str) -> Any:
    """A person says the file a refused update had open is this connection's own, moved or reached by another
    path: bind that path and keep every link."""
    with runtime().db.transaction() as session:
        conn = connection_or_404(session, name)
        old = conn.company_file
        target = company_file.refused_file(session, conn)
        try:
            rebind_same_company_file(session, conn, target)
        except ConnectionSetupError as exc:
            flash(f"Nothing was changed: {exc}.", "error")
            return redirect(url_for("connections.show", name=name) + "#company-file")
    log.info("connection %s: company file %r is %r by another path, a person says; links kept", name, old,
             target)
    flash(f"{target} is now this connection's company file, as the same file as {old}: every link is kept, "
          "and the next update syncs as before.", "ok")
    return redirect(url_for("connections.show", name=name) + "#company-file")


@blueprint.post("/<name>/reveal")
def reveal(name: str) -> Any:
    """One secret in clear, for the page's Show and Copy buttons (signed-in, CSRF-checked, never cached)."""
    field = request.form.get("field", "")
    if field not in REVEALABLE:
        abort(400, description=f"{field!r} is not a secret that can be shown")
    with runtime().db.transaction() as session:
        value = secret_value(connection_or_404(session, name), field)
    if value is None:
        abort(404, description=f"no {field.replace('_', ' ')} is stored for this connection")
    log.info("secret %s of connection %s shown on the connection page", field, name)
    return jsonify(value=value)
