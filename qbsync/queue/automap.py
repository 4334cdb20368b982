"""Auto-mapping: link storefront customers, products and payment methods to the QuickBooks records with the
same e-mail, SKU or name, from the lists last pulled from QuickBooks (``qb_list_entries``).

Only what is not mapped yet is touched: a mapping a person set (``manual=True``), or one the sync made,
is never replaced. A value that matches more than one QuickBooks record is left for a person, with the
candidates named. Customers and products become ``id_mappings`` rows (keyed the way the sync engine keys
them: the storefront record's id); payment methods become ``code=QuickBooks name`` pairs of the
``payment_method_map`` setting, which is what the engine reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qbsync.queue import mappings
from qbsync.queue.rules import pairs
from qbsync.queue.settings import validate_overrides
from qbsync.storage.models import Connection, IdMapping, QbListEntry, StorefrontRecord

KINDS = ("customer", "product", "payment_method")
# The lists each kind maps to (the list refresh stores every item under "Item", its type in data["type"]).
LIST_TYPES: dict[str, tuple[str, ...]] = {
    "customer": ("Customer",),
    "product": ("Item",),
    "payment_method": ("PaymentMethod",),
}
# Item types a store product is never mapped to.
NOT_PRODUCTS = ("ItemSalesTax", "ItemSalesTaxGroup", "ItemDiscount", "ItemSubtotal", "ItemPayment",
                "ItemFixedAsset")
ITEM_NAME_LIMIT = 31  # QuickBooks cuts item names (the engine names items by SKU) to this length
PAYMENT_METHOD_SCAN = 5000  # newest orders read to find the storefront's payment methods


def normalize(text: Any) -> str:
    """Case- and spacing-insensitive form of a name, e-mail or SKU."""
    return " ".join(str(text or "").split()).casefold()


@dataclass(frozen=True)
class Candidate:
    """A QuickBooks list entry, reduced to what matching needs; ``keys`` maps a key kind to its values."""

    qb_type: str
    qb_id: str
    full_name: str
    keys: Mapping[str, frozenset[str]]


@dataclass(frozen=True)
class StoreValue:
    """A storefront customer, product or payment method: its id, what to show, and its keys by priority."""

    storefront_id: str
    title: str
    detail: str
    keys: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Match:
    """``value`` is the QuickBooks record ``candidate``, found by its ``by`` key (email, sku, name)."""

    value: StoreValue
    candidate: Candidate
    by: str


@dataclass(frozen=True)
class Ambiguous:
    """More than one QuickBooks record fits ``value``: a person must choose."""

    value: StoreValue
    candidates: tuple[Candidate, ...]
    by: str


@dataclass
class AutomapReport:
    """What one auto-map run did."""

    kind: str
    mapped: list[Match] = field(default_factory=list)
    ambiguous: list[Ambiguous] = field(default_factory=list)
    unmatched: list[StoreValue] = field(default_factory=list)
    already_mapped: int = 0

    def summary(self) -> str:
        """One sentence for the page."""
        parts = [f"{len(self.mapped)} mapped"]
        if self.already_mapped:
            parts.append(f"{self.already_mapped} already mapped (left as they were)")
        if self.ambiguous:
            names = "; ".join(
                f"{a.value.title} ({' or '.join(c.full_name for c in a.candidates[:3])})"
                for a in self.ambiguous[:5]
            )
            parts.append(f"{len(self.ambiguous)} with more than one possible match, left for you: {names}")
        if self.unmatched:
            parts.append(f"{len(self.unmatched)} with no QuickBooks match")
        return ", ".join(parts) + "."


# --- matching (pure) ------------------------------------------------------------------------------


def match_values(values: Iterable[StoreValue], candidates: Sequence[Candidate]) -> AutomapReport:
    """Match each value to exactly one candidate by its keys, strongest first (pure; writes nothing).

    When a key fits several candidates, the value's weaker keys may narrow them to one; otherwise the
    value is ambiguous. A key that fits none falls through to the next.
    """
    index: dict[tuple[str, str], set[int]] = {}
    for position, candidate in enumerate(candidates):
        for kind, keys in candidate.keys.items():
            for key in keys:
                if key:
                    index.setdefault((kind, key), set()).add(position)
    report = AutomapReport(kind="")
    for value in values:
        value_keys = [(kind, normalize(text)) for kind, text in value.keys if normalize(text)]
        outcome: Match | Ambiguous | None = None
        for number, (kind, key) in enumerate(value_keys):
            found = index.get((kind, key), set())
            if not found:
                continue
            narrowed = set(found)
            for later_kind, later_key in value_keys[number + 1:]:
                if len(narrowed) == 1:
                    break
                also = narrowed & index.get((later_kind, later_key), set())
                if also:
                    narrowed = also
            if len(narrowed) == 1:
                outcome = Match(value, candidates[next(iter(narrowed))], kind)
            else:
                outcome = Ambiguous(value, tuple(candidates[i] for i in sorted(narrowed)), kind)
            break
        if isinstance(outcome, Match):
            report.mapped.append(outcome)
        elif isinstance(outcome, Ambiguous):
            report.ambiguous.append(outcome)
        else:
            report.unmatched.append(value)
    return report


def _last_segment(full_name: str) -> str:
    return full_name.rsplit(":", 1)[-1]


def _text(data: Mapping[str, Any], *names: str) -> list[str]:
    found = []
    for name in names:
        value = data.get(name)
        if isinstance(value, str | int) and str(value).strip():
            found.append(str(value))
    return found


def candidate_of(kind: str, entry: QbListEntry) -> Candidate:
    """The matching keys of one QuickBooks list entry."""
    data = entry.data or {}
    full = entry.full_name or ""
    names = {full, _last_segment(full), *_text(data, "Name", "name", "FullName")}
    keys: dict[str, set[str]] = {"name": set(names)}
    if kind == "customer":
        keys["email"] = set(_text(data, "Email", "email"))
        first, last = " ".join(_text(data, "FirstName")), " ".join(_text(data, "LastName"))
        keys["name"] |= set(_text(data, "CompanyName")) | {f"{first} {last}", f"{last}, {first}"}
    elif kind == "product":
        keys["sku"] = {full, _last_segment(full),
                       *_text(data, "Name", "ManufacturerPartNumber", "BarCodeValue")}
        keys["name"] |= set(_text(data, "SalesDesc", "PurchaseDesc"))
    qb_type = str(data.get("type") or data.get("ItemType") or entry.list_type)
    return Candidate(qb_type=qb_type, qb_id=entry.list_id, full_name=full,
                     keys={k: frozenset(normalize(v) for v in vs if normalize(v)) for k, vs in keys.items()})


def store_value_of(kind: str, storefront_id: str, data: Mapping[str, Any]) -> StoreValue:
    """What the mappings page shows for, and matches, one storefront record (its ``data`` as stored)."""
    if kind == "customer":
        first, last = str(data.get("first_name") or ""), str(data.get("last_name") or "")
        company = str(data.get("company") or "")
        email = str(data.get("email") or "")
        person = " ".join(p for p in (first, last) if p)
        title = person or company or email or f"Customer {storefront_id}"
        keys = [("email", email), ("name", person), ("name", f"{last}, {first}" if last and first else ""),
                ("name", company)]
        return StoreValue(storefront_id, title, email, tuple((k, v) for k, v in keys if v))
    if kind == "product":
        sku = str(data.get("sku") or "")
        name = str(data.get("name") or "")
        keys = [("sku", sku), ("sku", sku[:ITEM_NAME_LIMIT]),
                ("name", name), ("name", name[:ITEM_NAME_LIMIT])]
        return StoreValue(storefront_id, name or f"Product {storefront_id}",
                          f"SKU {sku}" if sku else "no SKU",
                          tuple((k, v) for k, v in keys if v))
    title = str(data.get("payment_method_title") or storefront_id)
    return StoreValue(storefront_id, title, f"code {storefront_id}",
                      tuple((k, v) for k, v in (("name", title), ("name", storefront_id)) if v))


# --- reading and writing --------------------------------------------------------------------------


def qb_candidates(session: Session, connection_id: int, kind: str) -> list[Candidate]:
    """The QuickBooks records a ``kind`` can map to, from the last list refresh (inactive ones left out)."""
    entries = session.scalars(
        select(QbListEntry).where(QbListEntry.connection_id == connection_id,
                                  QbListEntry.list_type.in_(LIST_TYPES[kind]))
        .order_by(QbListEntry.full_name)
    )
    found = [candidate_of(kind, e) for e in entries if str((e.data or {}).get("IsActive", "true")).lower()
             not in ("false", "0")]
    if kind == "product":
        found = [c for c in found if c.qb_type not in NOT_PRODUCTS]
    return found


def payment_methods(session: Session, connection_id: int,
                    limit: int = PAYMENT_METHOD_SCAN) -> list[StoreValue]:
    """The payment methods seen on the connection's newest orders (code and title), by code."""
    code = StorefrontRecord.data["payment_method"].as_string()
    title = StorefrontRecord.data["payment_method_title"].as_string()
    newest = (select(code.label("code"), title.label("title"))
              .where(StorefrontRecord.connection_id == connection_id, StorefrontRecord.record_type == "order")
              .order_by(StorefrontRecord.updated_at.desc()).limit(limit).subquery())
    rows = session.execute(select(newest.c.code, func.max(newest.c.title)).group_by(newest.c.code)
                           .order_by(newest.c.code))
    return [store_value_of("payment_method", str(c), {"payment_method_title": t}) for c, t in rows
            if c not in (None, "")]


