"""Mappings: storefront customers, products, payment methods and tax codes beside the QuickBooks records
they go to, picked from the lists pulled from QuickBooks; auto-map in one click, override by hand."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import JSON, String, and_, cast, exists, false, func, null, or_, select, union_all
from sqlalchemy.orm import Session

from qbsync.queue import automap, special_records
from qbsync.queue import mappings as id_mappings
from qbsync.queue.rules import pairs
from qbsync.queue.settings import BY_NAME, SyncSettings, validate_overrides
from qbsync.service.pages.lookup import (
    all_connections,
    chosen_connection,
    connection_or_404,
    page_count,
    page_number,
    runtime,
)
from qbsync.storage.models import Connection, IdMapping, QbListEntry, StorefrontRecord

log = logging.getLogger(__name__)

blueprint = Blueprint("mappings", __name__, url_prefix="/mappings")

PAGE_SIZE = 100
MAX_PICKER_VALUES = 10_000
TAX_ORDER_SCAN = 500
KIND_LABELS = {"customer": "Customers", "product": "Products", "payment_method": "Payment methods",
               "tax": "Tax codes", "special": "Shipping, tax and other records"}
READ_ONLY = ("special",)  # listed, not set here: the settings and the company setup page name them
# The tax settings the engine reads, each with the QuickBooks list (and item types) its value comes from.
TAX_SETTINGS: list[tuple[str, str, str, tuple[str, ...] | None]] = [
    ("taxable_code", "Sales tax code for taxable lines", "SalesTaxCode", None),
    ("non_taxable_code", "Sales tax code for non-taxable lines", "SalesTaxCode", None),
    ("quickbooks_tax_item", "Sales tax item (tax mode 'quickbooks')", "Item",
     ("ItemSalesTax", "ItemSalesTaxGroup")),
    ("tax_item", "Item that carries the storefront's tax as a line (tax mode 'line')", "Item",
     ("ItemOtherCharge",)),
]


@dataclass(frozen=True)
class Row:
    """One storefront value, the QuickBooks name it maps to now, and who set it."""

    value: automap.StoreValue
    qb_name: str
    source: str  # "by hand", "automatic", "setting" or "" (unmapped)
    store_name: str = ""  # the store's name, when QuickBooks has another one
    renamed: str = ""  # why QuickBooks has another name (cut, characters changed, a suffix added)


def picker_values(session: Session, connection_id: int, list_types: tuple[str, ...], *,
                  item_types: tuple[str, ...] | None = None,
                  not_item_types: tuple[str, ...] = ()) -> tuple[list[str], bool]:
    """QuickBooks full names for the picker (sorted), and whether the list was cut short."""
    item_type = QbListEntry.data["type"].as_string()
    stmt = select(QbListEntry.full_name).where(QbListEntry.connection_id == connection_id,
                                               QbListEntry.list_type.in_(list_types))
    if item_types:
        stmt = stmt.where(item_type.in_(item_types))
    if not_item_types:
        stmt = stmt.where(or_(item_type.is_(None), item_type.not_in(not_item_types)))
    stmt = stmt.distinct().order_by(QbListEntry.full_name).limit(MAX_PICKER_VALUES + 1)
    names = list(session.scalars(stmt))
    return names[:MAX_PICKER_VALUES], len(names) > MAX_PICKER_VALUES


def find_entry(session: Session, connection_id: int, kind: str, name: str) -> QbListEntry | None:
    """The QuickBooks list entry called ``name`` (exact, else case-insensitive) for ``kind``."""
    base = select(QbListEntry).where(QbListEntry.connection_id == connection_id,
                                     QbListEntry.list_type.in_(automap.LIST_TYPES[kind]))
    found = session.scalars(base.where(QbListEntry.full_name == name).limit(1)).first()
    if found is None:
        found = session.scalars(base.where(func.lower(QbListEntry.full_name) == name.strip().lower())
                                .limit(1)).first()
    return found


def record_rows(session: Session, conn: Connection, kind: str, show: str, text: str,
                page: int) -> tuple[list[Row], int]:
    """A page of storefront customers or products with their mappings: every record the store sent, and
    every link without one (a guest linked through an order, a product found already in QuickBooks)."""
    linked = and_(IdMapping.connection_id == conn.id, IdMapping.record_type == kind)
    records = (select(StorefrontRecord.record_id.label("record_id"), StorefrontRecord.data.label("data"),
                      IdMapping.id.label("mapping_id"), IdMapping.qb_name.label("qb_name"))
               .outerjoin(IdMapping, and_(linked, IdMapping.storefront_id == StorefrontRecord.record_id))
               .where(StorefrontRecord.connection_id == conn.id, StorefrontRecord.record_type == kind,
                      StorefrontRecord.deleted.is_(False)))
    links_only = (select(IdMapping.storefront_id.label("record_id"), cast(null(), JSON).label("data"),
                         IdMapping.id.label("mapping_id"), IdMapping.qb_name.label("qb_name"))
                  .where(linked, ~exists(select(StorefrontRecord.id).where(
                      StorefrontRecord.connection_id == conn.id, StorefrontRecord.record_type == kind,
                      StorefrontRecord.record_id == IdMapping.storefront_id))))
    if show == "unmapped":
        records = records.where(IdMapping.id.is_(None))
        links_only = links_only.where(false())
    elif show == "mapped":
        records = records.where(IdMapping.id.is_not(None))
    elif show == "renamed":
        records = records.where(IdMapping.rename_reason.is_not(None))
        links_only = links_only.where(IdMapping.rename_reason.is_not(None))
    if text:
        like = f"%{text}%"  # store name and e-mail live in the record; the QuickBooks name in the link
        records = records.where(or_(StorefrontRecord.record_id == text,
                                    cast(StorefrontRecord.data, String).ilike(like),
                                    IdMapping.qb_name.ilike(like)))
        links_only = links_only.where(or_(IdMapping.storefront_id == text, IdMapping.qb_name.ilike(like)))
    both = union_all(records, links_only).subquery()
    total = session.scalar(select(func.count()).select_from(both)) or 0
    rows = session.execute(select(both).order_by(both.c.mapping_id.is_not(None), both.c.record_id)
                           .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    mappings = {m.id: m for m in session.scalars(
        select(IdMapping).where(IdMapping.id.in_([r.mapping_id for r in rows if r.mapping_id])))}
    found = []
    for row in rows:
        mapping = mappings.get(row.mapping_id) if row.mapping_id else None
        source = "" if mapping is None else ("by hand" if mapping.manual else "automatic")
        if mapping is not None and row.data is None:
            source += ", through orders" if kind == "customer" else ", found in QuickBooks"
        found.append(Row(automap.store_value_of(kind, row.record_id, row.data or {}),
                         (mapping.qb_name or mapping.qb_id) if mapping else "", source,
                         (mapping.store_name or "") if mapping else "",
                         (mapping.rename_reason or "") if mapping else ""))
    return found, total


def payment_rows(session: Session, conn: Connection, show: str) -> list[Row]:
    """Payment methods seen on orders (and any already in the map), with their QuickBooks method."""
    current = pairs((conn.settings or {}).get("payment_method_map", []))
    values = {v.storefront_id.lower(): v for v in automap.payment_methods(session, conn.id)}
    for code in current:
        values.setdefault(code, automap.store_value_of("payment_method", code, {}))
    rows = [Row(v, current.get(code, ""), "setting" if code in current else "")
            for code, v in sorted(values.items())]
    if show == "unmapped":
        rows = [r for r in rows if not r.qb_name]
    elif show == "mapped":
        rows = [r for r in rows if r.qb_name]
    return rows


def tax_rates_seen(session: Session, connection_id: int) -> list[str]:
    """Tax rates named on the newest orders, for reference beside the tax codes."""
    seen: dict[str, str] = {}
    for data in session.scalars(
        select(StorefrontRecord.data).where(StorefrontRecord.connection_id == connection_id,
                                            StorefrontRecord.record_type == "order")
        .order_by(StorefrontRecord.updated_at.desc()).limit(TAX_ORDER_SCAN)
    ):
        for line in (data or {}).get("tax_lines") or []:
            name = str(line.get("label") or line.get("code") or "").strip()
            rate = line.get("rate_percent")
            if name:
                seen.setdefault(name.lower(), f"{name} ({rate} %)" if rate not in (None, "") else name)
    return sorted(seen.values())


@blueprint.get("")
def index() -> Any:
    """Mappings of the first connection."""
    with runtime().db.transaction() as session:
        conn = chosen_connection(session, request.args.get("connection"))
        if conn is None:
            return redirect(url_for("connections.new"))
        return redirect(url_for("mappings.show", name=conn.name, kind="customer"))


@blueprint.get("/<name>/<kind>")
def show(name: str, kind: str) -> Any:
    """One kind of mapping for one connection."""
    if kind not in KIND_LABELS:
        abort(404, description=f"There are no {kind!r} mappings; choose customers, products, payment "
                               "methods or tax codes.")
    show_filter = request.args.get("show", "all")
    if show_filter not in ("all", "unmapped", "mapped", "renamed"):
        show_filter = "all"
    text = request.args.get("q", "").strip()
    page = page_number(request.args.get("page", 1))
    with runtime().db.transaction() as session:
        conn = connection_or_404(session, name)
        context: dict[str, Any] = dict(conn=conn, kind=kind, kinds=KIND_LABELS, show=show_filter, q=text,
                                       page=page, connections=all_connections(session))
        if kind == "tax":
            settings = SyncSettings(conn.settings)
            tax_rows = []
            for setting, label, list_type, item_types in TAX_SETTINGS:
                names, _cut = picker_values(session, conn.id, (list_type,), item_types=item_types)
                value = str(settings[setting] or "")
                known = not names or not value or value.lower() in {n.lower() for n in names}
                tax_rows.append(dict(setting=setting, label=label, value=value, names=names, known=known,
                                     help=BY_NAME[setting].help))
            context.update(tax_rows=tax_rows, rates=tax_rates_seen(session, conn.id),
                           lists_loaded=any(r["names"] for r in tax_rows))
            return render_template("mappings/tax.html", **context)
        if kind == "special":
            every = special_records.rows(session, conn)
            changed = [row for row in every if row.renamed]
            shown = changed if show_filter == "renamed" else every
            return render_template("mappings/special.html", rows=shown, renamed=len(changed), **context)
        names, cut = picker_values(session, conn.id, automap.LIST_TYPES[kind],
                                   not_item_types=automap.NOT_PRODUCTS if kind == "product" else ())
        if kind == "payment_method":
            rows, total = payment_rows(session, conn, show_filter), None
        else:
            rows, total = record_rows(session, conn, kind, show_filter, text, page)
        pages = page_count(total, PAGE_SIZE)
        if page > pages:  # past the end: show the last page instead
            return redirect(url_for("mappings.show", name=conn.name, kind=kind, show=show_filter, q=text,
                                    page=pages))
        renamed = id_mappings.renamed_count(session, conn.id, kind) if kind in ("customer", "product") else 0
        return render_template("mappings/show.html", rows=rows, total=total, pages=pages, names=names,
                               names_cut=cut, renamed=renamed, **context)


@blueprint.post("/<name>/<kind>")
def save(name: str, kind: str) -> Any:
    """Save the mappings a person changed (manual: auto-map never overwrites them)."""
    if kind not in KIND_LABELS or kind in READ_ONLY:
        abort(404)
    back = url_for("mappings.show", name=name, kind=kind, **{k: v for k, v in request.args.items()})
    if kind == "tax":
        return _save_tax(name, back)
    changes: dict[str, str] = {}
    for key, storefront_id in request.form.items():
        if key.startswith("sid:"):
            index = key[4:]
            new = request.form.get(f"qb:{index}", "").strip()
            old = request.form.get(f"was:{index}", "").strip()
            if new != old:
                changes[storefront_id] = new
    if not changes:
        flash("Nothing was changed.", "info")
        return redirect(back)
    errors: list[str] = []
    saved = 0
    with runtime().db.transaction() as session:
        conn = connection_or_404(session, name)
        if kind == "payment_method":
            resolved: dict[str, str | None] = {}
            for code, qb_name in changes.items():
                entry = find_entry(session, conn.id, kind, qb_name) if qb_name else None
                if qb_name and entry is None:
                    errors.append(f"QuickBooks has no payment method named {qb_name!r} (refresh the lists "
                                  "from QuickBooks if it is new)")
                    continue
                resolved[code] = entry.full_name if entry else None
            automap.set_payment_methods(conn, resolved)
            saved = len(resolved)
        else:
            for storefront_id, qb_name in changes.items():
                error = _set_mapping(session, conn, kind, storefront_id, qb_name)
                if error:
                    errors.append(error)
                else:
                    saved += 1
    if saved:
        flash(f"{saved} mapping{'s' if saved != 1 else ''} saved.", "ok")
    for error in errors:
        flash(f"Not saved: {error}.", "error")
    return redirect(back)


def _set_mapping(session: Session, conn: Connection, kind: str, storefront_id: str,
                 qb_name: str) -> str | None:
    mapping = id_mappings.get(session, conn.id, kind, storefront_id)
    if not qb_name:
        if mapping is not None:
            id_mappings.forget(session, mapping)
            log.info("mapping of %s %s removed by a person", kind, storefront_id)
        return None
    entry = find_entry(session, conn.id, kind, qb_name)
    if entry is None:
        what = "customer" if kind == "customer" else "item"
        return f"QuickBooks has no {what} named {qb_name!r} (refresh the lists from QuickBooks if it is new)"
    qb_type = automap.candidate_of(kind, entry).qb_type
    if mapping is None:
        mapping = id_mappings.link(session, conn.id, kind, storefront_id, qb_type=qb_type,
                                   qb_id=entry.list_id, qb_name=entry.full_name)
    elif mapping.qb_id != entry.list_id:
        # A different QuickBooks record: what was synced to the old one says nothing about the new one.
        mapping.qb_type, mapping.qb_id, mapping.qb_name = qb_type, entry.list_id, entry.full_name
        mapping.store_name = mapping.rename_reason = None  # a record of its own name, chosen by a person
        mapping.edit_sequence = None
        mapping.synced_hash = None
    mapping.manual = True
    mapping.origin = id_mappings.MANUAL
    log.info("%s %s mapped by hand to %s %s", kind, storefront_id, qb_type, entry.full_name)
    return None


def _save_tax(name: str, back: str) -> Any:
    submitted = {setting: request.form.get(setting, "").strip() for setting, *_rest in TAX_SETTINGS
                 if setting in request.form}
    try:
        parsed = validate_overrides(submitted)
    except ValueError as exc:
        flash(f"Not saved: {exc}.", "error")
        return redirect(back)
    with runtime().db.transaction() as session:
        conn = connection_or_404(session, name)
        settings = dict(conn.settings or {})
        for setting, value in parsed.items():
            if value == BY_NAME[setting].default:
                settings.pop(setting, None)
            else:
                settings[setting] = value
        conn.settings = settings
    flash("Tax codes saved.", "ok")
    return redirect(back)


@blueprint.post("/<name>/<kind>/automap")
def run_automap(name: str, kind: str) -> Any:
    """Auto-map every unmapped value that has exactly one QuickBooks match."""
    if kind not in automap.KINDS:
        abort(404, description=f"auto-map works on customers, products and payment methods, not {kind!r}")
    with runtime().db.transaction() as session:
        conn = connection_or_404(session, name)
        has_lists = session.scalar(select(QbListEntry.id).where(
            QbListEntry.connection_id == conn.id, QbListEntry.list_type.in_(automap.LIST_TYPES[kind])
        ).limit(1))
        if has_lists is None:
            flash("No QuickBooks list has been pulled yet: use 'Refresh lists from QuickBooks' on the "
                  "connection page, let the Web Connector run, then auto-map.", "error")
            return redirect(url_for("mappings.show", name=name, kind=kind))
        report = automap.automap(session, conn, kind)
    log.info("auto-map %s on %s: %s", kind, name, report.summary())
    flash(f"Auto-map: {report.summary()}", "ok" if report.mapped else "info")
    return redirect(url_for("mappings.show", name=name, kind=kind))
