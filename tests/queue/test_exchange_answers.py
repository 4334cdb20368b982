"""The answer side of a round trip (``exchange.handle_response``): each answer reaches its own job, in the
order the requests went out, whatever happened to the other jobs of the batch meanwhile."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from qbsync.qbxml.parse import parse_response
from qbsync.queue import exchange, jobs
from qbsync.simulator.company import QuickBooksCompany
from qbsync.storage.models import JobAttempt, QbwcSession, QueueJob, utcnow


@pytest.fixture
def conn_id(make_connection):
    return make_connection().id


def _open_session(runtime, conn_id: int) -> int:
    now = utcnow()
    with runtime.db.transaction() as session:
        qb = QbwcSession(connection_id=conn_id, ticket="t-answers", state="open", started_at=now,
                         last_seen_at=now, expires_at=now + timedelta(hours=1), qbxml_version="13.0")
        session.add(qb)
        session.flush()
        return qb.id


def _queue(runtime, conn_id: int, names: list[str]) -> list[int]:
    with runtime.db.transaction() as session:
        queued = [jobs.enqueue_qbxml(session, conn_id, f"<CustomerAddRq><CustomerAdd><Name>{name}</Name>"
                                     "</CustomerAdd></CustomerAddRq>", label=f"add {name}") for name in names]
        session.flush()
        return [job.id for job in queued]


def test_each_answer_reaches_its_own_job_and_a_job_deleted_meanwhile_is_left_out(runtime, conn_id):
    """The attempts of the exchange are read with their jobs: the answers land on the job each request
    came from (its status and message), in the order sent; a job deleted while its request was out
    has no job to apply its answer to, and the others are applied all the same."""
    company = QuickBooksCompany()
    ids = _queue(runtime, conn_id, ["Ann Lee", "Bo Ng", "Cy Oh", "Di Pu"])
    qb_id = _open_session(runtime, conn_id)
    with runtime.db.transaction() as session:
        sent = exchange.next_request(session, session.get(QbwcSession, qb_id))
    assert sent is not None and all(f"requestID=\"{job_id}.1\"" in sent for job_id in ids)
    # One name QuickBooks has by then: that add is refused (3100), so the answers differ per job.
    answer = company.process(sent.replace("<Name>Cy Oh</Name>", "<Name>Ann Lee</Name>"))
    statuses = {r.request_id: r.status_code for r in parse_response(answer)}
    assert statuses[f"{ids[2]}.1"] == 3100 and statuses[f"{ids[0]}.1"] == 0
    with runtime.db.transaction() as session:
        session.execute(delete(QueueJob).where(QueueJob.id == ids[1]))
    with runtime.db.transaction() as session:
        exchange.handle_response(session, session.get(QbwcSession, qb_id), answer)

    with runtime.db.transaction() as session:
        found = {job.id: job for job in session.scalars(select(QueueJob).where(QueueJob.id.in_(ids)))}
        attempts = session.execute(select(JobAttempt.request_id, JobAttempt.status_code, JobAttempt.outcome)
                                   .where(JobAttempt.request_id.in_([f"{i}.1" for i in ids]))
                                   .order_by(JobAttempt.id)).all()
    assert ids[1] not in found
    assert [(found[i].state, found[i].last_status_code) for i in (ids[0], ids[2], ids[3])] == [
        ("done", 0), ("parked", 3100), ("done", 0)]
    assert "3100" in (found[ids[2]].reason or "") and found[ids[2]].last_message
    assert attempts == [(f"{ids[0]}.1", 0, "done"), (f"{ids[1]}.1", 0, "ignored"),
                        (f"{ids[2]}.1", 3100, "park"), (f"{ids[3]}.1", 0, "done")]


def test_percent_done_weighs_the_jobs_done_in_the_session_against_those_ready_to_send(runtime, conn_id,
                                                                                     make_connection):
    """Ready: pending, not a background job, and due (no retry time, or one passed); not counted: a job
    whose retry time is still ahead, a background write-back, a waiting job, another connection's."""
    now = utcnow()
    second = make_connection("other").id
    qb_id = _open_session(runtime, conn_id)
    with runtime.db.transaction() as session:
        session.execute(delete(QueueJob))
        for connection, kind, state, not_before in [
                (conn_id, "order", "pending", None),
                (conn_id, "order", "pending", now - timedelta(minutes=1)),
                (conn_id, "order", "pending", now + timedelta(minutes=1)),
                (conn_id, "stock_writeback", "pending", None), (conn_id, "order", "waiting", None),
                (second, "order", "pending", None)]:
            session.add(QueueJob(connection_id=connection, kind=kind, state=state, not_before=not_before,
                                 payload={}))
        qb = session.get(QbwcSession, qb_id)
        qb.jobs_done = 1
        assert exchange.percent_done(session, qb, now) == 33  # 1 done, 2 ready
        assert exchange.percent_done(session, qb, now + timedelta(minutes=2)) == 25  # the third is due
        session.execute(delete(QueueJob).where(QueueJob.connection_id == conn_id, QueueJob.state == "pending",
                                               QueueJob.kind == "order"))
        assert exchange.percent_done(session, qb, now) == 100  # nothing ready: the session is done


def test_each_look_up_gets_its_part_of_its_own_shared_query_when_two_share_a_key_field():
    """Customers and items looked up by name in one round trip go out as two shared queries, both keyed by
    FullName: each job's answer is cut from its own query's answer (found: that record; not found: the
    answer to asking for one missing name), never from the other's."""
    from types import SimpleNamespace

    from qbsync.qbxml.render import build_message, render_request
    from qbsync.queue import lookups

    company = QuickBooksCompany()
    company.process(build_message([
        render_request("CustomerAdd", {"Name": "Doe, John"}, request_id="c"),
        render_request("ItemNonInventoryAdd", {"Name": "Gift wrap",
                                               "SalesOrPurchase": {"AccountRef": {"FullName": "Sales"}}},
                       request_id="i")]))
    asked = [("CustomerQuery", "Nobody"), ("ItemQuery", "Gift wrap"), ("CustomerQuery", "Doe, John"),
             ("ItemQuery", "Nothing")]
    qb_session = SimpleNamespace(id=1)
    attempts = []
    for n, (request_type, name) in enumerate(asked, start=1):
        fragment = render_request(request_type, {"FullName": name}, request_id=f"{n}.1")
        job = SimpleNamespace(state="in_flight", session_id=1, last_request_xml=fragment)
        attempts.append((exchange._Attempt(n, f"{n}.1", n, None, None, None, None), job))
    document = build_message(lookups.merge([job.last_request_xml for _, job in attempts]),
                             on_error="continueOnError")
    assert document.count("QueryRq requestID") == 2  # one shared query per kind
    parsed = parse_response(company.process(document))

    answers = exchange._answers_of(qb_session, SimpleNamespace(request_xml=document), parsed, attempts)
    found = {attempt.request_id: response for attempt, _, response, _ in answers}
    assert [r["FullName"] for r in found["2.1"].records] == ["Gift wrap"]
    assert found["2.1"].record_types == ["ItemNonInventoryRet"]
    assert [r["FullName"] for r in found["3.1"].records] == ["Doe, John"]
    assert found["3.1"].record_types == ["CustomerRet"]
    for missing in ("1.1", "4.1"):
        assert (found[missing].status_code, found[missing].records) == (500, [])
