"""Items: find or add the QuickBooks item of a storefront product, and the items orders put charges on.

Payloads: ``{"record": Product dict}`` (from a product webhook), ``{"record": {...}, "from_order": true}``
(a product known only from an order line: never updates an item that exists), or
``{"special": "shipping", "name": "Shipping"}`` for the shipping, fee, discount, tax and rounding items.

Steps as for customers: ``lookup`` (ItemQuery by name) -> ``add``; ``link`` after 3100; ``mod`` /
``requery`` for product changes after sync.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from qbsync.qbxml.fields import catalog
from qbsync.qbxml.parse import Response
from qbsync.qbxml.status import Outcome
from qbsync.queue import (
    choices,
    inventory,
    lists,
    mappings,
    naming,
    preflight,
    rules,
    sales_tax,
    setup,
)
from qbsync.queue.handlers import (
    Again,
    ApplyResult,
    BuildResult,
    Context,
    Done,
    Finish,
    Park,
    Reject,
    Wait,
    corrective_step_due,
    list_record_deleted,
    progress,
    record_of,
    refused,
    register,
    render,
    reset_progress,
    set_progress,
)
from qbsync.queue.handlers.answers import found_record, lacks, missing_reference
from qbsync.queue.handlers.steps import STALE, Step, StepHandler, go
from qbsync.storage.models import IdMapping, QueueJob
from qbsync.storefronts.records import Product, RefundLine

# Special items: role -> (setting naming the item, QuickBooks type, setting naming its account)
SPECIAL_ITEMS: dict[str, tuple[str, str, str]] = {
    "shipping": ("shipping_item", "ItemOtherCharge", "shipping_account"),
    "fee": ("fee_item", "ItemOtherCharge", "shipping_account"),
    "discount": ("discount_item", "ItemDiscount", "discount_account"),
    "tax": ("tax_item", "ItemOtherCharge", "tax_account"),
    "adjustment": ("adjustment_item", "ItemOtherCharge", "income_account"),
    "gift_card": ("gift_card_item", "ItemOtherCharge", "gift_card_account"),
}
# Item types whose Mod qbsync sends, and how their sales fields are shaped.
MODDABLE = ("ItemInventory", "ItemNonInventory", "ItemService", "ItemOtherCharge")


def special_name(role: str, settings: Mapping[str, Any], payload: Mapping[str, Any] | None = None) -> str:
    """The configured QuickBooks name of a special item (``shipping`` -> "Shipping"); a store tax rate's
    sales tax item is named in its job's ``payload``."""
    if role == sales_tax.ZERO_ROLE:
        return sales_tax.zero_item(settings).name
    if role.startswith(sales_tax.RATE_ROLE_PREFIX):
        return str((payload or {}).get("name") or role.removeprefix(sales_tax.RATE_ROLE_PREFIX))
    return _configured_item_name(str(settings[SPECIAL_ITEMS[role][0]] or ""))


@functools.lru_cache(maxsize=256)
def _configured_item_name(configured: str) -> str:
    # Every order's build asks for every special item's name: worked out once per configured name.
    return naming.cut_item_name(configured)


def wait_for_special_items(ctx: Context, job: QueueJob, response: Response) -> Wait | None:
    """A 3140 naming one of the configured special items (shipping, rounding...): queue the jobs that add
    it and wait for them (at most three times), or None when the answer is something else."""
    from qbsync.queue import intake

    found = missing_reference(response)
    if found is None:
        return None
    value = found.name.lower()
    roles = [r for r in SPECIAL_ITEMS if special_name(r, ctx.settings).lower() == value]
    waits = int(progress(job).get("waits") or 0)
    if not roles or waits >= 3:
        return None
    set_progress(job, waits=waits + 1)
    for role in roles:
        mapping = mappings.get(ctx.session, ctx.connection.id, mappings.SPECIAL_ITEM, role)
        if mapping is not None:
            mappings.forget(ctx.session, mapping)
    needed = intake.special_item_jobs(ctx.session, ctx.connection, ctx.settings, roles)
    return Wait(f"QuickBooks lacks the item {found.name!r}: adding it first", tuple(j.id for j in needed))


