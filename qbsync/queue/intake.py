"""Where storefront changes enter the sync queue.

Webhooks, the missed-webhook sweep and the backfill all call :func:`record_changed` with a normalized
record; it decides which queue job (if any) the change needs and queues it, coalescing repeated updates
of the same record into one job that carries the newest data. An order's job depends on the jobs that
bring its customer and items into QuickBooks, so the queue itself keeps the order of work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qbsync.queue import company_facts, jobs, lists, mappings, rules, sales_tax
from qbsync.queue.settings import SyncSettings
from qbsync.storage.models import Connection, JobDependency, QbListEntry, QueueJob, StorefrontRecord
from qbsync.storefronts.records import Customer, Order, OrderLine, Product


class Record(Protocol):
    """What intake needs of a normalized storefront record."""

    def to_dict(self) -> dict[str, Any]: ...


class Buyer(Protocol):
    """What choosing an order's customer reads of it (an :class:`Order` is one): who bought it, and in
    which currency. The proxy customer's job asks it of hundreds of waiting orders, read that far only."""

    @property
    def customer(self) -> Customer: ...

    @property
    def currency(self) -> str: ...


# Which queue job kind carries each storefront record type, and how urgent it is (lower first):
# customers and items before the orders that refer to them.
JOB_KINDS: dict[str, tuple[str, int]] = {
    "customer": ("customer", 10),
    "product": ("item", 20),
    "order": ("order", 50),
    "refund": ("refund", 60),
    "stock": ("inventory_adjustment", 70),
}
SPECIAL_ITEM_PRIORITY = 15  # shipping, fee, discount, tax items: before orders, after customers
PAYMENT_PRIORITY = 55


def stored_record(session: Session, connection_id: int, record_type: str, record_id: str) -> dict[str, Any]:
    """A record as the store last sent it (empty when qbsync never stored it)."""
    data = session.scalar(
        select(StorefrontRecord.data).where(
            StorefrontRecord.connection_id == connection_id,
            StorefrontRecord.record_type == record_type,
            StorefrontRecord.record_id == record_id,
        )
    )
    return dict(data or {})


def coalesce_key(record_type: str, record_id: str) -> str:
    """The key under which updates of one record fold into one job."""
    return f"{record_type}:{record_id}"


def record_id_of(record_type: str, data: Mapping[str, Any]) -> str:
    """The storefront id of a record (as ``to_dict`` gives it), the same id storefront_records uses."""
    if record_type == "product":
        found = data.get("variant_id") or data.get("product_id")
    elif record_type == "stock":
        if data.get("inventory_item_id"):
            item = str(data["inventory_item_id"])
            return f"{item}@{data['location_id']}" if data.get("location_id") else item
        found = data.get("variant_id") or data.get("product_id")
    else:
        found = data.get("storefront_id") or data.get("id")
    if not found:
        raise ValueError(f"the {record_type} record has no storefront id")
    return str(found)


def record_changed(
    session: Session,
    connection: Connection,
    record_type: str,
    record: Record,
    event: str = "updated",
    *,
    unconfirmed: str | None = None,
) -> QueueJob | None:
    """Queue the sync work a storefront change needs; returns the job (None when nothing is needed).

    A record older than the newest known version of it (an out-of-order webhook) changes nothing.
    ``unconfirmed`` says why the store could not confirm an order's cancellation or deletion a webhook
    announced: the job then voids nothing until a person retries it (the sweep and the backfill read the
    store's API, so what they hand over is the store's word).
    """
    if record_type not in JOB_KINDS:
        raise ValueError(f"unknown record type {record_type!r}")
    data = record.to_dict()
    settings = SyncSettings(connection.settings)
    # Every query below reads rows that are flushed already (jobs flush when queued), so the pending
    # inserts of one change are written together rather than before each query.
    with session.no_autoflush:
        if event == "deleted" or data.get("deleted"):
            return _deleted(session, connection, settings, record_type, data, unconfirmed)
        record_id = record_id_of(record_type, data)
        if _older_than_known(session, connection.id, record_type, record_id, data):
            return None
        return _queue(session, connection, settings, record_type, record_id, data, event, unconfirmed, record)


