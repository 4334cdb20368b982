"""Push (the backfill): bring a storefront's existing orders, customers or products into the sync queue.

A push is a ``push_runs`` row. :func:`start_push` creates it and hands :func:`run_push` to a background
worker, which pages through the store's REST API oldest first. Each page is normalized, stored in
``storefront_records`` (source "push", never over newer data) and handed to the queue's entry for many
records, :func:`qbsync.queue.intake.record_changed_many`, in one transaction with the run's counters and
its cursor (the WooCommerce page number or Shopify ``page_info``), so a run cut short resumes where it
stopped (:func:`resume_pushes`, a periodic task) and a page is never counted twice.

What a record counts as:

- **already_synced**: it is already in QuickBooks (an id mapping exists): nothing is queued. Later changes to
  it reach QuickBooks through webhooks and the missed-webhook sweep, not through a push.
- **skipped**: a job for it is already queued, sent or parked (its data is refreshed if the store's is
  newer); the queue's rules leave it out (e.g. a status not synced); or the store's JSON is unreadable.
- **queued**: a new queue job was created for it.

So pushing the same range twice queues nothing new.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from qbsync.queue import jobs, mappings
from qbsync.queue.intake import coalesce_key, record_changed_many, record_id_of
from qbsync.service.background import DispatchFailed
from qbsync.service.runtime import Runtime, current
from qbsync.storage.db import Database, plan_with_values
from qbsync.storage.models import Connection, PushRun, QueueJob, StorefrontRecord, utcnow
from qbsync.storefronts.clients import StorefrontClient, client_for
from qbsync.storefronts.http import Listing, StorefrontError, StorefrontUnavailable
from qbsync.storefronts.platforms import normalizer_for
from qbsync.storefronts.records import (
    ORDER_STATUSES,
    Customer,
    InvalidPayload,
    Order,
    Product,
    Record,
    to_utc,
)
from qbsync.storefronts.shopify.client import ShopifyClient
from qbsync.storefronts.woocommerce.client import WooCommerceClient

log = logging.getLogger(__name__)

PUSH_JOB = "qbsync.storefronts.backfill:run_push"
RECORD_TYPES = ("order", "customer", "product")
# A running push stores progress after every page; one silent this long was cut short (worker died).
STALE_AFTER = timedelta(minutes=10)
# A push paused because the store could not be reached is tried again after this long, this many times.
RETRY_AFTER = timedelta(minutes=2)
MAX_RETRIES = 5
SHOPIFY_IDS_PER_REQUEST = 250
# Job states meaning "already queued": a push adds nothing for these.
QUEUED_STATES = (*jobs.ACTIVE_STATES, "parked")
# Normalized order status -> WooCommerce's own word, for the API's status filter.
_WOO_STATUSES = {status: status.replace("_", "-") for status in ORDER_STATUSES}
_FILTER_KEYS = {"date_from": "date_from", "from": "date_from", "date_to": "date_to", "to": "date_to",
                "statuses": "statuses", "status": "statuses", "ids": "ids", "id": "ids"}
_ONE_SECOND = timedelta(seconds=1)
_SPECIAL_ROLES = ("shipping", "fee", "discount", "tax", "adjustment")
# What a run's cursor holds about where to resume ("finished": every page is in; only the end is left).
_CURSOR_KEYS = ("page", "page_info", "ids", "chunk", "finished")


def record_type_of(value: str) -> str:
    """"orders"/"order" (and so on) as the record type a push stores; ValueError for anything else."""
    clean = str(value or "").strip().lower()
    clean = {"orders": "order", "customers": "customer", "products": "product"}.get(clean, clean)
    if clean not in RECORD_TYPES:
        raise ValueError(f"a push brings orders, customers or products, not {value!r}")
    return clean


# --- filters ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PushFilters:
    """Which records a push takes. Times are aware UTC: ``date_from`` inclusive, ``date_to`` exclusive
    (a date ``to`` includes that whole day). Orders are chosen by creation date; ``ids`` are storefront ids,
    order numbers, customer e-mails or product SKUs; ``statuses`` (orders only) are normalized statuses."""

    date_from: datetime | None = None
    date_to: datetime | None = None
    statuses: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None, record_type: str) -> PushFilters:
        """Read filters as the push page, the CLI or a stored run give them; ValueError says what is wrong.

        Keys: ``date_from``/``from``, ``date_to``/``to`` (YYYY-MM-DD, or ISO 8601 date and time, UTC when
        no offset), ``statuses``/``status`` and ``ids``/``id`` (a list, or text separated by commas or
        spaces; a leading '#' is dropped).
        """
        given: dict[str, Any] = {}
        for key, value in (raw or {}).items():
            if key not in _FILTER_KEYS:
                raise ValueError(f"unknown push filter {key!r}; use date_from, date_to, statuses or ids")
            if value not in (None, "", [], ()):
                given[_FILTER_KEYS[key]] = value
        date_from = _moment(given.get("date_from"), "date_from", end=False)
        date_to = _moment(given.get("date_to"), "date_to", end=True)
        if date_from and date_to and date_to <= date_from:
            raise ValueError("the end date is before the start date")
        statuses = tuple(dict.fromkeys(_words(given.get("statuses"))))
        unknown = [s for s in statuses if s not in ORDER_STATUSES]
        if unknown:
            raise ValueError(f"unknown order status {', '.join(map(repr, unknown))}; choose from "
                             f"{', '.join(ORDER_STATUSES)}")
        if statuses and record_type != "order":
            raise ValueError("statuses choose orders only; leave them out when pushing customers or products")
        ids = tuple(dict.fromkeys(part.lstrip("#") for part in _words(given.get("ids")) if part.lstrip("#")))
        return cls(date_from=date_from, date_to=date_to, statuses=statuses, ids=ids)

    def stored(self) -> dict[str, Any]:
        """The filters as kept on the push run (and shown on the page); :meth:`parse` reads them back."""
        found: dict[str, Any] = {}
        if self.date_from:
            found["date_from"] = _shown(self.date_from, end=False)
        if self.date_to:
            found["date_to"] = _shown(self.date_to, end=True)
        if self.statuses:
            found["statuses"] = list(self.statuses)
        if self.ids:
            found["ids"] = list(self.ids)
        return found

    @property
    def narrows_locally(self) -> bool:
        """Whether some records the API lists are left out here (so the API cannot count them)."""
        return bool(self.date_from or self.date_to or self.statuses or self.ids)

    def matches(self, record_type: str, raw: Mapping[str, Any], record: Record) -> bool:
        """Whether a listed record (its JSON and its normalized record) is one the push takes (statuses
        are an order's: :meth:`parse` takes them for orders only)."""
        if self.date_from or self.date_to:
            created = record.created_at if isinstance(record, Order) else _created(raw)
            if created is None or (self.date_from and created < self.date_from) \
                    or (self.date_to and created >= self.date_to):
                return False
        if self.statuses and isinstance(record, Order) and record.status not in self.statuses:
            return False
        if self.ids:
            wanted = {i.lower() for i in self.ids}
            return not wanted.isdisjoint(_identities(record))
        return True


def _words(value: Any) -> list[str]:
    if value is None:
        return []
    parts = value.replace(",", " ").replace(";", " ").split() if isinstance(value, str) else list(value)
    return [str(p).strip() for p in parts if str(p).strip()]


def _moment(value: Any, name: str, *, end: bool) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        if end and value == date.max:
            return None  # up to the calendar's last day is no upper bound at all
        moment = datetime(value.year, value.month, value.day) + (timedelta(days=1) if end else timedelta())
        return moment.replace(tzinfo=UTC)
    else:
        text = str(value).strip()
        try:
            if len(text) == 10:
                return _moment(date.fromisoformat(text), name, end=end)
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{name}: enter a date as YYYY-MM-DD (or an ISO 8601 date and time), "
                             f"not {value!r}") from None
    try:
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        return moment + _ONE_SECOND if end else moment  # an end time includes its own second
    except OverflowError:  # the calendar's first or last day, pushed past its edge by a zone or a second
        raise ValueError(f"{name}: {value!r} is outside the dates this service can use") from None


