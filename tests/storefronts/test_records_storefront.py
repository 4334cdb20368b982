"""The plain storefront records: exact JSON round trip, type guards, fingerprint, totals invariant."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import types
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qbsync.storage import frozen_json
from qbsync.storefronts import records
from qbsync.storefronts.platforms import normalizer_for
from qbsync.storefronts.records import (
    Address,
    Customer,
    DiscountLine,
    FeeLine,
    InvalidPayload,
    LastKnownLine,
    LastKnownOrder,
    Order,
    OrderLine,
    Product,
    Record,
    Refund,
    RefundLine,
    RefundSummary,
    ShippingLine,
    StockLevel,
    TaxLine,
    load_payload,
    to_decimal,
    to_id,
    to_utc,
)

RECORD_TYPES = [Address, Customer, Product, TaxLine, OrderLine, ShippingLine, FeeLine, DiscountLine,
                RefundSummary, Order, LastKnownLine, LastKnownOrder, RefundLine, Refund, StockLevel]

# --------------------------------------------------------------------------------------------------
# Records built field by field from their type hints, so every field of every record is exercised.

_decimals = st.decimals(allow_nan=False, allow_infinity=False)
_utc_times = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1),
                          timezones=st.just(UTC))
_CHOICES = {(Order, "status"): records.ORDER_STATUSES, (Product, "kind"): records.PRODUCT_KINDS}


def _strategy_for(hint: Any, depth: int) -> st.SearchStrategy[Any]:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return st.one_of(*[_strategy_for(option, depth) for option in get_args(hint)])
    if origin is tuple:
        items = _strategy_for(get_args(hint)[0], depth + 1)
        return st.lists(items, max_size=2 if depth < 2 else 0).map(tuple)
    if hint is type(None):
        return st.none()
    if hint is Decimal:
        return _decimals
    if hint is datetime:
        return _utc_times
    if hint is bool:
        return st.booleans()
    if hint is int:
        return st.integers(-18 * 60, 18 * 60)
    if hint is str:
        return st.text(max_size=12)
    return record_strategy(hint, depth + 1)


def record_strategy(cls: type, depth: int = 0) -> st.SearchStrategy[Any]:
    hints = get_type_hints(cls)
    fields = {
        f.name: st.sampled_from(_CHOICES[(cls, f.name)]) if (cls, f.name) in _CHOICES
        else _strategy_for(hints[f.name], depth)
        for f in dataclasses.fields(cls)
    }
    return st.builds(cls, **fields)


@pytest.mark.parametrize("cls", RECORD_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_record_type_round_trips_exactly_through_json(cls: type[Record], data: st.DataObject) -> None:
    record = data.draw(record_strategy(cls))
    stored = json.dumps(record.to_dict())  # what a queue job keeps: must not need a custom encoder
    again = cls.from_dict(json.loads(stored))
    assert again == record
    # Equal Decimals can differ in places ("1.0" vs "1.00"); the stored form must not.
    assert again.to_dict() == record.to_dict()
    assert again.fingerprint() == record.fingerprint()


def _sample_records(reference_dir: Path) -> list[Record]:
    """Every record the normalizers make from the reference samples, nested ones included."""
    wc, shopify = normalizer_for("woocommerce"), normalizer_for("shopify")
    woo = reference_dir / "storefront" / "woocommerce"
    shop = reference_dir / "storefront" / "shopify"

    def load(path: Path) -> dict[str, Any]:
        return load_payload(path.read_bytes())

    found: list[Record] = [
        wc.order(load(woo / "order.json")),
        wc.refund(load(woo / "order_refund.json")),
        wc.customer(load(woo / "customer.json")),
        *wc.products(load(woo / "product_simple.json")),
        wc.product_variation(load(woo / "product_variation.json")),
        wc.stock_level(load(woo / "product_variation.json")),
        shopify.order(load(shop / "order.json")),
        *shopify.order_refunds(load(shop / "order.json")),
        shopify.customer(load(shop / "customer.json")),
        *shopify.products(load(shop / "product.json")),
        shopify.stock_level(load(shop / "inventory_level.json")),
    ]

    def nested(record: Record) -> list[Record]:
        out = [record]
        for f in dataclasses.fields(record):  # type: ignore[arg-type]
            value = getattr(record, f.name)
            for item in value if isinstance(value, tuple) else (value,):
                if isinstance(item, Record):
                    out.extend(nested(item))
        return out

    return [n for record in found for n in nested(record)]


def test_sample_records_round_trip_and_cover_every_record_type(reference_dir: Path) -> None:
    samples = _sample_records(reference_dir)
    # No sample has a fee line; the last known part of an order is read from an order's (test below).
    assert {type(r) for r in samples} >= set(RECORD_TYPES) - {FeeLine, LastKnownOrder, LastKnownLine}
    for record in samples:
        again = type(record).from_dict(json.loads(json.dumps(record.to_dict())))
        assert again == record
        assert again.to_dict() == record.to_dict()


def test_what_was_last_known_of_an_order_is_read_from_all_or_part_of_its_stored_record(
    reference_dir: Path,
) -> None:
    """A deleted order's job carries what was stored of it, perhaps only part (or nothing): what the
    cancellation and the stock counts read of it is what the store said, and None where it said nothing,
    never a made-up value (no refunds, not restocked)."""
    order = normalizer_for("shopify").order(load_payload((reference_dir / "storefront/shopify/order.json")
                                                         .read_bytes()))
    whole = LastKnownOrder.from_dict(json.loads(json.dumps(order.to_dict())))
    assert (whole.storefront_id, whole.number) == (order.storefront_id, order.number)
    assert whole.status == order.status and whole.refunds
    assert (whole.refunds, whole.total) == (order.refunds, order.total)
    assert [(line.id, line.sku, line.quantity, line.gift_card) for line in whole.lines or ()] == [
        (line.id, line.sku, line.quantity, line.gift_card) for line in order.lines]
    assert (whole.created_at, whole.cancelled_at, whole.restocked_on_cancel) == (
        order.created_at, order.cancelled_at, order.restocked_on_cancel)

    part = LastKnownOrder.from_dict({"number": "1001", "note": "left unread", "refunds": []})
    assert part == LastKnownOrder(number="1001", refunds=())
    assert LastKnownOrder.from_dict({}) == LastKnownOrder()
    assert (part.lines, part.restocked_on_cancel, part.currency, part.total) == (None, None, None, None)
    assert LastKnownOrder.from_dict({"lines": [{"sku": "MUG"}]}).lines == (LastKnownLine(sku="MUG"),)
    with pytest.raises(ValueError, match=r"LastKnownOrder.lines\[0\].quantity"):
        LastKnownOrder.from_dict({"lines": [{**order.lines[0].to_dict(), "quantity": 2}]})
    with pytest.raises(ValueError, match="unknown fields"):
        Order.from_dict({**order.to_dict(), "left": "unread"})  # a whole record still refuses them


@settings(max_examples=40, deadline=None)
@given(order=record_strategy(Order))
def test_what_was_last_known_of_a_whole_order_is_taken_from_the_order_read_from_it(order: Order) -> None:
    """Read once: the last known part of a stored whole order, taken from the order read from the same
    JSON, is what reading the JSON again gives; a payload lacking a field is read (None there, not the
    order's default)."""
    data = json.loads(json.dumps(order.to_dict()))
    read = Order.from_dict(data)
    assert LastKnownOrder.of(read, data) == LastKnownOrder.from_dict(data)
    assert LastKnownOrder.of(read, {k: v for k, v in data.items() if k != "refunds"}) is None
    if data["lines"]:
        lines = [{k: v for k, v in data["lines"][0].items() if k != "gift_card"}, *data["lines"][1:]]
        assert LastKnownOrder.of(read, {**data, "lines": lines}) is None


def test_to_dict_writes_money_as_strings_and_times_as_iso_8601() -> None:
    when = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    line = OrderLine(name="Widget", quantity=Decimal("2"), unit_price=Decimal("3.10"),
                     subtotal=Decimal("6.20"), total=Decimal("6.20"))
    order = Order(storefront_id="9007199254740993", number="1001", status="processing", currency="USD",
                  created_at=when, customer=Customer(storefront_id=None, is_guest=True), lines=(line,),
                  total=Decimal("6.20"))
    data = order.to_dict()
    assert data["storefront_id"] == "9007199254740993"
    assert data["total"] == "6.20"
    assert data["lines"][0]["unit_price"] == "3.10"
    assert data["created_at"] == "2024-05-01T12:30:00+00:00"
    assert data["customer"]["storefront_id"] is None


# --------------------------------------------------------------------------------------------------
# Type guards: a normalizer bug must fail loudly, never produce a float or a naive time.


def _order(**changes: Any) -> Order:
    base: dict[str, Any] = dict(
        storefront_id="1", number="1", status="pending", currency="USD",
        created_at=datetime(2024, 1, 1, tzinfo=UTC), customer=Customer(storefront_id="5"),
        total=Decimal("0"),
    )
    base.update(changes)
    return Order(**base)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"total": 29.35}, "total"),
        ({"storefront_id": 727}, "storefront_id"),
        ({"created_at": datetime(2024, 1, 1)}, "created_at"),
        ({"created_at": datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=-5)))}, "created_at"),
        ({"total": Decimal("NaN")}, "total"),
        ({"lines": [OrderLine(name="x", quantity=Decimal(1), unit_price=Decimal(1), subtotal=Decimal(1),
                              total=Decimal(1))]}, "lines"),
    ],
    ids=["float money", "int id", "naive time", "non-UTC time", "NaN", "list instead of tuple"],
)
def test_records_refuse_wrong_types(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(TypeError, match=f"Order.{field}"):
        _order(**changes)


def test_order_status_and_product_kind_must_be_in_the_vocabulary() -> None:
    with pytest.raises(ValueError, match="on-hold"):
        _order(status="on-hold")
    with pytest.raises(ValueError, match="kind"):
        Product(product_id="1", name="x", kind="bundle")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(surprise=1), "unknown fields"),
        (lambda d: d.pop("total"), "Order.total: required"),
        (lambda d: d.update(total="twelve"), "Order.total: not a decimal"),
        (lambda d: d.update(total=12.5), "Order.total: expected a decimal string"),
        (lambda d: d.update(created_at="yesterday"), "Order.created_at"),
        (lambda d: d.update(created_at="2024-01-01T00:00:00"), "created_at"),  # naive
        (lambda d: d.update(created_at="2024-01-01T00:00:00+02:00"), "Order.created_at: not a UTC time"),
        (lambda d: d.update(total="NaN"), "Order.total: not a finite decimal"),
        (lambda d: d.update(lines=[{"name": "x", "quantity": "Infinity", "unit_price": "1", "subtotal": "1",
                                    "total": "1"}]), r"Order.lines\[0\].quantity: not a finite"),
        (lambda d: d.update(utc_offset_minutes=True), "Order.utc_offset_minutes: expected int"),
        (lambda d: d.update(status="on-hold"), "Order: Order.status: 'on-hold'"),
        (lambda d: d["customer"].update(is_guest="no"), "Order.customer.is_guest"),
        (lambda d: d.update(lines=[{"name": "x"}]), r"Order.lines\[0\].quantity: required"),
    ],
    ids=["unknown key", "missing", "bad decimal", "float", "bad date", "naive date", "offset date", "NaN",
         "nested infinity", "bool as int", "status", "bad bool", "nested"],
)
def test_from_dict_names_what_is_wrong(change: Any, message: str) -> None:
    data = _order().to_dict()
    change(data)
    with pytest.raises(ValueError, match=message):
        Order.from_dict(data)