def _queue(
    session: Session,
    connection: Connection,
    settings: SyncSettings,
    record_type: str,
    record_id: str,
    data: dict[str, Any],
    event: str,
    unconfirmed: str | None = None,
    record: Record | None = None,
) -> QueueJob | None:
    given = record.record if isinstance(record, _AsIs) else record
    if record_type == "customer":
        customer = given if isinstance(given, Customer) else Customer.from_dict(data)
        return _customer(session, connection, settings, customer, data, event)
    if record_type == "product":
        product = given if isinstance(given, Product) else Product.from_dict(data)
        if rules.is_gift_card_sale(product, settings):
            return None  # sold on the gift card item: no item of its own in QuickBooks, never stock
        return _product(session, connection, product, data, event)
    if record_type == "order":
        order = given if isinstance(given, Order) else Order.from_dict(data)
        return _order(session, connection, settings, order, data, event, unconfirmed)
    if record_type == "refund":
        return _refund(session, connection, settings, data, event)
    return _stock(session, connection, settings, data, record_id, event)


# --- newest version wins ----------------------------------------------------------------------------


def _moment(value: Any) -> datetime | None:
    if not value:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _older_than_known(
    session: Session, connection_id: int, record_type: str, record_id: str, data: dict[str, Any]
) -> bool:
    """True when we already know a newer version; otherwise remember this one as the newest."""
    modified = _moment(data.get("modified_at"))
    known: dict[tuple[int, str, str], StorefrontRecord] = session.info.setdefault(_RECORDS_SEEN, {})
    row = known.get((connection_id, record_type, record_id))
    absent: set[tuple[int, str, str]] = session.info.get(_RECORDS_ABSENT, set())
    if row is None and (connection_id, record_type, record_id) not in absent:
        row = session.scalar(
            select(StorefrontRecord).where(
                StorefrontRecord.connection_id == connection_id,
                StorefrontRecord.record_type == record_type,
                StorefrontRecord.record_id == record_id,
            )
        )
    if row is None:
        row = StorefrontRecord(
            connection_id=connection_id,
            record_type=record_type,
            record_id=record_id,
            modified_at=modified,
            data=data,
            deleted=False,
        )
        session.add(row)
        known[(connection_id, record_type, record_id)] = row
        absent.discard((connection_id, record_type, record_id))
        return False
    known[(connection_id, record_type, record_id)] = row
    if row.data == data and not row.deleted:
        return False  # the webhook receiver (or the backfill) stored this very version a moment ago
    if modified is not None and row.modified_at is not None and modified < row.modified_at:
        return True
    # Newer, or no time to compare (or the same time, other content): the later arrival is the best guess.
    row.data, row.modified_at, row.deleted = data, modified or row.modified_at, False
    return False


# --- finding or queueing the jobs an order needs ---------------------------------------------------


def _job_with_key(
    session: Session,
    connection_id: int,
    key: str,
    kind: str,
    payload: dict[str, Any],
    *,
    record_type: str,
    record_id: str,
    label: str,
    priority: int,
) -> QueueJob:
    """The unfinished job for ``key`` (kept as it is), or a new one with ``payload``.

    Remembered for the database session, so a batch of orders for one customer asks once.
    """
    unfinished = (*jobs.ACTIVE_STATES, "parked")
    known: dict[tuple[int, str], QueueJob] = session.info.setdefault(_JOBS_SEEN, {})
    existing = known.get((connection_id, key))
    if existing is None or existing.state not in unfinished:
        existing = session.scalar(
            select(QueueJob)
            .where(
                QueueJob.connection_id == connection_id,
                QueueJob.coalesce_key == key,
                QueueJob.state.in_(unfinished),
            )
            .order_by(QueueJob.id.desc())
            .limit(1)
        )
    if existing is None:
        # Write what is pending (e.g. a record_changed_many batch's order jobs) before enqueue opens its
        # savepoint, which would flush it too: enqueue takes a unique conflict there for its own job, while
        # a conflict among the batch's jobs must reach record_changed_many, which redoes the batch.
        session.flush()
        existing = jobs.enqueue(
            session,
            connection_id,
            kind,
            payload,
            record_type=record_type,
            record_id=record_id,
            label=label,
            coalesce_key=key,
            priority=priority,
        )
    known[(connection_id, key)] = existing
    return existing


_JOBS_SEEN = "qbsync.intake.jobs_by_key"
_RECORDS_SEEN = "qbsync.intake.storefront_records"
_RECORDS_ABSENT = "qbsync.intake.storefront_records_absent"


