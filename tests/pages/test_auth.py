"""First-run setup, signing in and out, sign-in required everywhere, CSRF, lockout, the session cookie."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from qbsync.passwords import verify_password
from qbsync.service import security
from qbsync.service.background import Dispatcher
from qbsync.service.runtime import Runtime
from qbsync.storage.models import (
    AdminSession,
    AuthFailure,
    Connection,
    QueueJob,
    SetupToken,
    SignInLock,
    User,
    utcnow,
)
from tests.pages.conftest import ADMIN, ADMIN_PASSWORD, WEBHOOK_SECRET, csrf_of, post, text_of

SETUP_FORM = {
    "username": "owner", "password": "owner password 1", "password_confirm": "owner password 1",
    "name": "my-shop", "platform": "woocommerce", "store_url": "https://shop.example.com",
    "webhook_secret": "first-secret-abc", "qbwc_username": "qb-user", "qbwc_password": "qbwc pass 123",
    "qbwc_password_confirm": "qbwc pass 123", "wc_consumer_key": "ck_key", "wc_consumer_secret": "cs_secret",
}


@pytest.fixture
def setup_link(runtime):
    """The one-time first-run link, as `qbsync serve` prints it."""
    with runtime.db.transaction() as session:
        return f"/setup?token={security.issue_setup_token(session)}"


def open_setup(client, link: str):
    """Follow the printed link: the token moves into the cookie and the page opens."""
    response = client.get(link)
    assert response.status_code == 302 and response.headers["Location"] == "/setup"
    return client.get("/setup")


def test_an_empty_install_sends_every_page_to_setup(client):
    for path in ("/", "/queue", "/log", "/connections", "/login", "/settings"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].endswith("/setup"), path


def test_first_run_creates_the_admin_and_the_first_connection_then_sign_in_is_required(client, runtime,
                                                                                      setup_link):
    open_setup(client, setup_link)
    response = post(client, "/setup", SETUP_FORM)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/connections/my-shop")

    with runtime.db.transaction() as session:
        user = session.scalar(select(User))
        conn = session.scalar(select(Connection))
    assert user.username == "owner"
    assert user.password_hash.startswith("$argon2")
    assert verify_password(user.password_hash, "owner password 1")
    assert (conn.name, conn.platform, conn.qbwc_username) == ("my-shop", "woocommerce", "qb-user")
    assert verify_password(conn.qbwc_password_hash, "qbwc pass 123")
    assert conn.api_credentials == {"consumer_key": "ck_key", "consumer_secret": "cs_secret"}

    # Signed in straight away, on the page with the .qwc download.
    page = client.get("/connections/my-shop")
    assert page.status_code == 200
    assert "Download the .qwc file" in text_of(page)

    post(client, "/logout")
    assert client.get("/").headers["Location"].startswith("/login")
    # Setup cannot be run twice.
    again = post(client, "/setup", dict(SETUP_FORM, username="intruder"))
    assert again.status_code == 302 and again.headers["Location"].endswith("/login")
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"password_confirm": "something else 1"}, "The two passwords do not match."),
        ({"password": "short", "password_confirm": "short"}, "at least 10 characters"),
        ({"name": "bad name!"}, "must be 1-100 letters"),
        ({"qbwc_password_confirm": "other pass 123"}, "the two Web Connector passwords do not match"),
        ({"store_url": "shop.example.com"}, "must start with https://"),
        ({"store_url": "https://shop.example.com/" + "x" * 500}, "at most 500 characters"),
        ({"qbwc_username": "q" * 101}, "at most 100 characters"),
    ],
)
def test_setup_shows_what_is_wrong_and_creates_nothing(client, runtime, changes, message, setup_link):
    open_setup(client, setup_link)
    response = post(client, "/setup", dict(SETUP_FORM, **changes))
    assert response.status_code == 400
    assert message.lower() in text_of(response).lower()
    # The form keeps what was typed, except passwords.
    body = response.get_data(as_text=True)
    assert 'value="owner"' in body
    assert "owner password 1" not in body
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 0
        assert session.scalar(select(func.count()).select_from(Connection)) == 0


def _page_urls(app, ids):
    """Every admin page URL (GET and POST), filled with real ids."""
    values = {"name": "shop", "job_id": ids["job"], "session_id": ids["session"], "user_id": 1,
              "exchange_id": ids["exchange"],
              "run_id": 1, "kind": "customer", "action": "retry", "filename": "qbsync.css",
              "key": "0123456789abcdef"}
    found = []
    for rule in app.url_map.iter_rules():
        if security.is_public(rule.endpoint):
            continue
        url = rule.rule
        for arg in rule.arguments:
            url = url.replace(f"<{arg}>", str(values[arg])).replace(f"<int:{arg}>", str(values[arg]))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, url))
    return found


def test_every_admin_page_needs_sign_in_and_shows_no_data(app, client, admin, conn, add_job, add_session,
                                                         add_exchange):
    job = add_job(conn.id, label="Order #98765", record_id="98765", state="parked", reason="3100 name in use")
    qb_session = add_session(conn.id)
    exchange, _ = add_exchange(qb_session, job, request_xml="<InvoiceAddRq><RefNumber>98765</RefNumber>"
                               "</InvoiceAddRq>", response_xml=None, status_code=3100)
    urls = _page_urls(app, {"job": job.id, "session": qb_session.id, "exchange": exchange.id})
    assert len(urls) >= 30  # every blueprint's routes are covered
    for method, url in urls:
        response = client.open(url, method=method, data={"field": "webhook_secret", "action": "retry",
                                                         "job_id": str(job.id)})
        assert response.status_code == 302, (method, url)
        assert response.headers["Location"].startswith("/login"), (method, url)
        body = response.get_data(as_text=True)
        assert "98765" not in body and WEBHOOK_SECRET not in body, (method, url)
    with app.extensions["qbsync"].db.transaction() as session:
        assert session.get(QueueJob, job.id).state == "parked"  # no POST did anything


def test_a_post_without_or_with_a_wrong_csrf_token_is_refused(signed_in, conn, runtime):
    refused = signed_in.post(f"/connections/{conn.name}/refresh-lists")
    assert refused.status_code == 400
    assert "security token is missing or wrong" in text_of(refused)
    wrong = signed_in.post(f"/connections/{conn.name}/refresh-lists", data={"csrf_token": "not-the-token"})
    assert wrong.status_code == 400
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(QueueJob)) == 0
    # The page's own token, as a form field or as the header scripts send, is accepted.
    assert post(signed_in, f"/connections/{conn.name}/refresh-lists").status_code == 302
    shown = signed_in.post(f"/connections/{conn.name}/reveal", data={"field": "webhook_secret"},
                           headers={"X-CSRF-Token": csrf_of(signed_in)})
    assert shown.status_code == 200 and shown.get_json() == {"value": WEBHOOK_SECRET}


def test_the_login_form_itself_needs_the_csrf_token(client, admin):
    client.get("/login")
    response = client.post("/login", data={"username": ADMIN, "password": ADMIN_PASSWORD})
    assert response.status_code == 400


def test_sign_in_with_a_wrong_password_or_unknown_user_says_the_same(client, admin, runtime):
    client.get("/login")
    wrong = post(client, "/login", {"username": ADMIN, "password": "nope nope nope"})
    unknown = post(client, "/login", {"username": "nobody", "password": "nope nope nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert "That user name and password do not match." in text_of(wrong)
    assert "That user name and password do not match." in text_of(unknown)
    with runtime.db.transaction() as session:
        rows = session.scalars(select(AuthFailure).order_by(AuthFailure.id)).all()
    assert [(r.kind, r.username) for r in rows] == [("login", ADMIN), ("login", "nobody")]


@pytest.fixture
def quick_passwords(monkeypatch):
    """Counting failures needs no argon2 slowness (the first-run test checks real hashes)."""
    monkeypatch.setattr(security, "verify_password", lambda stored, password: stored is not None
                        and password == ADMIN_PASSWORD)


def test_repeated_failed_sign_ins_lock_the_user_out_until_the_window_passes(client, admin, runtime,
                                                                           quick_passwords):
    client.get("/login")
    for _ in range(security.MAX_FAILURES_PER_USER):
        assert post(client, "/login", {"username": ADMIN, "password": "guess guess"}).status_code == 401
    locked = post(client, "/login", {"username": ADMIN, "password": ADMIN_PASSWORD})
    assert locked.status_code == 401
    assert "Too many failed sign-ins for the user 'admin'" in text_of(locked)
    assert client.get("/").status_code == 302  # not signed in
    assert "ask another admin to unlock the account on the Users page" in text_of(locked)
    assert "qbsync user unlock admin" in text_of(locked)
    with runtime.db.transaction() as session:
        lock = session.scalar(select(SignInLock))
        assert (lock.kind, lock.username, lock.failures) == ("login", ADMIN, security.MAX_FAILURES_PER_USER)
        assert lock.locked_until is not None
        # The lock lives in the database, so another web process sees it: let the window pass.
        session.execute(update(SignInLock).values(locked_until=SignInLock.locked_until
                                                  - security.LOCKOUT_WINDOW - timedelta(seconds=1)))
    assert post(client, "/login", {"username": ADMIN, "password": ADMIN_PASSWORD}).status_code == 302
    assert client.get("/").status_code == 200


def test_a_successful_sign_in_starts_the_failure_count_afresh(client, admin, quick_passwords):
    client.get("/login")
    for _ in range(security.MAX_FAILURES_PER_USER - 1):
        post(client, "/login", {"username": ADMIN, "password": "guess guess"})
    assert post(client, "/login", {"username": ADMIN, "password": ADMIN_PASSWORD}).status_code == 302
    post(client, "/logout")
    for _ in range(security.MAX_FAILURES_PER_USER - 1):
        post(client, "/login", {"username": ADMIN, "password": "guess guess"})
    assert post(client, "/login", {"username": ADMIN, "password": ADMIN_PASSWORD}).status_code == 302


def test_after_sign_in_only_local_pages_are_followed(client, admin):
    client.get("/login")
    response = post(client, "/login", {"username": ADMIN, "password": ADMIN_PASSWORD,
                                       "next": "//evil.example.com/steal"})
    assert response.headers["Location"] == "/"
    post(client, "/logout")
    response = client.get("/queue?state=parked")
    assert response.headers["Location"] == "/login?next=/queue?state%3Dparked"
    client.get(response.headers["Location"])
    back = post(client, "/login", {"username": ADMIN, "password": ADMIN_PASSWORD,
                                   "next": "/queue?state=parked"})
    assert back.headers["Location"] == "/queue?state=parked"


@pytest.mark.parametrize("target", ["/\t/evil.example.com", "/\n/evil.example.com", "/\r\n/evil.example.com"])
def test_after_sign_in_a_next_with_control_characters_goes_home(client, admin, target):
    # Browsers drop tabs and line breaks from URLs: "/\t/evil" would be followed as "//evil".
    client.get("/login")
    response = post(client, "/login", {"username": ADMIN, "password": ADMIN_PASSWORD, "next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_a_nul_character_in_a_field_or_address_is_refused_plainly(client, admin, signed_in, conn):
    # PostgreSQL cannot store NUL; it must be a 400 that says so, not a database error.
    for response in (post(client, "/login", {"username": "ad\x00min", "password": "x"}),
                     signed_in.get("/queue?q=a%00b"), signed_in.get("/connections/sh%00op")):
        assert response.status_code == 400
        assert "NUL character" in text_of(response)


def test_setup_refuses_an_admin_name_longer_than_the_database_holds(client, runtime, setup_link):
    open_setup(client, setup_link)
    response = post(client, "/setup", dict(SETUP_FORM, username="o" * 101))
    assert response.status_code == 400
    assert "at most 100 characters" in text_of(response)
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 0


def test_the_session_cookie_is_httponly_lax_and_secure_over_https(client, admin, runtime):
    client.get("/login")
    response = post(client, "/login", {"username": ADMIN, "password": ADMIN_PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie

    from qbsync.service.app import create_app

    https_config = dataclasses.replace(runtime.config, public_url="https://sync.example.com")
    https_app = create_app(runtime=Runtime(config=https_config, db=runtime.db,
                                           dispatcher=Dispatcher(https_config)))
    https_client = https_app.test_client()
    assert "Secure" in https_client.get("/login").headers["Set-Cookie"]
    # Served over https directly (no public URL configured): Secure as well.
    assert "Secure" in client.get("/login", base_url="https://localhost").headers["Set-Cookie"]


def test_the_cookie_key_comes_from_the_encryption_key(runtime, tmp_path):
    from cryptography.fernet import Fernet

    same = security.session_secret(runtime)
    assert same == security.session_secret(runtime)  # stable across processes and restarts
    other = dataclasses.replace(runtime.config, secret_key=Fernet.generate_key().decode())
    assert security.session_secret(Runtime(config=other, db=runtime.db, dispatcher=None)) != same
    assert runtime.config.secret_key.encode() not in same


def test_sign_out_needs_a_post(signed_in):
    assert signed_in.get("/logout").status_code == 405
    assert post(signed_in, "/logout").headers["Location"] == "/login"
    assert signed_in.get("/").status_code == 302


def test_pages_forbid_framing_inline_scripts_and_caching(signed_in, conn):
    response = signed_in.get("/connections/shop")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"  # pages with secrets never land in a cache
    assert "<script>" not in response.get_data(as_text=True)  # everything runs from /static


def test_without_the_printed_link_the_first_run_page_creates_no_admin(app, client, runtime, setup_link):
    # Whoever reaches /setup first must not become admin (and read every webhook secret).
    page = client.get("/setup")
    assert page.status_code == 403
    assert "open the one-time link that qbsync serve printed" in text_of(page)
    assert "qbsync user add NAME" in text_of(page)
    assert 'name="password"' not in page.get_data(as_text=True)
    refused = post(client, "/setup", SETUP_FORM)
    assert refused.status_code == 403
    guessed = client.get("/setup?token=not-the-token")
    assert guessed.status_code == 403 and "expired or was already used" in text_of(guessed)
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 0
        assert session.scalar(select(func.count()).select_from(Connection)) == 0

    # The link works once: a second browser holding the same link cannot create another admin.
    second = app.test_client()
    open_setup(second, setup_link)
    open_setup(client, setup_link)
    assert post(client, "/setup", SETUP_FORM).status_code == 302
    late = post(second, "/setup", dict(SETUP_FORM, username="intruder", name="other-shop",
                                       qbwc_username="qb-other"))
    assert late.status_code == 302 and late.headers["Location"].endswith("/login")
    with runtime.db.transaction() as session:
        assert session.scalars(select(User.username)).all() == ["owner"]
        assert session.scalar(select(func.count()).select_from(SetupToken)) == 0
    assert client.get(setup_link).headers["Location"].endswith("/login")


def test_the_setup_token_is_stored_hashed_and_a_new_one_replaces_the_old(runtime):
    with runtime.db.transaction() as session:
        first = security.issue_setup_token(session)
        second = security.issue_setup_token(session)
        stored = session.scalars(select(SetupToken.token_hash)).all()
        assert first not in stored and second not in stored and len(stored) == 1
        assert not security.setup_token_is_valid(session, first)
        assert security.setup_token_is_valid(session, second)


def test_first_run_with_connections_from_the_cli_creates_just_the_admin(client, runtime, conn, setup_link):
    page = open_setup(client, setup_link)
    assert "Your connections are already set up. Create your admin account" in text_of(page)
    assert 'name="store_url"' not in page.get_data(as_text=True)
    response = post(client, "/setup", {"username": "owner", "password": "owner password 1",
                                       "password_confirm": "owner password 1"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/connections")
    listing = client.get("/connections")
    assert listing.status_code == 200 and "shop" in text_of(listing)
    with runtime.db.transaction() as session:
        assert session.scalars(select(User.username)).all() == ["owner"]
        assert session.scalars(select(Connection.name)).all() == ["shop"]


def test_signing_out_ends_the_session_for_a_copied_cookie_too(app, client, admin):
    client.get("/login")
    assert post(client, "/login", {"username": ADMIN, "password": ADMIN_PASSWORD}).status_code == 302
    copied = client.get_cookie("qbsync_session").value
    thief = app.test_client()
    thief.set_cookie("qbsync_session", copied)
    assert thief.get("/").status_code == 200
    post(client, "/logout")
    again = thief.get("/")
    assert again.status_code == 302 and again.headers["Location"].startswith("/login")


def test_an_expired_session_row_is_refused(client, admin, runtime):
    client.get("/login")
    post(client, "/login", {"username": ADMIN, "password": ADMIN_PASSWORD})
    assert client.get("/").status_code == 200
    with runtime.db.transaction() as session:
        session.execute(update(AdminSession).values(expires_at=AdminSession.created_at))
    assert client.get("/").status_code == 302


def test_the_scheduler_forgets_ended_sessions_spent_links_and_old_sign_in_counts(runtime, admin):
    from qbsync import lockout
    from qbsync.service.scheduler import run_due

    now = utcnow()
    long_ago = now - timedelta(days=2)
    with runtime.db.transaction() as session:
        live = security.start_session(session, admin)
        security.start_session(session, admin, now=long_ago)  # ran out a day and a half ago
        security.issue_setup_token(session, now=long_ago)
        lockout.reserve(session, "login", "someone", None, limit=5, now=long_ago)
        lockout.reserve(session, "login", ADMIN, None, limit=5, now=now)
    assert "forget-sign-ins" in run_due(runtime, {})
    with runtime.db.transaction() as session:
        assert security.signed_in_user(session, live).username == ADMIN
        assert session.scalar(select(func.count()).select_from(AdminSession)) == 1
        assert session.scalar(select(func.count()).select_from(SetupToken)) == 0
        assert session.scalars(select(SignInLock.username)).all() == [ADMIN]
