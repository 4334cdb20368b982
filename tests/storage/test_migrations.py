"""The migrations: they build exactly the models' schema, and the queue's look-ups use their indexes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import cast

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, inspect, text

from qbsync.queue import exchange, intake, jobs
from qbsync.queue.settings import SyncSettings
from qbsync.storage.db import alembic_config, create_database
from qbsync.storage.models import Base, Connection, QbwcSession, utcnow
from tests.conftest import fresh_postgres_database
from tests.engine.conftest import make_order

LOOKUP_INDEXES = {"ix_queue_jobs_coalesce_state": ["connection_id", "coalesce_key", "state"],
                  "ix_queue_jobs_kind_state": ["connection_id", "kind", "state"]}


@contextmanager
def _queue_job_selects(engine: sa.Engine) -> Iterator[list[tuple[str, object]]]:
    """The SELECTs of queue_jobs ``engine`` runs inside the block, with their parameters (to EXPLAIN)."""
    seen: list[tuple[str, object]] = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "FROM queue_jobs" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", remember)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", remember)


# A connection row as the schema of 0005 to 0011 holds it (columns added later are left to their defaults).
_INSERT_CONNECTION = text(
    "INSERT INTO connections (id, name, platform, store_url, webhook_secret, api_credentials, qbwc_username, "
    "qbwc_password_hash, owner_id, file_id, settings, created_at, updated_at) VALUES (:id, :name, "
    "'woocommerce', 'https://x', 'x', 'x', :name, 'x', '{A}', '{B}', :settings, CURRENT_TIMESTAMP, "
    "CURRENT_TIMESTAMP)")


def _add_connection(conn: sa.Connection, id_: int = 1, name: str = "shop", settings: str = "{}") -> None:
    conn.execute(_INSERT_CONNECTION, {"id": id_, "name": name, "settings": settings})


def test_the_migrated_schema_matches_the_models(db):
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


@pytest.fixture
def empty_url(database_url: str, tmp_path) -> Iterator[str]:
    """A database with no schema yet, on the backend the suite runs on."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    with fresh_postgres_database(database_url, "qbsync_migrate") as fresh:
        yield fresh


def _queue_job_indexes(engine) -> dict[str, list[str]]:
    return {ix["name"]: ix["column_names"] for ix in inspect(engine).get_indexes("queue_jobs")}


def _migrate(engine, url: str, revision: str, *, down: bool = False) -> None:
    with engine.begin() as conn:
        cfg = alembic_config(url)
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)


def test_upgrading_an_empty_database_creates_the_queue_lookup_indexes_and_downgrade_removes_them(empty_url):
    db = create_database(empty_url)
    try:
        db.upgrade()
        indexes = _queue_job_indexes(db.engine)
        assert {name: indexes.get(name) for name in LOOKUP_INDEXES} == LOOKUP_INDEXES
        assert "ix_queue_jobs_coalesce" not in indexes  # replaced: the new one begins with its columns

        _migrate(db.engine, empty_url, "0001", down=True)
        indexes = _queue_job_indexes(db.engine)
        assert indexes["ix_queue_jobs_coalesce"] == ["connection_id", "coalesce_key"]
        assert not set(LOOKUP_INDEXES) & set(indexes)

        _migrate(db.engine, empty_url, "head")
        assert db.is_up_to_date()
        assert set(LOOKUP_INDEXES) <= set(_queue_job_indexes(db.engine))
    finally:
        db.dispose()


def test_sqlite_queues_orders_without_reading_the_queue_through_the_pick_index(runtime, make_connection):
    """SQLite has no statistics unless ANALYZE ran: with only (connection_id, coalesce_key) indexed it
    answered intake's look-ups through ix_queue_jobs_pick, reading every queued job for each record."""
    if not runtime.db.is_sqlite:
        pytest.skip("SQLite's planner; PostgreSQL plans by its statistics")
    connection_id = make_connection().id
    with _queue_job_selects(runtime.db.engine) as seen:
        for start in (1, 101):  # the second batch finds the first's customers and items queued
            with runtime.db.transaction() as session:
                connection = session.get(Connection, connection_id)
                intake.record_changed_many(session, connection, "order",
                                           [make_order(n) for n in range(start, start + 100)])
                intake.record_changed(session, connection, "order", make_order(start + 1))
    assert seen
    with runtime.db.engine.connect() as conn:
        for statement, parameters in seen:
            plan = " / ".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}",
                                                                     parameters))
            assert "ix_queue_jobs_pick" not in plan and "SCAN queue_jobs" not in plan, (statement, plan)


