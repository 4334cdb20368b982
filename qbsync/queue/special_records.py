"""The QuickBooks records qbsync uses for the store's own things, for the mappings page.

Shipping, fees, discounts, gift cards, rounding cents and each store tax rate go on items; the tax is owed
to an agency vendor; the items and sales post to accounts. Nothing new is stored for this list: it is read
from the links of the special items (``id_mappings`` of type ``special_item``, keyed by role, with the
store's name and why QuickBooks has another when qbsync had to change it), the item jobs' payloads (a tax
rate's label and rate), the company setup's record of what it chose or created, and the settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qbsync.queue import choices, lists, mappings, sales_tax, setup
from qbsync.queue.handlers.items import SPECIAL_ITEMS
from qbsync.queue.settings import SyncSettings
from qbsync.storage.models import Connection, IdMapping, QueueJob

HOW = {"created": "created by qbsync", "chosen": "found in QuickBooks (chosen by type)"}


@dataclass(frozen=True)
class Row:
    """One QuickBooks record qbsync uses: what of the store it stands for, its name, and how it came."""

    stands_for: str  # "tax rate 'California State Tax' 7.25 %", "item that carries shipping lines"
    qb_name: str
    kind: str  # "item", "sales tax item", "account", "vendor", "payment method"
    how: str  # "created by qbsync", "found in QuickBooks (not created by qbsync)", "named in the settings"
    store_name: str = ""  # the store's name, when QuickBooks has another one
    renamed: str = ""  # why QuickBooks has another name


def tax_rate_words(payload: Mapping[str, Any], fallback: str) -> str:
    """What a store tax rate's item stands for, from its item job's payload: "tax rate 'CA Tax' 7.25 %"."""
    label = str(payload.get("desc") or "").strip()
    if not label:
        return f"tax rate {fallback!r}"
    try:
        rate = Decimal(str(payload.get("tax_rate") or "0"))
    except InvalidOperation:
        rate = Decimal(0)
    percent = f" {rate.normalize():f} %" if rate or str(payload.get("store_name") or label) != label else ""
    return f"tax rate {label!r}{percent}"


def role_words(role: str) -> str:
    """What the special item of ``role`` (a mapping key) stands for, in the merchant's words."""
    if role == sales_tax.ZERO_ROLE:
        return "0 % sales tax item on each sale (the store's tax is on the lines, per rate)"
    if role in SPECIAL_ITEMS:
        return choices.BY_SETTING[SPECIAL_ITEMS[role][0]].what
    return role.replace("_", " ")


def _latest_payloads(session: Session, connection_id: int, roles: list[str]) -> dict[str, Mapping[str, Any]]:
    """The newest item job's payload per special role (what qbsync asked QuickBooks to add)."""
    found: dict[str, Mapping[str, Any]] = {}
    if not roles:
        return found
    rows = session.execute(select(QueueJob.record_id, QueueJob.payload).where(
        QueueJob.connection_id == connection_id, QueueJob.kind == "item",
        QueueJob.record_type == mappings.SPECIAL_ITEM, QueueJob.record_id.in_(roles)).order_by(QueueJob.id))
    for role, payload in rows:
        found[str(role)] = payload or {}
    return found


def _item_kind(mapping: IdMapping) -> str:
    return "sales tax item" if mapping.qb_type == "ItemSalesTax" else "item"


def rows(session: Session, connection: Connection) -> list[Row]:
    """Every QuickBooks record qbsync uses for the store's shipping, fees, discounts, gift cards, rounding
    and tax rates (the items linked, then the store's tax rates), and the accounts, tax agency and payment
    methods the company setup chose or created or the settings name."""
    links = list(session.scalars(select(IdMapping).where(
        IdMapping.connection_id == connection.id, IdMapping.record_type == mappings.SPECIAL_ITEM)))
    payloads = _latest_payloads(session, connection.id, [m.storefront_id for m in links])
    settings = SyncSettings(connection.settings)
    found: list[Row] = []
    shown: set[tuple[str, str]] = set()  # (setting, name) already listed
    for mapping in sorted(links, key=lambda m: (m.storefront_id.startswith(sales_tax.RATE_ROLE_PREFIX),
                                                 m.storefront_id)):
        role, name = mapping.storefront_id, mapping.qb_name or mapping.qb_id
        if role.startswith(sales_tax.RATE_ROLE_PREFIX):
            what = tax_rate_words(payloads.get(role) or {}, mapping.store_name or name)
        else:
            what = role_words(role)
        found.append(Row(what, name, _item_kind(mapping), mappings.provenance(mapping),
                         mapping.store_name or "", mapping.rename_reason or ""))
        if role in SPECIAL_ITEMS:
            shown.add((SPECIAL_ITEMS[role][0], name.casefold()))
    for done in reversed(setup.state(session, connection.id)["done"]):  # newest first
        setting, name = str(done["setting"]), str(done["name"])
        need = choices.PAYMENT_METHOD if setting == "payment_method_map" else choices.BY_SETTING.get(setting)
        if need is None or (setting, name.casefold()) in shown:
            continue
        if need is not choices.PAYMENT_METHOD and str(settings[setting] or "").casefold() != name.casefold():
            continue  # the setting names another record now
        found.append(Row(need.what, name, choices.word(need), HOW.get(str(done["how"]), str(done["how"]))))
        shown.add((setting, name.casefold()))
    company = setup.company(session, connection.id)  # which settings it uses (a Canadian file: no agency)
    for need in choices.NEEDS:
        value = str(settings[need.setting] or "").strip()
        if not value or need.list_type == "SalesTaxCode" or (need.setting, value.casefold()) in shown:
            continue
        if need.when_needed or not need.applies(settings, company):
            continue  # an item is listed once an order used it
        known = lists.by_name(session, connection.id, need.list_type, value) is not None
        how = ("found in QuickBooks (named in the settings)" if known
               else "named in the settings, not in QuickBooks' lists yet")
        found.append(Row(need.what, value, choices.word(need), how))
    return found

