"""QuickBooks reference lists kept in qb_list_entries: accounts, items, payment methods, tax codes, vendors
(tax agencies), classes, customers; and what the company says about itself (HostQuery, PreferencesQuery).

A ``list_refresh`` queue job pulls them (with iterators where QuickBooks allows); the settings pickers, the
company setup and the sync engine read them here (e.g. to link a new storefront customer to a QuickBooks
customer with the same e-mail, to know whether a payment method exists, or to check every reference of a
request before it is sent). Records qbsync creates are added as their Add is answered, so the lists stay
current between refreshes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Text, delete, func, inspect, or_, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from qbsync.queue import jobs
from qbsync.storage import checkpoints
from qbsync.storage.db import rows_changed
from qbsync.storage.models import Checkpoint, QbListEntry, QueueJob, utcnow

CHECKPOINT = "lists_refreshed"
PLANNED = "lists_planned"  # when a refresh was last queued, naive UTC
REFRESH_KIND = "list_refresh"
REFRESH_PRIORITY = 5  # before customers, so e-mail matching sees the customer list


# list type -> (query request type, whether it pages with iterators, fields kept)
LISTS: dict[str, tuple[str, bool, tuple[str, ...]]] = {
    "Account": ("AccountQuery", False, ("AccountType", "SpecialAccountType", "AccountNumber", "IsActive")),
    "PaymentMethod": ("PaymentMethodQuery", False, ("PaymentMethodType", "IsActive")),
    "SalesTaxCode": ("SalesTaxCodeQuery", False, ("IsTaxable", "IsActive", "ItemSalesTaxRef")),
    "Item": ("ItemQuery", True, ("IsActive", "EditSequence", "BarCodeValue", "ManufacturerPartNumber",
                                 "TaxRate", "TaxVendorRef")),
    "Vendor": ("VendorQuery", True, ("IsSalesTaxAgency", "IsActive")),
    "Class": ("ClassQuery", False, ("IsActive",)),
    "Customer": ("CustomerQuery", True, ("Email", "IsActive", "EditSequence")),
}
# What the company says about itself, read with the lists: query name -> request type. Kept whole (small).
COMPANY_QUERIES: dict[str, str] = {"Host": "HostQuery", "Preferences": "PreferencesQuery"}
DEFAULT_LISTS: tuple[str, ...] = (*LISTS, *COMPANY_QUERIES)


def refresh_key(list_type: str) -> str:
    """The coalescing key of the refresh job of one list."""
    return f"{REFRESH_KIND}:{list_type}"


def request_refresh(
    session: Session, connection_id: int, lists: Sequence[str] | None = None, now: datetime | None = None
) -> list[QueueJob]:
    """Queue a refresh of ``lists`` (all by default): one job per list, so they share round trips."""
    wanted = list(lists or DEFAULT_LISTS)
    unknown = [name for name in wanted if name not in DEFAULT_LISTS]
    if unknown:
        raise ValueError(f"unknown QuickBooks list {unknown[0]!r}; known: {', '.join(DEFAULT_LISTS)}")
    now = now or utcnow()
    checkpoints.save(session, connection_id, PLANNED, now.isoformat())
    return [
        jobs.enqueue(
            session,
            connection_id,
            REFRESH_KIND,
            {"list": name},
            label=f"refresh {name} list",
            coalesce_key=refresh_key(name),
            priority=REFRESH_PRIORITY,
            now=now,
        )
        for name in wanted
    ]


# Customers typed into QuickBooks between refreshes: read by their TimeModified (CustomerQuery's
# FromModifiedDate) before a guest's order is given the proxy customer for want of one with its e-mail.
CHANGES_KEY = f"{REFRESH_KIND}:Customer:changes"
CUSTOMERS_NEWEST = "customers_newest"  # the newest TimeModified of a customer read, as QuickBooks wrote it
CUSTOMERS_CAUGHT_UP = "customers_caught_up"  # when the changed customers were last read, naive UTC


def request_customer_changes(session: Session, connection_id: int, now: datetime) -> QueueJob:
    """Queue reading the customers changed in QuickBooks since the list was last read: one job, which
    every guest order of the round trip waiting for it shares (one request, however many orders)."""
    return jobs.enqueue(
        session,
        connection_id,
        REFRESH_KIND,
        {"list": "Customer", "changes": True},
        label="read the customers changed in QuickBooks",
        coalesce_key=CHANGES_KEY,
        priority=REFRESH_PRIORITY,
        now=now,
    )


def customers_current_at(session: Session, connection_id: int) -> datetime | None:
    """When the customer list was last brought up to date, by a whole read or a read of the changes
    (naive UTC); None when it was never read."""
    moments = [last_refreshed(session, connection_id, "Customer")]
    value = checkpoints.read(session, connection_id, CUSTOMERS_CAUGHT_UP)
    if value:
        moments.append(datetime.fromisoformat(value))
    return max((_naive_utc(m) for m in moments if m is not None), default=None)


def caught_up(session: Session, connection_id: int, started: datetime) -> None:
    """Remember that the customers changed in QuickBooks were read, as of ``started``."""
    checkpoints.save(session, connection_id, CUSTOMERS_CAUGHT_UP, _naive_utc(started).isoformat())


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def last_planned(session: Session, connection_id: int) -> datetime | None:
    """When a refresh was last queued (naive UTC), or None."""
    value = checkpoints.read(session, connection_id, PLANNED)
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def refresh_active(session: Session, connection_id: int) -> bool:
    """Whether a refresh of any list is queued or being read."""
    return any(
        jobs.find_open(session, connection_id, refresh_key(name), include_in_flight=True) is not None
        for name in DEFAULT_LISTS
    )


def entry_data(list_type: str, ret_type: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """What is kept of one Ret: its type and the fields the pickers and the engine use."""
    data: dict[str, Any] = {"type": ret_type.removesuffix("Ret")}
    for name in LISTS[list_type][2]:
        if record.get(name) not in (None, ""):
            data[name] = record[name]
    return data


def store_page(
    session: Session,
    connection_id: int,
    list_type: str,
    records: Iterable[tuple[str, Mapping[str, Any]]],
    now: datetime,
) -> int:
    """Upsert one page of ``(ret type, record)`` pairs; returns how many were stored."""
    # Flat lists (payment methods, tax codes) have a Name and no FullName.
    page = [(t, {**r, "FullName": r.get("FullName") or r.get("Name")}) for t, r in records]
    page = [(t, r) for t, r in page if r.get("ListID") and r.get("FullName")]
    ids = [str(r["ListID"]) for _, r in page]
    added = session.info.setdefault(_ADDED, {}).setdefault((connection_id, list_type), {})
    known = session.info.get(_KNOWN, {}).get((connection_id, list_type), {})
    checked = session.info.get(_CHECKED, {}).get(connection_id, ())
    # Not flushing first: the rows this session added but did not write yet are in ``added``, and the
    # engine remembers customers one answer at a time, so a flush here would write the round trip's
    # job changes in hundreds of small pieces instead of one batch at commit. Ids ``preload`` looked up
    # for the round trip's answers are not asked again (one query for all, not one per new customer).
    unknown = [list_id for list_id in ids if list_id not in added and list_id not in known
               and list_id not in checked]
    existing: dict[str, QbListEntry] = {}
    if unknown:
        with session.no_autoflush:
            existing = {
                e.list_id: e
                for e in session.scalars(
                    select(QbListEntry).where(
                        QbListEntry.connection_id == connection_id,
                        QbListEntry.list_type == list_type,
                        QbListEntry.list_id.in_(unknown),
                    )
                )
            }
    for ret_type, record in page:
        list_id = str(record["ListID"])
        entry = existing.get(list_id) or added.get(list_id) or known.get(list_id)
        if entry is None:
            entry = QbListEntry(connection_id=connection_id, list_type=list_type, list_id=list_id)
            session.add(entry)
            added[list_id] = entry
        entry.full_name = str(record["FullName"])[:255]
        entry.data = entry_data(list_type, ret_type, record)
        entry.refreshed_at = now
        session.info.setdefault(_TOUCHED, {}).setdefault((connection_id, list_type), {})[list_id] = entry
        _remember(session, connection_id, list_type, entry)
    return len(page)


def preload(session: Session, connection_id: int, list_ids: Iterable[str]) -> None:
    """Read the stored entries with these ListIDs, of any list, in one query (per 500), so that
    :func:`remember` and :func:`store_page` need no query of their own for them in this session.

    The exchange calls it with every ListID of a round trip's answers before applying them.
    """
    wanted = sorted({str(list_id) for list_id in list_ids if list_id})
    if not wanted:
        return
    known = session.info.setdefault(_KNOWN, {})
    with session.no_autoflush:  # see store_page: the round trip's changes are written at commit
        for start in range(0, len(wanted), 500):
            for entry in session.scalars(select(QbListEntry).where(
                    QbListEntry.connection_id == connection_id,
                    QbListEntry.list_id.in_(wanted[start:start + 500]))):
                known.setdefault((connection_id, entry.list_type), {})[entry.list_id] = entry
    session.info.setdefault(_CHECKED, {}).setdefault(connection_id, set()).update(wanted)


def store_company(session: Session, connection_id: int, query: str, record: Mapping[str, Any]) -> None:
    """Keep QuickBooks' answer to HostQuery or PreferencesQuery (``query`` is "Host" or "Preferences")."""
    name = f"company:{query}"
    checkpoints.save(session, connection_id, name, json.dumps(dict(record), default=str, sort_keys=True))


