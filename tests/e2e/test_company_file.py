"""End to end, over real HTTP SOAP: a connection belongs to the company file of its first session. A session
with another file open is sent nothing and told why; a person switches the connection deliberately."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from qbsync.connections import rebind_same_company_file, switch_company_file
from qbsync.queue import company_file, jobs
from qbsync.simulator import QuickBooksCompany, WebConnector
from qbsync.storage.models import Connection, IdMapping, QbwcSession, QueueJob
from tests.engine.conftest import first_contact_done

PASSWORD = "correct horse battery"
SHOP_FILE = r"C:\Users\Public\Documents\Intuit\QuickBooks\Company Files\Shop.QBW"
OTHER_FILE = r"\\NAS\Books\Sister Shop.QBW"


def customer_add(name: str) -> str:
    return f"<CustomerAddRq><CustomerAdd><Name>{name}</Name></CustomerAdd></CustomerAddRq>"


def shop_with_a_sister(runtime, live_server, make_connection, profile: str):
    """A connection past its first contact with one job waiting (add customer Ann); the shop's company, its
    sister company and a Web Connector that has the shop's file open."""
    conn = make_connection()
    with runtime.db.transaction() as s:
        s.get(Connection, conn.id).settings = {"list_refresh_hours": 0}
        first_contact_done(s, conn.id)
        jobs.enqueue_qbxml(s, conn.id, customer_add("Ann"), label="Ann")
    shop, sister = QuickBooksCompany(profile=profile), QuickBooksCompany(profile=profile)
    wc = WebConnector(f"{live_server.url}/qbwc", conn.qbwc_username, PASSWORD, shop,
                      company_file_name=SHOP_FILE)
    return conn, shop, sister, wc


@pytest.mark.parametrize("profile", ["retail", "service"])
def test_another_company_file_gets_nothing_until_a_person_switches(runtime, live_server, make_connection,
                                                                   profile):
    conn, shop, sister, wc = shop_with_a_sister(runtime, live_server, make_connection, profile)

    (first,) = wc.run(sessions=1)
    assert first.ended_by == "closeConnection" and shop.find("Customer", "Ann") is not None
    with runtime.db.transaction() as s:
        assert s.get(Connection, conn.id).company_file == SHOP_FILE  # bound at the first session
        s.add(IdMapping(connection_id=conn.id, record_type="customer", storefront_id="7", qb_type="Customer",
                        qb_id=shop.find("Customer", "Ann")["ListID"], origin="created"))
        waiting = jobs.enqueue_qbxml(s, conn.id, customer_add("Bea"), label="Bea")

    wc.open_company_file(sister, OTHER_FILE)  # the bookkeeper opened the sister company's file
    refused = wc.run(sessions=2)
    for report in refused:
        assert [c.method for c in report.calls][-3:] == ["sendRequestXML", "getLastError", "closeConnection"]
        assert report.calls[-3].result == '""'
        # what the Web Connector shows: both files, and the two ways out
        assert SHOP_FILE in report.last_error and OTHER_FILE in report.last_error
        assert "Nothing was sent" in report.last_error
        assert "qbsync connection switch-file shop" in report.last_error
        assert report.close_text == report.last_error
    assert sister.request_log == []  # no request, no list read
    assert shop.find("Customer", "Bea") is None
    with runtime.db.transaction() as s:
        stored = s.get(Connection, conn.id)
        assert stored.company_file == SHOP_FILE
        assert s.get(QueueJob, waiting.id).state == "pending"
        assert company_file.refused_file(s, stored) == OTHER_FILE
        forgotten = switch_company_file(s, stored, company_file.refused_file(s, stored))
    assert (forgotten.mappings, forgotten.describe().startswith("1 link to QuickBooks records")) == (1, True)

    wc.run(until_idle=True, max_sessions=4)
    sent = [entry.request for entry in sister.request_log]
    assert "<AccountQueryRq" in sent[0]  # the first contact: the new file's lists are read afresh
    assert sister.find("Customer", "Bea") is not None and sister.find("Customer", "Ann") is None
    with runtime.db.transaction() as s:
        assert s.get(Connection, conn.id).company_file == OTHER_FILE
        assert s.scalar(select(func.count()).select_from(IdMapping)) == 0


@pytest.mark.parametrize("profile", ["retail", "service"])
def test_another_company_file_is_noticed_within_the_hour_while_no_work_waits(runtime, live_server,
                                                                            make_connection, profile):
    conn, shop, sister, wc = shop_with_a_sister(runtime, live_server, make_connection, profile)
    wc.run(sessions=1)
    wc.open_company_file(sister, OTHER_FILE)

    (idle,) = wc.run(sessions=1)
    assert idle.auth_result == "none"  # nothing to do, and the file was seen minutes ago

    with runtime.db.transaction() as s:  # an hour later
        for qb_session in s.scalars(select(QbwcSession)):
            qb_session.last_seen_at -= company_file.FILE_CHECK_INTERVAL
    (check,) = wc.run(sessions=1)
    assert check.auth_result == ""  # a session, only to see which file is open
    assert OTHER_FILE in check.last_error and SHOP_FILE in check.last_error
    assert sister.request_log == []


@pytest.mark.parametrize("profile", ["retail", "service"])
def test_the_same_file_by_another_path_keeps_its_links_once_a_person_says_so(runtime, live_server,
                                                                            make_connection, profile):
    """The shop's file, moved to a server and opened through its share: refused until a person says it is
    the same file; then syncing goes on with every link (no first contact, nothing added twice)."""
    conn, shop, _sister, wc = shop_with_a_sister(runtime, live_server, make_connection, profile)
    wc.run(sessions=1)
    ann = shop.find("Customer", "Ann")
    with runtime.db.transaction() as s:
        s.add(IdMapping(connection_id=conn.id, record_type="customer", storefront_id="7", qb_type="Customer",
                        qb_id=ann["ListID"], origin="created"))
        waiting = jobs.enqueue_qbxml(s, conn.id, customer_add("Bea"), label="Bea")
    moved = r"\\BOOKS-SERVER\QuickBooks\Shop.QBW"
    wc.open_company_file(shop, moved)  # the same company, reached by another path
    (refused,) = wc.run(sessions=1)
    assert "--same-file" in refused.last_error and shop.find("Customer", "Bea") is None
    already = len(shop.request_log)

    with runtime.db.transaction() as s:
        stored = s.get(Connection, conn.id)
        assert company_file.refused_file(s, stored) == moved
        rebind_same_company_file(s, stored, company_file.refused_file(s, stored))

    wc.run(until_idle=True, max_sessions=3)
    sent = "".join(entry.request for entry in shop.request_log[already:])
    assert "<AccountQueryRq" not in sent  # no first contact: the lists read from this file still hold
    assert shop.find("Customer", "Bea") is not None
    with runtime.db.transaction() as s:
        assert s.get(Connection, conn.id).company_file == moved
        assert s.get(QueueJob, waiting.id).state == "done"
        link = s.scalars(select(IdMapping).where(IdMapping.storefront_id == "7")).one()
        assert link.qb_id == ann["ListID"]  # kept
