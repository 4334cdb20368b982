"""Refunds: a storefront refund becomes a QuickBooks CreditMemo for the customer of the sale, and the
credit is used up the way the money went:

- the order was paid (a sales receipt, or an invoice with nothing left to pay): the money paid back, an
  ``ARRefundCreditCardAdd`` (card and online payments) or a refund ``CheckAdd`` (``refund_paid_by``),
  out of ``deposit_account`` (Undeposited Funds when empty), linked to the credit memo;
- the invoice is still open: the credit applied to it (``ReceivePaymentAdd`` with ``SetCredit``), and
  any part beyond what is open paid back as above.

So no open credit is left on the customer. Steps: ``sale`` (read the order's transaction: customer,
number, what is open) -> ``lookup`` (CreditMemoQuery by RefNumber "R<refund id>") -> ``add`` ->
``apply`` and/or ``pay_out``; ``recheck`` (the credit memo's CreditRemaining) after an answer was lost,
so money is never paid out twice. A refund after the order was reversed on cancellation pays out of
that reversing credit memo instead of crediting the customer a second time.

Refunded products go back on their items, returning them to stock only when the store says they were
restocked (``restock_unknown_refunds`` when it does not say), and never when the order's cancellation,
booked before the refund's webhook came, already brought them back; shipping, tax and any remainder go
on the shipping, tax and rounding items, so the credit equals the money refunded. A refund of no money
that restocks is a credit memo of 0.00, or, when QuickBooks refuses that, an inventory adjustment of the
same quantities (``returned_stock``; steps ``lookup`` -> ``restock``); one that restocks nothing sends
nothing; one the store reports below zero is never sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from qbsync.qbxml.parse import Response
from qbsync.qbxml.status import Outcome
from qbsync.queue import (
    company_facts,
    dates,
    intake,
    jobs,
    lists,
    mappings,
    naming,
    rules,
    sales_tax,
    tax_codes,
)
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
    Reject,
    corrective_step_due,
    progress,
    record_of,
    register,
    render,
    returned_stock,
    set_progress,
)
from qbsync.queue.handlers.answers import found_record, found_records
from qbsync.queue.handlers.cancellations import (
    REVERSED,
    credit_applied,
    stock_returned_by_cancellation,
)
from qbsync.queue.handlers.items import refunded_item, special_name, wait_for_special_items
from qbsync.queue.handlers.order_lines import money
from qbsync.queue.handlers.orders import codes_pending, country_tax, facts
from qbsync.queue.handlers.steps import Step, StepHandler
from qbsync.queue.inventory import refund_moment, settle_counted, take_back_restocked
from qbsync.storage.models import IdMapping, QueueJob
from qbsync.storefronts.records import Order, Refund, RefundLine

UNDEPOSITED_FUNDS = "Undeposited Funds"  # QuickBooks' own name for the account it creates itself
SETTLED = "settled"  # the refund mapping's synced_hash once the credit is used up (paid out or applied)


def refund_date(ctx: Context, refund: Refund, order: Order | None) -> str | None:
    """The refund's TxnDate (YYYY-MM-DD): the day it was made where the shop is (``store_timezone``,
    else the order's own offset), not the UTC day."""
    day = dates.shop_date(refund.created_at, order, ctx.settings)
    return day.isoformat() if day else None


def _refund(job: QueueJob) -> Refund:
    """The refund the job carries (read from its JSON once, see ``record_of``)."""
    return record_of(job, Refund)


def _special(ctx: Context, role: str) -> dict[str, str]:
    name = special_name(role, ctx.settings)
    mapping = mappings.get(ctx.session, ctx.connection.id, mappings.SPECIAL_ITEM, role)
    if mapping is not None and (mapping.qb_name or "").lower() == name.lower():
        return {"ListID": mapping.qb_id}
    return {"FullName": name}


