"""Cancelled orders: void the sale only when nothing is against it; otherwise reverse what remains.

A transaction with payments, refunds or a deposit against it is never voided (voiding would undo money
that really moved and unbalance the deposit or the refund). Instead a credit memo dated the cancellation
reverses what the customer still owes for the order (the sale less what was already refunded), and on an
invoice that credit is applied to what is still open. Money not yet refunded stays as the customer's
open credit; a refund arriving later pays out of that credit memo (see ``refunds.py``).

Its item lines carry quantities back to stock only when the store restocked on cancelling
(``Order.restocked_on_cancel``; ``restock_unknown_cancellations`` when it does not say), less what the
order's refunds already returned, so QuickBooks' quantity on hand comes back to the store's count and
nothing is restocked twice; otherwise they carry none and the job's page says nothing went back. A void
gives the sale's quantities back to stock, so a sale of inventory the store did not restock is reversed
by the credit memo even with nothing against it; and an order refunded in full, then restocked on
cancelling, gets a credit memo of no money that brings the rest back (when QuickBooks refuses one, an
inventory adjustment of the same quantities does: ``returned_stock``). A credit memo that restocks moves the
order's stock add-back as a void does (``inventory.late_sales``). A line of which only part comes
back is split: the part back in stock at the sale's rate, the rest without a quantity.

Steps, all under the order's job (progress ``cancelling``): ``recheck`` (read the sale with its lines
and links) -> ``void``, or ``lookup`` (CreditMemoQuery by RefNumber "C<order number>") -> ``reverse``
(CreditMemoAdd) -> ``apply`` (ReceivePaymentAdd with SetCredit on the open invoice); a refused credit
memo of no money -> ``lookup`` (InventoryAdjustmentQuery, same RefNumber) -> ``restock``
(InventoryAdjustmentAdd).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from qbsync.qbxml.parse import Response
from qbsync.qbxml.status import Outcome
from qbsync.queue import company_facts, intake, mappings, naming, rules
from qbsync.queue.handlers import (
    Again,
    ApplyResult,
    BuildResult,
    Context,
    Done,
    Finish,
    Reject,
    progress,
    record_of,
    render,
    returned_stock,
    set_progress,
)
from qbsync.queue.handlers.answers import found_record, found_records
from qbsync.queue.handlers.items import refunded_item, special_name, wait_for_special_items
from qbsync.queue.handlers.order_lines import CENT, money
from qbsync.queue.handlers.steps import Step, react
from qbsync.queue.inventory import add_back_late_sales
from qbsync.storage.models import IdMapping, QueueJob
from qbsync.storefronts.records import LastKnownOrder, RefundLine, RefundSummary

VOIDED = "voided"
REVERSED = "reversed"  # the order mapping's synced_hash once a cancellation was booked as a credit memo
# A refund-before-cancellation link's synced_hash: the reversal returned the refund's restocked products.
STOCK_RETURNED = "stock returned by the cancellation"


def cancellation_marker(platform: str, number: str) -> str:
    """qbsync's mark on a reversing credit memo: 'WooCommerce cancellation of order #1001'."""
    store = naming.PLATFORM_NAMES.get(platform, platform)
    return f"{store} cancellation of order #{number}"


def money_against(
    order: LastKnownOrder, ret: Mapping[str, Any], paid_by_qbsync: bool, deposited: bool
) -> str:
    """Why the sale must not be voided ('' when nothing is against it)."""
    if order.refunds:
        return "refunds were recorded against it"
    if paid_by_qbsync:
        return "a payment was recorded against it"
    if ret.get("LinkedTxn"):
        return "QuickBooks lists payments or credits linked to it"
    if money(ret.get("AppliedAmount")) != 0:
        return "payments were applied to it"
    if deposited:
        return "its money went straight into the deposit account"
    return ""


