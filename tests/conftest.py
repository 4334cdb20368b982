"""Shared fixtures: a migrated database (SQLite, or the real PostgreSQL when QBSYNC_TEST_DATABASE_URL is set),
the runtime and Flask app on it, a live HTTP server, and the reference folder.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from cryptography.fernet import Fernet
from hypothesis import settings
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from qbsync.config import Config, normalize_database_url
from qbsync.service.background import Dispatcher
from qbsync.service.runtime import Runtime, install
from qbsync.storage import encryption
from qbsync.storage.db import Database, create_database
from qbsync.storage.models import Base

REPO_ROOT = Path(__file__).resolve().parent.parent

# Property tests explore new examples on every developer run; in CI they replay the same examples each
# time, so a pass or a failure does not depend on the run (hypothesis' own advice for CI).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
TEST_SECRET_KEY = Fernet.generate_key().decode()


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing() -> Iterator[None]:
    """Real argon2 hashes, with the cheapest parameters: the suite creates hundreds of accounts."""
    from argon2 import PasswordHasher

    from qbsync import passwords

    saved = passwords._hasher
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    yield
    passwords._hasher = saved


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The shared reference folder (../shared/reference beside the repo, or $QBSYNC_REFERENCE_DIR)."""
    path = Path(os.environ.get("QBSYNC_REFERENCE_DIR") or REPO_ROOT.parent / "shared" / "reference")
    if not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"reference folder {path} is missing; CI must have shared/ beside the repo")
        pytest.skip(f"reference folder {path} not found (set QBSYNC_REFERENCE_DIR)")
    return path


def _database_url(tmp_root: Path) -> str:
    url = os.environ.get("QBSYNC_TEST_DATABASE_URL")
    if url:
        return normalize_database_url(url)
    return f"sqlite:///{tmp_root / 'test.sqlite3'}"


@contextmanager
def fresh_postgres_database(url: str, prefix: str = "qbsync_test") -> Iterator[str]:
    """A new, empty database beside the one ``url`` names (its URL), dropped at the end."""
    base = make_url(url)
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    # No pool: a test may restart PostgreSQL, and the drop at the end needs a fresh connection.
    admin = create_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The database this test run owns.

    On PostgreSQL a fresh database is created beside the one named by QBSYNC_TEST_DATABASE_URL and dropped
    afterwards, so two runs on one server (a developer's and CI's, or parallel sessions) never collide.
    """
    url = _database_url(tmp_path_factory.mktemp("db"))
    if not url.startswith("postgresql"):
        yield url
        return
    with fresh_postgres_database(url) as fresh:
        yield fresh


@pytest.fixture(scope="session")
def _migrated_database(database_url: str) -> Iterator[Database]:
    encryption.configure(TEST_SECRET_KEY)
    db = create_database(database_url)
    db.upgrade()
    yield db
    db.dispose()


def _clear(db: Database) -> None:
    # DELETE, not TRUNCATE: on tables this small it is ten times faster on PostgreSQL. (SQLite ids restart
    # by themselves once a table is empty.)
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        for name in tables:
            conn.execute(text(f"DELETE FROM {name}"))
        if db.engine.dialect.name == "postgresql":
            sequences = conn.execute(text(
                "SELECT sequence_schema || '.' || sequence_name FROM information_schema.sequences"
            )).scalars().all()
            for sequence in sequences:
                conn.execute(text(f"ALTER SEQUENCE {sequence} RESTART WITH 1"))


@pytest.fixture
def db(_migrated_database: Database) -> Iterator[Database]:
    """A migrated, empty database; emptied again after the test."""
    encryption.configure(TEST_SECRET_KEY)
    _clear(_migrated_database)
    yield _migrated_database
    _clear(_migrated_database)


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> Config:
    """Configuration for the test database; Redis only when QBSYNC_TEST_REDIS_URL is set and asked for."""
    return Config(database_url=database_url, redis_url=None, data_dir=tmp_path, secret_key=TEST_SECRET_KEY,
                  session_stale_seconds=600, ticket_ttl_seconds=3600)


@pytest.fixture
def runtime(db: Database, config: Config) -> Iterator[Runtime]:
    """The installed runtime (in-process background jobs)."""
    rt = Runtime(config=config, db=db, dispatcher=Dispatcher(config))
    install(rt)
    yield rt
    rt.dispatcher.shutdown(wait=True)


def xdist_worker_index() -> int:
    """This test process's number under pytest-xdist (worker gw0 is 0, gw1 is 1...); 0 in a plain run."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) if worker.startswith("gw") else 0


def worker_redis_url(url: str, index: int) -> str:
    """The Redis database of test process ``index``: the one ``url`` names, counted down by the index.

    With QBSYNC_TEST_REDIS_URL naming db 15, a plain run and worker gw0 use 15, gw1 uses 14, and so on, so
    the rq queues and the pending marks (fixed names such as ``qbsync:queued-run:...``) of two test
    processes never meet.
    """
    parts = urlsplit(url)
    named = parts.path.strip("/")
    if named and not named.isdigit():
        raise ValueError(f"QBSYNC_TEST_REDIS_URL must name its database by number (redis://host/15): {url}")
    number = int(named or 0) - index
    if number < 0:
        raise ValueError(f"QBSYNC_TEST_REDIS_URL names db {named or 0}: too low for test process {index} "
                         f"(each test process counts one down from it)")
    return urlunsplit(parts._replace(path=f"/{number}"))


