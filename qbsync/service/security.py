"""Admin page security: the session cookie, sign-in required everywhere, CSRF tokens, sign-in throttling.

Everything is secure by default: a route added later needs sign-in and a CSRF token unless it is listed
in ``PUBLIC_ENDPOINTS`` / ``PUBLIC_BLUEPRINTS`` (the Web Connector, webhooks, health and metrics, static
files, the first-run and sign-in pages). Everything that must hold across web processes lives in the
database: the signed-in sessions (``admin_sessions``, so signing out and password changes end a copied
cookie at once), the first-run setup token, and failed sign-ins (``auth_failures`` for the log and the
per-address brake, ``sign_in_locks`` for the atomic per-user lock).
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
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from werkzeug.exceptions import BadRequest

from qbsync import lockout
from qbsync.passwords import hash_password, needs_rehash, verify_password
from qbsync.service.runtime import Runtime
from qbsync.storage import encryption
from qbsync.storage.db import Database
from qbsync.storage.models import AdminSession, AuthFailure, SetupToken, User, utcnow

log = logging.getLogger(__name__)

SESSION_KEY = "sid"  # the session id in the cookie
SETUP_LINK_KEY = "setup_link"  # the first-run link's secret, kept off the address bar
SESSION_CSRF = "csrf_token"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SESSION_LIFETIME = timedelta(hours=12)

# Failed sign-ins within the window that lock a user name (or a client address) out until they age out.
LOCKOUT_WINDOW = lockout.WINDOW
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 20
MIN_ADMIN_PASSWORD = 10
# How long the link `qbsync serve` prints for the first-run page stays usable.
SETUP_TOKEN_LIFETIME = timedelta(hours=24)

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
    token = session.get(SESSION_KEY)
    with _runtime().db.transaction() as db_session:
        user = signed_in_user(db_session, token) if isinstance(token, str) else None
        if user is None:
            session.pop(SESSION_KEY, None)
            if not has_users(db_session):
                return redirect(url_for("auth.setup"))
            return redirect(url_for("auth.login", next=_local_path(request.full_path)))
        g.user = user
    return None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def signed_in_user(db_session: Session, token: str, now: datetime | None = None) -> User | None:
    """The user whose live session ``token`` names (one indexed look-up), or None."""
    return db_session.scalar(
        select(User).join(AdminSession, AdminSession.user_id == User.id)
        .where(AdminSession.token_hash == _token_hash(token), AdminSession.expires_at > (now or utcnow()))
    )


def current_user() -> User | None:
    """The signed-in user of this request, if any."""
    return g.get("user")


def start_session(db_session: Session, user: User, now: datetime | None = None) -> str:
    """Record a new signed-in session for ``user``; returns the token its cookie carries."""
    now = now or utcnow()
    # Sessions that ran out are of no use to anyone: drop this user's as a new one starts.
    db_session.execute(delete(AdminSession).where(AdminSession.user_id == user.id,
                                                  AdminSession.expires_at <= now))
    token = secrets.token_urlsafe(32)
    db_session.add(AdminSession(token_hash=_token_hash(token), user_id=user.id, created_at=now,
                                expires_at=now + SESSION_LIFETIME))
    db_session.flush()
    return token


def sign_in(db_session: Session, user: User) -> None:
    """Start a fresh session for ``user`` (a new cookie and CSRF token, so a planted one is useless)."""
    db_session.flush()  # a user created in this transaction needs its id
    token = start_session(db_session, user)
    session.clear()
    session.permanent = True
    session[SESSION_KEY] = token
    session[SESSION_CSRF] = secrets.token_urlsafe(32)


def sign_out(db_session: Session) -> None:
    """End this browser's session on the server too, so a copy of the cookie is of no use."""
    token = session.get(SESSION_KEY)
    if isinstance(token, str):
        db_session.execute(delete(AdminSession).where(AdminSession.token_hash == _token_hash(token)))
    session.clear()


def end_sessions(db_session: Session, user_id: int) -> int:
    """End every signed-in session of a user (password changed, account removed); returns how many."""
    return db_session.execute(delete(AdminSession).where(AdminSession.user_id == user_id)).rowcount or 0


def forget_expired(runtime: Runtime, now: datetime | None = None) -> int:
    """Scheduler task: delete ended sessions, expired setup links and stale sign-in counts."""
    now = now or utcnow()
    with runtime.db.transaction() as db_session:
        removed = db_session.execute(delete(AdminSession).where(AdminSession.expires_at <= now)).rowcount or 0
        removed += db_session.execute(delete(SetupToken).where(SetupToken.expires_at <= now)).rowcount or 0
        removed += lockout.forget_stale(db_session, now)
    return removed


# --- the first-run setup token --------------------------------------------------------------------


