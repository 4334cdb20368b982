"""The queue page: list and filters, job detail with qbXML preview and last answer, (bulk) actions."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from qbsync.qbxml.render import build_message, render_request
from qbsync.queue import handlers, jobs
from qbsync.storage.models import IdMapping, JobDependency, QueueJob
from tests.pages.conftest import flashes, post, text_of


def _state(runtime, job_id):
    with runtime.db.transaction() as session:
        return session.get(QueueJob, job_id).state


def test_the_list_shows_unfinished_jobs_and_filters_by_state_kind_and_text(signed_in, conn, add_job):
    add_job(conn.id, label="Order #1001", state="pending")
    add_job(conn.id, label="Order #1002", state="parked", reason="QuickBooks said 3140")
    add_job(conn.id, kind="customer", record_type="customer", record_id="77", label="Jane Doe", state="held")
    add_job(conn.id, label="Order #1003", state="done")

    page = text_of(signed_in.get("/queue"))
    assert "Order #1001" in page and "Order #1002" in page and "Jane Doe" in page
    assert "Order #1003" not in page  # done jobs only when asked for
    assert "Order #1003" in text_of(signed_in.get("/queue?state=done"))
    parked = text_of(signed_in.get("/queue?state=parked"))
    assert "Order #1002" in parked and "Order #1001" not in parked
    customers = text_of(signed_in.get("/queue?kind=customer"))
    assert "Jane Doe" in customers and "Order #1001" not in customers
    found = text_of(signed_in.get("/queue?q=3140"))  # the reason is searchable too
    assert "Order #1002" in found and "Order #1001" not in found
    assert "Jane Doe" in text_of(signed_in.get("/queue?q=77&connection=shop"))


def test_the_list_is_paginated(signed_in, conn, add_job):
    for n in range(55):
        add_job(conn.id, label=f"Order #{5000 + n}", record_id=str(5000 + n))
    first = text_of(signed_in.get("/queue"))
    assert "55 jobs" in first and "Order #5000" in first and "Order #5054" not in first
    assert "Page 1 of 2" in first
    second = text_of(signed_in.get("/queue?page=2"))
    assert "Order #5054" in second and "Order #5000" not in second


def test_a_job_page_shows_record_dependencies_attempts_and_the_explained_answer(
        signed_in, conn, add_job, add_session, add_exchange, runtime):
    customer = add_job(
        conn.id, kind="customer", record_type="customer", label="Jane Doe", state="parked", attempts=1,
        last_status_code=3100, last_message='The name "Jane Doe" of the list element is already in use.',
        last_request_xml='<CustomerAddRq requestID="9.1"><CustomerAdd><Name>Jane Doe</Name></CustomerAdd>'
                         "</CustomerAddRq>")
    order = add_job(conn.id, label="Order #1001", state="waiting",
                    payload={"number": "1001", "total": "19.99"})
    with runtime.db.transaction() as session:
        session.add(JobDependency(job_id=order.id, depends_on_id=customer.id))
    add_exchange(add_session(conn.id), customer, request_xml="<x/>", response_xml=None, status_code=3100,
                 severity="Error", message="already in use", request_type="CustomerAddRq")

    page = text_of(signed_in.get(f"/queue/{customer.id}"))
    assert "Status 3100" in page and "Name already in use" in page  # qbsync.qbxml.status.explain
    # The "Last answer from QuickBooks" card explains the code in plain words and says what to do.
    last_answer = page.split("Last answer from QuickBooks", 1)[1]
    assert "3100 · Name already in use" in last_answer
    assert "What to do: Map the store record to the existing QuickBooks record" in last_answer
    assert f"#{order.id} Order #1001" in page  # waiting on this job
    assert f"CustomerAddRq · {customer.id}.1 3100 Name already in use already in use park" in page
    assert "<Name>Jane Doe</Name>" in page  # the last qbXML sent

    order_page = signed_in.get(f"/queue/{order.id}").get_data(as_text=True)
    pretty_json = '{\n  &#34;number&#34;: &#34;1001&#34;,\n  &#34;total&#34;: &#34;19.99&#34;\n}'
    assert pretty_json in order_page
    assert f"#{customer.id} Jane Doe" in text_of(signed_in.get(f"/queue/{order.id}"))


def test_a_pending_job_shows_the_exact_qbxml_it_will_send(signed_in, conn, runtime):
    with runtime.db.transaction() as session:
        job = jobs.enqueue_qbxml(session, conn.id, "<CustomerQueryRq><FullName>Jane Doe</FullName>"
                                 "</CustomerQueryRq>", label="look up Jane")
    body = signed_in.get(f"/queue/{job.id}").get_data(as_text=True)
    assert "What it will send next" in body
    assert f'&lt;CustomerQueryRq requestID=&#34;{job.id}.1&#34;&gt;' in body
    assert "&lt;?qbxml version=&#34;13.0&#34;?&gt;" in body
    assert "&lt;QBXMLMsgsRq onError=&#34;continueOnError&#34;&gt;" in body


def test_the_preview_changes_nothing(signed_in, conn, runtime, monkeypatch):
    class QueuesAnotherJob:
        kind = "test_preview_writer"

        def build(self, ctx, job):
            jobs.enqueue(ctx.session, job.connection_id, "customer", {}, label="made while building")
            job.state = "in_flight"
            return handlers.Reject("this test handler never sends")

        def apply(self, ctx, job, response):  # pragma: no cover - never sent
            raise AssertionError

    handlers.handler_for("qbxml")  # load the built-in handlers first
    monkeypatch.setitem(handlers.HANDLERS, "test_preview_writer", QueuesAnotherJob())
    with runtime.db.transaction() as session:
        job = jobs.enqueue(session, conn.id, "test_preview_writer", {}, label="writer")
    page = text_of(signed_in.get(f"/queue/{job.id}"))
    assert "it cannot be sent: this test handler never sends" in page
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(QueueJob)) == 1
        assert session.get(QueueJob, job.id).state == "pending"


@pytest.mark.parametrize(
    ("start", "action", "end", "message"),
    [
        ("parked", "retry", "pending", "queued to retry now"),
        ("pending", "hold", "held", "held"),
        ("held", "release", "pending", "released"),
        ("parked", "remove", "cancelled", "removed from the queue"),
    ],
)
def test_each_action_changes_the_job(signed_in, conn, add_job, runtime, start, action, end, message):
    job = add_job(conn.id, state=start)
    response = post(signed_in, f"/queue/{job.id}/{action}")
    assert response.headers["Location"] == f"/queue/{job.id}"
    assert _state(runtime, job.id) == end
    assert flashes(signed_in)[-1] == ("ok", f"Job #{job.id} {message}.")


def test_an_action_that_does_not_fit_shows_why(signed_in, conn, add_job, runtime):
    job = add_job(conn.id, state="in_flight")
    post(signed_in, f"/queue/{job.id}/retry")
    assert _state(runtime, job.id) == "in_flight"
    assert flashes(signed_in)[-1] == (
        "error",
        f"Could not do that: job #{job.id} is in_flight; only queued, parked or held jobs can be retried.")
    page = text_of(signed_in.get(f"/queue/{job.id}"))
    assert "only queued, parked or held jobs can be retried" in page  # shown on the page


def test_bulk_actions_apply_to_every_ticked_job(signed_in, conn, add_job, runtime):
    first, second = add_job(conn.id, state="parked"), add_job(conn.id, state="parked")
    busy = add_job(conn.id, state="in_flight")
    untouched = add_job(conn.id, state="parked")
    response = post(signed_in, "/queue/bulk", {"action": "retry", "job_id": [first.id, second.id, busy.id],
                                               "next": "/queue?state=parked"})
    assert response.headers["Location"] == "/queue?state=parked"
    assert [_state(runtime, j.id) for j in (first, second, busy, untouched)] == [
        "pending", "pending", "in_flight", "parked"]
    messages = flashes(signed_in)
    assert ("ok", "2 jobs queued to retry now.") in messages
    assert any(c == "error" and f"job #{busy.id} is in_flight" in m for c, m in messages)
    post(signed_in, "/queue/bulk", {"action": "remove", "job_id": [first.id, untouched.id]})
    assert _state(runtime, first.id) == _state(runtime, untouched.id) == "cancelled"


def test_bulk_without_ticks_or_action_says_so(signed_in, conn):
    post(signed_in, "/queue/bulk", {"action": "retry"})
    assert flashes(signed_in)[-1] == ("error", "Tick at least one job first.")
    post(signed_in, "/queue/bulk", {"job_id": "1"})
    assert flashes(signed_in)[-1] == ("error", "Choose what to do with the ticked jobs.")


def test_absurd_numbers_in_the_address_and_search_are_handled(signed_in, conn, add_job, runtime):
    add_job(conn.id, label="Order #7001")
    huge = "9" * 30  # beyond any database integer
    assert signed_in.get(f"/queue/{huge}").status_code == 404
    assert post(signed_in, f"/queue/{huge}/hold").status_code == 404
    last_page = signed_in.get(f"/queue?page={huge}", follow_redirects=True)  # past the end: the last page
    assert last_page.status_code == 200 and "Order #7001" in text_of(last_page)
    for text in (huge, "#" + huge, "\u00b2"):  # "²" is a digit to str.isdigit but not to int()
        searched = signed_in.get("/queue", query_string={"q": text})
        assert searched.status_code == 200 and "Order #7001" not in text_of(searched)
    odd = add_job(conn.id, state="parked")
    post(signed_in, "/queue/bulk", {"action": "hold", "job_id": [huge, "\u00b2", str(odd.id)]})
    assert _state(runtime, odd.id) == "held"


def test_unknown_jobs_and_actions_are_404(signed_in, conn, add_job):
    assert signed_in.get("/queue/999999").status_code == 404
    job = add_job(conn.id)
    assert post(signed_in, f"/queue/{job.id}/explode").status_code == 404


def test_retry_on_a_job_waiting_behind_a_parked_one_says_what_it_still_waits_on(
        signed_in, conn, add_job, runtime):
    item = add_job(conn.id, kind="item", label="Item WIDGET-1", state="parked")
    customer = add_job(conn.id, kind="customer", label="Jane Doe", state="waiting")
    order = add_job(conn.id, label="Order #1001", state="waiting")
    with runtime.db.transaction() as session:
        session.add(JobDependency(job_id=customer.id, depends_on_id=item.id))
        session.add(JobDependency(job_id=order.id, depends_on_id=customer.id))
    post(signed_in, f"/queue/{order.id}/retry")
    assert _state(runtime, order.id) == "waiting"
    assert flashes(signed_in)[-1] == (
        "error", f"Job #{order.id} cannot go yet: it waits on parked job #{item.id} (Item WIDGET-1); "
                 "fix, retry or release that job first.")
    post(signed_in, f"/queue/{item.id}/retry")  # the job at the root really is queued again
    assert flashes(signed_in)[-1] == ("ok", f"Job #{item.id} queued to retry now.")


def test_a_page_past_the_end_shows_the_last_page(signed_in, conn, add_job):
    for n in range(55):
        add_job(conn.id, label=f"Order #{5000 + n}", record_id=str(5000 + n))
    response = signed_in.get("/queue?state=open&page=6")
    assert response.status_code == 302 and response.headers["Location"] == "/queue?state=open&page=2"
    page = text_of(signed_in.get(response.headers["Location"]))
    assert "Page 2 of 2" in page and "Order #5054" in page
    log_page = signed_in.get("/log?page=9")  # the log has one (empty) page
    assert log_page.status_code == 302 and log_page.headers["Location"] == "/log"


def test_search_finds_accented_names_in_any_case_e_mail_addresses_and_quickbooks_names(
        signed_in, conn, add_job, runtime):
    add_job(conn.id, kind="customer", record_type="customer", record_id="41", label="Émile Zola",
            payload={"email": "emile@example.com"})
    add_job(conn.id, kind="order", record_type="order", record_id="901", label="Order #1901",
            payload={"number": "1901", "email": "jane.roe@example.org"})
    add_job(conn.id, kind="customer", record_type="customer", record_id="42", label="John Smith", payload={})
    with runtime.db.transaction() as session:
        session.add(IdMapping(connection_id=conn.id, record_type="customer", storefront_id="42",
                              qb_type="Customer", qb_id="80000042-1", qb_name="Smith, John (Wholesale)"))
    assert "Émile Zola" in text_of(signed_in.get("/queue", query_string={"q": "émile"}))
    assert "Émile Zola" in text_of(signed_in.get("/queue", query_string={"q": "ÉMILE"}))
    by_mail = text_of(signed_in.get("/queue", query_string={"q": "JANE.ROE@example"}))
    assert "Order #1901" in by_mail and "Émile Zola" not in by_mail
    by_qb_name = text_of(signed_in.get("/queue", query_string={"q": "(wholesale)"}))
    assert "John Smith" in by_qb_name and "Order #1901" not in by_qb_name


def test_bulk_actions_can_act_on_all_matching_jobs_not_only_the_page(signed_in, conn, add_job, runtime):
    parked = [add_job(conn.id, label=f"Order #{6000 + n}", state="parked") for n in range(55)]
    pending = add_job(conn.id, label="Order #7000", state="pending")
    page = text_of(signed_in.get("/queue?state=parked"))
    assert "all 55 matching" in page and "Page 1 of 2" in page
    post(signed_in, "/queue/bulk", {"action": "hold", "all_matching": "1", "state": "parked",
                                    "next": "/queue?state=parked"})
    assert {_state(runtime, job.id) for job in parked} == {"held"}
    assert _state(runtime, pending.id) == "pending"  # outside the filter: untouched
    assert ("ok", "55 jobs held.") in flashes(signed_in)


def test_remove_warns_about_the_jobs_that_wait_on_it(signed_in, conn, add_job, runtime):
    customer = add_job(conn.id, kind="customer", label="Jane Doe", state="parked")
    order = add_job(conn.id, label="Order #1001", state="waiting")
    with runtime.db.transaction() as session:
        session.add(JobDependency(job_id=order.id, depends_on_id=customer.id))
    body = signed_in.get(f"/queue/{customer.id}").get_data(as_text=True)
    assert (f"1 job waits on it and will go ahead without it: #{order.id} Order #1001." in body)


def test_a_job_page_shows_quickbooks_own_answer_to_its_request(signed_in, conn, runtime, add_session):
    """The "Last answer from QuickBooks" card shows the answer to the job's own request as QuickBooks sent
    it, also for a look-up that went out in one query shared with other jobs' (before, the card showed
    the status and nothing of the answer)."""
    from qbsync.queue import exchange
    from qbsync.simulator.company import QuickBooksCompany
    from qbsync.storage.models import QbwcSession

    company = QuickBooksCompany()
    company.process(build_message([render_request("CustomerAdd", {"Name": "Jane Doe"}, request_id="1")]))
    company.process(build_message([render_request("CustomerAdd", {"Name": "Ann Lee"}, request_id="2")]))
    with runtime.db.transaction() as session:
        add = jobs.enqueue_qbxml(session, conn.id, "<CustomerAddRq><CustomerAdd><Name>Jane Doe</Name>"
                                 "</CustomerAdd></CustomerAddRq>", label="add Jane")
        looks = [jobs.enqueue_qbxml(session, conn.id, f"<CustomerQueryRq><FullName>{name}</FullName>"
                                    "</CustomerQueryRq>", label=f"look up {name}")
                 for name in ("Ann Lee", "Bo Ng")]
    qb = add_session(conn.id, state="open", minutes_ago=0)
    with runtime.db.transaction() as session:
        sent = exchange.next_request(session, session.get(QbwcSession, qb.id))
    assert sent is not None and "<FullName>Ann Lee</FullName><FullName>Bo Ng</FullName>" in sent  # shared
    with runtime.db.transaction() as session:
        exchange.handle_response(session, session.get(QbwcSession, qb.id), company.process(sent))

    refused = text_of(signed_in.get(f"/queue/{add.id}")).split("Last answer from QuickBooks", 1)[1]
    assert "Status 3100" in refused
    assert f'<CustomerAddRs requestID="{add.id}.1" statusCode="3100"' in refused
    assert "Jane Doe" in refused and "<CustomerQueryRs" not in refused  # its own answer, no other
    found = text_of(signed_in.get(f"/queue/{looks[0].id}")).split("Last answer from QuickBooks", 1)[1]
    assert "<CustomerQueryRs" in found and "<FullName>Ann Lee</FullName>" in found
    assert "<CustomerAddRs" not in found and "Jane Doe" not in found  # nor the customer list's answer
