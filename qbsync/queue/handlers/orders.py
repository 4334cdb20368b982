"""Orders: an order becomes one QuickBooks Invoice, SalesReceipt or SalesOrder, once, and stays up to date.

Steps: ``lookup`` (query by RefNumber, so a request whose answer was lost is never added twice) ->
``add``; later changes: ``mod`` (lines replaced, with the transaction's current EditSequence), ``requery``
after 3200, ``void`` when the order is cancelled or deleted. A 3140 (missing customer or item) queues the
job that adds it and waits for it; a change QuickBooks refuses is parked as "changed after sync".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from qbsync.qbxml.parse import Response
from qbsync.qbxml.status import Outcome
from qbsync.queue import company_facts, intake, jobs, lists, mappings, naming, rules, sales_tax, tax_codes
from qbsync.queue.handlers import (
    DEPENDENCIES_QUEUED,
    Again,
    ApplyResult,
    BuildResult,
    Context,
    Defer,
    Done,
    Finish,
    Needed,
    Park,
    Reject,
    Wait,
    corrective_step_due,
    note,
    order_plan,
    progress,
    record_of,
    refused,
    register,
    render,
    reset_progress,
    set_progress,
    zero_refusals,
)
from qbsync.queue.handlers.answers import found_records, missing_reference
from qbsync.queue.handlers.cancellations import CANCELLATION, REVERSED, VOIDED
from qbsync.queue.handlers.customers import changed_customers_first
from qbsync.queue.handlers.items import SPECIAL_ITEMS, special_name
from qbsync.queue.handlers.order_lines import line_key, ref_number
from qbsync.queue.handlers.steps import STALE, Step, StepHandler, go
from qbsync.queue.inventory import add_back_late_sales, holds_only
from qbsync.queue.settings import SyncSettings
from qbsync.storage.models import IdMapping, QbListEntry, QueueJob
from qbsync.storefronts.records import LastKnownOrder, Order

MODDABLE = ("Invoice", "SalesReceipt", "SalesOrder")
MAX_WAITS = 3  # a reference QuickBooks still lacks after this many re-adds needs a person


def order_of(job: QueueJob) -> Order:
    """The order the job carries, as its record (read from its JSON once, see ``record_of``)."""
    return record_of(job, Order)


def last_known(job: QueueJob) -> LastKnownOrder:
    """The order as far as the job's payload tells it (a deleted order's payload is only what was last
    stored of it): for the cancellation and the stock add-back. A whole order's is taken from the order
    read already (``order_of``), not read from its JSON a second time."""
    if job.payload.get("event") != "deleted":
        try:
            derived = LastKnownOrder.of(order_of(job), job.payload.get("record") or {})
        except ValueError:
            derived = None  # not a whole order: read as far as it goes
        if derived is not None:
            return derived
    return record_of(job, LastKnownOrder)


def with_input_notes(note: str | None, order: Order) -> str | None:
    """``note`` followed by what normalizing cleaned in the order's text (so the job says so), if anything."""
    if not order.input_notes:
        return note
    said = "shopper input cleaned: " + "; ".join(order.input_notes)
    return f"{note}; {said}" if note else said


def order_id(job: QueueJob) -> str:
    """The storefront id of the job's order."""
    return str(job.record_id or last_known(job).storefront_id or job.payload.get("order_id"))


def customer_choice(ctx: Context, job: QueueJob, order: Order) -> rules.CustomerChoice:
    """Whose QuickBooks customer the order's new sale goes to: decided when the job first plans it
    (``intake.choose_customer``) and kept in its progress notes, so a settings change meanwhile does not
    move it; once the sale is added, its link (``mappings.SALE_CUSTOMER``) says it."""
    kept = rules.CustomerChoice.from_dict(progress(job).get("customer"))
    if kept is not None:
        return kept
    choice = intake.choose_customer(ctx.session, ctx.connection, ctx.settings, order, link=True)
    set_progress(job, customer=choice.to_dict())
    return choice


def _chosen_now(ctx: Context, job: QueueJob, order: Order,
                found: tuple[rules.CustomerChoice, QbListEntry | None]) -> rules.CustomerChoice:
    """:func:`customer_choice` for an order whose choice ``intake.customer_found`` just answered: kept,
    and the pulled customer found by the guest's e-mail linked, without choosing a second time."""
    choice, entry = found
    if entry is not None:
        intake.link_found(ctx.session, ctx.connection, choice, entry)
    set_progress(job, customer=choice.to_dict())
    return choice


def today_customer_key(ctx: Context, order: Order) -> str:
    """The customer link today's settings give the order without looking anything up (the proxy, or
    the buyer's own): what a sale linked before its customer was kept with it was most likely booked to
    (see ``OrderHandler._update``)."""
    currency = company_facts.foreign_currency(order.currency, facts(ctx))
    customer = order.customer
    if rules.customer_is_proxied(customer, ctx.settings):
        return company_facts.keyed(mappings.proxy_key(str(ctx.settings.proxy_customer)), currency)
    return company_facts.keyed(mappings.customer_key(customer), currency)


