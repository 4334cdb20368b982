"""What an order becomes in QuickBooks, planned without a database: the rules' decision, the lines and
their references, and what must be linked first (qbsync.queue.handlers.order_plan)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from qbsync.queue import company_facts, rules
from qbsync.queue.handlers.order_lines import line_key
from qbsync.queue.handlers.order_plan import Company, plan, transaction
from qbsync.queue.settings import SyncSettings
from qbsync.storefronts.records import Customer, Order, OrderLine, ShippingLine

MUG = OrderLine(id="1", product_id="101", sku="MUG-RED", name="Red mug", quantity=Decimal(2),
                unit_price=Decimal("9.50"), subtotal=Decimal("19.00"), total=Decimal("19.00"))


def _order(**fields) -> Order:
    values = dict(
        storefront_id="1001", number="1001", status="processing", paid=True, currency="USD",
        created_at=datetime(2024, 3, 1, 15, 0, tzinfo=UTC),
        modified_at=datetime(2024, 3, 1, 15, 0, tzinfo=UTC),
        customer=Customer(storefront_id="7", email="ann@example.com", first_name="Ann", last_name="Lee"),
        lines=(MUG,), shipping_lines=(ShippingLine(id="s1", title="Flat rate", amount=Decimal("5.00")),),
        subtotal=Decimal("19.00"), shipping_total=Decimal("5.00"), total=Decimal("24.00"),
        payment_method="cod", payment_method_title="Cash",
    )
    values.update(fields)
    return Order(**values)


def _company(order: Order, **fields) -> Company:
    values = dict(
        customer={"ListID": "C-1"},
        items={line_key(line): {"ListID": "I-1"} for line in order.lines},
        specials={"shipping": {"ListID": "S-1"}},
        platform="woocommerce",
    )
    values.update(fields)
    return Company(**values)


def test_a_paid_order_becomes_a_sales_receipt_whose_lines_sum_to_its_total():
    order = _order()
    planned = plan(order, _company(order), SyncSettings())
    assert planned.txn_type == "SalesReceipt" and not planned.needs
    assert planned.data["CustomerRef"] == {"ListID": "C-1"} and planned.data["RefNumber"] == "1001"
    assert [line["ItemRef"] for line in planned.lines] == [{"ListID": "I-1"}, {"ListID": "S-1"}]
    assert sum(Decimal(str(line["Amount"])) for line in planned.lines) == Decimal("24.00")
    unpaid = _order(paid=False)
    assert plan(unpaid, _company(unpaid), SyncSettings()).txn_type == "Invoice"


def test_the_decision_made_at_intake_is_the_one_planned_with():
    order = _order(status="on_hold")
    assert plan(order, _company(order), SyncSettings()).skip.startswith("status 'on_hold'")
    decided = rules.OrderDecision(True, "SalesOrder")
    assert rules.decision_of({"decision": decided.to_dict()}) == decided
    assert plan(order, _company(order), SyncSettings(), decision=decided).txn_type == "SalesOrder"


def test_what_is_not_linked_yet_is_named_and_nothing_is_built():
    order = _order()
    planned = plan(order, _company(order, customer=None, items={}), SyncSettings())
    assert planned.data is None
    assert planned.needs == ("the order's customer is not linked to a QuickBooks customer",
                             "the product of line 'Red mug' is not linked to a QuickBooks item")


def test_a_foreign_currency_or_an_unknown_gift_card_amount_cannot_be_booked():
    order = _order(currency="EUR")
    facts = company_facts.CompanyFacts(country="US", home_currency="USD")
    assert "multicurrency" in plan(order, _company(order, facts=facts), SyncSettings()).problem
    gift = _order(gift_card_amount=None)
    assert "gift card" in plan(gift, _company(gift), SyncSettings()).problem


def test_a_payment_method_quickbooks_lacks_is_left_out_and_said():
    order = _order()
    lacking = transaction(order, _company(order, lacks_payment_methods=frozenset({"cash"})), SyncSettings(),
                          "SalesReceipt")
    assert "PaymentMethodRef" not in lacking.data and lacking.method_missing == "Cash"
    known = transaction(order, _company(order, lacks_payment_methods=frozenset({"visa"})), SyncSettings(),
                        "SalesReceipt")
    assert known.data["PaymentMethodRef"] == {"FullName": "Cash"} and known.method_missing is None


def test_a_gift_card_sold_needs_no_item_of_its_own_it_goes_on_the_gift_card_item():
    card = OrderLine(id="2", product_id="900", sku="GIFT-25", name="Gift card", quantity=Decimal(1),
                     unit_price=Decimal("25.00"), subtotal=Decimal("25.00"), total=Decimal("25.00"),
                     gift_card=True)
    order = _order(lines=(MUG, card), subtotal=Decimal("44.00"), total=Decimal("49.00"))
    company = _company(order, items={line_key(MUG): {"ListID": "I-1"}},
                       specials={"shipping": {"ListID": "S-1"}, "gift_card": {"ListID": "G-1"}})
    planned = plan(order, company, SyncSettings())
    assert not planned.needs
    assert {"ListID": "G-1"} in [line["ItemRef"] for line in planned.lines]
    assert sum(Decimal(str(line["Amount"])) for line in planned.lines) == Decimal("49.00")


def test_a_jobs_record_is_read_once_and_read_again_when_its_payload_changes():
    """The order a job carries is read from its JSON once (build, then apply a request later, share it),
    and read again when new data replaced it: an order changed in the store is never planned stale."""
    import json
    from dataclasses import replace

    from qbsync.queue.handlers import record_of
    from qbsync.storage.models import QueueJob

    order = _order()
    job = QueueJob(id=990_001, payload={"record": order.to_dict()})
    first = record_of(job, Order)
    assert first == order
    job.payload = {"record": json.loads(json.dumps(order.to_dict())), "progress": {"next": "add"}}  # reloaded
    assert record_of(job, Order) is first
    changed = replace(order, total=Decimal("25.00"), note="leave at the door")
    job.payload = {**job.payload, "record": changed.to_dict()}
    assert record_of(job, Order) == changed
