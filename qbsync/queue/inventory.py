"""Inventory pulls: when to pull, from which moment, what QuickBooks' quantities mean for the store.

The incremental checkpoint is QuickBooks' own TimeModified of the newest change seen, kept as QuickBooks
wrote it and sent back in the same form: QuickBooks writes its machine's clock time (which follows daylight
saving time) with the zone's standard offset all year, and reads a filter's clock time as its local time
(jsgoupil/quickbooks-sync issue #19 and pull request #28: "The DateTime is otherwise accurate (follows DST),
but the offset does not follow DST"). Converted to UTC, a summer checkpoint would be an hour late, and sent
as UTC it would be read as a local clock time hours ahead: changes in between would be skipped.
QuickBooks does not mark an item modified when a sale moves its quantity, so a full pull runs
every ``inventory_full_pull_hours`` as well.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import bindparam, exists, func, select
from sqlalchemy.orm import Session

from qbsync.queue import jobs, mappings, rules
from qbsync.queue.handlers import notes_of
from qbsync.storage import checkpoints
from qbsync.storage.models import (
    Checkpoint,
    IdMapping,
    JobDependency,
    QbwcSession,
    QueueJob,
    StorefrontRecord,
)
from qbsync.storefronts.records import LastKnownOrder, Order, Product

PULL_KIND = "inventory_pull"
PULL_PRIORITY = 90  # after the orders of the session, so quantities include their sales
WRITEBACK_KIND = "stock_writeback"
WRITEBACK_PRIORITY = 100
# Newest TimeModified seen, as QuickBooks wrote it. (A new name: the old "inventory_pull" held UTC, which
# must not be sent back, so the first pull after the upgrade is a full one.)
CHECKPOINT = "inventory_pull_qb_clock"
FULL_PULL = "inventory_full_pull"  # when the last full pull finished, UTC
PLANNED = "inventory_pull_planned"  # when a pull was last queued, UTC
# Clock times repeat for an hour when daylight saving time ends: starting an hour and a minute before the
# newest change seen re-reads that hour instead of skipping it (re-read items write back nothing new).
OVERLAP = timedelta(hours=1, minutes=1)
RETURNED_FIELDS = ["ListID", "FullName", "TimeModified", "QuantityOnHand", "QuantityOnSalesOrder", "IsActive"]


# --- checkpoints ----------------------------------------------------------------------------------


def read_moment(session: Session, connection_id: int, name: str) -> datetime | None:
    """A stored checkpoint as an aware UTC datetime, or None."""
    value = checkpoints.read(session, connection_id, name)
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def save_moment(
    session: Session, connection_id: int, name: str, moment: datetime, as_written: bool = False
) -> None:
    """Store a checkpoint: our own moments in UTC; ``as_written`` keeps a QuickBooks time's offset."""
    value = moment.isoformat() if as_written else moment.astimezone(UTC).isoformat()
    checkpoints.save(session, connection_id, name, value)