# --------------------------------------------------------------------------------------------------
# Reading: from_dict's plain reader (one generated function per record class) against the field-by-field
# readers and against a straightforward reading through the dataclass constructor.


def _by_constructor(cls: type[Record], data: dict[str, Any]) -> Record:
    """The obvious reading of valid data: each value converted by its field's type hint, the record made by
    its constructor (whose ``__post_init__`` checks every type); keys a part record has no field for are
    left out."""
    hints = get_type_hints(cls)
    return cls(**{name: _by_hint(hints[name], value) for name, value in data.items() if name in hints})


def _by_hint(hint: Any, value: Any) -> Any:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        (inner,) = [option for option in get_args(hint) if option is not type(None)]
        return None if value is None else _by_hint(inner, value)
    if origin is tuple:
        return tuple(_by_hint(get_args(hint)[0], item) for item in value)
    if hint is Decimal:
        return Decimal(value)
    if hint is datetime:
        return datetime.fromisoformat(value)
    if isinstance(hint, type) and issubclass(hint, Record):
        return _by_constructor(hint, value)
    return value


def _exactly(value: Any) -> Any:
    """``value`` spelled out so that two readings compare equal only when every value has the same type
    and form: tuple vs list, Decimal places and sign ("1.0" vs "1.00", "-0" vs "0"), a time's zone."""
    if isinstance(value, Record):
        return type(value), tuple((f.name, _exactly(getattr(value, f.name)))
                                  for f in dataclasses.fields(value))  # type: ignore[arg-type]
    if isinstance(value, tuple | list):
        return type(value), tuple(_exactly(item) for item in value)
    if isinstance(value, Decimal):
        return Decimal, value.as_tuple()
    if isinstance(value, datetime):
        return datetime, value.isoformat(), value.tzinfo
    return type(value), value