@pytest.fixture
def redis_url() -> str:
    """The real Redis, when the CI leg provides it: a database of this test process's own."""
    url = os.environ.get("QBSYNC_TEST_REDIS_URL")
    if not url:
        pytest.skip("QBSYNC_TEST_REDIS_URL not set (the CI leg with real Redis runs this)")
    try:
        return worker_redis_url(url, xdist_worker_index())
    except ValueError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def app(runtime: Runtime):
    from qbsync.service.app import create_app

    flask_app = create_app(runtime=runtime)
    flask_app.config["TESTING"] = True
    return flask_app


@pytest.fixture
def client(app):
    return app.test_client()


class LiveServer:
    """A real HTTP server (waitress) on a free loopback port, in a background thread."""

    def __init__(self, wsgi_app) -> None:
        from waitress.server import create_server

        self._server = create_server(wsgi_app, host="127.0.0.1", port=0, threads=8, ident="qbsync-test")
        self.port = self._server.effective_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        # Close every socket from inside the server's own loop (closing them from this thread makes the
        # loop trip over dead file descriptors); the loop ends when its socket map is empty.
        server = self._server

        def close_all() -> None:
            for channel in list(server._map.values()):
                channel.close()

        try:
            server.trigger.pull_trigger(close_all)
        except OSError:  # the loop has already closed its trigger: close from here instead
            server.close()
        self._thread.join(timeout=5)
        server.task_dispatcher.shutdown()


@pytest.fixture
def live_server(app) -> Iterator[LiveServer]:
    """The app served over real HTTP; ``live_server.url`` is its base URL."""
    server = LiveServer(app).start()
    yield server
    server.stop()


@pytest.fixture
def make_connection(runtime: Runtime):
    """Create a connection (defaults for everything not given) and return its name and password."""
    from qbsync.connections import NewConnection, add_connection

    def factory(name: str = "shop", **overrides):
        spec = dict(name=name, platform="woocommerce", store_url="https://shop.example.com",
                    webhook_secret="my-webhook-secret", qbwc_username=f"{name}-qbwc",
                    qbwc_password="correct horse battery", api_credentials=None)
        spec.update(overrides)
        with runtime.db.transaction() as session:
            conn = add_connection(session, NewConnection(**spec))
            return conn

    return factory


# Fixtures through which a test reaches the database or Redis: the only tests whose outcome the second
# CI leg (PostgreSQL + Redis) can change.
_BACKEND_FIXTURES = frozenset({"database_url", "redis_url"})


# Parameters that choose the simulated QuickBooks company (tests/engine/conftest.py, test_refunds.py,
# test_gift_cards.py, test_currency.py).
_PROFILE_PARAMS = frozenset({"profile", "books_shop", "gift_shop", "currency_books"})
# The browser tests: what they add to the page tests is the rendering and the scripts in Chromium; the
# pages' queries run on PostgreSQL in the page tests through Flask's client (tests/pages/test_*.py).
_BROWSER_TESTS = "tests/pages/test_browser.py"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With QBSYNC_TEST_BACKENDS_ONLY set (the CI leg on PostgreSQL and Redis), leave out the tests that
    never touch a database or Redis (they ran in the first leg and would run identically again), the
    volume tests, the second and later simulated company profiles of a test, and the browser tests."""
    if not os.environ.get("QBSYNC_TEST_BACKENDS_ONLY"):
        return
    keep: list[pytest.Item] = []
    left_out: list[pytest.Item] = []
    first_profile: dict[str, object] = {}
    for item in items:
        uses_backend = _BACKEND_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        # Volume tests (thousands of orders through the batching and the push) ran in leg 1; smaller
        # tests of the same code run on PostgreSQL, and this keeps CI within its 20 minutes.
        volume = item.get_closest_marker("volume") is not None
        # The company profiles try the engine against QuickBooks companies of other shapes, which leg 1
        # did on SQLite; what this leg tries is the database and Redis, so one profile of each test does.
        params = getattr(getattr(item, "callspec", None), "params", {})
        other_profile = False
        for name in _PROFILE_PARAMS.intersection(params):
            function = item.nodeid.split("[")[0]
            first = first_profile.setdefault(function, params[name])
            other_profile = params[name] != first
        browser = item.nodeid.startswith(_BROWSER_TESTS)
        (keep if uses_backend and not volume and not other_profile and not browser else left_out).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = keep


@dataclass(frozen=True)
class Statement:
    """One statement an engine ran: its text, its parameters, and whether it ran as an executemany."""

    text: str
    parameters: Any
    many: bool

    @property
    def rows(self) -> int:
        """How many parameter sets it ran with."""
        return len(self.parameters) if self.many else 1


@contextmanager
def statements_run(engine: Any) -> Iterator[list[Statement]]:
    """Every statement ``engine`` runs inside the block, in order (what a test counts or reads again)."""
    from sqlalchemy import event

    seen: list[Statement] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        seen.append(Statement(statement, parameters, many))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", keep)
