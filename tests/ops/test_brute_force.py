"""Password guessing is stopped and logged: the Web Connector's authenticate and the admin sign-in page.

End to end through HTTP; what an operator sees is checked in the JSON log (lockout warnings, the request
id, and never a guessed or real password).
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from qbsync.passwords import hash_password
from qbsync.qwc.sessions import LOCKOUT_FAILURES
from qbsync.service import logging_setup, security
from qbsync.simulator import QuickBooksCompany, WebConnector
from qbsync.storage.models import AuthFailure, QbwcSession, SignInLock, User

ADMIN_PASSWORD = "right admin password"
QBWC_PASSWORD = "correct horse battery"


@pytest.fixture
def json_log():
    """Root logging as JSON lines into a buffer; restored afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buffer = io.StringIO()
    logging_setup.configure(logging.INFO, fmt="json", stream=buffer)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def _failures(runtime, kind: str) -> int:
    with runtime.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(AuthFailure).where(AuthFailure.kind == kind))


def test_guessing_the_web_connector_password_locks_the_user_out(app, live_server, runtime, make_connection,
                                                                 json_log):
    logging_setup.install_request_id(app)  # idempotent: the app factory may already have done it
    make_connection("shop")
    url = f"{live_server.url}/qbwc"
    guesses = [f"guess-{n}-secret" for n in range(LOCKOUT_FAILURES + 2)]
    for guess in guesses:
        with WebConnector(url, "shop-qbwc", guess, QuickBooksCompany()) as connector:
            assert connector.run_once().ended_by == "auth:nvu"
    with WebConnector(url, "shop-qbwc", QBWC_PASSWORD, QuickBooksCompany()) as connector:
        assert connector.run_once().ended_by == "auth:nvu"  # the right password too, while locked

    with runtime.db.transaction() as session:
        assert session.scalars(select(QbwcSession)).all() == []
    assert _failures(runtime, "qbwc") >= LOCKOUT_FAILURES  # each miss is on record for the log page
    lines = json_log()
    locked = [line for line in lines if "locked out" in line["message"]]
    assert locked and all(line["level"] == "WARNING" and line["request_id"] for line in locked)
    assert all("shop-qbwc" in line["message"] and "127.0.0.1" in line["message"] for line in locked)
    text = "\n".join(json.dumps(line) for line in lines)
    assert not [secret for secret in [*guesses, QBWC_PASSWORD] if secret in text]


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the sign-in page has no CSRF token"
    return match.group(1)


def _sign_in(client, username: str, password: str):
    token = _csrf(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def test_guessing_an_admin_password_locks_the_sign_in_page(app, runtime, json_log):
    logging_setup.install_request_id(app)
    with runtime.db.transaction() as session:
        session.add(User(username="admin", password_hash=hash_password(ADMIN_PASSWORD)))
    client = app.test_client()
    guesses = [f"admin-guess-{n}" for n in range(security.MAX_FAILURES_PER_USER)]
    for guess in guesses:
        answer = _sign_in(client, "admin", guess)
        assert answer.status_code == 401 and "do not match" in answer.get_data(as_text=True)

    refused = _sign_in(client, "admin", ADMIN_PASSWORD)
    assert refused.status_code == 401 and "Too many failed sign-ins" in refused.get_data(as_text=True)
    assert client.get("/").status_code == 302  # not signed in
    with runtime.db.transaction() as session:
        lock = session.scalar(select(SignInLock).where(SignInLock.username == "admin"))
        assert lock.locked_until is not None
    assert _failures(runtime, "login") == len(guesses)

    lines = json_log()
    assert [line for line in lines if "sign-in locked" in line["message"] and line["level"] == "WARNING"]
    assert [line for line in lines if "locked out" in line["message"] and line["request_id"]]
    text = "\n".join(json.dumps(line) for line in lines)
    assert not [secret for secret in [*guesses, ADMIN_PASSWORD] if secret in text]


def test_guessing_many_user_names_from_one_address_locks_the_address(app, runtime):
    with runtime.db.transaction() as session:
        session.add(User(username="admin", password_hash=hash_password(ADMIN_PASSWORD)))
    client = app.test_client()
    for n in range(security.MAX_FAILURES_PER_ADDRESS):
        assert _sign_in(client, f"user{n}", "whatever").status_code == 401
    refused = _sign_in(client, "admin", ADMIN_PASSWORD)
    assert refused.status_code == 401 and "from your address" in refused.get_data(as_text=True)
    # Another address is not affected.
    other = app.test_client()
    token = _csrf(other.get("/login", environ_base={"REMOTE_ADDR": "127.0.0.2"}).get_data(as_text=True))
    signed_in = other.post("/login", environ_base={"REMOTE_ADDR": "127.0.0.2"},
                           data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token})
    assert signed_in.status_code == 302


