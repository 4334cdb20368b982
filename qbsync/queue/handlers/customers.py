"""Customers: find or add the QuickBooks customer of a storefront customer (or guest), keep it up to date.

Steps: ``lookup`` (CustomerQuery by the configured name) -> ``add`` (CustomerAdd); ``link`` after a 3100
(the name is taken: query it, link it when it is the same person, else rename with the storefront id);
``mod`` (CustomerMod) for changes after sync, ``requery`` for a fresh EditSequence after 3200. A customer
is linked without asking QuickBooks when the pulled customer list already has it by name or e-mail.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from qbsync.qbxml.limits import fit
from qbsync.qbxml.parse import Response
from qbsync.qbxml.status import Outcome
from qbsync.queue import company_facts, intake, jobs, lists, mappings, naming, rules
from qbsync.queue.handlers import (
    Again,
    ApplyResult,
    BuildResult,
    Context,
    Defer,
    Done,
    Finish,
    Needed,
    Park,
    corrective_step_due,
    list_record_deleted,
    note,
    progress,
    record_of,
    register,
    render,
    set_progress,
)
from qbsync.queue.handlers.answers import found_records
from qbsync.queue.handlers.steps import STALE, Step, StepHandler, go
from qbsync.storage.models import IdMapping, QueueJob
from qbsync.storefronts.records import Address, Customer, Order, OrderBuyer

# ctx.cache: a customer name (lower case) -> the job looking it up or adding it in this round trip
CUSTOMER_NAMES_ASKED = "customer_names_asked"


def qb_address(address: Address | None) -> dict[str, Any] | None:
    """A storefront address as a QuickBooks BillAddress/ShipAddress (name on the first line)."""
    if address is None:
        return None
    who = address.company or " ".join(p for p in (address.first_name, address.last_name) if p)
    lines = [line for line in (who, address.line1, address.line2) if line]
    result: dict[str, Any] = {f"Addr{i}": line for i, line in enumerate(lines[:5], start=1)}
    for qb_name, value in (
        ("City", address.city),
        ("State", address.state),
        ("PostalCode", address.postcode),
        ("Country", address.country),
    ):
        if value:
            result[qb_name] = value
    return result or None


def customer_fields(record: Customer | None) -> dict[str, Any]:
    """The CustomerAdd/CustomerMod fields (all but the name) of a storefront customer (None: the proxy
    customer, which has only its name)."""
    if record is None:
        return {}
    fields = {
        "CompanyName": record.company or None,
        "FirstName": record.first_name or None,
        "LastName": record.last_name or None,
        "BillAddress": qb_address(record.billing),
        "ShipAddress": qb_address(record.shipping),
        "Phone": record.phone or (record.billing.phone if record.billing is not None else "") or None,
        "Email": record.email or None,
    }
    return {k: v for k, v in fields.items() if v is not None}


def customer_of(job: QueueJob) -> Customer | None:
    """The store's customer the job carries (read from its JSON once, see ``record_of``); None for the
    proxy customer's job."""
    if job.payload.get("proxy") or job.payload.get("record") is None:
        return None
    return record_of(job, Customer)


def _email(job: QueueJob) -> str:
    customer = customer_of(job)
    return customer.email.strip() if customer is not None else ""