def qb_moment(text: Any) -> datetime | None:
    """A QuickBooks DATETIMETYPE kept as QuickBooks wrote it (clock time and offset, never converted: the
    offset is the zone's standard one all year); times of one company compare by their clock time.
    None when unreadable."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(str(text).strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def from_modified_date(checkpoint: datetime | None) -> datetime | None:
    """Where an incremental pull starts: :data:`OVERLAP` before the newest change seen, in QuickBooks' own
    form (its clock time and the offset it writes)."""
    return None if checkpoint is None else checkpoint - OVERLAP


def as_utc(naive_or_aware: datetime) -> datetime:
    """Naive UTC (the tables' clock) or aware, as aware UTC."""
    return (
        naive_or_aware.replace(tzinfo=UTC)
        if naive_or_aware.tzinfo is None
        else naive_or_aware.astimezone(UTC)
    )


# --- planning -------------------------------------------------------------------------------------


def pull_due(
    session: Session, connection_id: int, settings: Mapping[str, Any], now: datetime, in_session: bool = True
) -> bool:
    """Whether an inventory pull should be queued now (QuickBooks masters some stock, items are mapped).

    With ``inventory_pull_minutes`` 0 the pull rides along with every session that has other work
    (``in_session``), rather than opening sessions of its own.
    """
    if not rules.pulls_stock(settings):
        return False
    # Asked before every round trip, and not due in nearly all of them: the questions are asked from the
    # one that most often says no for fewest reads (is it time, are there stock items) to the queue's
    # two reads (is a pull queued or in flight).
    if not _pull_time(session, connection_id, settings, now, in_session):
        return False
    if not session.scalar(_HAS_STOCK_ITEMS, {"connection_id": connection_id}):
        return False
    return jobs.find_open(session, connection_id, PULL_KIND, include_in_flight=True) is None


_HAS_STOCK_ITEMS = select(exists().where(
    IdMapping.connection_id == bindparam("connection_id"), IdMapping.record_type == mappings.PRODUCT,
    IdMapping.qb_type == "ItemInventory"))


def _pull_time(session: Session, connection_id: int, settings: Mapping[str, Any], now: datetime,
               in_session: bool) -> bool:
    """Whether the last pull planned is old enough for another (:func:`pull_due`)."""
    planned = read_moment(session, connection_id, PLANNED)
    if planned is None:
        return True
    minutes = int(settings["inventory_pull_minutes"])
    if minutes > 0:
        return as_utc(now) - planned >= timedelta(minutes=minutes)
    if not in_session:
        return False
    # 0: once per Web Connector session.
    started = session.scalar(
        select(func.max(QbwcSession.started_at)).where(
            QbwcSession.connection_id == connection_id, QbwcSession.state == "active"
        )
    )
    return started is not None and as_utc(started) > planned


def request_pull(session: Session, connection_id: int, now: datetime) -> QueueJob:
    """Queue an inventory pull (one at a time per connection)."""
    save_moment(session, connection_id, PLANNED, as_utc(now))
    return jobs.enqueue(
        session,
        connection_id,
        PULL_KIND,
        {},
        label="pull inventory from QuickBooks",
        coalesce_key=PULL_KIND,
        priority=PULL_PRIORITY,
        now=now,
    )


def full_pull_due(session: Session, connection_id: int, settings: Mapping[str, Any], now: datetime) -> bool:
    """Whether this pull reads every inventory item (no checkpoint yet, or the last full pull is old)."""
    if read_moment(session, connection_id, CHECKPOINT) is None:
        return True
    last_full = read_moment(session, connection_id, FULL_PULL)
    hours = int(settings["inventory_full_pull_hours"])
    return last_full is None or as_utc(now) - last_full >= timedelta(hours=hours)


# --- what a page of items means --------------------------------------------------------------------


def quantity_of(ret: Mapping[str, Any], mode: str) -> Decimal | None:
    """The quantity to give the store: on hand, or on hand minus what sales orders hold ('available')."""
    try:
        on_hand = Decimal(str(ret.get("QuantityOnHand") or "0"))
        if mode == "available":
            on_hand -= Decimal(str(ret.get("QuantityOnSalesOrder") or "0"))
    except InvalidOperation:
        return None
    return on_hand


def _products(session: Session, connection_id: int, keys: Iterable[str]) -> dict[str, Product]:
    """The stored product of each of ``keys`` (mapping keys) that qbsync knows."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = session.execute(
        select(StorefrontRecord.record_id, StorefrontRecord.data).where(
            StorefrontRecord.connection_id == connection_id,
            StorefrontRecord.record_type == "product",
            StorefrontRecord.record_id.in_(wanted),
        )
    )
    found = {record_id: Product.from_dict(data) for record_id, data in rows if data}
    missing = [key for key in wanted if key not in found]
    if missing:
        # Products known only from order lines: their item job carried the ids.
        for record_id, payload in session.execute(
            select(QueueJob.record_id, QueueJob.payload)
            .where(
                QueueJob.connection_id == connection_id,
                QueueJob.kind == "item",
                QueueJob.record_type == "product",
                QueueJob.record_id.in_(missing),
            )
            .order_by(QueueJob.id)
        ):
            if (payload or {}).get("record"):
                found[record_id] = Product.from_dict(payload["record"])
    return found


def apply_page(
    session: Session,
    connection_id: int,
    settings: Mapping[str, Any],
    rets: list[Mapping[str, Any]],
    now: datetime,
) -> tuple[int, datetime | None]:
    """Queue a stock write-back for every mapped product whose QuickBooks quantity changed.

    Returns how many write-backs were queued and the newest TimeModified of the page.
    """
    newest = max((m for m in (qb_moment(r.get("TimeModified")) for r in rets) if m is not None), default=None)
    by_item: dict[str, Mapping[str, Any]] = {str(r["ListID"]): r for r in rets if r.get("ListID")}
    linked = mappings.by_qb_ids(session, connection_id, by_item, record_type=mappings.PRODUCT)
    products = _products(session, connection_id, (m.storefront_id for m in linked))
    queued = 0
    for mapping in linked:
        quantity = quantity_of(by_item[mapping.qb_id], settings["stock_quantity"])
        if quantity is None:
            continue
        product = products.get(mapping.storefront_id)
        if rules.stock_master(product.sku if product else None, settings) != "quickbooks":
            continue
        known = _decimal(mapping.quantity)
        if known is not None and known == quantity:
            continue
        mapping.quantity = format(quantity.normalize(), "f")
        queue_writeback(session, connection_id, mapping, product, quantity, now)
        queued += 1
    return queued, newest


def _decimal(text: str | None) -> Decimal | None:
    try:
        return Decimal(text) if text not in (None, "") else None
    except InvalidOperation:
        return None


def _quantity(value: Any) -> Decimal:
    """A quantity as the store or a job's payload gives it (number, text or nothing): zero when missing
    or unreadable."""
    return _decimal(str(value)) or Decimal(0)  # str(None) is not a number: zero


def queue_writeback(
    session: Session,
    connection_id: int,
    mapping: IdMapping,
    product: Product | None,
    quantity: Decimal,
    now: datetime,
) -> QueueJob:
    """Queue writing ``quantity`` to the store for one product (a newer pull's quantity replaces it;
    ``product`` None when qbsync knows only its key)."""
    from qbsync.queue import writeback

    key = mapping.storefront_id
    variant_id, sku = (product.variant_id, product.sku) if product else (None, None)
    product_id = (product.product_id if product else None) or (None if variant_id else key)
    payload = {
        "product_key": key,
        "product_id": product_id,
        "variant_id": variant_id,
        "sku": sku,
        "inventory_item_id": product.inventory_item_id if product else None,
        "quantity": format(quantity.normalize(), "f"),
        "item_list_id": mapping.qb_id,
        "item": mapping.qb_name,
    }
    job = jobs.enqueue(
        session,
        connection_id,
        WRITEBACK_KIND,
        payload,
        record_type="product",
        record_id=key,
        label=f"stock of {sku or mapping.qb_name or key}: {payload['quantity']}",
        coalesce_key=f"{WRITEBACK_KIND}:{key}",
        priority=WRITEBACK_PRIORITY,
        now=now,
    )
    writeback.dispatch_after_commit(session, job)
    return job


# --- the opening stock of a new item ----------------------------------------------------------------

# Sales forms that take stock out of QuickBooks when they post; a sales order only reserves it.
STOCK_MOVING = ("Invoice", "SalesReceipt")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class OpeningStock:
    """What a new inventory item starts with in QuickBooks.

    ``quantity`` is the store's stock plus what the store's orders not yet in QuickBooks will take out
    when they post (the store counted them already); ``value`` is at the product's cost, zero when the
    store has none (``has_cost`` False); ``as_of`` is the InventoryDate.
    """

    quantity: Decimal
    value: Decimal
    as_of: date
    has_cost: bool
    added_back: tuple[str, ...]  # numbers of the orders whose quantity was added back
    # The same orders' storefront ids and the quantity added back for each (see save_waiting).
    waiting: tuple[tuple[str, Decimal], ...] = ()


def sold_in(order: Order | LastKnownOrder, product_key: str, settings: Mapping[str, Any]) -> Decimal:
    """How many of the product ``product_key`` the order's lines sell from stock: a gift card line
    (``rules.is_gift_card_sale``) is never stock, whatever product it names."""
    return sold_by_product(order, settings).get(product_key, Decimal(0))


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return as_utc(moment)


def opening_stock(
    product: Product,
    product_key: str,
    unposted: Iterable[Order],
    settings: Mapping[str, Any],
    now: datetime,
    cost: Decimal | None,
    decisions: Mapping[str, rules.OrderDecision] | None = None,
) -> OpeningStock:
    """The opening stock of the new item of ``product`` (pure).

    ``decisions`` holds the rules' decision made for each order at intake (by storefront id); an order
    without one is decided here.

    The store's stock (as of the product's ``modified_at``) already reflects every order placed by then,
    but those not yet in QuickBooks take their quantity out again when they post: it is added back, so
    QuickBooks ends at the store's stock once they have. An order placed after that moment is not in
    the stock figure and is left as it is; an order that will not post a stock-moving transaction
    (left out, or a sales order) is not added back either.
    """
    stock = product.stock_quantity or Decimal(0)
    snapshot = product.modified_at
    added = Decimal(0)
    numbers: list[str] = []
    waiting: list[tuple[str, Decimal]] = []
    dates = [(snapshot or as_utc(now)).date()]
    for order in unposted:
        quantity = sold_in(order, product_key, settings)
        placed = order.created_at
        if not quantity or (snapshot is not None and placed > snapshot):
            continue
        decision = (decisions or {}).get(order.storefront_id)
        # Only an order whose job carries no decision (queued while linked, and unlinked since) is
        # decided here: unposted_orders hands over intake's decision for every other.
        decision = decision or rules.decide_order(order, settings)
        if not decision.sync or decision.txn_type not in STOCK_MOVING:
            continue
        added += quantity
        numbers.append(order.number or order.storefront_id)
        waiting.append((order.storefront_id, quantity))
        dates.append(placed.date())
    quantity = stock + added
    value = (cost * quantity).quantize(CENT) if cost is not None and quantity > 0 else Decimal("0.00")
    # A day before the earliest sale it covers: the sale's date is taken in the store's time zone,
    # which can be a day behind UTC, and a sale dated before the opening stock would be costed at zero.
    return OpeningStock(
        quantity, value, min(dates) - timedelta(days=1), cost is not None, tuple(numbers), tuple(waiting)
    )


def unposted_orders(
    session: Session, connection_id: int, item_job_id: int
) -> list[tuple[Order, rules.OrderDecision | None]]:
    """The orders waiting for the item job ``item_job_id`` that are not in QuickBooks yet (newest data),
    each with the rules' decision intake made for it (None when it made none)."""
    rows = session.execute(
        select(QueueJob.record_id, QueueJob.payload)
        .join(JobDependency, JobDependency.job_id == QueueJob.id)
        .where(
            JobDependency.depends_on_id == item_job_id,
            QueueJob.connection_id == connection_id,
            QueueJob.kind == "order",
            QueueJob.state.not_in(jobs.FINISHED_STATES),
        )
        .order_by(QueueJob.id)
    ).all()
    orders = []
    for record_id, payload in rows:
        if mappings.get(session, connection_id, mappings.ORDER, str(record_id)) is not None:
            continue  # already in QuickBooks: its sale is counted there
        order = _live_order(payload)
        if order is not None:
            orders.append((order, rules.decision_of(payload or {})))
    return orders


