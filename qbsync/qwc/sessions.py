"""Web Connector sessions: sign-in, tickets, and what each callback means for the queue.

The service layer under the SOAP endpoint. Every public function takes an open SQLAlchemy session (the
caller commits) plus the callback's arguments, and returns the answer the Web Connector expects. Outside
input never makes these functions raise: an unknown, expired or ended ticket gets a clear text instead.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

import qbsync
from qbsync import lockout
from qbsync.config import Config
from qbsync.passwords import hash_password, needs_rehash, verify_password
from qbsync.qbxml.errors import QbxmlError, QbxmlVersionError, QuickBooksTooOldError
from qbsync.qbxml.versions import negotiate_version, parse_host_response
from qbsync.queue import company_file as company_files
from qbsync.queue.exchange import (
    handle_qb_error,
    handle_response,
    handle_unparsed_batch,
    has_work,
    next_request,
    release_session,
)
from qbsync.queue.inventory import PULL_KIND
from qbsync.queue.lists import REFRESH_KIND
from qbsync.service.runtime import Runtime
from qbsync.storage.models import (
    AuthFailure,
    Connection,
    Exchange,
    JobAttempt,
    QbwcSession,
    QueueJob,
    utcnow,
)

log = logging.getLogger(__name__)

# Brute-force brake: this many wrong passwords for one user name from one address within the window lock
# that address out for the window.
LOCKOUT_FAILURES = 5
LOCKOUT_WINDOW = lockout.WINDOW
# authenticate[2] when another session is live: ask the Web Connector to try again after this long.
BUSY_POSTPONE_SECONDS = 60
# How long the Web Connector waits for the answer to one call. QBWC is a .NET SOAP client (reference
# qbwc/PROTOCOL.md); .NET's WebClientProtocol.Timeout defaults to 100,000 ms (Microsoft's .NET API
# reference). Intuit documents no other value, so it is assumed unchanged. A session silent longer than
# this between calls has lost its Web Connector (QuickBooks' own work between sendRequestXML and
# receiveResponseXML is not bounded by it, but qbsync's requests are small pages).
QBWC_CALL_TIMEOUT_SECONDS = 100
# receiveResponseXML's answer when the ticket is not a live session (getLastError then explains).
TICKET_PROBLEM_RESULT = -101
QB_ERROR_RESULT = -1
# QuickBooks could not parse the request set: something in the batch is at fault, not QuickBooks, so the
# session goes on and the batch is split to find it (queue.isolation) instead of ending the session.
PARSE_ERROR_HRESULT = 0x80040400

UNKNOWN_TICKET = "qbsync: unknown session ticket; the Web Connector will start a new session next time"
CLOSED_TICKET = "qbsync: this session is already closed; the Web Connector will start a new session next time"

# Known HRESULTs QuickBooks reports through receiveResponseXML or connectionError, with what to do.
HRESULT_HINTS = {
    0x80040400: "QuickBooks could not parse the request (a qbXML syntax error); qbsync sends the batch "
                "again in smaller parts to find the record at fault",
    0x80040401: "the Web Connector could not access QuickBooks; make sure QuickBooks is running and "
                "not showing a dialog",
    0x80040402: "QuickBooks hit an unexpected error; the work was put back in the queue",
    0x80040408: "QuickBooks could not be started; open QuickBooks and the company file, then run the "
                "update again",
    0x8004040D: "QuickBooks rejected the session ticket; the next update starts a new session",
    0x80040416: "QuickBooks is not running and no company file was given; open the company file in "
                "QuickBooks and run the update again",
    0x80040420: "the QuickBooks user denied qbsync access; allow it under Edit > Preferences > "
                "Integrated Applications in QuickBooks",
}


@dataclass(frozen=True)
class AuthResult:
    """authenticate's answer: ticket, status ("" = open company file, "none", "nvu", "busy") and hints."""

    ticket: str
    status: str
    postpone_seconds: int | None = None

    def as_strings(self) -> list[str]:
        """The ``authenticateResult`` string array, in the Web Connector's order."""
        strings = [self.ticket, self.status]
        if self.postpone_seconds is not None:
            strings.append(str(self.postpone_seconds))
        return strings


# --- calls without a ticket ------------------------------------------------------------------------


