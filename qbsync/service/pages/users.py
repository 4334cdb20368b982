"""The Users page: add and remove admins, change a password, lift a sign-in lock (people and Web Connectors).

Admin-only. Every change is a CSRF-checked POST that answers with a redirect back and a message.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy.exc import IntegrityError

from qbsync import lockout
from qbsync.passwords import verify_password
from qbsync.service import people, security
from qbsync.service.pages.lookup import runtime
from qbsync.storage.models import User, utcnow

log = logging.getLogger(__name__)

blueprint = Blueprint("users", __name__, url_prefix="/users")


@blueprint.before_request
def _admins_only() -> None:
    user = security.current_user()
    if user is None or not user.is_admin:
        abort(403)


@blueprint.get("")
def index() -> Any:
    """Every admin account, and the sign-in locks in force."""
    now = utcnow()
    with runtime().db.transaction() as session:
        everyone = people.everyone(session, now)
        web_connector_locks = lockout.current_locks(session, now, "qbwc")
    return render_template("users.html", people=everyone, web_connector_locks=web_connector_locks,
                           me=security.current_user())


@blueprint.post("/add")
def add() -> Any:
    """Add an admin account."""
    form = request.form
    try:
        with runtime().db.transaction() as session:
            user = people.add_admin(session, form.get("username", ""), form.get("password", ""),
                                    form.get("password_confirm", ""))
            name = user.username
    except people.PeopleError as exc:
        flash(str(exc), "error")
        return redirect(url_for("users.index"))
    except IntegrityError:
        flash("That user name was taken a moment ago; choose another.", "error")
        return redirect(url_for("users.index"))
    log.info("%r added the admin %r", security.current_user().username, name)
    flash(f"Added the admin {name!r}. They can sign in now.", "ok")
    return redirect(url_for("users.index"))


@blueprint.post("/<int:user_id>/password")
def password(user_id: int) -> Any:
    """Set a new password (your own needs your current one); that person's other sessions end."""
    me = security.current_user()
    form = request.form
    try:
        with runtime().db.transaction() as session:
            user = session.get(User, user_id) or abort(404)
            if user.id == me.id and not verify_password(user.password_hash, form.get("current_password", "")):
                raise people.PeopleError("Your current password is not right; nothing was changed.")
            people.change_password(session, user, form.get("password", ""), form.get("password_confirm", ""))
            name = user.username
            if user.id == me.id:
                security.sign_in(session, user)  # every older session ended; this browser stays in
    except people.PeopleError as exc:
        flash(str(exc), "error")
        return redirect(url_for("users.index"))
    log.info("%r changed the password of %r", me.username, name)
    if user_id == me.id:
        flash("Your password is changed. You were signed out everywhere else.", "ok")
    else:
        flash(f"The password of {name!r} is changed and they were signed out everywhere.", "ok")
    return redirect(url_for("users.index"))


@blueprint.post("/<int:user_id>/remove")
def remove(user_id: int) -> Any:
    """Remove an admin account (not your own, not the last)."""
    me = security.current_user()
    if user_id == me.id:
        flash("You cannot remove your own account; ask another admin.", "error")
        return redirect(url_for("users.index"))
    try:
        with runtime().db.transaction() as session:
            user = session.get(User, user_id) or abort(404)
            name = user.username
            people.remove_admin(session, user)
    except people.PeopleError as exc:
        flash(str(exc), "error")
        return redirect(url_for("users.index"))
    log.info("%r removed the admin %r", me.username, name)
    flash(f"Removed {name!r}; their sessions ended.", "ok")
    return redirect(url_for("users.index"))


@blueprint.post("/<int:user_id>/unlock")
def unlock(user_id: int) -> Any:
    """Let a locked-out admin sign in again now."""
    with runtime().db.transaction() as session:
        user = session.get(User, user_id) or abort(404)
        name = user.username
        was_locked = people.unlock(session, name)
    log.info("%r lifted the sign-in lock of %r", security.current_user().username, name)
    flash(f"{name!r} can sign in again." if was_locked else f"{name!r} was not locked out.", "ok")
    return redirect(url_for("users.index"))


@blueprint.post("/web-connector-unlock")
def web_connector_unlock() -> Any:
    """Let a Web Connector user sign in again now, from every address."""
    username = request.form.get("username", "")
    with runtime().db.transaction() as session:
        lifted = lockout.unlock(session, "qbwc", username)
    log.info("%r lifted %d Web Connector lock(s) of %r", security.current_user().username, lifted, username)
    flash(f"The Web Connector user {username!r} can sign in again." if lifted
          else f"The Web Connector user {username!r} was not locked out.", "ok")
    return redirect(url_for("users.index"))
