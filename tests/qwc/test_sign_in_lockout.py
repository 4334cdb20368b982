"""Brute force against the Web Connector sign-in: five misses lock the user name out for 15 minutes."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, update

from qbsync.queue.jobs import enqueue_qbxml
from qbsync.qwc.sessions import LOCKOUT_FAILURES, LOCKOUT_WINDOW
from qbsync.storage.models import AuthFailure, QbwcSession, utcnow
from tests.qwc.wire import TNS, call

PASSWORD = "correct horse battery"


def sign_in(base_url: str, user: str, password: str) -> list[str]:
    result = call(base_url, "authenticate", strUserName=user, strPassword=password)
    return [s.text or "" for s in result.findall(f"{{{TNS}}}string")]


def failures(runtime, user: str) -> list[AuthFailure]:
    with runtime.db.transaction() as session:
        return session.scalars(select(AuthFailure).where(AuthFailure.username == user)).all()


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

    # Once the failures are older than the window, the real password works again.
    with runtime.db.transaction() as session:
        session.execute(update(AuthFailure).values(at=utcnow() - LOCKOUT_WINDOW - timedelta(seconds=1)))
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
    real_failures = [f.id for f in failures(runtime, "shop-qbwc")]
    # Someone fixes the password in the Web Connector; it keeps running on schedule during the lockout.
    for _ in range(LOCKOUT_FAILURES):
        assert sign_in(live_server.url, "shop-qbwc", PASSWORD) == ["", "nvu"]
    with runtime.db.transaction() as session:
        session.execute(update(AuthFailure).where(AuthFailure.id.in_(real_failures))
                        .values(at=utcnow() - LOCKOUT_WINDOW - timedelta(seconds=1)))
    # The window has passed since the real failures: the next scheduled run gets in.
    assert sign_in(live_server.url, "shop-qbwc", PASSWORD)[1] == "none"