def test_sqlite_finds_the_ready_jobs_in_the_pick_index_alone(runtime, make_connection):
    """Every answer counts the jobs still ready to send, and a fill round reads the ids of the next ones:
    read through (connection_id, state, priority, id), each pending job's row, whole order included, was
    read for its kind and not_before, so both grew with the queue. With those two in the index SQLite
    answers from it alone."""
    if not runtime.db.is_sqlite:
        pytest.skip("SQLite's planner; PostgreSQL plans by its statistics")
    connection_id = make_connection().id
    with _queue_job_selects(runtime.db.engine) as seen, runtime.db.transaction() as session:
        now = utcnow()
        exchange.percent_done(session, cast(QbwcSession, SimpleNamespace(connection_id=connection_id,
                                                                        jobs_done=0)), now)
        jobs.pending_ready(session, connection_id, now, 10, lock=False, seen={0})
    assert len(seen) == 2
    with runtime.db.engine.connect() as conn:
        for statement, parameters in seen:
            plan = " / ".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}",
                                                                     parameters))
            assert "COVERING INDEX ix_queue_jobs_pick" in plan, (statement, plan)


def test_batch_transactions_plan_each_statement_with_its_values(runtime):
    """psycopg prepares repeated statements; a generic plan costed while the queue was small made a 50,000
    order backfill read every queued job per page look-up (194/s falling to 65/s). A backfill page's
    transaction plans with the actual values; the next transaction is back to PostgreSQL's default."""
    from qbsync.storage.db import plan_with_values

    if runtime.db.is_sqlite:
        pytest.skip("PostgreSQL's plan cache")
    with runtime.db.transaction() as session:
        plan_with_values(session)
        assert session.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
    with runtime.db.transaction() as session:
        assert session.execute(text("SHOW plan_cache_mode")).scalar() == "auto"


def test_0006_binds_existing_connections_to_the_file_their_lists_were_read_from(empty_url):
    db = create_database(empty_url)
    try:
        _migrate(db.engine, empty_url, "0005")
        with db.engine.begin() as conn:
            for id_, name in ((1, "shop"), (2, "new-shop")):
                _add_connection(conn, id_, name)
            conn.execute(text("INSERT INTO checkpoints (connection_id, name, value, updated_at) "
                              "VALUES (1, 'company_file', 'C:\\Books\\Shop.QBW', CURRENT_TIMESTAMP)"))
        _migrate(db.engine, empty_url, "0006")
        with db.engine.connect() as conn:
            files = dict(conn.execute(text("SELECT name, company_file FROM connections")).all())
            left = conn.execute(text("SELECT count(*) FROM checkpoints WHERE name = 'company_file'")).scalar()
        assert (files, left) == ({"shop": "C:\\Books\\Shop.QBW", "new-shop": None}, 0)

        _migrate(db.engine, empty_url, "0005", down=True)  # the file goes back where it was kept
        with db.engine.connect() as conn:
            kept = conn.execute(text("SELECT connection_id, value FROM checkpoints")).all()
        assert [tuple(row) for row in kept] == [(1, "C:\\Books\\Shop.QBW")]
    finally:
        db.dispose()


