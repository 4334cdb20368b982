"""Stock write-back: send QuickBooks' quantities to the store (queue jobs of kind ``stock_writeback``).

The sync engine's inventory pull (:mod:`qbsync.queue.inventory`) queues one job per changed product with the
payload ``{"product_key", "product_id", "variant_id", "sku", "inventory_item_id", "quantity", ...}`` (the
quantity a decimal string; a newer pull's quantity replaces an unsent one). These jobs are never sent to
QuickBooks (``jobs.BACKGROUND_KINDS``): :func:`run_stock_writebacks` claims them in batches and writes them to
the store, WooCommerce through ``products/batch`` (up to 100 per request), Shopify through
``inventory_levels/set`` one item at a time, paced by the client's leaky-bucket rate limiting. Quantities are
absolute, so writing one twice is harmless.

Outcomes: written → done. The store unreachable, rate limiting or refused credentials → tried again later
with growing waits (the reason says what to fix), then parked after :data:`MAX_ATTEMPTS`. The store refusing
one item (not tracked, unknown id) or a quantity the store cannot hold → parked with the store's words.
A job superseded by a newer quantity for the same product is cancelled in its favour.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from qbsync.queue import jobs
from qbsync.queue.settings import SyncSettings
from qbsync.service.background import DispatchFailed
from qbsync.service.runtime import Runtime, current
from qbsync.storage.db import Database
from qbsync.storage.models import Connection, QueueJob, StorefrontRecord, utcnow
from qbsync.storefronts.clients import client_for
from qbsync.storefronts.http import (
    StorefrontAuthError,
    StorefrontError,
    StorefrontRateLimited,
    StorefrontSetupError,
    StorefrontUnavailable,
)
from qbsync.storefronts.shopify.client import ShopifyClient
from qbsync.storefronts.woocommerce.client import MAX_BATCH, StockUpdate, WooCommerceClient

log = logging.getLogger(__name__)

KIND = "stock_writeback"
JOB = "qbsync.storefronts.writeback:write_back_stock"
BATCH = MAX_BATCH  # jobs claimed at a time: one WooCommerce batch request
MAX_ATTEMPTS = 10
# A job "in_flight" this long was being written by a worker that died: it is tried again.
STALE_IN_FLIGHT = timedelta(minutes=10)
# How long jobs wait before the next try when the connection has no usable credentials.
SETUP_RETRY = timedelta(minutes=15)


@dataclass(frozen=True)
class Outcome:
    """What became of one job: "done", "retry" (after ``delay`` at least) or "park"; ``message`` in words."""

    state: str
    message: str
    delay: timedelta | None = None


@dataclass
class WritebackResult:
    """What one run did for one connection."""

    written: int = 0
    retrying: int = 0
    parked: int = 0
    error: str | None = None


def dispatch_stock_writebacks(runtime: Runtime, connection_id: int) -> bool:
    """Hand the connection's ready write-backs to a background worker (e.g. right after an inventory pull
    committed); False when the background queue is down (the periodic task picks them up)."""
    try:
        runtime.dispatcher.submit(JOB, connection_id)
    except DispatchFailed as exc:
        log.warning("stock write-backs of connection %s not dispatched: %s", connection_id, exc)
        return False
    return True


def write_back_stock(connection_id: int) -> WritebackResult:
    """Background job (by name :data:`JOB`): :func:`run_stock_writebacks` with the process's runtime."""
    return run_stock_writebacks(current(), connection_id)


def run_due_writebacks(runtime: Runtime) -> dict[int, WritebackResult]:
    """Periodic task: run the write-backs of every connection that has some ready (or stuck)."""
    now = utcnow()
    with runtime.db.transaction() as session:
        ids = list(session.scalars(select(QueueJob.connection_id).where(
            QueueJob.kind == KIND,
            ((QueueJob.state == "pending") & (QueueJob.not_before.is_(None) | (QueueJob.not_before <= now)))
            | ((QueueJob.state == "in_flight") & (QueueJob.updated_at <= now - STALE_IN_FLIGHT)),
        ).distinct()))
    return {connection_id: run_stock_writebacks(runtime, connection_id) for connection_id in sorted(ids)}


def run_stock_writebacks(runtime: Runtime, connection_id: int, *, limit: int = 1000,
                         now: datetime | None = None) -> WritebackResult:
    """Write the connection's ready stock write-backs to its store, at most ``limit`` jobs; returns counts.

    Safe to run in several workers at once: jobs are claimed (``in_flight``) before they are written.
    """
    db = runtime.db
    result = WritebackResult()
    _recover_stale(db, connection_id, now)
    with db.transaction() as session:
        connection = session.get(Connection, connection_id)
        if connection is None:
            result.error = "the connection no longer exists"
            return result
        session.expunge(connection)
    try:
        client = client_for(connection)
    except StorefrontSetupError as exc:  # missing credentials: the jobs say what to add, and wait
        result.error = str(exc)
        _hold_for_setup(db, connection_id, str(exc), now)
        return result
    with client:
        handled = 0
        while handled < limit:
            claimed = _claim(db, connection_id, min(BATCH, limit - handled), now)
            if not claimed:
                break
            handled += len(claimed)
            if isinstance(client, WooCommerceClient):
                outcomes = _write_woocommerce(client, claimed)
            else:
                outcomes = _write_shopify(db, connection_id, client, claimed)
            _finish(db, connection, outcomes, result)
    return result


