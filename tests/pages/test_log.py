"""The log: sessions and request/response pairs, searchable, qbXML pretty-printed with credentials masked."""

from __future__ import annotations

import re
from datetime import timedelta

from qbsync.storage.models import utcnow
from tests.pages.conftest import CONSUMER_KEY, WEBHOOK_SECRET, text_of

REQUEST = ('<?xml version="1.0" encoding="utf-8"?><?qbxml version="13.0"?><QBXML><QBXMLMsgsRq onError='
           '"continueOnError"><InvoiceAddRq requestID="1.1"><InvoiceAdd><CustomerRef><FullName>Jane Doe'
           '</FullName></CustomerRef><RefNumber>1001</RefNumber><Memo>key ' + CONSUMER_KEY + '</Memo>'
           '</InvoiceAdd></InvoiceAddRq></QBXMLMsgsRq></QBXML>')
RESPONSE = ('<?xml version="1.0" ?><QBXML><QBXMLMsgsRs><InvoiceAddRs requestID="1.1" statusCode="3140" '
            'statusSeverity="Error" statusMessage="There is an invalid reference to QuickBooks Customer '
            '&quot;Jane Doe&quot; in the Invoice."/></QBXMLMsgsRs></QBXML>')


def _log_rows(runtime, conn, add_job, add_session, add_exchange):
    now = utcnow()
    qb_session = add_session(conn.id, client_version="2.3.0.30", company_file=r"C:\Books\shop.qbw")
    order = add_job(conn.id, label="Order #1001", record_id="501", state="parked")
    customer = add_job(conn.id, kind="customer", record_type="customer", record_id="77", label="Jane Doe",
                       state="done")
    failed, _ = add_exchange(qb_session, order, request_xml=REQUEST, response_xml=RESPONSE, status_code=3140,
                             severity="Error", message="There is an invalid reference to QuickBooks Customer",
                             at=now - timedelta(days=3))
    add_exchange(qb_session, customer, request_xml="<CustomerAddRq/>", response_xml="<ok/>", status_code=0,
                 severity="Info", message="Status OK", request_type="CustomerAddRq", at=now)
    return qb_session, failed, now


def test_the_log_lists_sessions_and_request_answer_pairs(signed_in, conn, runtime, add_job, add_session,
                                                         add_exchange):
    qb_session, _, _ = _log_rows(runtime, conn, add_job, add_session, add_exchange)
    page = text_of(signed_in.get("/log"))
    assert "Order #1001" in page and "Jane Doe" in page
    assert "3140" in page and "InvoiceAddRq" in page and "CustomerAddRq" in page
    assert "Fix:" in page  # the 3140 is explained in plain words with the fix
    assert "Requests and answers (2)" in page
    session_page = text_of(signed_in.get(f"/log/sessions/{qb_session.id}"))
    assert "2.3.0.30" in session_page and r"C:\Books\shop.qbw" in session_page


def test_the_log_is_searchable(signed_in, conn, runtime, add_job, add_session, add_exchange):
    _, _, now = _log_rows(runtime, conn, add_job, add_session, add_exchange)

    def found(query):
        page = text_of(signed_in.get("/log?" + query))
        answers = page.split("Web Connector sessions")[0]
        return {label for label in ("Order #1001", "Jane Doe") if label in answers}

    assert found("record=jane") == {"Jane Doe"}
    assert found("record=501") == {"Order #1001"}  # by record id
    assert found("order=%231001") == {"Order #1001"}
    assert found("order=77") == set()  # a customer is not an order
    assert found("status=3140") == {"Order #1001"}
    assert found("status=0") == {"Jane Doe"}
    today = now.date().isoformat()
    assert found(f"from={today}&to={today}") == {"Jane Doe"}
    assert found(f"to={(now - timedelta(days=1)).date().isoformat()}") == {"Order #1001"}
    assert found("connection=shop&record=jane") == {"Jane Doe"}


