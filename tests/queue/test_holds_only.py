"""An added sale that sells nothing a store count has keeps what it holds with its link, and nothing
more (``inventory.holds_only``). The order handler asks it with the order it read already, not with the
``LastKnownOrder`` it would otherwise work out for the stock add-back: what is kept is what the add-back
kept from the last known order, payloads that hold only part of an order included."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from qbsync.queue import inventory, mappings
from qbsync.queue.handlers import Context, record_of
from qbsync.queue.handlers.orders import OrderHandler, last_known, order_of
from qbsync.queue.settings import SyncSettings
from qbsync.storage.models import Connection, QueueJob
from qbsync.storefronts.records import Customer, LastKnownOrder, Order, OrderLine

NOW = datetime(2026, 12, 6, 12, 0)


def _line(n: int, quantity: int, **fields: Any) -> OrderLine:
    values: dict[str, Any] = dict(id=f"l{n}", product_id=str(100 + n), sku=f"SKU-{n}", name=f"Thing {n}",
                                  quantity=Decimal(quantity), unit_price=Decimal(1),
                                  subtotal=Decimal(quantity), total=Decimal(quantity))
    values.update(fields)
    return OrderLine(**values)


def _order(*lines: OrderLine, status: str = "processing") -> Order:
    total = sum((line.total for line in lines), Decimal(0))
    return Order(storefront_id="1", number="1001", status=status, currency="USD",
                 created_at=datetime(2026, 12, 1, tzinfo=UTC), modified_at=datetime(2026, 12, 1, tzinfo=UTC),
                 customer=Customer(storefront_id="7", email="ann@example.com"), lines=lines,
                 subtotal=total, total=total)


def _partial(order: Order) -> dict[str, Any]:
    """The order's payload without the keys an older payload may lack: what was last known of it is
    then read from the payload itself (None where it lacks them), not taken from the order."""
    data = order.to_dict()
    data.pop("cancelled_at", None)
    data["lines"] = [{k: v for k, v in line.items() if k not in ("product_id", "variant_id", "gift_card")}
                     for line in data["lines"]]
    return data


# (order payload, transaction type, what the sale holds once added: product key -> quantity)
CASES: dict[str, tuple[dict[str, Any], str, dict[str, str]]] = {
    "plain": (_order(_line(1, 2), _line(2, 1)).to_dict(), "SalesReceipt", {"101": "2", "102": "1"}),
    "one product on two lines": (_order(_line(1, 2), _line(1, 3, id="l9")).to_dict(), "Invoice",
                                 {"101": "5"}),
    "gift cards": (_order(_line(1, 2), _line(3, 1, gift_card=True), _line(4, 1, sku="CARD-50")).to_dict(),
                   "SalesReceipt", {"101": "2"}),
    "cancelled": (_order(_line(1, 2), status="cancelled").to_dict(), "SalesReceipt", {}),
    "sales order": (_order(_line(1, 2)).to_dict(), "SalesOrder", {}),
    "partial payload": (_partial(_order(_line(1, 2), _line(4, 1, sku="CARD-50"))), "SalesReceipt",
                        {"sku:sku-1": "2"}),
}


@pytest.fixture
def conn_id(make_connection):
    return make_connection().id


def _job(key: str, payload: dict[str, Any]) -> QueueJob:
    return QueueJob(connection_id=0, kind="order", record_type="order", record_id=key, step="add",
                    payload={"record": payload, "event": "updated"}, progress={"type": "SalesReceipt"})


def _products(session, conn_id: int) -> None:
    for n in (1, 2, 3, 4):  # inventory items whose stock no store count has set (no quantity on the link)
        mappings.link(session, conn_id, mappings.PRODUCT, str(100 + n), qb_type="ItemInventory",
                      qb_id=f"I-{n}", qb_name=f"Thing {n}")
    mappings.link(session, conn_id, mappings.PRODUCT, "sku:sku-1", qb_type="ItemInventory", qb_id="I-9",
                  qb_name="Thing 1 (by SKU)")
    mappings.link(session, conn_id, mappings.PRODUCT, "105", qb_type="ItemInventory", qb_id="I-5",
                  qb_name="Counted thing", quantity="5")  # a store count set its stock


def _sale(session, conn_id: int, key: str) -> None:
    mappings.link_transaction(session, conn_id, mappings.ORDER, key, "SalesReceipt",
                              {"TxnID": f"T-{key}", "EditSequence": "1", "RefNumber": key},
                              origin=mappings.CREATED)


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_added_sale_keeps_what_the_add_back_kept_from_the_last_known_order(runtime, conn_id, case):
    payload, txn_type, holds = CASES[case]
    settings = SyncSettings({"gift_card_skus": ["card-50"]})
    with runtime.db.transaction() as s:
        _products(s, conn_id)
        for key in ("before", "now"):
            _sale(s, conn_id, key)
        # What the add-back did with the last known order, and what the order handler does now.
        before = _job("before", payload)
        inventory.add_back_late_sales(s, conn_id, "before", last_known(before), txn_type, settings, NOW,
                                      added=True)
        ctx = Context(s, s.get(Connection, conn_id), settings, "13.0", NOW)
        OrderHandler()._add_back(ctx, _job("now", payload), txn_type, added=True)
        kept = {key: mappings.get(s, conn_id, mappings.ORDER, key).stock_held for key in ("before", "now")}
    assert kept["now"] == kept["before"]
    assert json.loads(kept["now"]) == holds


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_order_and_its_last_known_order_answer_alike(runtime, conn_id, case):
    payload, txn_type, holds = CASES[case]
    settings = SyncSettings({"gift_card_skus": ["card-50"]})
    job = _job("1", payload)
    whole, known = order_of(job), last_known(job)
    if case == "partial payload":  # read from the payload itself: None where the payload says nothing
        assert known == record_of(job, LastKnownOrder) and known.lines[0].gift_card is None
    with runtime.db.transaction() as s:
        _products(s, conn_id)
        _sale(s, conn_id, "1")
        answers = []
        for order in (whole, known):
            answers.append(inventory.holds_only(s, conn_id, "1", order, txn_type, settings))
            answers.append(json.loads(mappings.get(s, conn_id, mappings.ORDER, "1").stock_held))
    assert answers == [True, holds, True, holds]


def test_a_sale_of_something_a_store_count_has_is_left_to_the_add_back(runtime, conn_id):
    settings = SyncSettings()
    order = _order(_line(1, 2), _line(5, 1))  # product 105's stock was set by a store count
    with runtime.db.transaction() as s:
        _products(s, conn_id)
        _sale(s, conn_id, "1")
        assert inventory.holds_only(s, conn_id, "1", order, "SalesReceipt", settings) is False
        assert mappings.get(s, conn_id, mappings.ORDER, "1").stock_held is None  # nothing kept by it