def server_version() -> str:
    """What the Web Connector shows as the service's version."""
    return f"qbsync {qbsync.__version__}"


def client_version(version: str | None) -> str:
    """"" to proceed; a "W:" warning for Web Connectors older than 2.0 (never seen, still allowed)."""
    parts = (version or "").strip().split(".")
    try:
        major = int(parts[0])
    except ValueError:
        return ""
    if major < 2:
        return (f"W:This Web Connector ({version}) is older than 2.0, which qbsync was tested with. "
                "Please update the QuickBooks Web Connector.")
    return ""


def authenticate(
    session: Session,
    config: Config,
    username: str | None,
    password: str | None,
    *,
    remote_addr: str | None = None,
    now: datetime | None = None,
) -> AuthResult:
    """Sign the Web Connector in and open a session, or say why not (nvu, busy, none)."""
    now = now or utcnow()
    username, password = username or "", password or ""
    conn = (session.scalar(select(Connection).where(Connection.qbwc_username == username))
            if username else None)
    # Counted per user name *and* address, before the password is checked (atomically, see
    # qbsync.lockout): guesses from elsewhere cannot lock the tenant's own Web Connector out.
    locked_until = lockout.reserve(session, "qbwc", username, remote_addr or "", limit=LOCKOUT_FAILURES,
                                   now=now)
    if locked_until is not None:
        # Refused without checking: during the lockout even the right password fails. Not counted as a
        # new failure: a Web Connector polling on schedule would otherwise keep itself locked for good,
        # even after someone typed the right password into it.
        log.warning("Web Connector user %r is locked out after %d failed sign-ins from %s until %s UTC "
                    "(an admin can lift it: Users page, or `qbsync connection unlock`)",
                    username[:100], LOCKOUT_FAILURES, remote_addr, f"{locked_until:%H:%M}")
        return AuthResult("", "nvu")
    # An unknown user name still costs one hash, so timing does not reveal which names exist.
    if not verify_password(conn.qbwc_password_hash if conn else None, password) or conn is None:
        log.info("Web Connector sign-in failed for user %r from %s", username[:100], remote_addr)
        _record_failure(session, username, remote_addr, now)
        return AuthResult("", "nvu")
    lockout.succeeded(session, "qbwc", username, remote_addr or "")
    if needs_rehash(conn.qbwc_password_hash):
        conn.qbwc_password_hash = hash_password(password)

    # One live session per connection. Locking the connection row serializes concurrent sign-ins on
    # PostgreSQL; on SQLite the write lock taken by BEGIN IMMEDIATE already does.
    session.scalar(select(Connection.id).where(Connection.id == conn.id).with_for_update())
    others = session.scalars(
        select(QbwcSession)
        .where(QbwcSession.connection_id == conn.id, QbwcSession.state == "active")
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    replaced = {other.id: abandoned_because(other, remote_addr, config, now) for other in others}
    if any(reason is None for reason in replaced.values()):
        log.info("connection %s is busy with another Web Connector session", conn.name)
        return AuthResult("", "busy", postpone_seconds=BUSY_POSTPONE_SECONDS)
    for other in others:
        # Its in-flight work goes back to the queue marked uncertain: the answer QuickBooks may have
        # given is found by a look-up before anything is added again.
        _end(session, other, "stale", now, replaced[other.id])

    qb = QbwcSession(
        connection_id=conn.id,
        ticket=secrets.token_urlsafe(32),
        state="active",
        started_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=config.ticket_ttl_seconds),
        remote_addr=(remote_addr or None) and remote_addr[:64],
    )
    session.add(qb)
    session.flush()
    # With nothing to do QBWC is told "none" and opens no session, unless it is time to see which company
    # file it has open (a file opened since is then refused and said before any order needs it).
    if not has_work(session, conn.id, now) and not company_files.check_due(session, conn, now):
        qb.state, qb.closed_at, qb.result = "closed", now, "No work"
        return AuthResult(qb.ticket, "none")
    return AuthResult(qb.ticket, "")