def refunded_item(ctx: Context, line: RefundLine) -> IdMapping | None:
    """The QuickBooks item a refund line's product is linked to, or None: what its credit memo line
    goes on, and the stock a restock returns to (a refund, and a cancellation's count of what its
    refunds returned)."""
    key = mappings.product_key(line.product_id, line.variant_id, line.sku)
    return mappings.get(ctx.session, ctx.connection.id, mappings.PRODUCT, key)


def ret_name(ret: Mapping[str, Any], name: str) -> str:
    """The name of the item QuickBooks returned: its FullName, or its Name for the item types that have
    no FullName (ItemSalesTaxRet, ItemSalesTaxGroupRet), else the name qbsync asked for."""
    return str(ret.get("FullName") or ret.get("Name") or name)


def fingerprint(product: Product) -> str:
    """What QuickBooks holds of a product, hashed (stock is not part of it: that syncs on its own).

    Hashed as the product's JSON gives these fields (price as its text), as links made before store it."""
    fields = {"name": product.name, "sku": product.sku, "price": product.price, "active": product.active,
              "kind": product.kind}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def product_of(job: QueueJob) -> Product:
    """The product an item job carries (a product's job, not a special item's), read once (``record_of``);
    one known only from an order line carries what the line told (``intake.line_product``)."""
    return record_of(job, Product)


def mapping_of(job: QueueJob) -> tuple[str, str]:
    """(record_type, storefront id) the job's item is mapped under."""
    if job.payload.get("special"):
        return mappings.SPECIAL_ITEM, str(job.payload["special"])
    product = product_of(job)
    return mappings.PRODUCT, mappings.product_key(
        product.product_id, product.variant_id, product.sku, product.name
    )


def item_name(job: QueueJob, ctx: Context) -> str:
    """The QuickBooks name the job's item has (or will have)."""
    if job.payload.get("special"):
        return special_name(str(job.payload["special"]), ctx.settings, job.payload)
    return naming.item_name(product_of(job), ctx.settings.item_match)


def renamed(job: QueueJob, ctx: Context, full_name: str) -> tuple[str, str] | None:
    """(the product's SKU or name, or the store tax rate's label and rate; why its QuickBooks item has
    another name) when qbsync had to change it."""
    role = str(job.payload.get("special") or "")
    if full_name.casefold() != item_name(job, ctx).casefold():
        return None
    if role.startswith(sales_tax.RATE_ROLE_PREFIX):
        rate = str(job.payload.get("store_name") or "")
        why = rate and naming.why_renamed(rate, full_name, "ItemSalesTaxAdd/Name",
                                          cut_note=": the label ends in ~ and a code of the whole, so "
                                          "rates whose labels start alike stay apart, and the rate is kept")
        return (rate, why) if why else None
    if role:
        return None
    store = naming.item_store_name(product_of(job), ctx.settings.item_match)
    reason = naming.why_renamed(store, full_name, "ItemInventoryAdd/Name",
                                cut_note=", ending in ~ and a code of the whole, so products that start "
                                "alike stay apart")
    return (store, reason) if reason else None


def _account(name: str) -> dict[str, str]:
    return {"FullName": name}


def add_request(job: QueueJob, ctx: Context, name: str) -> tuple[str, dict[str, Any]]:
    """(request type, data) adding the job's item."""
    settings = ctx.settings
    role = job.payload.get("special")
    if role and sales_tax.is_sales_tax_role(str(role)):
        payload = {**sales_tax.special_payload(sales_tax.zero_item(settings)), **job.payload}
        return sales_tax.item_add(payload, settings)
    if role:
        _, qb_type, account_setting = SPECIAL_ITEMS[str(role)]
        return choices.special_item_add(qb_type, name, settings[account_setting], settings)
    product = product_of(job)
    qb_type = rules.item_type(product, settings)
    desc = product.name or name
    price = product.price
    active = None if product.active else False
    # The full SKU, kept where this qbXML version lets QuickBooks store it (BarCode, else the part number).
    kept = naming.sku_fields(f"{qb_type}Add", product, catalog(ctx.version))
    if qb_type == "ItemInventory":
        data: dict[str, Any] = {
            "Name": name,
            **kept,
            "IsActive": active,
            "SalesDesc": desc,
            "SalesPrice": price,
            "IncomeAccountRef": _account(settings.income_account),
            "PurchaseCost": product.cost,
            "COGSAccountRef": _account(settings.cogs_account),
            "AssetAccountRef": _account(settings.asset_account),
        }
        if product.stock_quantity is not None:
            # The new item starts with the store's stock, so a pull never writes a zero back to the store;
            # plus what the store's unposted orders will take out again (see inventory.opening_stock).
            opening = _opening(job, ctx, product)
            data.update(
                QuantityOnHand=opening.quantity, TotalValue=opening.value, InventoryDate=opening.as_of
            )
        return "ItemInventoryAdd", data
    sales = {"Desc": desc, "Price": price, "AccountRef": _account(settings.income_account)}
    return f"{qb_type}Add", {
        "Name": name,
        **kept,
        "IsActive": active,
        "SalesOrPurchase": {k: v for k, v in sales.items() if v is not None},
    }


