"""Which company file a connection belongs to, and what a switch to another one forgets."""

from __future__ import annotations

from qbsync.queue import company_file, inventory, jobs
from qbsync.storage.models import Connection, QueueJob


def test_the_first_file_is_bound_and_another_is_refused_naming_both(runtime, make_connection):
    conn_id = make_connection().id
    with runtime.db.transaction() as session:
        conn = session.get(Connection, conn_id)
        assert company_file.check(conn, "") is None and conn.company_file is None  # nothing to compare
        assert company_file.check(conn, r"C:\Books\Shop.QBW") is None
        assert conn.company_file == r"C:\Books\Shop.QBW" and conn.company_file_bound_at is not None
        assert company_file.check(conn, "c:/books/SHOP.qbw") is None  # the same file, as Windows sees it
        refused = company_file.check(conn, r"C:\Books\Other.QBW")
    assert refused is not None
    assert r'has the company file "C:\Books\Other.QBW" open' in refused
    assert r'belongs to "C:\Books\Shop.QBW"' in refused


def test_a_switch_cancels_add_backs_of_the_old_files_items_and_restarts_other_open_jobs(runtime,
                                                                                      make_connection):
    conn_id = make_connection().id
    with runtime.db.transaction() as session:
        conn = session.get(Connection, conn_id)
        conn.company_file = r"C:\Books\Shop.QBW"
        add_back = jobs.enqueue(session, conn_id, inventory.ADD_BACK_KIND,
                                {"item_list_id": "80000001-1", "quantity": "1", "order_number": "7"})
        order = jobs.enqueue(session, conn_id, "order", {"progress": {"next": "add", "name": "Ann"}, "x": 1})
        done = jobs.enqueue(session, conn_id, inventory.ADD_BACK_KIND, {"item_list_id": "80000002-1"})
        done.state = "done"
        forgotten = company_file.switch(session, conn, r"D:\New.QBW")
        assert forgotten.cancelled() == "; 1 stock add-back for the old file's items was cancelled"
        assert session.get(QueueJob, add_back.id).state == "cancelled"
        assert session.get(QueueJob, order.id).payload == {"x": 1}
        assert session.get(QueueJob, done.id).state == "done"
        assert conn.company_file == r"D:\New.QBW"
