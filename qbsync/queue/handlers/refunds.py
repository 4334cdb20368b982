"""Refunds: a storefront refund becomes one QuickBooks CreditMemo for the customer of the sale.

Steps: ``sale`` (read the order's transaction for its customer and number) -> ``lookup`` (CreditMemoQuery
by RefNumber "R<refund id>") -> ``add``. Refunded products go back on their items (returning them to
stock) unless the store says they were not restocked; shipping, tax and any remainder go on the shipping,
tax and rounding items, so the credit equals the money refunded.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from qbsync.qbxml.parse import Response
from qbsync.qbxml.status import Outcome
from qbsync.queue import intake, mappings, naming
from qbsync.queue.choices import tax_code_ref
from qbsync.queue.handlers import (
    Again,
    ApplyResult,
    BuildResult,
    Context,
    Defer,
    Done,
    Finish,
    Park,
    Wait,
    corrective_step_due,
    gave_up,
    progress,
    refused,
    register,
    render,
    set_progress,
)
from qbsync.queue.handlers.items import SPECIAL_ITEMS, special_name
from qbsync.queue.handlers.order_lines import money
from qbsync.storage.models import QueueJob

FOUND = (Outcome.SUCCESS, Outcome.WARNING)
_MISSING = re.compile(r'invalid reference to QuickBooks (\w+) "(.*?)"', re.S)


def _refund(job: QueueJob) -> dict[str, Any]:
    return dict(job.payload.get("record") or {})


def _special(ctx: Context, role: str) -> dict[str, str]:
    name = special_name(role, ctx.settings)
    mapping = mappings.get(ctx.session, ctx.connection.id, mappings.SPECIAL_ITEM, role)
    if mapping is not None and (mapping.qb_name or "").lower() == name.lower():
        return {"ListID": mapping.qb_id}
    return {"FullName": name}


def credit_lines(ctx: Context, refund: dict[str, Any]) -> list[dict[str, Any]]:
    """The credit memo's lines; together they equal the money refunded."""
    non_taxable = tax_code_ref(ctx.settings)  # None on a company without sales tax codes
    lines: list[dict[str, Any]] = []
    for line in refund.get("lines") or ():
        key = mappings.product_key(line.get("product_id"), line.get("variant_id"), line.get("sku"))
        mapping = mappings.get(ctx.session, ctx.connection.id, mappings.PRODUCT, key)
        label = line.get("sku") or line.get("product_id") or "item"
        amount = money(line.get("amount"))
        if mapping is not None and line.get("restock") is not False:
            entry = {
                "ItemRef": {"ListID": mapping.qb_id},
                "Desc": f"Returned {label}",
                "Quantity": Decimal(str(line.get("quantity") or "0")) or None,
                "Amount": amount,
            }
        else:
            entry = {
                "ItemRef": _special(ctx, "adjustment"),
                "Desc": f"Refund of {label} (not restocked)",
                "Amount": amount,
            }
        lines.append({**{k: v for k, v in entry.items() if v is not None}, "SalesTaxCodeRef": non_taxable})
    if money(refund.get("shipping")):
        lines.append(
            {
                "ItemRef": _special(ctx, "shipping"),
                "Desc": "Shipping refunded",
                "Amount": money(refund.get("shipping")),
                "SalesTaxCodeRef": non_taxable,
            }
        )
    tax = sum((money(line.get("tax")) for line in refund.get("lines") or ()), Decimal(0))
    if tax and ctx.settings.tax_mode == "line":
        lines.append(
            {
                "ItemRef": _special(ctx, "tax"),
                "Desc": "Sales tax refunded",
                "Amount": tax,
                "SalesTaxCodeRef": non_taxable,
            }
        )
    rest = money(refund.get("amount")) - sum((line["Amount"] for line in lines), Decimal(0))
    if rest:
        lines.append(
            {
                "ItemRef": _special(ctx, "adjustment"),
                "Desc": refund.get("reason") or "Refund",
                "Amount": rest,
                "SalesTaxCodeRef": non_taxable,
            }
        )
    return lines