def product_cost(product: Product, settings: Mapping[str, Any]) -> Decimal | None:
    """The product's cost from the store, or None: Shopify's inventory item cost, or the WooCommerce
    meta field named by ``woocommerce_cost_meta_key``."""
    if product.meta_numbers is not None:  # WooCommerce (no cost field of its own): the one the setting names
        key = str(settings["woocommerce_cost_meta_key"] or "").strip()
        return next((m.value for m in product.meta_numbers if m.key == key), None)
    return product.cost


def _opening(job: QueueJob, ctx: Context, product: Product) -> inventory.OpeningStock:
    """The new item's opening stock, remembered for the job (the answer's note and a resend use it)."""
    key = mapping_of(job)[1]
    unposted = inventory.unposted_orders(ctx.session, ctx.connection.id, job.id)
    decisions = {order.storefront_id: d for order, d in unposted if d is not None}
    opening = inventory.opening_stock(
        product, key, [order for order, _ in unposted], ctx.settings, ctx.now,
        product_cost(product, ctx.settings), decisions,
    )
    set_progress(
        job,
        opening=format(opening.quantity.normalize(), "f"),
        opening_value=format(opening.value, "f"),
        has_cost=opening.has_cost,
        added_back=list(opening.added_back),
        waiting=inventory.waiting_notes(dict(opening.waiting)),
    )
    return opening


def opening_note(job: QueueJob) -> str:
    """What the answer of an inventory item's add says about its opening stock (empty for other items)."""
    notes = progress(job)
    if notes.get("opening") is None:
        return ""
    note = f"opening stock {notes['opening']} valued at {notes.get('opening_value')}"
    if notes.get("added_back"):
        note += f" (store stock plus orders {', '.join(notes['added_back'])}, which post after it)"
    if not notes.get("has_cost"):
        note += (
            "; the store has no cost for this product, so the opening value is zero: enter the cost "
            "in the store (or the item's value in QuickBooks)"
        )
    return note


def not_ours(job: QueueJob, ctx: Context, found: Mapping[str, Any]) -> str | None:
    """Why the QuickBooks item ``found`` (a Ret, or a pulled list entry) with our item's name is not this
    product's, or None when linking it is proven.

    A name that holds the product's whole SKU (or name, as ``item_match`` says) proves it; its barcode
    may then be a real one. A name cut to 31 characters is shared by every product that starts the
    same: then the item's stored SKU (BarCodeValue, else ManufacturerPartNumber) must be the product's.
    """
    if job.payload.get("special"):
        return None
    product = product_of(job)
    if not naming.item_name_was_cut(product, ctx.settings.item_match):
        return None
    code = naming.sku_code(product)
    stored = str(found.get("BarCodeValue") or found.get("ManufacturerPartNumber") or "").strip()
    name = found.get("FullName") or item_name(job, ctx)
    if code and stored == code:
        return None
    if stored:
        return (
            f"the QuickBooks item {name!r} keeps the SKU {stored!r}, not this product's {code!r}: it is "
            "another product. Rename one of them in QuickBooks (or link it on the mappings page), "
            "then retry"
        )
    return (
        f"the QuickBooks item {name!r} has the cut name of this product's {code or product.name!r} "
        "but no SKU that proves it is the same product: put the full SKU in its barcode field (or link "
        "it on the mappings page), then retry"
    )


