"""Which QuickBooks record each storefront record became (table id_mappings): look-ups and upserts.

Look-ups are cached for the life of the database session (one SOAP call's transaction), and a batch's
mappings can be loaded in one query (:func:`preload`), so building and applying 200 requests costs a few
queries rather than hundreds. Every write goes through this module, which keeps the cache true.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from operator import attrgetter
from typing import Any, cast

from sqlalchemy import and_, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from qbsync.storage.models import IdMapping, utcnow
from qbsync.storefronts.records import Customer

CACHE = "qbsync.id_mappings"  # the session.info key of the look-up cache
_GENERATION = "qbsync.id_mappings.generation"  # session.info: how many times this session changed a link
_BATCH = "qbsync.id_mappings.batch"  # the session.info key of the links written together (written_together)
_CHUNK = 400  # keys per IN (...) query, well inside every database's parameter limit

# record_type values used by the engine
CUSTOMER = "customer"
PRODUCT = "product"
SPECIAL_ITEM = "special_item"  # shipping, fee, discount, tax, adjustment items, keyed by role
ORDER = "order"
PAYMENT = "payment"
REFUND = "refund"
CANCELLATION = "cancellation"  # an order's reversing credit memo, keyed by the order's storefront id
# A refund the reversing credit memo left out (it was refunded before the cancellation): keyed by the
# refund's id, pointing at the reversing credit memo. Such a refund gets its own credit memo.
REFUND_BEFORE_CANCELLATION = "refund_before_cancel"
INVENTORY_ITEM = "inventory_item"  # Shopify inventory_item_id -> the item's ListID
# The customer an order's invoice is made out to in QuickBooks, keyed by the order's storefront id: its
# payment goes there, whatever the customer settings say when the payment comes.
SALE_CUSTOMER = "sale_customer"

# IdMapping.origin values: how qbsync came to know the QuickBooks record.
CREATED = "created"  # qbsync's own Add (or a look-up that found qbsync's own marker on it)
FOUND = "found"  # an existing QuickBooks record a look-up matched: referred to, never changed
MANUAL = "manual"  # a person linked it on the mappings page

# IdMapping.storefront_id and QueueJob.record_id hold 100 characters; a key made of what a shopper typed
# (a guest's e-mail, a product's name) can be longer, and is then shortened with a digest of the whole.
MAX_KEY_CHARS = 100


def _bounded(key: str) -> str:
    """``key`` itself when it fits; else its start and a digest of all of it (still one key per value)."""
    if len(key) <= MAX_KEY_CHARS:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:20]
    return f"{key[:MAX_KEY_CHARS - len(digest) - 1]}~{digest}"


def product_key(product_id: Any, variant_id: Any = None, sku: Any = None, name: Any = None) -> str:
    """The storefront id a product (or an order line's product) is mapped under.

    A variant is its own item (variant ids are unique in both platforms). A line whose product was
    deleted from the store is keyed by its SKU, else its name.
    """
    if variant_id:
        return str(variant_id)
    if product_id:
        return str(product_id)
    if sku:
        return _bounded(f"sku:{str(sku).strip().lower()}")
    return _bounded(f"name:{' '.join(str(name or '').split()).lower()}")


def customer_key(customer: Customer) -> str:
    """The storefront id a customer is mapped under: its id, or for a guest its e-mail (else its name)."""
    if customer.storefront_id:
        return customer.storefront_id
    email = customer.email.strip().lower()
    if email:
        return _bounded(f"guest:{email}")
    name = " ".join(f"{customer.first_name} {customer.last_name}".split()).lower()
    return _bounded(f"guest:{name}") if name else UNKNOWN_GUEST


UNKNOWN_GUEST = "guest:unknown"  # the key of a guest with neither e-mail nor name


def proxy_key(name: str) -> str:
    """The mapping key of the proxy customer called ``name``."""
    return _bounded(f"proxy:{name.strip().lower()}")


_TABLE = IdMapping.metadata.tables[IdMapping.__tablename__]
# Every column a link is written with (all but its id, which nothing made in the same round trip reads).
_COLUMNS = tuple(column.key for column in _TABLE.columns if column.key != "id")


class NewLink:
    """A link made while :func:`written_together` is open: the columns of its ``id_mappings`` row as a
    plain object, read and changed like an :class:`IdMapping` (it has no ``id``).

    An ORM object for each new link cost more than the rest of applying an order's answer: built, added,
    sorted into the flush and inserted one statement per row on SQLite (the ORM reads each new row's id
    back); these are inserted together in one executemany. ``_stored`` is what the database holds, None
    before the INSERT: a change after it is written as an UPDATE of the columns that changed."""

    __slots__ = (*_COLUMNS, "_stored")
    connection_id: int
    record_type: str
    storefront_id: str
    qb_type: str
    qb_id: str
    edit_sequence: str | None
    qb_name: str | None
    manual: bool
    origin: str | None
    store_name: str | None
    rename_reason: str | None
    synced_hash: str | None
    quantity: str | None
    stock_held: str | None
    created_at: datetime
    updated_at: datetime

    def __init__(self, values: Mapping[str, Any]) -> None:
        for name in _COLUMNS:
            setattr(self, name, values.get(name))
        self._stored: tuple[Any, ...] | None = None

    def values(self) -> tuple[Any, ...]:
        """The row's columns as they are now, in :data:`_COLUMNS` order."""
        return _VALUES(self)


_VALUES = attrgetter(*_COLUMNS)


class _Batch:
    """The links :func:`written_together` holds: new ones (in the cache as :class:`NewLink`), and whether
    a stored link was deleted meanwhile (the ORM's DELETE, written at its next flush, then comes first:
    a new link of the same key would break the unique key)."""

    def __init__(self) -> None:
        self.links: dict[tuple[int, str, str], NewLink] = {}
        self.deleted = False


@contextmanager
def written_together(session: Session) -> Iterator[None]:
    """Inside, a link made anew is a :class:`NewLink`, written at the end with the others in one
    executemany (an ``INSERT`` without ``RETURNING``), not an ORM object inserted one statement per row.

    For the answers of a round trip, where ``id_mappings`` is read only through this module: its
    look-ups by ListID or name write the links made so far first, and a key's look-up finds its new link
    in the cache. At the end the new links leave the cache (a later look-up reads the stored row). An
    error inside drops them, unwritten, with the transaction it spoils. Nested, the outer one writes."""
    if _BATCH in session.info:
        yield
        return
    batch = session.info[_BATCH] = _Batch()
    written = False
    try:
        yield
        _write(session, batch)
        written = True
    finally:
        session.info.pop(_BATCH, None)
        _changed(session)  # the new links leave the cache: a look-up now returns the stored row
        caches = session.info.get(CACHE, {})
        for connection_id, record_type, storefront_id in batch.links:
            caches.get(connection_id, {}).pop((record_type, storefront_id), None)
        if not written:
            batch.links.clear()


def _write(session: Session, batch: _Batch) -> None:
    """Write the batch's new links (one executemany) and any change made to one already written."""
    new: list[tuple[NewLink, tuple[Any, ...]]] = []
    changed: list[tuple[NewLink, tuple[Any, ...]]] = []
    for link in batch.links.values():
        now = link.values()
        if link._stored is None:
            new.append((link, now))
        elif link._stored != now:
            changed.append((link, now))
    if not new and not changed:
        return
    if batch.deleted:
        session.flush()
        batch.deleted = False
    connection = session.connection()  # without autoflush: the ORM's changes are not these rows
    for link, now in changed:
        assert link._stored is not None
        changes = {name: value for name, value, was in zip(_COLUMNS, now, link._stored, strict=True)
                   if value != was}
        if "updated_at" not in changes:
            changes["updated_at"] = link.updated_at = utcnow()  # (the column's onupdate, as the ORM's)
        connection.execute(update(_TABLE).where(_where(link)).values(changes))
        link._stored = link.values()
    if new:
        connection.execute(insert(_TABLE), [dict(zip(_COLUMNS, now, strict=True)) for _, now in new])
        for link, now in new:
            link._stored = now


def _where(link: NewLink) -> Any:
    return and_(_TABLE.c.connection_id == link.connection_id, _TABLE.c.record_type == link.record_type,
                _TABLE.c.storefront_id == link.storefront_id)


def _written_first(session: Session) -> None:
    """Before ``id_mappings`` is searched by anything but its key: the links made so far are stored."""
    batch: _Batch | None = session.info.get(_BATCH)
    if batch is not None:
        _write(session, batch)


def _as_cached(session: Session, found: Iterable[IdMapping]) -> list[IdMapping]:
    """``found`` (rows read by a search), each replaced by the new link of its key, if there is one."""
    batch: _Batch | None = session.info.get(_BATCH)
    if batch is None or not batch.links:
        return list(found)
    return [cast(IdMapping, batch.links.get((m.connection_id, m.record_type, m.storefront_id), m))
            for m in found]


def generation(session: Session) -> int:
    """A count of the links this session made, changed or dropped (through this module): what was worked
    out from links at another count may be out of date."""
    return int(session.info.get(_GENERATION, 0))


def _changed(session: Session) -> None:
    session.info[_GENERATION] = generation(session) + 1


def _cache(session: Session, connection_id: int) -> dict[tuple[str, str], IdMapping | None]:
    caches = session.info.setdefault(CACHE, {})
    return caches.setdefault(connection_id, {})


def get(session: Session, connection_id: int, record_type: str, storefront_id: str) -> IdMapping | None:
    """The mapping of one storefront record, or None."""
    cache = _cache(session, connection_id)
    key = (record_type, str(storefront_id))
    if key not in cache:
        cache[key] = session.scalar(
            select(IdMapping).where(
                IdMapping.connection_id == connection_id,
                IdMapping.record_type == record_type,
                IdMapping.storefront_id == key[1],
            )
        )
    return cache[key]


# preload's query, built once (a round trip asks it a few times per handler; building the statement and
# its IN clause each time cost more than running it)
_PRELOAD = select(IdMapping).where(
    IdMapping.connection_id == bindparam("connection_id"),
    IdMapping.record_type == bindparam("record_type"),
    IdMapping.storefront_id.in_(bindparam("storefront_ids", expanding=True)),
)


def preload(session: Session, connection_id: int, keys: Iterable[tuple[str, str]]) -> None:
    """Load the mappings of many records at once (absent ones are remembered as absent)."""
    cache = _cache(session, connection_id)
    # Not ``- set(cache)``: that copied the whole cache (every mapping the transaction read) on each call.
    wanted: dict[str, set[str]] = {}
    for key in keys:
        if key in cache:
            continue  # (most keys of a round trip's later calls: no new tuple nor str() for them)
        record_type, storefront_id = key[0], str(key[1])
        if (record_type, storefront_id) not in cache:
            wanted.setdefault(record_type, set()).add(storefront_id)
    # One query per record type: "record_type = ? AND storefront_id IN (...)" is a search of the unique
    # index, where a (record_type, storefront_id) IN (VALUES ...) read every mapping of the connection on
    # SQLite (a round trip then cost more the more orders were ever synced).
    for record_type, ids in sorted(wanted.items()):
        ordered = sorted(ids)
        for start in range(0, len(ordered), _CHUNK):
            chunk = ordered[start : start + _CHUNK]
            for storefront_id in chunk:
                cache[(record_type, storefront_id)] = None
            rows = session.scalars(_PRELOAD, {"connection_id": connection_id, "record_type": record_type,
                                              "storefront_ids": chunk})
            for row in rows:
                cache[(row.record_type, row.storefront_id)] = row


def link_transaction(
    session: Session,
    connection_id: int,
    record_type: str,
    storefront_id: str,
    qb_type: str,
    ret: Mapping[str, Any],
    *,
    origin: str,
    synced_hash: str | None = None,
) -> IdMapping:
    """:func:`link` to the transaction QuickBooks returned (its TxnID, EditSequence and RefNumber)."""
    return link(
        session,
        connection_id,
        record_type,
        storefront_id,
        qb_type=qb_type,
        qb_id=str(ret["TxnID"]),
        edit_sequence=str(ret.get("EditSequence") or "") or None,
        qb_name=str(ret.get("RefNumber") or ""),
        synced_hash=synced_hash,
        origin=origin,
    )


def link_sale_customer(
    session: Session, connection_id: int, order_id: str, ret: Mapping[str, Any]
) -> IdMapping | None:
    """Remember whose invoice the order's is (the CustomerRef of its Ret, :data:`SALE_CUSTOMER`); None
    when the Ret names no customer."""
    ref = ret.get("CustomerRef") or {}
    if not isinstance(ref, Mapping) or not ref.get("ListID"):
        return None
    return link(
        session, connection_id, SALE_CUSTOMER, order_id, qb_type="Customer", qb_id=str(ref["ListID"]),
        qb_name=str(ref.get("FullName") or "") or None, origin=FOUND,
    )


def link(
    session: Session,
    connection_id: int,
    record_type: str,
    storefront_id: str,
    *,
    qb_type: str,
    qb_id: str,
    edit_sequence: str | None = None,
    qb_name: str | None = None,
    synced_hash: str | None = None,
    quantity: str | None = None,
    origin: str | None = None,
    renamed: tuple[str, str] | None = None,
) -> IdMapping:
    """Record (or update) which QuickBooks record a storefront record is.

    ``origin`` says how qbsync came to know it (:data:`CREATED`, :data:`FOUND`, :data:`MANUAL`); None
    keeps what is recorded. ``renamed`` is (the store's name, why QuickBooks has another) when qbsync had
    to change the name (``naming.why_renamed``); a link stating ``qb_name`` without it has the store's
    name. A mapping a person set by hand keeps its QuickBooks record; only its EditSequence and sync
    state move.
    """
    store_name, rename_reason = renamed or (None, None)
    mapping = get(session, connection_id, record_type, storefront_id)
    now = utcnow()
    _changed(session)
    if mapping is None:
        values = {
            "connection_id": connection_id,
            "record_type": record_type,
            "storefront_id": str(storefront_id),
            "qb_type": qb_type,
            "qb_id": qb_id,
            "edit_sequence": edit_sequence,
            "qb_name": qb_name,
            "synced_hash": synced_hash,
            "quantity": quantity,
            "origin": origin,
            "manual": origin == MANUAL,
            "store_name": store_name and store_name[:255],
            "rename_reason": rename_reason,
            "created_at": now,
            "updated_at": now,
        }
        batch: _Batch | None = session.info.get(_BATCH)
        if batch is not None:
            new = NewLink(values)
            batch.links[(connection_id, record_type, str(storefront_id))] = new
            mapping = cast(IdMapping, new)
        else:
            mapping = IdMapping(**values)
            session.add(mapping)
        _cache(session, connection_id)[(record_type, str(storefront_id))] = mapping
        return mapping
    if not mapping.manual or mapping.qb_id == qb_id:
        if mapping.qb_id != qb_id or origin is not None:
            mapping.origin = origin  # another record: what was known of the old one says nothing
        mapping.qb_type = qb_type
        mapping.qb_id = qb_id
        mapping.edit_sequence = edit_sequence if edit_sequence is not None else mapping.edit_sequence
        mapping.qb_name = qb_name if qb_name is not None else mapping.qb_name
        if qb_name is not None:
            mapping.store_name, mapping.rename_reason = store_name and store_name[:255], rename_reason
    if synced_hash is not None:
        mapping.synced_hash = synced_hash
    if quantity is not None:
        mapping.quantity = quantity
    mapping.updated_at = now
    return mapping


def renamed_count(session: Session, connection_id: int, record_type: str | None = None) -> int:
    """How many links have a QuickBooks name qbsync had to make differ from the store's."""
    _written_first(session)
    stmt = select(func.count()).select_from(IdMapping).where(IdMapping.connection_id == connection_id,
                                                             IdMapping.rename_reason.is_not(None))
    if record_type is not None:
        stmt = stmt.where(IdMapping.record_type == record_type)
    return session.scalar(stmt) or 0


def may_change(mapping: IdMapping) -> bool:
    """Whether qbsync may send Mod, Void or Del to the mapping's QuickBooks record: only when qbsync
    created it or a person linked it, never to a record a look-up merely found."""
    return bool(mapping.manual) or mapping.origin in (CREATED, MANUAL)


def provenance(mapping: IdMapping) -> str:
    """How the mapping's record came to be linked, in a person's words (for reasons and pages)."""
    if mapping.manual or mapping.origin == MANUAL:
        return "linked by a person"
    if mapping.origin == CREATED:
        return "created by qbsync"
    if mapping.origin == FOUND:
        return "found in QuickBooks (not created by qbsync)"
    return "linked before qbsync recorded who made it"


def forget(session: Session, mapping: IdMapping) -> None:
    """Drop a mapping whose QuickBooks record is gone (deleted or merged in QuickBooks)."""
    _changed(session)
    _cache(session, mapping.connection_id)[(mapping.record_type, mapping.storefront_id)] = None
    batch: _Batch | None = session.info.get(_BATCH)
    if isinstance(mapping, NewLink):
        assert batch is not None  # (a new link is one only while its batch is open)
        del batch.links[(mapping.connection_id, mapping.record_type, mapping.storefront_id)]
        if mapping._stored is not None:
            session.connection().execute(delete(_TABLE).where(_where(mapping)))
        return
    if batch is not None:
        batch.deleted = True
    session.delete(mapping)


def by_qb_ids(
    session: Session, connection_id: int, qb_ids: Iterable[str], record_type: str | None = None
) -> list[IdMapping]:
    """The mappings pointing at any of ``qb_ids`` (e.g. the items of one inventory page)."""
    _written_first(session)
    ids = sorted(set(qb_ids))
    found: list[IdMapping] = []
    for start in range(0, len(ids), _CHUNK):
        stmt = select(IdMapping).where(
            IdMapping.connection_id == connection_id, IdMapping.qb_id.in_(ids[start : start + _CHUNK])
        )
        if record_type is not None:
            stmt = stmt.where(IdMapping.record_type == record_type)
        found.extend(session.scalars(stmt))
    return _as_cached(session, found)


def by_qb_name(session: Session, connection_id: int, record_type: str, qb_name: str) -> list[IdMapping]:
    """Mappings of ``record_type`` whose QuickBooks name is ``qb_name`` (case-insensitive)."""
    _written_first(session)
    return _as_cached(
        session,
        session.scalars(
            select(IdMapping).where(
                IdMapping.connection_id == connection_id,
                IdMapping.record_type == record_type,
                func.lower(IdMapping.qb_name) == qb_name.strip().lower(),
            )
        )
    )