def company(session: Session, connection_id: int, query: str) -> dict[str, Any] | None:
    """The HostRet or PreferencesRet last read (``query`` is "Host" or "Preferences"), or None."""
    stored = checkpoints.read(session, connection_id, f"company:{query}")
    value = json.loads(stored) if stored else None
    return value if isinstance(value, dict) else None


def remember(session: Session, connection_id: int, list_type: str, ret_type: str,
             record: Mapping[str, Any]) -> None:
    """Keep a record QuickBooks just added or returned in its list, so pickers and checks see it at once."""
    if record.get("ListID") and (record.get("FullName") or record.get("Name")):
        store_page(session, connection_id, list_type, [(ret_type, record)], utcnow())


def finish_list(session: Session, connection_id: int, list_type: str, started_at: datetime) -> int:
    """After a complete pull: entries not seen since ``started_at`` are gone from QuickBooks."""
    removed = rows_changed(session, delete(QbListEntry).where(
        QbListEntry.connection_id == connection_id,
        QbListEntry.list_type == list_type,
        QbListEntry.refreshed_at < started_at,
    ))
    _invalidate(session, connection_id, list_type)
    return removed


def forget_company(session: Session, connection_id: int) -> None:
    """Drop every list entry and what the company said about itself: the Web Connector opened another
    company file, so they describe another company (until its refresh, nothing is taken as known)."""
    session.execute(delete(QbListEntry).where(QbListEntry.connection_id == connection_id))
    checkpoints.delete(session, connection_id, Checkpoint.name.in_(
        [f"company:{query}" for query in COMPANY_QUERIES] + [f"{CHECKPOINT}:{name}" for name in LISTS]
        + [CUSTOMERS_NEWEST, CUSTOMERS_CAUGHT_UP]))
    for list_type in LISTS:
        _invalidate(session, connection_id, list_type)