def _live_order(payload: Mapping[str, Any] | None) -> Order | None:
    """The order an order job carries, or None for a deleted order's job (only what was last known of
    it: it is being voided, never posts a sale)."""
    if not payload or payload.get("event") == "deleted":
        return None
    return Order.from_dict(payload.get("record") or {})


# --- store-mastered stock: differences, never "set to" ----------------------------------------------

BASELINE = "stock_seen:"  # + the item's ListID: the store's stock QuickBooks accounts for, and as of when
# What set it: the item's opening stock (ItemInventoryAdd), or a store count sent as an adjustment.
OPENING, COUNT = "opening", "count"


def read_baseline(session: Session, connection_id: int, list_id: str) -> tuple[Decimal, datetime] | None:
    """(store stock, as of when) QuickBooks already accounts for, sales included, or None when unknown."""
    found = _baseline(session, connection_id, list_id)
    return None if found is None else (found[0], found[1])


def _baseline(session: Session, connection_id: int, list_id: str) -> tuple[Decimal, datetime, str] | None:
    value = checkpoints.read(session, connection_id, f"{BASELINE}{list_id}")
    if not value:
        return None
    quantity, _, rest = value.partition("@")
    moment, _, origin = rest.partition("@")
    found = _decimal(quantity)
    if found is None:
        return None
    return found, as_utc(datetime.fromisoformat(moment)), origin or OPENING


def save_baseline(
    session: Session,
    connection_id: int,
    list_id: str,
    quantity: Decimal,
    moment: datetime,
    origin: str = OPENING,
    store_counts: bool = True,
) -> None:
    """Remember that QuickBooks accounts for the store's ``quantity`` as of ``moment``, set by the item's
    opening stock (:data:`OPENING`) or a store count (:data:`COUNT`). ``store_counts``: the store masters
    the item's stock, so its next count nets what qbsync books after ``moment`` (:func:`book_moves`)."""
    checkpoints.save(session, connection_id, f"{BASELINE}{list_id}",
                     f"{format(quantity.normalize(), 'f')}@{as_utc(moment).isoformat()}@{origin}")
    if store_counts:
        # What was booked by this moment is in the count now; what was booked for a later one is not.
        moves = _read_moves(session, connection_id, list_id) or {}
        _save_moves(session, connection_id, list_id,
                    {key: move for key, move in moves.items() if move[1] > as_utc(moment)})


def sold_between(
    session: Session,
    connection_id: int,
    product_key: str,
    settings: Mapping[str, Any],
    after: datetime,
    until: datetime,
    posted_too: bool = True,
) -> tuple[Decimal, dict[str, Decimal]]:
    """How many of the product the store's orders placed in (``after``, ``until``] sell that post (or
    posted, unless not ``posted_too``) a stock-moving transaction: the store's stock fell by them, and
    QuickBooks' falls by itself. Also those orders not in QuickBooks yet, each with what it sells (see
    :func:`save_waiting`)."""
    rows = session.execute(
        select(StorefrontRecord.record_id, StorefrontRecord.data).where(
            StorefrontRecord.connection_id == connection_id,
            StorefrontRecord.record_type == "order",
            StorefrontRecord.deleted.is_(False),
            # An order placed after ``after`` was modified after it too (naive UTC, the table's clock).
            StorefrontRecord.modified_at >= as_utc(after).replace(tzinfo=None),
        )
    ).all()
    decided = _stored_decisions(session, connection_id, [str(record_id) for record_id, _ in rows])
    orders = [(str(record_id), order or {}, decided.get(str(record_id))) for record_id, order in rows]
    return _sold_from_stock(
        session, connection_id, orders, product_key, settings,
        lambda placed: placed is not None and after < placed <= until, posted_too=posted_too,
    )


def unposted_sold(
    session: Session, connection_id: int, product_key: str, settings: Mapping[str, Any], until: datetime
) -> tuple[Decimal, dict[str, Decimal]]:
    """How many of the product the store's orders placed by ``until`` and not yet in QuickBooks will take
    out of QuickBooks when they post, and those orders (id -> what each takes out)."""
    rows = session.execute(
        select(QueueJob.record_id, QueueJob.payload).where(
            QueueJob.connection_id == connection_id,
            QueueJob.kind == "order",
            QueueJob.state.not_in(jobs.FINISHED_STATES),
        )
    ).all()
    orders = [
        (str(record_id), (payload or {}).get("record") or {}, rules.decision_of(payload or {}))
        for record_id, payload in rows
    ]
    return _sold_from_stock(
        session, connection_id, orders, product_key, settings,
        lambda placed: placed is None or placed <= until, posted_too=False,
    )


def _stored_decisions(
    session: Session, connection_id: int, record_ids: list[str]
) -> dict[str, rules.OrderDecision]:
    """The decision intake made for each of these orders (storefront id -> its newest order job's,
    left-out records included), so the stock counts never decide an order again."""
    found: dict[str, rules.OrderDecision] = {}
    if not record_ids:
        return found
    rows = session.execute(
        select(QueueJob.record_id, QueueJob.payload)
        .where(
            QueueJob.connection_id == connection_id,
            QueueJob.kind == "order",
            QueueJob.record_id.in_(record_ids),
        )
        .order_by(QueueJob.id)
    )
    for record_id, payload in rows:
        decision = rules.decision_of(payload or {})
        if decision is not None:
            found[str(record_id)] = decision
    return found


