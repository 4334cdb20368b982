"""Stock that comes back with no money: a credit memo of 0.00 when QuickBooks takes one, else an inventory
adjustment of the same quantities.

A cancellation of an order refunded in full that the store restocked, and a refund that returns products
without money, are booked as a credit memo whose lines sum to 0.00: the returned quantities on their items'
lines, their amount taken back on another line. Whether QuickBooks Desktop takes a CreditMemoAdd of 0.00 is
not known (docs/SIMULATOR.md, issue 14; an integrator's note says it refuses an invoice below zero). So
qbsync sends it, and on any refusal returns the stock by an ``InventoryAdjustmentAdd`` of the quantity
differences instead: on ``cogs_account`` (the account every inventory item qbsync adds names, so
QuickBooks has it), which is where the credit memo would have put the returned goods' cost back, naming
the customer and carrying qbsync's marker in its memo, so a lost answer finds it by RefNumber and marker
before anything is sent again. A refusal is remembered for the company file (``zero_refusals``, as a
refused sale of 0.00 is; forgotten when the connection moves to another file), so later stock returned
with no money goes straight to the adjustment instead of costing a refused request each time. Nothing
here sends anything; it reads only the lists, links and checkpoints qbsync keeps.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from qbsync.qbxml.parse import Response
from qbsync.queue import lists, mappings, naming
from qbsync.queue.handlers import (
    Again,
    ApplyResult,
    Context,
    Park,
    progress,
    refused,
    set_progress,
    zero_refusals,
)
from qbsync.queue.handlers.answers import found_records
from qbsync.queue.handlers.inventory import account_missing
from qbsync.queue.handlers.steps import Reaction, go
from qbsync.storage.models import QueueJob

# Progress key: QuickBooks refused the job's credit memo of no money; the stock comes back by adjustment.
REFUSED = "no_money_refused"
ACCOUNT_SETTING = "cogs_account"
STOCK_ITEM_TYPES = ("ItemInventory", "ItemInventoryAssembly")


def keeps_stock(ctx: Context, list_id: str) -> bool:
    """Whether the item with ``list_id`` keeps a quantity on hand in QuickBooks: an inventory item, or an
    item whose type qbsync does not know (taken as one: its stock is not left out on a guess)."""
    entry = lists.by_id(ctx.session, ctx.connection.id, "Item", list_id)
    known = (entry.data or {}).get("type") if entry is not None else None
    if known is None:
        linked = mappings.by_qb_ids(ctx.session, ctx.connection.id, [list_id], mappings.PRODUCT)
        known = linked[0].qb_type if linked else None
    return known is None or known in STOCK_ITEM_TYPES


def returned_quantities(lines: list[Mapping[str, Any]]) -> dict[str, Decimal]:
    """Item ListID -> the quantity credit memo ``lines`` bring back to stock (pure)."""
    back: dict[str, Decimal] = {}
    for line in lines:
        list_id = (line.get("ItemRef") or {}).get("ListID")
        if list_id and line.get("Quantity") not in (None, ""):
            back[list_id] = back.get(list_id, Decimal(0)) + Decimal(str(line["Quantity"]))
    return back


def adjustment(
    ctx: Context,
    quantities: Mapping[str, Decimal],
    *,
    customer: str,
    ref_number: str,
    date: Any,
    memo: str,
) -> dict[str, Any] | None:
    """InventoryAdjustmentAdd data returning ``quantities`` (item ListID -> quantity) to stock, on
    ``cogs_account``; None when none of them is an item that keeps stock."""
    lines = [
        {"ItemRef": {"ListID": list_id}, "QuantityAdjustment": {"QuantityDifference": quantity}}
        for list_id, quantity in quantities.items()
        if quantity > 0 and keeps_stock(ctx, list_id)
    ]
    if not lines:
        return None
    data = {
        "AccountRef": {"FullName": str(ctx.settings[ACCOUNT_SETTING])},
        "TxnDate": date,
        "RefNumber": ref_number,
        "CustomerRef": {"ListID": customer},
        "Memo": memo,
        "InventoryAdjustmentLineAdd": lines,
    }
    return {k: v for k, v in data.items() if v is not None}


def memo(marker: str) -> str:
    """The adjustment's memo: qbsync's marker first (what proves it is qbsync's), then why."""
    return f"{marker}: stock returned with no money (QuickBooks refused a credit memo of 0.00)"


def known_refused(ctx: Context, job: QueueJob) -> bool:
    """Whether the job returns its stock by adjustment: QuickBooks refused its own credit memo of no money,
    or this company file refused one before (then the job is noted so, its adjustment looked up first)."""
    if progress(job).get(REFUSED):
        return True
    if zero_refusals.refusal(ctx, "CreditMemo") is None:
        return False
    set_progress(job, **{REFUSED: True}, next=None)
    return True


def credit_refused(
    ctx: Context, job: QueueJob, response: Response, no_money: bool, what: str
) -> ApplyResult:
    """QuickBooks refused the job's credit memo: parked with its words, unless the credit memo was of no
    money (which QuickBooks may refuse, SIMULATOR.md): then the company file's refusal is remembered and the
    job goes on to return the stock by adjustment (its look-up first)."""
    if not no_money:
        return refused(response, what)
    zero_refusals.remember(ctx, "CreditMemo", response)
    set_progress(job, **{REFUSED: True}, next=None)
    return Again(f"QuickBooks refused a credit memo of no money ({response.status_code}: "
                 f"{response.message}): the returned stock comes back by an inventory adjustment instead")


def after_look_up(add_step: str, reason: str) -> Reaction:
    """The reaction to a look-up that found nothing: ``restock`` once QuickBooks refused the job's credit
    memo of no money, else ``add_step`` (the credit memo's add)."""

    def reaction(handler: Any, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        step, why = add_step, reason
        if progress(job).get(REFUSED):
            step, why = "restock", "returning the stock by an inventory adjustment"
        return go(step, why)(handler, ctx, job, response)

    return reaction


def ours(response: Response, marker: str, customer: Any) -> Mapping[str, Any] | None:
    """The adjustment a look-up by RefNumber found that carries ``marker`` and names the customer."""
    return naming.first_marked(found_records(response, "InventoryAdjustmentRet"), marker, customer)


def lacks_account(handler: Any, ctx: Context, job: QueueJob, response: Response) -> Park | None:
    """3140 naming the adjustment's account: a person creates it or changes ``cogs_account``."""
    return account_missing(response, ACCOUNT_SETTING)