def forget_entry(session: Session, connection_id: int, list_type: str, list_id: str) -> None:
    """Drop an entry QuickBooks says no longer exists (so nothing links to it again from the list)."""
    session.execute(
        delete(QbListEntry).where(
            QbListEntry.connection_id == connection_id,
            QbListEntry.list_type == list_type,
            QbListEntry.list_id == list_id,
        )
    )
    _invalidate(session, connection_id, list_type)


def forget_named(session: Session, connection_id: int, list_type: str, full_name: str) -> None:
    """Drop the entry with this name (QuickBooks said a reference by that name points at nothing)."""
    session.execute(
        delete(QbListEntry).where(
            QbListEntry.connection_id == connection_id,
            QbListEntry.list_type == list_type,
            func.lower(QbListEntry.full_name) == full_name.strip().lower(),
        )
    )
    _invalidate(session, connection_id, list_type)


def mark_refreshed(session: Session, connection_id: int, list_type: str, now: datetime) -> None:
    """Remember when ``list_type`` was last read completely."""
    checkpoints.save(session, connection_id, f"{CHECKPOINT}:{list_type}", now.isoformat())


def last_refreshed(session: Session, connection_id: int, list_type: str) -> datetime | None:
    """When ``list_type`` was last read completely (naive UTC), or None."""
    value = checkpoints.read(session, connection_id, f"{CHECKPOINT}:{list_type}")
    return datetime.fromisoformat(value) if value else None


