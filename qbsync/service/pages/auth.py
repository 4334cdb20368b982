"""First-run setup (the first admin, and the first connection when there is none), signing in and out."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask import session as flask_session
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from qbsync.connections import PLATFORMS, ConnectionSetupError, NewConnection, add_connection
from qbsync.passwords import hash_password
from qbsync.service import security
from qbsync.service.pages.lookup import runtime
from qbsync.storage.models import Connection, User

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
    """First run: create the first admin account (and the first connection, if there is none yet).

    While no admin exists this page needs the one-time link `qbsync serve` prints: without it, whoever
    reached the page first would become admin and could read every webhook secret.
    """
    with runtime().db.transaction() as session:
        if security.has_users(session):
            flash("qbsync is already set up; sign in.", "info")
            return redirect(url_for("auth.login"))
        link_token = request.args.get("token")
        if request.method == "GET" and link_token is not None:
            if not security.setup_token_is_valid(session, link_token):
                return _setup_link_needed(expired=True)
            # Keep the token in the signed cookie, out of the address bar, history and Referer headers.
            flask_session[security.SETUP_LINK_KEY] = link_token
            return redirect(url_for("auth.setup"))
        if not security.setup_token_is_valid(session, flask_session.get(security.SETUP_LINK_KEY)):
            return _setup_link_needed(expired=security.SETUP_LINK_KEY in flask_session)
        with_connection = not has_connections(session)
    if request.method == "GET":
        return _setup_form({}, with_connection)

    form = request.form
    username = form.get("username", "").strip()
    error = validate_new_admin(username, form.get("password", ""), form.get("password_confirm", ""))
    conn_name = None
    if error is None:
        try:
            spec = connection_spec_from(form) if with_connection else None
            with runtime().db.transaction() as session:
                if security.has_users(session):  # someone finished setup a moment ago
                    return redirect(url_for("auth.login"))
                if not security.use_setup_token(session, flask_session.get(security.SETUP_LINK_KEY)):
                    return _setup_link_needed(expired=True)
                user = User(username=username, password_hash=hash_password(form["password"]), is_admin=True)
                session.add(user)
                if spec is not None:
                    conn = add_connection(session, spec)
                    session.flush()
                    conn_name = conn.name
                security.sign_in(session, user)
        except ConnectionSetupError as exc:
            error = _sentence(str(exc))
        except IntegrityError:
            error = "That user name or connection is already taken; choose another."
    if error is not None:
        safe_form = {k: v for k, v in form.items() if "password" not in k}
        return _setup_form(safe_form, with_connection, error), 400
    log.info("first-run setup done: admin %r, connection %r", username, conn_name)
    if conn_name is None:
        flash("Your admin account is ready. Your connections are listed below.", "ok")
        return redirect(url_for("connections.index"))
    flash("Welcome! Download the .qwc file below and add it to the Web Connector on the QuickBooks PC.", "ok")
    return redirect(url_for("connections.show", name=conn_name))


def has_connections(session: Any) -> bool:
    """Whether a connection exists already (added with `qbsync connection add` before the first run)."""
    return session.scalar(select(Connection.id).limit(1)) is not None


def validate_new_admin(username: str, password: str, confirm: str) -> str | None:
    """Why an admin account cannot be created with these fields, or None."""
    if not username:
        return "Choose a user name for the admin account."
    if len(username) > MAX_USERNAME:
        return f"The admin user name must be at most {MAX_USERNAME} characters."
    return security.validate_admin_password(password, confirm)


def _setup_form(form: dict[str, Any], with_connection: bool, error: str | None = None) -> str:
    return render_template("setup.html", form=form, error=error, platforms=PLATFORMS,
                           credential_fields=CREDENTIAL_FIELDS, with_connection=with_connection)


def _setup_link_needed(*, expired: bool) -> Any:
    return render_template("setup_link.html", expired=expired), 403


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Sign in."""
    with runtime().db.transaction() as session:
        if not security.has_users(session):
            return redirect(url_for("auth.setup"))
    if request.method == "GET":
        return render_template("login.html", next=request.args.get("next", ""), username="")
    username = request.form.get("username", "")
    result = security.authenticate(runtime().db, username, request.form.get("password", ""),
                                   request.remote_addr)
    if result.user is None:
        return render_template("login.html", error=result.error, username=username.strip(),
                               next=request.form.get("next", "")), 401
    with runtime().db.transaction() as session:
        security.sign_in(session, result.user)
    return redirect(security.safe_next(request.form.get("next")))


@blueprint.post("/logout")
def logout() -> Any:
    """Sign out (the session ends on the server too, so a copied cookie stops working)."""
    with runtime().db.transaction() as session:
        security.sign_out(session)
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else text