def test_bad_search_values_are_explained(signed_in, conn):
    page = text_of(signed_in.get("/log?status=abc&from=yesterday"))
    assert "A status code is a number such as 3100, not 'abc'." in page
    assert "Enter the date as YYYY-MM-DD, not 'yesterday'." in page
    backwards = text_of(signed_in.get("/log?from=2024-05-02&to=2024-05-01"))
    assert "The end date is before the start date." in backwards
    huge = "9" * 30
    assert f"'{huge[:20]}' is not a QuickBooks status code." in text_of(signed_in.get(f"/log?status={huge}"))


def test_extreme_dates_pages_and_ids_do_not_break_the_log(signed_in, conn, add_job, add_session,
                                                          add_exchange):
    job = add_job(conn.id, label="Order #1001")
    add_exchange(add_session(conn.id), job, request_xml="<InvoiceAddRq/>", response_xml=None, status_code=0)
    # The calendar's last day has no next day to end the range at; it still includes everything.
    assert "Order #1001" in text_of(signed_in.get("/log?from=2000-01-01&to=9999-12-31"))
    huge = "9" * 30
    assert signed_in.get(f"/log?page={huge}", follow_redirects=True).status_code == 200
    assert signed_in.get(f"/log/sessions/{huge}").status_code == 404
    assert signed_in.get(f"/log/exchanges/{huge}").status_code == 404


def test_an_exchange_shows_pretty_qbxml_with_secrets_masked_and_the_error_explained(
        signed_in, conn, runtime, add_job, add_session, add_exchange):
    _, exchange, _ = _log_rows(runtime, conn, add_job, add_session, add_exchange)
    response = signed_in.get(f"/log/exchanges/{exchange.id}")
    body = response.get_data(as_text=True)
    page = text_of(response)
    assert CONSUMER_KEY not in body and WEBHOOK_SECRET not in body
    assert "••••••••" + CONSUMER_KEY[-4:] in page
    # Indented: one element per line.
    assert "\n        &lt;CustomerRef&gt;\n          &lt;FullName&gt;Jane Doe&lt;/FullName&gt;" in body
    assert "&lt;?qbxml version=&#34;13.0&#34;?&gt;" in body
    assert "statusCode=&#34;3140&#34;" in body
    assert "3140 · " in page and "What to do:" in page


def test_a_credential_in_a_session_error_is_masked(signed_in, conn, add_session):
    qb_session = add_session(conn.id, state="failed", last_error=f"store refused secret {WEBHOOK_SECRET}")
    page = text_of(signed_in.get(f"/log/sessions/{qb_session.id}"))
    assert WEBHOOK_SECRET not in page and "store refused secret ••••••••" in page


def test_credentials_in_session_notes_are_masked_on_the_log_and_dashboard(signed_in, conn, add_session):
    add_session(conn.id, state="failed", last_error=f"the store said: bad signature with {WEBHOOK_SECRET}")
    for url in ("/log", "/"):
        page = text_of(signed_in.get(url))
        assert WEBHOOK_SECRET not in page and "bad signature with ••••••••" in page, url


def test_a_session_page_counts_finished_jobs_and_only_real_errors(signed_in, conn, add_job, add_session,
                                                                   add_exchange):
    qb_session = add_session(conn.id, jobs_done=40, exchanges=2)
    lookup = add_job(conn.id, label="Jane Doe", state="done")
    add_exchange(qb_session, lookup, request_xml="<CustomerQueryRq/>", response_xml=None, status_code=1,
                 severity="Info", message="A query request did not find a matching object in QuickBooks",
                 request_type="CustomerQueryRq")
    page = text_of(signed_in.get(f"/log/sessions/{qb_session.id}"))
    assert "Jobs finished 40 in 2 round trips" in page and "done of 0" not in page
    round_trips = page.split("Round trips", 1)[1]
    # The row: seq, sent, answered, jobs 1, errors 0 (the look-up that found nothing is no error).
    assert re.search(r"Errors Note 1 \S+ \S+ UTC \S+ \S+ UTC 1 0 ", round_trips), round_trips