def entries(session: Session, connection_id: int, list_type: str) -> list[QbListEntry]:
    """Every stored entry of one list, by name (for the settings pickers)."""
    return list(
        session.scalars(
            select(QbListEntry)
            .where(QbListEntry.connection_id == connection_id, QbListEntry.list_type == list_type)
            .order_by(QbListEntry.full_name)
        )
    )


# --- look-ups the engine makes, cached for the database session ------------------------------------

_CACHE = "qbsync.list_entries"
_ADDED = "qbsync.list_entries_added"  # entries store_page created in this session, by list id
_KNOWN = "qbsync.list_entries_known"  # entries preload read, by (connection, list type) and list id
_CHECKED = "qbsync.list_ids_checked"  # per connection: list ids preload looked for (found or not)
_TOUCHED = "qbsync.list_entries_touched"  # entries store_page wrote in this session, by list id
_CUSTOMERS = "qbsync.customers_by_key"  # per connection: the customers looked up by name and by e-mail


_GENERATION = "qbsync.lists_generation"  # how many times this session's lists changed


def generation(session: Session) -> int:
    """A count of the changes this session made to the pulled lists (an entry stored or dropped): what was
    worked out from the lists at another count may be out of date."""
    return int(session.info.get(_GENERATION, 0))


def _invalidate(session: Session, connection_id: int, list_type: str) -> None:
    session.info[_GENERATION] = generation(session) + 1
    session.info.get(_CACHE, {}).pop((connection_id, list_type), None)
    session.info.get(_TOUCHED, {}).pop((connection_id, list_type), None)
    if list_type == "Customer":
        session.info.get(_CUSTOMERS, {}).pop(connection_id, None)
    session.info.get(_ADDED, {}).pop((connection_id, list_type), None)  # they may be deleted now
    session.info.get(_KNOWN, {}).pop((connection_id, list_type), None)
    session.info.get(_CHECKED, {}).pop(connection_id, None)  # "not stored" may be wrong for this list now


def _remember(session: Session, connection_id: int, list_type: str, entry: QbListEntry) -> None:
    session.info[_GENERATION] = generation(session) + 1
    looked_up = session.info.get(_CUSTOMERS, {}).get(connection_id) if list_type == "Customer" else None
    if looked_up is not None:
        _add_looked_up(looked_up, entry)
    index = session.info.get(_CACHE, {}).get((connection_id, list_type))
    if index is None:
        return  # loaded from the table when first asked
    index["name"][entry.full_name.strip().lower()] = entry
    index["id"][entry.list_id] = entry
    email = str((entry.data or {}).get("Email") or "").strip().lower()
    if email:
        others = [e for e in index["email"].get(email, ()) if e.list_id != entry.list_id]
        index["email"][email] = [*others, entry]


class _Stored:
    """A stored customer as the index needs it, read as a row (its ``data`` as the stored JSON text, not
    decoded): the customer list grows with the store's buyers and is indexed once per database session,
    and a look-up needs only a few of them as entries (:func:`_entry`)."""

    __slots__ = ("id", "connection_id", "list_id", "full_name", "email", "active", "data")

    def __init__(self, row: Any) -> None:
        self.id, self.connection_id, self.list_id, self.full_name = row[:4]
        self.email = str(row[4] or "").strip().lower()
        self.active = _active({"IsActive": row[5]} if row[5] is not None else None)
        self.data: str | None = row[6]


def _entry(session: Session, found: QbListEntry | _Stored | None) -> QbListEntry | None:
    """The entry an index look-up found: a stored customer becomes the session's entry as the ORM would
    load it (its data decoded now), without reading its row again."""
    if not isinstance(found, _Stored):
        return found
    held = session.identity_map.get(identity_key(QbListEntry, found.id))
    if held is not None:
        return cast(QbListEntry, held)
    entry = QbListEntry(id=found.id, connection_id=found.connection_id, list_type="Customer",
                        list_id=found.list_id, full_name=found.full_name,
                        data=json.loads(found.data) if found.data is not None else None)
    make_transient_to_detached(entry)  # as read from its row: nothing to write (refreshed_at read if asked)
    session.add(entry)
    return entry


def _active(data: Mapping[str, Any] | None) -> bool:
    """Whether a pulled customer is active (one the merchant made inactive is not given new sales)."""
    return str((data or {}).get("IsActive", "true")).lower() not in ("false", "0")


