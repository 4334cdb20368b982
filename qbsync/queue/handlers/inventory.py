"""Stock both ways.

``inventory_adjustment`` (store -> QuickBooks, when the store is the master for the product): an
InventoryAdjustmentAdd of the QuantityDifference between the store's new count and the count QuickBooks
already accounts for, net of the stock movements in between that qbsync books (sales, their changes
and voids, refunds that restock: they move QuickBooks' stock on their own, inventory.book_moves).
Never an absolute NewQuantity: an order posting after it would lower it again. A lost answer is looked
up by RefNumber.
``inventory_pull`` (QuickBooks -> store): ItemInventoryQuery pages (iterator Start/Continue,
FromModifiedDate from the checkpoint) whose changed quantities become ``stock_writeback`` jobs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from qbsync.qbxml.parse import Response
from qbsync.qbxml.status import Outcome
from qbsync.queue import inventory, mappings, naming, rules
from qbsync.queue.handlers import (
    Again,
    ApplyResult,
    BuildResult,
    Context,
    Done,
    Finish,
    Park,
    corrective_step_due,
    progress,
    refused,
    register,
    render,
    reset_progress,
    set_progress,
)
from qbsync.queue.handlers.answers import READABLE, lacks
from qbsync.queue.handlers.steps import Step, StepHandler, go
from qbsync.storage.models import IdMapping, QueueJob


def _stock(job: QueueJob) -> dict[str, Any]:
    return dict(job.payload.get("record") or {})


def _item_mapping(ctx: Context, stock: dict[str, Any]) -> IdMapping | None:
    session, conn_id = ctx.session, ctx.connection.id
    if stock.get("inventory_item_id"):
        found = mappings.get(session, conn_id, mappings.INVENTORY_ITEM, str(stock["inventory_item_id"]))
        if found is not None:
            return found
    if stock.get("product_id") or stock.get("variant_id") or stock.get("sku"):
        key = mappings.product_key(stock.get("product_id"), stock.get("variant_id"), stock.get("sku"))
        return mappings.get(session, conn_id, mappings.PRODUCT, key)
    return None


def account_missing(response: Response, setting: str) -> Park | None:
    """A 3140 naming the account an InventoryAdjustmentAdd posts to: a person creates it or changes
    ``setting``; None for any other answer."""
    if not lacks(response, "Account"):
        return None
    return Park(f"{response.message} Create the account in QuickBooks or change {setting}, then retry")


def lacks_adjustment_account(
    handler: Any, ctx: Context, job: QueueJob, response: Response
) -> ApplyResult | None:
    """3140 on an inventory adjustment: the ``inventory_adjustment_account`` QuickBooks lacks."""
    return account_missing(response, "inventory_adjustment_account")


class InventoryAdjustmentHandler(StepHandler):
    """Queue jobs of kind ``inventory_adjustment``: payload ``{"record": StockLevel dict}``.

    Steps: (``read`` QuickBooks' quantity, once, for an item qbsync did not create) -> ``add`` the
    difference -> (``lookup`` by RefNumber when an answer was lost, so a difference is never sent twice).
    """

    kind = "inventory_adjustment"

    def build(self, ctx: Context, job: QueueJob) -> BuildResult:
        stock = _stock(job)
        if rules.stock_master(stock.get("sku"), ctx.settings) != "storefront":
            return Finish("QuickBooks is the master for this product's stock: store changes are not sent")
        try:
            quantity = Decimal(str(stock.get("quantity")))
        except InvalidOperation:
            return Finish("the store does not track this product's stock")
        mapping = _item_mapping(ctx, stock)
        if mapping is None:
            return Finish(
                "the product is not linked to a QuickBooks item yet (its next sale or product update "
                "links it)"
            )
        if mapping.qb_type != "ItemInventory":
            return Finish(f"{mapping.qb_name!r} is a {mapping.qb_type} in QuickBooks, which keeps no stock")
        notes = progress(job)
        if notes.get("next") == "add" and (job.needs_lookup or corrective_step_due(ctx, job)):
            return render(ctx, "InventoryAdjustmentQuery", {"RefNumber": _ref(job)}, "lookup")
        difference = self._difference(ctx, job, mapping, stock, quantity)
        if difference is None:
            return render(ctx, "ItemInventoryQuery", {"ListID": mapping.qb_id}, "read")
        if isinstance(difference, str):
            return Finish(difference)
        store = naming.PLATFORM_NAMES.get(ctx.connection.platform, ctx.connection.platform)
        data = {
            "AccountRef": {"FullName": ctx.settings.inventory_adjustment_account},
            "TxnDate": ctx.now.date(),
            "RefNumber": _ref(job),
            "Memo": f"Stock counted in {store}: {quantity.normalize():f} "
            f"(change {difference.normalize():+f})",
            "InventoryAdjustmentLineAdd": [
                {
                    "ItemRef": {"ListID": mapping.qb_id},
                    "QuantityAdjustment": {"QuantityDifference": difference},
                }
            ],
        }
        set_progress(job, next="add", difference=format(difference.normalize(), "f"))
        return render(ctx, "InventoryAdjustmentAdd", data, "add")

    def _difference(
        self, ctx: Context, job: QueueJob, mapping: IdMapping, stock: dict[str, Any], quantity: Decimal
    ) -> Decimal | str | None:
        """What QuickBooks' quantity must change by (net of sales, which post on their own); a reason
        when nothing is to be sent; None when QuickBooks' quantity must be read first."""
        session, conn_id = ctx.session, ctx.connection.id
        moment = inventory.as_utc(_moment(stock.get("modified_at")) or ctx.now)
        key = _product_key(ctx, mapping, stock)
        baseline = inventory.read_baseline(session, conn_id, mapping.qb_id)
        waiting: dict[str, Decimal | None]
        if baseline is not None:
            known, known_at = baseline
            if moment <= known_at:
                return f"QuickBooks already accounts for a newer store count of {mapping.qb_name!r}"
            # Net of every stock movement qbsync booked that the store made between the two counts (a
            # sale, its change or void, a refund's restock): QuickBooks moved by it already. A baseline
            # kept before they were: the sales alone.
            moved = inventory.moved_between(session, conn_id, mapping.qb_id, known_at, moment)
            sold, since = inventory.sold_between(session, conn_id, key, ctx.settings, known_at, moment,
                                                 posted_too=moved is None)
            difference = quantity - known + sold - (moved or 0)
            # Orders the last baseline expects to post still wait: this count expects them too.
            waiting = {**inventory.read_waiting(session, conn_id, mapping.qb_id), **since}
        else:
            read = progress(job).get("qb_quantity")
            if read is None:
                return None
            # QuickBooks holds its quantity less the sales not posted yet that the store's count includes.
            pending, unposted = inventory.unposted_sold(session, conn_id, key, ctx.settings, moment)
            waiting = {**unposted}
            difference = quantity - Decimal(str(read)) + pending
        set_progress(
            job, quantity=format(quantity.normalize(), "f"), at=moment.isoformat(),
            waiting=inventory.waiting_notes(waiting),
        )
        if difference == 0:
            self._accounted(ctx, job, mapping)
            return (
                f"QuickBooks' stock of {mapping.qb_name!r} already matches the store's "
                f"{quantity.normalize():f}"
            )
        return difference

    def _accounted(self, ctx: Context, job: QueueJob, mapping: IdMapping) -> None:
        notes = progress(job)
        inventory.save_baseline(
            ctx.session,
            ctx.connection.id,
            mapping.qb_id,
            Decimal(notes["quantity"]),
            datetime.fromisoformat(notes["at"]),
            origin=inventory.COUNT,
        )
        inventory.save_waiting(ctx.session, ctx.connection.id, mapping.qb_id, notes.get("waiting") or ())
        mapping.quantity = notes["quantity"]

    # -- what each answer means

    def _quantity_read(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        if not response.record:
            return None
        set_progress(job, qb_quantity=str(response.record.get("QuantityOnHand") or "0"))
        return Again("read QuickBooks' quantity on hand")

    def _existing(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        if not response.record:
            return None
        mapping = _item_mapping(ctx, _stock(job))
        if mapping is not None:
            self._accounted(ctx, job, mapping)
        return Done("the adjustment was in QuickBooks already")

    def _adjusted(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        mapping = _item_mapping(ctx, _stock(job))
        if mapping is not None:
            self._accounted(ctx, job, mapping)
        notes = progress(job)
        return Done(
            f"QuickBooks stock changed by {notes.get('difference')} to match the store's "
            f"{notes.get('quantity')}"
        )

    STEPS = {
        "read": Step(found=_quantity_read, otherwise="item look-up"),
        "lookup": Step(found=_existing, empty=go(None, "the adjustment is not in QuickBooks: sending it"),
                       otherwise="inventory adjustment look-up"),
        "add": Step(found=_adjusted, on={Outcome.MISSING_REFERENCE: lacks_adjustment_account},
                    otherwise="inventory adjustment"),
    }
    UNKNOWN = "an inventory adjustment job"


class StockAddBackHandler(StepHandler):
    """Queue jobs of kind ``stock_add_back`` (queued when an order's transaction is added, changed or
    voided or its cancellation's credit memo restocks, see inventory.late_sales, or a refund restocked
    before the count, inventory.take_back_restocked): an InventoryAdjustmentAdd of the quantity
    (negative: taken out again) for a sale the store's count QuickBooks took already lacked, on the
    account inventory.add_back_account names.

    Steps: ``add`` -> (``lookup`` by RefNumber when an answer was lost, so it is never added twice).
    """

    kind = inventory.ADD_BACK_KIND

    def build(self, ctx: Context, job: QueueJob) -> BuildResult:
        notes = progress(job)
        if notes.get("next") == "add" and (job.needs_lookup or corrective_step_due(ctx, job)):
            return render(ctx, "InventoryAdjustmentQuery", {"RefNumber": _ref(job)}, "lookup")
        payload = job.payload
        quantity = Decimal(str(payload["quantity"]))
        if not quantity:
            return Finish(f"nothing to add back for order {payload['order_number']}: it changed back before "
                          "this was sent")
        store = naming.PLATFORM_NAMES.get(ctx.connection.platform, ctx.connection.platform)
        data = {
            "AccountRef": {"FullName": inventory.add_back_account(payload, ctx.settings)[1]},
            "TxnDate": ctx.now.date(),
            "RefNumber": _ref(job),
            "Memo": inventory.add_back_memo(payload, store),
            "InventoryAdjustmentLineAdd": [
                {
                    "ItemRef": {"ListID": payload["item_list_id"]},
                    "QuantityAdjustment": {"QuantityDifference": quantity},
                }
            ],
        }
        set_progress(job, next="add")
        return render(ctx, "InventoryAdjustmentAdd", data, "add")

    # -- what each answer means

    def _done(self, job: QueueJob) -> str:
        payload = job.payload
        return f"{inventory.add_back_label(payload)}: done"

    def _existing(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        return Done(f"{self._done(job)} (in QuickBooks already)") if response.record else None

    def _added(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        return Done(self._done(job))

    def _lacks_account(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        return account_missing(response, inventory.add_back_account(job.payload, ctx.settings)[0])

    STEPS = {
        "lookup": Step(found=_existing, empty=go(None, "the adjustment is not in QuickBooks: sending it"),
                       otherwise="inventory adjustment look-up"),
        "add": Step(found=_added, on={Outcome.MISSING_REFERENCE: _lacks_account},
                    otherwise="inventory adjustment"),
    }
    UNKNOWN = "a stock add-back job"


def _ref(job: QueueJob) -> str:
    """The adjustment's RefNumber: the job's own, so a lost answer can be looked up (11 characters)."""
    return f"STK{job.id}"[-11:]


def _moment(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


def _product_key(ctx: Context, mapping: IdMapping, stock: dict[str, Any]) -> str:
    """The product key order lines of this item carry (a Shopify stock level names only its inventory
    item, so the product's own mapping of the same QuickBooks item tells)."""
    for found in mappings.by_qb_ids(ctx.session, ctx.connection.id, [mapping.qb_id], mappings.PRODUCT):
        return found.storefront_id
    return mappings.product_key(stock.get("product_id"), stock.get("variant_id"), stock.get("sku"))


class InventoryPullHandler:
    """Queue jobs of kind ``inventory_pull`` (queued by the periodic planner)."""

    kind = inventory.PULL_KIND

    def build(self, ctx: Context, job: QueueJob) -> BuildResult:
        if not rules.pulls_stock(ctx.settings):
            return Finish("the store is the master for stock: nothing to pull")
        notes = progress(job)
        conn_id = ctx.connection.id
        data: dict[str, Any] = {
            "MaxReturned": int(ctx.settings.inventory_page_size) or 100,
            "ActiveStatus": "All",
            "IncludeRetElement": inventory.RETURNED_FIELDS,
        }
        if notes.get("iterator") and notes.get("qb_session") == ctx.qb_session_id:
            data.update(iterator="Continue", iteratorID=notes["iterator"])
            since = notes.get("since")
        else:
            full = inventory.full_pull_due(ctx.session, conn_id, ctx.settings, ctx.now)
            start = (
                None
                if full
                else inventory.from_modified_date(
                    inventory.read_moment(ctx.session, conn_id, inventory.CHECKPOINT)
                )
            )
            since = start.isoformat() if start else None
            set_progress(job, full=full, since=since, iterator=None, started=ctx.now.isoformat())
            data["iterator"] = "Start"
        if since:
            data["FromModifiedDate"] = datetime.fromisoformat(since)
        return render(ctx, "ItemInventoryQuery", data, "page")

    def apply(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        notes = progress(job)
        if response.outcome not in READABLE:
            if notes.get("iterator") and response.status_code == 3000:
                reset_progress(job)  # the iterator ended with its session: start the pull over
                return Again("the inventory pull starts over")
            return refused(response, "inventory query")
        rets: list[Mapping[str, Any]] = list(response.records_of("ItemInventoryRet"))
        queued, newest = inventory.apply_page(ctx.session, ctx.connection.id, ctx.settings, rets, ctx.now)
        seen = max(
            [m for m in (newest, inventory.qb_moment(notes.get("newest"))) if m is not None], default=None
        )
        read = int(notes.get("read") or 0) + len(rets)
        changed = int(notes.get("changed") or 0) + queued
        if response.iterator_remaining_count:
            set_progress(
                job,
                iterator=response.iterator_id,
                qb_session=ctx.qb_session_id,
                read=read,
                changed=changed,
                newest=seen.isoformat() if seen else None,
                since=notes.get("since"),
            )
            return Again(f"{response.iterator_remaining_count} more inventory items to read")
        conn_id = ctx.connection.id
        if seen is not None:
            previous = inventory.read_moment(ctx.session, conn_id, inventory.CHECKPOINT)
            if previous is None or seen > previous:
                inventory.save_moment(ctx.session, conn_id, inventory.CHECKPOINT, seen, as_written=True)
        if notes.get("full"):
            inventory.save_moment(ctx.session, conn_id, inventory.FULL_PULL, inventory.as_utc(ctx.now))
        return Done(
            f"read {read} inventory items from QuickBooks; {changed} stock changes queued for the store"
        )


register(InventoryAdjustmentHandler())
register(StockAddBackHandler())
register(InventoryPullHandler())