def mod_request(mapping: IdMapping, product: Product) -> tuple[str, dict[str, Any]] | None:
    """(request type, data) bringing a linked item up to date, or None for types qbsync does not change."""
    if mapping.qb_type not in MODDABLE:
        return None
    data: dict[str, Any] = {
        "ListID": mapping.qb_id,
        "EditSequence": mapping.edit_sequence,
        "IsActive": product.active,
    }
    if mapping.qb_type == "ItemInventory":
        data.update(SalesDesc=product.name, SalesPrice=product.price)
    else:
        sales = {"Desc": product.name, "Price": product.price}
        data["SalesOrPurchaseMod"] = {k: v for k, v in sales.items() if v is not None}
    return f"{mapping.qb_type}Mod", {k: v for k, v in data.items() if v is not None}


def sales_tax_off(name: str) -> str:
    """Why a sales tax item cannot be added on a company whose sales tax preference is off, and the fix."""
    return ("sales tax is turned off in this QuickBooks company, so the store's tax cannot be booked as "
            f"sales tax owed (on {name!r}): turn sales tax on (Edit > Preferences > Sales Tax), then retry")


class ItemHandler(StepHandler):
    """Queue jobs of kind ``item``."""

    kind = "item"

    def prepare(self, ctx: Context, jobs: list[QueueJob]) -> None:
        mappings.preload(ctx.session, ctx.connection.id, [mapping_of(j) for j in jobs])

    def build(self, ctx: Context, job: QueueJob) -> BuildResult:
        record_type, key = mapping_of(job)
        name = item_name(job, ctx)
        role = str(job.payload.get("special") or "")
        if sales_tax.is_sales_tax_role(role) and not setup.company(ctx.session, ctx.connection.id).sales_tax:
            # The company's preferences say sales tax is off: QuickBooks would refuse the item (3250).
            return Reject(sales_tax_off(name))
        from qbsync.queue.handlers.orders import facts  # read once per round trip; orders imports this module

        if sales_tax.is_sales_tax_role(role) and not facts(ctx).is_us:
            # Queued before QuickBooks said it is a Canadian or UK file: its tax codes carry the tax there.
            return Finish(f"no sales tax item {name!r} on a Canadian or UK company file: its tax codes carry "
                          "the store's tax")
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
            wrong = self._wrong_type(job, (entry.data or {}).get("type") or "Item", entry.full_name)
            if wrong is not None:
                return Reject(wrong.reason)
        if entry is not None and not_ours(job, ctx, {**(entry.data or {}), "FullName": name}) is None:
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
        if step == "agency":
            return render(ctx, *sales_tax.agency_add(ctx.settings), "agency")
        if not self._may_create(ctx, job):
            return Reject(self._not_created(name))
        request_type, data = add_request(job, ctx, name)
        return render(ctx, request_type, {k: v for k, v in data.items() if v is not None}, "add")

    def _wrong_type(self, job: QueueJob, qb_type: str, name: str) -> Park | None:
        """A store tax rate may only go on a sales tax item: another item of that name is not linked."""
        role = str(job.payload.get("special") or "")
        if sales_tax.is_sales_tax_role(role) and qb_type != "ItemSalesTax":
            return Park(
                f"the QuickBooks item {name!r} is a {qb_type}, not a sales tax item, so tax on it would not "
                "reach the sales tax liability: rename it in QuickBooks (or change line_tax_zero_item), "
                "then retry"
            )
        return None

    def _may_create(self, ctx: Context, job: QueueJob) -> bool:
        return bool(job.payload.get("special")) or bool(ctx.settings.create_missing_items)

    def _not_created(self, name: str) -> str:
        return (
            f"the item {name!r} is not in QuickBooks and create_missing_items is off: add it in "
            "QuickBooks (or turn the setting on), then retry"
        )

    def _update(self, ctx: Context, job: QueueJob, mapping: IdMapping) -> BuildResult:
        if (
            job.payload.get("special")
            or job.payload.get("from_order")
            or not ctx.settings.update_items
            or mapping.synced_hash == fingerprint(product_of(job))
        ):
            return Finish(f"already in QuickBooks as {mapping.qb_name!r}")
        if not mappings.may_change(mapping):
            return Finish(
                f"the QuickBooks item {mapping.qb_name!r} was {mappings.provenance(mapping)}: qbsync does "
                "not change it, so the store's changes to this product are not sent"
            )
        if (
            progress(job).get("next") == "requery"
            or corrective_step_due(ctx, job)
            or not mapping.edit_sequence
        ):
            return render(ctx, "ItemQuery", {"ListID": mapping.qb_id}, "requery")
        request = mod_request(mapping, product_of(job))
        if request is None:
            return Finish(
                f"linked to the QuickBooks {mapping.qb_type} {mapping.qb_name!r}, which qbsync "
                "does not change"
            )
        return render(ctx, request[0], request[1], "mod")

    # -- what each answer means

    def _existing(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        """An item by the name: link it when it is proved the product's and of the right type."""
        ret = response.record
        if not ret:
            return None
        reason = not_ours(job, ctx, ret)
        if reason is not None:
            return Park(reason)
        name = ret_name(ret, item_name(job, ctx))
        qb_type = response.record_types[0].removesuffix("Ret")
        wrong = self._wrong_type(job, qb_type, name)
        if wrong is not None:
            return wrong
        self._link(ctx, job, qb_type, str(ret["ListID"]), ret.get("EditSequence"), name, created=False)
        lists.remember(ctx.session, ctx.connection.id, "Item", response.record_types[0], ret)
        return Done(f"linked to the existing QuickBooks item {name!r}")

    def _not_there(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        if not self._may_create(ctx, job):
            return Park(self._not_created(item_name(job, ctx)))
        set_progress(job, next="add")
        return Again("not in QuickBooks yet: adding it")

    def _name_held_elsewhere(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        return Park(
            f"QuickBooks says the item name {item_name(job, ctx)!r} is in use but finds no item by that "
            "name; rename the item in QuickBooks or link it on the mappings page"
        )

    def _added(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        ret = response.record
        if not ret:
            return None
        name = item_name(job, ctx)
        qb_type = response.record_types[0].removesuffix("Ret")
        self._link(
            ctx, job, qb_type, str(ret["ListID"]), ret.get("EditSequence"), ret_name(ret, name), created=True
        )
        # The item list stays current: pickers, the tax codes page and the checks before each
        # request see the new item without waiting for the next refresh.
        lists.remember(ctx.session, ctx.connection.id, "Item", response.record_types[0], ret)
        preflight.wake(ctx.session, ctx.connection.id, ctx.now)  # jobs that waited for this item
        role = job.payload.get("special")
        if role and str(role) in SPECIAL_ITEMS:  # the company setup page lists what qbsync created
            setup.record(ctx.session, ctx.connection.id, SPECIAL_ITEMS[str(role)][0],
                         ret_name(ret, name), "created", ctx.now)
        note = opening_note(job)
        return Done(f"added; {note}" if note else None)

    def _name_in_use(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        set_progress(job, next="link")
        name = item_name(job, ctx)
        return Again(f"the item name {name!r} is in use in QuickBooks: looking it up to link it")

    def _lacks(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        """3140 on an add: the tax agency of a sales tax item is added first; anything else needs a person."""
        if sales_tax.is_sales_tax_role(
            str(job.payload.get("special") or "")
        ) and lacks(response, "Vendor") and not progress(job).get("agency_added"):
            set_progress(job, next="agency")
            return Again(f"the tax agency {sales_tax.agency_name(ctx.settings)!r} is not in QuickBooks: "
                         "adding it first")
        return Park(
            f"QuickBooks lacks something the new item {item_name(job, ctx)!r} refers to: {response.message} "
            "Create it in QuickBooks or change the account settings, then retry"
        )

    def _add_refused(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        role = str(job.payload.get("special") or "")
        if response.status_code == 3250 and sales_tax.is_sales_tax_role(role):
            return Park(sales_tax_off(item_name(job, ctx)))  # the preferences were not read yet
        return refused(response, "item")

    def _agency_there(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        agency = sales_tax.agency_name(ctx.settings)
        added = found_record(response)
        if added:  # the mappings page lists the agency qbsync added
            lists.remember(ctx.session, ctx.connection.id, "Vendor", response.record_types[0], added)
            setup.record(ctx.session, ctx.connection.id, "tax_agency", agency, "created", ctx.now)
        # In use: another job of the same round trip added it first (or a person did meanwhile).
        set_progress(job, next="add", agency_added=True)
        return Again(f"the tax agency {agency!r} is in QuickBooks now")

    def _agency_refused(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        agency = sales_tax.agency_name(ctx.settings)
        return Park(
            f"QuickBooks could not add the tax agency vendor {agency!r} ({response.status_code}): "
            f"{response.message} Add it in QuickBooks or name an existing agency in tax_agency, then "
            "retry"
        )

    def _unlinked(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        if self._mapping(ctx, job) is None:
            reset_progress(job)
            return Again("the item's link was removed meanwhile")
        return None

    def _reread(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        if not response.record:
            return None
        mapping = self._linked(ctx, job)
        mapping.edit_sequence = str(response.record.get("EditSequence") or "") or None
        set_progress(job, next=None)
        return Again("read the item's current EditSequence")

    def _deleted(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        return list_record_deleted(ctx, job, self._linked(ctx, job), "Item", "item")

    def _changed(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        mapping = self._linked(ctx, job)
        mapping.edit_sequence = str((response.record or {}).get("EditSequence") or mapping.edit_sequence)
        mapping.synced_hash = fingerprint(product_of(job))
        return Done("item updated")

    STEPS = {
        "lookup": Step(found=_existing, empty=_not_there, otherwise="item look-up"),
        "link": Step(found=_existing, empty=_name_held_elsewhere, otherwise="item look-up"),
        "add": Step(found=_added, on={Outcome.NAME_IN_USE: _name_in_use, Outcome.MISSING_REFERENCE: _lacks},
                    otherwise=_add_refused),
        "agency": Step(found=_agency_there, on={Outcome.NAME_IN_USE: _agency_there},
                       otherwise=_agency_refused),
        "requery": Step(first=_unlinked, found=_reread, empty=_deleted, on={Outcome.NOT_FOUND: _deleted},
                        otherwise="item look-up"),
        "mod": Step(first=_unlinked, found=_changed,
                    on={Outcome.STALE_EDIT_SEQUENCE: go("requery", STALE), Outcome.NOT_FOUND: _deleted},
                    otherwise="item change"),
    }
    UNKNOWN = "an item job"

    # -- helpers

    def _mapping(self, ctx: Context, job: QueueJob) -> IdMapping | None:
        record_type, key = mapping_of(job)
        return mappings.get(ctx.session, ctx.connection.id, record_type, key)

    def _linked(self, ctx: Context, job: QueueJob) -> IdMapping:
        """The item's mapping, for the steps after it was linked (checked first: ``_unlinked``)."""
        mapping = self._mapping(ctx, job)
        if mapping is None:
            raise LookupError(f"the item of job {job.id} is not linked to a QuickBooks item")
        return mapping

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
        product = None if record_type == mappings.SPECIAL_ITEM else product_of(job)
        quantity = None
        stock = product.stock_quantity if product is not None else None
        if created and qb_type == "ItemInventory" and product is not None and stock is not None:
            quantity = str(stock)
            # QuickBooks accounts for the store's count as of the product's data (see opening_stock):
            # later store counts go in as differences from it.
            as_of = product.modified_at or ctx.now
            counted = rules.stock_master(product.sku, ctx.settings) == "storefront"
            inventory.save_baseline(ctx.session, ctx.connection.id, list_id, stock, as_of,
                                    store_counts=counted)
            # The orders added back will post; one placed by then that qbsync did not know of is added
            # back when it posts (inventory.late_sales).
            waiting = progress(job).get("waiting") or ()
            inventory.save_waiting(ctx.session, ctx.connection.id, list_id, waiting)
        synced = (
            None
            if job.payload.get("from_order") or record_type == mappings.SPECIAL_ITEM
            else fingerprint(product) if product is not None else None
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
            origin=mappings.CREATED if created else mappings.FOUND,
            renamed=renamed(job, ctx, full_name),
        )
        if product is not None and product.inventory_item_id:
            mappings.link(
                ctx.session,
                ctx.connection.id,
                mappings.INVENTORY_ITEM,
                product.inventory_item_id,
                qb_type=qb_type,
                qb_id=list_id,
                qb_name=full_name,
                origin=mappings.CREATED if created else mappings.FOUND,
            )



register(ItemHandler())
