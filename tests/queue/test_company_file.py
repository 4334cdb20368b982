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


def test_a_switch_forgets_what_the_old_files_items_counted_and_expected(runtime, make_connection):
    # ListIDs of another file can be equal and name other items: the new file's item "80000001-1" must not
    # inherit the old one's store count, its waiting orders or what was added back for an order.
    from datetime import UTC, datetime
    from decimal import Decimal

    from qbsync.storage.models import Checkpoint

    conn_id = make_connection().id
    moment = datetime(2026, 12, 1, 16, tzinfo=UTC)
    with runtime.db.transaction() as session:
        conn = session.get(Connection, conn_id)
        conn.company_file = r"C:\Books\Shop.QBW"
        inventory.save_baseline(session, conn_id, "80000001-1", Decimal(10), moment)
        inventory.save_waiting(session, conn_id, "80000001-1", {"1001": Decimal(2)})
        inventory.save_counted(session, conn_id, "1001", "80000001-1",
                               inventory.AddedBack(Decimal(2), "MUG", moment, inventory.OPENING))
        session.add(Checkpoint(connection_id=conn_id, name="stock-seen:kept", value="kept"))
        assert inventory.read_baseline(session, conn_id, "80000001-1") is not None
        assert inventory.added_back(session, conn_id, "1001")
        company_file.switch(session, conn, r"D:\New.QBW")
    with runtime.db.transaction() as session:
        assert inventory.read_baseline(session, conn_id, "80000001-1") is None
        assert inventory.read_waiting(session, conn_id, "80000001-1") == {}
        assert inventory.added_back(session, conn_id, "1001") == {}
        # A name the prefix matches only as a LIKE pattern ("_" matches any character) is kept.
        assert session.get(Checkpoint, (conn_id, "stock-seen:kept")) is not None


def test_a_switch_forgets_that_the_old_file_refused_a_credit_memo_or_a_sale_of_0_00(runtime, make_connection):
    # Another file (another edition or version) may take one: its first credit memo or sale of 0.00 is
    # sent again.
    from qbsync.queue.handlers import zero_refusals
    from qbsync.storage import checkpoints
    from qbsync.storage.models import Checkpoint

    conn_id = make_connection().id
    with runtime.db.transaction() as session:
        conn = session.get(Connection, conn_id)
        conn.company_file = r"C:\Books\Shop.QBW"
        for name in zero_refusals.CHECKPOINTS.values():
            checkpoints.save(session, conn_id, name, "2026-12-06T10:00:00+00:00 3180: refused")
        company_file.switch(session, conn, r"D:\New.QBW")
    with runtime.db.transaction() as session:
        for name in zero_refusals.CHECKPOINTS.values():
            assert session.get(Checkpoint, (conn_id, name)) is None, name
