"""Replay a real Web Connector log (QBWC 2.0.0.116 against QuickBooks Pro 2006, qbXML 5.0) byte for byte.

Only the ticket changes (ours replaces the logged one) and Content-Length follows from it. Every answer must
be a document/literal response that validates against the schema in Intuit's WSDL.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from qbsync.queue.jobs import enqueue_qbxml
from qbsync.storage.models import AuthFailure, QbwcSession, QueueJob
from tests.qwc.wire import TNS, body_child, official_schema

CAPTURE = Path("qbwc") / "captures" / "qbwc-2.0.0.116_php-soapserver_2008"
LOGGED_TICKETS = ("c94c84b3d59fe7a1603b765dd734e481", "ea0bf596246b623664adb465cc8662a2")
_HEADER = re.compile(r"(User-Agent|Content-Type|SOAPAction|Host|Content-Length|Expect|Connection): ")


def logged_headers(path: Path) -> dict[str, str]:
    """The logger folded each request's headers into one line; split it back into fields."""
    line = path.read_text().splitlines()[0]
    parts = _HEADER.split(line)[1:]
    headers = {name: value.strip() for name, value in zip(parts[::2], parts[1::2], strict=True)}
    headers.pop("Content-Length")  # recomputed: our ticket is longer than the logged one
    return headers


@pytest.fixture
def capture_dir(reference_dir: Path) -> Path:
    return reference_dir / CAPTURE


def test_replaying_the_real_log_gets_wsdl_valid_answers(live_server, runtime, make_quiet_connection,
                                                       capture_dir, reference_dir):
    schema = official_schema(reference_dir)
    conn = make_quiet_connection("capture", qbwc_username="api", qbwc_password="password")
    with runtime.db.transaction() as session:
        job_id = enqueue_qbxml(session, conn.id, "<CustomerQueryRq><FullName>Keith Palmer</FullName>"
                               "</CustomerQueryRq>", label="replay").id

    requests = sorted(capture_dir.glob("*.request.xml"))
    assert len(requests) == 14
    tickets: dict[str, str] = {}
    answers: dict[str, str] = {}
    for request in requests:
        step = request.name.split(".")[0]  # e.g. "04_sendRequestXML"
        operation = step.split("_", 1)[1]
        body = request.read_bytes()
        for logged, ours in tickets.items():
            body = body.replace(logged.encode(), ours.encode())
        headers = logged_headers(capture_dir / f"{step}.request-headers.txt")
        assert headers["SOAPAction"] == f'"{TNS}{operation}"'
        response = httpx.post(f"{live_server.url}/qbwc", content=body, headers=headers, timeout=30)

        assert response.status_code == 200, (step, response.text)
        assert response.headers["content-type"].startswith("text/xml")
        child = body_child(response.content)
        assert child.tag == f"{{{TNS}}}{operation}Response"
        assert schema.validate(child), (step, schema.error_log.last_error)
        result = child.find(f"{{{TNS}}}{operation}Result")
        if operation == "authenticate":
            ticket, status = [s.text or "" for s in result.findall(f"{{{TNS}}}string")][:2]
            assert ticket and status == ""  # work is queued: use the open company file
            tickets[LOGGED_TICKETS[len(tickets)]] = ticket
        answers[step] = "".join(result.itertext()) if result is not None else ""

    assert answers["01_serverVersion"].startswith("qbsync ")
    assert answers["02_clientVersion"] == ""
    # QuickBooks Pro 2006 speaks qbXML 5.0: nothing is sent, getLastError says why, closeConnection too.
    assert answers["04_sendRequestXML"] == answers["10_sendRequestXML"] == answers["12_sendRequestXML"] == ""
    with runtime.db.transaction() as session:
        first, second = session.scalars(select(QbwcSession).order_by(QbwcSession.id)).all()
        job = session.get(QueueJob, job_id)
        failures = session.scalars(select(AuthFailure)).all()
    too_old = first.last_error
    assert too_old and "5.0" in too_old and "QuickBooks" in too_old
    assert answers["05_getLastError"] == answers["13_getLastError"] == too_old
    assert answers["06_closeConnection"] == answers["14_closeConnection"] == too_old
    # The logged receiveResponseXML answers a request we never sent: refused, not applied.
    assert int(answers["11_receiveResponseXML"]) < 0
    assert (first.state, second.state) == ("closed", "closed")
    assert (first.reported_version, first.company_file) == ("5.0", r"C:\KPALMER\QBW\Test Company.QBW")
    assert first.country == "US"
    # Nothing was lost: the queued job never went out and still waits for a newer QuickBooks.
    assert (job.state, job.attempts) == ("pending", 0)
    assert failures == []
