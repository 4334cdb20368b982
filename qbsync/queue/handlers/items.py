"""Items: find or add the QuickBooks item of a storefront product, and the items orders put charges on.

Payloads: ``{"record": Product dict}`` (from a product webhook), ``{"record": {...}, "from_order": true}``
(a product known only from an order line: never updates an item that exists), or
``{"special": "shipping", "name": "Shipping"}`` for the shipping, fee, discount, tax and rounding items.

Steps as for customers: ``lookup`` (ItemQuery by name) -> ``add``; ``link`` after 3100; ``mod`` /
``requery`` for product changes after sync.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from qbsync.qbxml.parse import Response
from qbsync.qbxml.status import Outcome
from qbsync.queue import choices, lists, mappings, naming, preflight, rules, setup
from qbsync.queue.handlers import (
    Again,
    ApplyResult,
    BuildResult,
    Context,
    Done,
    Finish,
    Park,
    Reject,
    corrective_step_due,
    gave_up,
    list_record_deleted,
    progress,
    refused,
    register,
    render,
    reset_progress,
    set_progress,
)
from qbsync.storage.models import IdMapping, QueueJob

FOUND = (Outcome.SUCCESS, Outcome.WARNING)

# Special items: role -> (setting naming the item, QuickBooks type, setting naming its account)
SPECIAL_ITEMS: dict[str, tuple[str, str, str]] = {
    "shipping": ("shipping_item", "ItemOtherCharge", "shipping_account"),
    "fee": ("fee_item", "ItemOtherCharge", "shipping_account"),
    "discount": ("discount_item", "ItemDiscount", "discount_account"),
    "tax": ("tax_item", "ItemOtherCharge", "tax_account"),
    "adjustment": ("adjustment_item", "ItemOtherCharge", "income_account"),
}
# Item types whose Mod qbsync sends, and how their sales fields are shaped.
MODDABLE = ("ItemInventory", "ItemNonInventory", "ItemService", "ItemOtherCharge")


def special_name(role: str, settings: Mapping[str, Any]) -> str:
    """The configured QuickBooks name of a special item (``shipping`` -> "Shipping")."""
    return naming.item_name({"name": settings[SPECIAL_ITEMS[role][0]]}, "name")


def fingerprint(record: Mapping[str, Any]) -> str:
    """What QuickBooks holds of a product, hashed (stock is not part of it: that syncs on its own)."""
    fields = {k: record.get(k) for k in ("name", "sku", "price", "active", "kind")}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def mapping_of(job: QueueJob) -> tuple[str, str]:
    """(record_type, storefront id) the job's item is mapped under."""
    if job.payload.get("special"):
        return mappings.SPECIAL_ITEM, str(job.payload["special"])
    record = job.payload.get("record") or {}
    return mappings.PRODUCT, mappings.product_key(
        record.get("product_id"), record.get("variant_id"), record.get("sku"), record.get("name")
    )


def item_name(job: QueueJob, ctx: Context) -> str:
    """The QuickBooks name the job's item has (or will have)."""
    if job.payload.get("special"):
        return special_name(str(job.payload["special"]), ctx.settings)
    return naming.item_name(job.payload.get("record") or {}, ctx.settings.item_match)


def _account(name: str) -> dict[str, str]:
    return {"FullName": name}


def add_request(job: QueueJob, ctx: Context, name: str) -> tuple[str, dict[str, Any]]:
    """(request type, data) adding the job's item."""
    settings = ctx.settings
    role = job.payload.get("special")
    if role:
        _, qb_type, account_setting = SPECIAL_ITEMS[str(role)]
        return choices.special_item_add(qb_type, name, settings[account_setting], settings)
    record = job.payload.get("record") or {}
    qb_type = rules.item_type(record, settings)
    desc = record.get("name") or name
    price = record.get("price")
    active = None if record.get("active", True) else False
    if qb_type == "ItemInventory":
        data: dict[str, Any] = {
            "Name": name,
            "IsActive": active,
            "SalesDesc": desc,
            "SalesPrice": price,
            "IncomeAccountRef": _account(settings.income_account),
            "PurchaseCost": record.get("cost"),
            "COGSAccountRef": _account(settings.cogs_account),
            "AssetAccountRef": _account(settings.asset_account),
        }
        if record.get("stock_quantity") is not None:
            # The new item starts with the store's stock, so a pull never writes a zero back to the store.
            data["QuantityOnHand"] = record["stock_quantity"]
        return "ItemInventoryAdd", data
    sales = {"Desc": desc, "Price": price, "AccountRef": _account(settings.income_account)}
    return f"{qb_type}Add", {
        "Name": name,
        "IsActive": active,
        "SalesOrPurchase": {k: v for k, v in sales.items() if v is not None},
    }