def _outcome(read: Any, data: Any) -> tuple[Any, ...]:
    """What reading ``data`` gives: the record spelled out, or the error's type and message."""
    try:
        return ("read", _exactly(read(data)))
    except Exception as exc:  # noqa: BLE001 - the error itself is the outcome compared
        return ("refused", type(exc), str(exc))


# Values a stored payload could hold where it should not (a hand-edited job, an older version's record):
# the plain reader must refuse or read each exactly as the field-by-field readers do. Each draw is a copy:
# the same list or dict put in twice would be changed by a later change of the payload, even put inside
# itself (a payload that is no JSON, whose walk never ends).
_ODD_VALUES = st.sampled_from([
    None, True, False, 0, 1, -5, 12.5, "", " 1 ", "x", "12.50", "-0", "1E+3", "1_000", "NaN", "-Infinity",
    "2024-01-01T00:00:00", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00+00:00", "2024-01-01T00:00:00+02:00",
    "2024-13-01T00:00:00+00:00", [], [{}], [None], ["a"], {}, {"sku": "MUG"}, Decimal("1.5"), "pending",
    "service",
]).map(copy.deepcopy)


def _objects(value: Any) -> list[dict[str, Any]]:
    """Every JSON object in ``value``, nested ones included (each a place to change the payload)."""
    if isinstance(value, dict):
        return [value, *(found for item in value.values() for found in _objects(item))]
    if isinstance(value, list):
        return [found for item in value for found in _objects(item)]
    return []


