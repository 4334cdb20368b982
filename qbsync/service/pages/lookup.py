"""Looking up what a page is about: the runtime, a connection by name, the service's public address,
and QuickBooks status codes in plain words."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import abort, current_app, request
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from qbsync.config import local_base_url
from qbsync.service.runtime import Runtime
from qbsync.storage.models import Connection, JobAttempt, QbwcSession

log = logging.getLogger(__name__)

# Beyond this a page number is nonsense; capping it keeps OFFSET within a 64-bit database integer.
MAX_PAGE = 1_000_000


def runtime() -> Runtime:
    """The runtime of the app serving this request."""
    return current_app.extensions["qbsync"]


def page_number(raw: Any) -> int:
    """The ``page=`` query argument as a page number: 1 for nonsense, at most :data:`MAX_PAGE`."""
    try:
        page = int(raw)
    except (TypeError, ValueError):
        return 1
    return min(max(1, page), MAX_PAGE)


def error_answers_filter() -> Any:
    """QuickBooks answers that were errors (severity Error; without a severity, codes 3000 and up)."""
    return or_(func.lower(JobAttempt.status_severity) == "error",
               (JobAttempt.status_severity.is_(None)) & (JobAttempt.status_code >= 3000))


def page_count(total: int | None, size: int) -> int:
    """How many pages ``total`` rows fill (at least one, so an empty list still has its page)."""
    return max(1, ((total or 0) + size - 1) // size)


def connection_or_404(session: Session, name: str) -> Connection:
    """The connection called ``name``, or a 404 page."""
    conn = session.scalar(select(Connection).where(Connection.name == name))
    if conn is None:
        abort(404, description=f"There is no connection named {name!r}.")
    return conn


def all_connections(session: Session) -> list[Connection]:
    """Every connection, by name (for pickers and the dashboard)."""
    return list(session.scalars(select(Connection).order_by(Connection.name)))


def chosen_connection(session: Session, name: str | None) -> Connection | None:
    """The connection named in the request, else the first one (None when there are none)."""
    if name:
        return connection_or_404(session, name)
    return session.scalar(select(Connection).order_by(Connection.name).limit(1))


def public_base_url() -> str:
    """Where people and the Web Connector reach this service.

    QBSYNC_PUBLIC_URL; else, behind a trusted proxy, the host it forwarded; else this machine
    (``http://localhost:<port>``). A bare Host header never decides: anyone can send any.
    """
    config = runtime().config
    if config.public_url:
        return config.public_url.rstrip("/")
    if config.trusts_forwarded_host:
        return request.url_root.rstrip("/")
    return local_base_url(request.scheme, request.environ.get("SERVER_PORT"))


def is_local_request_host() -> bool:
    """Whether this request was addressed to this machine by a loopback name (only for warnings)."""
    return request.host.rsplit(":", 1)[0].strip("[]").lower() in ("localhost", "127.0.0.1", "::1")


def qbwc_url() -> str:
    """The Web Connector endpoint's full address (the .qwc file's AppURL)."""
    return public_base_url() + "/qbwc"


def latest_qbxml_version(session: Session, connection_id: int) -> str | None:
    """The qbXML version spoken in the connection's newest session, if any."""
    return session.scalar(
        select(QbwcSession.qbxml_version).where(QbwcSession.connection_id == connection_id,
                                                QbwcSession.qbxml_version.is_not(None))
        .order_by(QbwcSession.started_at.desc()).limit(1)
    )


def connection_secrets(conn: Connection) -> list[Any]:
    """Every secret of ``conn``, so pages can mask them wherever they appear."""
    values: list[Any] = [conn.webhook_secret, conn.previous_webhook_secret]
    values.extend((conn.api_credentials or {}).values())
    return [v for v in values if v]


@dataclass(frozen=True)
class StatusExplanation:
    """A QuickBooks status code in plain words, with what to do about it."""

    code: int
    title: str
    plain_words: str
    fix: str


def explain_status(code: int | None) -> StatusExplanation | None:
    """Explain ``code`` with qbsync.qbxml.status.explain; None for no code or success."""
    if code is None or code == 0:
        return None
    try:
        from qbsync.qbxml.status import explain
    except ImportError:  # the status module ships separately; pages still work without it
        return None
    try:
        found = explain(code)
    except (KeyError, ValueError, TypeError):
        return None
    if found is None:
        return None
    return StatusExplanation(code=code, title=str(getattr(found, "title", "") or ""),
                             plain_words=str(getattr(found, "plain_words", "") or ""),
                             fix=str(getattr(found, "fix", "") or ""))
