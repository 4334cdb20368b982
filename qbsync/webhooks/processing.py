"""Processing stored deliveries in the background: normalize, keep the newest state, queue the sync work.

Runs in an rq worker or on the web process's thread pool (``Dispatcher``), and again from the scheduler
for anything left behind. Processing is idempotent: a delivery is worked on only while it is "stored" (or
"failed"), and the row lock plus the state change make a second run a no-op that queues nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qbsync.queue.intake import record_changed, record_id_of
from qbsync.service.background import DispatchFailed
from qbsync.service.runtime import Runtime, current
from qbsync.storage.db import Database
from qbsync.storage.models import Connection, StorefrontRecord, WebhookDelivery, utcnow
from qbsync.storefronts.platforms import normalizer_for
from qbsync.storefronts.records import InvalidPayload
from qbsync.webhooks import confirm, payments, refunds
from qbsync.webhooks.envelope import SYNCED_RECORDS, naive_utc, parse_payload, resource_payload

log = logging.getLogger(__name__)

PROCESS_JOB = "qbsync.webhooks.processing:process_delivery"
# The run that works through newly stored deliveries; a burst of webhooks queues one, not one each.
NEW_DELIVERIES_JOB = "qbsync.webhooks.processing:process_new_deliveries"
NEW_DELIVERIES_KEY = "new-webhook-deliveries"
# Deliveries claimed per transaction, and per run: a run stops there and queues the next, so a long burst
# never meets the worker's job timeout and a second worker can share the work.
_CLAIM = 50
_RUN_LIMIT = 2_000
# A delivery still "stored" this long after it arrived was never picked up (e.g. Redis was down).
REDISPATCH_AFTER = timedelta(seconds=30)
# Processing attempts before a delivery is left "failed" for a person to look at.
MAX_ATTEMPTS = 5
_RUNNABLE = ("stored", "failed")
_BATCH = 500


@dataclass(frozen=True)
class DeletedRecord:
    """What the queue is told about a deleted record: its id and the last data we had for it."""

    record_id: str
    last_known: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {**self.last_known, "id": self.record_id, "deleted": True}


def dispatch(runtime: Runtime, delivery_id: int) -> bool:
    """Hand a stored delivery to background processing; False (logged) if it could not be queued.

    A delivery that could not be queued stays "stored"; :func:`redispatch_stored` picks it up later.
    """
    try:
        runtime.dispatcher.submit(PROCESS_JOB, delivery_id)
    except DispatchFailed as exc:
        log.warning("webhook delivery %s stored but not queued (will retry): %s", delivery_id, exc)
        return False
    return True


def announce(runtime: Runtime) -> bool:
    """Tell background processing that new deliveries are stored; False (logged) if it could not be told.

    What was not announced stays "stored" with no attempt; :func:`redispatch_stored` picks it up later.
    """
    try:
        runtime.dispatcher.submit_once(NEW_DELIVERIES_JOB, key=NEW_DELIVERIES_KEY)
    except DispatchFailed as exc:
        log.warning("webhook delivery stored but processing not queued (will retry): %s", exc)
        return False
    return True


def process_new_deliveries() -> int:
    """Background job: process newly stored deliveries, oldest first; returns how many it processed."""
    runtime = current()
    runtime.dispatcher.started(NEW_DELIVERIES_KEY)
    done = process_new(runtime.db, limit=_RUN_LIMIT)
    if done >= _RUN_LIMIT:
        announce(runtime)  # more may be waiting: the next run (on any worker) goes on
    return done


def process_new(db: Database, limit: int) -> int:
    """Claim and process up to ``limit`` deliveries no one has started yet; returns how many.

    A claim counts the attempt, so two runs at once never take the same delivery, and a claimed delivery
    whose run dies stays "stored" with its attempt counted for :func:`redispatch_stored` to retry.
    """
    done = 0
    while done < limit:
        claimed = _claim(db, min(_CLAIM, limit - done))
        if not claimed:
            break
        for delivery_id in claimed:
            _process_started(db, delivery_id)
        done += len(claimed)
    return done


def _claim(db: Database, count: int) -> list[int]:
    with db.transaction() as session:
        ids = list(session.scalars(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.state == "stored", WebhookDelivery.attempts == 0)
            .order_by(WebhookDelivery.id).limit(count).with_for_update(skip_locked=True)))
        if ids:
            session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(ids))
                            .values(attempts=WebhookDelivery.attempts + 1))
        return ids


def process_delivery(delivery_id: int) -> str:
    """Background job: process one stored delivery; returns the delivery's state afterwards."""
    return process(current().db, delivery_id)


