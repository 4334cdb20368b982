"""Admin page security: the session cookie, sign-in required everywhere, CSRF tokens, sign-in throttling.

Everything is secure by default: a route added later needs sign-in and a CSRF token unless it is listed
in ``PUBLIC_ENDPOINTS`` / ``PUBLIC_BLUEPRINTS`` (the Web Connector, webhooks, health and metrics, static
files, the first-run and sign-in pages). Failed sign-ins are counted in the ``auth_failures`` table, so
the lockout holds across every web process.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.exceptions import BadRequest

from qbsync.passwords import hash_password, needs_rehash, verify_password
from qbsync.service.runtime import Runtime
from qbsync.storage import encryption
from qbsync.storage.models import AuthFailure, User, utcnow

log = logging.getLogger(__name__)

SESSION_USER = "user_id"
SESSION_CSRF = "csrf_token"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SESSION_LIFETIME = timedelta(hours=12)

# Failed sign-ins within the window that lock a user name (or a client address) out until they age out.
LOCKOUT_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 20
MIN_ADMIN_PASSWORD = 10

# Reachable without signing in. The Web Connector's /qbwc never reaches Flask (it is mounted beside it).
PUBLIC_ENDPOINTS = frozenset(
    {"static", "healthz", "metrics", "auth.login", "auth.setup", "dashboard.support"})
PUBLIC_BLUEPRINTS = frozenset({"webhooks"})
# Machine endpoints that authenticate themselves (signatures), so they carry no CSRF token.
CSRF_EXEMPT_ENDPOINTS = frozenset({"healthz", "metrics"})
CSRF_EXEMPT_BLUEPRINTS = frozenset({"webhooks"})
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class CsrfError(BadRequest):
    """A form or script post without the page's CSRF token (or with a wrong one)."""

    description = (
        "This form has expired or did not come from a qbsync page (its security token is missing or "
        "wrong). Go back, reload the page and submit it again."
    )


def session_secret(runtime: Runtime) -> bytes:
    """The cookie-signing key: derived from the encryption key, so it is never hard-coded or guessable."""
    key = encryption.load_or_create_key(runtime.config.secret_key, runtime.config.data_dir)
    return hmac.new(key.encode("utf-8"), b"qbsync admin session cookie v1", hashlib.sha256).digest()


class AdminSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, marked Secure whenever the page itself came over https."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure


def configure(app: Flask, runtime: Runtime) -> None:
    """Install the session cookie settings, the sign-in guard, CSRF checking and security headers."""
    public_url = runtime.config.public_url or ""
    app.config.update(
        SECRET_KEY=session_secret(runtime),
        SESSION_COOKIE_NAME="qbsync_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=urlsplit(public_url).scheme == "https",
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )
    app.session_interface = AdminSessionInterface()
    app.before_request(_refuse_nul_characters)
    app.before_request(_require_sign_in)
    app.before_request(_check_csrf)
    app.after_request(_security_headers)


class NulCharacterError(BadRequest):
    """A page address, query argument or form field holding a NUL character."""

    description = ("A field of this request contains a NUL character (\\0), which qbsync cannot store. "
                   "Remove it and try again.")


def _refuse_nul_characters() -> None:
    # PostgreSQL text cannot hold NUL: such input would fail deep in a query with a 500 instead.
    endpoint = request.endpoint or ""
    if endpoint.rpartition(".")[0] in CSRF_EXEMPT_BLUEPRINTS:
        return  # webhooks judge their own bodies
    values = [*(request.view_args or {}).values(), *(v for _k, v in request.args.items(multi=True))]
    if request.method in UNSAFE_METHODS:
        values.extend(v for _k, v in request.form.items(multi=True))
    if any(isinstance(v, str) and "\x00" in v for v in values):
        raise NulCharacterError()


# --- who is signed in -----------------------------------------------------------------------------


def _runtime() -> Runtime:
    return current_app.extensions["qbsync"]


def is_public(endpoint: str | None) -> bool:
    """Whether ``endpoint`` may be reached without signing in (unknown URLs fall through to 404)."""
    if endpoint is None:
        return True
    blueprint = endpoint.rpartition(".")[0]
    return endpoint in PUBLIC_ENDPOINTS or blueprint in PUBLIC_BLUEPRINTS


def has_users(db_session: Session) -> bool:
    """Whether the first-run setup has been done (an admin account exists)."""
    return db_session.scalar(select(User.id).limit(1)) is not None


def _require_sign_in() -> Any:
    endpoint = request.endpoint
    if is_public(endpoint):
        return None
    user_id = session.get(SESSION_USER)
    with _runtime().db.transaction() as db_session:
        user = db_session.get(User, user_id) if user_id is not None else None
        if user is None:
            session.pop(SESSION_USER, None)
            if not has_users(db_session):
                return redirect(url_for("auth.setup"))
            return redirect(url_for("auth.login", next=_local_path(request.full_path)))
        g.user = user
    return None


def current_user() -> User | None:
    """The signed-in user of this request, if any."""
    return g.get("user")


def sign_in(user: User) -> None:
    """Start a fresh session for ``user`` (a new cookie and CSRF token, so a planted one is useless)."""
    session.clear()
    session.permanent = True
    session[SESSION_USER] = user.id
    session[SESSION_CSRF] = secrets.token_urlsafe(32)


def sign_out() -> None:
    """Forget the session."""
    session.clear()


