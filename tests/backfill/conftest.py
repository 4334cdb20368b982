"""Backfill, sweep and stock write-back tests: a storefront double over real HTTP on loopback, and
connections pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from qbsync.simulator.storefront import StorefrontDouble
from qbsync.storage.models import PushRun, QueueJob, StorefrontRecord


@pytest.fixture
def double() -> Iterator[StorefrontDouble]:
    """A WooCommerce + Shopify double; its Shopify bucket drains fast so tests never wait on it."""
    with StorefrontDouble(leak_rate=100.0) as running:
        yield running


@pytest.fixture
def store(double, make_connection):
    """Make a connection to the double: ``store("woocommerce")``; ``credentials`` replaces the right ones."""

    def factory(platform: str, name: str | None = None, credentials: dict[str, Any] | None = None):
        if credentials is None:
            credentials = ({"consumer_key": double.consumer_key, "consumer_secret": double.consumer_secret}
                           if platform == "woocommerce" else {"access_token": double.access_token})
        return make_connection(name or platform[:4], platform=platform, store_url=double.base_url,
                               api_credentials=credentials)

    return factory


class Reads:
    """What the service stored, read back in fresh transactions."""

    def __init__(self, runtime) -> None:
        self.runtime = runtime

    def run(self, push_id: int) -> PushRun:
        with self.runtime.db.transaction() as session:
            return session.get(PushRun, push_id)

    def jobs(self, kind: str | None = None) -> list[QueueJob]:
        """Queued jobs (not the finished rows noting orders the rules leave out)."""
        with self.runtime.db.transaction() as session:
            stmt = select(QueueJob).where(QueueJob.state != "cancelled").order_by(QueueJob.id)
            if kind is not None:
                stmt = stmt.where(QueueJob.kind == kind)
            return list(session.scalars(stmt))

    def job(self, job_id: int) -> QueueJob:
        with self.runtime.db.transaction() as session:
            return session.get(QueueJob, job_id)

    def job_count(self) -> int:
        with self.runtime.db.transaction() as session:
            return session.scalar(select(func.count()).select_from(QueueJob))

    def records(self, record_type: str) -> dict[str, StorefrontRecord]:
        with self.runtime.db.transaction() as session:
            rows = session.scalars(select(StorefrontRecord)
                                   .where(StorefrontRecord.record_type == record_type))
            return {row.record_id: row for row in rows}


@pytest.fixture
def reads(runtime) -> Reads:
    return Reads(runtime)