def abandoned_because(other: QbwcSession, remote_addr: str | None, config: Config,
                      now: datetime) -> str | None:
    """Why a live session may be ended for a new sign-in to the same connection, or None (then "busy").

    A Web Connector runs one session per application at a time, so one signing in again from the same
    address has lost its session (crashed, or restarted mid-way): waiting ``session_stale_seconds`` for it
    only delays the sync. Nor is a session alive that has been silent longer than the Web Connector waits
    for any answer (:data:`QBWC_CALL_TIMEOUT_SECONDS`). A second Web Connector elsewhere, while the
    session still talks, is told busy. (Two Web Connectors behind one NAT address look like one.)
    """
    silent = (now - other.last_seen_at).total_seconds()
    if silent > config.session_stale_seconds:
        minutes = max(1, int(silent // 60))
        return (f"qbsync: this session had no call for {minutes} minutes and was replaced by a new one; "
                "its unfinished work went back to the queue")
    address = (remote_addr or None) and remote_addr[:64]
    if address is not None and other.remote_addr == address:
        return (f"qbsync: the Web Connector at {address} signed in again, so this session (no call for "
                f"{int(silent)} s) had died and was replaced by a new one; its unfinished work went back "
                "to the queue")
    if silent > QBWC_CALL_TIMEOUT_SECONDS:
        return (f"qbsync: this session had no call for {int(silent)} s, longer than the Web Connector waits "
                "for an answer, and was replaced by a new one; its unfinished work went back to the queue")
    return None


def _record_failure(session: Session, username: str, remote_addr: str | None, now: datetime) -> None:
    session.add(AuthFailure(kind="qbwc", username=username[:255],
                            remote_addr=(remote_addr or None) and remote_addr[:64], at=now))
    lockout.failed(session, "qbwc", username, remote_addr or "", limit=LOCKOUT_FAILURES, now=now)


# --- calls with a ticket ---------------------------------------------------------------------------


def send_request_xml(
    session: Session,
    config: Config,
    ticket: str | None,
    hcp_response: str | None,
    company_file: str | None,
    country: str | None,
    major: int | None,
    minor: int | None,
    *,
    now: datetime | None = None,
) -> str:
    """The next qbXML document to send, or "" (the Web Connector then asks getLastError why)."""
    now = now or utcnow()
    qb, problem = _live(session, config, ticket, now)
    if qb is None or problem:
        return ""
    if company_file:
        qb.company_file = company_file
    wrong_file = company_files.check(qb.connection, company_file, now)
    if wrong_file:
        # Another company file: nothing is read from it or sent to it, and no link is used with it.
        log.warning("session %s: connection %s belongs to company file %r, the Web Connector opened %r; "
                    "session ended", qb.id, qb.connection.name, qb.connection.company_file, company_file)
        _end(session, qb, "failed", now, wrong_file)
        return ""
    if hcp_response and hcp_response.strip():
        _store_host_info(qb, hcp_response)
    if country:
        qb.country = country.strip()[:4]
    major, minor = major or 0, minor or 0
    qb.reported_version = f"{major}.{minor}"[:10]
    supported = [str(v) for v in (qb.host_info or {}).get("supported_qbxml_versions") or []]
    try:
        qb.qbxml_version = negotiate_version(major, minor, supported)
    except QbxmlVersionError as exc:  # QuickBooksTooOldError, or a version that makes no sense
        qb.last_error = f"qbsync: {exc}" + ("" if isinstance(exc, QuickBooksTooOldError) else
                                            "; nothing was sent")
        return ""
    document = next_request(session, qb, now)
    qb.last_error = None  # with nothing to send, getLastError then answers "no more work"
    return document or ""


def _store_host_info(qb: QbwcSession, hcp_response: str) -> None:
    try:
        host = parse_host_response(hcp_response)
    except (QbxmlError, ValueError) as exc:
        # QuickBooks POS sends a fixed sentence instead; the session goes on without host details.
        log.info("session %s: host/company response not usable: %s", qb.id, exc)
        return
    if not host:
        return
    qb.host_info = host
    country = host.get("country")
    if isinstance(country, str) and country:
        qb.country = country[:4]


def receive_response_xml(
    session: Session,
    config: Config,
    ticket: str | None,
    response: str | None,
    hresult: str | None,
    message: str | None,
    *,
    now: datetime | None = None,
) -> int:
    """Apply QuickBooks' answer; return percent done (0-100), or a negative number after an error."""
    now = now or utcnow()
    qb, problem = _live(session, config, ticket, now)
    if qb is None or problem:
        return TICKET_PROBLEM_RESULT
    response, hresult, message = response or "", (hresult or "").strip(), (message or "").strip()
    if hresult or (message and not response.strip()):
        log.warning("session %s: QuickBooks reported %s: %s", qb.id, hresult, message)
        if _hresult_value(hresult) == PARSE_ERROR_HRESULT:
            percent = handle_unparsed_batch(session, qb, hresult, message, now)
            return min(percent, 100)
        handle_qb_error(session, qb, hresult, message, now)
        qb.last_error = describe_qb_error(hresult, message)
        return QB_ERROR_RESULT
    percent = handle_response(session, qb, response, now)
    if percent < 0:
        qb.last_error = qb.last_error or "qbsync could not use QuickBooks' answer; the work will be retried"
        return percent
    return min(percent, 100)


def connection_error(
    session: Session,
    config: Config,
    ticket: str | None,
    hresult: str | None,
    message: str | None,
    *,
    now: datetime | None = None,
) -> str:
    """The Web Connector could not reach QuickBooks: end the session and give its work back ("done")."""
    now = now or utcnow()
    qb, problem = _live(session, config, ticket, now)
    if qb is None or problem:
        return "done"
    text = describe_qb_error((hresult or "").strip(), (message or "").strip(), connecting=True)
    log.warning("session %s: connection error: %s", qb.id, text)
    _end(session, qb, "failed", now, text)
    return "done"


def get_last_error(session: Session, config: Config, ticket: str | None, *,
                   now: datetime | None = None) -> str:
    """Why the last call answered "" or a negative number, or that there is no more work."""
    now = now or utcnow()
    qb, problem = _live(session, config, ticket, now)
    if qb is None or problem:
        return problem or UNKNOWN_TICKET
    if qb.last_error:
        return qb.last_error
    summary = _summary(session, qb)
    return "qbsync: no more work" + ("" if summary == "OK" else "; " + summary.removeprefix("qbsync: "))


def close_connection(session: Session, config: Config, ticket: str | None, *,
                     now: datetime | None = None) -> str:
    """End the session; work still in flight goes back to the queue. Returns the status line."""
    now = now or utcnow()
    qb, problem = _live(session, config, ticket, now)
    if qb is None:
        return problem or UNKNOWN_TICKET
    if problem:
        return qb.result if qb.state == "closed" and qb.result else problem
    result = qb.last_error or _summary(session, qb)
    _end(session, qb, "closed", now, qb.last_error, result=result)
    return result


def interactive_url() -> str:
    """qbsync never asks for interactive mode; an empty URL tells the Web Connector there is none."""
    return ""


# --- shared pieces ---------------------------------------------------------------------------------


def _live(session: Session, config: Config, ticket: str | None,
          now: datetime) -> tuple[QbwcSession | None, str | None]:
    """The session for ``ticket`` (locked), and why it cannot be used, if it cannot.

    A live session's last-seen and expiry times move forward with every call.
    """
    qb = (session.scalar(select(QbwcSession).where(QbwcSession.ticket == ticket[:64]).with_for_update())
          if ticket else None)
    if qb is None:
        return None, UNKNOWN_TICKET
    if qb.state == "active" and qb.expires_at < now:
        minutes = max(1, config.ticket_ttl_seconds // 60)
        _end(session, qb, "stale", now,
             f"qbsync: this session expired after {minutes} minutes without a call; the Web Connector "
             "will start a new session next time")
    if qb.state == "closed":
        return qb, CLOSED_TICKET
    if qb.state != "active":
        return qb, qb.last_error or ("qbsync: this session has ended; the Web Connector will start a new "
                                     "session next time")
    qb.last_seen_at = now
    qb.expires_at = now + timedelta(seconds=config.ticket_ttl_seconds)
    return qb, None


def _end(session: Session, qb: QbwcSession, state: str, now: datetime, reason: str | None,
         *, result: str | None = None) -> None:
    """Close ``qb`` in ``state``; whatever it still had in flight returns to the queue."""
    release_session(session, qb, reason or f"the Web Connector session ended ({state})", now)
    qb.state = state
    qb.closed_at = now
    if reason is not None:
        qb.last_error = reason
    qb.result = result if result is not None else reason


# Jobs that only read from QuickBooks (reference lists, stock): not "records synced".
READ_KINDS = (REFRESH_KIND, PULL_KIND)


def _summary(session: Session, qb: QbwcSession) -> str:
    """"OK", or e.g. "qbsync: 12 records synced, 1 needs attention, 5 reference lists read".

    Reading QuickBooks' reference lists and stock is not syncing a record, so it is said apart.
    """
    reads = dict(session.execute(
        select(QueueJob.kind, func.count(distinct(JobAttempt.job_id)))
        .join(Exchange, Exchange.id == JobAttempt.exchange_id)
        .join(QueueJob, QueueJob.id == JobAttempt.job_id)
        .where(Exchange.session_id == qb.id, JobAttempt.outcome == "done", QueueJob.kind.in_(READ_KINDS))
        .group_by(QueueJob.kind)
    ).all())
    lists_read, stock_reads = reads.get(REFRESH_KIND, 0), reads.get(PULL_KIND, 0)
    synced = max(0, (qb.jobs_done or 0) - lists_read - stock_reads)
    parked = session.scalar(
        select(func.count(distinct(JobAttempt.job_id)))
        .join(Exchange, Exchange.id == JobAttempt.exchange_id)
        .where(Exchange.session_id == qb.id, JobAttempt.outcome == "park")
    ) or 0
    parts = []
    if synced or parked:
        parts.append(f"{synced} record{'' if synced == 1 else 's'} synced")
    if parked:
        parts.append(f"{parked} need{'s' if parked == 1 else ''} attention")
    if lists_read:
        parts.append(f"{lists_read} reference list{'' if lists_read == 1 else 's'} read")
    if stock_reads:
        parts.append("stock read")
    return "qbsync: " + ", ".join(parts) if parts else "OK"


def describe_qb_error(hresult: str, message: str, *, connecting: bool = False) -> str:
    """A getLastError text for an error QuickBooks (or the Web Connector) reported, with a hint."""
    code = _hresult_value(hresult)
    hint = HRESULT_HINTS.get(code) if code is not None else None
    shown = f"0x{code:08X}" if code is not None else hresult
    what = "could not connect to QuickBooks" if connecting else "QuickBooks reported an error"
    text = f"qbsync: {what}"
    if shown:
        text += f" ({shown})"
    if message:
        text += f": {message}"
    if hint:
        text += f" — {hint}"
    elif not connecting:
        text += " — the work was put back in the queue and will be sent again"
    return text


def _hresult_value(hresult: str) -> int | None:
    """HRESULTs arrive as "0x80040400" or as a signed decimal; normalise to the unsigned value."""
    if not hresult:
        return None
    try:
        return int(hresult, 0) & 0xFFFFFFFF
    except ValueError:
        return None


def end_sessions_of(session: Session, connection_id: int, reason: str, *, now: datetime | None = None) -> int:
    """End every live session of a connection (its password changed, say); their work returns to the queue.

    The ended tickets then get ``reason`` from getLastError, and the next sign-in is not answered "busy".
    """
    now = now or utcnow()
    live = session.scalars(
        select(QbwcSession)
        .where(QbwcSession.connection_id == connection_id, QbwcSession.state == "active")
        .with_for_update()
    ).all()
    for qb in live:
        _end(session, qb, "failed", now, reason)
    return len(live)


def expire_stale(session: Session, config: Config, now: datetime | None = None) -> int:
    """Mark sessions without a call for ``session_stale_seconds`` stale; their work returns to the queue."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=config.session_stale_seconds)
    stale = session.scalars(
        select(QbwcSession)
        .where(QbwcSession.state == "active", QbwcSession.last_seen_at < cutoff)
        .with_for_update(skip_locked=True)
    ).all()
    for qb in stale:
        minutes = max(1, int((now - qb.last_seen_at).total_seconds() // 60))
        _end(session, qb, "stale", now,
             f"qbsync: this session had no call for {minutes} minutes and was ended; its unfinished work "
             "went back to the queue")
    if stale:
        log.info("ended %d stale Web Connector session(s)", len(stale))
    return len(stale)


def expire_stale_sessions(runtime: Runtime) -> int:
    """Scheduler task: end stale sessions in one transaction; returns how many were ended."""
    with runtime.db.transaction() as session:
        return expire_stale(session, runtime.config)