def _shown(moment: datetime, *, end: bool) -> str:
    if end:
        if moment.time() == datetime.min.time():
            return (moment - timedelta(days=1)).date().isoformat()
        moment -= _ONE_SECOND
    elif moment.time() == datetime.min.time():
        return moment.date().isoformat()
    return moment.isoformat()


def _created(raw: Mapping[str, Any]) -> datetime | None:
    """A customer's or product's creation time from its JSON (WooCommerce ``*_gmt`` is UTC)."""
    for key in ("date_created_gmt", "created_at", "date_created"):
        if raw.get(key):
            try:
                return to_utc(raw[key], key)
            except InvalidPayload:
                return None
    return None


def _identities(record: Record) -> set[str]:
    values: tuple[str | None, ...] = ()
    if isinstance(record, Order):
        values = (record.storefront_id, record.number)
    elif isinstance(record, Customer):
        values = (record.storefront_id, record.email)
    elif isinstance(record, Product):
        values = (record.product_id, record.variant_id, record.sku)
    return {v.strip().lower() for v in values if v}


# --- reading the store ------------------------------------------------------------------------------

Cursor = dict[str, Any]
Pages = Iterator[tuple[list[dict[str, Any]], Cursor | None]]


@dataclass
class Selection:
    """One record type of one store, narrowed by filters: its pages (resumable) and its count."""

    client: StorefrontClient
    platform: str
    record_type: str
    filters: PushFilters

    def pages(self, cursor: Cursor | None = None) -> Pages:
        """(the store's JSON records of one page, the cursor of the next page or None after the last),
        starting at ``cursor`` (None: the first page)."""
        cursor = cursor or {}
        client = self.client  # (the connection's platform's client: see client_for)
        woo = isinstance(client, WooCommerceClient)
        listing: Listing[int] | Listing[str]  # WooCommerce's next page by number, Shopify's by page_info
        if self.record_type == "order":
            if isinstance(client, WooCommerceClient):
                listing = client.iter_orders(**self._woo_order_filters(), start_page=cursor.get("page", 1))
            elif self.filters.ids:
                return self._shopify_orders_by_id(client, cursor)
            else:
                filters = self._shopify_order_filters()
                listing = client.iter_orders(**filters, page_info=cursor.get("page_info"))
        elif self.record_type == "customer":
            listing = (client.iter_customers(start_page=cursor.get("page", 1))
                       if isinstance(client, WooCommerceClient)
                       else client.iter_customers(page_info=cursor.get("page_info")))
        else:
            listing = (client.iter_products(start_page=cursor.get("page", 1))
                       if isinstance(client, WooCommerceClient)
                       else client.iter_products(page_info=cursor.get("page_info")))
        key = "page" if woo else "page_info"
        return ((page.records, {key: page.next_cursor} if page.next_cursor is not None else None)
                for page in listing.pages())

    def api_count(self) -> int | None:
        """The count in one request when the store's API can count exactly this selection, else None."""
        if self.record_type == "order" and self.platform == "woocommerce":
            return self.client.count_orders(**self._woo_order_filters())
        if self.record_type == "order" and not (self.filters.statuses or self.filters.ids):
            return self.client.count_orders(**self._shopify_order_filters())
        if self.record_type == "customer" and isinstance(self.client, WooCommerceClient) \
                and not self.filters.narrows_locally:
            first = next(iter(self.client.iter_customers(per_page=1).pages()))
            return first.total
        return None

    def count(self) -> int:
        """How many records match: one request when the API can count them, else by reading them all."""
        counted = self.api_count()
        if counted is not None:
            return counted
        total = 0
        for raws, _next in self.pages():
            found, _problems = read_records(self.platform, self.record_type, raws)
            total += sum(1 for raw, record in found if self.filters.matches(self.record_type, raw, record))
        return total

    def _woo_order_filters(self) -> dict[str, Any]:
        f = self.filters
        ids = []
        for value in f.ids:
            if not value.isdigit():
                raise ValueError(f"WooCommerce order ids and numbers are whole numbers; {value!r} is not")
            ids.append(int(value))
        # WooCommerce's after/before are exclusive: one second earlier makes date_from inclusive.
        return {"after": f.date_from - _ONE_SECOND if f.date_from else None, "before": f.date_to,
                "statuses": [_WOO_STATUSES[s] for s in f.statuses] or None, "include": ids or None}

    def _shopify_order_filters(self) -> dict[str, Any]:
        f = self.filters
        # Shopify's created_at_max is inclusive.
        return {"created_at_min": f.date_from,
                "created_at_max": f.date_to - _ONE_SECOND if f.date_to else None}

    def _shopify_orders_by_id(self, client: ShopifyClient, cursor: Cursor) -> Pages:
        ids = cursor["ids"] if "ids" in cursor else self._shopify_order_ids(client)
        chunks = [ids[i:i + SHOPIFY_IDS_PER_REQUEST] for i in range(0, len(ids), SHOPIFY_IDS_PER_REQUEST)]
        for index in range(int(cursor.get("chunk", 0)), len(chunks)):
            records = list(client.iter_orders(ids=chunks[index], limit=SHOPIFY_IDS_PER_REQUEST))
            yield records, ({"ids": ids, "chunk": index + 1} if index + 1 < len(chunks) else None)

    def _shopify_order_ids(self, client: ShopifyClient) -> list[int]:
        """The ids of the orders named by id or by number (e.g. 1001 for "#1001"), within the dates."""
        wanted = set(self.filters.ids)
        dates = self._shopify_order_filters()
        numeric = sorted({int(v) for v in wanted if v.isdigit()})
        found: set[int] = set()
        for start in range(0, len(numeric), SHOPIFY_IDS_PER_REQUEST):
            chunk = numeric[start:start + SHOPIFY_IDS_PER_REQUEST]
            found.update(int(o["id"]) for o in client.iter_orders(ids=chunk, fields=["id"], **dates,
                                                                 limit=SHOPIFY_IDS_PER_REQUEST))
        numbers = wanted - {str(i) for i in found}
        if numbers:  # order numbers: Shopify cannot filter by them, so read the (small) list of all
            for order in client.iter_orders(fields=["id", "name", "order_number"], **dates):
                if {str(order.get("name") or "").lstrip("#"), str(order.get("order_number"))} & numbers:
                    found.add(int(order["id"]))
        return sorted(found)


