"""When an inventory pull is queued (``inventory.pull_due``, asked before every round trip): only while
QuickBooks masters some stock and stock items are linked, never while a pull is queued or being read, and
then once per Web Connector session, or every ``inventory_pull_minutes``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from qbsync.queue import inventory, mappings
from qbsync.queue.settings import SyncSettings
from qbsync.storage.models import IdMapping, QbwcSession, QueueJob, utcnow


@pytest.fixture
def conn_id(make_connection):
    return make_connection().id


def _settings(**overrides: object) -> SyncSettings:
    return SyncSettings({"stock_master": "quickbooks", "inventory_pull_minutes": 0, **overrides})


def _link_item(session, conn_id: int, qb_type: str = "ItemInventory") -> None:
    session.add(IdMapping(connection_id=conn_id, record_type=mappings.PRODUCT, storefront_id=qb_type,
                          qb_type=qb_type, qb_id="80000001-1"))


def _session_started(session, conn_id: int, at, state: str = "active") -> None:
    session.add(QbwcSession(connection_id=conn_id, ticket=f"t-{at.timestamp()}-{state}", state=state,
                            started_at=at, expires_at=at + timedelta(hours=1)))


def test_no_pull_while_the_store_masters_all_stock_or_no_stock_item_is_linked(runtime, conn_id):
    now = utcnow()
    with runtime.db.transaction() as s:
        _session_started(s, conn_id, now - timedelta(minutes=1))
        _link_item(s, conn_id, qb_type="ItemNonInventory")
        s.flush()
        assert not inventory.pull_due(s, conn_id, _settings(), now)
        _link_item(s, conn_id)
        s.flush()
        assert not inventory.pull_due(s, conn_id, _settings(stock_master="storefront"), now)
        assert inventory.pull_due(s, conn_id, _settings(), now)


def test_a_pull_rides_along_once_per_session_and_never_while_one_is_queued_or_read(runtime, conn_id):
    now = utcnow()
    with runtime.db.transaction() as s:
        _link_item(s, conn_id)
        _session_started(s, conn_id, now - timedelta(minutes=5))
        s.flush()
        assert inventory.pull_due(s, conn_id, _settings(), now)
        assert inventory.pull_due(s, conn_id, _settings(), now, in_session=False)  # the first, at sign-in too
        pull = inventory.request_pull(s, conn_id, now)
        s.flush()
        assert not inventory.pull_due(s, conn_id, _settings(), now)  # queued
        pull.state = "in_flight"
        s.flush()
        assert not inventory.pull_due(s, conn_id, _settings(), now)  # being read
        pull.state = "done"
        s.flush()
        assert not inventory.pull_due(s, conn_id, _settings(), now + timedelta(hours=5))  # same session
        _session_started(s, conn_id, now + timedelta(minutes=1), state="closed")
        s.flush()
        assert not inventory.pull_due(s, conn_id, _settings(), now + timedelta(hours=5))  # not active
        _session_started(s, conn_id, now + timedelta(minutes=2))
        s.flush()
        assert inventory.pull_due(s, conn_id, _settings(), now + timedelta(hours=5))  # a new session
        assert not inventory.pull_due(s, conn_id, _settings(), now + timedelta(hours=5), in_session=False)


def test_with_minutes_set_a_pull_is_due_once_they_have_passed_and_none_is_queued(runtime, conn_id):
    now = utcnow()
    every = _settings(inventory_pull_minutes=30)
    with runtime.db.transaction() as s:
        _link_item(s, conn_id)
        s.flush()
        assert inventory.pull_due(s, conn_id, every, now, in_session=False)
        pull = inventory.request_pull(s, conn_id, now)
        s.flush()
        assert not inventory.pull_due(s, conn_id, every, now + timedelta(minutes=31))  # still queued
        pull.state = "done"
        s.flush()
        assert not inventory.pull_due(s, conn_id, every, now + timedelta(minutes=29))
        assert inventory.pull_due(s, conn_id, every, now + timedelta(minutes=30), in_session=False)
        assert s.query(QueueJob).filter_by(kind=inventory.PULL_KIND).count() == 1