# --- claiming and finishing -------------------------------------------------------------------------


def _recover_stale(db: Database, connection_id: int, now: datetime | None) -> None:
    now = now or utcnow()
    with db.transaction() as session:
        for job in session.scalars(select(QueueJob).where(
                QueueJob.connection_id == connection_id, QueueJob.kind == KIND, QueueJob.state == "in_flight",
                QueueJob.updated_at <= now - STALE_IN_FLIGHT).with_for_update(skip_locked=True)):
            job.state, job.updated_at = "pending", now
            job.reason = "the worker writing this stock stopped; trying again"


def _claim(db: Database, connection_id: int, size: int, now: datetime | None) -> dict[int, dict[str, Any]]:
    """Mark up to ``size`` ready jobs in flight; job id -> payload."""
    now = now or utcnow()
    with db.transaction() as session:
        claimed = session.scalars(select(QueueJob).where(
            QueueJob.connection_id == connection_id, QueueJob.kind == KIND, QueueJob.state == "pending",
            QueueJob.not_before.is_(None) | (QueueJob.not_before <= now),
        ).order_by(QueueJob.priority, QueueJob.id).limit(size).with_for_update(skip_locked=True)).all()
        for job in claimed:
            job.state, job.attempts, job.updated_at, job.session_id = "in_flight", job.attempts + 1, now, None
        return {job.id: dict(job.payload or {}) for job in claimed}


def _hold_for_setup(db: Database, connection_id: int, reason: str, now: datetime | None) -> None:
    now = now or utcnow()
    with db.transaction() as session:
        for job in session.scalars(select(QueueJob).where(
                QueueJob.connection_id == connection_id, QueueJob.kind == KIND, QueueJob.state == "pending",
                QueueJob.not_before.is_(None) | (QueueJob.not_before <= now),
        ).with_for_update(skip_locked=True)):
            job.reason, job.not_before, job.updated_at = reason, now + SETUP_RETRY, now


def _finish(db: Database, connection: Connection, outcomes: dict[int, Outcome],
            result: WritebackResult) -> None:
    settings = SyncSettings(connection.settings)
    with db.transaction() as session:
        for job_id, outcome in sorted(outcomes.items()):
            job = session.get(QueueJob, job_id, with_for_update=True)
            if job is None or job.state != "in_flight":
                continue
            job.last_message = outcome.message[:4000]
            if outcome.state == "done":
                jobs.mark_done(session, job)
                result.written += 1
                continue
            newer = [j for j in jobs.dependents(session, job) if j.kind == KIND]
            if newer:
                # Quantities are absolute: the newer one replaces this one, and is tried now.
                job.state, job.updated_at = "cancelled", utcnow()
                job.reason = (f"replaced by a newer quantity (job #{newer[-1].id}); "
                              f"last try: {outcome.message}")
                jobs.wake_dependents(session, job)
                continue
            if outcome.state == "retry" and job.attempts < MAX_ATTEMPTS:
                delay = jobs.backoff(job.attempts, int(settings.retry_base_seconds),
                                     int(settings.retry_max_seconds))
                jobs.retry_later(session, job, outcome.message, max(delay, outcome.delay or timedelta()))
                result.retrying += 1
            else:
                tries = f" (after {job.attempts} tries)" if outcome.state == "retry" else ""
                jobs.park(session, job, f"{outcome.message}{tries}")
                result.parked += 1


# --- writing ----------------------------------------------------------------------------------------


class _Unusable(ValueError):
    """A job whose payload cannot be written (no product id, a fraction of a unit...)."""


def _label(payload: dict[str, Any]) -> str:
    return str(payload.get("sku") or payload.get("item") or payload.get("product_key")
               or payload.get("variant_id") or payload.get("product_id") or "item")


def _whole(payload: dict[str, Any]) -> int:
    raw = payload.get("quantity")
    try:
        quantity = Decimal(str(raw))
    except InvalidOperation:
        raise _Unusable(f"{_label(payload)}: {raw!r} is not a quantity") from None
    if not quantity.is_finite() or quantity != quantity.to_integral_value():
        raise _Unusable(f"{_label(payload)}: the store keeps whole units, QuickBooks has {raw}; round the "
                        "quantity in QuickBooks or turn off stock write-back for this item")
    return int(quantity)


