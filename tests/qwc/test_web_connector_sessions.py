"""Whole Web Connector sessions over real HTTP, driven by a client built from Intuit's WSDL file."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select

from qbsync.queue.jobs import enqueue_qbxml
from qbsync.qwc.sessions import BUSY_POSTPONE_SECONDS, QBWC_CALL_TIMEOUT_SECONDS, UNKNOWN_TICKET
from qbsync.storage.models import AuthFailure, QbwcSession, QueueJob, utcnow
from tests.qwc.wire import MODERN_VERSIONS, WebConnector, host_response

PASSWORD = "correct horse battery"
QUERY = "<CustomerQueryRq><FullName>Keith Palmer</FullName></CustomerQueryRq>"


@pytest.fixture
def qbwc(live_server, reference_dir) -> Iterator[WebConnector]:
    connector = WebConnector(reference_dir, live_server.url)
    yield connector
    connector.disconnect()


@pytest.fixture
def shop(make_quiet_connection):
    return make_quiet_connection("shop")


def queue_query(runtime, conn) -> int:
    with runtime.db.transaction() as session:
        return enqueue_qbxml(session, conn.id, QUERY, label="Keith Palmer").id


def sent_request_id(document: str) -> str:
    root = etree.fromstring(re.sub(r"^<\?xml[^>]*\?>", "", document.lstrip()).encode())
    request = root.find("QBXMLMsgsRq/CustomerQueryRq")
    assert request is not None and request.findtext("FullName") == "Keith Palmer"
    return request.get("requestID")


def customer_answer(reference_dir: Path, request_id: str) -> str:
    sample = (reference_dir / "qbxml/samples/qbwc-qbxml-gem/responses/customer_query_rs.xml").read_text()
    return sample.replace('requestID="Q3VzdG9tZXJRdWVyeXwyODk2"', f'requestID="{request_id}"')


def rows(runtime, model, *where):
    with runtime.db.transaction() as session:
        return session.scalars(select(model).where(*where).order_by(model.id)).all()


def job(runtime, job_id: int) -> QueueJob:
    with runtime.db.transaction() as session:
        return session.get(QueueJob, job_id)


def qb_session(runtime, ticket: str) -> QbwcSession:
    return rows(runtime, QbwcSession, QbwcSession.ticket == ticket)[0]


def age_session(runtime, ticket: str, **fields) -> None:
    with runtime.db.transaction() as session:
        record = session.scalar(select(QbwcSession).where(QbwcSession.ticket == ticket))
        for name, value in fields.items():
            setattr(record, name, value)


def test_no_work_answers_none_and_closes_the_session(qbwc, shop, runtime):
    assert qbwc.service.serverVersion().startswith("qbsync ")
    assert not qbwc.service.clientVersion(strVersion="2.3.0.215")
    ticket, status = qbwc.authenticate("shop-qbwc", PASSWORD)
    assert ticket and status == "none"
    record = qb_session(runtime, ticket)
    assert (record.state, record.result) == ("closed", "No work")


def test_queued_request_goes_out_and_its_answer_completes_the_job(qbwc, shop, runtime, reference_dir):
    job_id = queue_query(runtime, shop)
    ticket, status = qbwc.authenticate("shop-qbwc", PASSWORD)
    assert status == ""

    document = qbwc.send_request(ticket, hcp=host_response(MODERN_VERSIONS), major=16, minor=0)
    assert re.search(r'<\?qbxml version="\d+\.\d+"\?>', document)
    request_id = sent_request_id(document)
    assert job(runtime, job_id).state == "in_flight"

    assert qbwc.receive_response(ticket, customer_answer(reference_dir, request_id)) == 100
    assert qbwc.close(ticket) == "qbsync: 1 record synced"

    done = job(runtime, job_id)
    assert (done.state, done.needs_lookup) == ("done", False)
    record = qb_session(runtime, ticket)
    assert record.state == "closed" and record.closed_at is not None
    assert record.reported_version == "16.0" and record.qbxml_version
    assert record.host_info and record.company_file.endswith("Shop.qbw")
    # A closed ticket is not reused.
    assert qbwc.send_request(ticket) == ""
    assert "closed" in qbwc.last_error(ticket)


def test_wrong_password_or_user_is_nvu_and_recorded(qbwc, shop, runtime):
    assert qbwc.authenticate("shop-qbwc", "not the password") == ["", "nvu"]
    assert qbwc.authenticate("nobody", PASSWORD) == ["", "nvu"]
    failures = rows(runtime, AuthFailure)
    assert [(f.kind, f.username) for f in failures] == [("qbwc", "shop-qbwc"), ("qbwc", "nobody")]
    assert failures[0].remote_addr == "127.0.0.1"
    assert rows(runtime, QbwcSession) == []


@pytest.fixture
def elsewhere(live_server, reference_dir) -> Iterator[Callable[[int], WebConnector]]:
    """Web Connectors on other machines: ``elsewhere(2)`` calls from 127.0.0.2."""
    made: list[WebConnector] = []

    def factory(host: int) -> WebConnector:
        made.append(WebConnector(reference_dir, live_server.url, source_address=f"127.0.0.{host}"))
        return made[-1]

    yield factory
    for connector in made:
        connector.disconnect()


def test_second_sign_in_from_another_address_while_a_session_is_live_is_busy(qbwc, elsewhere, shop,
                                                                              runtime):
    queue_query(runtime, shop)
    first, status = qbwc.authenticate("shop-qbwc", PASSWORD)
    assert status == ""
    assert elsewhere(2).authenticate("shop-qbwc", PASSWORD) == ["", "busy", str(BUSY_POSTPONE_SECONDS)]
    assert [s.ticket for s in rows(runtime, QbwcSession)] == [first]
    assert qb_session(runtime, first).state == "active"


def test_the_same_web_connector_signing_in_again_replaces_its_dead_session_at_once(qbwc, shop, runtime):
    job_id = queue_query(runtime, shop)
    first, _ = qbwc.authenticate("shop-qbwc", PASSWORD)
    sent_request_id(qbwc.send_request(first, hcp=host_response(MODERN_VERSIONS)))
    # The Web Connector dies before it answers, is restarted and signs in again from the same address.
    second, status = qbwc.authenticate("shop-qbwc", PASSWORD)

    assert second and second != first and status == ""
    assert qb_session(runtime, first).state == "stale"
    returned = job(runtime, job_id)
    assert (returned.state, returned.needs_lookup) == ("pending", True)  # looked up before it is sent again
    assert "signed in again" in qbwc.last_error(first)
    assert "<CustomerQueryRq" in qbwc.send_request(second, hcp=host_response(MODERN_VERSIONS))


def test_a_session_silent_longer_than_the_web_connector_waits_is_replaced_from_anywhere(
        qbwc, elsewhere, shop, runtime):
    queue_query(runtime, shop)
    first, _ = qbwc.authenticate("shop-qbwc", PASSWORD)
    age_session(runtime, first, last_seen_at=utcnow() - timedelta(seconds=QBWC_CALL_TIMEOUT_SECONDS - 20))
    assert elsewhere(2).authenticate("shop-qbwc", PASSWORD)[1] == "busy"
    age_session(runtime, first, last_seen_at=utcnow() - timedelta(seconds=QBWC_CALL_TIMEOUT_SECONDS + 1))
    second, status = elsewhere(2).authenticate("shop-qbwc", PASSWORD)
    assert second and status == ""
    assert qb_session(runtime, first).state == "stale"
    assert "longer than the Web Connector waits" in qbwc.last_error(first)


def test_concurrent_sign_ins_open_exactly_one_session(elsewhere, shop, runtime):
    queue_query(runtime, shop)
    answers: list[list[str]] = []
    connectors = [elsewhere(host) for host in (2, 3, 4)]
    threads = [threading.Thread(target=lambda c=c: answers.append(c.authenticate("shop-qbwc", PASSWORD)))
               for c in connectors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(a[1] for a in answers) == ["", "busy", "busy"]
    assert len(rows(runtime, QbwcSession, QbwcSession.state == "active")) == 1


def test_stale_session_is_taken_over_and_its_work_returns_to_the_queue(qbwc, shop, runtime, config):
    job_id = queue_query(runtime, shop)
    first, _ = qbwc.authenticate("shop-qbwc", PASSWORD)
    sent_request_id(qbwc.send_request(first, hcp=host_response(MODERN_VERSIONS)))
    assert job(runtime, job_id).state == "in_flight"

    age_session(runtime, first, last_seen_at=utcnow() - timedelta(seconds=config.session_stale_seconds + 60))
    second, status = qbwc.authenticate("shop-qbwc", PASSWORD)
    assert second and second != first and status == ""

    returned = job(runtime, job_id)
    assert (returned.state, returned.needs_lookup, returned.session_id) == ("pending", True, None)
    assert qb_session(runtime, first).state == "stale"
    # The old Web Connector comes back late: its answer is refused and getLastError says why.
    assert qbwc.receive_response(first, "<QBXML/>") == -101
    assert "replaced" in qbwc.last_error(first)
    assert job(runtime, job_id).state == "pending"


def test_quickbooks_error_returns_the_work_and_explains(qbwc, shop, runtime):
    job_id = queue_query(runtime, shop)
    ticket, _ = qbwc.authenticate("shop-qbwc", PASSWORD)
    sent_request_id(qbwc.send_request(ticket, hcp=host_response(MODERN_VERSIONS)))

    message = "Could not access QuickBooks."
    assert qbwc.receive_response(ticket, "", "0x80040401", message) < 0
    text = qbwc.last_error(ticket)
    assert "0x80040401" in text and message in text and "make sure QuickBooks is running" in text
    back = job(runtime, job_id)
    assert (back.state, back.needs_lookup) == ("pending", True)
    assert qbwc.close(ticket) == text
    assert qb_session(runtime, ticket).state == "closed"


def test_a_request_quickbooks_cannot_parse_on_its_own_is_parked_and_the_session_goes_on(qbwc, shop, runtime):
    job_id = queue_query(runtime, shop)
    ticket, _ = qbwc.authenticate("shop-qbwc", PASSWORD)
    sent_request_id(qbwc.send_request(ticket, hcp=host_response(MODERN_VERSIONS)))

    message = "QuickBooks found an error when parsing the provided XML text stream."
    assert qbwc.receive_response(ticket, "", "0x80040400", message) == 100  # nothing else to send
    parked = job(runtime, job_id)
    assert parked.state == "parked"
    assert "0x80040400" in parked.reason and message in parked.reason
    assert "Keith Palmer" in parked.last_request_xml
    assert not parked.needs_lookup  # QuickBooks parsed nothing, so it did nothing
    assert qbwc.close(ticket) == "qbsync: 0 records synced, 1 needs attention"


def test_connection_error_ends_the_session_with_a_hint(qbwc, shop, runtime):
    queue_query(runtime, shop)
    ticket, _ = qbwc.authenticate("shop-qbwc", PASSWORD)
    assert qbwc.connection_error(ticket, "0x80040408", "Could not start QuickBooks.") == "done"
    record = qb_session(runtime, ticket)
    assert record.state == "failed"
    assert "Could not start QuickBooks." in record.last_error and "0x80040408" in record.last_error
    # The connection is free again at once.
    assert qbwc.authenticate("shop-qbwc", PASSWORD)[1] == ""


def test_unknown_ticket_gets_clear_answers_never_a_fault(qbwc, shop):
    assert qbwc.send_request("no-such-ticket") == ""
    assert qbwc.receive_response("no-such-ticket", "<QBXML/>") == -101
    assert qbwc.last_error("no-such-ticket") == UNKNOWN_TICKET
    assert qbwc.close("no-such-ticket") == UNKNOWN_TICKET
    assert qbwc.connection_error("no-such-ticket", "0x80040408", "x") == "done"
    assert qbwc.last_error("") == UNKNOWN_TICKET


def test_expired_ticket_is_refused_and_its_work_returns(qbwc, shop, runtime):
    job_id = queue_query(runtime, shop)
    ticket, _ = qbwc.authenticate("shop-qbwc", PASSWORD)
    sent_request_id(qbwc.send_request(ticket, hcp=host_response(MODERN_VERSIONS)))
    age_session(runtime, ticket, expires_at=utcnow() - timedelta(seconds=1))

    assert qbwc.receive_response(ticket, "<QBXML/>") == -101
    assert "expired" in qbwc.last_error(ticket)
    assert qb_session(runtime, ticket).state == "stale"
    assert job(runtime, job_id).state == "pending"
    assert "expired" in qbwc.close(ticket)


def test_quickbooks_too_old_sends_nothing_and_says_why(qbwc, shop, runtime):
    job_id = queue_query(runtime, shop)
    ticket, _ = qbwc.authenticate("shop-qbwc", PASSWORD)
    assert qbwc.send_request(ticket, hcp=host_response(["1.0", "2.0", "3.0", "4.0", "5.0"]), major=5,
                             minor=0) == ""
    text = qbwc.last_error(ticket)
    assert "5.0" in text and text == qb_session(runtime, ticket).last_error
    assert qbwc.close(ticket) == text
    untouched = job(runtime, job_id)
    assert (untouched.state, untouched.attempts) == ("pending", 0)