def _back_in_stock(ctx: Context, line: RefundLine, order: Order | None, returned_before: bool) -> bool:
    """Whether the credit memo's line of ``line`` carries its quantity back to stock (never a gift card's,
    never what the order's cancellation brought back already)."""
    return (rules.refund_restocks(line, ctx.settings) and not returned_before
            and not rules.refunds_gift_card(line, order, ctx.settings))


def restocked_items(ctx: Context, refund: Refund, order: Order | None) -> dict[str, Decimal]:
    """Item ListID -> the quantity the refund's credit memo brings back to stock (:func:`credit_lines`)."""
    returned_before = stock_returned_by_cancellation(ctx, refund.storefront_id)
    back: dict[str, Decimal] = {}
    for line in refund.lines:
        mapping = refunded_item(ctx, line)
        if mapping is not None and line.quantity and _back_in_stock(ctx, line, order, returned_before):
            back[mapping.qb_id] = back.get(mapping.qb_id, Decimal(0)) + line.quantity
    return back


def credit_lines(ctx: Context, refund: Refund, order: Order | None) -> list[dict[str, Any]]:
    """The credit memo's lines; together they equal the money refunded (``order``: the refunded order as
    the store sent it, whose sales tax items the refunded tax comes off; None when qbsync never stored
    it). A Canadian or UK company takes
    the order's line codes instead (``tax_codes.refunded_line_code``): QuickBooks computes the refunded
    tax from them, on the tax items the sale charged, and the cent its rounding differs from the store's
    goes on the adjustment line."""
    non_taxable = tax_code_ref(ctx.settings)  # None on a company without sales tax codes
    country = None if facts(ctx).is_us else country_tax(ctx)
    exempt = {"FullName": country.exempt} if country is not None else non_taxable
    lines: list[dict[str, Any]] = []
    # Listed on the cancelled order before its webhook came: the reversal returned its products already.
    returned_before = stock_returned_by_cancellation(ctx, refund.storefront_id)
    for line in refund.lines:
        mapping = refunded_item(ctx, line)
        label = line.sku or line.product_id or "item"
        amount = money(line.amount)
        restocked = _back_in_stock(ctx, line, order, returned_before)
        if rules.refunds_gift_card(line, order, ctx.settings):
            # The card's money was owed to its holder, never income or stock: it comes off the liability.
            entry = {"ItemRef": _special(ctx, "gift_card"), "Desc": f"Gift card refunded ({label})",
                     "Amount": amount}
        elif mapping is not None and restocked:
            entry = {
                "ItemRef": {"ListID": mapping.qb_id},
                "Desc": f"Returned {label}",
                "Quantity": line.quantity or None,
                "Amount": amount,
            }
        elif mapping is not None:
            # The sale of the item is reversed (its income account) but nothing comes back to stock.
            back = "back in stock with the order's cancellation" if returned_before else "not restocked"
            entry = {
                "ItemRef": {"ListID": mapping.qb_id},
                "Desc": f"Refund of {label} ({back})",
                "Amount": amount,
            }
        else:
            entry = {
                "ItemRef": _special(ctx, "adjustment"),
                "Desc": f"Refund of {label} (not restocked)",
                "Amount": amount,
            }
        code = non_taxable
        if country is not None:
            code = {"FullName": tax_codes.refunded_line_code(order, line, country)}
        lines.append({**{k: v for k, v in entry.items() if v is not None}, "SalesTaxCodeRef": code})
    shipping, shipping_tax = sales_tax.refunded_shipping(refund, order)
    if shipping:
        code = non_taxable
        if country is not None:
            code = {"FullName": tax_codes.refunded_shipping_code(order, shipping_tax, country)}
        lines.append(
            {
                "ItemRef": _special(ctx, "shipping"),
                "Desc": "Shipping refunded",
                "Amount": shipping,
                "SalesTaxCodeRef": code,
            }
        )
    tax = sum((money(line.tax) for line in refund.lines), shipping_tax)
    if tax and country is None and ctx.settings.tax_mode == "line":
        lines.extend(_tax_lines(ctx, order, tax, non_taxable))
    computed = tax_codes.quickbooks_tax(lines, country) if country is not None else Decimal(0)
    rest = money(refund.amount) - sum((line["Amount"] for line in lines), computed)
    if rest:
        lines.append(
            {
                "ItemRef": _special(ctx, "adjustment"),
                "Desc": refund.reason or "Refund",
                "Amount": rest,
                "SalesTaxCodeRef": exempt,
            }
        )
    return lines


