"""The missed-webhook sweep: ask the store what changed lately and queue what no webhook brought.

WooCommerce never retries a failed webhook delivery and Shopify gives up after a few hours, so changes made
while the service was down (or unreachable) would otherwise never reach QuickBooks. Every
``sweep_interval_minutes`` (and on demand, ``qbsync sweep CONNECTION``) each connection with API credentials
lists the records modified since its last sweep (checkpoint ``sweep:<type>``; the first time, the last 24
hours), a few minutes overlapped. A record whose stored copy is as new or newer (a webhook brought it) is
left alone; a newer one is handed to :func:`qbsync.queue.intake.record_changed` like a webhook's.

WooCommerce cannot list customers by modification time, so its customers are not swept (an order carries
its customer's details, and an order change is swept). Shopify refunds arrive inside their orders.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from qbsync.queue import settings as sync_settings
from qbsync.queue.intake import record_changed
from qbsync.queue.settings import SyncSettings
from qbsync.service.runtime import Runtime
from qbsync.storage import checkpoints
from qbsync.storage.models import Checkpoint, Connection, utcnow
from qbsync.storefronts.backfill import (
    Entry,
    freshness,
    known_records,
    mark_source,
    preload_mappings,
    read_records,
)
from qbsync.storefronts.clients import StorefrontClient, client_for, has_api_credentials
from qbsync.storefronts.http import StorefrontError
from qbsync.storefronts.platforms import normalizer_for
from qbsync.storefronts.shopify.client import ShopifyClient

log = logging.getLogger(__name__)

FIRST_LOOK_BACK = timedelta(hours=24)
# Changes saved while a sweep was listing (and store clocks a little off) are caught by the next one.
OVERLAP = timedelta(minutes=5)
LAST_RUN = "sweep:last_run"
SWEPT_TYPES = {"woocommerce": ("product", "order"), "shopify": ("customer", "product", "order")}

INTERVAL = sync_settings.BY_NAME["sweep_interval_minutes"]


def checkpoint_name(record_type: str) -> str:
    """The checkpoint holding when ``record_type`` records were last swept."""
    return f"sweep:{record_type}"


@dataclass
class SweepCounts:
    """What the sweep found for one record type: listed by the store, queued, already known (a webhook
    brought them), left out by the queue's rules, unreadable."""

    record_type: str
    since: datetime
    listed: int = 0
    queued: int = 0
    known: int = 0
    excluded: int = 0
    unreadable: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class SweepResult:
    """One connection's sweep; ``error`` is set when the store could not be read (checkpoints not moved)."""

    connection: str
    counts: list[SweepCounts] = field(default_factory=list)
    error: str | None = None

    @property
    def queued(self) -> int:
        return sum(c.queued for c in self.counts)


def sweep_connection(runtime: Runtime, connection_id: int, now: datetime | None = None) -> SweepResult:
    """Sweep one connection now; returns what was found. Store errors are reported in the result (and
    logged), never raised, so one broken store does not stop the others."""
    now = now or utcnow()
    with runtime.db.transaction() as session:
        connection = session.get(Connection, connection_id)
        if connection is None:
            return SweepResult(connection=f"#{connection_id}", error="the connection no longer exists")
        session.expunge(connection)
        since = {t: _since(session, connection_id, t, now) for t in SWEPT_TYPES.get(connection.platform, ())}
    result = SweepResult(connection=connection.name)
    try:
        with client_for(connection) as client:
            for record_type, start in since.items():
                counts = SweepCounts(record_type, start)
                result.counts.append(counts)
                for raws in _changed_pages(client, connection.platform, record_type, start - OVERLAP):
                    _sweep_page(runtime, connection, record_type, raws, counts)
                with runtime.db.transaction() as session:
                    _save(session, connection_id, checkpoint_name(record_type), now)
    except StorefrontError as exc:
        result.error = str(exc)
        log.warning("sweep of connection %s stopped: %s", connection.name, exc)
    for counts in result.counts:
        for problem in counts.problems:
            log.warning("sweep of %s skipped an unreadable record: %s", connection.name, problem)
    if result.queued:
        log.info("sweep of %s queued %d changes no webhook brought", connection.name, result.queued)
    return result