def read_records(platform: str, record_type: str,
                 raws: Iterable[Any]) -> tuple[list[tuple[dict[str, Any], Record]], list[str]]:
    """Normalize one page: ([(JSON, record)...], [problem...]). A product JSON may give several records
    (its variants); a WooCommerce variation is named after the variable product listed before it."""
    normalizer = normalizer_for(platform)
    raws = list(raws)
    parents = {r.get("id"): r for r in raws
               if isinstance(r, dict) and str(r.get("type", "")).startswith("variable")}
    found: list[tuple[dict[str, Any], Record]] = []
    problems: list[str] = []
    for raw in raws:
        records: list[Record]
        try:
            if not isinstance(raw, dict):
                raise InvalidPayload(f"expected a JSON object, got {type(raw).__name__}")
            if record_type == "order":
                records = [normalizer.order(raw)]
            elif record_type == "customer":
                records = [normalizer.customer(raw)]
            elif record_type == "refund":
                records = [normalizer.refund(raw)]
            elif platform == "woocommerce" and raw.get("type") == "variation":
                records = [normalizer.product_variation(raw, parent=parents.get(raw.get("parent_id")))]
            else:
                records = list(normalizer.products(raw))
        except (ValueError, TypeError) as exc:  # InvalidPayload is a ValueError
            what = raw.get("id", "?") if isinstance(raw, dict) else "?"
            problems.append(f"{record_type} {what}: {exc}")
            continue
        found.extend((raw, record) for record in records)
    return found, problems