def mod_request(mapping: IdMapping, record: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(request type, data) bringing a linked item up to date, or None for types qbsync does not change."""
    if mapping.qb_type not in MODDABLE:
        return None
    data: dict[str, Any] = {
        "ListID": mapping.qb_id,
        "EditSequence": mapping.edit_sequence,
        "IsActive": bool(record.get("active", True)),
    }
    if mapping.qb_type == "ItemInventory":
        data.update(SalesDesc=record.get("name"), SalesPrice=record.get("price"))
    else:
        sales = {"Desc": record.get("name"), "Price": record.get("price")}
        data["SalesOrPurchaseMod"] = {k: v for k, v in sales.items() if v is not None}
    return f"{mapping.qb_type}Mod", {k: v for k, v in data.items() if v is not None}


class ItemHandler:
    """Queue jobs of kind ``item``."""

    kind = "item"

    def prepare(self, ctx: Context, jobs: list[QueueJob]) -> None:
        mappings.preload(ctx.session, ctx.connection.id, [mapping_of(j) for j in jobs])

    def build(self, ctx: Context, job: QueueJob) -> BuildResult:
        given_up = gave_up(ctx, job)
        if given_up is not None:
            return given_up
        record_type, key = mapping_of(job)
        name = item_name(job, ctx)
        mapping = mappings.get(ctx.session, ctx.connection.id, record_type, key)
        if (
            mapping is not None
            and record_type == mappings.SPECIAL_ITEM
            and (mapping.qb_name or "").lower() != name.lower()
        ):
            mapping = None  # the setting names another item now
        if mapping is not None:
            return self._update(ctx, job, mapping)
        notes = progress(job)
        step = notes.get("next")
        if corrective_step_due(ctx, job) or (job.needs_lookup and step == "add"):
            # An add whose answer was lost may have happened: look before adding again.
            step = "lookup"
        entry = None
        if step in (None, "add"):
            entry = lists.by_name(ctx.session, ctx.connection.id, "Item", name)
        if entry is not None:
            # In the pulled list (kept current as qbsync adds items, e.g. the company setup's shipping item).
            self._link(
                ctx,
                job,
                (entry.data or {}).get("type") or "Item",
                entry.list_id,
                (entry.data or {}).get("EditSequence"),
                entry.full_name,
                created=False,
            )
            return Finish(f"linked to the QuickBooks item {entry.full_name!r} (from the pulled item list)")
        if step is None:
            unsure = ctx.settings.lookup_before_add == "always" or job.needs_lookup
            step = (
                "lookup" if unsure or job.payload.get("special") or not self._may_create(ctx, job) else "add"
            )
        if step in ("lookup", "link"):
            return render(ctx, "ItemQuery", {"FullName": name}, step)
        if not self._may_create(ctx, job):
            return Reject(self._not_created(name))
        request_type, data = add_request(job, ctx, name)
        return render(ctx, request_type, {k: v for k, v in data.items() if v is not None}, "add")

    def _may_create(self, ctx: Context, job: QueueJob) -> bool:
        return bool(job.payload.get("special")) or bool(ctx.settings.create_missing_items)

    def _not_created(self, name: str) -> str:
        return (
            f"the item {name!r} is not in QuickBooks and create_missing_items is off: add it in "
            "QuickBooks (or turn the setting on), then retry"
        )

    def _update(self, ctx: Context, job: QueueJob, mapping: IdMapping) -> BuildResult:
        record = job.payload.get("record") or {}
        if (
            job.payload.get("special")
            or job.payload.get("from_order")
            or not ctx.settings.update_items
            or mapping.synced_hash == fingerprint(record)
        ):
            return Finish(f"already in QuickBooks as {mapping.qb_name!r}")
        if (
            progress(job).get("next") == "requery"
            or corrective_step_due(ctx, job)
            or not mapping.edit_sequence
        ):
            return render(ctx, "ItemQuery", {"ListID": mapping.qb_id}, "requery")
        request = mod_request(mapping, record)
        if request is None:
            return Finish(
                f"linked to the QuickBooks {mapping.qb_type} {mapping.qb_name!r}, which qbsync "
                "does not change"
            )
        return render(ctx, request[0], request[1], "mod")

    def apply(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        step = job.step
        outcome = response.outcome
        name = item_name(job, ctx)
        if step in ("lookup", "link"):
            if outcome in FOUND and response.record:
                ret = response.record
                qb_type = response.record_types[0].removesuffix("Ret")
                self._link(
                    ctx,
                    job,
                    qb_type,
                    str(ret["ListID"]),
                    ret.get("EditSequence"),
                    str(ret.get("FullName")),
                    created=False,
                )
                lists.remember(ctx.session, ctx.connection.id, "Item", response.record_types[0], ret)
                return Done(f"linked to the existing QuickBooks item {ret.get('FullName')!r}")
            if outcome in (Outcome.NO_MATCH, *FOUND):
                if step == "link":
                    return Park(
                        f"QuickBooks says the item name {name!r} is in use but finds no item by that "
                        "name; rename the item in QuickBooks or link it on the mappings page"
                    )
                if not self._may_create(ctx, job):
                    return Park(self._not_created(name))
                set_progress(job, next="add")
                return Again("not in QuickBooks yet: adding it")
            return refused(response, "item look-up")
        if step == "add":
            if outcome in FOUND and response.record:
                ret = response.record
                qb_type = response.record_types[0].removesuffix("Ret")
                self._link(
                    ctx,
                    job,
                    qb_type,
                    str(ret["ListID"]),
                    ret.get("EditSequence"),
                    str(ret.get("FullName")),
                    created=True,
                )
                # The item list stays current: pickers, the tax codes page and the checks before each
                # request see the new item without waiting for the next refresh.
                lists.remember(ctx.session, ctx.connection.id, "Item", response.record_types[0], ret)
                preflight.wake(ctx.session, ctx.connection.id, ctx.now)  # jobs that waited for this item
                role = job.payload.get("special")
                if role:  # the company setup page lists what qbsync created
                    setup.record(ctx.session, ctx.connection.id, SPECIAL_ITEMS[str(role)][0],
                                 str(ret.get("FullName") or name), "created", ctx.now)
                return Done()
            if outcome is Outcome.NAME_IN_USE:
                set_progress(job, next="link")
                return Again(f"the item name {name!r} is in use in QuickBooks: looking it up to link it")
            if outcome is Outcome.MISSING_REFERENCE:
                return Park(
                    f"QuickBooks lacks something the new item {name!r} refers to: {response.message} "
                    "Create it in QuickBooks or change the account settings, then retry"
                )
            return refused(response, "item")
        record_type, key = mapping_of(job)
        mapping = mappings.get(ctx.session, ctx.connection.id, record_type, key)
        if mapping is None:
            reset_progress(job)
            return Again("the item's link was removed meanwhile")
        if step == "requery":
            if outcome in FOUND and response.record:
                mapping.edit_sequence = str(response.record.get("EditSequence") or "") or None
                set_progress(job, next=None)
                return Again("read the item's current EditSequence")
            if outcome in (Outcome.NOT_FOUND, Outcome.NO_MATCH, *FOUND):
                return list_record_deleted(ctx, job, mapping, "Item", "item")
            return refused(response, "item look-up")
        if step == "mod":
            if outcome in FOUND:
                mapping.edit_sequence = str(
                    (response.record or {}).get("EditSequence") or mapping.edit_sequence
                )
                mapping.synced_hash = fingerprint(job.payload.get("record") or {})
                return Done("item updated")
            if outcome is Outcome.STALE_EDIT_SEQUENCE:
                set_progress(job, next="requery")
                return Again("changed in QuickBooks meanwhile: reading it again")
            if outcome is Outcome.NOT_FOUND:
                return list_record_deleted(ctx, job, mapping, "Item", "item")
            return refused(response, "item change")
        return Park(f"qbsync does not know the step {step!r} of an item job")

    # -- helpers

    def _link(
        self,
        ctx: Context,
        job: QueueJob,
        qb_type: str,
        list_id: str,
        edit_sequence: Any,
        full_name: str,
        created: bool,
    ) -> None:
        record_type, key = mapping_of(job)
        record = job.payload.get("record") or {}
        quantity = None
        if created and qb_type == "ItemInventory" and record.get("stock_quantity") is not None:
            quantity = str(record["stock_quantity"])
        synced = (
            None
            if job.payload.get("from_order") or record_type == mappings.SPECIAL_ITEM
            else fingerprint(record)
        )
        mappings.link(
            ctx.session,
            ctx.connection.id,
            record_type,
            key,
            qb_type=qb_type,
            qb_id=list_id,
            edit_sequence=str(edit_sequence) if edit_sequence else None,
            qb_name=full_name,
            synced_hash=synced,
            quantity=quantity,
        )
        if record.get("inventory_item_id"):
            mappings.link(
                ctx.session,
                ctx.connection.id,
                mappings.INVENTORY_ITEM,
                str(record["inventory_item_id"]),
                qb_type=qb_type,
                qb_id=list_id,
                qb_name=full_name,
            )



register(ItemHandler())