def reversing_lines(
    ctx: Context,
    ret: Mapping[str, Any],
    kind: str,
    refunded: Decimal,
    returned: Mapping[str, Decimal] | None = None,
) -> list[dict[str, Any]]:
    """The sale's own lines (income reversed on the same items), less what was already refunded, on the
    adjustment item. ``returned``: None when nothing came back to stock (no quantities); else, per item
    ListID, what refunds already returned to stock, so each line carries back only the rest of its
    quantity and nothing is restocked twice."""
    lines: list[dict[str, Any]] = []
    left = dict(returned or {})
    for line in _sale_lines(ret, kind):
        item = line.get("ItemRef") or {}
        if not item.get("ListID") or money(line.get("Amount")) == 0:
            continue
        back, sold = Decimal(0), Decimal(0)
        if returned is not None and line.get("Quantity") not in (None, ""):
            sold = Decimal(str(line["Quantity"]))
            already = min(sold, left.get(item["ListID"], Decimal(0)))
            left[item["ListID"]] = left.get(item["ListID"], Decimal(0)) - already
            back = sold - already
        label = line.get("Desc") or item.get("FullName") or ""
        code = (line.get("SalesTaxCodeRef") or {}).get("ListID")
        amount = money(line.get("Amount"))
        for quantity, part in split_at_sale_rate(amount, sold, back):
            entry = {
                "ItemRef": {"ListID": item["ListID"]},
                "Desc": f"Cancelled{', back in stock' if quantity else ''}: {label}".strip(),
                "Quantity": str(quantity) if quantity else None,
                "Amount": str(part),  # kept in the job's progress (JSON) until sent
                "SalesTaxCodeRef": {"ListID": code} if code else None,
            }
            lines.append({k: v for k, v in entry.items() if v is not None})
    if refunded:
        lines.append(
            {
                "ItemRef": {"FullName": special_name("adjustment", ctx.settings)},
                "Desc": "Refunded before the cancellation",
                "Amount": str(-refunded),
                "SalesTaxCodeRef": {"FullName": ctx.settings.non_taxable_code},
            }
        )
    return lines


def split_at_sale_rate(amount: Decimal, sold: Decimal, back: Decimal) -> list[tuple[Decimal, Decimal]]:
    """(quantity, amount) parts reversing a sale line of ``amount`` for ``sold`` units of which ``back``
    come back to stock; pure. The units coming back are credited at the sale's rate (amount / sold, to
    the cent), the rest of the line without a quantity, so QuickBooks shows the rate the customer paid
    (not the whole line's amount over fewer units) and the parts add up to ``amount`` to the cent."""
    if back <= 0 or sold <= 0:
        return [(Decimal(0), amount)]
    if back >= sold:
        return [(sold, amount)]
    returned = (amount * back / sold).quantize(CENT, ROUND_HALF_UP)
    return [(back, returned), (Decimal(0), amount - returned)]


def _sale_lines(ret: Mapping[str, Any], kind: str) -> list[Mapping[str, Any]]:
    found = ret.get(f"{kind}LineRet") or []
    return found if isinstance(found, list) else [found]


def moves_stock(ctx: Context, ret: Mapping[str, Any], kind: str) -> bool:
    """Whether voiding the sale would put products back in QuickBooks' stock (QuickBooks' own advice for
    returned goods on an unpaid invoice is the void: it "changes the amounts on the sale to zero", the
    quantities too): a line with a quantity of an inventory item, or of an item whose type qbsync does not
    know (a credit memo without quantities moves no stock either way, a wrong void would)."""
    for line in _sale_lines(ret, kind):
        list_id = (line.get("ItemRef") or {}).get("ListID")
        if not list_id or line.get("Quantity") in (None, "") or Decimal(str(line["Quantity"])) == 0:
            continue
        if returned_stock.keeps_stock(ctx, list_id):
            return True
    return False


def refund_lines(ctx: Context, summary: RefundSummary) -> tuple[RefundLine, ...]:
    """What a refund listed on the order refunded per line: as the order lists it (Shopify), else as
    the refund the store sent (WooCommerce orders list only totals); none when qbsync has neither."""
    if summary.lines:
        return summary.lines
    stored = intake.stored_record(ctx.session, ctx.connection.id, "refund", summary.storefront_id)
    return tuple(RefundLine.from_dict(line) for line in stored.get("lines") or ())


def returned_by_refunds(
    ctx: Context, order: LastKnownOrder, unseen: list[str] | None = None
) -> dict[str, Decimal]:
    """Per item ListID, the quantity the refunds listed on the order returned to stock in QuickBooks
    (by the rule their own credit memos follow, ``rules.refund_restocks``). The ids of refunds whose
    lines qbsync does not know yet (their webhook not stored) go into ``unseen``: the cancellation
    brings their products back itself, so their own credit memos must not again
    (:func:`stock_returned_by_cancellation`)."""
    returned: dict[str, Decimal] = {}
    for summary in order.refunds or ():
        lines = refund_lines(ctx, summary)
        if not lines and unseen is not None:
            unseen.append(summary.storefront_id)
        for line in lines:
            if not rules.refund_restocks(line, ctx.settings) or rules.refunds_gift_card(
                line, order, ctx.settings
            ):
                continue
            mapping = refunded_item(ctx, line)
            if mapping is not None:
                returned[mapping.qb_id] = returned.get(mapping.qb_id, Decimal(0)) + line.quantity
    return returned


