"""Which QuickBooks record each storefront record became (table id_mappings): look-ups and upserts.

Look-ups are cached for the life of the database session (one SOAP call's transaction), and a batch's
mappings can be loaded in one query (:func:`preload`), so building and applying 200 requests costs a few
queries rather than hundreds. Every write goes through this module, which keeps the cache true.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qbsync.storage.models import IdMapping, utcnow
from qbsync.storefronts.records import Customer

CACHE = "qbsync.id_mappings"  # the session.info key of the look-up cache
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


def preload(session: Session, connection_id: int, keys: Iterable[tuple[str, str]]) -> None:
    """Load the mappings of many records at once (absent ones are remembered as absent)."""
    cache = _cache(session, connection_id)
    # Not ``- set(cache)``: that copied the whole cache (every mapping the transaction read) on each call.
    wanted: dict[str, set[str]] = {}
    for record_type, storefront_id in keys:
        key = (record_type, str(storefront_id))
        if key not in cache:
            wanted.setdefault(record_type, set()).add(key[1])
    # One query per record type: "record_type = ? AND storefront_id IN (...)" is a search of the unique
    # index, where a (record_type, storefront_id) IN (VALUES ...) read every mapping of the connection on
    # SQLite (a round trip then cost more the more orders were ever synced).
    for record_type, ids in sorted(wanted.items()):
        ordered = sorted(ids)
        for start in range(0, len(ordered), _CHUNK):
            chunk = ordered[start : start + _CHUNK]
            for storefront_id in chunk:
                cache[(record_type, storefront_id)] = None
            rows = session.scalars(
                select(IdMapping).where(
                    IdMapping.connection_id == connection_id,
                    IdMapping.record_type == record_type,
                    IdMapping.storefront_id.in_(chunk),
                )
            )
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
    if mapping is None:
        mapping = IdMapping(
            connection_id=connection_id,
            record_type=record_type,
            storefront_id=str(storefront_id),
            qb_type=qb_type,
            qb_id=qb_id,
            edit_sequence=edit_sequence,
            qb_name=qb_name,
            synced_hash=synced_hash,
            quantity=quantity,
            origin=origin,
            manual=origin == MANUAL,
            store_name=store_name and store_name[:255],
            rename_reason=rename_reason,
            created_at=now,
            updated_at=now,
        )
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
    _cache(session, mapping.connection_id)[(mapping.record_type, mapping.storefront_id)] = None
    session.delete(mapping)


def by_qb_ids(
    session: Session, connection_id: int, qb_ids: Iterable[str], record_type: str | None = None
) -> list[IdMapping]:
    """The mappings pointing at any of ``qb_ids`` (e.g. the items of one inventory page)."""
    ids = sorted(set(qb_ids))
    found: list[IdMapping] = []
    for start in range(0, len(ids), _CHUNK):
        stmt = select(IdMapping).where(
            IdMapping.connection_id == connection_id, IdMapping.qb_id.in_(ids[start : start + _CHUNK])
        )
        if record_type is not None:
            stmt = stmt.where(IdMapping.record_type == record_type)
        found.extend(session.scalars(stmt))
    return found


def by_qb_name(session: Session, connection_id: int, record_type: str, qb_name: str) -> list[IdMapping]:
    """Mappings of ``record_type`` whose QuickBooks name is ``qb_name`` (case-insensitive)."""
    return list(
        session.scalars(
            select(IdMapping).where(
                IdMapping.connection_id == connection_id,
                IdMapping.record_type == record_type,
                func.lower(IdMapping.qb_name) == qb_name.strip().lower(),
            )
        )
    )