def test_0007_keeps_a_customer_per_guest_on_connections_made_before_the_default_changed(empty_url):
    """Guests now share "Web Guests" by default; a connection already syncing keeps booking each guest as
    their own customer, and one that chose a proxy keeps its choice."""
    db = create_database(empty_url)
    try:
        _migrate(db.engine, empty_url, "0006")
        with db.engine.begin() as conn:
            for id_, name, settings in ((1, "shop", '{}'), (2, "chose", '{"proxy_customer": "Retail Sales"}'),
                                        (3, "other", '{"ref_number_prefix": "W-"}')):
                _add_connection(conn, id_, name, settings)
        _migrate(db.engine, empty_url, "0007")
        table = sa.table("connections", sa.column("name", sa.Text), sa.column("settings", sa.JSON))
        with db.engine.connect() as conn:
            stored = dict(conn.execute(sa.select(table.c.name, table.c.settings)).all())
        proxies = {name: SyncSettings(settings).proxy_customer for name, settings in stored.items()}
        kept = stored["other"]
        assert proxies == {"shop": "", "chose": "Retail Sales", "other": ""}
        assert kept["ref_number_prefix"] == "W-"
        assert SyncSettings({}).proxy_customer == "Web Guests"  # what a connection made now reads
    finally:
        db.dispose()


def test_0009_downgrade_puts_a_jobs_progress_notes_back_in_its_payload(empty_url):
    """Notes written into their own column go back where the code before 0009 reads them, so a job in the
    middle of its steps does not start over (and add its record again) after a downgrade."""
    db = create_database(empty_url)
    try:
        _migrate(db.engine, empty_url, "0009")
        with db.engine.begin() as conn:
            _add_connection(conn)
            for id_, payload, progress in ((1, '{"record": {"id": "7"}}', '{"next": "mod", "hash": "h"}'),
                                           (2, '{"record": {"id": "8"}, "progress": {"next": "add"}}', None)):
                conn.execute(text(
                    "INSERT INTO queue_jobs (id, connection_id, kind, payload, progress, state, priority, "
                    "attempts, failed_sessions, needs_lookup, created_at, updated_at) VALUES (:id, 1, "
                    "'order', :payload, :progress, 'pending', 100, 0, 0, false, CURRENT_TIMESTAMP, "
                    "CURRENT_TIMESTAMP)"),
                    {"id": id_, "payload": payload, "progress": progress})
        _migrate(db.engine, empty_url, "0008", down=True)
        table = sa.table("queue_jobs", sa.column("id", sa.Integer), sa.column("payload", sa.JSON))
        with db.engine.connect() as conn:
            stored = dict(conn.execute(sa.select(table.c.id, table.c.payload)).all())
        assert stored == {1: {"record": {"id": "7"}, "progress": {"next": "mod", "hash": "h"}},
                          2: {"record": {"id": "8"}, "progress": {"next": "add"}}}
    finally:
        db.dispose()


def test_0011_keys_the_list_entries_read_before_it_so_the_engine_still_finds_their_customers(empty_url):
    """The customers pulled before 0011 get the name and e-mail keys the engine looks them up by, as Python
    lowers them (not as the database's lower() would: SQLite's leaves "Ö" as it is)."""
    from qbsync.queue import lists

    db = create_database(empty_url)
    try:
        _migrate(db.engine, empty_url, "0010")
        with db.engine.begin() as conn:
            _add_connection(conn)
            for id_, name, data in ((1, " ÖZTÜRK, Ada", '{"Email": " Ada@Example.com", "IsActive": "true"}'),
                                    (2, "Web Guests", '{"IsActive": "true"}')):
                conn.execute(text(
                    "INSERT INTO qb_list_entries (id, connection_id, list_type, list_id, full_name, data, "
                    "refreshed_at) VALUES (:id, 1, 'Customer', :list_id, :name, :data, CURRENT_TIMESTAMP)"),
                    {"id": id_, "list_id": f"8000000{id_}-1", "name": name, "data": data})
        _migrate(db.engine, empty_url, "0011")
        with db.transaction() as session:
            by_email = lists.customer_by_email(session, 1, "ada@example.COM")
            by_name = lists.by_name(session, 1, "Customer", "öztürk, ada")
            guests = lists.by_name(session, 1, "Customer", "WEB GUESTS")
        assert by_email is not None and by_name is not None
        assert by_email.list_id == by_name.list_id == "80000001-1"
        assert guests is not None and guests.list_id == "80000002-1"
    finally:
        db.dispose()