def choose_customer(
    session: Session, connection: Connection, settings: SyncSettings, order: Buyer, *, link: bool
) -> rules.CustomerChoice:
    """Whose QuickBooks customer the order's sale goes to, by today's settings (the order handler asks
    once, when it first plans the order, and keeps the answer: :class:`rules.CustomerChoice`; intake asks
    too, to queue the customer's job ahead of the order).

    The buyer's own customer; or, for a proxied buyer, the proxy customer, unless the guest's e-mail is a
    QuickBooks customer's (:func:`rules.guest_matched_by_email`): one the guest's link already names, or
    one the customer list pulled from QuickBooks (kept current as qbsync adds customers) has with that
    e-mail, which ``link`` links here without a request (only inside a Web Connector session, where one
    process at a time writes a connection's links; intake leaves it to the customer's job). QuickBooks'
    CustomerQuery cannot filter by e-mail: the order handler brings the list up to date with the
    customers changed since it was read before it asks (``customers.changed_customers_first``).
    """
    choice, found = customer_found(session, connection, settings, order)
    if link and found is not None:
        link_found(session, connection, choice, found)
    return choice


def customer_found(
    session: Session, connection: Connection, settings: SyncSettings, order: Buyer
) -> tuple[rules.CustomerChoice, QbListEntry | None]:
    """:func:`choose_customer`'s answer, with the pulled customer it found by the guest's e-mail and would
    link (None: nothing to link), so that a caller deciding first whether to wait asks once."""
    customer = order.customer
    currency = company_facts.foreign_currency(order.currency, company_facts.read(session, connection.id))
    own = own_customer_key(session, connection, order)
    if not rules.customer_is_proxied(customer, settings):
        return rules.CustomerChoice(own), None
    if rules.guest_matched_by_email(customer, settings, bool(currency)):
        if mappings.get(session, connection.id, mappings.CUSTOMER, own) is not None:
            return rules.CustomerChoice(own, by_email=True), None
        entry = lists.customer_by_email(session, connection.id, customer.email)
        if entry is not None:
            return rules.CustomerChoice(own, by_email=True), entry
    name = str(settings.proxy_customer).strip()
    return rules.CustomerChoice(company_facts.keyed(mappings.proxy_key(name), currency), proxy=name), None


def link_found(session: Session, connection: Connection, choice: rules.CustomerChoice,
               entry: QbListEntry) -> None:
    """Link the guest's own customer key to the pulled customer :func:`customer_found` found by e-mail."""
    mappings.link(
        session, connection.id, mappings.CUSTOMER, choice.key, qb_type="Customer", qb_id=entry.list_id,
        edit_sequence=str((entry.data or {}).get("EditSequence") or "") or None,
        qb_name=entry.full_name, origin=mappings.FOUND,  # the same e-mail: used, never changed
    )


def own_customer_key(session: Session, connection: Connection, order: Buyer) -> str:
    """The key the link to the order's buyer's own QuickBooks customer has (in the order's currency when
    it is not the company's): the first link :func:`choose_customer` reads, so a batch's can be preloaded
    (``mappings.preload``) instead of read one query per order."""
    currency = company_facts.foreign_currency(order.currency, company_facts.read(session, connection.id))
    return company_facts.keyed(mappings.customer_key(order.customer), currency)


def goes_to_proxy_for_want_of_email_match(
    session: Session, connection: Connection, settings: SyncSettings, order: Buyer
) -> bool:
    """Whether :func:`choose_customer` gives the order the proxy customer only because neither a link nor
    the pulled customer list names a customer with the guest's e-mail: one typed into QuickBooks since
    the list was read could be theirs."""
    if not may_match_by_email(session, connection, settings, order):
        return False
    return choose_customer(session, connection, settings, order, link=False).proxy is not None


def may_match_by_email(
    session: Session, connection: Connection, settings: SyncSettings, order: Buyer
) -> bool:
    """Whether the order's buyer is a guest whom a QuickBooks customer with their e-mail would take
    (``rules.guest_matched_by_email``, in the order's currency)."""
    currency = company_facts.foreign_currency(order.currency, company_facts.read(session, connection.id))
    return rules.guest_matched_by_email(order.customer, settings, bool(currency))