# --- storing and queueing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One normalized record with what storing and queueing it needs, computed once."""

    record_type: str
    record: Record
    data: dict[str, Any]  # record.to_dict(): what storefront_records keeps
    record_id: str  # its id in storefront_records (a variant: its own id)
    key: str  # its id in id_mappings and queue jobs (a guest customer: its e-mail)

    @classmethod
    def of(cls, record_type: str, record: Record) -> Entry:
        data = record.to_dict()
        record_id = record_id_of(record_type, data)
        return cls(record_type, record, data, record_id, mapping_key(record, record_id))


def mapping_key(record: Record, record_id: str) -> str:
    """The id a record has in id_mappings and queue jobs: a customer's and a product's their own (a guest
    customer: its e-mail), any other's its storefront id ``record_id``."""
    if isinstance(record, Customer):
        return mappings.customer_key(record)
    if isinstance(record, Product):
        return mappings.product_key(record.product_id, record.variant_id, record.sku, record.name)
    return record_id


def known_records(session: Session, connection_id: int, record_type: str,
                  record_ids: Iterable[str]) -> dict[str, StorefrontRecord]:
    """The stored storefront records of these ids, in one query (kept in the session for later reads)."""
    wanted = sorted(set(record_ids))
    if not wanted:
        return {}
    rows = session.scalars(select(StorefrontRecord).where(
        StorefrontRecord.connection_id == connection_id, StorefrontRecord.record_type == record_type,
        StorefrontRecord.record_id.in_(wanted)))
    return {row.record_id: row for row in rows}


