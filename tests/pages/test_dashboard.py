"""The dashboard: last contact, queue depth, errors, records per day, warnings."""

from __future__ import annotations

import re
from datetime import timedelta

from qbsync.service.pages.charts import daily_bars, last_days
from qbsync.storage.models import JobDependency, utcnow
from tests.pages.conftest import text_of


def test_the_dashboard_shows_each_connection_from_real_rows(signed_in, conn, add_job, add_session,
                                                           add_exchange):
    now = utcnow()
    qb_session = add_session(conn.id, minutes_ago=4 * 60 + 5, result="OK: 3 records synced", exchanges=2)
    parked = add_job(conn.id, state="parked", label="Order #2002", reason="name in use")
    add_job(conn.id, state="pending", label="Order #2003")
    add_job(conn.id, state="pending", label="Order #2004")
    for days_ago, count in ((0, 3), (2, 1)):
        for n in range(count):
            add_job(conn.id, state="done", label=f"Order #30{days_ago}{n}",
                    done_at=now - timedelta(days=days_ago))
    add_job(conn.id, kind="list_refresh", record_type=None, record_id=None, state="done", done_at=now)
    add_exchange(qb_session, parked, request_xml="<InvoiceAddRq/>", response_xml=None, status_code=3100,
                 severity="Error", message='The name "Jane Doe" of the list element is already in use.')
    add_exchange(qb_session, parked, request_xml="<InvoiceAddRq/>", response_xml=None, status_code=3100,
                 severity="Error", message="old", at=now - timedelta(hours=30))

    response = signed_in.get("/")
    assert response.status_code == 200
    page = text_of(response)
    assert "The Web Connector has not polled for 4 hours" in page
    assert "1 job needs attention." in page
    assert "Last session that did work, 4 hours ago: OK: 3 records synced" in page
    assert re.search(r"\b2 pending\b", page)
    assert re.search(r"\b1 QuickBooks errors \(24 h\)", page)  # the 30-hour-old one is not counted
    assert 'The name "Jane Doe" of the list element is already in use.' in page
    body = response.get_data(as_text=True)
    today, two_days_ago = now.date(), (now - timedelta(days=2)).date()
    assert f"<title>{today.isoformat()}: 3 records</title>" in body  # the list refresh is not a record
    assert f"<title>{two_days_ago.isoformat()}: 1 record</title>" in body
    assert body.count("<rect ") == 14
    assert "(last 14 days: 4)" in page


def test_a_connection_that_never_polled_says_so(signed_in, conn):
    page = text_of(signed_in.get("/"))
    assert "The Web Connector has never contacted qbsync for this connection" in page
    assert "need attention" not in page.replace("need attention (parked)", "")
    assert "https is not configured" not in page  # localhost over http is fine for the Web Connector


def test_a_failed_session_is_a_warning(signed_in, conn, add_session):
    add_session(conn.id, state="failed", last_error="QuickBooks could not open the company file")
    assert "The last Web Connector session failed: QuickBooks could not open the company file" in text_of(
        signed_in.get("/"))


def test_bars_are_scaled_to_the_busiest_day():
    days = last_days(utcnow().date(), 4)
    chart = daily_bars({days[1]: 5, days[3]: 10}, days, height=116, label_room=16)
    heights = [b.height for b in chart.bars]
    assert heights == [0.0, 50.0, 0.0, 100.0]
    assert [b.y for b in chart.bars] == [100.0, 50.0, 100.0, 0.0]
    assert chart.peak == 10 and chart.total == 15
    assert chart.bars[0].x < chart.bars[1].x < chart.bars[2].x < chart.bars[3].x


def test_opened_from_elsewhere_without_a_public_url_the_dashboard_says_what_the_qwc_names(signed_in, conn):
    signed_in.set_cookie("qbsync_session", signed_in.get_cookie("qbsync_session").value,
                         domain="192.0.2.10")
    page = text_of(signed_in.get("/", environ_overrides={"HTTP_HOST": "192.0.2.10:8000"}))
    assert ("QBSYNC_PUBLIC_URL is not set, so the .qwc file and webhook URLs name http://localhost/qbwc "
            "(this machine)") in page
    assert "QBSYNC_PUBLIC_URL is not set" not in text_of(signed_in.get("/"))


def test_the_dashboard_shows_the_last_session_that_did_work_and_groups_errors_by_cause(
        signed_in, conn, add_job, add_session, add_exchange):
    worked = add_session(conn.id, minutes_ago=30, result="OK: 40 records synced", exchanges=3)
    add_session(conn.id, minutes_ago=5, result="Nothing to do", exchanges=0)  # a later idle poll
    for n in range(6):
        job = add_job(conn.id, state="parked", label=f"Order #40{n}")
        add_exchange(worked, job, request_xml="<SalesReceiptAddRq/>", response_xml=None, status_code=3140,
                     severity="Error", message='There is an invalid reference to QuickBooks Account '
                                               '"Chase Checking" in the SalesReceipt.')
    other = add_job(conn.id, state="parked", label="Jane Doe")
    add_exchange(worked, other, request_xml="<CustomerAddRq/>", response_xml=None, status_code=3100,
                 severity="Error", message='The name "Jane Doe" of the list element is already in use.')

    response = signed_in.get("/")
    page = text_of(response)
    assert "OK: 40 records synced" in page and "Nothing to do" not in page
    errors = page.split("Latest errors", 1)[1]
    assert errors.count('"Chase Checking"') == 1  # one row per cause, with how often it happened
    assert re.search(r'"Chase Checking" in the SalesReceipt\. latest: Order #405 6 3140', errors)
    assert re.search(r"already in use\. latest: Jane Doe 1 3100", errors)
    body = response.get_data(as_text=True)
    since = (utcnow() - timedelta(hours=24)).date().isoformat()
    link = re.search(r'<a href="(/log[^"]*errors=1[^"]*)">7</a>', body).group(1).replace("&amp;", "&")
    assert link == f"/log?connection={conn.name}&errors=1&from={since}"
    log_page = text_of(signed_in.get(link))
    assert "(7)" in log_page  # the link opens the error answers only


def test_jobs_blocked_behind_a_parked_one_count_as_needing_attention(signed_in, conn, add_job, runtime):
    item = add_job(conn.id, kind="item", label="Item WIDGET-1", state="parked", reason="no price")
    customer = add_job(conn.id, kind="customer", label="Jane Doe", state="waiting")
    order = add_job(conn.id, label="Order #1001", state="waiting")
    with runtime.db.transaction() as session:
        session.add(JobDependency(job_id=customer.id, depends_on_id=item.id))
        session.add(JobDependency(job_id=order.id, depends_on_id=customer.id))
    response = signed_in.get("/")
    assert "1 job needs attention. 2 more wait behind it. See the sync errors" in text_of(response)
    assert 'href="/errors">See the sync errors' in response.get_data(as_text=True)
