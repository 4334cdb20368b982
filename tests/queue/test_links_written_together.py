"""Links made while a round trip's answers are applied (``mappings.written_together``) are stored with
one INSERT for all of them; what they store, and what the rest of the round trip reads of them, is what
a link made one by one stores and reads."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import event, select

from qbsync.queue import mappings
from qbsync.storage.models import IdMapping

NOW = datetime(2026, 12, 6, 12, 0)


@pytest.fixture
def conn_id(make_connection):
    return make_connection().id


def _rows(session, conn_id: int) -> dict[tuple[str, str], dict[str, object]]:
    return {
        (m.record_type, m.storefront_id): {c.key: getattr(m, c.key) for c in IdMapping.__table__.columns
                                           if c.key != "id"}
        for m in session.scalars(select(IdMapping).where(IdMapping.connection_id == conn_id))
    }


def _link_all_kinds(session, conn_id: int, suffix: str) -> None:
    mappings.link_transaction(session, conn_id, mappings.ORDER, f"o{suffix}", "SalesReceipt",
                              {"TxnID": "T-1", "EditSequence": "17", "RefNumber": "1001"},
                              origin=mappings.CREATED, synced_hash="h")
    mappings.link_sale_customer(session, conn_id, f"o{suffix}",
                                {"CustomerRef": {"ListID": "C-1", "FullName": "Ann Lee"}})
    mappings.link(session, conn_id, mappings.CUSTOMER, f"c{suffix}", qb_type="Customer", qb_id="C-1",
                  qb_name="Ann Lee (2)", origin=mappings.CREATED, renamed=("Ann Lee", "name taken"))
    mappings.link(session, conn_id, mappings.PRODUCT, f"p{suffix}", qb_type="ItemInventory", qb_id="I-1",
                  qb_name="Mug", quantity="4", origin=mappings.MANUAL)


def test_links_written_together_store_the_rows_links_made_one_by_one_store(runtime, conn_id, monkeypatch):
    monkeypatch.setattr(mappings, "utcnow", lambda: NOW)
    with runtime.db.transaction() as s:
        # Read first, as a round trip's are (prepare_answers): no flush of the ORM's links in between.
        kinds = ((mappings.ORDER, "o"), (mappings.SALE_CUSTOMER, "o"), (mappings.CUSTOMER, "c"),
                 (mappings.PRODUCT, "p"))
        mappings.preload(s, conn_id, [(kind, f"{prefix}{suffix}") for suffix in ("-alone", "-together")
                                      for kind, prefix in kinds])
        _link_all_kinds(s, conn_id, "-alone")
        with mappings.written_together(s):
            _link_all_kinds(s, conn_id, "-together")
            mappings.get(s, conn_id, mappings.ORDER, "o-together").stock_held = '{"101": "2"}'
        mappings.get(s, conn_id, mappings.ORDER, "o-alone").stock_held = '{"101": "2"}'
    with runtime.db.transaction() as s:
        rows = _rows(s, conn_id)
    assert len(rows) == 8
    for (record_type, key), row in rows.items():
        if key.endswith("-together"):
            alone = rows[(record_type, key.replace("-together", "-alone"))]
            assert {**row, "storefront_id": None} == {**alone, "storefront_id": None}
    assert rows[(mappings.PRODUCT, "p-together")]["manual"] is True
    assert rows[(mappings.SALE_CUSTOMER, "o-together")]["origin"] == mappings.FOUND


def test_a_round_trips_new_links_are_inserted_by_one_statement(runtime, conn_id):
    inserts: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if statement.lstrip().upper().startswith("INSERT INTO ID_MAPPINGS"):
            inserts.append(statement)

    event.listen(runtime.db.engine, "before_cursor_execute", seen)
    try:
        with runtime.db.transaction() as s, mappings.written_together(s):
            for n in range(30):
                _link_all_kinds(s, conn_id, str(n))
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", seen)
    assert len(inserts) == 1
    with runtime.db.transaction() as s:
        assert len(_rows(s, conn_id)) == 120


def test_what_the_round_trip_reads_and_changes_of_a_new_link_is_stored(runtime, conn_id):
    """A search by ListID stores the links made so far first and finds the same link the look-up by key
    does; a change made to it after that is stored too."""
    with runtime.db.transaction() as s, mappings.written_together(s):
        _link_all_kinds(s, conn_id, "")
        product = mappings.get(s, conn_id, mappings.PRODUCT, "p")
        assert mappings.by_qb_ids(s, conn_id, ["I-1"], mappings.PRODUCT) == [product]
        assert [m.storefront_id for m in mappings.by_qb_name(s, conn_id, mappings.CUSTOMER, "ann lee (2)")] \
            == ["c"]
        product.quantity = "3"
        mappings.link(s, conn_id, mappings.ORDER, "o", qb_type="SalesReceipt", qb_id="T-1",
                      edit_sequence="18")
        assert mappings.get(s, conn_id, mappings.ORDER, "o").edit_sequence == "18"
    with runtime.db.transaction() as s:
        rows = _rows(s, conn_id)
        assert rows[(mappings.PRODUCT, "p")]["quantity"] == "3"
        assert rows[(mappings.ORDER, "o")]["edit_sequence"] == "18"
        assert rows[(mappings.ORDER, "o")]["origin"] == mappings.CREATED  # the same record: kept
        # After the round trip the link is read from the database, as any other.
        assert isinstance(mappings.get(s, conn_id, mappings.ORDER, "o"), IdMapping)


def test_a_new_link_forgotten_in_the_round_trip_is_not_stored(runtime, conn_id):
    with runtime.db.transaction() as s:
        mappings.link(s, conn_id, mappings.CUSTOMER, "stored", qb_type="Customer", qb_id="C-9")
    with runtime.db.transaction() as s, mappings.written_together(s):
        _link_all_kinds(s, conn_id, "")
        mappings.forget(s, mappings.get(s, conn_id, mappings.CUSTOMER, "c"))  # before it was written
        mappings.by_qb_ids(s, conn_id, ["I-1"])  # the others are written now
        mappings.forget(s, mappings.get(s, conn_id, mappings.PRODUCT, "p"))  # after
        # A stored link forgotten and made again (its DELETE comes first): stored once, anew.
        mappings.forget(s, mappings.get(s, conn_id, mappings.CUSTOMER, "stored"))
        mappings.link(s, conn_id, mappings.CUSTOMER, "stored", qb_type="Customer", qb_id="C-10")
        assert mappings.get(s, conn_id, mappings.CUSTOMER, "c") is None
    with runtime.db.transaction() as s:
        rows = _rows(s, conn_id)
    assert sorted(rows) == [(mappings.CUSTOMER, "stored"), (mappings.ORDER, "o"),
                            (mappings.SALE_CUSTOMER, "o")]
    assert rows[(mappings.CUSTOMER, "stored")]["qb_id"] == "C-10"


def test_links_of_a_round_trip_that_fails_are_not_stored_nor_remembered(runtime, conn_id):
    with pytest.raises(RuntimeError), runtime.db.transaction() as s, mappings.written_together(s):
        _link_all_kinds(s, conn_id, "")
        raise RuntimeError("the answer could not be applied")
    with runtime.db.transaction() as s:
        assert _rows(s, conn_id) == {}
    s = runtime.db.sessions()
    try:
        with mappings.written_together(s):
            _link_all_kinds(s, conn_id, "")
            with pytest.raises(RuntimeError), mappings.written_together(s):  # nested: the outer one writes
                raise RuntimeError("one job's answer failed")
        s.rollback()
        assert mappings.get(s, conn_id, mappings.ORDER, "o") is None  # read again, not the lost link
    finally:
        s.close()