def process(db: Database, delivery_id: int) -> str:
    """Normalize the delivery's payload, update the storefront record if newer, queue the sync work.

    The resulting state is "processed", "stale" (older than what we have), "duplicate" (same time and
    content as what we have), "invalid" (the normalizer refused the payload) or "failed" (error kept).
    """
    started = _start_attempt(db, delivery_id)
    if started is not None:
        return started
    return _process_started(db, delivery_id)


def _process_started(db: Database, delivery_id: int) -> str:
    """:func:`process`, once the attempt is counted."""
    store_check: confirm.StoreCheck | None = None
    paid_by: payments.Transactions | None = None
    try:
        while True:
            try:
                with db.transaction() as session:
                    delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
                    if delivery is None or delivery.state not in _RUNNABLE:
                        return delivery.state if delivery is not None else "missing"
                    delivery.error = None
                    state = _apply(session, delivery, store_check, paid_by)
                    delivery.state = state
                    delivery.processed_at = utcnow()
                    noted = refunds.take_noted(session)
                if noted:  # after the commit: a store's answer is never awaited inside the transaction
                    refunds.read_noted_refunds(db, noted)
                return state
            except _AskTheStore as ask:
                # Rolled back, so no row (nor SQLite's write lock) is held while the store answers; then
                # the delivery is applied again with the store's word. Only cancellations and deletions
                # of orders come here.
                store_check = confirm.check(ask.connection, ask.order_id, ask.change)
            except _ReadTransactions as ask:
                paid_by = payments.read_transactions(ask.connection, ask.order_id)
    except InvalidPayload as exc:
        return _finish(db, delivery_id, "invalid", str(exc))
    except Exception as exc:  # kept on the delivery; the scheduler retries a bounded number of times
        log.exception("processing webhook delivery %s failed", delivery_id)
        return _finish(db, delivery_id, "failed", f"{type(exc).__name__}: {exc}")


class _AskTheStore(Exception):  # noqa: N818 - a request, not an error
    """Raised inside the transaction when a delivery would cancel or delete an order: ask the store first."""

    def __init__(self, connection: Connection, order_id: str, change: str) -> None:
        super().__init__(change)
        self.connection = _detached(connection)
        self.order_id, self.change = order_id, change


class _ReadTransactions(Exception):  # noqa: N818 - a request, not an error
    """Raised inside the transaction when a Shopify order's payment split is only in its transactions."""

    def __init__(self, connection: Connection, order_id: str) -> None:
        super().__init__(order_id)
        self.connection = _detached(connection)
        self.order_id = order_id


def _detached(connection: Connection) -> Connection:
    """A copy outside the session (a rollback expires the session's objects) with what a client needs."""
    return Connection(name=connection.name, platform=connection.platform, store_url=connection.store_url,
                      api_credentials=dict(connection.api_credentials or {}))


def redispatch_stored(runtime: Runtime, now: datetime | None = None) -> int:
    """Periodic task: re-queue deliveries left behind; returns how many were queued.

    "stored" ones older than :data:`REDISPATCH_AFTER` were never picked up (or their worker died);
    "failed" ones are retried with growing delays until :data:`MAX_ATTEMPTS`. A stored delivery whose
    processing was started :data:`MAX_ATTEMPTS` times without finishing is marked failed.
    """
    now = now or utcnow()
    with runtime.db.transaction() as session:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.state == "stored", WebhookDelivery.attempts >= MAX_ATTEMPTS)
            .values(state="failed", processed_at=now,
                    error=f"processing was started {MAX_ATTEMPTS} times and never finished")
        )
        due = session.execute(
            select(WebhookDelivery.id, WebhookDelivery.state, WebhookDelivery.attempts)
            .where(_due(now)).order_by(WebhookDelivery.id).limit(_BATCH)
        ).all()
    # Never started: one run of the new-deliveries job takes them all. Started before: one job each.
    never_started = {row.id for row in due if row.state == "stored" and row.attempts == 0}
    queued = len(never_started) if never_started and announce(runtime) else 0
    for delivery_id in (row.id for row in due if row.id not in never_started):
        if not dispatch(runtime, delivery_id):
            break  # the queue is down: the rest wait for the next run
        queued += 1
    if queued:
        log.info("re-queued %d webhook deliveries", queued)
    return queued


