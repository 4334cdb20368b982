"""The scheduler's sweep: sessions without a call for too long end, and their work goes back to the queue."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from qbsync.queue.jobs import enqueue_qbxml
from qbsync.qwc import sessions
from qbsync.service.scheduler import TASKS, run_due
from qbsync.storage.models import QbwcSession, QueueJob, utcnow
from tests.qwc.wire import MODERN_VERSIONS, host_response


def test_sweep_ends_stale_sessions_and_returns_their_work(runtime, make_quiet_connection):
    conn = make_quiet_connection("shop")
    config = runtime.config
    with runtime.db.transaction() as session:
        job_id = enqueue_qbxml(session, conn.id, "<CustomerQueryRq/>").id
        answer = sessions.authenticate(session, config, "shop-qbwc", "correct horse battery")
        ticket, status = answer.as_strings()
    assert status == ""
    with runtime.db.transaction() as session:
        assert "<CustomerQueryRq" in sessions.send_request_xml(
            session, config, ticket, host_response(MODERN_VERSIONS), "Shop.qbw", "US", 13, 0)

    assert sessions.expire_stale_sessions(runtime) == 0  # still fresh
    with runtime.db.transaction() as session:
        record = session.scalar(select(QbwcSession).where(QbwcSession.ticket == ticket))
        record.last_seen_at = utcnow() - timedelta(seconds=config.session_stale_seconds + 1)

    assert "expire-sessions" in run_due(runtime, {})  # the scheduler finds and runs the task by name
    assert any(t.job == "qbsync.qwc.sessions:expire_stale_sessions" for t in TASKS)
    assert sessions.expire_stale_sessions(runtime) == 0  # idempotent
    with runtime.db.transaction() as session:
        record = session.scalar(select(QbwcSession).where(QbwcSession.ticket == ticket))
        job = session.get(QueueJob, job_id)
        assert record.state == "stale" and record.closed_at is not None
        assert (job.state, job.needs_lookup) == ("pending", True)
        assert "no call" in sessions.get_last_error(session, config, ticket)


def test_hresults_are_described_in_either_spelling():
    hex_text = sessions.describe_qb_error("0x80040420", "Access denied")
    decimal_text = sessions.describe_qb_error(str(0x80040420 - 2**32), "Access denied")
    assert hex_text == decimal_text
    assert "Integrated Applications" in hex_text and "Access denied" in hex_text
    assert "put back in the queue" in sessions.describe_qb_error("", "Something odd")


def test_client_version_warns_only_for_prehistoric_web_connectors():
    assert sessions.client_version("2.0.0.116") == ""
    assert sessions.client_version("") == ""
    assert sessions.client_version("1.5.0.0").startswith("W:")


def test_changing_the_password_ends_the_live_session_and_frees_the_connection(runtime, make_quiet_connection):
    from qbsync.connections import set_qbwc_password

    conn = make_quiet_connection("shop")
    config = runtime.config
    with runtime.db.transaction() as session:
        job_id = enqueue_qbxml(session, conn.id, "<CustomerQueryRq/>").id
        answer = sessions.authenticate(session, config, "shop-qbwc", "correct horse battery")
        ticket, status = answer.as_strings()
    assert status == ""
    with runtime.db.transaction() as session:
        assert "<CustomerQueryRq" in sessions.send_request_xml(
            session, config, ticket, host_response(MODERN_VERSIONS), "Shop.qbw", "US", 13, 0)

    with runtime.db.transaction() as session:
        set_qbwc_password(session, session.get(type(conn), conn.id), "a brand new password")

    with runtime.db.transaction() as session:
        # The ticket from the old password is dead: nothing more is sent with it, and its work is back.
        assert sessions.send_request_xml(session, config, ticket, "", "Shop.qbw", "US", 13, 0) == ""
        assert "password was changed" in sessions.get_last_error(session, config, ticket)
        assert session.get(QueueJob, job_id).state == "pending"
        # The Web Connector with the new password is let in at once, not told "busy".
        answer = sessions.authenticate(session, config, "shop-qbwc", "a brand new password")
    assert answer.status == ""