def _local_path(target: str | None) -> str | None:
    """``target`` when it is a path on this site; never an absolute or protocol-relative URL."""
    if not target:
        return None
    target = target.rstrip("?")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    # Browsers drop tabs and line breaks inside URLs ("/\t/evil.example" becomes "//evil.example"), and
    # a line break cannot go in a Location header at all: refuse every control character.
    if any(ch < " " or ch == "\x7f" for ch in target):
        return None
    return target


def safe_next(target: str | None) -> str:
    """Where to go after signing in: ``target`` if it stays on this site, else the dashboard."""
    return _local_path(target) or url_for("dashboard.index")


# --- CSRF -----------------------------------------------------------------------------------------


def csrf_token() -> str:
    """This session's CSRF token (created on first use); put it in every form and script post."""
    token = session.get(SESSION_CSRF)
    if not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_CSRF] = token
    return token


def _check_csrf() -> None:
    if request.method not in UNSAFE_METHODS:
        return
    endpoint = request.endpoint
    if endpoint is None or endpoint in CSRF_EXEMPT_ENDPOINTS:
        return
    if endpoint.rpartition(".")[0] in CSRF_EXEMPT_BLUEPRINTS:
        return
    expected = session.get(SESSION_CSRF)
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD)
    if not expected or not sent or not hmac.compare_digest(str(expected), str(sent)):
        log.warning("refused a %s to %s without a valid CSRF token from %s", request.method, request.path,
                    request.remote_addr)
        raise CsrfError()


def _security_headers(response: Any) -> Any:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
        )
    if request.endpoint and not is_public(request.endpoint):
        headers.setdefault("Cache-Control", "no-store")
    return response


# --- signing in and throttling --------------------------------------------------------------------


@dataclass(frozen=True)
class SignInResult:
    """The user when the password was right; otherwise the message to show."""

    user: User | None
    error: str | None = None


def _failures_since(db_session: Session, since: datetime, *, username: str | None = None,
                    remote_addr: str | None = None) -> tuple[int, datetime | None]:
    stmt = select(func.count(), func.min(AuthFailure.at)).where(AuthFailure.kind == "login",
                                                                AuthFailure.at >= since)
    if username is not None:
        stmt = stmt.where(AuthFailure.username == username)
    if remote_addr is not None:
        stmt = stmt.where(AuthFailure.remote_addr == remote_addr)
    count, first = db_session.execute(stmt).one()
    return int(count or 0), first


def lockout_message(db_session: Session, username: str, remote_addr: str | None,
                    now: datetime | None = None) -> str | None:
    """Why signing in is refused right now (too many recent failures), or None."""
    now = now or utcnow()
    window_start = now - LOCKOUT_WINDOW
    user = db_session.scalar(select(User).where(User.username == username))
    # A successful sign-in starts the count afresh.
    since = max(window_start, user.last_login_at) if user and user.last_login_at else window_start
    count, first = _failures_since(db_session, since, username=username)
    if count >= MAX_FAILURES_PER_USER and first is not None:
        return _locked_text(f"for the user {username!r}", first + LOCKOUT_WINDOW - now)
    if remote_addr:
        count, first = _failures_since(db_session, window_start, remote_addr=remote_addr)
        if count >= MAX_FAILURES_PER_ADDRESS and first is not None:
            return _locked_text("from your address", first + LOCKOUT_WINDOW - now)
    return None


def _locked_text(whom: str, left: timedelta) -> str:
    minutes = max(1, int(left.total_seconds() + 59) // 60)
    return (f"Too many failed sign-ins {whom}. Signing in is paused for {minutes} minute"
            f"{'s' if minutes != 1 else ''}; try again then (or ask another admin to reset the password).")


def record_failure(db_session: Session, username: str, remote_addr: str | None,
                   now: datetime | None = None) -> None:
    """Count one failed sign-in (for throttling and the log)."""
    now = now or utcnow()
    address = (remote_addr or "")[:64] or None
    db_session.add(AuthFailure(kind="login", username=username[:255], remote_addr=address, at=now))
    user = db_session.scalar(select(User).where(User.username == username))
    if user is not None:
        user.failed_logins = (user.failed_logins or 0) + 1
        db_session.flush()
        if lockout_message(db_session, username, None, now):
            user.locked_until = now + LOCKOUT_WINDOW
            log.warning("sign-in locked for %r after %d failed attempts (last from %s)", username,
                        MAX_FAILURES_PER_USER, remote_addr)


def authenticate(db_session: Session, username: str, password: str, remote_addr: str | None,
                 now: datetime | None = None) -> SignInResult:
    """Check a sign-in attempt, honouring and updating the lockout."""
    now = now or utcnow()
    username = username.strip()
    if not username or not password:
        return SignInResult(None, "Enter your user name and password.")
    locked = lockout_message(db_session, username, remote_addr, now)
    if locked:
        # The password is not even checked while locked, so guessing on cannot succeed.
        log.warning("sign-in refused for %r from %s: locked out", username, remote_addr)
        return SignInResult(None, locked)
    user = db_session.scalar(select(User).where(User.username == username))
    if not verify_password(user.password_hash if user else None, password) or user is None:
        record_failure(db_session, username, remote_addr, now)
        log.warning("failed sign-in for %r from %s", username, remote_addr)
        return SignInResult(None, "That user name and password do not match.")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    log.info("%r signed in from %s", username, remote_addr)
    return SignInResult(user)


def validate_admin_password(password: str, confirm: str) -> str | None:
    """Why an admin password cannot be used, or None."""
    if len(password) < MIN_ADMIN_PASSWORD:
        return f"The password must be at least {MIN_ADMIN_PASSWORD} characters."
    if password != confirm:
        return "The two passwords do not match."
    return None