def _stored(session: Session, connection_id: int, list_type: str) -> list[QbListEntry | _Stored]:
    """The stored entries of a list, read without flushing the session first; the customers as
    :class:`_Stored`, except those this session holds already (the ORM's own read would return those
    as they are, changed or not; an expired one it would read from its row, as _Stored does)."""
    where = (QbListEntry.connection_id == connection_id, QbListEntry.list_type == list_type)
    with session.no_autoflush:
        if list_type != "Customer":
            return list(session.scalars(select(QbListEntry).where(*where)))
        table = QbListEntry.__table__.c  # a plain Core read: rows, not the ORM's loading
        rows = session.connection().execute(select(
            table.id, table.connection_id, table.list_id, table.full_name,
            table.data["Email"].as_string(), table.data["IsActive"].as_string(),
            sql_cast(table.data, Text),  # the JSON text, decoded only for an entry looked up
        ).where(table.connection_id == connection_id, table.list_type == list_type)).all()
    held: dict[int, QbListEntry] = {}
    for state in session.identity_map.all_states():
        obj = state.obj()
        if state.class_ is not QbListEntry or not state.identity or obj is None or state.expired_attributes:
            continue
        held[state.identity[0]] = obj
    return [held.get(row[0]) or _Stored(row) for row in rows]


def _index(session: Session, connection_id: int, list_type: str) -> dict[str, Any]:
    caches = session.info.setdefault(_CACHE, {})
    key = (connection_id, list_type)
    if key not in caches:
        by_name: dict[str, QbListEntry | _Stored] = {}
        by_id: dict[str, QbListEntry | _Stored] = {}
        by_email: dict[str, list[QbListEntry | _Stored]] = {}
        # No flush first (it wrote the round trip's job changes so far): the only entries of the list this
        # session has not written are the ones store_page added, taken from ``_ADDED``.
        stored = _stored(session, connection_id, list_type)
        found = {entry.list_id for entry in stored}
        added = session.info.get(_ADDED, {}).get(key, {})
        for entry in [*stored, *(e for list_id, e in added.items() if list_id not in found)]:
            by_name.setdefault(entry.full_name.strip().lower(), entry)
            by_id[entry.list_id] = entry
            email = entry.email if isinstance(entry, _Stored) else str(
                (entry.data or {}).get("Email") or "").strip().lower()
            if email:
                by_email.setdefault(email, []).append(entry)
        caches[key] = {"name": by_name, "id": by_id, "email": by_email}
    return caches[key]


def has_list(session: Session, connection_id: int, list_type: str) -> bool:
    """Whether any entry of the list was pulled (so 'not in the list' means 'not in QuickBooks')."""
    return bool(_index(session, connection_id, list_type)["name"])


def by_name(session: Session, connection_id: int, list_type: str, name: str) -> QbListEntry | None:
    """The entry of ``list_type`` with this full name (case-insensitive), or None."""
    if list_type == "Customer":  # the one list that grows with the store: looked up, not indexed whole
        key = name.strip().lower()
        looked_up = session.info.get(_CUSTOMERS, {}).get(connection_id)
        if looked_up is None or key not in looked_up["name"]:
            looked_up = _customers(session, connection_id, names=(name,))
        return cast(QbListEntry | None, looked_up["name"][key])
    return _entry(session, _index(session, connection_id, list_type)["name"].get(name.strip().lower()))


def by_id(session: Session, connection_id: int, list_type: str, list_id: str) -> QbListEntry | None:
    """The entry of ``list_type`` with this ListID, or None."""
    return _entry(session, _index(session, connection_id, list_type)["id"].get(list_id))


def customer_by_email(session: Session, connection_id: int, email: str) -> QbListEntry | None:
    """The one active pulled QuickBooks customer with this e-mail address, or None.

    The e-mail proves whose account it is only when it names one: a customer's jobs (``Acme:Website``,
    which QuickBooks fills with the customer's e-mail) give way to the customer, and two customers of their
    own with one e-mail (a shared office address) are no proof of either. A customer the merchant made
    inactive is not given new sales.
    """
    if not email.strip():
        return None
    key = email.strip().lower()
    looked_up = session.info.get(_CUSTOMERS, {}).get(connection_id)
    if looked_up is None or key not in looked_up["email"]:
        looked_up = _customers(session, connection_id, emails=(email,))
    found: list[QbListEntry] = looked_up["email"][key]
    active = [e for e in found if _active(e.data)]
    top = [e for e in active if ":" not in e.full_name]  # a job's full name is "Customer:Job"
    if len(top) == 1:
        return top[0]
    return active[0] if len(active) == 1 else None