def _sold_from_stock(
    session: Session,
    connection_id: int,
    orders: Iterable[tuple[str, Mapping[str, Any], rules.OrderDecision | None]],
    product_key: str,
    settings: Mapping[str, Any],
    placed_in: Callable[[datetime | None], bool],
    *,
    posted_too: bool,
) -> tuple[Decimal, dict[str, Decimal]]:
    """How many of the product ``orders`` (storefront id, the order's stored JSON, intake's decision)
    placed when ``placed_in`` says sell from stock in QuickBooks, those already in QuickBooks too when
    ``posted_too``, and those not in QuickBooks yet (id -> how many each sells).

    Each order is read as the :class:`LastKnownOrder` of its JSON (what the count needs, a deleted order's
    part of it too), as a whole :class:`Order` only when it must be decided here."""
    sold = Decimal(0)
    waiting: dict[str, Decimal] = {}
    for record_id, stored, decision in orders:
        order = LastKnownOrder.from_dict(stored)
        quantity = sold_in(order, product_key, settings)
        if not quantity or not placed_in(order.created_at):
            continue
        mapping = mappings.get(session, connection_id, mappings.ORDER, record_id)
        if mapping is not None and not posted_too:
            continue
        if decision is None and mapping is not None:
            # Already in QuickBooks when it was queued (intake decides only new orders): what it posted.
            decision = rules.OrderDecision(True, mapping.qb_type)
        if decision is None:
            # Unavoidable for an order stored without a job that carries a decision (stored before
            # intake kept decisions, or its jobs were cleared away): decided here, as intake would.
            decision = rules.decide_order(Order.from_dict(stored), settings)
        if decision.sync and decision.txn_type in STOCK_MOVING:
            sold += quantity
            if mapping is None:
                waiting[record_id] = waiting.get(record_id, Decimal(0)) + quantity
    return sold, waiting


# --- what qbsync booked between two store counts ---------------------------------------------------

# + the item's ListID: JSON {booking: [quantity, moment]}: how much each stock movement qbsync booked moved
# QuickBooks' stock (a sale negative), and when the store's stock moved by it; kept for the store's next
# count to net, from the baseline's moment on (a baseline saved before it was kept has none).
MOVED = "stock_moved:"


def _read_moves(
    session: Session, connection_id: int, list_id: str
) -> dict[str, tuple[Decimal, datetime]] | None:
    value = checkpoints.read(session, connection_id, f"{MOVED}{list_id}")
    if value is None:
        return None
    kept = json.loads(value) if value else {}
    return {key: (_quantity(quantity), as_utc(datetime.fromisoformat(moment)))
            for key, (quantity, moment) in kept.items()}


def _save_moves(
    session: Session, connection_id: int, list_id: str, moves: Mapping[str, tuple[Decimal, datetime]]
) -> None:
    value = json.dumps({key: [format(quantity.normalize(), "f"), moment.isoformat()]
                        for key, (quantity, moment) in sorted(moves.items())})
    checkpoints.save(session, connection_id, f"{MOVED}{list_id}", value)


def moved_between(
    session: Session, connection_id: int, list_id: str, after: datetime, until: datetime
) -> Decimal | None:
    """How much the stock movements qbsync booked moved QuickBooks' stock of the item, of those the store
    made in (``after``, ``until``] (see :func:`book_moves`); None when the baseline was saved before
    they were kept (its next count nets the sales alone, :func:`sold_between`)."""
    moves = _read_moves(session, connection_id, list_id)
    if moves is None:
        return None
    return sum((quantity for quantity, moment in moves.values() if as_utc(after) < moment <= as_utc(until)),
               Decimal(0))


def book_moves(
    session: Session,
    connection_id: int,
    booking: str,
    moved: Mapping[str, Decimal],
    moment: datetime | None,
) -> dict[str, tuple[Decimal, datetime, str]]:
    """Keep what the ``booking`` just made in QuickBooks moved its stock by (item ListID -> quantity, a
    sale negative), the store's stock having moved by it at ``moment``: the store's next count has it
    already, so its difference nets it, once (stock counted once). Kept only for an item whose stock
    the store counts (its baseline keeps moves) and a moment after the baseline's. The same ``booking``
    again replaces what it kept.

    Returns the movements the last count had already (item ListID -> quantity, that count's moment and
    what set it): its difference took the store's movement in, and QuickBooks has just moved by it
    again; an add-back follows it (:func:`late_sales`, :func:`take_back_restocked`), else
    :func:`correct_counted` takes it out again."""
    missed: dict[str, tuple[Decimal, datetime, str]] = {}
    if moment is None:
        return missed
    for list_id, quantity in moved.items():
        moves = _read_moves(session, connection_id, list_id) if quantity else None
        baseline = _baseline(session, connection_id, list_id) if moves is not None else None
        if moves is None or baseline is None:
            continue
        if as_utc(moment) <= baseline[1]:
            missed[list_id] = (quantity, baseline[1], baseline[2])
            continue
        moves[booking] = (quantity, as_utc(moment))
        _save_moves(session, connection_id, list_id, moves)
    return missed


@dataclass(frozen=True)
class Booked:
    """A stock movement qbsync booked (``booking``, the store's stock having moved at ``moment``) that
    the last store count of some items had already (``missed``, see :func:`book_moves`)."""

    booking: str
    moment: datetime
    missed: Mapping[str, tuple[Decimal, datetime, str]]


def correct_counted(
    session: Session, connection_id: int, order_key: str, order_number: str, booked: Booked, now: datetime
) -> list[QueueJob]:
    """Take out again what a change, void, reversal or refund of the order moved QuickBooks' stock by
    when the store's count QuickBooks last took had it already (its webhook came after the count): the
    count's difference brought QuickBooks to the store's stock, this movement included, so it would
    count twice. Corrected at once, on the count's account -- not left for the next count to net --
    so QuickBooks' quantity on hand is the store's now, as a late sale's add-back makes it, and the
    count's adjustment and its correction cancel out where the count put them, leaving the sale's own
    form (the Mod, void or credit memo) to carry its value. An item whose add-back follows the order
    from a count at or after the movement is left to it (:func:`late_sales`,
    :func:`take_back_restocked`). Each correction reaches QuickBooks once, the same booking again
    changing nothing."""
    if not booked.missed:
        return []
    history = added_back(session, connection_id, order_key)
    done: dict[str, Decimal] = {}
    for payload in _add_back_payloads(session, connection_id, order_key):
        if payload.get("booking") == booked.booking:
            list_id = str(payload.get("item_list_id"))
            done[list_id] = done.get(list_id, Decimal(0)) + _quantity(payload.get("quantity"))
    queued = []
    for list_id, (quantity, counted_at, corrects) in booked.missed.items():
        before = history.get(list_id)
        if before is not None and (before.counted_at is None or booked.moment <= before.counted_at):
            continue
        wanted = -quantity - done.get(list_id, Decimal(0))
        if not wanted:
            continue
        queued.append(_queue_add_back(session, connection_id, f"{ADD_BACK_KIND}:{order_key}:{list_id}:"
                                      f"{booked.booking}", {
            "order_id": order_key,
            "order_number": order_number,
            "item_list_id": list_id,
            "item": _item_name(session, connection_id, list_id),
            "counted_at": counted_at.isoformat(),
            "corrects": corrects,
            "booking": booked.booking,
        }, wanted, now))
    return queued


def _item_name(session: Session, connection_id: int, list_id: str) -> str:
    linked = mappings.by_qb_ids(session, connection_id, [list_id], mappings.PRODUCT)
    return next((m.qb_name for m in linked if m.qb_name), list_id)


