"""Orders: an order becomes one QuickBooks Invoice, SalesReceipt or SalesOrder, once, and stays up to date.

Steps: ``lookup`` (query by RefNumber, so a request whose answer was lost is never added twice) ->
``add``; later changes: ``mod`` (lines replaced, with the transaction's current EditSequence), ``requery``
after 3200, ``void`` when the order is cancelled or deleted. A 3140 (missing customer or item) queues the
job that adds it and waits for it; a change QuickBooks refuses is parked as "changed after sync".
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from qbsync.qbxml.parse import Response
from qbsync.qbxml.status import Outcome
from qbsync.queue import company_facts, intake, jobs, lists, mappings, naming, rules, sales_tax, tax_codes
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
    Wait,
    corrective_step_due,
    gave_up,
    progress,
    refused,
    register,
    render,
    reset_progress,
    set_progress,
)
from qbsync.queue.handlers.cancellations import CANCELLATION, REVERSED, VOIDED
from qbsync.queue.handlers.items import SPECIAL_ITEMS, special_name
from qbsync.queue.handlers.order_lines import Refs, header, line_key, sales_lines
from qbsync.queue.inventory import add_back_late_sales
from qbsync.queue.settings import SyncSettings
from qbsync.storage.models import IdMapping, QueueJob

FOUND = (Outcome.SUCCESS, Outcome.WARNING)
MODDABLE = ("Invoice", "SalesReceipt", "SalesOrder")
MAX_WAITS = 3  # a reference QuickBooks still lacks after this many re-adds needs a person
_MISSING = re.compile(r'invalid reference to QuickBooks (\w+) "(.*?)"', re.S)


def order_of(job: QueueJob) -> dict[str, Any]:
    """The order record the job carries."""
    return dict(job.payload.get("record") or {})


def with_input_notes(note: str | None, order: dict[str, Any]) -> str | None:
    """``note`` followed by what normalizing cleaned in the order's text (so the job says so), if anything."""
    cleaned = order.get("input_notes") or []
    if not cleaned:
        return note
    said = "shopper input cleaned: " + "; ".join(cleaned)
    return f"{note}; {said}" if note else said


def order_id(job: QueueJob) -> str:
    """The storefront id of the job's order."""
    return str(job.record_id or order_of(job).get("storefront_id") or job.payload.get("order_id"))


def customer_mapping_key(
    order: Mapping[str, Any], settings: SyncSettings, currency: str | None = None
) -> str:
    """Which customer mapping the order's transaction is recorded under (its buyer, or the proxy; in
    ``currency`` when the order is in a foreign currency of a multicurrency company)."""
    customer = order.get("customer") or {}
    if rules.customer_is_proxied(customer, settings):
        return company_facts.keyed(mappings.proxy_key(str(settings.proxy_customer)), currency)
    return company_facts.keyed(mappings.customer_key(customer), currency)


def order_customer_key(ctx: Context, order: Mapping[str, Any]) -> str:
    """:func:`customer_mapping_key` for the company the context talks to."""
    currency = company_facts.foreign_currency(str(order.get("currency") or ""), facts(ctx))
    return customer_mapping_key(order, ctx.settings, currency)


def marker_of(ctx: Context, order: Mapping[str, Any]) -> str:
    """qbsync's marker on the order's transaction (see :func:`naming.order_marker`)."""
    return naming.order_marker(
        ctx.connection.platform, str(order.get("number") or ""), str(order.get("storefront_id") or "")
    )


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


def _ref(mapping: IdMapping | None) -> dict[str, str] | None:
    return {"ListID": mapping.qb_id} if mapping is not None else None


def facts(ctx: Context) -> company_facts.CompanyFacts:
    """What the company told about itself (read once per round trip)."""
    if "company_facts" not in ctx.cache:
        ctx.cache["company_facts"] = company_facts.read(ctx.session, ctx.connection.id)
    return ctx.cache["company_facts"]


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