@st.composite
def _changed_payloads(draw: st.DrawFn, cls: type[Record]) -> dict[str, Any]:
    """A record's stored JSON with a few changes anywhere in it: keys dropped, values null or odd, keys
    no record has."""
    data = json.loads(json.dumps(draw(record_strategy(cls)).to_dict()))
    for _ in range(draw(st.integers(0, 3))):
        target = draw(st.sampled_from(_objects(data)))
        change = draw(st.sampled_from(["drop", "null", "odd", "unknown"]))
        if change == "unknown":
            target[draw(st.sampled_from(["surprise", "note", "lines"]))] = draw(_ODD_VALUES)
        elif target:
            key = draw(st.sampled_from(sorted(target)))
            if change == "drop":
                del target[key]
            else:
                target[key] = None if change == "null" else draw(_ODD_VALUES)
    return data


@pytest.mark.parametrize("cls", RECORD_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_from_dict_reads_and_refuses_exactly_as_the_field_by_field_readers(
    cls: type[Record], data: st.DataObject,
) -> None:
    """Whatever a payload holds (missing keys, nulls, odd values, unknown keys, nested lists), from_dict
    gives the same record or the same error as the field-by-field readers; what they read is what the
    record's constructor makes of the same values. Also for the read-only values a job's payload is."""
    payload = data.draw(_changed_payloads(cls))
    expected = _outcome(cls._read_by_field, payload)
    assert _outcome(cls.from_dict, payload) == expected
    assert _outcome(cls.from_dict, frozen_json.freeze(payload)) == expected
    if expected[0] == "read":
        assert _exactly(_by_constructor(cls, payload)) == expected[1]


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_the_last_known_part_of_a_changed_order_payload_reads_as_by_the_field_by_field_readers(
    data: st.DataObject,
) -> None:
    """A part record (LastKnownOrder) read from a whole order's JSON, which holds keys it has no field for."""
    payload = data.draw(_changed_payloads(Order))
    assert _outcome(LastKnownOrder.from_dict, payload) == _outcome(LastKnownOrder._read_by_field, payload)


@pytest.mark.parametrize("cls", RECORD_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_the_plain_reader_itself_reads_what_to_dict_wrote_exactly(
    cls: type[Record], data: st.DataObject,
) -> None:
    """The plain reader alone (not from_dict, which would hide its failure by reading again): it reads
    every stored record, and each value as the field-by-field readers do, to the Decimal's last place."""
    record = data.draw(record_strategy(cls))
    payload = json.loads(json.dumps(record.to_dict()))
    plain = records._plain_reader(cls)
    assert _exactly(plain(payload)) == _exactly(cls._read_by_field(payload)) == _exactly(record)
    assert _exactly(plain(frozen_json.freeze(payload))) == _exactly(record)


@pytest.mark.parametrize(
    ("field", "text"),
    [("total", "12.50"), ("total", "-0"), ("total", "0E-8"), ("total", "1E+3"), ("total", "-0.00"),
     ("total", "0.00000000000000000001"), ("created_at", "2024-01-01T00:00:00Z"),
     ("created_at", "2024-02-29T23:59:59.999999+00:00"), ("number", "\ud800 é"),
     ("utc_offset_minutes", -300)],
)
def test_the_plain_reader_converts_each_kind_of_value_as_the_field_by_field_reader(
    field: str, text: Any,
) -> None:
    """Each conversion the plain reader writes out (text, Decimal from its string, UTC times, ints), on
    values whose form a careless conversion would change; and a line's money (a list of records)."""
    payload = {**_order().to_dict(), field: text}
    tax = {"amount": "0.10", "rate_percent": None}
    payload["lines"] = [{"name": "x", "quantity": text if field == "total" else "1", "unit_price": "1.10",
                         "subtotal": "1.10", "total": "0", "tax_lines": [tax]}]
    read = records._plain_reader(Order)(payload)
    assert _exactly(read) == _exactly(Order._read_by_field(payload))
    assert _exactly(getattr(read, field)) == _exactly(getattr(Order._read_by_field(payload), field))


@pytest.mark.parametrize(
    "change",
    [lambda d: d.update(total=12.5), lambda d: d.update(total="NaN"), lambda d: d.update(surprise=1),
     lambda d: d.pop("total"), lambda d: d.update(created_at="2024-01-01T00:00:00+02:00"),
     lambda d: d.update(utc_offset_minutes=True), lambda d: d.update(lines=[None]),
     lambda d: d.update(status="on-hold")],
    ids=["float", "NaN", "unknown key", "missing", "offset time", "bool as int", "null line", "status"],
)
def test_the_plain_reader_leaves_what_is_wrong_to_the_field_by_field_readers(change: Any) -> None:
    """It never accepts what the field-by-field readers refuse: it gives up, and they name the fault."""
    payload = _order().to_dict()
    change(payload)
    with pytest.raises(Exception):  # noqa: B017 - any: from_dict reads again whatever it raised
        records._plain_reader(Order)(payload)
    with pytest.raises(ValueError) as refused:
        Order._read_by_field(payload)
    with pytest.raises(ValueError, match=re.escape(str(refused.value))):
        Order.from_dict(payload)


# --------------------------------------------------------------------------------------------------
# Fingerprint


def test_fingerprint_ignores_modified_at_but_sees_every_other_change() -> None:
    order = _order(modified_at=datetime(2024, 1, 2, tzinfo=UTC), total=Decimal("5.00"))
    touched = dataclasses.replace(order, modified_at=datetime(2024, 3, 1, tzinfo=UTC))
    assert touched.fingerprint() == order.fingerprint()
    assert dataclasses.replace(order, total=Decimal("5.01")).fingerprint() != order.fingerprint()
    # "5.0" and "5.00" are different text on an invoice: they count as a change.
    assert dataclasses.replace(order, total=Decimal("5.0")).fingerprint() != order.fingerprint()
    renamed = dataclasses.replace(order, customer=Customer(storefront_id="5", first_name="Ann"))
    assert renamed.fingerprint() != order.fingerprint()


def test_fingerprint_is_a_sha256_hex_digest_stable_across_normalizations(reference_dir: Path) -> None:
    body = (reference_dir / "storefront" / "shopify" / "order.json").read_bytes()
    first = normalizer_for("shopify").order(load_payload(body)).fingerprint()
    second = normalizer_for("shopify").order(load_payload(body)).fingerprint()
    assert first == second
    assert len(first) == 64 and int(first, 16) >= 0


# --------------------------------------------------------------------------------------------------
# Totals invariant


def _money_order(prices_include_tax: bool, total: str) -> Order:
    tax = TaxLine(code="GST", amount=Decimal("1.50"))
    line = OrderLine(name="Mug", quantity=Decimal("3"), unit_price=Decimal("10.00"),
                     subtotal=Decimal("30.00"), total=Decimal("25.00"), tax=Decimal("1.50"), tax_lines=(tax,))
    return _order(
        lines=(line,), shipping_lines=(ShippingLine(amount=Decimal("4.99")),),
        fee_lines=(FeeLine(name="Gift wrap", amount=Decimal("2.00")),),
        discounts=(DiscountLine(code="FIVE", amount=Decimal("5.00")),), tax_lines=(tax,),
        prices_include_tax=prices_include_tax, total=Decimal(total),
    )


def test_total_difference_is_zero_when_lines_shipping_fees_discounts_and_tax_add_up() -> None:
    order = _money_order(False, "33.49")  # 30.00 + 4.99 + 2.00 - 5.00 + 1.50
    assert order.computed_total() == Decimal("33.49")
    assert order.total_difference() == Decimal("0")


def test_total_difference_reports_the_gap_to_the_cent() -> None:
    assert _money_order(False, "33.50").total_difference() == Decimal("0.01")
    assert _money_order(False, "33.47").total_difference() == Decimal("-0.02")


def test_tax_is_not_added_again_when_prices_include_it() -> None:
    assert _money_order(True, "31.99").total_difference() == Decimal("0")


# --------------------------------------------------------------------------------------------------
# Reading platform values


def test_load_payload_keeps_json_fractions_exact() -> None:
    data = load_payload(b'{"price": 0.1, "big": 820982911946154508, "total": "29.35"}')
    assert data["price"] == Decimal("0.1") and isinstance(data["price"], Decimal)
    assert data["big"] == 820982911946154508
    assert to_decimal(data["price"], "price") * 3 == Decimal("0.3")


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b'"text"', b"\xff\xfe", b"[" * 100_000])
def test_load_payload_refuses_what_is_not_a_json_object(body: bytes) -> None:
    with pytest.raises(InvalidPayload, match="body"):
        load_payload(body)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("29.35", "29.35"), (" 7 ", "7"), (12, "12"), (12.1, "12.1"), (0.1 + 0.2, "0.30000000000000004"),
     (Decimal("1.50"), "1.50"), ("-10.00", "-10.00"), ("1e2", "1E+2")],
)
def test_to_decimal_takes_strings_ints_and_floats_by_their_text(value: Any, expected: str) -> None:
    assert str(to_decimal(value, "total")) == expected