def queued_jobs(session: Session, connection_id: int, record_type: str,
                keys: Iterable[str]) -> dict[str, int]:
    """Mapping key -> id of the job already queued, sent or parked for it, in one query."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = session.execute(select(QueueJob.record_id, QueueJob.id).where(
        QueueJob.connection_id == connection_id, QueueJob.record_type == record_type,
        QueueJob.record_id.in_(wanted),
        QueueJob.coalesce_key.in_([coalesce_key(record_type, k) for k in wanted]),
        QueueJob.state.in_(QUEUED_STATES)))
    return {str(record_id): job_id for record_id, job_id in rows}


def preload_mappings(session: Session, connection_id: int, entries: list[Entry]) -> None:
    """Load, in one query, the id mappings of these records and of what their orders refer to (customers,
    items, payments), so neither this module nor the queue's intake asks for them one by one."""
    keys: list[tuple[str, str]] = []
    for entry in entries:
        keys.append((entry.record_type, entry.key))
        if isinstance(entry.record, Order):
            keys.append((mappings.PAYMENT, entry.key))
            keys.append((mappings.CUSTOMER, mappings.customer_key(entry.record.customer)))
            keys.extend((mappings.PRODUCT, mappings.product_key(line.product_id, line.variant_id, line.sku,
                                                                line.name))
                        for line in entry.record.lines)
    keys.extend((mappings.SPECIAL_ITEM, role) for role in _SPECIAL_ROLES)
    mappings.preload(session, connection_id, keys)


def freshness(row: StorefrontRecord | None, data: Mapping[str, Any]) -> str:
    """How a record read from the store compares with the stored one: "new" (none stored), "newer",
    "same" or "stale" (what is stored is newer). The same rule as the webhook receiver's: by modified
    time, and by content when the times are equal or unknown."""
    if row is None:
        return "new"
    modified = _naive(data.get("modified_at"))
    if row.modified_at is not None and modified is not None and modified != row.modified_at:
        return "newer" if modified > row.modified_at else "stale"
    return "same" if row.data == data and not row.deleted else "newer"


def _naive(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def mark_source(session: Session, connection_id: int, record_type: str, record_ids: list[str],
                source: str) -> None:
    """Say which source ("push", "sweep") brought the records just stored, in one statement."""
    if record_ids:
        session.execute(update(StorefrontRecord).where(
            StorefrontRecord.connection_id == connection_id, StorefrontRecord.record_type == record_type,
            StorefrontRecord.record_id.in_(sorted(set(record_ids)))).values(source=source)
            .execution_options(synchronize_session=False))


@dataclass
class PageCounts:
    """What one page of a push did."""

    read: int = 0
    queued: int = 0
    already_synced: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)