def special_names(order: Mapping[str, Any], settings: SyncSettings) -> dict[str, str]:
    """role -> QuickBooks name of every special item the order may use (its sales tax items included)."""
    names = {role: special_name(role, settings) for role in SPECIAL_ITEMS}
    names[sales_tax.ZERO_ROLE] = sales_tax.zero_item(settings).name
    names.update((item.role, item.name) for item, _ in sales_tax.order_tax_items(order))
    return names


class OrderHandler:
    """Queue jobs of kind ``order``: payload ``{"record": Order dict, "event": ...}``."""

    kind = "order"

    def prepare(self, ctx: Context, jobs: list[QueueJob]) -> None:
        keys: list[tuple[str, str]] = [(mappings.SPECIAL_ITEM, role) for role in SPECIAL_ITEMS]
        for job in jobs:
            order = order_of(job)
            keys.extend((mappings.SPECIAL_ITEM, role) for role in special_names(order, ctx.settings))
            keys.append((mappings.ORDER, order_id(job)))
            keys.append((mappings.CUSTOMER, order_customer_key(ctx, order)))
            keys.extend((mappings.PRODUCT, line_key(line)) for line in order.get("lines") or ())
        mappings.preload(ctx.session, ctx.connection.id, keys)

    # -- build

    def build(self, ctx: Context, job: QueueJob) -> BuildResult:
        given_up = gave_up(ctx, job)
        if given_up is not None:
            return given_up
        order = order_of(job)
        mapping = mappings.get(ctx.session, ctx.connection.id, mappings.ORDER, order_id(job))
        if job.payload.get("event") == "deleted" or order.get("status") == "cancelled":
            return CANCELLATION.build(ctx, job, order, mapping)
        if mapping is not None:
            return self._update(ctx, job, order, mapping)
        decision = rules.decide_order(order, ctx.settings)
        if not decision.sync:
            return Finish(f"not synced: {decision.reason}")
        if "gift_card_amount" in order and order["gift_card_amount"] is None:
            return Reject(
                "a gift card paid part of this order and qbsync could not read the order's transactions "
                "from Shopify to learn how much (they are read with the connection's Admin API access "
                "token, which needs read_orders); qbsync will not book gift card money as income: fix the "
                "token on the connection page, then push the order again from the Push page, or record "
                "it in QuickBooks by hand with the gift card part on the gift card item"
            )
        problem = company_facts.currency_problem(str(order.get("currency") or ""), facts(ctx))
        if problem:
            return Reject(problem)
        waiting = self._dependencies(ctx, order) or self._rate_pending(ctx) or self._codes_pending(ctx)
        if waiting:
            return waiting
        notes = progress(job)
        txn_type = notes.get("type") or decision.txn_type
        step = notes.get("next")
        if corrective_step_due(ctx, job) or (job.needs_lookup and step == "add"):
            # An add whose answer was lost may have happened: look before adding again.
            step = "lookup"
        if step is None:
            step = "lookup" if ctx.settings.lookup_before_add == "always" or job.needs_lookup else "add"
        data = self._data(ctx, order, txn_type, bool(notes.get("omit_payment_method")))
        missing = ctx.cache.get("missing_methods", {}).get(str(order.get("storefront_id")))
        set_progress(
            job,
            type=txn_type,
            hash=fingerprint(data),
            method_missing=missing or notes.get("method_missing"),
            proof=proof_of(data, marker_of(ctx, order)),
        )
        if step == "lookup":
            return render(ctx, f"{txn_type}Query", {"RefNumber": data["RefNumber"]}, "lookup")
        lines = data.pop("lines")
        return render(ctx, f"{txn_type}Add", {**data, f"{txn_type}LineAdd": lines}, "add")

    def _dependencies(self, ctx: Context, order: Mapping[str, Any]) -> Defer | None:
        """Wait for the customer and items the order needs, queueing their jobs when nobody has."""
        session, conn_id = ctx.session, ctx.connection.id
        missing = (
            mappings.get(session, conn_id, mappings.CUSTOMER, order_customer_key(ctx, order))
            is None
        )
        missing = missing or any(
            mappings.get(session, conn_id, mappings.PRODUCT, line_key(line)) is None
            for line in order.get("lines") or ()
            if not rules.is_gift_card_sale(line, ctx.settings)
        )
        if not missing:
            return None
        needed = intake.order_dependencies(session, ctx.connection, ctx.settings, order)
        if not needed:
            return None
        names = ", ".join(job.label or job.kind for job in needed[:3])
        return Defer(f"waiting for {names} to reach QuickBooks", tuple(job.id for job in needed))

    def _refs(self, ctx: Context, order: Mapping[str, Any]) -> Refs:
        session, conn_id = ctx.session, ctx.connection.id
        customer = mappings.get(
            session, conn_id, mappings.CUSTOMER, order_customer_key(ctx, order)
        )
        if customer is None:
            raise KeyError("the order's customer is not linked to a QuickBooks customer")
        items = {}
        for line in order.get("lines") or ():
            if rules.is_gift_card_sale(line, ctx.settings):
                continue  # on the gift card item
            key = line_key(line)
            mapping = mappings.get(session, conn_id, mappings.PRODUCT, key)
            if mapping is None:
                raise KeyError(f"the product of line {line.get('name')!r} is not linked to a QuickBooks item")
            items[key] = {"ListID": mapping.qb_id}
        specials = {}
        for role, name in special_names(order, ctx.settings).items():
            mapping = mappings.get(session, conn_id, mappings.SPECIAL_ITEM, role)
            linked = mapping is not None and (mapping.qb_name or "").lower() == name.lower()
            if linked:
                specials[role] = _ref(mapping)
                continue
            # Known from the item list (kept current as qbsync adds items): by ListID, as once linked, so
            # the transaction's fingerprint does not change when the link is made.
            entry = lists.by_name(session, conn_id, "Item", name)
            specials[role] = {"ListID": entry.list_id} if entry is not None else {"FullName": name}
        return Refs({"ListID": customer.qb_id}, items, specials)

    def _data(
        self, ctx: Context, order: Mapping[str, Any], txn_type: str, omit_payment_method: bool = False
    ) -> dict[str, Any]:
        refs = self._refs(ctx, order)
        method = rules.payment_method_name(order, ctx.settings)
        if txn_type == "SalesReceipt" and method and not omit_payment_method:
            # Leave out a method the pulled list proves QuickBooks lacks (it would only come back 3140).
            session, conn_id = ctx.session, ctx.connection.id
            if (
                lists.has_list(session, conn_id, "PaymentMethod")
                and lists.by_name(session, conn_id, "PaymentMethod", method) is None
            ):
                omit_payment_method = True
                ctx.cache.setdefault("missing_methods", {})[str(order.get("storefront_id"))] = method
        company = facts(ctx)
        rate = company_facts.exchange_rate(order, company)
        data = header(order, txn_type, refs, ctx.settings, ctx.connection.platform, omit_payment_method,
                      company.is_us, rate)
        country = None if company.is_us else country_tax(ctx)
        data["lines"] = sales_lines(order, refs, ctx.settings, self._quickbooks_rate(ctx), country)
        return data

    def _codes_pending(self, ctx: Context) -> Defer | None:
        """Canada/UK: wait for the sales tax codes and items to be read (their rates decide each line)."""
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
        if not found:
            found = lists.request_refresh(session, conn_id, ["SalesTaxCode", "Item"], now=ctx.now)
        return Defer("waiting for the company's sales tax codes to be read", tuple(j.id for j in found))

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

    def _update(self, ctx: Context, job: QueueJob, order: dict[str, Any], mapping: IdMapping) -> BuildResult:
        if mapping.synced_hash == VOIDED:
            return Finish(f"the {mapping.qb_type} {mapping.qb_name} was voided; later changes are not sent")
        if mapping.synced_hash == REVERSED:
            return Finish(
                f"the order was cancelled and its {mapping.qb_type} {mapping.qb_name} reversed by a credit "
                "memo; later changes are not sent"
            )
        waiting = self._dependencies(ctx, order)
        if waiting:
            return waiting
        notes = progress(job)
        data = self._data(ctx, order, mapping.qb_type, bool(notes.get("omit_payment_method")))
        wanted = fingerprint(data)
        if wanted == mapping.synced_hash:
            return Finish(f"already in QuickBooks as {mapping.qb_type} {mapping.qb_name}")
        if mapping.qb_type not in MODDABLE:
            return changed_after_sync(mapping, f"QuickBooks cannot change a {mapping.qb_type} through qbsync")
        if not mappings.may_change(mapping):
            return changed_after_sync(mapping, not_ours(mapping, "change it"))
        if not ctx.settings.sync_order_edits:
            return changed_after_sync(mapping, "sync_order_edits is off")
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

    # -- apply

    def apply(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        step = job.step
        outcome = response.outcome
        notes = progress(job)
        txn_type = notes.get("type") or "Invoice"
        oid = order_id(job)
        mapping = mappings.get(ctx.session, ctx.connection.id, mappings.ORDER, oid)
        if notes.get("cancelling") and mapping is not None and step != "void":
            return CANCELLATION.apply(ctx, job, order_of(job), mapping, response)
        if step == "lookup":
            found = response.records_of(f"{txn_type}Ret") if outcome in FOUND else []
            ours = next((ret for ret in found if is_ours(ret, notes.get("proof") or {})), None)
            if ours is not None:
                self._link(ctx, job, txn_type, ours)
                return Done(f"already in QuickBooks: linked to {txn_type} {ours.get('RefNumber')}")
            if found:
                # QuickBooks takes a second transaction with the same RefNumber (its duplicate-number
                # warning is a preference of its own windows); qbsync's marker in the memo tells them apart.
                set_progress(job, next="add")
                return Again(
                    f"{len(found)} {txn_type} with this number in QuickBooks not made by qbsync for this "
                    "order (no qbsync marker, or another customer or amount): left alone, adding the order"
                )
            if outcome in (Outcome.NO_MATCH, *FOUND):
                set_progress(job, next="add")
                return Again("not in QuickBooks yet: adding it")
            return refused(response, "order look-up")
        if step == "add":
            if outcome in FOUND and response.record:
                self._link(ctx, job, txn_type, response.record)
                missing = notes.get("method_missing")
                note = None
                if missing:
                    note = (f"recorded without a payment method: {missing!r} is not in QuickBooks (add it "
                            "there or map the store's method in payment_method_map)")
                return Done(with_input_notes(note, order_of(job)))
            if outcome is Outcome.MISSING_REFERENCE:
                return self._missing(ctx, job, response)
            return refused(response, "order")
        if mapping is None:
            reset_progress(job)
            return Again("the order's link was removed meanwhile")
        if step == "void":
            if outcome in FOUND:
                mapping.synced_hash = VOIDED
                self._add_back(ctx, job, None)
                return Done(f"{mapping.qb_type} {mapping.qb_name} voided")
            if outcome is Outcome.NOT_FOUND:
                mappings.forget(ctx.session, mapping)
                return Done(f"the {mapping.qb_type} {mapping.qb_name} is no longer in QuickBooks")
            return refused(response, "void")
        if step == "requery":
            found = response.records_of(f"{mapping.qb_type}Ret") if outcome in FOUND else []
            if found:
                mapping.edit_sequence = str(found[0].get("EditSequence") or "") or None
                set_progress(job, next=None)
                return Again("read the transaction's current EditSequence")
            if outcome in (Outcome.NOT_FOUND, Outcome.NO_MATCH, *FOUND):
                return self._gone(ctx, job, mapping)
            return refused(response, "transaction look-up")
        if step == "mod":
            if outcome in FOUND:
                ret = response.record or {}
                mapping.edit_sequence = str(ret.get("EditSequence") or mapping.edit_sequence)
                mapping.synced_hash = notes.get("hash")
                self._add_back(ctx, job, mapping.qb_type)
                return Done(f"{mapping.qb_type} {mapping.qb_name} updated")
            if outcome is Outcome.STALE_EDIT_SEQUENCE:
                set_progress(job, next="requery")
                return Again("changed in QuickBooks meanwhile: reading it again")
            if outcome is Outcome.NOT_FOUND:
                return self._gone(ctx, job, mapping)
            if outcome is Outcome.MISSING_REFERENCE:
                return self._missing(ctx, job, response)
            return Park(
                f"changed after sync: QuickBooks could not take the change to {mapping.qb_type} "
                f"{mapping.qb_name} ({response.status_code}): {response.message} Change it in "
                "QuickBooks by hand, then remove or retry this job"
            )
        return Park(f"qbsync does not know the step {step!r} of an order job")

    # -- helpers

    def _link(self, ctx: Context, job: QueueJob, txn_type: str, ret: Mapping[str, Any]) -> None:
        mappings.link_transaction(
            ctx.session, ctx.connection.id, mappings.ORDER, order_id(job), txn_type, ret,
            synced_hash=progress(job).get("hash"),
            origin=mappings.CREATED,  # added by qbsync, or found carrying qbsync's exact marker
        )
        self._add_back(ctx, job, txn_type, added=True)

    def _add_back(self, ctx: Context, job: QueueJob, txn_type: str | None, added: bool = False) -> None:
        """A sale the store's count QuickBooks took already lacked comes back, and follows the order
        (stock counted once): after the order's transaction is added, changed or voided (None)."""
        add_back_late_sales(ctx.session, ctx.connection.id, order_id(job), order_of(job), txn_type,
                            ctx.settings, ctx.now, added)

    def _gone(self, ctx: Context, job: QueueJob, mapping: IdMapping) -> ApplyResult:
        if mapping.manual:
            return Park(f"the {mapping.qb_type} {mapping.qb_name} linked by hand is no longer in QuickBooks")
        mappings.forget(ctx.session, mapping)
        reset_progress(job)
        return Again(f"the {mapping.qb_type} {mapping.qb_name} was deleted in QuickBooks: adding it again")

    def _missing(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        """3140: bring what QuickBooks lacks into it (customer, item) and wait for that, or explain."""
        found = _MISSING.search(response.message or "")
        if found is None:
            return refused(response, "order")
        word, value = found.group(1), found.group(2)
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
            mapping = mappings.get(
                session, conn_id, mappings.CUSTOMER, order_customer_key(ctx, order)
            )
            if mapping is not None and mapping.manual:
                return Park(
                    f"the customer linked by hand ({mapping.qb_name!r}) is not in QuickBooks any more"
                )
            if mapping is not None:
                mappings.forget(session, mapping)
                lists.forget_entry(session, conn_id, "Customer", mapping.qb_id)
            needed = intake.customer_job_for_order(session, ctx.connection, ctx.settings, order)
            set_progress(job, next="add")
            return Wait(
                f"the customer {value!r} is missing in QuickBooks: adding it first",
                (needed.id,) if needed is not None else (),
            )
        if word == "Item":
            wanted = value.strip().lower()
            lists.forget_named(session, conn_id, "Item", value)
            for line in order.get("lines") or ():
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
            needed = intake.item_jobs_for_order(session, ctx.connection, ctx.settings, order)
            needed += intake.special_item_jobs(session, ctx.connection, ctx.settings, roles, order)
            if not needed:
                return Park(
                    f"QuickBooks lacks the item {value!r} and no product of this order maps to it: "
                    f"{response.message}"
                )
            set_progress(job, next="add")
            return Wait(
                f"the item {value!r} is missing in QuickBooks: adding it first", tuple(j.id for j in needed)
            )
        return Park(
            f"QuickBooks has no {word} {value!r}, which this order needs: create it in QuickBooks or "
            "change the matching sync setting, then retry the job"
        )


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