def fingerprint(record: Customer | None) -> str:
    """What QuickBooks holds of the customer, hashed: equal means nothing to update."""
    text = json.dumps(customer_fields(record), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def mapping_key(job: QueueJob) -> str:
    """The storefront id the job's customer is mapped under."""
    proxy = job.payload.get("proxy")
    currency = job.payload.get("currency")  # an account in a foreign currency (multicurrency company)
    if proxy:
        return company_facts.keyed(mappings.proxy_key(str(proxy)), currency)
    customer = customer_of(job)
    key = mappings.customer_key(customer) if customer is not None else mappings.UNKNOWN_GUEST
    return company_facts.keyed(key, currency)


def _base_name(job: QueueJob, ctx: Context) -> str:
    """The QuickBooks name the job's customer gets by the settings (worked out once per round trip: the
    handler's prepare asks it, and its build again)."""
    if job.id is None:
        return _settings_name(job, ctx)
    names: dict[int, str] = ctx.cache.setdefault(_BASE_NAMES, {})
    name = names.get(job.id)
    if name is None:
        name = names[job.id] = _settings_name(job, ctx)
    return name


_BASE_NAMES = "customers.base_names"  # Context.cache: job id -> _base_name


def _buyer(job: QueueJob) -> intake.Buyer:
    """Who bought the job's order and in which currency (:class:`OrderBuyer`), without reading the rest of
    the order; the whole order when the payload does not hold them as an order's does (so a payload that
    is no order fails as reading the order fails)."""
    try:
        return record_of(job, OrderBuyer)
    except (ValueError, TypeError):
        return record_of(job, Order)


_PROXY_CHUNK = 50  # waiting orders read, and their links and e-mails looked up, together


def _one_goes_to_proxy(ctx: Context, proxied: list[intake.Buyer]) -> bool:
    """Whether any of ``proxied`` (guests whose e-mail may name a QuickBooks customer) goes to the proxy
    customer after all: neither a link nor the pulled customer list has their e-mail (their links and the
    customers with their e-mails read in one query each)."""
    if not proxied:
        return False
    session, connection, settings = ctx.session, ctx.connection, ctx.settings
    own = [(mappings.CUSTOMER, intake.own_customer_key(session, connection, b)) for b in proxied]
    mappings.preload(session, connection.id, own)
    lists.preload_customers(session, connection.id, emails=[b.customer.email for b in proxied])
    return any(intake.choose_customer(session, connection, settings, b, link=False).proxy is not None
               for b in proxied)


def _settings_name(job: QueueJob, ctx: Context) -> str:
    proxy, customer = job.payload.get("proxy"), customer_of(job)
    if proxy or customer is None:  # a job carries its customer unless it is the proxy's
        name = fit("CustomerAdd/Name", str(proxy or f"Customer {job.id}"))
    else:
        name = naming.customer_base_name(customer, ctx.settings.customer_name_scheme)
    currency = job.payload.get("currency")
    return naming.with_suffix(name, str(currency)) if currency else name


def _same_person(job: QueueJob, found_email: Any) -> bool:
    """Whether a QuickBooks customer with this e-mail is proved to be the job's customer.

    A name alone proves nothing (two John Smiths): both sides must carry the same e-mail address.
    """
    ours = _email(job).lower()
    theirs = str(found_email or "").strip().lower()
    return bool(ours) and ours == theirs


def _not_proved(name: str, job: QueueJob, found_email: Any) -> str:
    """Why a QuickBooks customer called ``name`` is not linked to the job's customer."""
    if job.payload.get("proxy"):
        return (
            f"QuickBooks already has a customer {name!r} that qbsync did not add, and nobody chose it for "
            "guest checkouts (it is qbsync's default name); to book them under that one instead, change "
            "this link on the mappings page"
        )
    ours = _email(job)
    theirs = str(found_email or "").strip()
    if ours and theirs:
        return f"{name!r} is another customer in QuickBooks (e-mail {theirs})"
    return (
        f"{name!r} in QuickBooks has {'the e-mail ' + theirs if theirs else 'no e-mail'} and the store's "
        f"customer {'has ' + ours if ours else 'has none'}: the same name alone does not prove the same "
        "person"
    )


class CustomerHandler(StepHandler):
    """Queue jobs of kind ``customer``: payload ``{"record": Customer dict}`` or ``{"proxy": name}``."""

    kind = "customer"

    def prepare_answers(self, ctx: Context, jobs: list[QueueJob]) -> None:
        """Before answers are applied: the jobs' links (their answers look up nothing in the list)."""
        mappings.preload(ctx.session, ctx.connection.id, [(mappings.CUSTOMER, mapping_key(j)) for j in jobs])

    def prepare(self, ctx: Context, jobs: list[QueueJob]) -> None:
        session, conn_id = ctx.session, ctx.connection.id
        keys = [(job, mapping_key(job)) for job in jobs]
        mappings.preload(session, conn_id, [(mappings.CUSTOMER, key) for _, key in keys])
        # The names and e-mails the unlinked ones may find in the pulled list (_known_locally), in one query.
        unlinked = [job for job, key in keys
                    if mappings.get(session, conn_id, mappings.CUSTOMER, key) is None]
        by_email = ctx.settings.match_customers_by_email
        lists.preload_customers(
            session, conn_id, names=[note(j, "name") or _base_name(j, ctx) for j in unlinked],
            emails=[_email(j) for j in unlinked
                    if by_email and not j.payload.get("proxy") and not j.payload.get("currency")])

    def build(self, ctx: Context, job: QueueJob) -> BuildResult:
        mapping = mappings.get(ctx.session, ctx.connection.id, mappings.CUSTOMER, mapping_key(job))
        if mapping is not None:
            return self._update(ctx, job, mapping)
        notes = progress(job)
        name = notes.get("name") or _base_name(job, ctx)
        step = notes.get("next")
        if corrective_step_due(ctx, job) or (job.needs_lookup and step == "add"):
            # An add whose answer was lost may have happened: look before adding again.
            step = "lookup"  # it may have been added after all
        if step is None:
            local = self._known_locally(ctx, job, name)
            if local is not None:
                return local
            unneeded = self._proxy_unneeded(ctx, job) if job.payload.get("proxy") else None
            if unneeded is not None:
                return unneeded
            if job.payload.get("by_email"):
                # Queued for a guest whose e-mail a QuickBooks customer had: never added for the guest.
                return Finish("no QuickBooks customer has the guest's e-mail any more: their order goes to "
                              "the proxy customer")
            name = progress(job).get("name") or name
            step = "lookup" if ctx.settings.lookup_before_add == "always" or job.needs_lookup else "add"
        if step in ("lookup", "add"):
            # Two store customers of one name in one round trip: the second's look-up finds nothing before
            # the first is added, and its add is refused (3100), then looked up and renamed: two requests
            # more. It waits for the first instead, then links (the same person) or takes its id.
            seen: dict[str, int] = ctx.cache.setdefault(CUSTOMER_NAMES_ASKED, {})
            first = seen.setdefault(name.lower(), int(job.id or 0))
            if first != job.id:
                return Defer(f"job #{first} looks up or adds a customer named {name!r} first", (first,))
        set_progress(job, name=name)
        if step in ("lookup", "link"):
            return render(ctx, "CustomerQuery", {"FullName": name}, step)
        data = {"Name": name, **customer_fields(customer_of(job))}
        if job.payload.get("currency"):
            data["CurrencyRef"] = company_facts.currency_ref(str(job.payload["currency"]))
        return render(ctx, "CustomerAdd", data, "add")

    def _proxy_unneeded(self, ctx: Context, job: QueueJob) -> BuildResult | None:
        """The proxy customer's job, queued at intake for guests' orders that may yet go to customers of
        their own with their e-mails: when those are all it waits for, the customers changed in QuickBooks
        since the newest of them came are read first (the read those orders make anyway), and when none of
        them goes to the proxy customer any more, nothing is added (a customer in QuickBooks that no sale
        uses). None: add it as usual."""
        session, connection, settings = ctx.session, ctx.connection, ctx.settings
        # Their kinds, states and notes first, without their payloads (whole orders).
        waiting = [d for d in jobs.dependents_read_lightly(session, job) if d.state in ("pending", "waiting")]
        if not waiting or any(d.kind != "order" or (d.notes or {}).get("customer") is not None
                              for d in waiting):
            return None  # nothing waits, or something that needs it whatever the customer list says
        # Hundreds of guests' orders may wait for the proxy customer: each is read only as far as choosing
        # its customer goes (its buyer and currency, not its lines), a chunk at a time, and only until the
        # answer is known: usually the first order goes to the proxy customer, and the customer list is up
        # to date, so nothing a later order holds can change the answer.
        current = lists.customers_current_at(session, connection.id)
        behind = current is not None and current < max(d.created_at for d in waiting)
        proxy_needed = False  # an order goes to the proxy customer (as the customer list stands)
        for start in range(0, len(waiting), _PROXY_CHUNK):
            chunk = jobs.jobs_by_id(session, [d.id for d in waiting[start:start + _PROXY_CHUNK]])
            buyers = [_buyer(d) for d in chunk]
            proxied = [b for b in buyers if rules.customer_is_proxied(b.customer, settings)]
            if any(not intake.may_match_by_email(session, connection, settings, b) for b in proxied):
                return None  # goes to the proxy customer, and no customer changed in QuickBooks alters that
            proxy_needed = proxy_needed or _one_goes_to_proxy(ctx, proxied)
            if proxy_needed and not behind:
                return None  # the list is up to date: nothing to read first
        if not proxy_needed:
            return Finish("not added: every order it was queued for goes to the QuickBooks customer with "
                          "the guest's e-mail")
        return Defer("reading the customers changed in QuickBooks first: the guests' e-mails may be new "
                     "customers', and then this one is not needed", queue=Needed(customer_changes=True))

    def _known_locally(self, ctx: Context, job: QueueJob, name: str) -> BuildResult | None:
        """Link to a customer the pulled list has by e-mail or by name (no round trip needed)."""
        session, conn_id = ctx.session, ctx.connection.id
        entry = None
        # A customer found by e-mail keeps its own currency: a foreign-currency account is never one.
        by_email = not job.payload.get("proxy") and not job.payload.get("currency")
        if ctx.settings.match_customers_by_email and by_email:
            entry = lists.customer_by_email(session, conn_id, _email(job))
        if entry is None:
            entry = lists.by_name(session, conn_id, "Customer", name)
            found_email = (entry.data or {}).get("Email") if entry is not None else None
            if entry is not None and not self._proved(ctx, job, name, found_email):
                # Not proved the same person: the customer is added under the name with its id.
                if ctx.settings.customer_name_add_id:
                    set_progress(job, name=self._other_name(job, name),
                                 renamed_why=_not_proved(name, job, found_email))
                return None
        if entry is None:
            return None
        self._link(ctx, job, entry.list_id, (entry.data or {}).get("EditSequence"), entry.full_name)
        return Finish(
            f"linked to the QuickBooks customer {entry.full_name!r} (from the pulled customer list)"
        )

    def _update(self, ctx: Context, job: QueueJob, mapping: IdMapping) -> BuildResult:
        record = customer_of(job)
        notes = progress(job)
        if job.payload.get("proxy") or mapping.synced_hash == fingerprint(record):
            return Finish(f"already in QuickBooks as {mapping.qb_name!r}")
        if not mappings.may_change(mapping):
            return Finish(
                f"the QuickBooks customer {mapping.qb_name!r} was {mappings.provenance(mapping)}: qbsync "
                "does not change it, so the store's changes to this customer are not sent"
            )
        if (
            notes.get("next") == "requery"
            or corrective_step_due(ctx, job)
            or (
                mapping.edit_sequence is None
                and mapping.synced_hash != fingerprint(record)
                and not job.payload.get("proxy")
            )
        ):
            return render(ctx, "CustomerQuery", {"ListID": mapping.qb_id}, "requery")
        data = {"ListID": mapping.qb_id, "EditSequence": mapping.edit_sequence, **customer_fields(record)}
        return render(ctx, "CustomerMod", data, "mod")

    # -- what each answer means

    def _existing(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        """A customer by the name: link it when proved the same person, else try the name with the id."""
        found = found_records(response, "CustomerRet")
        if not found:
            return None
        ret = found[0]
        name = self._name(ctx, job)
        if self._proved(ctx, job, name, ret.get("Email")):
            self._link(ctx, job, str(ret["ListID"]), ret.get("EditSequence"), str(ret.get("FullName")))
            lists.remember_customer(ctx.session, ctx.connection.id, ret)
            return Done(f"linked to the existing QuickBooks customer {ret.get('FullName')!r}")
        return self._rename(ctx, job, name, _not_proved(name, job, ret.get("Email")))

    def _name_held_elsewhere(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        name = self._name(ctx, job)
        return self._rename(
            ctx, job, name, f"{name!r} is already used by a vendor, employee or other name in QuickBooks"
        )

    def _added(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        ret = response.record
        if not ret:
            return None
        self._link(
            ctx, job, str(ret["ListID"]), ret.get("EditSequence"), str(ret.get("FullName")), mappings.CREATED
        )
        lists.remember_customer(ctx.session, ctx.connection.id, ret)
        return Done()

    def _name_in_use(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        set_progress(job, next="link")
        return Again(f"the name {self._name(ctx, job)!r} is in use in QuickBooks: looking it up to link it")

    def _reread(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        mapping = self._mapping(ctx, job)
        found = found_records(response, "CustomerRet")
        if mapping is None or not found:
            return None
        mapping.edit_sequence = str(found[0].get("EditSequence") or "") or None
        set_progress(job, next=None)
        return Again("read the customer's current EditSequence")

    def _deleted(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        mapping = self._mapping(ctx, job)
        if mapping is None:
            return None
        return list_record_deleted(ctx, job, mapping, "Customer", "customer")

    def _unlinked(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult | None:
        if self._mapping(ctx, job) is None:
            return Again("the customer's link was removed meanwhile")
        return None

    def _changed(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        mapping = self._mapping(ctx, job)
        assert mapping is not None  # checked first (_unlinked)
        ret = response.record or {}
        mapping.edit_sequence = str(ret.get("EditSequence") or mapping.edit_sequence)
        mapping.synced_hash = fingerprint(customer_of(job))
        return Done("customer updated")

    STEPS = {
        "lookup": Step(found=_existing, empty=go("add", "not in QuickBooks yet: adding it"),
                       otherwise="customer look-up"),
        "link": Step(found=_existing, empty=_name_held_elsewhere, otherwise="customer look-up"),
        "add": Step(found=_added, on={Outcome.NAME_IN_USE: _name_in_use}, otherwise="customer"),
        "requery": Step(found=_reread, empty=_deleted, on={Outcome.NOT_FOUND: _deleted},
                        otherwise="customer look-up"),
        "mod": Step(first=_unlinked, found=_changed,
                    on={Outcome.STALE_EDIT_SEQUENCE: go("requery", STALE),
                        Outcome.NOT_FOUND: _deleted},
                    otherwise="customer change"),
    }
    UNKNOWN = "a customer job"

    # -- helpers

    def _name(self, ctx: Context, job: QueueJob) -> str:
        return str(progress(job).get("name") or _base_name(job, ctx))

    def _mapping(self, ctx: Context, job: QueueJob) -> IdMapping | None:
        return mappings.get(ctx.session, ctx.connection.id, mappings.CUSTOMER, mapping_key(job))

    def _link(
        self,
        ctx: Context,
        job: QueueJob,
        list_id: str,
        edit_sequence: Any,
        full_name: str,
        origin: str = mappings.FOUND,
    ) -> None:
        record = customer_of(job)
        mappings.link(
            ctx.session,
            ctx.connection.id,
            mappings.CUSTOMER,
            mapping_key(job),
            qb_type="Customer",
            qb_id=list_id,
            edit_sequence=str(edit_sequence) if edit_sequence else None,
            qb_name=full_name,
            synced_hash=fingerprint(record),
            origin=origin,
            renamed=self._renamed(ctx, job, full_name),
        )

    def _renamed(self, ctx: Context, job: QueueJob, full_name: str) -> tuple[str, str] | None:
        """(the store's name, why QuickBooks has another) when qbsync made the name differ, else None (also
        for a customer found under a name of its own, by e-mail)."""
        if full_name.casefold() != (progress(job).get("name") or _base_name(job, ctx)).casefold():
            return None
        if job.payload.get("proxy"):
            why = progress(job).get("renamed_why")
            return (str(job.payload["proxy"]), f"added as {full_name!r}: {why}") if why else None
        customer = customer_of(job)
        if customer is None:
            return None
        store = naming.customer_store_name(customer, ctx.settings.customer_name_scheme)
        suffixes = []
        if job.payload.get("currency"):
            suffixes.append((str(job.payload["currency"]), "a QuickBooks customer has one currency and this "
                             "one pays in it"))
        if progress(job).get("renamed_why"):
            suffixes.append((self._id_suffix(job), str(progress(job)["renamed_why"])))
        reason = naming.why_renamed(store, full_name, "CustomerAdd/Name", suffixes)
        return (store, reason) if reason else None

    def _proved(self, ctx: Context, job: QueueJob, name: str, found_email: Any) -> bool:
        """Whether the QuickBooks customer called ``name`` is the job's: the same e-mail, or the name
        with the storefront id qbsync gives (a person does not type 'Lee, Ann (42)' by chance). The proxy
        customer is proved when a person named it in the settings (never by qbsync's default name alone),
        or by the name with the job's id that qbsync gives it when that name is taken."""
        if job.payload.get("proxy") and ctx.settings.chosen("proxy_customer"):
            return True
        if _same_person(job, found_email):
            return True
        ours = _email(job).lower()
        theirs = str(found_email or "").strip().lower()
        if ours and theirs:
            return False  # two different e-mails: another person, whatever the name
        with_id = self._other_name(job, _base_name(job, ctx))
        return name.lower() == with_id.lower()

    def _other_name(self, job: QueueJob, name: str) -> str:
        return naming.with_suffix(name, self._id_suffix(job))

    def _id_suffix(self, job: QueueJob) -> str:
        customer = customer_of(job)
        if customer is None:
            return str(job.id)
        return str(customer.storefront_id or customer.email or job.id)

    def _rename(self, ctx: Context, job: QueueJob, name: str, why: str) -> ApplyResult:
        new_name = self._other_name(job, name)
        chosen_proxy = job.payload.get("proxy") and ctx.settings.chosen("proxy_customer")
        if new_name == name or chosen_proxy or not ctx.settings.customer_name_add_id:
            return Park(f"{why}; rename one of them or link the customer on the mappings page")
        set_progress(job, name=new_name, next="lookup", renamed_why=why)
        return Again(f"{why}: trying {new_name!r}")



def changed_customers_first(ctx: Context, job: QueueJob, order: Order,
                            choice: rules.CustomerChoice | None = None) -> Defer | None:
    """Before the order's customer is chosen (once, see ``orders.customer_choice``) and a guest given the
    proxy customer for want of one with its e-mail, the customers changed in QuickBooks since the list
    was last brought up to date are read, when that was before the order reached qbsync: a customer
    typed into QuickBooks meanwhile may be the guest's. Every such order of a round trip waits for the
    same read (one request), the orders that come after it need another.

    ``choice``: what ``intake.choose_customer`` answers for the order now, when the caller asked already.
    """
    if progress(job).get("customer") is not None:
        return None  # chosen already: kept
    session, connection, settings = ctx.session, ctx.connection, ctx.settings
    if choice is None:
        behind = intake.goes_to_proxy_for_want_of_email_match(session, connection, settings, order)
    else:
        behind = choice.proxy is not None and intake.may_match_by_email(session, connection, settings, order)
    if not behind:
        return None  # (most orders: no look-up of when the list was read)
    current = lists.customers_current_at(ctx.session, ctx.connection.id)
    if current is None or current >= job.created_at:
        return None  # never read (the first contact reads it whole), or read since the order came
    return Defer("reading the customers changed in QuickBooks since the list was read: the guest's e-mail "
                 "may be a new customer's", queue=Needed(customer_changes=True))


register(CustomerHandler())