def push_page(session: Session, connection: Connection, record_type: str,
              found: list[tuple[dict[str, Any], Record]],
              filters: PushFilters, problems: list[str] | None = None) -> PageCounts:
    """Store and queue one page's matching records (see the module docstring for what each counts as)."""
    counts = PageCounts(problems=list(problems or ()))
    entries = [Entry.of(record_type, record) for raw, record in found
               if filters.matches(record_type, raw, record)]
    counts.read = len(entries) + len(counts.problems)
    counts.skipped = len(counts.problems)
    if not entries:
        return counts
    plan_with_values(session)
    preload_mappings(session, connection.id, entries)
    queued = queued_jobs(session, connection.id, record_type, (e.key for e in entries))
    known = known_records(session, connection.id, record_type, (e.record_id for e in entries))
    stored: list[str] = []
    changed: list[Entry] = []
    for entry in entries:
        if mappings.get(session, connection.id, record_type, entry.key) is not None:
            counts.already_synced += 1
            continue
        fresh = freshness(known.get(entry.record_id), entry.data)
        if fresh == "stale" or (fresh == "same" and entry.key in queued):
            counts.skipped += 1
            continue
        changed.append(entry)
        if fresh != "same":
            stored.append(entry.record_id)
    # record_changed_many keeps the records in storefront_records (never over a newer one) and queues
    # them: for orders with a few queries and one insert batch per page instead of a look-up, a savepoint
    # and a flush per record. It is the same as record_changed one by one, in this page's transaction, so
    # a page is still queued wholly or not at all (and at most once: the unique open-job index decides).
    results = record_changed_many(session, connection, record_type, [e.record for e in changed], "updated")
    for entry, job in zip(changed, results, strict=True):
        if job is not None and job.id != queued.get(entry.key):
            counts.queued += 1
            queued[entry.key] = job.id
        else:
            counts.skipped += 1  # refreshed the job already queued, or the queue's rules leave it out
    mark_source(session, connection.id, record_type, stored, "push")
    return counts


# --- the push run -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PushProgress:
    """A push's counters, as handed to a progress callback after every page."""

    push_id: int
    state: str
    total: int | None
    read: int
    queued: int
    already_synced: int
    skipped: int
    error: str | None = None

    @classmethod
    def of(cls, run: PushRun) -> PushProgress:
        return cls(run.id, run.state, run.total, run.read, run.queued, run.already_synced, run.skipped,
                   run.error)


def selection_for(client: StorefrontClient, connection: Connection, record_type: str,
                  filters: Mapping[str, Any] | PushFilters) -> Selection:
    """The :class:`Selection` of ``record_type`` ("orders" or "order", ...) narrowed by ``filters``."""
    record_type = record_type_of(record_type)
    if not isinstance(filters, PushFilters):
        filters = PushFilters.parse(filters, record_type)
    return Selection(client, connection.platform, record_type, filters)


def count_matching(runtime: Runtime, connection: Connection, record_type: str,
                   filters: Mapping[str, Any] | None) -> int:
    """How many ``record_type`` records of the connection's store match ``filters`` (see
    :meth:`PushFilters.parse`). One request when the store can count them; otherwise they are read.

    Raises ValueError for bad filters, :class:`~qbsync.storefronts.http.StorefrontError` (with the fix)
    when the store cannot be read, e.g. missing or refused credentials.
    """
    record_type = record_type_of(record_type)
    parsed = PushFilters.parse(filters, record_type)
    with client_for(connection) as client:
        return selection_for(client, connection, record_type, parsed).count()


def start_push(runtime: Runtime, connection: Connection, record_type: str, filters: Mapping[str, Any] | None,
               *, total: int | None = None, dispatch: bool = True) -> PushRun:
    """Create a push run and hand it to a background worker (``dispatch=False``: the caller runs
    :func:`run_push` itself, as the CLI does). Bad filters or missing credentials raise at once, before
    anything is stored. If the background queue is down the run waits and :func:`resume_pushes` starts it.
    """
    record_type = record_type_of(record_type)
    parsed = PushFilters.parse(filters, record_type)
    client_for(connection).close()  # fails now, with the fix, when credentials are missing
    with runtime.db.transaction() as session:
        run = PushRun(connection_id=connection.id, record_type=record_type, filters=parsed.stored(),
                      state="pending", total=total, cursor={})
        session.add(run)
        session.flush()
    if dispatch:
        _dispatch(runtime, run.id)
    return run


def _dispatch(runtime: Runtime, push_id: int) -> bool:
    try:
        runtime.dispatcher.submit(PUSH_JOB, push_id)
    except DispatchFailed as exc:
        log.warning("push #%s stored but not started (will be resumed): %s", push_id, exc)
        return False
    return True