def sale_holds(
    order: LastKnownOrder, txn_type: str | None, settings: Mapping[str, Any]
) -> dict[str, Decimal]:
    """What the order's sale holds of the store's stock once ``txn_type`` is written (product key ->
    quantity; pure): nothing when voided (None), cancelled or not a stock-moving form."""
    if txn_type not in STOCK_MOVING or order.status == "cancelled":
        return {}
    return sold_by_product(order, settings)


def _read_holds(text: str) -> dict[str, Decimal]:
    return {key: _quantity(quantity) for key, quantity in json.loads(text).items()}


def keep_holds(session: Session, connection_id: int, order_key: str, holds: Mapping[str, Decimal]) -> None:
    """Keep with the order's link what its sale now holds (:func:`sale_holds`): its next change or
    void moves QuickBooks' stock from there, however long ago the job that wrote it finished."""
    sale = mappings.get(session, connection_id, mappings.ORDER, order_key)
    if sale is not None:
        sale.stock_held = json.dumps({key: format(quantity.normalize(), "f")
                                      for key, quantity in sorted(holds.items())})


def _sale_moves(
    session: Session,
    connection_id: int,
    order_key: str,
    order: LastKnownOrder,
    txn_type: str | None,
    settings: Mapping[str, Any],
    added: bool,
    held_as: str | None,
    restocked: Mapping[str, Decimal] | None,
) -> Booked | None:
    """Keep what the order's sale just moved QuickBooks' stock by for the store's next count
    (:func:`book_moves`): posted (less what a count expected of it while it waited, as of the order's
    change), changed from the version QuickBooks held (kept with the sale's link, :func:`keep_holds`;
    ``held_as``, its fingerprint, finds it in the order's jobs for a sale written before), voided (all it
    held back), or reversed by a credit memo that brings ``restocked`` back (``txn_type`` None). Returns
    a change, void or reversal the last count had already (see :func:`correct_counted`)."""
    if not rules.counts_stock_in_store(settings):
        return None  # (no store count to net it: no look-up)
    placed, changed = order.created_at, order.modified_at
    if txn_type is None and restocked is not None:
        moment = order.cancelled_at or changed
        booking = f"void:{order_key}"
        missed = book_moves(session, connection_id, booking, restocked, moment)
        return Booked(booking, as_utc(moment), missed) if missed and moment is not None else None
    if added:
        # (a first post the last count had already is a late sale: late_sales adds it back)
        if txn_type not in STOCK_MOVING:
            return None
        sold, _ = _inventory_sold(session, connection_id, order, settings, True, ())
        for list_id, quantity in sold.items():
            waiting = read_waiting(session, connection_id, list_id) if quantity else {}
            counted = waiting.get(order_key)
            if order_key in waiting:
                # The count expected its sale: only what the order changed after it moves anew.
                book_moves(session, connection_id, f"sale:{order_key}",
                           {list_id: (quantity if counted is None else counted) - quantity}, changed)
            else:
                book_moves(session, connection_id, f"sale:{order_key}", {list_id: -quantity}, placed)
        return None
    sale = mappings.get(session, connection_id, mappings.ORDER, order_key)
    if sale is None or sale.qb_type not in STOCK_MOVING:
        return None
    if sale.stock_held is not None:
        holds = _read_holds(sale.stock_held)
    else:
        before = _booked_version(session, connection_id, order_key, held_as)
        if before is None and txn_type is not None:
            return None  # (the version QuickBooks held is unknown: what the change moved is too)
        holds = sold_by_product(before or order, settings)
    held, _ = _items_sold(session, connection_id, holds, ())
    now, _ = _items_sold(session, connection_id, sale_holds(order, txn_type, settings), ())
    moved = {list_id: held.get(list_id, Decimal(0)) - now.get(list_id, Decimal(0))
             for list_id in {*held, *now}}
    if txn_type is None:
        booking, moment = f"void:{order_key}", order.cancelled_at or changed
    else:
        booking, moment = f"change:{changed.isoformat() if changed else ''}:{order_key}", changed
    missed = book_moves(session, connection_id, booking, moved, moment)
    return Booked(booking, as_utc(moment), missed) if missed and moment is not None else None


def _booked_version(
    session: Session, connection_id: int, order_key: str, fingerprint: str | None
) -> LastKnownOrder | None:
    """The version of the order QuickBooks' sale holds, by the fingerprint the sale was last written with
    (the order job that wrote it keeps it in its notes), for a sale written before its link kept what it
    holds (:func:`keep_holds`); None when unknown (that job is gone)."""
    if not fingerprint:
        return None
    for notes, payload in session.execute(
        select(QueueJob.progress, QueueJob.payload)
        .where(
            QueueJob.connection_id == connection_id,
            QueueJob.kind == "order",
            QueueJob.record_id == order_key,
        )
        .order_by(QueueJob.id.desc())
    ):
        if (notes_of(notes, payload) or {}).get("hash") == fingerprint:
            return LastKnownOrder.from_dict(payload.get("record") or {})
    return None


# --- a sale the store's count already had, reaching QuickBooks late ---------------------------------

WAITING = "stock_waiting:"  # + the item's ListID: JSON {order id: quantity} the baseline expects to post
# + the order's id: JSON {item ListID: what the baseline added back for it while it waited}, kept from the
# moment it posts, so a later change, refund or cancellation it had by the count follows it (AddedBack).
COUNTED = "stock_counted:"
ADD_BACK_KIND = "stock_add_back"
ADD_BACK_PRIORITY = 75  # with the store's stock changes, after the orders that move stock


def read_waiting(session: Session, connection_id: int, list_id: str) -> dict[str, Decimal | None]:
    """The orders (storefront id -> the quantity added back) placed by the baseline's moment whose posting
    the baseline already expects: their sale was added back (or counted) when QuickBooks took the store's
    count. The quantity is None where the baseline was saved before it was kept."""
    value = checkpoints.read(session, connection_id, f"{WAITING}{list_id}")
    return waiting_counts(json.loads(value)) if value else {}


def waiting_counts(value: Mapping[str, Any] | Iterable[str] | None) -> dict[str, Decimal | None]:
    """Waiting orders as a checkpoint or a job's notes hold them: id -> quantity (a plain list of ids, as
    kept before the quantities were, gives None for each)."""
    if isinstance(value, Mapping):
        return {str(key): _decimal(None if count is None else str(count)) for key, count in value.items()}
    return dict.fromkeys((str(key) for key in value or ()), None)


def waiting_notes(counts: Mapping[str, Decimal | None]) -> dict[str, str | None]:
    """Waiting orders (id -> quantity) in the JSON form a checkpoint or a job's notes keep, by id."""
    return {key: None if count is None else format(count.normalize(), "f")
            for key, count in sorted(counts.items())}


def save_waiting(
    session: Session, connection_id: int, list_id: str, orders: Mapping[str, Any] | Iterable[str]
) -> None:
    """Remember which orders placed by the baseline's moment the baseline expects to post, and how many of
    the item it added back for each (what a refund or cancellation before the count can take back)."""
    checkpoints.save(session, connection_id, f"{WAITING}{list_id}",
                     json.dumps(waiting_notes(waiting_counts(orders))))