def stock_returned_by_cancellation(ctx: Context, refund_id: str) -> bool:
    """Whether the reversal of the refund's cancelled order already brought back what the refund
    restocked: the refund was listed on the order, its lines unknown when the reversal was booked, and
    the reversal returned all the store restocked (so the refund's credit memo carries no quantities)."""
    before = mappings.get(ctx.session, ctx.connection.id, mappings.REFUND_BEFORE_CANCELLATION, refund_id)
    return before is not None and before.synced_hash == STOCK_RETURNED


def restock_note(ctx: Context, order: LastKnownOrder) -> str:
    """What the cancellation does with stock, in words for the job's page."""
    said = order.restocked_on_cancel
    if rules.cancellation_restocks(order, ctx.settings):
        why = "the store restocked it" if said else "restock_unknown_cancellations is on"
        return f"what was not refunded goes back to stock ({why})"
    why = "the store says nothing more came back than its refunds list" if said is False else (
        "the store does not say it was restocked and restock_unknown_cancellations is off; turn it on "
        "if the store puts a cancelled order's products back, as WooCommerce does for orders it took "
        "stock for"
    )
    return f"nothing goes back to stock ({why})"


def sale_total(ret: Mapping[str, Any], kind: str) -> Decimal:
    """What the sale is worth (an invoice reports Subtotal and tax, the others TotalAmount)."""
    if kind == "Invoice":
        return money(ret.get("Subtotal")) + money(ret.get("SalesTaxTotal"))
    return money(ret.get("TotalAmount"))


def credit_applied(
    customer_id: str,
    invoice_id: str,
    credit_id: str,
    amount: Decimal,
    memo: str,
    date: str | None = None,
    rate: Decimal | None = None,
) -> dict[str, Any]:
    """ReceivePaymentAdd data applying ``amount`` of a credit memo to an invoice: a payment of no money
    whose SetCredit names the credit (Intuit CreditMemoAdd reference); ``rate``: the ExchangeRate of a
    foreign-currency sale (``company_facts.booked_rate``)."""
    data = {
        "CustomerRef": {"ListID": customer_id},
        "TxnDate": date,
        "TotalAmount": Decimal(0),
        "ExchangeRate": rate,
        "Memo": memo,
        "AppliedToTxnAdd": [
            {
                "TxnID": invoice_id,
                "PaymentAmount": Decimal(0),
                "SetCredit": [{"CreditTxnID": credit_id, "AppliedAmount": amount}],
            }
        ],
    }
    return {k: v for k, v in data.items() if v is not None}


def _order(job: QueueJob) -> LastKnownOrder:
    """The cancelled order the order job carries, as far as it is known (a deleted order's payload is
    only what was last stored of it)."""
    return record_of(job, LastKnownOrder)


def _number(job: QueueJob, order: LastKnownOrder) -> str:
    """The order's number (its storefront id when the payload does not say)."""
    return order.number or str(job.record_id)


def _sale(ctx: Context, job: QueueJob) -> IdMapping:
    """The cancelled order's sale in QuickBooks (the order job hands a cancellation only a linked order)."""
    mapping = mappings.get(ctx.session, ctx.connection.id, mappings.ORDER, str(job.record_id))
    if mapping is None:
        raise LookupError(f"order {job.record_id} is not linked to a QuickBooks transaction")
    return mapping


def _rate(ctx: Context, notes: Mapping[str, Any], order: LastKnownOrder) -> Decimal | None:
    """The ExchangeRate the sale was booked with (read in ``recheck``), for its reversal and the credit
    applied (``company_facts.booked_rate``)."""
    from qbsync.queue.handlers.orders import facts  # orders imports this module

    return company_facts.booked_rate(notes.get("rate"), order, facts(ctx))