@dataclass(frozen=True)
class _Claim:
    token: str
    connection: Connection
    record_type: str
    filters: dict[str, Any]
    cursor: Cursor
    total: int | None


def run_push(push_id: int, on_progress: Callable[[PushProgress], None] | None = None) -> str:
    """Background job: run (or resume) push ``push_id`` to the end; returns its state afterwards.

    Does nothing for a push that is finished or being run by another live worker. ``on_progress`` is
    called after every page (the CLI's progress bar).
    """
    db = current().db
    claim = _claim(db, push_id)
    if claim is None:
        return _state(db, push_id)
    try:
        with client_for(claim.connection) as client:
            selection = selection_for(client, claim.connection, claim.record_type, claim.filters)
            if claim.total is None:
                _save_total(db, push_id, claim.token, selection.api_count())
            pages = iter(()) if claim.cursor.get("finished") else selection.pages(claim.cursor)
            for raws, next_cursor in pages:
                progress = _push_one_page(db, push_id, claim, selection, raws, next_cursor)
                if progress is None:
                    log.info("push #%s was taken over by another worker; stopping here", push_id)
                    return _state(db, push_id)
                if on_progress is not None:
                    on_progress(progress)
        return _finish(db, push_id, claim.token, on_progress)
    except StorefrontUnavailable as exc:
        return _pause(db, push_id, claim.token, str(exc), on_progress)
    except DBAPIError as exc:  # e.g. a lock timeout, or a webhook storing the same record at that moment
        log.warning("push #%s: database error, will resume: %s", push_id, exc)
        return _pause(db, push_id, claim.token, f"database error: {exc.orig}", on_progress)
    except (StorefrontError, ValueError) as exc:
        return _fail(db, push_id, claim.token, str(exc), on_progress)
    except Exception as exc:  # kept on the run for the person who started it
        log.exception("push #%s failed", push_id)
        return _fail(db, push_id, claim.token, f"{type(exc).__name__}: {exc}", on_progress)


def _claim(db: Database, push_id: int, now: datetime | None = None) -> _Claim | None:
    now = now or utcnow()
    with db.transaction() as session:
        run = session.get(PushRun, push_id, with_for_update=True)
        if run is None or run.state in ("done", "failed"):
            return None
        if run.state == "running" and run.updated_at > now - STALE_AFTER:
            return None  # a live worker is on it
        connection = session.get(Connection, run.connection_id)
        if connection is None:
            run.state, run.error, run.finished_at = "failed", "the connection no longer exists", now
            return None
        token = uuid.uuid4().hex
        cursor = {k: v for k, v in (run.cursor or {}).items() if k != "worker"}
        run.state, run.updated_at = "running", now
        run.cursor = {**cursor, "worker": token}
        session.expunge(connection)
        return _Claim(token, connection, run.record_type, dict(run.filters or {}),
                      {k: v for k, v in cursor.items() if k in _CURSOR_KEYS},
                      run.total)


def _mine(session: Session, push_id: int, token: str) -> PushRun | None:
    """The run, locked, if this worker still owns it."""
    run = session.get(PushRun, push_id, with_for_update=True)
    if run is None or run.state != "running" or (run.cursor or {}).get("worker") != token:
        return None
    return run


def _push_one_page(db: Database, push_id: int, claim: _Claim, selection: Selection,
                   raws: list[dict[str, Any]], next_cursor: Cursor | None) -> PushProgress | None:
    if isinstance(selection.client, ShopifyClient) and selection.record_type == "order":
        raws = selection.client.with_transactions(raws)  # who paid what, for orders with several gateways
    found, problems = read_records(selection.platform, selection.record_type, raws)
    with db.transaction() as session:
        run = _mine(session, push_id, claim.token)
        if run is None:
            return None
        connection = session.get(Connection, claim.connection.id)
        if connection is None:
            raise ValueError("the connection was deleted during the push")
        counts = push_page(session, connection, selection.record_type, found, selection.filters, problems)
        run.read += counts.read
        run.queued += counts.queued
        run.already_synced += counts.already_synced
        run.skipped += counts.skipped
        kept = {k: v for k, v in (run.cursor or {}).items() if k in ("worker", "unreadable", "first_problem")}
        if counts.problems:
            kept["unreadable"] = kept.get("unreadable", 0) + len(counts.problems)
            kept.setdefault("first_problem", counts.problems[0][:500])
            for problem in counts.problems:
                log.warning("push #%s skipped an unreadable record: %s", push_id, problem)
        # The next page to read; None after the last (a resume then has nothing left to read).
        run.cursor = {**kept, **(next_cursor or {"finished": True})}
        run.updated_at = utcnow()
        return PushProgress.of(run)


