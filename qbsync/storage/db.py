"""The database handle: engine, sessions, and bringing the schema up to date with Alembic."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, CursorResult, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.dml import UpdateBase

from qbsync.config import Config
from qbsync.storage import encryption

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
MIGRATION_LOCK_KEY = 0x71_62_73_79_6E_63  # "qbsync"

T = TypeVar("T")


@dataclass
class Database:
    """An engine and its session factory. One per process; safe to share between threads."""

    engine: Engine
    sessions: sessionmaker[Session]
    # PostgreSQL only: a pool whose connections commit each statement on its own and are not pinged
    # before use (see run_statements).
    statement_engine: Engine | None = None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed at the end of the block, or rolled back on error."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def run_statements(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` on a connection where each statement commits on its own, and return its result.

        For the hottest path, storing a webhook delivery, whose one write is a single statement: on
        PostgreSQL this saves the BEGIN, COMMIT and pre-use ping round trips (five become two), about a
        fifth of the CPU a delivery costs. Instead of the ping, a connection found dead (the server
        restarted since it was last used) is dropped with the rest of the pool and ``work`` runs once
        more on a new one, so ``work`` must be safe to repeat. SQLite runs ``work`` in one transaction.
        """
        if self.statement_engine is None:
            with self.engine.begin() as conn:
                return work(conn)
        try:
            with self.statement_engine.connect() as conn:
                return work(conn)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        with self.statement_engine.connect() as conn:  # a new connection: the pool was just emptied
            return work(conn)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def upgrade(self) -> None:
        """Create or migrate the schema to the newest revision (idempotent)."""
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Several web processes may start at once: one migrates, the others wait for it.
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            cfg = alembic_config(self.engine.url.render_as_string(hide_password=False))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def is_up_to_date(self) -> bool:
        """Whether the schema is at the newest migration."""
        script = ScriptDirectory.from_config(alembic_config(str(self.engine.url)))
        with self.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        return current == script.get_current_head()

    def dispose(self, close: bool = True) -> None:
        """Drop the pooled connections; ``close=False`` in a forked child (they belong to the parent)."""
        for engine in (self.engine, self.statement_engine):
            if engine is not None:
                engine.dispose(close=close)


def rows_changed(session: Session, statement: UpdateBase) -> int:
    """Run an UPDATE or DELETE in ``session`` and return how many rows it changed (0 if the driver cannot
    say)."""
    result = session.execute(statement)
    if not isinstance(result, CursorResult):
        raise TypeError(f"{type(statement).__name__} gave {type(result).__name__}, which has no row count")
    return result.rowcount or 0


def plan_with_values(session: Session) -> None:
    """For the rest of this transaction, have PostgreSQL plan each statement with its parameter values.

    psycopg prepares a statement it has run 5 times, and PostgreSQL may then keep one generic plan for it,
    costed without the values and often while the tables were small. For look-ups by a page of keys
    (``… IN (100 keys)``) that plan can read every queued job: a 50,000 order backfill ran at 194/s falling
    to 65/s. Only for such batch transactions: planning every statement costs the hot webhook path more
    than it gains (its look-ups are by one key, on a unique index). No-op on SQLite.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def alembic_config(url: str) -> AlembicConfig:
    """An Alembic configuration pointing at the migrations shipped inside the package."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def create_private_file(path: Path) -> None:
    """Create the SQLite file readable by its owner only (0600, in a 0700 folder) if it does not exist.

    It holds password hashes, session ids and encrypted secrets; SQLite would create it with the umask's
    mode (often world-readable), and gives its -wal and -shm files the database file's mode.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):  # an existing database keeps the mode its owner gave it
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # SQLite's own lower() (and so ILIKE) folds ASCII only: "École" would never match "école". PostgreSQL's
    # folds every letter; replacing lower() keeps searches and name look-ups the same on both.
    dbapi_conn.create_function("lower", 1, _unicode_lower, deterministic=True)
    # Autocommit at the driver level so we control BEGIN ourselves (see _sqlite_begin).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # BEGIN IMMEDIATE takes the write lock up front: two threads can then never deadlock upgrading a read
    # lock to a write lock, which plain SQLite answers with an immediate "database is locked".
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_database(url: str, **engine_kwargs: Any) -> Database:
    """Build the engine for ``url`` with the settings each backend needs."""
    statements = None
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:" and not path.startswith("file:"):
            create_private_file(Path(path))
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **engine_kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    else:
        engine = create_engine(url, **{"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20,
                                       **engine_kwargs})
        statements = create_engine(url, **{"pool_size": 5, "max_overflow": 20, **engine_kwargs,
                                           "pool_pre_ping": False, "isolation_level": "AUTOCOMMIT"})
    return Database(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False),
                    statement_engine=statements)


def open_database(config: Config, *, upgrade: bool = False) -> Database:
    """Configure encryption, connect, and (when asked) bring the schema up to date."""
    encryption.configure(encryption.load_or_create_key(config.secret_key, config.data_dir))
    db = create_database(config.database_url)
    if upgrade:
        db.upgrade()
    return db
