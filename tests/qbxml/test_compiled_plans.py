"""The templates' plans compiled to Python (qbsync.qbxml.plan_code) print the very bytes the plans print.

``render_request`` renders the usual data through a template's compiled function and anything else through
the plan (the reference). Each template is rendered here with data built from the schema: every field it
prints, with text to escape, text cut to its limit, numbers to format, explicit empty and None fields,
and lists of lines; the compiled function must take it (no fallback) and print what the plan prints.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest

from qbsync.qbxml import QbxmlDataError, QbxmlVersionError, render
from qbsync.qbxml.fields import Catalog, Field, Kind, catalog
from qbsync.qbxml.plan_code import Fallback
from qbsync.qbxml.render import render_request, supported_request_types
from qbsync.qbxml.template_plan import _Reads
from tests.qbxml.request_data import EDIT_SEQUENCE, GUID, LIST_ID, ORDINARY, hostile

VERSIONS = ("13.0", "16.0")
TYPES = [(name, version) for version in VERSIONS for name in sorted(supported_request_types(version))]
VARIANTS = 6  # data sets per template and version

_TEXTS = (
    "Plain text 12",
    "A & B \"quoted\" <tag> 'apos'",  # every character escaping replaces
    " spaced   out ",  # trimmed, inner runs of spaces made one
    "Café Müller",
    "Kőszeg 🎉",  # folded, emoji dropped
    "line one\r\nline two\ttab\x01",  # line breaks kept in long text fields, spaces in short ones
    "~!#$%()*+,-./:;=?@[]^_`{|}",
    12797,
    Decimal("1.50"),
)
_NUMBERS = (
    Decimal("12.345"), Decimal("-5"), 7, "19.990", Decimal("-0.00"), Decimal("1.234565"), Decimal("1E+2"),
)


def _text(field: Field, rng: random.Random) -> object:
    limit = field.max_length or 60
    choice = rng.randrange(5)
    if choice == 0:
        return "N" * limit  # exactly the limit
    if choice == 1:
        return "N" * (limit - 1) + "xy"  # one beyond: cut
    if choice == 2:
        return "W " * 400  # far beyond, cut at a space
    return rng.choice(_TEXTS)


def _leaf(field: Field, rng: random.Random) -> object:
    if rng.random() < 0.08:
        return ""  # an explicit empty element
    kind = field.kind
    if kind == Kind.ENUM:
        return rng.choice(field.choices)
    if kind in (Kind.ID, Kind.GUID) or field.name in ("EditSequence", "iteratorID"):
        limit = field.max_length or 40
        return rng.choice([i for i in (LIST_ID, EDIT_SEQUENCE, GUID, "80&<1>", f" {LIST_ID} ", "8" * limit)
                           if len(i.strip()) <= limit])
    if kind == Kind.AMOUNT:
        return rng.choice([*_NUMBERS, Decimal("9999999999999.99")])
    if kind in (Kind.PRICE, Kind.QUANTITY, Kind.PERCENT, Kind.FLOAT):
        return rng.choice(_NUMBERS)
    if kind == Kind.DATE:
        return rng.choice([dt.date(2024, 5, 1), dt.datetime(2024, 5, 1, 8, 30)])
    if kind == Kind.DATETIME:
        return rng.choice([dt.datetime(2024, 5, 1, 8, 30), dt.datetime(2024, 5, 1, 8, 30, tzinfo=dt.UTC)])
    if kind == Kind.BOOL:
        return rng.choice([True, False])
    if kind == Kind.INT:
        return rng.choice([0, 7, 500])
    return _text(field, rng)


def _record(cat: Catalog, field: Field, reads: _Reads, rng: random.Random, skip: frozenset[str] = frozenset(),
            depth: int = 0) -> dict[str, object]:
    """Data for the fields of ``field`` the template prints: most given, some None, some left out."""
    data: dict[str, object] = {}
    for name, child in cat.children(field).items():
        if name not in reads.names or name in skip:
            continue
        draw = rng.random()
        if draw < 0.15:
            continue  # left out
        if draw < 0.25:
            data[name] = None  # an explicit None: left out too
            continue
        if child.kind == Kind.AGGREGATE:
            def one() -> dict[str, object]:
                return _record(cat, child, reads.nested[name], rng, depth=depth + 1)  # noqa: B023

            data[name] = [one() for _ in range(rng.randrange(4))] if child.repeated else one()
        elif child.repeated:
            data[name] = [_leaf(child, rng) for _ in range(rng.randrange(4))]
        else:
            data[name] = _leaf(child, rng)
    return data


def _data(request_type: str, version: str, seed: int) -> dict[str, object]:
    """Request data for every field the template of ``request_type`` prints (see the module doc)."""
    rng = random.Random(f"{request_type} {version} {seed}")
    shape = render._shape(request_type, version)
    cat = catalog(version)
    attributes = {name for name, _ in shape.attribute_choices}
    data = _record(cat, shape.rq, shape.plan.rq, rng, skip=frozenset(attributes | {request_type}))
    if shape.body is not None:
        data.update(_record(cat, shape.body, shape.plan.body, rng, skip=shape.rq_keys))
    for name, choices in shape.attribute_choices:
        if name != "requestID" and name in shape.plan.rq.names and rng.random() < 0.5:
            data[name] = rng.choice(choices) if choices else GUID
    return data


def _by_plan(request_type: str, data: dict[str, object], version: str, request_id: str | None) -> str:
    """What the plan (the reference path) prints."""
    shape = render._shape(request_type, version)
    attributes = render._request_attributes(shape.attribute_choices, data, request_type, request_id)
    return render._render_by_plan(shape, version, data, {k: render._escape(v) for k, v in attributes.items()})


def _compiled(request_type: str, data: dict[str, object], version: str, request_id: str | None) -> str:
    """What the compiled function prints (a fallback fails the test)."""
    shape = render._shape(request_type, version)
    assert shape.renderer is not None
    attributes = render._request_attributes(shape.attribute_choices, data, request_type, request_id)
    return shape.renderer(data, {k: render._escape(v) for k, v in attributes.items()})


@pytest.mark.parametrize(("request_type", "version"), TYPES)
def test_every_template_compiles_and_prints_what_its_plan_prints(request_type, version):
    for seed in range(VARIANTS):
        data = _data(request_type, version, seed)
        request_id = None if seed == 0 else f"{seed}&<{request_type}>"
        expected = _by_plan(request_type, data, version, request_id)
        assert _compiled(request_type, data, version, request_id) == expected, (seed, data)
        assert render_request(request_type, data, request_id=request_id, version=version) == expected


@pytest.mark.parametrize("version", VERSIONS)
def test_ordinary_and_hostile_samples_take_the_compiled_path(version, monkeypatch):
    cases = [(name, data) for name, variants in ORDINARY.items() for data in variants]
    cases += [(name, hostile(name, data, version)) for name, data in cases]
    expected = [_by_plan(name, data, version, "r1") for name, data in cases]

    def refused(*args: object) -> str:
        raise AssertionError("rendered through the plan")

    monkeypatch.setattr(render, "_render_by_plan", refused)
    assert [render_request(name, data, request_id="r1", version=version) for name, data in cases] == expected


def test_the_generated_data_reaches_the_fields_that_need_care():
    """The data above holds what could go wrong: escapes, cuts, formatting, empty and repeated elements."""
    rendered = "".join(
        _by_plan(name, _data(name, version, seed), version, "r")
        for name, version in TYPES for seed in range(VARIANTS)
    )
    for expected in ("&amp;", "&lt;", "&#34;", "&#39;", "&#13;&#10;", "Café", "12.35",
                     "-5.00", "0.00", "1.23457", "true", "false", "2024-05-01T08:30:00+00:00", "></ListID>",
                     "<ListID>" + LIST_ID + "</ListID><ListID>", "N" * 41 + "<"):
        assert expected in rendered, expected


@pytest.mark.parametrize(
    "data",
    [
        {"CustomerRef": {"ListID": LIST_ID}, "SalesReceiptLineAdd": ({"Desc": "a"}, {"Desc": "tuple"})},
        {"CustomerRef": {"ListID": LIST_ID}, "SalesReceiptLineAdd": {"Desc": "one line, not in a list"}},
        {"CustomerRef": {"ListID": LIST_ID, "FullName": None}, "Memo": None, "Unknown": None},
        {"CustomerRef": {}, "BillAddress": {"Addr1": None}, "SalesReceiptLineAdd": []},
        {"TxnDate": "2024-05-01", "IncludeRetElement": "TxnID"},
    ],
)
def test_data_the_compiled_function_leaves_to_the_plan_renders_as_the_plan_does(data):
    expected = _by_plan("SalesReceiptAdd", data, "13.0", "r1")
    assert render_request("SalesReceiptAdd", data, request_id="r1") == expected


@pytest.mark.parametrize(
    ("request_type", "data", "error", "match"),
    [
        ("SalesReceiptAdd", {"Memo": "ok", "Nmae": "x"}, QbxmlDataError, "has no field 'Nmae'"),
        ("SalesReceiptAdd", {"SalesReceiptLineAdd": [{"Amount": "x"}, {"Amount": Decimal("1E20")}]},
         QbxmlDataError, r"SalesReceiptLineAdd\[0\]/Amount"),
        ("SalesReceiptAdd", {"Memo": ["a"], "RefNumber": "8" * 300}, QbxmlDataError, "at most once"),
        ("SalesOrderAdd", {"SOChannel": "Ecommerce"}, QbxmlVersionError, "not part of qbXML 13.0"),
        ("CustomerQuery", {"ListID": [LIST_ID, None]}, QbxmlDataError, "lists a None"),
        ("CustomerQuery", {"ActiveStatus": "Sleeping"}, QbxmlDataError, "not one of"),
        ("CustomerAdd", {"Name": "Bob", "CreditCardInfo": {"CreditCardNumber": "4111"}}, QbxmlDataError,
         "does not send CustomerAdd/CreditCardInfo"),
    ],
)
def test_refused_data_is_refused_as_the_plan_refuses_it(request_type, data, error, match):
    with pytest.raises(error, match=match) as raised:
        render_request(request_type, data, request_id="r1")
    with pytest.raises(error) as by_plan:
        _by_plan(request_type, data, "13.0", "r1")
    assert str(raised.value) == str(by_plan.value)


def test_the_compiled_function_refuses_what_it_does_not_take():
    shape = render._shape("SalesReceiptAdd", "13.0")
    assert shape.renderer is not None
    for data in ({"Nmae": "x"}, {"SalesReceiptLineAdd": ({"Desc": "a"},)}, {"CustomerRef": "Jane"}):
        with pytest.raises(Fallback):
            shape.renderer(data, {})


@pytest.mark.parametrize(
    ("request_id", "sent"),
    [("3527.2", True), ("a&b\"c'", True), ("Café", True), ("a  b", False), (" a", False), ("a\x00", False),
     ("", False)],
)
def test_a_request_id_is_taken_only_as_cleaning_would_keep_it(request_id, sent):
    if sent:
        fragment = render_request("CustomerQuery", {}, request_id=request_id)
        assert fragment.startswith("<CustomerQueryRq requestID=")
    else:
        with pytest.raises(QbxmlDataError, match="request_id"):
            render_request("CustomerQuery", {}, request_id=request_id)