@pytest.mark.parametrize(
    "value", ["", "abc", "1_000", "NaN", "Infinity", "1,5", True, None, [], float("inf"), "1e9999999",
              Decimal("1e-30"), "1234567890123456.00"])
def test_to_decimal_refuses_non_numbers_naming_the_field(value: Any) -> None:
    with pytest.raises(InvalidPayload, match=r"^line_items\[0\]\.total: "):
        to_decimal(value, "line_items[0].total")


def test_to_id_keeps_huge_ids_exact_and_refuses_ones_a_float_already_rounded() -> None:
    assert to_id(820982911946154508, "id") == "820982911946154508"
    assert to_id("gid://shopify/Order/1", "id") == "gid://shopify/Order/1"
    assert to_id(727.0, "id") == "727"
    with pytest.raises(InvalidPayload, match="lost precision"):
        to_id(float(820982911946154508), "id")
    for bad in (True, None, "", 1.5):
        with pytest.raises(InvalidPayload, match="^id: "):
            to_id(bad, "id")


def test_to_utc_reads_naive_gmt_as_utc_and_converts_offsets() -> None:
    assert to_utc("2017-03-22T19:28:08", "d") == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    assert to_utc("2008-01-10T11:00:00-05:00", "d") == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)
    assert to_utc("2024-02-29T23:59:59Z", "d") == datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)
    assert to_utc(None, "d") is None and to_utc("", "d") is None
    with pytest.raises(InvalidPayload, match="date_paid_gmt"):
        to_utc("0000-00-00 00:00:00", "date_paid_gmt")
