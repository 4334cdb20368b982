"""First-run setup (the first admin and the first connection), signing in and out."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy.exc import IntegrityError

from qbsync.connections import PLATFORMS, ConnectionSetupError, NewConnection, add_connection
from qbsync.passwords import hash_password
from qbsync.service import security
from qbsync.service.pages.lookup import runtime
from qbsync.storage.models import User

log = logging.getLogger(__name__)

blueprint = Blueprint("auth", __name__)

MAX_USERNAME = 100  # the users.username column

# Storefront API credential fields per platform: (form field, stored key, label).
CREDENTIAL_FIELDS = {
    "woocommerce": [("wc_consumer_key", "consumer_key", "Consumer key"),
                    ("wc_consumer_secret", "consumer_secret", "Consumer secret")],
    "shopify": [("shopify_access_token", "access_token", "Admin API access token"),
                ("shopify_location_id", "location_id", "Location id for stock (optional)")],
}


def connection_spec_from(form: Any) -> NewConnection:
    """The connection fields of a setup or new-connection form (validated by add_connection)."""
    platform = form.get("platform", "").strip()
    credentials = {key: form.get(field, "").strip()
                   for field, key, _label in CREDENTIAL_FIELDS.get(platform, [])}
    if form.get("qbwc_password", "") != form.get("qbwc_password_confirm", ""):
        raise ConnectionSetupError("the two Web Connector passwords do not match")
    return NewConnection(
        name=form.get("name", "").strip(),
        platform=platform,
        store_url=form.get("store_url", "").strip(),
        webhook_secret=form.get("webhook_secret", "").strip(),
        qbwc_username=form.get("qbwc_username", "").strip(),
        qbwc_password=form.get("qbwc_password", ""),
        api_credentials={k: v for k, v in credentials.items() if v} or None,
    )


@blueprint.route("/setup", methods=["GET", "POST"])
def setup() -> Any:
    """First run: create the first admin account and the first connection, then sign in."""
    with runtime().db.transaction() as session:
        if security.has_users(session):
            flash("qbsync is already set up; sign in.", "info")
            return redirect(url_for("auth.login"))
    if request.method == "GET":
        return render_template("setup.html", form={}, platforms=PLATFORMS,
                               credential_fields=CREDENTIAL_FIELDS)

    form = request.form
    username = form.get("username", "").strip()
    error = None
    if not username:
        error = "Choose a user name for the admin account."
    elif len(username) > MAX_USERNAME:
        error = f"The admin user name must be at most {MAX_USERNAME} characters."
    else:
        error = security.validate_admin_password(form.get("password", ""), form.get("password_confirm", ""))
    conn_name = None
    if error is None:
        try:
            spec = connection_spec_from(form)
            with runtime().db.transaction() as session:
                if security.has_users(session):  # someone finished setup a moment ago
                    return redirect(url_for("auth.login"))
                user = User(username=username, password_hash=hash_password(form["password"]), is_admin=True)
                session.add(user)
                conn = add_connection(session, spec)
                session.flush()
                conn_name = conn.name
            security.sign_in(user)
        except ConnectionSetupError as exc:
            error = _sentence(str(exc))
        except IntegrityError:
            error = "That user name or connection is already taken; choose another."
    if error is not None:
        safe_form = {k: v for k, v in form.items() if "password" not in k}
        return render_template("setup.html", form=safe_form, error=error, platforms=PLATFORMS,
                               credential_fields=CREDENTIAL_FIELDS), 400
    log.info("first-run setup done: admin %r, connection %r", username, conn_name)
    flash("Welcome! Download the .qwc file below and add it to the Web Connector on the QuickBooks PC.", "ok")
    return redirect(url_for("connections.show", name=conn_name))


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Sign in."""
    with runtime().db.transaction() as session:
        if not security.has_users(session):
            return redirect(url_for("auth.setup"))
        if request.method == "GET":
            return render_template("login.html", next=request.args.get("next", ""), username="")
        username = request.form.get("username", "")
        result = security.authenticate(session, username, request.form.get("password", ""),
                                       request.remote_addr)
        if result.user is not None:
            security.sign_in(result.user)
    if result.user is None:
        return render_template("login.html", error=result.error, username=username.strip(),
                               next=request.form.get("next", "")), 401
    return redirect(security.safe_next(request.form.get("next")))


@blueprint.post("/logout")
def logout() -> Any:
    """Sign out."""
    security.sign_out()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else text