def customer_job_for_order(
    session: Session,
    connection: Connection,
    settings: SyncSettings,
    order: Order,
    choice: rules.CustomerChoice,
) -> QueueJob | None:
    """The job bringing the order's chosen customer (:func:`choose_customer`: the buyer's, or the proxy
    customer) into QuickBooks; None when mapped."""
    if mappings.get(session, connection.id, mappings.CUSTOMER, choice.key) is not None:
        return None
    currency = company_facts.foreign_currency(order.currency, company_facts.read(session, connection.id))
    extra = {"currency": currency} if currency else {}
    if choice.proxy:
        return _job_with_key(
            session,
            connection.id,
            coalesce_key("customer", choice.key),
            "customer",
            {"proxy": choice.proxy, **extra},
            record_type="customer",
            record_id=choice.key,
            label=f"customer {choice.proxy}",
            priority=JOB_KINDS["customer"][1],
        )
    customer = order.customer
    return _job_with_key(
        session,
        connection.id,
        coalesce_key("customer", choice.key),
        "customer",
        # A guest's own customer found by e-mail is linked, never added (else the guest takes the proxy).
        {"record": customer.to_dict(), **extra, **({"by_email": True} if choice.by_email else {})},
        record_type="customer",
        record_id=choice.key,
        label=_label("customer", customer.to_dict()),
        priority=JOB_KINDS["customer"][1],
    )


def line_product(session: Session, connection_id: int, line: OrderLine) -> tuple[dict[str, Any], bool]:
    """The product an order line sells, and whether it was built from the line alone.

    The stored product record (from a product webhook or the backfill) when we have one, else what the
    line tells: SKU, name, unit price.
    """
    key = mappings.product_key(line.product_id, line.variant_id, line.sku, line.name)
    stored = session.scalar(
        select(StorefrontRecord.data).where(
            StorefrontRecord.connection_id == connection_id,
            StorefrontRecord.record_type == "product",
            StorefrontRecord.record_id == key,
            StorefrontRecord.deleted.is_(False),
        )
    )
    if stored:
        return dict(stored), False
    return {
        "product_id": line.product_id or "",
        "variant_id": line.variant_id,
        "sku": line.sku,
        "name": line.name,
        "price": str(line.unit_price),  # as the product record's JSON carries money
        "kind": "non_inventory",
    }, True


def item_jobs_for_order(
    session: Session, connection: Connection, settings: SyncSettings, order: Order
) -> list[QueueJob]:
    """The jobs bringing the order's products into QuickBooks (none for products already mapped, nor for
    gift cards sold: they go on the gift card item)."""
    found: dict[str, QueueJob] = {}
    seen: dict[tuple[int, str], QueueJob] = session.info.setdefault(_JOBS_SEEN, {})
    for line in order.lines:
        if rules.is_gift_card_sale(line, settings):
            continue
        key = mappings.product_key(line.product_id, line.variant_id, line.sku, line.name)
        if key in found or mappings.get(session, connection.id, mappings.PRODUCT, key) is not None:
            continue
        earlier = seen.get((connection.id, coalesce_key("product", key)))
        if earlier is not None and earlier.state in (*jobs.ACTIVE_STATES, "parked"):
            found[key] = earlier
            continue
        product, from_line = line_product(session, connection.id, line)
        payload = {"record": product, "from_order": from_line}
        found[key] = _job_with_key(
            session,
            connection.id,
            coalesce_key("product", key),
            "item",
            payload,
            record_type="product",
            record_id=key,
            label=_label("product", product),
            priority=JOB_KINDS["product"][1],
        )
    return list(found.values())


def special_roles(order: Order, settings: SyncSettings, us: bool = True) -> list[str]:
    """The special items (shipping, fee, discount, sales tax, adjustment) the order's lines go on (no sales
    tax items for a Canadian or UK company: its line codes carry the tax)."""
    roles = []
    if order.shipping_lines:
        roles.append("shipping")
    if order.fee_lines:
        roles.append("fee")
    if order.discounts:
        roles.append("discount")
    if settings.tax_mode == "line" and us:
        taxes = sales_tax.order_tax_items(order)
        if taxes:
            roles.append(sales_tax.ZERO_ROLE)
        roles.extend(item.role for item, _ in taxes)
    sold = any(rules.is_gift_card_sale(line, settings) for line in order.lines)
    if sold or order.gift_card_amount:
        roles.append("gift_card")
    roles.append("adjustment")  # rounding differences are only known once the lines are priced
    return roles