def _store_id(payload: dict[str, Any], key: str) -> int | None:
    value = str(payload.get(key) or "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise _Unusable(f"{_label(payload)}: {key} {value!r} is not a store id")
    return int(value)


def _everyone(claimed: Iterable[int], outcome: Outcome) -> dict[int, Outcome]:
    return {job_id: outcome for job_id in claimed}


def _failure(exc: StorefrontError) -> Outcome:
    """A failure that concerns the whole store, not one item: try again later."""
    delay = timedelta(seconds=exc.retry_after) if isinstance(exc, StorefrontRateLimited) and exc.retry_after \
        else None
    return Outcome("retry", str(exc), delay)


def _write_woocommerce(client: WooCommerceClient, claimed: dict[int, dict[str, Any]]) -> dict[int, Outcome]:
    outcomes: dict[int, Outcome] = {}
    updates: dict[int, StockUpdate] = {}
    for job_id, payload in claimed.items():
        try:
            variant = _store_id(payload, "variant_id")
            product = _store_id(payload, "product_id") or _store_id(payload, "parent_id")
            if product is None:
                raise _Unusable(f"{_label(payload)}: the WooCommerce product id is not known; push the "
                                "store's products (qbsync push --type products) so qbsync learns it")
            updates[job_id] = StockUpdate(product, variant if variant != product else None, _whole(payload))
        except ValueError as exc:  # _Unusable, or StockUpdate's own check
            outcomes[job_id] = Outcome("park", str(exc))
    if not updates:
        return outcomes
    try:
        results = client.set_stock(list(updates.values()))
    except StorefrontError as exc:  # refused credentials: nothing else would work either
        return {**outcomes, **_everyone(updates, _failure(exc))}
    for job_id, written in zip(updates, results, strict=True):
        if written.ok:
            outcomes[job_id] = Outcome("done", f"{_label(claimed[job_id])}: WooCommerce stock set to "
                                               f"{written.quantity if written.quantity is not None else '?'}")
        else:
            outcomes[job_id] = Outcome("retry" if written.retryable else "park", written.error or "refused")
    return outcomes


def _write_shopify(db: Database, connection_id: int, client: ShopifyClient,
                   claimed: dict[int, dict[str, Any]]) -> dict[int, Outcome]:
    items = _inventory_items(db, connection_id, claimed)
    outcomes: dict[int, Outcome] = {}
    pending = list(claimed)
    while pending:
        job_id = pending.pop(0)
        payload = claimed[job_id]
        try:
            quantity = _whole(payload)
            item = items.get(job_id)
            if item is None:
                raise _Unusable(f"{_label(payload)}: the Shopify inventory item is not known; push the "
                                "store's products (qbsync push --type products) so qbsync learns it")
            level = client.set_inventory(item, quantity, _store_id(payload, "location_id"))
            outcomes[job_id] = Outcome("done", f"{_label(payload)}: Shopify now shows "
                                               f"{level.get('available', quantity)} available")
        except _Unusable as exc:
            outcomes[job_id] = Outcome("park", str(exc))
        except (StorefrontAuthError, StorefrontSetupError, StorefrontUnavailable) as exc:
            # The whole store is refusing or unreachable: the rest of the batch waits too.
            failure = _failure(exc)
            outcomes.update(_everyone([job_id, *pending], failure))
            break
        except (StorefrontError, ValueError) as exc:  # Shopify refused this item (not tracked, unknown)
            outcomes[job_id] = Outcome("park", f"{_label(payload)}: {exc}")
    return outcomes


def _inventory_items(db: Database, connection_id: int, claimed: dict[int, dict[str, Any]]) -> dict[int, int]:
    """Job id -> Shopify inventory item id: from the payload, else from the stored variant record."""
    found: dict[int, int] = {}
    missing: dict[str, list[int]] = {}
    for job_id, payload in claimed.items():
        try:
            item = _store_id(payload, "inventory_item_id")
        except _Unusable:
            item = None
        if item is not None:
            found[job_id] = item
        elif payload.get("variant_id") or payload.get("product_key"):
            key = str(payload.get("variant_id") or payload.get("product_key"))
            missing.setdefault(key, []).append(job_id)
    if missing:
        with db.transaction() as session:
            rows = session.execute(select(StorefrontRecord.record_id, StorefrontRecord.data).where(
                StorefrontRecord.connection_id == connection_id, StorefrontRecord.record_type == "product",
                StorefrontRecord.record_id.in_(sorted(missing))))
            for record_id, data in rows:
                stored = str((data or {}).get("inventory_item_id") or "")
                if stored.isdigit():
                    for job_id in missing[record_id]:
                        found[job_id] = int(stored)
    return found