def sweep_all(runtime: Runtime, now: datetime | None = None) -> list[SweepResult]:
    """Periodic task: sweep every connection with API credentials whose ``sweep_interval_minutes`` has
    passed since its last sweep. Several schedulers may run this at once: each sweep is claimed first."""
    now = now or utcnow()
    with runtime.db.transaction() as session:
        connections = list(session.scalars(select(Connection).order_by(Connection.id)))
        due = [c.id for c in connections if has_api_credentials(c) and _claim(session, c, now)]
    return [sweep_connection(runtime, connection_id, now) for connection_id in due]


def _claim(session: Any, connection: Connection, now: datetime) -> bool:
    minutes = int(SyncSettings(connection.settings)[INTERVAL.name])
    if minutes <= 0:
        return False
    row = session.get(Checkpoint, (connection.id, LAST_RUN), with_for_update=True)
    last = _moment(row.value) if row is not None else None
    if last is not None and now - last < timedelta(minutes=minutes) - timedelta(seconds=1):
        return False
    _save(session, connection.id, LAST_RUN, now)
    return True


def _since(session: Any, connection_id: int, record_type: str, now: datetime) -> datetime:
    stored = checkpoints.read(session, connection_id, checkpoint_name(record_type))
    return _moment(stored) or now - FIRST_LOOK_BACK


def _moment(value: str | None) -> datetime | None:
    """A stored checkpoint as naive UTC (the tables' clock)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _save(session: Any, connection_id: int, name: str, moment: datetime) -> None:
    checkpoints.save(session, connection_id, name, moment.replace(tzinfo=UTC).isoformat())


def _changed_pages(client: StorefrontClient, platform: str, record_type: str,
                   since: datetime) -> Iterator[list[dict[str, Any]]]:
    """The store's records of ``record_type`` modified at or after ``since`` (naive UTC), page by page."""
    if platform == "woocommerce":
        listing = (client.iter_orders(modified_after=since) if record_type == "order"
                   else client.iter_products(modified_after=since))
    elif record_type == "order" and isinstance(client, ShopifyClient):
        # Orders paid through several gateways (a gift card among them) come with their transactions.
        orders = client.iter_orders(updated_at_min=since)
        return (client.with_transactions(page.records) for page in orders.pages())
    elif record_type == "customer":
        listing = client.iter_customers(updated_at_min=since)
    else:
        listing = client.iter_products(updated_at_min=since)
    return (page.records for page in listing.pages())


def _sweep_page(runtime: Runtime, connection: Connection, record_type: str, raws: list[dict[str, Any]],
                counts: SweepCounts) -> None:
    found, problems = read_records(connection.platform, record_type, raws)
    counts.listed += len(found) + len(problems)
    counts.unreadable += len(problems)
    counts.problems.extend(problems)
    groups: dict[str, list[Entry]] = {record_type: [Entry.of(record_type, record) for _raw, record in found]}
    if connection.platform == "shopify" and record_type == "order":
        groups["refund"] = _refunds(raws, counts)
    with runtime.db.transaction() as session:
        current = session.get(Connection, connection.id)
        if current is None:
            raise StorefrontError("the connection was deleted during the sweep")
        for group_type, entries in groups.items():
            if not entries:
                continue
            preload_mappings(session, connection.id, entries)
            known = known_records(session, connection.id, group_type, (e.record_id for e in entries))
            stored = []
            for entry in entries:
                if freshness(known.get(entry.record_id), entry.data) in ("same", "stale"):
                    if group_type == record_type:
                        counts.known += 1
                    continue
                job = record_changed(session, current, group_type, entry.record, "updated")
                stored.append(entry.record_id)
                if group_type != record_type:
                    continue
                if job is None:
                    counts.excluded += 1
                else:
                    counts.queued += 1
            mark_source(session, connection.id, group_type, stored, "sweep")


def _refunds(raws: list[dict[str, Any]], counts: SweepCounts) -> list[Entry]:
    """The refunds inside Shopify orders (a missed refunds/create webhook)."""
    normalizer = normalizer_for("shopify")
    entries = []
    for raw in raws:
        try:
            entries.extend(Entry.of("refund", refund) for refund in normalizer.order_refunds(raw))
        except (ValueError, TypeError) as exc:
            counts.problems.append(f"refunds of order {raw.get('id', '?')}: {exc}")
    return entries