@dataclass(frozen=True)
class LateSale:
    """How much of an order's sale of an item to add back now (negative: to take out again): the store's
    count QuickBooks accounts for was taken after the order was placed, so it already lacked the sale,
    and the order's transaction takes it out of QuickBooks a second time.

    ``counted_at`` is that count's moment and ``corrects`` what set it (:data:`OPENING` or :data:`COUNT`,
    which decides the account, see :func:`add_back_account`)."""

    list_id: str
    item: str
    quantity: Decimal
    counted_at: datetime
    corrects: str


@dataclass(frozen=True)
class AddedBack:
    """What was added back (or queued to be) for one item of one order, and against which count.

    ``restocked``: how much of that (zero or less) the order's refunds took out again, having put the
    item back on the shelf before the count (``refunds``: their ids), see :func:`take_back_restocked`."""

    quantity: Decimal
    item: str
    counted_at: datetime | None
    corrects: str
    restocked: Decimal = Decimal(0)
    refunds: frozenset[str] = frozenset()

    def held(self, sold: Decimal) -> Decimal:
        """What the count took out for the order when it holds ``sold``: less what its refunds had put
        back on the shelf by then."""
        return max(sold + self.restocked, Decimal(0))


def add_back_change(
    held: Decimal,
    placed: datetime | None,
    changed: datetime | None,
    counted_at: datetime,
    added: Decimal | None,
) -> Decimal:
    """How much more of one item to add back for one order (negative: to take out again); pure.

    The add-back is what the store's count at ``counted_at`` already took out for the order: the
    quantity the order ``held`` as the count saw it. The first time (``added`` None) it is the order's
    quantity if it was placed by then. A later version of the order changed by the count's moment (a
    webhook late or out of order) is what the count saw: the add-back follows it. A change after the
    count moved the store's stock after it, and QuickBooks' stock moves by the order's own Mod or void:
    the add-back stays.
    """
    if added is None:
        return held if placed is not None and placed <= counted_at else Decimal(0)
    if changed is None or changed > counted_at:
        return Decimal(0)
    return held - added


def sold_by_product(order: Order | LastKnownOrder, settings: Mapping[str, Any]) -> dict[str, Decimal]:
    """Product key -> how many the order's lines sell from stock (gift card lines left out, see
    :func:`sold_in`); none for an order whose lines are not known."""
    sold: dict[str, Decimal] = {}
    for line in order.lines or ():
        if rules.is_gift_card_sale(line, settings):
            continue
        key = mappings.product_key(line.product_id, line.variant_id, line.sku, line.name)
        sold[key] = sold.get(key, Decimal(0)) + (line.quantity or Decimal(0))
    return sold


def added_back(session: Session, connection_id: int, order_key: str) -> dict[str, AddedBack]:
    """Item ListID -> what was added back for the order: by the baseline while it waited (its opening
    stock or store count, :func:`save_counted`) and by its add-back jobs, sent or to be (a job a person
    cancelled counts as settled: it is never sent again)."""
    found = _counted(session, connection_id, order_key)
    for payload in _add_back_payloads(session, connection_id, order_key):
        if payload.get("booking"):
            continue  # (a correction of a movement a count had: no add-back, see correct_counted)
        list_id = str(payload.get("item_list_id"))
        quantity = _quantity(payload.get("quantity"))
        refund = payload.get("refund_id")
        first = found.get(list_id) or AddedBack(
            Decimal(0),
            str(payload.get("item") or list_id),
            _when(payload.get("counted_at")),
            str(payload.get("corrects") or OPENING),
        )
        found[list_id] = dataclasses.replace(
            first,
            quantity=first.quantity + quantity,
            restocked=first.restocked + quantity if refund else first.restocked,
            refunds=first.refunds | {str(refund)} if refund else first.refunds,
        )
    return found


def _add_back_payloads(session: Session, connection_id: int, order_key: str) -> Iterable[dict[str, Any]]:
    """The payloads of the order's add-back jobs (and corrections, :func:`correct_counted`), oldest first."""
    return session.scalars(
        select(QueueJob.payload)
        .where(
            QueueJob.connection_id == connection_id,
            QueueJob.kind == ADD_BACK_KIND,
            QueueJob.record_type == "order",
            QueueJob.record_id == order_key,
        )
        .order_by(QueueJob.id)
    )


def save_counted(
    session: Session, connection_id: int, order_key: str, list_id: str, counted: AddedBack
) -> None:
    """Remember that the baseline of the item ``list_id`` added back ``counted`` for the order while it
    waited (it posts now): an add-back made without an adjustment, followed as one."""
    name = f"{COUNTED}{order_key}"
    stored = checkpoints.read(session, connection_id, name)
    items = json.loads(stored) if stored else {}
    items[list_id] = {
        "quantity": format(counted.quantity.normalize(), "f"),
        "item": counted.item,
        "counted_at": counted.counted_at.isoformat() if counted.counted_at else None,
        "corrects": counted.corrects,
    }
    checkpoints.save(session, connection_id, name, json.dumps(items))


def _counted(session: Session, connection_id: int, order_key: str) -> dict[str, AddedBack]:
    """Item ListID -> what the baselines added back for the order while it waited (see save_counted)."""
    stored = checkpoints.read(session, connection_id, f"{COUNTED}{order_key}")
    items = json.loads(stored) if stored else {}
    return {
        list_id: AddedBack(_quantity(kept.get("quantity")), str(kept.get("item") or list_id),
                           _when(kept.get("counted_at")), str(kept.get("corrects") or OPENING))
        for list_id, kept in items.items()
    }


def settle_counted(
    session: Session,
    connection_id: int,
    order_key: str,
    order: Order | LastKnownOrder,
    settings: Mapping[str, Any],
) -> bool:
    """Forget what the baselines added back for the order while it waited (:func:`save_counted`) once it
    can no longer change an add-back; True when forgotten.

    It follows the order's versions changed by the counts' moments and its refunds made by then. That is
    over once the order's sale is in QuickBooks, the order as last processed was modified after every
    one of those counts (the store never sends a version older than the one qbsync holds) and each
    refund that version lists has its credit memo in QuickBooks, or went with the cancellation's (a
    refund it does not list came after it, so after the counts). A newer count of the item does not end
    it: a count is sent as a difference from the one before, so a correction still owed to an earlier
    count is owed after it. A sale deleted in QuickBooks and added again is followed as a change, never
    added back as a first time (the order handler's ``_gone``), so this record is not needed to keep
    its stock from being added back twice."""
    changed = order.modified_at
    if changed is None or not _inventory_sold(session, connection_id, order, settings, True, ())[0]:
        return False  # (no item of the order has a baseline: no look-up)
    name = f"{COUNTED}{order_key}"
    if checkpoints.read(session, connection_id, name) is None:
        return False
    counts = [kept.counted_at for kept in _counted(session, connection_id, order_key).values()]
    if any(moment is None or as_utc(changed) <= moment for moment in counts):
        return False
    if mappings.get(session, connection_id, mappings.ORDER, order_key) is None:
        return False
    if settings["sync_refunds"]:
        if order.refunds is None:
            return False  # (a payload that does not list them: its refunds are unknown)
        for refund in order.refunds:
            if all(mappings.get(session, connection_id, kind, refund.storefront_id) is None
                   for kind in (mappings.REFUND, mappings.REFUND_BEFORE_CANCELLATION)):
                return False
    checkpoints.delete(session, connection_id, Checkpoint.name == name)
    return True