def _due(now: datetime) -> ColumnElement[bool]:
    """Deliveries to queue again, waiting longer after each attempt (30 s, 1 min, 2 min, ...) so a slow
    queue is not flooded. Done in SQL so deliveries still backing off never crowd out due ones."""
    attempts, received, last_try = (WebhookDelivery.attempts, WebhookDelivery.received_at,
                                    WebhookDelivery.processed_at)
    stored = [and_(attempts == n, received <= now - REDISPATCH_AFTER * 2**n) for n in range(MAX_ATTEMPTS)]
    failed = [and_(attempts == n, last_try <= now - REDISPATCH_AFTER * 2 ** (n - 1))
              for n in range(1, MAX_ATTEMPTS)]
    return or_(
        and_(WebhookDelivery.state == "stored", or_(*stored)),
        and_(WebhookDelivery.state == "failed", or_(*failed)),
    )


def _start_attempt(db: Database, delivery_id: int) -> str | None:
    """Count an attempt in its own transaction, so a crash mid-way still counts.

    Returns None to go ahead, or the delivery's state when there is nothing to do.
    """
    with db.transaction() as session:
        delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
        if delivery is None:
            log.warning("webhook delivery %s no longer exists", delivery_id)
            return "missing"
        if delivery.state not in _RUNNABLE:
            return delivery.state
        delivery.attempts += 1
        return None


def _finish(db: Database, delivery_id: int, state: str, error: str) -> str:
    with db.transaction() as session:
        delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
        if delivery is None:
            return "missing"
        if delivery.state in _RUNNABLE:
            delivery.state = state
            delivery.error = error[:4000]
            delivery.processed_at = utcnow()
        return delivery.state


def _apply(session: Session, delivery: WebhookDelivery, store_check: confirm.StoreCheck | None = None,
           paid_by: payments.Transactions | None = None) -> str:
    connection = session.get(Connection, delivery.connection_id)
    if connection is None:
        raise LookupError(f"connection {delivery.connection_id} no longer exists")
    normalizer = normalizer_for(delivery.platform)
    record_type, event = normalizer.resource_of_topic(delivery.topic)
    if record_type not in SYNCED_RECORDS:
        raise InvalidPayload(f"topic {delivery.topic!r}: {record_type!r} records are not synced")
    if store_check is not None and store_check.verdict == "refuted":
        delivery.error = store_check.reason
        return "stale"  # the store knows a newer state of the order than this delivery
    # Not confirmed by the store (it could not be asked): kept, but a void waits for a person.
    unconfirmed = store_check.unconfirmed if store_check is not None else None
    if event == "deleted":
        if record_type == "order" and store_check is None and delivery.resource_id:
            raise _AskTheStore(connection, delivery.resource_id, confirm.DELETED)
        return _apply_deletion(session, connection, delivery, record_type, store_check)
    payload = resource_payload(delivery.topic or "", parse_payload(delivery.body))
    if payload is None:
        raise InvalidPayload(f"topic {delivery.topic!r}: the body names no record")
    if record_type == "order" and payments.needed(delivery.platform, payload):
        # Paid through several gateways (a gift card among them): who paid what is in the order's
        # transactions, read from the store outside this transaction, then the delivery is applied again.
        if paid_by is None:
            raise _ReadTransactions(connection, str(payload.get("id") or delivery.resource_id or ""))
        if paid_by.problem:
            delivery.error = f"the order's transactions could not be read from the store: {paid_by.problem}"
        payload = payments.with_transactions(payload, paid_by)
    records = getattr(normalizer, SYNCED_RECORDS[record_type])(payload)
    if not isinstance(records, list | tuple):
        records = [records]
    if record_type == "order" and store_check is None:
        cancelled = [r for r in records if getattr(r, "status", None) == "cancelled"]
        if cancelled:  # a cancellation voids the order's transaction: believed once the store says so
            raise _AskTheStore(connection, record_id_of("order", cancelled[0].to_dict()), confirm.CANCELLED)
    outcomes = []
    for record in records:
        outcome = _keep_newest(session, connection.id, record_type, record, delivery.resource_modified_at)
        outcomes.append(outcome)
        if outcome == "changed":
            record_changed(session, connection, record_type, record, event, unconfirmed=unconfirmed)
        if record_type == "order":
            refunds.note_unseen_refunds(session, connection, record)
    if not outcomes or "changed" in outcomes:
        # No records: e.g. a variable product whose variations arrive as their own deliveries.
        return "processed"
    return "stale" if "stale" in outcomes else "duplicate"