def store_values(session: Session, connection_id: int, kind: str) -> list[StoreValue]:
    """Every storefront customer, product or payment method of the connection."""
    if kind == "payment_method":
        return payment_methods(session, connection_id)
    rows = session.execute(
        select(StorefrontRecord.record_id, StorefrontRecord.data)
        .where(StorefrontRecord.connection_id == connection_id, StorefrontRecord.record_type == kind,
               StorefrontRecord.deleted.is_(False))
        .order_by(StorefrontRecord.record_id)
    )
    return [store_value_of(kind, record_id, data or {}) for record_id, data in rows]


def automap(session: Session, connection: Connection, kind: str) -> AutomapReport:
    """Map every unmapped ``kind`` of ``connection`` that has exactly one QuickBooks match."""
    if kind not in KINDS:
        raise ValueError(f"auto-map works on {', '.join(KINDS)}, not {kind!r}")
    values = store_values(session, connection.id, kind)
    if kind == "payment_method":
        taken = set(pairs((connection.settings or {}).get("payment_method_map", [])))
    else:
        taken = set(session.scalars(select(IdMapping.storefront_id).where(
            IdMapping.connection_id == connection.id, IdMapping.record_type == kind)))
    open_values = [v for v in values if (v.storefront_id.lower() if kind == "payment_method"
                                         else v.storefront_id) not in taken]
    report = match_values(open_values, qb_candidates(session, connection.id, kind))
    report.kind = kind
    report.already_mapped = len(values) - len(open_values)
    if kind == "payment_method":
        if report.mapped:
            set_payment_methods(connection,
                                {m.value.storefront_id: m.candidate.full_name for m in report.mapped})
        return report
    for found in report.mapped:
        mappings.link(session, connection.id, kind, found.value.storefront_id,
                      qb_type=found.candidate.qb_type, qb_id=found.candidate.qb_id,
                      qb_name=found.candidate.full_name, origin=mappings.FOUND)
    return report


def set_payment_methods(connection: Connection, changes: Mapping[str, str | None]) -> None:
    """Set (or, with None, remove) ``code=QuickBooks name`` pairs in the connection's payment_method_map."""
    settings = dict(connection.settings or {})
    current = {code: name for code, name in pairs(settings.get("payment_method_map", [])).items()}
    for code, name in changes.items():
        if name:
            current[code.strip().lower()] = name.strip()
        else:
            current.pop(code.strip().lower(), None)
    entries = [f"{code}={name}" for code, name in sorted(current.items())]
    if entries:
        settings.update(validate_overrides({"payment_method_map": entries}))
    else:
        settings.pop("payment_method_map", None)
    connection.settings = settings