def issue_setup_token(db_session: Session, now: datetime | None = None) -> str:
    """A new one-time token for the first-run page (any earlier one stops working); only its hash is kept."""
    now = now or utcnow()
    db_session.execute(delete(SetupToken))
    token = secrets.token_urlsafe(32)
    db_session.add(SetupToken(token_hash=_token_hash(token), created_at=now,
                              expires_at=now + SETUP_TOKEN_LIFETIME))
    db_session.flush()
    return token


def setup_token_is_valid(db_session: Session, token: str | None, now: datetime | None = None) -> bool:
    """Whether ``token`` opens the first-run page right now."""
    if not token or not isinstance(token, str):
        return False
    return db_session.scalar(select(SetupToken.token_hash).where(
        SetupToken.token_hash == _token_hash(token), SetupToken.expires_at > (now or utcnow()))) is not None


def use_setup_token(db_session: Session, token: str | None, now: datetime | None = None) -> bool:
    """Spend ``token`` (one DELETE, so two browsers cannot both use it); False when it was not valid."""
    if not token or not isinstance(token, str):
        return False
    used = db_session.execute(delete(SetupToken).where(SetupToken.token_hash == _token_hash(token),
                                                       SetupToken.expires_at > (now or utcnow())))
    if not used.rowcount:
        return False
    db_session.execute(delete(SetupToken))  # an admin exists now: no other link may create one
    return True


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


def _failures_since(db_session: Session, since: datetime, *, remote_addr: str) -> tuple[int, datetime | None]:
    count, first = db_session.execute(
        select(func.count(), func.min(AuthFailure.at))
        .where(AuthFailure.kind == "login", AuthFailure.at >= since, AuthFailure.remote_addr == remote_addr)
    ).one()
    return int(count or 0), first


def address_lockout_message(db_session: Session, remote_addr: str | None,
                            now: datetime | None = None) -> str | None:
    """Why signing in from ``remote_addr`` is refused right now (many names guessed from it), or None."""
    if not remote_addr:
        return None
    now = now or utcnow()
    count, first = _failures_since(db_session, now - LOCKOUT_WINDOW, remote_addr=remote_addr[:64])
    if count >= MAX_FAILURES_PER_ADDRESS and first is not None:
        return (f"Too many failed sign-ins from your address. Signing in from here is paused for "
                f"{_minutes(first + LOCKOUT_WINDOW - now)}; try again then.")
    return None


def user_lockout_message(username: str, until: datetime, now: datetime) -> str:
    """What a locked-out person reads: how long, and the two ways back in sooner."""
    return (f"Too many failed sign-ins for the user {username!r}. Signing in is paused for "
            f"{_minutes(until - now)}; try again then, or ask another admin to unlock the account on the "
            f"Users page (or on the server: qbsync user unlock {username}).")


def _minutes(left: timedelta) -> str:
    minutes = max(1, int(left.total_seconds() + 59) // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _record_failure(db_session: Session, username: str, remote_addr: str | None, now: datetime) -> None:
    """Keep one failed sign-in on record (the log, the per-address brake) and maybe lock the user."""
    address = (remote_addr or "")[:64] or None
    db_session.add(AuthFailure(kind="login", username=username[:255], remote_addr=address, at=now))
    if lockout.failed(db_session, "login", username, None, limit=MAX_FAILURES_PER_USER, now=now):
        log.warning("sign-in locked for %r after %d failed attempts (last from %s)", username,
                    MAX_FAILURES_PER_USER, remote_addr)


def authenticate(db: Database, username: str, password: str, remote_addr: str | None,
                 now: datetime | None = None) -> SignInResult:
    """Check a sign-in attempt, honouring and updating the lockout.

    The attempt is counted (atomically) and committed before the password is checked, so parallel guesses
    cannot all be checked against a count none of them has raised yet; the slow hash runs outside any
    transaction, holding no lock.
    """
    now = now or utcnow()
    username = username.strip()
    if not username or not password:
        return SignInResult(None, "Enter your user name and password.")
    with db.transaction() as db_session:
        refused = address_lockout_message(db_session, remote_addr, now)
        until = None if refused else lockout.reserve(db_session, "login", username, None,
                                                     limit=MAX_FAILURES_PER_USER, now=now)
        if until is not None:
            refused = user_lockout_message(username, until, now)
        stored_hash = db_session.scalar(select(User.password_hash).where(User.username == username))
    if refused:
        # The password is not even checked while locked, so guessing on cannot succeed.
        log.warning("sign-in refused for %r from %s: locked out", username, remote_addr)
        return SignInResult(None, refused)
    right = verify_password(stored_hash, password) and stored_hash is not None
    with db.transaction() as db_session:
        if not right:
            _record_failure(db_session, username, remote_addr, now)
            log.warning("failed sign-in for %r from %s", username, remote_addr)
            return SignInResult(None, "That user name and password do not match.")
        lockout.succeeded(db_session, "login", username, None)
        user = db_session.scalar(select(User).where(User.username == username))
        if user is None:  # removed while its password was being checked
            return SignInResult(None, "That user name and password do not match.")
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
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