def _tax_lines(
    ctx: Context, order: Order | None, tax: Decimal, non_taxable: dict[str, str] | None
) -> list[dict[str, Any]]:
    """The refunded ``tax`` as lines of the sales tax items the order's tax went on (one per store
    rate), so the sales tax owed to each agency goes down by it (US companies); the other-charge tax item
    only for an order with no tax of its own."""
    split = sales_tax.refunded_tax_items(order, tax) if order is not None else []
    lines = []
    for item, amount in split:
        mapping = mappings.get(ctx.session, ctx.connection.id, mappings.SPECIAL_ITEM, item.role)
        if mapping is not None and (mapping.qb_name or "").lower() == item.name.lower():
            ref = {"ListID": mapping.qb_id}
        else:
            entry = lists.by_name(ctx.session, ctx.connection.id, "Item", item.name)
            ref = {"ListID": entry.list_id} if entry is not None else {"FullName": item.name}
        lines.append({"ItemRef": ref, "Desc": f"Sales tax refunded ({item.name})", "Amount": amount})
    if split:
        return lines
    return [
        {
            "ItemRef": _special(ctx, "tax"),
            "Desc": "Sales tax refunded",
            "Amount": tax,
            "SalesTaxCodeRef": non_taxable,
        }
    ]


def _rate(ctx: Context, notes: Mapping[str, Any], order: Order | None) -> Decimal | None:
    """The ExchangeRate the sale was booked with (read with it), for everything the refund records."""
    if order is None:
        return None  # its currency unknown: booked as its sale was, in the home currency
    return company_facts.booked_rate(notes.get("rate"), order, facts(ctx))


# Context.cache: order id -> the refunded order's record (None: qbsync never stored it).
REFUNDED_ORDERS = "refunded_orders"


def refunded_order(ctx: Context, order_id: str) -> Order | None:
    """The refunded order as the store last sent it (None when qbsync never stored it); read once per
    round trip, however many of its refunds the round trip carries."""
    known: dict[str, Order | None] = ctx.cache.setdefault(REFUNDED_ORDERS, {})
    if order_id not in known:
        data = intake.stored_record(ctx.session, ctx.connection.id, "order", order_id)
        known[order_id] = Order.from_dict(data) if data else None
    return known[order_id]