def preload_customers(session: Session, connection_id: int, names: Iterable[str] = (),
                      emails: Iterable[str] = ()) -> None:
    """Read the stored customers with these names or e-mails (any case) in one query (per 500), so that
    :func:`by_name` and :func:`customer_by_email` need no query of their own for them in this session.

    Handlers' ``prepare`` hooks call it with the names and e-mails of a round trip's jobs.
    """
    _customers(session, connection_id, names, emails)


def _customers(session: Session, connection_id: int, names: Iterable[str] = (),
               emails: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
    """The session's customers looked up so far (``name`` -> the entry, ``email`` -> the entries), after
    reading those with ``names`` or ``emails`` not looked up yet.

    As the whole list's index had them: by name the first entry (by ListID) of that name, by e-mail every
    entry with it; an entry this session changed (``store_page``) by what it holds now.
    """
    looked_up = session.info.setdefault(_CUSTOMERS, {}).setdefault(connection_id, {"name": {}, "email": {}})
    asked = ({("name", name.strip().lower()) for name in names}
             | {("email", key) for key in (email.strip().lower() for email in emails) if key})
    wanted = sorted(pair for pair in asked if pair[1] not in looked_up[pair[0]])
    if not wanted:
        return looked_up
    read: dict[int, QbListEntry] = {}
    with session.no_autoflush:  # see store_page: the round trip's changes are written at commit
        for start in range(0, len(wanted), 500):
            part = wanted[start:start + 500]
            by_name = [key for kind, key in part if kind == "name"]
            by_email = [key for kind, key in part if kind == "email"]
            condition = or_(*([QbListEntry.name_key.in_(by_name)] if by_name else []),
                            *([QbListEntry.email_key.in_(by_email)] if by_email else []))
            for entry in session.scalars(select(QbListEntry).where(
                    QbListEntry.connection_id == connection_id, QbListEntry.list_type == "Customer",
                    condition)):
                read[entry.id] = entry
    # Entries this session wrote count as they are now (unflushed, their rows may hold other names): those
    # with rows among the rows, by ListID (the order the whole list was read in, through its unique index),
    # those without after them, as they were added.
    key = (connection_id, "Customer")
    written = {**session.info.get(_TOUCHED, {}).get(key, {}), **session.info.get(_ADDED, {}).get(key, {})}
    stored = {entry.list_id: entry for entry in read.values()}
    stored.update((list_id, e) for list_id, e in written.items() if not inspect(e).pending)
    candidates = [*sorted(stored.values(), key=lambda e: e.list_id),
                  *(e for list_id, e in written.items() if list_id not in stored)]
    asking = set(wanted)
    for kind, key_ in wanted:
        looked_up[kind][key_] = None if kind == "name" else []
    for entry in candidates:
        name, email = entry.full_name.strip().lower(), _email_of(entry)
        if ("name", name) in asking and looked_up["name"][name] is None:
            looked_up["name"][name] = entry
        if email and ("email", email) in asking:
            looked_up["email"][email].append(entry)
    return looked_up


def _email_of(entry: QbListEntry) -> str:
    return str((entry.data or {}).get("Email") or "").strip().lower()


def _add_looked_up(looked_up: dict[str, dict[str, Any]], entry: QbListEntry) -> None:
    """A customer QuickBooks just returned, in the looked-up names and e-mails (as ``_remember`` in the
    index: the entry under its name now; among the entries with its e-mail, last)."""
    name, email = entry.full_name.strip().lower(), _email_of(entry)
    if name in looked_up["name"]:
        looked_up["name"][name] = entry
    if email in looked_up["email"]:
        others = [e for e in looked_up["email"][email] if e.list_id != entry.list_id]
        looked_up["email"][email] = [*others, entry]


def remember_customer(session: Session, connection_id: int, record: Mapping[str, Any]) -> None:
    """Keep a customer QuickBooks just added or returned in the list, so e-mail matching sees it at once."""
    remember(session, connection_id, "Customer", "CustomerRet", record)