def _slow_checks(monkeypatch, module, right: str, seconds: float = 0.05) -> list[str]:
    """Password checks that take as long as a real argon2 hash on a busy machine; returns what was checked."""
    checked: list[str] = []

    def verify(stored_hash, password):
        checked.append(password)
        time.sleep(seconds)
        return stored_hash is not None and password == right

    monkeypatch.setattr(module, "verify_password", verify)
    return checked


def test_thirty_parallel_guesses_at_an_admin_password_get_five_checked(live_server, runtime, monkeypatch):
    with runtime.db.transaction() as session:
        session.add(User(username="admin", password_hash=hash_password(ADMIN_PASSWORD)))
    checked = _slow_checks(monkeypatch, security, ADMIN_PASSWORD)
    with httpx.Client(base_url=live_server.url) as browser:
        token = _csrf(browser.get("/login").text)
        form = {"username": "admin", "csrf_token": token}

        def guess(n: int) -> int:
            return browser.post("/login", data=dict(form, password=f"guess-{n}")).status_code

        with ThreadPoolExecutor(max_workers=30) as pool:
            answers = list(pool.map(guess, range(30)))
        assert answers == [401] * 30
        assert len(checked) == security.MAX_FAILURES_PER_USER
        assert _failures(runtime, "login") == security.MAX_FAILURES_PER_USER
        refused = browser.post("/login", data=dict(form, password=ADMIN_PASSWORD))
        assert refused.status_code == 401 and "Too many failed sign-ins" in refused.text
    assert len(checked) == security.MAX_FAILURES_PER_USER


def test_thirty_parallel_guesses_at_a_web_connector_password_get_five_checked(live_server, runtime,
                                                                              make_connection, monkeypatch):
    from qbsync.qwc import sessions
    from tests.qwc.wire import call

    make_connection("shop")
    checked = _slow_checks(monkeypatch, sessions, QBWC_PASSWORD)

    def guess(n: int) -> None:
        call(live_server.url, "authenticate", strUserName="shop-qbwc", strPassword=f"guess-{n}")

    with ThreadPoolExecutor(max_workers=30) as pool:
        list(pool.map(guess, range(30)))
    assert len(checked) == LOCKOUT_FAILURES
    assert _failures(runtime, "qbwc") == LOCKOUT_FAILURES


@pytest.mark.postgres
@pytest.mark.slow
def test_two_web_processes_share_sessions_sign_outs_and_the_lockout(spawn, runtime):
    """Sessions and locks live in the database: what one process does, the other enforces at once."""
    with runtime.db.transaction() as session:
        session.add(User(username="admin", password_hash=hash_password(ADMIN_PASSWORD)))
    first, second = spawn.serve(), spawn.serve()
    with httpx.Client(base_url=first.url, timeout=30) as browser:
        token = _csrf(browser.get("/login").text)
        signed_in = browser.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD,
                                                 "csrf_token": token})
        assert signed_in.status_code == 302
        cookie = browser.cookies["qbsync_session"]
        token = _csrf(browser.get("/users").text)
    with httpx.Client(base_url=second.url, cookies={"qbsync_session": cookie}, timeout=30) as copy:
        assert copy.get("/").status_code == 200  # the same session on the other process
        assert copy.post("/logout", data={"csrf_token": token}).status_code == 302
    with httpx.Client(base_url=first.url, cookies={"qbsync_session": cookie}, timeout=30) as replay:
        assert replay.get("/").status_code == 302  # signed out there ends it here too

    # Thirty guesses at once, spread over both processes: five passwords are checked, in all.
    def guess(n: int) -> int:
        with httpx.Client(base_url=(first, second)[n % 2].url, timeout=60) as attacker:
            csrf = _csrf(attacker.get("/login").text)
            return attacker.post("/login", data={"username": "admin", "password": f"guess-{n}",
                                                 "csrf_token": csrf}).status_code

    with ThreadPoolExecutor(max_workers=30) as pool:
        assert list(pool.map(guess, range(30))) == [401] * 30
    assert _failures(runtime, "login") == security.MAX_FAILURES_PER_USER
