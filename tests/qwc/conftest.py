"""Fixtures for the Web Connector tests."""

from __future__ import annotations

import pytest

from qbsync.storage.models import Connection
from tests.engine.conftest import first_contact_done

# No scheduled list refreshes, the first contact done: a session then has exactly the work a test queued.
QUIET_SETTINGS = {"list_refresh_hours": 0}


@pytest.fixture
def make_quiet_connection(make_connection, runtime):
    """Like ``make_connection``, with the periodic reference-list refresh turned off."""

    def factory(name: str = "shop", **overrides) -> Connection:
        conn = make_connection(name, **overrides)
        with runtime.db.transaction() as session:
            session.get(Connection, conn.id).settings = dict(QUIET_SETTINGS)
            first_contact_done(session, conn.id)
        return conn

    return factory


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    """Argon2 with tiny parameters: these tests sign in dozens of times and only the logic is under test."""
    from argon2 import PasswordHasher

    from qbsync import passwords

    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