class Cancellation:
    """The cancellation steps of an order job (called by the order handler)."""

    def build(
        self, ctx: Context, job: QueueJob, order: LastKnownOrder, mapping: IdMapping | None
    ) -> BuildResult:
        if mapping is None:
            return Finish("cancelled before it reached QuickBooks: nothing to record")
        if mapping.synced_hash == VOIDED:
            return Finish(f"the {mapping.qb_type} {mapping.qb_name} is already voided")
        notes = progress(job)
        if mapping.synced_hash == REVERSED and not notes.get("apply"):
            return Finish(
                f"the cancellation is already in QuickBooks (credit memo against {mapping.qb_name})"
            )
        if not mappings.may_change(mapping):
            return Reject(
                f"the {mapping.qb_type} {mapping.qb_name} was {mappings.provenance(mapping)}, so qbsync "
                "does not void or reverse it; do it in QuickBooks by hand"
            )
        if not ctx.settings.void_cancelled_orders:
            return Finish(
                f"cancelled in the store; void_cancelled_orders is off, so the {mapping.qb_type} "
                f"{mapping.qb_name} stays in QuickBooks"
            )
        unconfirmed = job.payload.get("unconfirmed")
        if unconfirmed and not progress(job).get("void_approved"):
            # A webhook said so but the store could not be asked: never void or reverse on a header. A
            # person's retry of the parked job is the approval (new data coalesced into the job asks again).
            set_progress(job, void_approved=True)
            return Reject(
                f"{unconfirmed}. Check the order in the store, then retry this job to void (or reverse) the "
                f"{mapping.qb_type} {mapping.qb_name} in QuickBooks, or remove the job to keep it"
            )
        if mapping.qb_type == "SalesOrder":
            # A sales order posts nothing: closing it by void takes nothing back that moved.
            return render(ctx, "TxnVoid", {"TxnVoidType": mapping.qb_type, "TxnID": mapping.qb_id}, "void")
        set_progress(job, cancelling=True)
        if "against" not in notes or job.needs_lookup:
            set_progress(job, next=None)  # after a lost answer the credit memo is looked up before any add
            query: dict[str, Any] = {"TxnID": mapping.qb_id, "IncludeLineItems": True}
            if mapping.qb_type == "Invoice":
                query["IncludeLinkedTxns"] = True
            # Named "recheck": the exchange clears a lost answer's doubt once this read went out.
            return render(ctx, f"{mapping.qb_type}Query", query, "recheck")
        if not notes["against"]:
            return render(ctx, "TxnVoid", {"TxnVoidType": mapping.qb_type, "TxnID": mapping.qb_id}, "void")
        reversal = mappings.get(ctx.session, ctx.connection.id, mappings.CANCELLATION, str(job.record_id))
        if reversal is not None:
            return self._apply_credit(ctx, job, order, mapping, reversal)
        remaining = Decimal(notes["remaining"])
        if remaining <= 0 and not any(line.get("Quantity") for line in notes["lines"]):
            mapping.synced_hash = REVERSED
            return Finish(f"cancelled after it was refunded in full: nothing remains on {mapping.qb_name}")
        # Refunded in full but restocked on cancelling: a credit memo of no money brings the rest back.
        number = _number(job, order)
        when = order.cancelled_at or order.modified_at
        date = when.date().isoformat() if when is not None else None  # as stored: UTC
        if remaining <= 0 and returned_stock.known_refused(ctx, job):
            return self._return_stock(ctx, job, mapping, number, date)
        if notes.get("next") != "reverse":
            return render(ctx, "CreditMemoQuery", {"RefNumber": naming.ref_number(number, "C")}, "lookup")
        data = {
            "CustomerRef": {"ListID": notes["customer"]},
            "TxnDate": date,
            "RefNumber": naming.ref_number(number, "C"),
            "ItemSalesTaxRef": notes.get("tax_item"),
            "Memo": f"{cancellation_marker(ctx.connection.platform, number)}: reverses what remains of "
            f"{mapping.qb_type} {mapping.qb_name}",
            "ExchangeRate": _rate(ctx, notes, order),
            "CreditMemoLineAdd": notes["lines"],
        }
        return render(ctx, "CreditMemoAdd", {k: v for k, v in data.items() if v is not None}, "reverse")

    def _return_stock(
        self, ctx: Context, job: QueueJob, sale: IdMapping, number: str, date: str | None
    ) -> BuildResult:
        """QuickBooks refused the credit memo of no money: what it would have brought back to stock comes
        back by an inventory adjustment, looked up first so it is never added twice."""
        notes = progress(job)
        ref_number = naming.ref_number(number, "C")
        if notes.get("next") != "restock":
            return render(ctx, "InventoryAdjustmentQuery", {"RefNumber": ref_number}, "lookup")
        data = returned_stock.adjustment(
            ctx, returned_stock.returned_quantities(notes["lines"]), customer=notes["customer"],
            ref_number=ref_number, date=date,
            memo=returned_stock.memo(cancellation_marker(ctx.connection.platform, number)),
        )
        if data is None:
            sale.synced_hash = REVERSED
            return Finish("QuickBooks refused the cancellation's credit memo of no money, and none of the "
                          "products it returned keeps stock in QuickBooks: nothing more to record")
        return render(ctx, "InventoryAdjustmentAdd", data, "restock")

    def _apply_credit(
        self, ctx: Context, job: QueueJob, order: LastKnownOrder, sale: IdMapping, reversal: IdMapping
    ) -> BuildResult:
        notes = progress(job)
        amount = Decimal(str(notes.get("apply") or 0))
        if sale.qb_type != "Invoice" or amount <= 0:
            sale.synced_hash = REVERSED
            return Finish(f"cancellation recorded as credit memo {reversal.qb_name}")
        memo = f"credit memo {reversal.qb_name} applied to invoice {sale.qb_name} (order cancelled)"
        data = credit_applied(
            notes["customer"], sale.qb_id, reversal.qb_id, amount, memo, rate=_rate(ctx, notes, order)
        )
        return render(ctx, "ReceivePaymentAdd", data, "apply")

    # -- apply

    def apply(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        """What QuickBooks' answer to a step of the cancellation means (by :attr:`STEPS`)."""
        return react(self.STEPS, self, ctx, job, response, "a cancellation")

    def _read_sale(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        """The sale as QuickBooks has it now: void it when nothing is against it, else reverse the rest."""
        ret = found_record(response)
        if not ret:
            return None
        order, mapping, notes = _order(job), _sale(ctx, job), progress(job)
        paid = mappings.get(ctx.session, ctx.connection.id, mappings.PAYMENT, str(job.record_id)) is not None
        deposited = mapping.qb_type == "SalesReceipt" and bool(ctx.settings.deposit_account)
        against = money_against(order, ret, paid, deposited)
        refunded = sum((money(r.amount) for r in order.refunds or ()), Decimal(0))
        restocks = rules.cancellation_restocks(order, ctx.settings)
        if not against and not restocks and moves_stock(ctx, ret, mapping.qb_type):
            # A void gives the sale's quantities back to QuickBooks' stock, which the store did not
            # restock: the credit memo reverses the money and leaves the stock where the store's is.
            against = "voiding it would put its products back in QuickBooks' stock, which the store did not"
        unseen: list[str] = []
        returned = returned_by_refunds(ctx, order, unseen) if restocks else None
        stock = restock_note(ctx, order)
        remaining = sale_total(ret, mapping.qb_type) - refunded
        open_amount = money(ret.get("BalanceRemaining")) if mapping.qb_type == "Invoice" else Decimal(0)
        if "apply" in notes:
            # Re-read after a lost answer: apply no more than the invoice still has open.
            set_progress(job, apply=str(min(Decimal(str(notes["apply"])), open_amount)))
        set_progress(
            job,
            against=against,
            remaining=str(remaining),
            customer=(ret.get("CustomerRef") or {}).get("ListID"),
            tax_item=ret.get("ItemSalesTaxRef"),
            rate=ret.get("ExchangeRate"),
            # Refunds beyond the sale (never more than it) leave a reversal of no money, which still
            # brings back what the store restocked on cancelling.
            lines=reversing_lines(ctx, ret, mapping.qb_type, min(refunded, sale_total(ret, mapping.qb_type)),
                                  returned),
            open=str(open_amount),
            stock=stock,
            unseen=unseen,
        )
        return Again(
            f"not voided: {against}; reversing what remains ({remaining}); {stock}"
            if against
            else "nothing is against the sale: voiding it"
        )

    def _existing(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        order = _order(job)
        number = _number(job, order)
        marker = cancellation_marker(ctx.connection.platform, number)
        customer = progress(job).get("customer")
        if progress(job).get(returned_stock.REFUSED):
            adjusted = returned_stock.ours(response, marker, customer)
            if adjusted is None:
                return None
            return self._restocked(ctx, job, order, adjusted, "the cancellation's stock adjustment was "
                                   "already in QuickBooks")
        ours = naming.first_marked(found_records(response, "CreditMemoRet"), marker, customer)
        if ours is None:
            return None
        why = "the cancellation's credit memo was already in QuickBooks"
        return self._reversed(ctx, job, order, ours, why)

    def _reverse_refused(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        no_money = Decimal(progress(job)["remaining"]) <= 0
        return returned_stock.credit_refused(ctx, job, response, no_money, "cancellation's credit memo")

    def _adjusted(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        if not response.record:
            return None
        return self._restocked(ctx, job, _order(job), response.record, "the cancellation's stock came back "
                               "by an inventory adjustment")

    def _recorded(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        if not response.record:
            return None
        why = "cancellation recorded as a credit memo"
        return self._reversed(ctx, job, _order(job), response.record, why)

    def _lacks_item(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        return wait_for_special_items(ctx, job, response)

    def _applied(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        mapping = _sale(ctx, job)
        set_progress(job, apply=None)
        mapping.synced_hash = REVERSED
        stock = progress(job).get("stock")
        closed = f"the cancellation's credit closed what was open on invoice {mapping.qb_name}"
        return Done(f"{closed}; {stock}" if stock else closed)

    STEPS = {
        "recheck": Step(found=_read_sale, otherwise="read of the cancelled order's transaction"),
        "lookup": Step(found=_existing, otherwise="look-up of the cancellation",
                       empty=returned_stock.after_look_up("reverse", "recording the cancellation as a credit "
                                                          "memo")),
        "reverse": Step(found=_recorded, on={Outcome.MISSING_REFERENCE: _lacks_item},
                        otherwise=_reverse_refused),
        "restock": Step(found=_adjusted, on={Outcome.MISSING_REFERENCE: returned_stock.lacks_account},
                        otherwise="inventory adjustment returning the cancelled order's stock"),
        "apply": Step(found=_applied, otherwise="credit applied to the invoice"),
    }

    def _reversed(
        self, ctx: Context, job: QueueJob, order: LastKnownOrder, ret: Mapping[str, Any], why: str
    ) -> ApplyResult:
        mappings.link_transaction(
            ctx.session,
            ctx.connection.id,
            mappings.CANCELLATION,
            str(job.record_id),
            "CreditMemo",
            ret,
            origin=mappings.CREATED,
        )
        self._refunds_and_stock(ctx, job, order, "CreditMemo", ret)
        notes = progress(job)
        if notes.get("stock"):
            why = f"{why}; {notes['stock']}"
        credit = money(ret.get("CreditRemaining") or ret.get("TotalAmount"))
        apply = min(Decimal(str(notes.get("open") or 0)), credit)
        set_progress(job, apply=str(apply) if apply > 0 else None, next=None)
        sale = mappings.get(ctx.session, ctx.connection.id, mappings.ORDER, str(job.record_id))
        if apply > 0:
            return Again(f"{why}: applying it to the open invoice")
        if sale is not None:
            sale.synced_hash = REVERSED
        return Done(why)

    def _refunds_and_stock(
        self, ctx: Context, job: QueueJob, order: LastKnownOrder, qb_type: str, ret: Mapping[str, Any]
    ) -> None:
        """What the reversal (``ret``, a credit memo or the adjustment that took its place) settles: the
        refunds listed on the order get their own credit memos, restocking nothing it returned; an add-back
        of a late sale the store's count already had back in stock is taken out again."""
        session, conn_id = ctx.session, ctx.connection.id
        unseen = set(progress(job).get("unseen") or ())
        for refund in order.refunds or ():
            # Left out of the reversal: that refund's own credit memo credits it, not this one.
            refund_id = refund.storefront_id
            mappings.link_transaction(
                session,
                conn_id,
                mappings.REFUND_BEFORE_CANCELLATION,
                refund_id,
                qb_type,
                ret,
                origin=mappings.CREATED,
                synced_hash=STOCK_RETURNED if refund_id in unseen else None,
            )
        if rules.cancellation_restocks(order, ctx.settings):
            # The reversal brings the products back as a void would (stock counted once).
            back = returned_stock.returned_quantities(progress(job).get("lines") or [])
            add_back_late_sales(session, conn_id, str(job.record_id), order, None, ctx.settings, ctx.now,
                                restocked=back)

    def _restocked(
        self, ctx: Context, job: QueueJob, order: LastKnownOrder, ret: Mapping[str, Any], why: str
    ) -> ApplyResult:
        """The adjustment that returned the stock in place of a refused credit memo of no money is in
        QuickBooks: the cancellation is booked (no money remained to credit)."""
        self._refunds_and_stock(ctx, job, order, "InventoryAdjustment", ret)
        set_progress(job, next=None)
        _sale(ctx, job).synced_hash = REVERSED
        stock = progress(job).get("stock")
        return Done(f"{why}; {stock}" if stock else why)


CANCELLATION = Cancellation()