class RefundHandler(StepHandler):
    """Queue jobs of kind ``refund``: payload ``{"record": Refund dict}``."""

    kind = "refund"

    def build(self, ctx: Context, job: QueueJob) -> BuildResult:
        refund = _refund(job)
        if money(refund.amount) < 0:
            return Reject(
                f"the store reports refund {refund.storefront_id} as {money(refund.amount)}, below zero; "
                "QuickBooks takes no credit memo below zero, so qbsync sends none: check the refund in the "
                "store, then retry this job once it reads as money paid back (or record it by hand)"
            )
        session, conn_id = ctx.session, ctx.connection.id
        refund_id = refund.storefront_id
        order_id = refund.order_id
        sale = mappings.get(session, conn_id, mappings.ORDER, order_id)
        if sale is None:
            return self._no_sale(ctx, order_id)
        credit = self._credit(ctx, refund_id, order_id, sale)
        if credit is not None and credit.synced_hash == SETTLED and credit.record_type == mappings.REFUND:
            return Finish("the refund is already in QuickBooks")
        if sale.synced_hash == "voided":
            return Finish(f"the order's {sale.qb_type} {sale.qb_name} was voided: nothing to credit")
        payment = jobs.find_open(
            session, conn_id, intake.coalesce_key("payment", order_id), include_in_flight=True
        )
        if sale.qb_type == "Invoice" and payment is not None:
            # What is still open on the invoice decides where the credit goes: let its payment land first.
            return Defer(f"waiting for the order's payment (job #{payment.id})", (payment.id,))
        notes = progress(job)
        unsure = corrective_step_due(ctx, job) or job.needs_lookup
        if unsure and not notes.get("rechecking"):
            # An answer was lost: what QuickBooks holds now decides the next step, never a guess.
            set_progress(job, open=None, left=None, customer=None, next=None, rechecking=True)
            notes = progress(job)
        if not notes.get("customer") or "open" not in notes:
            return render(ctx, f"{sale.qb_type}Query", {"TxnID": sale.qb_id}, "sale")
        if credit is not None:
            return self._settle(ctx, job, refund, credit, sale)
        ref_number = naming.ref_number(refund_id, "R")
        order = refunded_order(ctx, order_id)
        if money(refund.amount) == 0:
            if notes.get(returned_stock.REFUSED):
                return self._return_stock(ctx, job, refund, order, ref_number)
            if not restocked_items(ctx, refund, order):
                return Finish("no money was refunded and nothing came back to stock: nothing to record in "
                              "QuickBooks")
            if returned_stock.known_refused(ctx, job):
                return self._return_stock(ctx, job, refund, order, ref_number)
        step = notes.get("next")
        if step is None or job.needs_lookup:
            step = "lookup" if ctx.settings.lookup_before_add == "always" or job.needs_lookup else "add"
        if step == "lookup":
            return render(ctx, "CreditMemoQuery", {"RefNumber": ref_number}, "lookup")
        waiting = codes_pending(ctx)  # Canada/UK: the refund's lines take the order's codes
        if waiting is not None:
            return waiting
        data = {
            "CustomerRef": {"ListID": notes["customer"]},
            "TxnDate": refund_date(ctx, refund, order),
            "RefNumber": ref_number,
            "Memo": self._memo(ctx, refund, notes),
            "ExchangeRate": _rate(ctx, notes, order),
            "CreditMemoLineAdd": credit_lines(ctx, refund, order),
        }
        return render(ctx, "CreditMemoAdd", {k: v for k, v in data.items() if v is not None}, "add")

    def _return_stock(
        self, ctx: Context, job: QueueJob, refund: Refund, order: Order | None, ref_number: str
    ) -> BuildResult:
        """QuickBooks refused the refund's credit memo of no money: what it would have brought back to
        stock comes back by an inventory adjustment, looked up first so it is never added twice."""
        notes = progress(job)
        if notes.get("next") != "restock" or job.needs_lookup:
            return render(ctx, "InventoryAdjustmentQuery", {"RefNumber": ref_number}, "lookup")
        data = returned_stock.adjustment(
            ctx, restocked_items(ctx, refund, order), customer=notes["customer"], ref_number=ref_number,
            date=refund_date(ctx, refund, order), memo=returned_stock.memo(self._marker(ctx, refund, notes)),
        )
        if data is None:
            return Finish("QuickBooks refused the refund's credit memo of no money, and none of the products "
                          "it returned keeps stock in QuickBooks: nothing more to record")
        return render(ctx, "InventoryAdjustmentAdd", data, "restock")

    # -- using the credit up

    def _credit(self, ctx: Context, refund_id: str, order_id: str, sale: IdMapping) -> IdMapping | None:
        """The credit memo the refund's money comes out of: its own, or the cancellation's."""
        own = mappings.get(ctx.session, ctx.connection.id, mappings.REFUND, refund_id)
        if own is not None or sale.synced_hash != REVERSED:
            return own
        if mappings.get(ctx.session, ctx.connection.id, mappings.REFUND_BEFORE_CANCELLATION, refund_id):
            return None  # the reversal left this refund out: it gets its own credit memo
        return mappings.get(ctx.session, ctx.connection.id, mappings.CANCELLATION, order_id)

    def _settle(
        self, ctx: Context, job: QueueJob, refund: Refund, credit: IdMapping, sale: IdMapping
    ) -> BuildResult:
        """Apply the credit to the open invoice, or pay the money back, until nothing is left."""
        notes = progress(job)
        if credit.origin is None or not mappings.may_change(sale):
            # Linked before qbsync paid refunds out, or a sale qbsync cannot prove is its own: the credit
            # memo stands; what becomes of the credit is the bookkeeper's call.
            if credit.origin is None:
                why = f"credit memo {credit.qb_name} was recorded before qbsync paid refunds out: left as is"
            else:
                why = (
                    f"credit memo {credit.qb_name} recorded; its credit is left for the bookkeeper (the "
                    f"{sale.qb_type} {sale.qb_name} was {mappings.provenance(sale)})"
                )
            return self._settled(credit, why)
        if "left" not in notes:
            return render(ctx, "CreditMemoQuery", {"TxnID": credit.qb_id}, "recheck")
        left = Decimal(str(notes["left"]))
        if credit.record_type == mappings.CANCELLATION:
            # Only this refund's money comes out of the cancellation's credit memo.
            left = min(left, money(refund.amount) - Decimal(str(notes.get("paid") or 0)))
        open_amount = Decimal(str(notes.get("open") or 0))
        if left <= 0:
            return self._settled(credit, "the refund's credit is used up")
        if sale.qb_type == "SalesOrder":
            return self._settled(
                credit, f"the order is a sales order (nothing posted): the credit memo {credit.qb_name} "
                "stays as an open credit for the customer"
            )
        memo = self._memo(ctx, refund, notes)
        order = refunded_order(ctx, refund.order_id)
        date = refund_date(ctx, refund, order)
        rate = _rate(ctx, notes, order)
        if sale.qb_type == "Invoice" and open_amount > 0:
            applied = min(open_amount, left)
            set_progress(job, applying=str(applied))
            data = credit_applied(
                notes["customer"], sale.qb_id, credit.qb_id, applied,
                f"{memo}: credit applied to invoice {sale.qb_name}", date, rate,
            )
            return render(ctx, "ReceivePaymentAdd", data, "apply")
        set_progress(job, paying=str(left))
        account = str(ctx.settings.deposit_account or "")
        ref_number = naming.ref_number(refund.storefront_id, "R")
        if ctx.settings.refund_paid_by == "check":
            data = {
                "AccountRef": {"FullName": account or UNDEPOSITED_FUNDS},
                "PayeeEntityRef": {"ListID": notes["customer"]},
                "RefNumber": ref_number,
                "TxnDate": date,
                "Memo": memo,
                "ExchangeRate": rate,
                "ApplyCheckToTxnAdd": [{"TxnID": credit.qb_id, "Amount": left}],
                "ExpenseLineAdd": [
                    {
                        "AccountRef": {"ListID": notes["ar"]}
                        if notes.get("ar")
                        else {"FullName": "Accounts Receivable"},
                        "Amount": left,
                        "CustomerRef": {"ListID": notes["customer"]},
                    }
                ],
            }
            return render(ctx, "CheckAdd", {k: v for k, v in data.items() if v is not None}, "pay_out")
        data = {
            "CustomerRef": {"ListID": notes["customer"]},
            "RefundFromAccountRef": {"FullName": account} if account else None,
            "TxnDate": date,
            "RefNumber": ref_number,
            "Memo": memo,
            "ExchangeRate": rate,
            "RefundAppliedToTxnAdd": [{"TxnID": credit.qb_id, "RefundAmount": left}],
        }
        data = {k: v for k, v in data.items() if v is not None}
        return render(ctx, "ARRefundCreditCardAdd", data, "pay_out")

    def _settled(self, credit: IdMapping, why: str) -> Finish:
        if credit.record_type == mappings.REFUND:
            credit.synced_hash = SETTLED
        return Finish(why)

    def _marker(self, ctx: Context, refund: Refund, notes: Mapping[str, Any]) -> str:
        return refund_marker(
            ctx.connection.platform, refund.storefront_id, str(notes.get("sale_ref") or refund.order_id)
        )

    def _memo(self, ctx: Context, refund: Refund, notes: dict[str, Any]) -> str:
        memo = self._marker(ctx, refund, notes)
        return f"{memo}: {refund.reason}" if refund.reason else memo

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

    # -- apply

    def _refund_id(self, job: QueueJob) -> str:
        return _refund(job).storefront_id

    def _sale_read(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        ret = found_record(response)
        if not ret:
            return None
        customer = (ret.get("CustomerRef") or {}).get("ListID")
        open_amount = ret.get("BalanceRemaining") if "BalanceRemaining" in ret else "0"
        set_progress(job, customer=customer, sale_ref=ret.get("RefNumber"), open=str(open_amount),
                     rate=ret.get("ExchangeRate"))
        return Again("read the sale's customer and what is still open on it")

    def _sale_unread(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        return Park(
            f"the order's transaction could not be read from QuickBooks ({response.status_code}): "
            f"{response.message}"
        )

    def _looking(self, ctx: Context, job: QueueJob, response: Response) -> None:
        set_progress(job, rechecking=None)

    def _existing(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        refund, notes = _refund(job), progress(job)
        refund_id = refund.storefront_id
        marker = self._marker(ctx, refund, notes)
        if notes.get(returned_stock.REFUSED):
            adjusted = returned_stock.ours(response, marker, notes.get("customer"))
            if adjusted is None:
                return None
            why = "the refund's stock adjustment was already in QuickBooks"
            return self._restocked(ctx, job, adjusted, why)
        found = found_records(response, "CreditMemoRet")
        ours = naming.first_marked(found, marker, notes.get("customer"))
        if ours is None:
            return None
        self._link(ctx, job, refund_id, ours)
        return Again("the credit memo was already in QuickBooks: linked; now its money")

    def _add_refused(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        no_money = money(_refund(job).amount) == 0
        return returned_stock.credit_refused(ctx, job, response, no_money, "credit memo")

    def _adjusted(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        if not response.record:
            return None
        return self._restocked(ctx, job, response.record, "the refund's stock came back by an inventory "
                               "adjustment (no money was refunded)")

    def _restocked(self, ctx: Context, job: QueueJob, ret: Mapping[str, Any], why: str) -> ApplyResult:
        """The adjustment that returned the refund's stock in place of a refused credit memo of no money:
        linked as the refund's record, settled (no money to pay back)."""
        refund = _refund(job)
        mappings.link_transaction(
            ctx.session, ctx.connection.id, mappings.REFUND, refund.storefront_id, "InventoryAdjustment", ret,
            origin=mappings.CREATED, synced_hash=SETTLED,
        )
        self._took_back(ctx, job)
        set_progress(job, next=None)
        return Done(why)

    def _added(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        if not response.record:
            return None
        self._link(ctx, job, self._refund_id(job), response.record)
        return Again("credit memo recorded: now the money paid back or the credit applied")

    def _lacks_item(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        return wait_for_special_items(ctx, job, response)

    def _credit_read(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        ret = found_record(response)
        if not ret:
            return None
        set_progress(
            job,
            left=str(ret.get("CreditRemaining") or "0"),
            ar=(ret.get("ARAccountRef") or {}).get("ListID"),
            rechecking=None,
        )
        return Again("read what is left of the credit")

    def _applied(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        applied = self._used(job, "applying")
        return Again(f"{applied} of the credit applied to the invoice")

    def _paid_out(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        paid = self._used(job, "paying")
        refund = _refund(job)
        refund_id, order_id = refund.storefront_id, refund.order_id
        sale = mappings.get(ctx.session, ctx.connection.id, mappings.ORDER, order_id)
        credit = (
            self._credit(ctx, refund_id, order_id, sale)
            if sale is not None
            else mappings.get(ctx.session, ctx.connection.id, mappings.REFUND, refund_id)
        )
        if credit is not None and credit.record_type == mappings.REFUND:
            credit.synced_hash = SETTLED
        return Done(f"{paid} paid back to the customer")

    STEPS = {
        "sale": Step(found=_sale_read, otherwise=_sale_unread),
        "lookup": Step(first=_looking, found=_existing, otherwise="look-up of the refund",
                       empty=returned_stock.after_look_up("add", "not in QuickBooks yet: adding it")),
        "add": Step(found=_added, on={Outcome.MISSING_REFERENCE: _lacks_item}, otherwise=_add_refused),
        "restock": Step(found=_adjusted, on={Outcome.MISSING_REFERENCE: returned_stock.lacks_account},
                        otherwise="inventory adjustment returning the refund's stock"),
        "recheck": Step(found=_credit_read, otherwise="credit memo look-up"),
        "apply": Step(found=_applied, otherwise="credit applied to the invoice"),
        "pay_out": Step(found=_paid_out, otherwise="refund paid back"),
    }
    UNKNOWN = "a refund job"

    def _used(self, job: QueueJob, pending: str) -> Decimal:
        """QuickBooks took the ``pending`` amount ('applying' to the invoice or 'paying' back): it leaves
        the credit (and, applied, what is open on the invoice); returns it."""
        notes = progress(job)
        amount = Decimal(str(notes.get(pending) or 0))
        changes = {
            "left": str(Decimal(str(notes.get("left") or 0)) - amount),
            "paid": str(Decimal(str(notes.get("paid") or 0)) + amount),
            pending: None,
        }
        if pending == "applying":
            changes["open"] = str(Decimal(str(notes.get("open") or 0)) - amount)
        set_progress(job, **changes)
        return amount

    def _link(self, ctx: Context, job: QueueJob, refund_id: str, ret: Mapping[str, Any]) -> None:
        mappings.link_transaction(
            ctx.session, ctx.connection.id, mappings.REFUND, refund_id, "CreditMemo", ret,
            origin=mappings.CREATED,  # added by qbsync, or found with its exact marker
        )
        self._took_back(ctx, job)
        set_progress(
            job,
            next=None,
            left=str(ret.get("CreditRemaining") or ret.get("TotalAmount") or "0"),
            ar=(ret.get("ARAccountRef") or {}).get("ListID"),
        )

    def _took_back(self, ctx: Context, job: QueueJob) -> None:
        """The refund's record (credit memo, or the adjustment in its place) is in QuickBooks: what it put
        back on the shelf before a store count a late sale was added back against comes off that add-back
        (stock counted once), and the order's counted stock is settled when it can no longer matter."""
        refund = _refund(job)
        refund_id = refund.storefront_id
        order = refunded_order(ctx, refund.order_id)
        back = restocked_items(ctx, refund, order)
        # A refund of unknown time is placed by the best evidence: the order's version listing it, and
        # when it reached qbsync (the refund job was queued on its arrival).
        made = refund_moment(refund.created_at, refund_id, order, job.created_at) if back else None
        if made is not None:
            number = order.number if order is not None else refund.order_id
            take_back_restocked(ctx.session, ctx.connection.id, refund.order_id, number, refund_id, back,
                                made, ctx.now)
        if order is not None:
            settle_counted(ctx.session, ctx.connection.id, refund.order_id, order, ctx.settings)

def refund_marker(platform: str, refund_id: str, sale_ref: str) -> str:
    """qbsync's mark on a refund's credit memo and money: 'WooCommerce refund 726 of order 1001'."""
    store = naming.PLATFORM_NAMES.get(platform, platform)
    return f"{store} refund {refund_id} of order {sale_ref}"


register(RefundHandler())