def _save_total(db: Database, push_id: int, token: str, total: int | None) -> None:
    if total is None:
        return
    with db.transaction() as session:
        run = _mine(session, push_id, token)
        if run is not None:
            run.total = total


def _finish(db: Database, push_id: int, token: str,
            on_progress: Callable[[PushProgress], None] | None) -> str:
    with db.transaction() as session:
        run = _mine(session, push_id, token)
        if run is None:
            return _state(db, push_id)
        cursor = dict(run.cursor or {})
        unreadable = cursor.get("unreadable", 0)
        run.error = (f"{unreadable} unreadable record{'s' if unreadable != 1 else ''} skipped; "
                     f"the first: {cursor.get('first_problem')}" if unreadable else None)
        run.state, run.finished_at, run.updated_at = "done", utcnow(), utcnow()
        if run.total is None or run.total < run.read:
            run.total = run.read
        progress = PushProgress.of(run)
    if on_progress is not None:
        on_progress(progress)
    return "done"


def _fail(db: Database, push_id: int, token: str, error: str,
          on_progress: Callable[[PushProgress], None] | None) -> str:
    with db.transaction() as session:
        run = _mine(session, push_id, token)
        if run is None:
            return _state(db, push_id)
        run.state, run.error, run.finished_at = "failed", error[:4000], utcnow()
        progress = PushProgress.of(run)
    if on_progress is not None:
        on_progress(progress)
    return "failed"


def _pause(db: Database, push_id: int, token: str, error: str,
           on_progress: Callable[[PushProgress], None] | None) -> str:
    """The store could not be reached: wait and resume from the cursor, a few times, then give up."""
    with db.transaction() as session:
        run = _mine(session, push_id, token)
        if run is None:
            return _state(db, push_id)
        retries = int((run.cursor or {}).get("retries", 0)) + 1
        if retries > MAX_RETRIES:
            run.state, run.finished_at = "failed", utcnow()
            run.error = f"stopped after {MAX_RETRIES} tries: {error}"[:4000]
        else:
            run.state = "pending"
            run.error = (f"paused: {error} (try {retries} of {MAX_RETRIES}; the push resumes where it "
                         "stopped)")[:4000]
        run.cursor = {**(run.cursor or {}), "retries": retries}
        run.updated_at = utcnow()
        progress = PushProgress.of(run)
    if on_progress is not None:
        on_progress(progress)
    return progress.state


def _state(db: Database, push_id: int) -> str:
    with db.transaction() as session:
        run = session.get(PushRun, push_id)
        return run.state if run is not None else "missing"


def resume_pushes(runtime: Runtime, now: datetime | None = None, *, stale_after: timedelta = STALE_AFTER,
                  retry_after: timedelta = RETRY_AFTER) -> list[int]:
    """Periodic task: restart pushes cut short (still "running" but silent for ``stale_after``) and pushes
    waiting to start or to retry (``pending`` for ``retry_after``). Returns the ids handed to workers."""
    now = now or utcnow()
    with runtime.db.transaction() as session:
        runs = list(session.scalars(select(PushRun).where(or_(
            (PushRun.state == "running") & (PushRun.updated_at <= now - stale_after),
            (PushRun.state == "pending") & (PushRun.updated_at <= now - retry_after),
        )).order_by(PushRun.id).with_for_update(skip_locked=True)))
        for run in runs:
            # Pending again, with a fresh time, so a second scheduler does not start it too.
            run.state, run.updated_at = "pending", now
        ids = [run.id for run in runs]
    started = []
    for push_id in ids:
        if not _dispatch(runtime, push_id):
            break
        started.append(push_id)
    if started:
        log.info("resumed pushes %s", started)
    return started
