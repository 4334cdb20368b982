"""Brute force against the Web Connector sign-in: five misses from one address lock that address out for
15 minutes; guesses from elsewhere never lock the real Web Connector out; an admin can lift a lock.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, update

from qbsync.queue.jobs import enqueue_qbxml
from qbsync.qwc import sessions
from qbsync.qwc.sessions import LOCKOUT_FAILURES, LOCKOUT_WINDOW
from qbsync.storage.models import AuthFailure, QbwcSession, SignInLock
from tests.qwc.wire import TNS, call

PASSWORD = "correct horse battery"


def sign_in(base_url: str, user: str, password: str) -> list[str]:
    result = call(base_url, "authenticate", strUserName=user, strPassword=password)
    return [s.text or "" for s in result.findall(f"{{{TNS}}}string")]


def failures(runtime, user: str) -> list[AuthFailure]:
    with runtime.db.transaction() as session:
        return session.scalars(select(AuthFailure).where(AuthFailure.username == user)).all()


def let_the_window_pass(runtime) -> None:
    """Move every lock and attempt back by more than the window, as if 15 minutes had gone by."""
    back = LOCKOUT_WINDOW + timedelta(seconds=1)
    with runtime.db.transaction() as session:
        session.execute(update(SignInLock).values(locked_until=SignInLock.locked_until - back,
                                                  last_attempt_at=SignInLock.last_attempt_at - back))


def test_six_wrong_passwords_lock_out_even_the_right_one(live_server, runtime, make_quiet_connection, caplog):
    conn = make_quiet_connection("shop")
    with runtime.db.transaction() as session:
        enqueue_qbxml(session, conn.id, "<CustomerQueryRq/>")
    for _ in range(LOCKOUT_FAILURES + 1):
        assert sign_in(live_server.url, "shop-qbwc", "guess") == ["", "nvu"]
    # The sixth try came during the lockout: refused unchecked, and not counted (see below).
    assert len(failures(runtime, "shop-qbwc")) == LOCKOUT_FAILURES
    assert all(f.kind == "qbwc" for f in failures(runtime, "shop-qbwc"))

    with caplog.at_level(logging.WARNING, logger="qbsync.qwc.sessions"):
        assert sign_in(live_server.url, "shop-qbwc", PASSWORD) == ["", "nvu"]
    assert "locked out" in caplog.text
    with runtime.db.transaction() as session:
        assert session.scalars(select(QbwcSession)).all() == []

    # Once the window has passed, the real password works again.
    let_the_window_pass(runtime)
    ticket, status = sign_in(live_server.url, "shop-qbwc", PASSWORD)
    assert ticket and status == ""


def test_lockout_is_per_user_name(live_server, runtime, make_quiet_connection):
    make_quiet_connection("shop")
    make_quiet_connection("other")
    for _ in range(LOCKOUT_FAILURES):
        sign_in(live_server.url, "shop-qbwc", "guess")
    assert sign_in(live_server.url, "other-qbwc", PASSWORD)[1] == "none"
    assert sign_in(live_server.url, "shop-qbwc", PASSWORD) == ["", "nvu"]


def test_a_successful_sign_in_restarts_the_count(live_server, runtime, make_quiet_connection):
    make_quiet_connection("shop")
    for _ in range(LOCKOUT_FAILURES - 1):
        sign_in(live_server.url, "shop-qbwc", "typo")
    assert sign_in(live_server.url, "shop-qbwc", PASSWORD)[1] == "none"
    assert sign_in(live_server.url, "shop-qbwc", "typo again") == ["", "nvu"]
    assert sign_in(live_server.url, "shop-qbwc", PASSWORD)[1] == "none"


def test_a_web_connector_polling_during_the_lockout_is_let_in_once_it_ends(live_server, runtime,
                                                                          make_quiet_connection):
    make_quiet_connection("shop")
    for _ in range(LOCKOUT_FAILURES):
        sign_in(live_server.url, "shop-qbwc", "old password")
    # Someone fixes the password in the Web Connector; it keeps running on schedule during the lockout.
    for _ in range(LOCKOUT_FAILURES):
        assert sign_in(live_server.url, "shop-qbwc", PASSWORD) == ["", "nvu"]
    let_the_window_pass(runtime)
    # The window has passed since the real failures: the next scheduled run gets in.
    assert sign_in(live_server.url, "shop-qbwc", PASSWORD)[1] == "none"


def test_guesses_from_elsewhere_do_not_lock_the_real_web_connector_out(live_server, runtime,
                                                                         make_quiet_connection, config):
    make_quiet_connection("shop")
    for _ in range(3 * LOCKOUT_FAILURES):  # an attacker somewhere else, again and again
        with runtime.db.transaction() as session:
            answer = sessions.authenticate(session, config, "shop-qbwc", "guess", remote_addr="203.0.113.9")
        assert answer.as_strings() == ["", "nvu"]
    # The tenant's Web Connector (here: 127.0.0.1) signs in as usual.
    assert sign_in(live_server.url, "shop-qbwc", PASSWORD)[1] == "none"
    # The attacker's address is locked, even with the right password.
    with runtime.db.transaction() as session:
        answer = sessions.authenticate(session, config, "shop-qbwc", PASSWORD, remote_addr="203.0.113.9")
    assert answer.as_strings() == ["", "nvu"]


def test_an_admin_lifts_a_web_connector_lock_from_the_command_line(live_server, runtime,
                                                                   make_quiet_connection,
                                                                   monkeypatch):
    from click.testing import CliRunner

    from qbsync.service import cli

    make_quiet_connection("shop")
    for _ in range(LOCKOUT_FAILURES):
        sign_in(live_server.url, "shop-qbwc", "old password")
    assert sign_in(live_server.url, "shop-qbwc", PASSWORD) == ["", "nvu"]
    monkeypatch.setattr(cli, "_runtime", lambda upgrade=True: runtime)
    result = CliRunner().invoke(cli.main, ["connection", "unlock", "shop"])
    assert result.exit_code == 0, result.output
    assert "lifted 1 Web Connector lock of 'shop' (user 'shop-qbwc')" in result.output
    assert sign_in(live_server.url, "shop-qbwc", PASSWORD)[1] == "none"