def _keep_newest(session: Session, connection_id: int, record_type: str, record: Any,
                 payload_modified_at: datetime | None) -> str:
    """Store ``record`` unless what we have is newer: "changed", "stale" (older) or "same"."""
    data = record.to_dict()
    record_id = record_id_of(record_type, data)
    # The record's own time (a Shopify variant's updated_at), as the queue's intake compares it; the
    # payload's when the record has none.
    modified = naive_utc(getattr(record, "modified_at", None)) or payload_modified_at
    row = _record_row(session, connection_id, record_type, record_id)
    if row is None:
        row = StorefrontRecord(connection_id=connection_id, record_type=record_type, record_id=record_id,
                               modified_at=modified, data=data, source="webhook", deleted=False)
        try:
            with session.begin_nested():
                session.add(row)
            return "changed"
        except IntegrityError:  # another worker stored this record a moment ago
            row = _record_row(session, connection_id, record_type, record_id)
            if row is None:
                raise
    if row.modified_at is not None and modified is not None:
        if modified < row.modified_at:
            return "stale"
        if modified == row.modified_at and row.data == data and not row.deleted:
            return "same"
    elif row.data == data and not row.deleted:
        return "same"
    # No time to compare (or equal time, different data): the later arrival is the best guess.
    row.data = data
    row.modified_at = modified or row.modified_at
    row.deleted = False
    row.source = "webhook"
    return "changed"


def _apply_deletion(session: Session, connection: Connection, delivery: WebhookDelivery,
                    record_type: str, store_check: confirm.StoreCheck | None = None) -> str:
    """Mark the record (and, for a product, its variants) deleted and tell the queue.

    An order's deletion is dated by the store: the order's last change as its API reports it (trashed),
    else the payload's time. Arrival only dates one the store confirmed by no longer having the order (it
    cannot come back), or an order we never knew; an unconfirmed deletion never moves the order's time
    forward, so it cannot outdate a genuine later change. (Customers and products, whose deletions change
    nothing in QuickBooks, are still dated by arrival when the payload has no time.)
    """
    record_id = delivery.resource_id
    if not record_id:
        raise InvalidPayload("deleted event without a resource id")
    stamped = (store_check.modified_at if store_check is not None else None) or delivery.resource_modified_at
    confirmed_gone = store_check is not None and store_check.verdict == "confirmed"
    deleted_at = stamped or delivery.received_at
    rows: list[Any] = [_record_row(session, connection.id, record_type, record_id)]
    if record_type == "product":
        rows += session.scalars(
            select(StorefrontRecord).where(
                StorefrontRecord.connection_id == connection.id,
                StorefrontRecord.record_type == "product",
                StorefrontRecord.record_id != record_id,
                StorefrontRecord.data["product_id"].as_string() == record_id,
            ).with_for_update()
        ).all()
    if rows[0] is not None and stamped is not None and rows[0].modified_at is not None \
            and rows[0].modified_at > stamped:
        return "stale"  # changed after this deletion (e.g. restored): keep it
    if rows[0] is None:
        # Remember the deletion so a late update from before it cannot bring the record back. A product
        # we only know by its variants is not itself news to the queue.
        placeholder = StorefrontRecord(connection_id=connection.id, record_type=record_type,
                                       record_id=record_id, modified_at=deleted_at, data={},
                                       source="webhook", deleted=len(rows) > 1)
        session.add(placeholder)
        rows[0] = placeholder
    changed = 0
    for row in rows:
        if row.deleted:
            continue
        row.deleted = True
        if record_type != "order" or stamped is not None or confirmed_gone or row.modified_at is None:
            row.modified_at = max(row.modified_at or deleted_at, deleted_at)
        row.source = "webhook"
        record_changed(session, connection, record_type, DeletedRecord(row.record_id, dict(row.data)),
                       "deleted", unconfirmed=store_check.unconfirmed if store_check is not None else None)
        changed += 1
    return "processed" if changed else "duplicate"


def _record_row(session: Session, connection_id: int, record_type: str,
                record_id: str) -> StorefrontRecord | None:
    return session.scalar(
        select(StorefrontRecord).where(
            StorefrontRecord.connection_id == connection_id,
            StorefrontRecord.record_type == record_type,
            StorefrontRecord.record_id == record_id,
        ).with_for_update()
    )
