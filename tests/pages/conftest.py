"""Fixtures for the admin page tests: an admin account, a signed-in client, and rows to show."""

from __future__ import annotations

import functools
import html
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

import pytest

import qbsync.connections
from qbsync.passwords import hash_password
from qbsync.service import security
from qbsync.storage.models import (
    Exchange,
    JobAttempt,
    QbListEntry,
    QbwcSession,
    QueueJob,
    StorefrontRecord,
    User,
    utcnow,
)

ADMIN = "admin"
ADMIN_PASSWORD = "a long admin password"
WEBHOOK_SECRET = "whsec-super-secret-value-123"
CONSUMER_KEY = "ck_" + "1a2b3c4d" * 5
CONSUMER_SECRET = "cs_" + "9f8e7d6c" * 5


def csrf_of(client: Any) -> str:
    """The CSRF token of the client's session (a page must have been fetched first)."""
    with client.session_transaction() as session:
        return session.get("csrf_token", "")


def post(client: Any, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """POST a form the way the page does: with the session's CSRF token."""
    token = csrf_of(client)
    if not token:
        client.get("/login")
        token = csrf_of(client)
    form = dict(data or {})
    form["csrf_token"] = token
    return client.post(url, data=form, **kwargs)


def flashes(client: Any) -> list[tuple[str, str]]:
    """Flash messages waiting in the session (read without consuming them)."""
    with client.session_transaction() as session:
        return list(session.get("_flashes", []))


def text_of(response: Any) -> str:
    """The response body as text with tags and repeated spaces removed, for reading like a person."""
    body = response.get_data(as_text=True)
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())
    return re.sub(r" ([,.;:])(?=\s|$)", r"\1", words)


@functools.cache
def _hash_once(password: str) -> str:
    return hash_password(password)


@pytest.fixture(autouse=True)
def _hash_each_password_once(monkeypatch):
    """argon2 takes most of a second per hash on a small CI machine: hash each test password once.

    The hashes are real argon2 hashes (only their salt is shared between tests).
    """
    monkeypatch.setattr(qbsync.connections, "hash_password", _hash_once)


@pytest.fixture
def admin(runtime) -> User:
    """The first admin account."""
    with runtime.db.transaction() as session:
        user = User(username=ADMIN, password_hash=_hash_once(ADMIN_PASSWORD), is_admin=True)
        session.add(user)
    return user


@pytest.fixture
def signed_in(client, admin):
    """A test client with a signed-in session (test_auth.py covers the sign-in form itself)."""
    with client.application.extensions["qbsync"].db.transaction() as db_session:
        token = security.start_session(db_session, admin)
    with client.session_transaction() as session:
        session[security.SESSION_KEY] = token
        session["csrf_token"] = secrets.token_urlsafe(32)
    return client


@pytest.fixture
def conn(make_connection):
    """A WooCommerce connection with a webhook secret and API credentials."""
    return make_connection("shop", webhook_secret=WEBHOOK_SECRET,
                           api_credentials={"consumer_key": CONSUMER_KEY, "consumer_secret": CONSUMER_SECRET})


@pytest.fixture
def add_job(runtime):
    """Insert a queue job with the given fields."""

    def factory(connection_id: int, **fields: Any) -> QueueJob:
        values: dict[str, Any] = dict(kind="order", record_type="order", record_id="501", label="Order #1001",
                                      payload={"number": "1001"}, state="pending")
        values.update(fields)
        with runtime.db.transaction() as session:
            job = QueueJob(connection_id=connection_id, **values)
            session.add(job)
            session.flush()
            return job

    return factory


@pytest.fixture
def add_session(runtime):
    """Insert a Web Connector session."""

    def factory(connection_id: int, *, minutes_ago: float = 5, **fields: Any) -> QbwcSession:
        seen = utcnow() - timedelta(minutes=minutes_ago)
        values: dict[str, Any] = dict(ticket=f"t-{seen.timestamp()}-{fields.get('state', 'closed')}",
                                      state="closed", started_at=seen - timedelta(minutes=1),
                                      last_seen_at=seen,
                                      expires_at=seen + timedelta(hours=1), qbxml_version="13.0",
                                      result="OK", jobs_total=1, jobs_done=1, exchanges=1)
        values.update(fields)
        with runtime.db.transaction() as session:
            row = QbwcSession(connection_id=connection_id, **values)
            session.add(row)
            session.flush()
            return row

    return factory


@pytest.fixture
def add_exchange(runtime):
    """Insert an exchange with one job attempt (the log's request/response pair)."""

    def factory(qb_session: QbwcSession, job: QueueJob | None, *, request_xml: str, response_xml: str | None,
                status_code: int | None, message: str | None = None, severity: str | None = None,
                request_type: str = "InvoiceAddRq",
                at: datetime | None = None) -> tuple[Exchange, JobAttempt]:
        at = at or utcnow()
        with runtime.db.transaction() as session:
            exchange = Exchange(session_id=qb_session.id, connection_id=qb_session.connection_id, seq=1,
                                request_xml=request_xml, response_xml=response_xml, job_count=1, sent_at=at,
                                received_at=at)
            session.add(exchange)
            session.flush()
            attempt = JobAttempt(exchange_id=exchange.id, job_id=job.id if job else None,
                                 connection_id=qb_session.connection_id,
                                 request_id=f"{job.id if job else 0}.1", request_type=request_type,
                                 label=job.label if job else None, status_code=status_code,
                                 status_severity=severity, status_message=message,
                                 outcome="park" if status_code and status_code >= 3000 else "done",
                                 created_at=at)
            session.add(attempt)
            session.flush()
            return exchange, attempt

    return factory


@pytest.fixture
def add_record(runtime):
    """Insert a storefront record (customer, product, order)."""

    def factory(connection_id: int, record_type: str, record_id: str, data: dict[str, Any]) -> None:
        with runtime.db.transaction() as session:
            session.add(StorefrontRecord(connection_id=connection_id, record_type=record_type,
                                         record_id=record_id, data=data, source="webhook"))

    return factory


@pytest.fixture
def add_list_entry(runtime):
    """Insert a QuickBooks list entry (as pulled by a list refresh)."""

    def factory(connection_id: int, list_type: str, list_id: str, full_name: str, **data: Any) -> None:
        with runtime.db.transaction() as session:
            session.add(QbListEntry(connection_id=connection_id, list_type=list_type, list_id=list_id,
                                    full_name=full_name, data=data))

    return factory