def special_item_jobs(
    session: Session,
    connection: Connection,
    settings: SyncSettings,
    roles: list[str],
    order: Order | None = None,
) -> list[QueueJob]:
    """Jobs making sure the configured shipping/fee/discount items and the order's sales tax items exist
    (none once they are mapped)."""
    from qbsync.queue.handlers.items import special_name

    tax_items = {item.role: item for item, _ in (sales_tax.order_tax_items(order) if order else ())}
    tax_items[sales_tax.ZERO_ROLE] = sales_tax.zero_item(settings)
    found = []
    for role in roles:
        payload: dict[str, Any] = {"special": role}
        if sales_tax.is_sales_tax_role(role):
            if role not in tax_items:
                continue  # a store rate qbsync knows only from an order: nothing to create it from
            payload = sales_tax.special_payload(tax_items[role])
        name = special_name(role, settings, payload)
        mapping = mappings.get(session, connection.id, mappings.SPECIAL_ITEM, role)
        if mapping is not None and (mapping.qb_name or "").lower() == name.lower():
            continue
        found.append(
            _job_with_key(
                session,
                connection.id,
                coalesce_key("special_item", role),
                "item",
                payload,
                record_type="special_item",
                record_id=role,
                label=f"item {name}",
                priority=SPECIAL_ITEM_PRIORITY,
            )
        )
    return found


def order_dependencies(
    session: Session,
    connection: Connection,
    settings: SyncSettings,
    order: Order,
    customer: rules.CustomerChoice | None,
) -> list[QueueJob]:
    """Every job the order must wait for: its customer (``customer``, :func:`choose_customer`; None when
    the order's sale has its customer already), its items and the special items it uses."""
    found = []
    customer_job = (
        customer_job_for_order(session, connection, settings, order, customer) if customer else None
    )
    if customer_job is not None:
        found.append(customer_job)
    found += item_jobs_for_order(session, connection, settings, order)
    us = company_facts.read(session, connection.id).is_us
    roles = [r for r in special_roles(order, settings, us) if r != "adjustment"]
    found += special_item_jobs(session, connection, settings, roles, order)
    return found


# --- one function per record type -------------------------------------------------------------------


def _customer(
    session: Session,
    connection: Connection,
    settings: SyncSettings,
    customer: Customer,
    data: dict[str, Any],
    event: str,
) -> QueueJob | None:
    if settings.proxy_customer and settings.proxy_customer_for == "all":
        return None  # orders all go to the proxy customer: store customers are not needed
    key = mappings.customer_key(customer)
    return jobs.enqueue(
        session,
        connection.id,
        "customer",
        {"record": data, "event": event},
        record_type="customer",
        record_id=key,
        label=_label("customer", data),
        coalesce_key=coalesce_key("customer", key),
        priority=JOB_KINDS["customer"][1],
    )


def _product(
    session: Session, connection: Connection, product: Product, data: dict[str, Any], event: str
) -> QueueJob:
    key = mappings.product_key(product.product_id, product.variant_id, product.sku, product.name)
    return jobs.enqueue(
        session,
        connection.id,
        "item",
        {"record": data, "event": event},
        record_type="product",
        record_id=key,
        label=_label("product", data),
        coalesce_key=coalesce_key("product", key),
        priority=JOB_KINDS["product"][1],
    )


def _order_payload(
    data: dict[str, Any], event: str, unconfirmed: str | None, decision: rules.OrderDecision | None = None
) -> dict[str, Any]:
    """An order job's payload; ``unconfirmed`` (see :func:`record_changed`) rides along when set, and the
    rules' decision on a new order (made here, once: the handler and the stock counts read it)."""
    payload: dict[str, Any] = {"record": data, "event": event}
    if unconfirmed:
        payload["unconfirmed"] = unconfirmed
    if decision is not None:
        payload[rules.DECISION] = decision.to_dict()
    return payload