class RefundHandler:
    """Queue jobs of kind ``refund``: payload ``{"record": Refund dict}``."""

    kind = "refund"

    def build(self, ctx: Context, job: QueueJob) -> BuildResult:
        given_up = gave_up(ctx, job)
        if given_up is not None:
            return given_up
        refund = _refund(job)
        session, conn_id = ctx.session, ctx.connection.id
        refund_id = str(refund.get("storefront_id") or job.record_id)
        if mappings.get(session, conn_id, mappings.REFUND, refund_id) is not None:
            return Finish("the refund is already in QuickBooks")
        order_id = str(refund.get("order_id") or "")
        sale = mappings.get(session, conn_id, mappings.ORDER, order_id)
        if sale is None:
            return self._no_sale(ctx, order_id)
        if sale.synced_hash == "voided":
            return Finish(f"the order's {sale.qb_type} {sale.qb_name} was voided: nothing to credit")
        notes = progress(job)
        if not notes.get("customer"):
            return render(ctx, f"{sale.qb_type}Query", {"TxnID": sale.qb_id}, "sale")
        ref_number = naming.ref_number(refund_id, "R")
        step = notes.get("next")
        if corrective_step_due(ctx, job) or (job.needs_lookup and step == "add"):
            # An add whose answer was lost may have happened: look before adding again.
            step = "lookup"
        if step is None:
            step = "lookup" if ctx.settings.lookup_before_add == "always" or job.needs_lookup else "add"
        if step == "lookup":
            return render(ctx, "CreditMemoQuery", {"RefNumber": ref_number}, "lookup")
        store = naming.PLATFORM_NAMES.get(ctx.connection.platform, ctx.connection.platform)
        memo = f"{store} refund {refund_id} of order {notes.get('sale_ref') or order_id}"
        data = {
            "CustomerRef": {"ListID": notes["customer"]},
            "TxnDate": str(refund.get("created_at") or "")[:10] or None,
            "RefNumber": ref_number,
            "Memo": f"{memo}: {refund['reason']}" if refund.get("reason") else memo,
            "CreditMemoLineAdd": credit_lines(ctx, refund),
        }
        return render(ctx, "CreditMemoAdd", {k: v for k, v in data.items() if v is not None}, "add")

    def _no_sale(self, ctx: Context, order_id: str) -> BuildResult:
        key = intake.coalesce_key("order", order_id)
        latest = ctx.session.scalar(
            select(QueueJob)
            .where(QueueJob.connection_id == ctx.connection.id, QueueJob.coalesce_key == key)
            .order_by(QueueJob.id.desc())
            .limit(1)
        )
        if latest is None:
            return Defer(f"waiting for order {order_id} to reach the queue (the refund arrived first)")
        if latest.state in ("done", "cancelled"):
            return Finish(
                f"order {order_id} is not in QuickBooks ({latest.reason or 'not synced'}), so there "
                "is no sale to credit"
            )
        return Defer(f"waiting for the order's job #{latest.id}", (latest.id,))

    def apply(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        outcome = response.outcome
        refund = _refund(job)
        refund_id = str(refund.get("storefront_id") or job.record_id)
        if job.step == "sale":
            if outcome in FOUND and response.record:
                ret = response.record
                customer = (ret.get("CustomerRef") or {}).get("ListID")
                set_progress(job, customer=customer, sale_ref=ret.get("RefNumber"))
                return Again("read the sale's customer")
            return Park(
                f"the order's transaction could not be read from QuickBooks ({response.status_code}): "
                f"{response.message}"
            )
        if job.step == "lookup":
            found = response.records_of("CreditMemoRet") if outcome in FOUND else []
            if found:
                self._link(ctx, refund_id, found[0])
                return Done("the credit memo was already in QuickBooks: linked")
            if outcome in (Outcome.NO_MATCH, *FOUND):
                set_progress(job, next="add")
                return Again("not in QuickBooks yet: adding it")
            return refused(response, "credit memo look-up")
        if job.step == "add":
            if outcome in FOUND and response.record:
                self._link(ctx, refund_id, response.record)
                return Done()
            if outcome is Outcome.MISSING_REFERENCE:
                found = _MISSING.search(response.message or "")
                value = found.group(2).lower() if found else ""
                roles = [r for r in SPECIAL_ITEMS if special_name(r, ctx.settings).lower() == value]
                if roles and int(progress(job).get("waits") or 0) < 3:
                    set_progress(job, waits=int(progress(job).get("waits") or 0) + 1)
                    for role in roles:
                        mapping = mappings.get(ctx.session, ctx.connection.id, mappings.SPECIAL_ITEM, role)
                        if mapping is not None:
                            mappings.forget(ctx.session, mapping)
                    needed = intake.special_item_jobs(ctx.session, ctx.connection, ctx.settings, roles)
                    return Wait(
                        f"QuickBooks lacks the item {found.group(2)!r}: adding it first",
                        tuple(j.id for j in needed),
                    )
            return refused(response, "credit memo")
        return Park(f"qbsync does not know the step {job.step!r} of a refund job")

    def _link(self, ctx: Context, refund_id: str, ret: dict[str, Any]) -> None:
        mappings.link_transaction(
            ctx.session, ctx.connection.id, mappings.REFUND, refund_id, "CreditMemo", ret
        )


register(RefundHandler())
