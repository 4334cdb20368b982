"""Payments: when an invoiced order is paid, a ReceivePayment applied to its invoice (once).

Steps: ``lookup`` (ReceivePaymentQuery by the order's RefNumber) -> ``add``. The job waits for the order
job; an order recorded as a sales receipt or sales order needs no separate payment. The payment goes to
the invoice's customer as QuickBooks has it (remembered when the invoice was added or changed,
``mappings.SALE_CUSTOMER``; read with the invoice, step ``sale``, for invoices linked before that), never
to the customer today's settings would choose: a merchant who changed ``proxy_customer`` or
``proxy_customer_for`` in between would otherwise pay another customer's balance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qbsync.qbxml.parse import Response
from qbsync.qbxml.status import Outcome
from qbsync.queue import company_facts, dates, jobs, lists, mappings, naming, rules
from qbsync.queue.handlers import (
    Again,
    ApplyResult,
    BuildResult,
    Context,
    Defer,
    Done,
    Finish,
    corrective_step_due,
    progress,
    register,
    render,
    set_progress,
)
from qbsync.queue.handlers.answers import found_record, found_records, lacks
from qbsync.queue.handlers.order_lines import money
from qbsync.queue.handlers.orders import facts, order_of
from qbsync.queue.handlers.steps import Step, StepHandler, go
from qbsync.queue.intake import coalesce_key
from qbsync.storage.models import QueueJob


def _order_id(job: QueueJob) -> str:
    return str(job.payload.get("order_id") or job.record_id)


class PaymentHandler(StepHandler):
    """Queue jobs of kind ``payment``: payload ``{"order_id": ..., "record": Order dict}``."""

    kind = "payment"

    def build(self, ctx: Context, job: QueueJob) -> BuildResult:
        session, conn_id = ctx.session, ctx.connection.id
        oid = _order_id(job)
        if mappings.get(session, conn_id, mappings.PAYMENT, oid) is not None:
            return Finish("the payment is already in QuickBooks")
        invoice = mappings.get(session, conn_id, mappings.ORDER, oid)
        if invoice is None:
            order_job = jobs.find_open(session, conn_id, coalesce_key("order", oid), include_in_flight=True)
            if order_job is not None:
                return Defer(f"waiting for the order's job #{order_job.id}", (order_job.id,))
            return Finish("the order is not in QuickBooks, so there is no invoice to pay")
        if invoice.qb_type != "Invoice":
            return Finish(f"the order was recorded as a {invoice.qb_type}: no separate payment needed")
        order = order_of(job)
        customer = mappings.get(session, conn_id, mappings.SALE_CUSTOMER, oid)
        if customer is None:
            return render(ctx, "InvoiceQuery", {"TxnID": invoice.qb_id}, "sale")
        ref_number = naming.ref_number(order.number or oid, str(ctx.settings.ref_number_prefix or ""))
        step = progress(job).get("next")
        if corrective_step_due(ctx, job) or (job.needs_lookup and step == "add"):
            # An add whose answer was lost may have happened: look before adding again.
            step = "lookup"
        if step is None:
            step = "lookup" if ctx.settings.lookup_before_add == "always" or job.needs_lookup else "add"
        marker = naming.order_marker(ctx.connection.platform, order.number, oid)
        set_progress(job, marker=marker)
        if step == "lookup":
            return render(
                ctx, "ReceivePaymentQuery", {"RefNumber": ref_number, "IncludeLineItems": True}, "lookup"
            )
        method = (
            None
            if progress(job).get("omit_payment_method")
            else rules.payment_method_name(order, ctx.settings)
        )
        if method and lists.has_list(session, conn_id, "PaymentMethod") and lists.by_name(
                session, conn_id, "PaymentMethod", method) is None:
            method = None  # the pulled list proves QuickBooks lacks it: recorded without (as receipts are)
        data = {
            "CustomerRef": {"ListID": customer.qb_id},
            "TxnDate": dates.shop_date(order.date_paid or order.created_at, order, ctx.settings),
            "RefNumber": ref_number,
            "TotalAmount": money(order.total) - money(order.gift_card_amount),
            # Received at the rate the store converted the order at, as its invoice was booked.
            "ExchangeRate": company_facts.exchange_rate(order, facts(ctx)),
            "PaymentMethodRef": {"FullName": method} if method else None,
            "Memo": naming.order_memo(ctx.connection.platform, order.number, oid, "payment"),
            "DepositToAccountRef": {"FullName": ctx.settings.deposit_account}
            if ctx.settings.deposit_account
            else None,
            "AppliedToTxnAdd": [
                {
                    "TxnID": invoice.qb_id,
                    # Gift cards already paid their part on the invoice's own gift card line.
                    "PaymentAmount": money(order.total) - money(order.gift_card_amount),
                }
            ],
        }
        return render(ctx, "ReceivePaymentAdd", {k: v for k, v in data.items() if v is not None}, "add")

    # -- what each answer means

    def _existing(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        """A payment with the order's number, applied to its invoice and carrying qbsync's marker."""
        oid = _order_id(job)
        invoice = mappings.get(ctx.session, ctx.connection.id, mappings.ORDER, oid)
        for ret in found_records(response, "ReceivePaymentRet"):
            applied = ret.get("AppliedToTxnRet") or []
            applied = applied if isinstance(applied, list) else [applied]
            if (
                invoice is not None
                and any(a.get("TxnID") == invoice.qb_id for a in applied)
                and naming.memo_marks(str(ret.get("Memo") or ""), progress(job).get("marker") or "")
            ):
                self._link(ctx, oid, ret)
                return Done("the payment was already in QuickBooks: linked")
        return None

    def _added(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        if not response.record:
            return None
        self._link(ctx, _order_id(job), response.record)
        return Done()

    def _sale_read(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        """The invoice as QuickBooks has it: its customer is the one the payment goes to."""
        ret = found_record(response)
        oid = _order_id(job)
        if not ret or mappings.link_sale_customer(ctx.session, ctx.connection.id, oid, ret) is None:
            return None
        return Again("read the invoice's customer")

    def _lacks_method(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        if not lacks(response, "PaymentMethod"):
            return None
        set_progress(job, omit_payment_method=True, next="add")
        return Again("the payment method is not in QuickBooks: recording the payment without it")

    STEPS = {
        "sale": Step(found=_sale_read, otherwise="read of the order's invoice"),
        "lookup": Step(found=_existing, empty=go("add", "no payment in QuickBooks yet: adding it"),
                       otherwise="payment look-up"),
        "add": Step(found=_added, on={Outcome.MISSING_REFERENCE: _lacks_method}, otherwise="payment"),
    }
    UNKNOWN = "a payment job"

    def _link(self, ctx: Context, oid: str, ret: Mapping[str, Any]) -> None:
        mappings.link_transaction(
            ctx.session, ctx.connection.id, mappings.PAYMENT, oid, "ReceivePayment", ret,
            origin=mappings.CREATED,  # added by qbsync, or found applied to its invoice with its marker
        )


register(PaymentHandler())