def _order(
    session: Session,
    connection: Connection,
    settings: SyncSettings,
    order: Order,
    data: dict[str, Any],
    event: str,
    unconfirmed: str | None = None,
) -> QueueJob | None:
    """Queue the order (``data`` is ``order.to_dict()``, what its job's payload carries)."""
    order_id = record_id_of("order", data)
    key = coalesce_key("order", order_id)
    mapping = mappings.get(session, connection.id, mappings.ORDER, order_id)
    txn_type = mapping.qb_type if mapping is not None else None
    decision = None
    if mapping is None:
        decision = rules.decide_order(order, settings)
        if not decision.sync:
            # Not for QuickBooks (yet). An unsent job of an earlier version learns why at build time.
            if jobs.find_open(session, connection.id, key) is None:
                jobs.record_left_out(session, connection.id, "order",
                                     _order_payload(data, event, None, decision),
                                     record_type="order", record_id=order_id, label=_label("order", data),
                                     coalesce_key=key, rule=decision.reason)
                return None
            return jobs.enqueue(
                session, connection.id, "order", _order_payload(data, event, unconfirmed, decision),
                coalesce_key=key,
            )
        txn_type = decision.txn_type
    # An order the company cannot book (its currency) waits for a person: nothing is added for it.
    facts = company_facts.read(session, connection.id)
    cannot = mapping is None and company_facts.currency_problem(order.currency, facts)
    # A new order's customer is chosen again when its job first plans it (the same answer unless the
    # settings or the customer list changed meanwhile); a sale in QuickBooks keeps its own.
    choice = (
        choose_customer(session, connection, settings, order, link=False)
        if mapping is None and not cannot
        else None
    )
    depends = [] if cannot else order_dependencies(session, connection, settings, order, choice)
    bulk: _Bulk | None = session.info.get(_BULK)
    if bulk is not None and bulk.is_new(key):
        job = bulk.add(
            session,
            QueueJob(
                connection_id=connection.id,
                kind="order",
                payload=_order_payload(data, event, unconfirmed, decision),
                record_type="order",
                record_id=order_id,
                label=_label("order", data),
                coalesce_key=key,
                priority=JOB_KINDS["order"][1],
                state="pending",
            ),
            depends,
        )
    else:
        if bulk is not None:
            bulk.write(session)  # the jobs queued so far must be visible to enqueue's look-up
        job = jobs.enqueue(
            session,
            connection.id,
            "order",
            _order_payload(data, event, unconfirmed, decision),
            record_type="order",
            record_id=order_id,
            label=_label("order", data),
            coalesce_key=key,
            priority=JOB_KINDS["order"][1],
            depends_on=depends,
        )
    if bulk is not None and txn_type and rules.wants_payment(order, txn_type, settings):
        bulk.write(session)  # the payment job refers to the order job's id
    if (
        txn_type
        and rules.wants_payment(order, txn_type, settings)
        and mappings.get(session, connection.id, mappings.PAYMENT, order_id) is None
    ):
        jobs.enqueue(
            session,
            connection.id,
            "payment",
            {"order_id": order_id, "record": data},
            record_type="payment",
            record_id=order_id,
            label=f"payment of order {data.get('number')}",
            coalesce_key=coalesce_key("payment", order_id),
            priority=PAYMENT_PRIORITY,
            depends_on=[job],
        )
    _attach_waiting_refunds(session, connection.id, order_id, job)
    return job


class _Bulk:
    """Order jobs of one :func:`record_changed_many` call, written to the table together."""

    def __init__(self, active_keys: set[str]) -> None:
        self.active_keys = active_keys  # coalescing keys that already have an unfinished job
        self.pending: list[tuple[QueueJob, list[QueueJob]]] = []

    def is_new(self, key: str) -> bool:
        return key not in self.active_keys

    def add(self, session: Session, job: QueueJob, depends: list[QueueJob]) -> QueueJob:
        session.add(job)
        self.pending.append((job, depends))
        self.active_keys.add(str(job.coalesce_key))
        return job

    def write(self, session: Session) -> None:
        """Insert the pending jobs (one statement batch), then their dependencies."""
        if not self.pending:
            return
        session.flush()
        for job, depends in self.pending:
            for dep in {d.id: d for d in depends}.values():
                session.add(JobDependency(job_id=job.id, depends_on_id=dep.id))
                if dep.state not in jobs.FINISHED_STATES and job.state == "pending":
                    job.state = "waiting"
                    job.reason = f"waiting for job #{dep.id} ({dep.label or dep.kind})"
        self.pending = []
        session.flush()


_BULK = "qbsync.intake.bulk"