def late_sales(
    session: Session,
    connection_id: int,
    order_key: str,
    order: LastKnownOrder,
    txn_type: str | None,
    settings: Mapping[str, Any],
    added: bool = False,
) -> list[LateSale]:
    """The changes to add back now that the order's ``txn_type`` is in QuickBooks (just ``added``, or
    changed, or voided or reversed by a credit memo that restocks: ``txn_type`` None) -- see
    :func:`add_back_change`; what the order holds is less what its refunds put back on the shelf by the
    count (:meth:`AddedBack.held`).

    An item whose count QuickBooks took as of a moment after the order was placed already lacks the
    order's quantity. If the order was waiting then, its sale was added back to that count (it is now
    struck from the waiting list, and kept as its add-back, :func:`save_counted`); if qbsync did not
    know the order then (its webhook came late, or it was not going to post), QuickBooks has just taken
    the quantity out a second time. Once added back, the add-back follows the versions of the order the
    count saw, a waiting order's from the version that posts on (it may be one changed by the count
    whose webhook came after it). Only an order just added can be a late one: the sale of one changed
    later was counted when it posted (waiting, or taken by a later count).
    """
    placed, changed = order.created_at, order.modified_at
    holds = order.status != "cancelled"  # (a deleted order's payload may not say: it holds)
    if added:
        if txn_type not in STOCK_MOVING:
            return []
        sold, names = _inventory_sold(session, connection_id, order, settings, holds, ())
        first: list[tuple[str, Decimal, tuple[Decimal, datetime, str]]] = []
        late = []
        for list_id, quantity in sold.items():
            baseline = _baseline(session, connection_id, list_id) if quantity else None
            if baseline is None:
                continue  # QuickBooks' own count: its sales are its own
            waiting = read_waiting(session, connection_id, list_id)
            if order_key in waiting:
                counted = waiting.pop(order_key)
                save_waiting(session, connection_id, list_id, waiting)
                # What the baseline added back for it (unknown when saved before it was kept: this one).
                kept = AddedBack(quantity if counted is None else counted, names[list_id], baseline[1],
                                 baseline[2])
                save_counted(session, connection_id, order_key, list_id, kept)
                change = add_back_change(quantity, placed, changed, baseline[1], kept.quantity)
                if change:
                    late.append(LateSale(list_id, kept.item, change, baseline[1], kept.corrects))
            elif add_back_change(quantity, placed, changed, baseline[1], None):
                first.append((list_id, quantity, baseline))
        if not first:
            return late  # (most orders: placed after the count, no look-up of add-backs)
        history = added_back(session, connection_id, order_key)  # the sale added again: never twice
        for list_id, quantity, baseline in first:
            before = history.get(list_id)
            if before is None:
                late.append(LateSale(list_id, names[list_id], quantity, baseline[1], baseline[2]))
                continue
            counted_at = before.counted_at or baseline[1]
            change = add_back_change(before.held(quantity), placed, changed, counted_at, before.quantity)
            if change:
                late.append(LateSale(list_id, before.item, change, counted_at, before.corrects))
        return late
    history = added_back(session, connection_id, order_key)
    if not history:
        return []
    sold, _ = _inventory_sold(session, connection_id, order, settings, holds, history)
    late = []
    for list_id, before in history.items():
        baseline = _baseline(session, connection_id, list_id)
        moment = before.counted_at or (baseline[1] if baseline is not None else None)
        if moment is None:
            continue
        held = before.held(sold.get(list_id, Decimal(0)))
        change = add_back_change(held, placed, changed, moment, before.quantity)
        if change:
            late.append(LateSale(list_id, before.item, change, moment, before.corrects))
    return late


def _inventory_sold(
    session: Session,
    connection_id: int,
    order: Order | LastKnownOrder,
    settings: Mapping[str, Any],
    holds: bool,
    known: Iterable[str],
) -> tuple[dict[str, Decimal], dict[str, str]]:
    """Item ListID -> how many the order holds (0 for a cancelled one), and the items' names, for the
    inventory items that can have a baseline (or are ``known`` to have add-backs)."""
    by_product = sold_by_product(order, settings)
    return _items_sold(session, connection_id,
                       by_product if holds else dict.fromkeys(by_product, Decimal(0)), known)


def _items_sold(
    session: Session, connection_id: int, by_product: Mapping[str, Decimal], known: Iterable[str]
) -> tuple[dict[str, Decimal], dict[str, str]]:
    """:func:`_inventory_sold` of quantities by product key."""
    known = set(known)
    sold: dict[str, Decimal] = {}
    names: dict[str, str] = {}
    for key, quantity in by_product.items():
        mapping = mappings.get(session, connection_id, mappings.PRODUCT, key)
        if mapping is None or mapping.qb_type != "ItemInventory":
            continue
        if mapping.quantity is None and mapping.qb_id not in known:
            continue  # (a baseline is saved only with the mapping's quantity: no look-up for the rest)
        sold[mapping.qb_id] = sold.get(mapping.qb_id, Decimal(0)) + quantity
        names[mapping.qb_id] = mapping.qb_name or key
    return sold, names


def holds_only(
    session: Session,
    connection_id: int,
    order_key: str,
    order: Order | LastKnownOrder,
    txn_type: str | None,
    settings: Mapping[str, Any],
) -> bool:
    """For a sale just added: when no item it sells can have a store count (most sales), it moves no
    count's stock and has nothing to add back, so only what it holds is kept (:func:`keep_holds`) and the
    answer is True; False when :func:`add_back_late_sales` has more to do.

    Reads only the order's lines (what each sells, how many, gift cards) and status: a whole ``Order``
    answers as the :class:`LastKnownOrder` read from the same payload would (a field the payload lacks
    is None there and a default here that means the same: no product id, no gift card, no lines), so
    the order handler asks it with the order it read already, before working out the other."""
    by_product = sold_by_product(order, settings)
    if _items_sold(session, connection_id, by_product, ())[0]:
        return False
    # (the rest of add_back_late_sales would read the same lines thrice to find nothing)
    holds = by_product if txn_type in STOCK_MOVING and order.status != "cancelled" else {}
    keep_holds(session, connection_id, order_key, holds)
    return True