def marker_of(ctx: Context, order: Order) -> str:
    """qbsync's marker on the order's transaction (see :func:`naming.order_marker`)."""
    return naming.order_marker(ctx.connection.platform, order.number, order.storefront_id)


def fingerprint(data: Mapping[str, Any]) -> str:
    """What the transaction holds, hashed: equal means QuickBooks already has it."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def proof_of(data: Mapping[str, Any], marker: str) -> dict[str, str]:
    """What a transaction found in QuickBooks must show to be this order's: qbsync's marker in its memo,
    the order's customer and its lines' total (QuickBooks' Subtotal)."""
    lines = data.get("lines") or ()
    return {
        "marker": marker,
        "customer": str((data.get("CustomerRef") or {}).get("ListID") or ""),
        "subtotal": str(sum((Decimal(str(line.get("Amount") or 0)) for line in lines), Decimal(0))),
    }


def is_ours(ret: Mapping[str, Any], proof: Mapping[str, str]) -> bool:
    """Whether a transaction QuickBooks returned is proved to be the order's (see :func:`proof_of`).

    A transaction with the same RefNumber but without the exact marker, or for another customer, or
    for another amount is someone else's (a hand-entered sale): it is never linked, changed or voided.
    """
    if not proof.get("marker") or not naming.memo_marks(str(ret.get("Memo") or ""), proof["marker"]):
        return False
    if (ret.get("CustomerRef") or {}).get("ListID") != proof.get("customer"):
        return False
    try:
        return Decimal(str(ret.get("Subtotal"))) == Decimal(proof.get("subtotal") or "x")
    except ArithmeticError:
        return False


def facts(ctx: Context) -> company_facts.CompanyFacts:
    """What the company told about itself."""
    return company_facts.read(ctx.session, ctx.connection.id)


def country_tax(ctx: Context) -> tax_codes.CountryTax:
    """A Canadian or UK company's sales tax codes and their rates, from the pulled lists (read once per
    round trip); its orders and their refunds take their line codes from it."""
    if "country_tax" in ctx.cache:
        return ctx.cache["country_tax"]
    session, conn_id = ctx.session, ctx.connection.id
    rates = {
        entry.full_name.lower(): (entry.data or {}).get("TaxRate")
        for entry in lists.entries(session, conn_id, "Item")
        if (entry.data or {}).get("type") == "ItemSalesTax"
    }
    codes = [
        {"Name": entry.full_name, **(entry.data or {})}
        for entry in lists.entries(session, conn_id, "SalesTaxCode")
    ]
    found = tax_codes.country_tax(codes, rates, str(ctx.settings.non_taxable_code))
    if found is None:
        raise KeyError("the company's sales tax codes are not known yet (its lists are being read)")
    ctx.cache["country_tax"] = found
    return found


def codes_pending(ctx: Context) -> Defer | None:
    """Canada/UK: wait for the sales tax codes and items to be read (their rates decide each line of an
    order, and of its refunds)."""
    if facts(ctx).is_us:
        return None
    session, conn_id = ctx.session, ctx.connection.id
    if all(lists.last_refreshed(session, conn_id, name) for name in ("SalesTaxCode", "Item")):
        return None
    waiting = [
        jobs.find_open(session, conn_id, lists.refresh_key(name), include_in_flight=True)
        for name in ("SalesTaxCode", "Item")
    ]
    found = [job for job in waiting if job is not None]
    why = "waiting for the company's sales tax codes to be read"
    if not found:
        return Defer(why, queue=Needed(lists=("SalesTaxCode", "Item")))  # the exchange queues them
    return Defer(why, tuple(j.id for j in found))


def special_names(order: Order, settings: SyncSettings,
                  cache: dict[str, Any] | None = None) -> dict[str, str]:
    """role -> QuickBooks name of every special item the order may use (its sales tax items included).

    ``cache``: the round trip's (``Context.cache``), where the names every order shares, which the
    settings alone give, are worked out once.
    """
    common = cache.get(_COMMON_SPECIALS) if cache is not None else None
    if common is None:
        common = {role: special_name(role, settings) for role in SPECIAL_ITEMS}
        common[sales_tax.ZERO_ROLE] = sales_tax.zero_item(settings).name
        if cache is not None:
            cache[_COMMON_SPECIALS] = common
    names = dict(common)
    names.update((item.role, item.name) for item, _ in sales_tax.order_tax_items(order))
    return names


# Context.cache: the special items' names from the settings; the special items' references (role -> ItemRef),
# by (the order's roles and names, lists.generation, mappings.generation); whether the pulled list lacks a
# payment method, by name.
_COMMON_SPECIALS = "orders.common_special_names"
_SPECIALS = "orders.specials"
_METHODS_LACKING = "orders.payment_methods_lacking"


class OrderHandler(StepHandler):
    """Queue jobs of kind ``order``: payload ``{"record": Order dict, "event": ...}``."""

    kind = "order"

    def prepare(self, ctx: Context, jobs: list[QueueJob]) -> None:
        # The roles of special_names: every order's special items and 0 % tax item once, then its tax items.
        session, conn_id = ctx.session, ctx.connection.id
        # The orders' own links first: only a linked order's build reads whose its sale is (``_update``),
        # so the sale customers of the others, most of a round trip's, are not asked for.
        mappings.preload(session, conn_id, [(mappings.ORDER, order_id(job)) for job in jobs])
        keys: list[tuple[str, str]] = [(mappings.SPECIAL_ITEM, role)
                                       for role in (*SPECIAL_ITEMS, sales_tax.ZERO_ROLE)]
        chosen_later: list[tuple[Order, str]] = []  # orders whose customer is to be chosen, own key
        for job in jobs:
            if job.payload.get("event") == "deleted":
                continue  # only what was last known of it: voided by its link
            order = order_of(job)
            keys.extend((mappings.SPECIAL_ITEM, item.role) for item, _ in sales_tax.order_tax_items(order))
            if mappings.get(session, conn_id, mappings.ORDER, order_id(job)) is not None:
                keys.append((mappings.SALE_CUSTOMER, order_id(job)))
            kept = rules.CustomerChoice.from_dict(note(job, "customer"))
            if kept is not None:
                keys.append((mappings.CUSTOMER, kept.key))
            else:  # to be chosen: the buyer's own link (a guest's found by e-mail), else the proxy's
                own = intake.own_customer_key(ctx.session, ctx.connection, order)
                chosen_later.append((order, own))
                keys.append((mappings.CUSTOMER, own))
                keys.append((mappings.CUSTOMER, today_customer_key(ctx, order)))
            keys.extend((mappings.PRODUCT, line_key(line)) for line in order.lines)
        mappings.preload(session, conn_id, keys)
        # The pulled customers with the e-mails of the guests whose customer is still to be chosen (and
        # whose own is not linked): choose_customer looks them up, one query for the round trip.
        connection, settings = ctx.connection, ctx.settings
        emails = [
            order.customer.email for order, own in chosen_later
            if rules.customer_is_proxied(order.customer, settings)
            and intake.may_match_by_email(session, connection, settings, order)
            and mappings.get(session, connection.id, mappings.CUSTOMER, own) is None
        ]
        if emails:
            lists.preload_customers(session, connection.id, emails=emails)

    def prepare_answers(self, ctx: Context, jobs: list[QueueJob]) -> None:
        """Before answers are applied: the orders' own links, their sales' customers (kept when a sale is
        added or changed) and their products' (an added sale's stock reads them). The customer's and
        special items' are read only on a rare 3140, or when a look-up found a transaction with the
        order's number (its proof is worked out then), one by one, and so are that order's products: a
        look-up's answer does not read the order itself when nothing is found, the usual case."""
        keys: list[tuple[str, str]] = []
        for job in jobs:
            if job.step == "lookup" and not note(job, "cancelling"):
                # Its answer reads the order's link only when it found the order's sale (rare): then
                # it links it, and its sale's customer, one by one.
                continue
            keys.append((mappings.ORDER, order_id(job)))
            if job.step == "lookup":
                continue  # (a cancellation's look-up of its credit memo: the sale's link only)
            keys.append((mappings.SALE_CUSTOMER, order_id(job)))
            if job.payload.get("event") != "deleted":
                keys.extend((mappings.PRODUCT, line_key(line)) for line in order_of(job).lines)
        mappings.preload(ctx.session, ctx.connection.id, keys)

    # -- build

    def build(self, ctx: Context, job: QueueJob) -> BuildResult:
        mapping = mappings.get(ctx.session, ctx.connection.id, mappings.ORDER, order_id(job))
        if job.payload.get("event") == "deleted":
            return CANCELLATION.build(ctx, job, last_known(job), mapping)
        order = order_of(job)
        if order.status == "cancelled":
            return CANCELLATION.build(ctx, job, last_known(job), mapping)
        if mapping is not None:
            return self._update(ctx, job, order, mapping)
        notes = progress(job)
        # Whether the order is booked at all comes first: an order that will not be sends nothing, not even
        # a read of the customers a guest's may be among.
        admitted = order_plan.admit(
            order, facts(ctx), ctx.settings,
            decision=rules.decision_of(job.payload),  # decided once, at intake (None: decided here)
            txn_type=notes.get("type"),
        )
        if admitted.skip:
            return Finish(f"not synced: {admitted.skip}")
        if admitted.problem:
            return Reject(admitted.problem)
        txn_type = admitted.txn_type
        assert txn_type is not None  # admitted
        if order_plan.zero_sale(order):
            refused_before = zero_refusals.refusal(ctx, txn_type)
            if refused_before is not None:  # this company file takes no such sale: it is not asked again
                return Reject(order_plan.zero_sale_refused(order, txn_type, refused_before))
        kept = rules.CustomerChoice.from_dict(notes.get("customer"))
        found = None
        if kept is None:
            with ctx.session.no_autoflush:
                # Its first choice reads the company's facts and customer list (once per round trip): what
                # the jobs built before it changed (their notes) is written once, at commit, not flushed
                # first. Chosen once: whether to read the changed customers first asks the same question.
                found = intake.customer_found(ctx.session, ctx.connection, ctx.settings, order)
        # A guest's customer may be new in QuickBooks.
        behind = changed_customers_first(ctx, job, order, found[0] if found is not None else None)
        if behind is not None:
            return behind
        if found is not None:
            with ctx.session.no_autoflush:  # as above
                kept = _chosen_now(ctx, job, order, found)
        choice = kept
        assert choice is not None  # kept, or chosen now
        customer = self._customer(ctx, choice.key)
        links = self._links(ctx, order, customer)
        missing = order_plan.needs(order, links, ctx.settings)  # asked once: the rest of the build reads it
        waiting = self._dependencies(ctx, job, order, missing, choice)
        waiting = waiting or self._rate_pending(ctx) or codes_pending(ctx)
        if waiting:
            return waiting
        if missing:
            raise KeyError(missing[0])
        if not links.facts.is_us:
            country_tax(ctx)  # KeyError while the codes are unknown, as the plan says (before any step)
        step = notes.get("next")
        if corrective_step_due(ctx, job) or (job.needs_lookup and step == "add"):
            # An add whose answer was lost may have happened: look before adding again.
            step = "lookup"
        if step is None:
            step = "lookup" if ctx.settings.lookup_before_add == "always" or job.needs_lookup else "add"
        if step == "lookup":
            # Only the number is asked for: the transaction is worked out for the add, or, when the
            # look-up finds one with this number, to prove it is the order's (``_existing``).
            set_progress(job, type=txn_type)
            return render(ctx, f"{txn_type}Query", {"RefNumber": ref_number(order, ctx.settings)}, "lookup")
        planned = self._transaction(ctx, job, order, self._company(ctx, order, customer, links, ()), txn_type)
        if planned.problem:
            return Reject(planned.problem)
        if planned.needs or planned.data is None:
            raise KeyError(planned.needs[0] if planned.needs else "the order has no transaction to send")
        data = dict(planned.data)
        set_progress(
            job,
            type=txn_type,
            hash=fingerprint(data),
            method_missing=planned.method_missing or notes.get("method_missing"),
        )
        lines = data.pop("lines")
        return render(ctx, f"{txn_type}Add", {**data, f"{txn_type}LineAdd": lines}, "add")

    def _transaction(
        self, ctx: Context, job: QueueJob, order: Order, company: order_plan.Company, txn_type: str
    ) -> order_plan.Plan:
        """The order's new ``txn_type`` transaction in ``company``, as its add sends it."""
        omit = bool(progress(job).get("omit_payment_method"))
        return order_plan.transaction(order, company, ctx.settings, txn_type, omit)

    def _dependencies(
        self,
        ctx: Context,
        job: QueueJob,
        order: Order,
        missing: tuple[str, ...],
        customer: rules.CustomerChoice | None,
    ) -> Defer | None:
        """Wait for the customer (the one chosen; None: the sale's, known) and items the order needs
        (``missing``: what ``order_plan.needs`` answers for its links): the exchange queues their jobs when
        nobody has (build never queues), and builds again when none was needed."""
        if job.id in ctx.cache.get(DEPENDENCIES_QUEUED, ()):
            return None  # the exchange found nothing to queue for it
        if not missing:
            return None
        return Defer("waiting for the order's customer and items to reach QuickBooks",
                     queue=Needed(order=order, customer=customer))

    def _customer(self, ctx: Context, key: str) -> str | None:
        """The ListID of the customer linked under ``key``, or None."""
        mapping = mappings.get(ctx.session, ctx.connection.id, mappings.CUSTOMER, key)
        return mapping.qb_id if mapping is not None else None

    def _links(self, ctx: Context, order: Order, customer: str | None) -> order_plan.Company:
        """The links the order's transaction refers to (its customer's ListID ``customer``, None while it is
        not linked, and its products'), with the company's facts: what says whether the order waits."""
        session, conn_id = ctx.session, ctx.connection.id
        items = {}
        for line in order.lines:
            if rules.is_gift_card_sale(line, ctx.settings):
                continue  # on the gift card item
            key = line_key(line)
            mapping = mappings.get(session, conn_id, mappings.PRODUCT, key)
            if mapping is not None:
                items[key] = {"ListID": mapping.qb_id}
        return order_plan.Company(
            customer={"ListID": customer} if customer is not None else None,
            items=items,
            facts=facts(ctx),
            platform=ctx.connection.platform,
        )

    def _company(
        self, ctx: Context, order: Order, customer: str | None, links: order_plan.Company | None = None,
        missing: tuple[str, ...] | None = None,
    ) -> order_plan.Company:
        """What qbsync knows of the QuickBooks company the order goes to (its links and pulled lists);
        ``customer``: the ListID of the sale's customer, None while it is not linked; ``links``: what
        :meth:`_links` read for them already, and ``missing`` what ``order_plan.needs`` answered for them.

        While the order's customer or products are not linked the rest is not read: the plan only says
        what it waits for.
        """
        session, conn_id = ctx.session, ctx.connection.id
        links = links or self._links(ctx, order, customer)
        if missing is None:
            missing = order_plan.needs(order, links, ctx.settings)
        if missing:
            return links
        # The same for every order of the round trip with the same special items while the links and lists
        # stay as they are: worked out once per set of names (a link or list entry made, changed or dropped
        # meanwhile makes another key).
        names = tuple(special_names(order, ctx.settings, ctx.cache).items())
        worked_out: dict[tuple[Any, ...], dict[str, tuple[str, str]]] = ctx.cache.setdefault(_SPECIALS, {})
        key = (names, lists.generation(session), mappings.generation(session))
        refs = worked_out.get(key)
        if refs is None:
            special = mappings.SPECIAL_ITEM
            refs = worked_out[key] = {
                role: self._special_ref(ctx, name, mappings.get(session, conn_id, special, role))
                for role, name in names
            }
        specials = {role: {element: value} for role, (element, value) in refs.items()}  # each order's own
        country = None
        if not links.facts.is_us:
            try:
                country = country_tax(ctx)
            except KeyError:
                country = None  # not read yet: the order waits for the lists, or says so
        lacking: frozenset[str] = frozenset()
        method = rules.payment_method_name(order, ctx.settings)
        if method:
            known: dict[tuple[str, int], bool] = ctx.cache.setdefault(_METHODS_LACKING, {})
            asked = (method, lists.generation(session))
            if asked not in known:
                known[asked] = (lists.has_list(session, conn_id, "PaymentMethod")
                                and lists.by_name(session, conn_id, "PaymentMethod", method) is None)
            if known[asked]:
                lacking = frozenset({method.strip().lower()})  # the pulled list proves QuickBooks lacks it
        return replace(
            links, specials=specials, lacks_payment_methods=lacking, country_tax=country,
            quickbooks_rate=self._quickbooks_rate(ctx),
        )

    def _special_ref(self, ctx: Context, name: str, mapping: IdMapping | None) -> tuple[str, str]:
        """How the order's transaction names the special item ``name`` (linked as ``mapping``): (element,
        value) of its reference."""
        if mapping is not None and (mapping.qb_name or "").lower() == name.lower():
            return ("ListID", mapping.qb_id)
        # Known from the item list (kept current as qbsync adds items): by ListID, as once linked, so the
        # transaction's fingerprint does not change when the link is made.
        entry = lists.by_name(ctx.session, ctx.connection.id, "Item", name)
        return ("ListID", entry.list_id) if entry is not None else ("FullName", name)

    def _rate_pending(self, ctx: Context) -> Defer | None:
        """Wait for the item list being pulled when it will tell the rate QuickBooks computes tax with."""
        name = ctx.settings.quickbooks_tax_item
        if ctx.settings.tax_mode != "quickbooks" or not name or self._quickbooks_rate(ctx) is not None:
            return None
        refresh = jobs.find_open(
            ctx.session, ctx.connection.id, lists.refresh_key("Item"), include_in_flight=True
        )
        if refresh is None:
            return None  # not pulled: QuickBooks computes its tax, without a rounding line
        why = f"waiting for the item list, to learn the rate of the sales tax item {name!r}"
        return Defer(why, (refresh.id,))

    def _quickbooks_rate(self, ctx: Context) -> Decimal | None:
        """The rate of the sales tax item QuickBooks computes tax with (tax_mode 'quickbooks'), from the
        pulled item list; None when unknown."""
        name = ctx.settings.quickbooks_tax_item
        if ctx.settings.tax_mode != "quickbooks" or not name:
            return None
        entry = lists.by_name(ctx.session, ctx.connection.id, "Item", name)
        rate = (entry.data or {}).get("TaxRate") if entry is not None else None
        return Decimal(str(rate)) if rate not in (None, "") else None

    def _update(self, ctx: Context, job: QueueJob, order: Order, mapping: IdMapping) -> BuildResult:
        if mapping.synced_hash == VOIDED:
            return Finish(f"the {mapping.qb_type} {mapping.qb_name} was voided; later changes are not sent")
        if mapping.synced_hash == REVERSED:
            return Finish(
                f"the order was cancelled and its {mapping.qb_type} {mapping.qb_name} reversed by a credit "
                "memo; later changes are not sent"
            )
        # The sale keeps the customer it was booked to, whatever the customer settings say today.
        sale_customer = mappings.get(ctx.session, ctx.connection.id, mappings.SALE_CUSTOMER, order_id(job))
        known = sale_customer is not None
        customer = sale_customer.qb_id if sale_customer is not None else self._customer(
            ctx, today_customer_key(ctx, order))
        links = self._links(ctx, order, customer)
        missing = order_plan.needs(order, links, ctx.settings)
        company = self._company(ctx, order, customer, links, missing)
        waiting = None if customer is None else self._dependencies(ctx, job, order, missing, None)
        if waiting:
            return waiting
        notes = progress(job)
        planned = order_plan.transaction(
            order, company, ctx.settings, mapping.qb_type, bool(notes.get("omit_payment_method"))
        )
        if planned.problem:
            return Reject(planned.problem)
        wanted = fingerprint(planned.data) if planned.data is not None else None
        if wanted is not None and wanted == mapping.synced_hash:
            return Finish(f"already in QuickBooks as {mapping.qb_type} {mapping.qb_name}")
        unchangeable = self._unchangeable(ctx, mapping)
        if unchangeable is not None and wanted is not None:
            return unchangeable
        if not known:
            # Linked before its customer was kept with it: read whose the sale is (once) before changing it.
            return render(ctx, f"{mapping.qb_type}Query", {"TxnID": mapping.qb_id}, "requery")
        if planned.needs or planned.data is None or wanted is None:
            raise KeyError(planned.needs[0] if planned.needs else "the order has no transaction to send")
        if unchangeable is not None:
            return unchangeable
        data = dict(planned.data)
        set_progress(job, type=mapping.qb_type, hash=wanted)
        if notes.get("next") == "requery" or corrective_step_due(ctx, job) or not mapping.edit_sequence:
            return render(ctx, f"{mapping.qb_type}Query", {"TxnID": mapping.qb_id}, "requery")
        lines = [{"TxnLineID": "-1", **line} for line in data.pop("lines")]
        mod = {
            "TxnID": mapping.qb_id,
            "EditSequence": mapping.edit_sequence,
            **data,
            f"{mapping.qb_type}LineMod": lines,
        }
        return render(ctx, f"{mapping.qb_type}Mod", mod, "mod")

    def _unchangeable(self, ctx: Context, mapping: IdMapping) -> Reject | None:
        """Why the order's changes are not sent to its linked sale ("changed after sync"), or None."""
        if mapping.qb_type not in MODDABLE:
            return changed_after_sync(mapping, f"QuickBooks cannot change a {mapping.qb_type} through qbsync")
        if not mappings.may_change(mapping):
            return changed_after_sync(mapping, not_ours(mapping, "change it"))
        if not ctx.settings.sync_order_edits:
            return changed_after_sync(mapping, "sync_order_edits is off")
        return None

    # -- apply

    def _missing(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        """3140: bring what QuickBooks lacks into it (customer, item) and wait for that, or explain."""
        missing = missing_reference(response)
        if missing is None:
            return refused(response, "order")
        word, value = missing.kind, missing.name
        waits = int(progress(job).get("waits") or 0)
        if waits >= MAX_WAITS:
            return Park(
                f"QuickBooks still lacks the {word} {value!r} after qbsync added it {waits} times: "
                f"{response.message}"
            )
        set_progress(job, waits=waits + 1)
        session, conn_id, order = ctx.session, ctx.connection.id, order_of(job)
        if word == "PaymentMethod":
            set_progress(job, omit_payment_method=True, method_missing=value, next="add")
            return Again(f"the payment method {value!r} is not in QuickBooks: recording the sale without it")
        if word in ("Customer", "Entity"):
            choice = customer_choice(ctx, job, order)
            mapping = mappings.get(session, conn_id, mappings.CUSTOMER, choice.key)
            if mapping is not None and mapping.manual:
                return Park(
                    f"the customer linked by hand ({mapping.qb_name!r}) is not in QuickBooks any more"
                )
            if mapping is not None:
                mappings.forget(session, mapping)
                lists.forget_entry(session, conn_id, "Customer", mapping.qb_id)
            if choice.by_email:
                # The customer the guest's e-mail named is gone: choose again by the same rules (the proxy
                # customer, unless another customer has the e-mail); a guest's own customer is never added.
                set_progress(job, customer=None)
                choice = customer_choice(ctx, job, order)
            needed = intake.customer_job_for_order(session, ctx.connection, ctx.settings, order, choice)
            set_progress(job, next="add")
            return Wait(
                f"the customer {value!r} is missing in QuickBooks: adding it first",
                (needed.id,) if needed is not None else (),
            )
        if word == "Item":
            wanted = value.strip().lower()
            lists.forget_named(session, conn_id, "Item", value)
            for line in order.lines:
                mapping = mappings.get(session, conn_id, mappings.PRODUCT, line_key(line))
                if (
                    mapping is not None
                    and not mapping.manual
                    and wanted in (mapping.qb_id.lower(), (mapping.qb_name or "").lower())
                ):
                    mappings.forget(session, mapping)
                    lists.forget_entry(session, conn_id, "Item", mapping.qb_id)
            roles = []
            for role, name in special_names(order, ctx.settings).items():
                mapping = mappings.get(session, conn_id, mappings.SPECIAL_ITEM, role)
                if name.lower() == wanted or (
                    mapping is not None and mapping.qb_id.lower() == wanted
                ):
                    roles.append(role)
                    if mapping is not None:
                        mappings.forget(session, mapping)
                        lists.forget_entry(session, conn_id, "Item", mapping.qb_id)
            added = intake.item_jobs_for_order(session, ctx.connection, ctx.settings, order)
            added += intake.special_item_jobs(session, ctx.connection, ctx.settings, roles, order)
            if not added:
                return Park(
                    f"QuickBooks lacks the item {value!r} and no product of this order maps to it: "
                    f"{response.message}"
                )
            set_progress(job, next="add")
            return Wait(
                f"the item {value!r} is missing in QuickBooks: adding it first", tuple(j.id for j in added)
            )
        return Park(
            f"QuickBooks has no {word} {value!r}, which this order needs: create it in QuickBooks or "
            "change the matching sync setting, then retry the job"
        )

    def apply(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        """What QuickBooks' answer means (by :attr:`STEPS`; a cancellation has steps of its own)."""
        # The order's link is read only for a cancellation's steps: an order's look-up answer needs none.
        if note(job, "cancelling") and job.step != "void" and self._mapping(ctx, job) is not None:
            return CANCELLATION.apply(ctx, job, response)
        return super().apply(ctx, job, response)

    def _existing(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        """Transactions with the order's number: link the one proved the order's; leave others alone."""
        txn_type = progress(job).get("type") or "Invoice"
        found = found_records(response, f"{txn_type}Ret")
        if not found:
            return None
        # What the order's add would send now: the proof is read off it (worked out only here, when a
        # transaction has the number, not for every look-up).
        order = order_of(job)
        try:
            company = self._company(ctx, order, self._customer(ctx, customer_choice(ctx, job, order).key))
            planned = self._transaction(ctx, job, order, company, txn_type)
        except (ValueError, KeyError, TypeError) as exc:
            # Its add cannot be built either: building it says why, and parks it; nothing is added.
            set_progress(job, next="add")
            return Again(f"{len(found)} {txn_type} with this number in QuickBooks, left alone: the order's "
                         f"own transaction cannot be worked out ({exc})")
        sent = planned.data
        if sent is None:
            # A link it needs went meanwhile: it waits for it, then looks again before any add.
            set_progress(job, next="lookup")
            return Again(f"{len(found)} {txn_type} with this number in QuickBooks, left alone until the "
                         f"order can be proved to be one of them: {'; '.join(planned.needs)}")
        proof = proof_of(sent, marker_of(ctx, order))
        ours = next((ret for ret in found if is_ours(ret, proof)), None)
        if ours is not None:
            set_progress(job, hash=fingerprint(sent))  # the link's synced version
            self._link(ctx, job, txn_type, ours)
            return Done(f"already in QuickBooks: linked to {txn_type} {ours.get('RefNumber')}")
        # QuickBooks takes a second transaction with the same RefNumber (its duplicate-number warning is a
        # preference of its own windows); qbsync's marker in the memo tells them apart.
        set_progress(job, next="add")
        return Again(
            f"{len(found)} {txn_type} with this number in QuickBooks not made by qbsync for this "
            "order (no qbsync marker, or another customer or amount): left alone, adding the order"
        )

    def _added(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        if not response.record:
            return None
        self._link(ctx, job, note(job, "type") or "Invoice", response.record)
        missing = note(job, "method_missing")
        said = None
        if missing:
            said = (f"recorded without a payment method: {missing!r} is not in QuickBooks (add it "
                    "there or map the store's method in payment_method_map)")
        return Done(with_input_notes(said, order_of(job)))

    def _unlinked(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        if self._mapping(ctx, job) is None:
            reset_progress(job)
            return Again("the order's link was removed meanwhile")
        return None

    def _voided(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        mapping = self._linked(ctx, job)
        held_as, mapping.synced_hash = mapping.synced_hash, VOIDED
        self._add_back(ctx, job, None, held_as=held_as)
        return Done(f"{mapping.qb_type} {mapping.qb_name} voided")

    def _void_gone(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        mapping = self._linked(ctx, job)
        mappings.forget(ctx.session, mapping)
        return Done(f"the {mapping.qb_type} {mapping.qb_name} is no longer in QuickBooks")

    def _reread(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        mapping = self._linked(ctx, job)
        found = found_records(response, f"{mapping.qb_type}Ret")
        if not found:
            return None
        mapping.edit_sequence = str(found[0].get("EditSequence") or "") or None
        # Whose the sale is, for a sale linked before its customer was kept with it.
        mappings.link_sale_customer(ctx.session, ctx.connection.id, order_id(job), found[0])
        set_progress(job, next=None)
        return Again("read the transaction's current EditSequence")

    def _changed(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        mapping = self._linked(ctx, job)
        ret = response.record or {}
        mapping.edit_sequence = str(ret.get("EditSequence") or mapping.edit_sequence)
        held_as, mapping.synced_hash = mapping.synced_hash, progress(job).get("hash")
        mappings.link_sale_customer(ctx.session, ctx.connection.id, order_id(job), ret)
        self._add_back(ctx, job, mapping.qb_type, held_as=held_as)
        return Done(f"{mapping.qb_type} {mapping.qb_name} updated")

    def _change_refused(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        mapping = self._linked(ctx, job)
        return Park(
            f"changed after sync: QuickBooks could not take the change to {mapping.qb_type} "
            f"{mapping.qb_name} ({response.status_code}): {response.message} Change it in "
            "QuickBooks by hand, then remove or retry this job"
        )

    def _add_refused(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        """The add refused: parked with QuickBooks' words; a sale of 0.00 with the likely cause and fix, and
        the refusal remembered for the company file (``zero_refusals``)."""
        plain = refused(response, "order")
        txn_type = progress(job).get("type") or "sale"
        zero = order_plan.zero_sale_refused(order_of(job), txn_type, plain.reason)
        if not zero:
            return plain
        zero_refusals.remember(ctx, txn_type, response)  # the next sale of 0.00 waits without being sent
        return Park(zero)

    def _gone_now(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        return self._gone(ctx, job, self._linked(ctx, job))

    STEPS = {
        "lookup": Step(found=_existing, empty=go("add", "not in QuickBooks yet: adding it"),
                       otherwise="order look-up"),
        "add": Step(found=_added, on={Outcome.MISSING_REFERENCE: _missing}, otherwise=_add_refused),
        "void": Step(first=_unlinked, found=_voided, on={Outcome.NOT_FOUND: _void_gone}, otherwise="void"),
        "requery": Step(first=_unlinked, found=_reread, empty=_gone_now,
                        on={Outcome.NOT_FOUND: _gone_now}, otherwise="transaction look-up"),
        "mod": Step(first=_unlinked, found=_changed,
                    on={Outcome.STALE_EDIT_SEQUENCE: go("requery", STALE), Outcome.NOT_FOUND: _gone_now,
                        Outcome.MISSING_REFERENCE: _missing},
                    otherwise=_change_refused),
    }
    UNKNOWN = "an order job"

    # -- helpers

    def _mapping(self, ctx: Context, job: QueueJob) -> IdMapping | None:
        return mappings.get(ctx.session, ctx.connection.id, mappings.ORDER, order_id(job))

    def _linked(self, ctx: Context, job: QueueJob) -> IdMapping:
        """The order's mapping, for the steps after it was linked (checked first: ``_unlinked``)."""
        mapping = self._mapping(ctx, job)
        if mapping is None:
            raise LookupError(f"order {order_id(job)} is not linked to a QuickBooks transaction")
        return mapping

    def _link(self, ctx: Context, job: QueueJob, txn_type: str, ret: Mapping[str, Any]) -> None:
        mappings.link_transaction(
            ctx.session, ctx.connection.id, mappings.ORDER, order_id(job), txn_type, ret,
            synced_hash=note(job, "hash"),
            origin=mappings.CREATED,  # added by qbsync, or found carrying qbsync's exact marker
        )
        # Its edits and its payment go to this customer, even if the customer settings change meanwhile.
        mappings.link_sale_customer(ctx.session, ctx.connection.id, order_id(job), ret)
        # A sale added again after it was deleted in QuickBooks is no late sale: it follows its add-back.
        self._add_back(ctx, job, txn_type, added=not note(job, "again"))

    def _add_back(
        self, ctx: Context, job: QueueJob, txn_type: str | None, added: bool = False,
        held_as: str | None = None,
    ) -> None:
        """A sale the store's count QuickBooks took already lacked comes back, and follows the order
        (stock counted once): after the order's transaction is added, changed or voided (None);
        ``held_as``: the fingerprint of the version the sale held before."""
        session, conn_id, key = ctx.session, ctx.connection.id, order_id(job)
        if added and job.payload.get("event") != "deleted":
            # Most sales sell nothing a store count has: answered from the order read already, without
            # working out what was last known of it (which says the same of its lines and status).
            try:
                order = order_of(job)
            except ValueError:
                order = None  # not a whole order: as last known
            if order is not None and holds_only(session, conn_id, key, order, txn_type, ctx.settings):
                return
        add_back_late_sales(session, conn_id, key, last_known(job), txn_type, ctx.settings, ctx.now, added,
                            held_as)

    def _gone(self, ctx: Context, job: QueueJob, mapping: IdMapping) -> ApplyResult:
        if mapping.manual:
            return Park(f"the {mapping.qb_type} {mapping.qb_name} linked by hand is no longer in QuickBooks")
        mappings.forget(ctx.session, mapping)
        reset_progress(job)
        set_progress(job, again=True)
        return Again(f"the {mapping.qb_type} {mapping.qb_name} was deleted in QuickBooks: adding it again")


def not_ours(mapping: IdMapping, what: str) -> str:
    """Why qbsync will not ``what`` (void it, change it) the mapping's transaction."""
    return (
        f"the {mapping.qb_type} {mapping.qb_name} was {mappings.provenance(mapping)}, so qbsync does not "
        f"{what}; do it in QuickBooks by hand"
    )


def changed_after_sync(mapping: IdMapping, why: str) -> Reject:
    """The 'changed after sync' flag: the order changed but QuickBooks keeps the synced version."""
    return Reject(
        f"changed after sync: the order changed in the store but {why}; the {mapping.qb_type} "
        f"{mapping.qb_name} in QuickBooks still shows the synced version"
    )


register(OrderHandler())