def record_changed_many(
    session: Session,
    connection: Connection,
    record_type: str,
    records: Iterable[Record],
    event: str = "updated",
) -> list[QueueJob | None]:
    """:func:`record_changed` for many records at once (the backfill), in a few queries per batch.

    The result is the same as calling :func:`record_changed` for each record in turn; if another process
    queues one of the same records meanwhile, the batch is redone one record at a time.
    """
    records = list(records)
    if record_type != "order" or len(records) < 2:
        return [record_changed(session, connection, record_type, r, event) for r in records]
    given = [_AsIs(r) for r in records]
    try:
        with session.begin_nested(), session.no_autoflush:
            _preload_orders(session, connection, [r.order() for r in given])
            bulk = session.info[_BULK] = _Bulk(session.info.pop(_ACTIVE_KEYS))
            try:
                results = [record_changed(session, connection, record_type, r, event) for r in given]
                bulk.write(session)
            finally:
                session.info.pop(_BULK, None)
                session.info.pop(_RECORDS_ABSENT, None)
        return results
    except IntegrityError:
        for key in (_JOBS_SEEN, _RECORDS_SEEN, _RECORDS_ABSENT, mappings.CACHE):
            session.info.pop(key, None)
        return [record_changed(session, connection, record_type, r, event) for r in records]


_ACTIVE_KEYS = "qbsync.intake.active_keys"


class _AsIs:
    """A record turned into its dict once (the batch reads both)."""

    def __init__(self, record: Record) -> None:
        self.record = record
        self.data = record.to_dict()

    def to_dict(self) -> dict[str, Any]:
        return self.data

    def order(self) -> Order:
        """The record as an ``Order``."""
        return self.record if isinstance(self.record, Order) else Order.from_dict(self.data)


def _preload_orders(session: Session, connection: Connection, orders: list[Order]) -> None:
    """Load in a few queries what queueing these orders reads: stored versions, mappings, open jobs."""
    conn_id = connection.id
    settings = SyncSettings(connection.settings)
    ids = [order.storefront_id for order in orders]
    seen_records: dict[tuple[int, str, str], StorefrontRecord] = session.info.setdefault(_RECORDS_SEEN, {})
    for start in range(0, len(ids), 500):
        for row in session.scalars(
            select(StorefrontRecord).where(
                StorefrontRecord.connection_id == conn_id,
                StorefrontRecord.record_type == "order",
                StorefrontRecord.record_id.in_(ids[start : start + 500]),
            )
        ):
            seen_records[(conn_id, "order", row.record_id)] = row
    session.info[_RECORDS_ABSENT] = {(conn_id, "order", i) for i in ids} - set(seen_records)
    customer_keys = set()
    for order in orders:
        customer = order.customer
        customer_keys.add(mappings.customer_key(customer))  # its own, or a guest's found by e-mail
        if rules.customer_is_proxied(customer, settings):
            customer_keys.add(mappings.proxy_key(str(settings.proxy_customer)))
    product_keys = {
        mappings.product_key(line.product_id, line.variant_id, line.sku, line.name)
        for order in orders
        for line in order.lines
    }
    from qbsync.queue.handlers.items import SPECIAL_ITEMS

    special = [*SPECIAL_ITEMS, sales_tax.ZERO_ROLE] + [
        item.role for order in orders for item, _ in sales_tax.order_tax_items(order)
    ]
    mappings.preload(
        session,
        conn_id,
        [(mappings.ORDER, i) for i in ids]
        + [(mappings.PAYMENT, i) for i in ids]
        + [(mappings.CUSTOMER, k) for k in customer_keys]
        + [(mappings.PRODUCT, k) for k in product_keys]
        + [(mappings.SPECIAL_ITEM, role) for role in special],
    )
    keys = (
        [coalesce_key("order", i) for i in ids]
        + [coalesce_key("customer", k) for k in customer_keys]
        + [coalesce_key("product", k) for k in product_keys]
        + [coalesce_key("special_item", role) for role in special]
    )
    seen_jobs: dict[tuple[int, str], QueueJob] = session.info.setdefault(_JOBS_SEEN, {})
    active: set[str] = set()
    for start in range(0, len(keys), 500):
        for job in session.scalars(
            select(QueueJob)
            .where(
                QueueJob.connection_id == conn_id,
                QueueJob.coalesce_key.in_(keys[start : start + 500]),
                QueueJob.state.in_((*jobs.ACTIVE_STATES, "parked")),
            )
            .order_by(QueueJob.id)
        ):
            seen_jobs[(conn_id, str(job.coalesce_key))] = job
            if job.state in jobs.ACTIVE_STATES:
                active.add(str(job.coalesce_key))
    session.info[_ACTIVE_KEYS] = active