def add_back_late_sales(
    session: Session,
    connection_id: int,
    order_key: str,
    order: LastKnownOrder,
    txn_type: str | None,
    settings: Mapping[str, Any],
    now: datetime,
    added: bool = False,
    held_as: str | None = None,
    restocked: Mapping[str, Decimal] | None = None,
) -> list[QueueJob]:
    """Queue an inventory adjustment for each of :func:`late_sales` (called whenever the order's
    transaction is ``added``, changed or voided, or its cancellation's credit memo restocks). A change
    not sent yet folds into the unsent job of the same order and item; a sent one is never sent again
    (its RefNumber is looked up after a lost answer), so each difference reaches QuickBooks once.
    What the sale moved after the last store count is kept for the next one (:func:`book_moves`;
    ``held_as``: the fingerprint of the version QuickBooks held before a change or void; ``restocked``:
    item ListID -> what a reversing credit memo brought back). A change, void or reversal the last
    count had already is taken out again (:func:`correct_counted`). What the sale holds now is kept
    with its link (:func:`keep_holds`)."""
    if added and restocked is None and holds_only(session, connection_id, order_key, order, txn_type,
                                                  settings):
        return []
    booked = _sale_moves(session, connection_id, order_key, order, txn_type, settings, added, held_as,
                         restocked)
    if restocked is None:  # (a reversing credit memo leaves the sale as it was)
        keep_holds(session, connection_id, order_key, sale_holds(order, txn_type, settings))
    number = order.number or order_key
    queued = [
        _queue_add_back(session, connection_id, f"{ADD_BACK_KIND}:{order_key}:{sale.list_id}", {
            "order_id": order_key,
            "order_number": number,
            "item_list_id": sale.list_id,
            "item": sale.item,
            "counted_at": sale.counted_at.isoformat(),
            "corrects": sale.corrects,
        }, sale.quantity, now)
        for sale in late_sales(session, connection_id, order_key, order, txn_type, settings, added)
    ]
    if booked is not None:
        queued += correct_counted(session, connection_id, order_key, number, booked, now)
    settle_counted(session, connection_id, order_key, order, settings)
    return queued


def take_back_restocked(
    session: Session,
    connection_id: int,
    order_key: str,
    order_number: str,
    refund_id: str,
    back: Mapping[str, Decimal],
    refunded_at: datetime,
    now: datetime,
) -> list[QueueJob]:
    """The refund ``refund_id`` of an order whose sale was added back put ``back`` (item ListID ->
    quantity) on the shelf before the store's count that add-back answers to: the count had those, and
    the refund's credit memo brings them back to QuickBooks' stock a second time, so that much of the
    add-back is taken out again (once per refund: stock counted once). A refund after the count moved
    the store's stock after it, as its credit memo moves QuickBooks': the add-back stays, and the store's
    next count nets what it put back (:func:`book_moves`)."""
    booking = f"refund:{refund_id}"
    missed = book_moves(session, connection_id, booking, back, refunded_at)
    history = added_back(session, connection_id, order_key)
    queued = correct_counted(session, connection_id, order_key, order_number,
                             Booked(booking, as_utc(refunded_at), missed), now)
    for list_id, quantity in back.items():
        before = history.get(list_id)
        if before is None or before.counted_at is None or refund_id in before.refunds:
            continue
        taken = min(quantity, before.quantity)
        if as_utc(refunded_at) > before.counted_at or taken <= 0:
            continue
        key = f"{ADD_BACK_KIND}:{order_key}:{list_id}:refund:{refund_id}"
        queued.append(_queue_add_back(session, connection_id, key, {
            "order_id": order_key,
            "order_number": order_number,
            "item_list_id": list_id,
            "item": before.item,
            "counted_at": before.counted_at.isoformat(),
            "corrects": before.corrects,
            "refund_id": refund_id,
        }, -taken, now))
    return queued


def refund_moment(
    made_at: datetime | None,
    refund_id: str,
    order: Order | LastKnownOrder | None,
    received_at: datetime | None,
) -> datetime | None:
    """When a refund put its stock back on the shelf, for the store's count it is compared with (pure).

    The refund's own time when the store gives one. Without it, the latest moment the evidence allows:
    the modified time of the order as qbsync holds it, when that version lists the refund (the store
    marks the order modified when it refunds, so that version is no older than the refund), and the
    moment the refund reached qbsync (``received_at``: it cannot have been made later); the earlier of
    the two. Both are the refund's own moment in the common case -- a refund is the order's last change
    and its webhook arrives within seconds -- so QuickBooks' quantity on hand ends at the store's stock;
    and a refund this places by the count was certainly made by then, so an add-back is never taken out
    on a guess. Where the evidence is later than the count the refund is taken as made after it, as one
    with a time would be: the add-back stays. None when nothing is known."""
    if made_at is not None:
        return as_utc(made_at)
    bounds = [as_utc(received_at)] if received_at is not None else []
    listed = order is not None and any(r.storefront_id == refund_id for r in order.refunds or ())
    if listed and order is not None and order.modified_at is not None:
        bounds.append(as_utc(order.modified_at))
    return min(bounds, default=None)


def _queue_add_back(
    session: Session, connection_id: int, key: str, payload: Mapping[str, Any], quantity: Decimal,
    now: datetime,
) -> QueueJob:
    """Queue (or fold into the unsent job of the same ``key``) an add-back of ``quantity``."""
    unsent = jobs.find_open(session, connection_id, key)
    pending = _decimal(str(unsent.payload.get("quantity"))) if unsent is not None else None
    data = {**payload, "quantity": format(((pending or Decimal(0)) + quantity).normalize(), "f")}
    return jobs.enqueue(
        session,
        connection_id,
        ADD_BACK_KIND,
        data,
        record_type="order",
        record_id=str(payload["order_id"]),
        label=add_back_label(data),
        coalesce_key=key,
        priority=ADD_BACK_PRIORITY,
        now=now,
    )


def add_back_label(payload: Mapping[str, Any]) -> str:
    """The add-back job's label, in the merchant's words."""
    quantity = Decimal(str(payload["quantity"]))
    verb = "add back" if quantity >= 0 else "take out again"
    return (f"{verb} {abs(quantity).normalize():f} {payload['item']} of order {payload['order_number']} "
            "(counted by the store)")


def add_back_account(payload: Mapping[str, Any], settings: Mapping[str, Any]) -> tuple[str, str]:
    """(setting, account name) an add-back posts to: a correction of an item's opening stock goes where
    QuickBooks puts opening values, Opening Balance Equity (``opening_balance_account``); one of a store
    count goes with that count's adjustment (``inventory_adjustment_account``)."""
    setting = ("inventory_adjustment_account" if payload.get("corrects") == COUNT
               else "opening_balance_account")
    return setting, str(settings[setting])


def add_back_memo(payload: Mapping[str, Any], store: str) -> str:
    """The InventoryAdjustment memo of an add-back (or of taking part of one out again)."""
    number = payload["order_number"]
    if payload.get("booking"):
        return (f"Order {number} changed, was cancelled or refunded before the {store} stock count this "
                "item was last counted at, which already had it: what it moved is taken out again")
    if payload.get("refund_id"):
        return (f"Refund {payload['refund_id']} of order {number} put it back on the shelf before the "
                f"{store} stock count this item opened with (or was last counted at): less of its sale is "
                "added back")
    if Decimal(str(payload["quantity"])) >= 0:
        return (f"Order {number} was placed before the {store} stock count this item opened with (or was "
                "last counted at), which already lacked it: its sale is added back")
    return (f"Order {number} changed before the {store} stock count this item opened with (or was last "
            "counted at): less of its sale is added back")