def _attach_waiting_refunds(session: Session, connection_id: int, order_id: str, order_job: QueueJob) -> None:
    """Refunds that arrived before their order now wait for the order's job."""
    cache = session.info.setdefault("qbsync.intake.waiting_refunds", {})
    if connection_id not in cache:
        # Refunds start waiting for their order only while a round trip is built, never during intake.
        cache[connection_id] = list(
            session.scalars(
                select(QueueJob).where(
                    QueueJob.connection_id == connection_id,
                    QueueJob.kind == "refund",
                    QueueJob.state == "waiting",
                )
            )
        )
    for refund_job in cache[connection_id]:
        if refund_job.state != "waiting":
            continue
        if str((refund_job.payload.get("record") or {}).get("order_id")) == order_id:
            jobs.add_dependency(session, refund_job, order_job)


def _refund(
    session: Session, connection: Connection, settings: SyncSettings, data: dict[str, Any], event: str
) -> QueueJob | None:
    if not settings.sync_refunds:
        return None
    refund_id = record_id_of("refund", data)
    order_job = jobs.find_open(
        session, connection.id, coalesce_key("order", str(data.get("order_id"))), include_in_flight=True
    )
    return jobs.enqueue(
        session,
        connection.id,
        "refund",
        {"record": data, "event": event},
        record_type="refund",
        record_id=refund_id,
        label=f"refund {refund_id} of order {data.get('order_id')}",
        coalesce_key=coalesce_key("refund", refund_id),
        priority=JOB_KINDS["refund"][1],
        depends_on=[order_job] if order_job is not None else (),
    )


def _stock(
    session: Session,
    connection: Connection,
    settings: SyncSettings,
    data: dict[str, Any],
    record_id: str,
    event: str,
) -> QueueJob | None:
    if rules.stock_master(data.get("sku"), settings) != "storefront" or data.get("quantity") is None:
        return None  # QuickBooks is the master (or nobody is): store stock changes are not pushed
    depends = []
    key = mappings.product_key(data.get("product_id"), data.get("variant_id"), data.get("sku"))
    item_job = jobs.find_open(session, connection.id, coalesce_key("product", key), include_in_flight=True)
    if item_job is not None:
        depends.append(item_job)
    return jobs.enqueue(
        session,
        connection.id,
        "inventory_adjustment",
        {"record": data, "event": event},
        record_type="stock",
        record_id=record_id,
        label=f"stock of {data.get('sku') or key}",
        coalesce_key=coalesce_key("stock", record_id),
        priority=JOB_KINDS["stock"][1],
        depends_on=depends,
    )


def _deleted(
    session: Session,
    connection: Connection,
    settings: SyncSettings,
    record_type: str,
    data: dict[str, Any],
    unconfirmed: str | None = None,
) -> QueueJob | None:
    """A deleted order is voided like a cancelled one; other deletions leave QuickBooks as it is."""
    if record_type != "order" or not settings.void_cancelled_orders:
        return None
    order_id = str(data.get("id") or data.get("storefront_id") or "")
    mapping = mappings.get(session, connection.id, mappings.ORDER, order_id) if order_id else None
    if mapping is None:
        return None
    last_known = {k: v for k, v in data.items() if k not in ("id", "deleted")}
    return jobs.enqueue(
        session,
        connection.id,
        "order",
        _order_payload(last_known, "deleted", unconfirmed),
        record_type="order",
        record_id=order_id,
        label=f"order {mapping.qb_name or order_id}",
        coalesce_key=coalesce_key("order", order_id),
        priority=JOB_KINDS["order"][1],
    )


def _label(record_type: str, data: Mapping[str, Any]) -> str:
    if record_type == "order":
        return f"order {data.get('number') or data.get('storefront_id') or data.get('id')}"
    if record_type == "customer":
        name = " ".join(p for p in (data.get("first_name"), data.get("last_name")) if p)
        return f"customer {name or data.get('email') or data.get('storefront_id') or data.get('id')}"
    if record_type == "product":
        return f"item {data.get('sku') or data.get('name') or data.get('product_id')}"
    return f"{record_type} {data.get('storefront_id') or data.get('id')}"
