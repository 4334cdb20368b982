"""Render qbXML requests from plain dicts through the templates in ``qbsync/qbxml_templates/``.

Convention for ``data``: keys are the qbXML element names themselves (``Name``, ``BillAddress``, ``Addr1``,
``CustomerRef``, ``ListID``, ``InvoiceLineAdd``), the same names the response parser returns, the XSD uses and
``limits.max_length`` paths are written in. Each template's header lists the fields it sends.

* For ``XxxAdd`` / ``XxxMod`` requests ``data`` holds the fields of the ``<XxxAdd>`` / ``<XxxMod>`` aggregate;
  ``IncludeRetElement`` (a list) may sit beside them and goes on the request itself.
* For queries, ``TxnVoid`` and ``TxnDel`` ``data`` holds the request's own fields, plus its attributes
  ``iterator`` ("Start" / "Continue" / "Stop"), ``iteratorID`` and ``metaData`` where the schema has them.
* Nested aggregates are dicts; a reference (``CustomerRef``, ``ItemRef``, ``AccountRef``...) is
  ``{"ListID": ...}`` and/or ``{"FullName": ...}``. Repeated elements (``InvoiceLineAdd``, ``ListID`` in a
  query) take a list; a single value is accepted too.
* ``None`` means "leave the element out". ``""`` sends an empty element (in a Mod: clear the field).
* Leaf values are cleaned by the schema's type (``values.py``): Decimal/int/str amounts become ``"12.50"``,
  prices and quantities get at most 5 decimals, dates ``YYYY-MM-DD``, datetimes ``...T..±hh:mm``, booleans
  ``true``/``false``, and text is stripped of what QuickBooks cannot store and cut to the field's maximum
  length. Identifiers (ListID, TxnID, EditSequence, GUIDs) are never cut: a bad one is an error.

A field the schema does not have, a field of another qbXML version, a value that cannot be cleaned, or a field
the template does not send raises ``QbxmlDataError`` / ``QbxmlVersionError``; nothing is dropped silently.
Rendering does not validate: build the message with ``build_message`` and check it with
``schema.validate`` / ``schema.validate_each``.

Each request type has a template in ``qbsync/qbxml_templates/`` (compiled once by ``template_plan``):
rendering cleans ``data`` into records of escaped text, then prints them through the template's plan. The
usual data takes a faster way to the same bytes: the plan compiled to one Python function (``plan_code``)
that cleans each value where it prints it; whatever that function does not take goes the plan's way.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from qbsync.qbxml import values
from qbsync.qbxml.errors import QbxmlDataError, QbxmlVersionError
from qbsync.qbxml.fields import KNOWN_VERSIONS, Catalog, Field, Kind, catalog, require_version
from qbsync.qbxml.plan_code import Fallback, LeafCleaning, Renderer, compile_renderer
from qbsync.qbxml.template_plan import Fields, Plan, compile_plan, template_names

DEFAULT_VERSION = "13.0"
ON_ERROR_CHOICES = ("continueOnError", "stopOnError")
REQUEST_ID_MAX_LENGTH = 50  # status 1060 beyond this

_FORMATTERS: dict[Kind, Callable[[object], str]] = {
    Kind.AMOUNT: values.format_amount,
    Kind.PRICE: values.format_price,
    Kind.QUANTITY: values.format_quantity,
    Kind.PERCENT: values.format_percent,
    Kind.DATE: values.format_date,
    Kind.DATETIME: values.format_datetime,
    Kind.BOOL: values.format_bool,
    Kind.INT: values.format_int,
    Kind.FLOAT: values.format_decimal,
}
_IDENTIFIER_NAMES = frozenset({"EditSequence", "iteratorID"})
# The types a leaf value usually has: told apart from dicts and lists without an ABC isinstance check.
_LEAF_TYPES = frozenset({str, int, bool, float, Decimal, date, datetime})
# What markupsafe's escape writes, plus character references for line breaks and tabs: they keep them intact
# through XML parsing (a raw CR LF would be normalised to LF) and keep the document one element per line.
_ESCAPES = str.maketrans({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;",
    "\r": "&#13;", "\n": "&#10;", "\t": "&#9;",
})
_NEEDS_ESCAPE = re.compile("[&<>\"'\r\n\t]").search
# Text that cleaning and escaping leave as it is: printable ASCII without & < > " ', words parted by single
# spaces (no leading, trailing or doubled space). Most names, SKUs and numbers are; one match settles them.
_PLAIN_CHARS = "[!#-%(-;=?-~]"
_PLAIN = re.compile(f"{_PLAIN_CHARS}+(?: {_PLAIN_CHARS}+)*").fullmatch


def _escape(text: str) -> str:
    """``text`` as element content or attribute value (most values have nothing to escape)."""
    return text.translate(_ESCAPES) if _NEEDS_ESCAPE(text) else text


def supported_request_types(version: str = DEFAULT_VERSION) -> frozenset[str]:
    """The request types ``render_request`` can produce for ``version`` (names without "Rq")."""
    return template_names() & catalog(version).request_types()


def _other_versions(version: str) -> list[str]:
    return [v for v in KNOWN_VERSIONS if v != version]


@functools.lru_cache(maxsize=4096)
def _strip_indices(path: str) -> str:
    return "/".join(part.split("[", 1)[0] for part in path.split("/"))


def _unknown_field(cat: Catalog, parent: Field, path: str, key: object) -> Exception:
    schema_path = _strip_indices(path)
    for other in _other_versions(cat.version):
        if catalog(other).field_at(f"{schema_path}/{key}") is not None:
            return QbxmlVersionError(
                f"{path}/{key} is not part of qbXML {cat.version} (it exists in qbXML {other}); "
                f"leave it out or speak qbXML {other}"
            )
    known = list(cat.children(parent))
    hint = difflib.get_close_matches(str(key), known, n=3)
    suggestion = f"; did you mean {', '.join(hint)}?" if hint else ""
    return QbxmlDataError(f"{path} has no field {key!r} in qbXML {cat.version}{suggestion}")


def _clean_identifier(field: Field, value: object) -> str:
    """ListID, TxnID, EditSequence, GUIDs: sent exactly as QuickBooks gave them, or refused."""
    text = values.clean_text(value)
    if isinstance(value, str) and text != value.strip():
        raise ValueError(f"identifier {value!r} contains characters QuickBooks never puts in one")
    if field.max_length is not None and len(text) > field.max_length:
        raise ValueError(f"identifier {value!r} is longer than {field.max_length} characters")
    return text


def _clean_enum(cat: Catalog, field: Field, value: object, path: str) -> str:
    text = value.strip() if isinstance(value, str) else value
    if text in field.choices:
        return str(text)
    schema_path = _strip_indices(path)
    for other in _other_versions(cat.version):
        found = catalog(other).field_at(schema_path)
        if found is not None and text in found.choices:
            raise QbxmlVersionError(f"{path}: {value!r} is only allowed in qbXML {other}, not {cat.version}")
    raise ValueError(f"{value!r} is not one of {', '.join(field.choices)}")


@functools.cache
def _cleaner(field: Field) -> Callable[[object], str] | None:
    """How a leaf field's value becomes escaped text, worked out once per field; None for an enum (its
    errors name the place and the other version, so it is cleaned by ``_clean_enum``)."""
    if field.kind == Kind.ENUM:
        return None
    formatter = _FORMATTERS.get(field.kind)
    if formatter is not None:
        return formatter  # digits, signs, dates, true/false: nothing to escape
    max_length = field.max_length
    # No limit: any plain text fits (longer than any text QuickBooks takes, so the fast path never cuts).
    fits = max_length if max_length is not None else 2**63
    plain = _PLAIN
    if field.kind in (Kind.ID, Kind.GUID) or field.name in _IDENTIFIER_NAMES:
        def identifier(value: object) -> str:
            if type(value) is str and len(value) <= fits and plain(value):
                return value  # as _clean_identifier would keep it, with nothing to escape
            return _escape(_clean_identifier(field, value))

        return identifier
    multiline = max_length is not None and max_length >= values.MULTILINE_MIN_LENGTH
    clean_text, needs_escape, escapes = values.clean_text, _NEEDS_ESCAPE, _ESCAPES

    def text(value: object) -> str:  # most leaves: _escape written out, one call fewer
        if type(value) is str and len(value) <= fits and plain(value):
            return value  # plain text within the limit: cleaning and escaping keep it as it is
        cleaned = clean_text(value, max_length, multiline=multiline)
        return cleaned.translate(escapes) if needs_escape(cleaned) else cleaned

    return text


def _clean_leaf(cat: Catalog, field: Field, value: object, path: str) -> str:
    if isinstance(value, str) and value == "":
        return ""  # an explicit empty element: "clear this field" in a Mod
    try:
        cleaner = _cleaner(field)
        if cleaner is None:
            return _escape(_clean_enum(cat, field, value, path))
        return cleaner(value)
    except QbxmlVersionError:
        raise
    except ValueError as error:
        raise QbxmlDataError(f"{path}: {error}") from None


def _clean(cat: Catalog, field: Field, data: object, path: str) -> str | Fields:
    """Cleaned value of one element: its fields for an aggregate, escaped text for a leaf."""
    if field.kind != Kind.AGGREGATE:
        if type(data) not in _LEAF_TYPES and isinstance(data, (Mapping, list, tuple)):  # ABC check: slow
            raise QbxmlDataError(f"{path} takes a single value, not {type(data).__name__}")
        return _clean_leaf(cat, field, data, path)
    if not isinstance(data, Mapping):
        raise QbxmlDataError(f"{path} takes a dict of its fields, not {type(data).__name__} {data!r}")
    return _record(cat, field, data, path, {})


def _leaf_cleaning(cat: Catalog, field: Field) -> LeafCleaning:
    """How a compiled plan (``plan_code``) cleans ``field``'s values: as ``_cleaner`` does, inline where it
    can; anything else through ``_clean``, which raises for what this path refuses."""
    def exact(value: object) -> str:
        if value is None:
            raise Fallback(f"{field.name}: a None in a list")  # refused by _record, with its place
        cleaned = _clean(cat, field, value, field.name)
        assert isinstance(cleaned, str)  # a leaf
        return cleaned

    if field.kind == Kind.ENUM:
        return LeafCleaning(exact, choices={choice: _escape(choice) for choice in field.choices})
    formatter = _FORMATTERS.get(field.kind)
    if formatter is not None:
        return LeafCleaning(exact, formatter=formatter)
    return LeafCleaning(exact, plain=_PLAIN, fits=field.max_length)  # as _cleaner's text and identifier


# A child element as cleaning needs it: the field, whether it repeats, whether it is an aggregate, and its
# leaf cleaner (None for an aggregate or an enum).
_Child = tuple[Field, bool, bool, Callable[[object], str] | None]
_CHILDREN: dict[Field, dict[str, _Child]] = {}  # by aggregate (a Field belongs to one version's catalog)


def _children_in(cat: Catalog, field: Field) -> dict[str, _Child]:
    """``field``'s children by name, as cleaning needs them, worked out once per aggregate."""
    found = _CHILDREN.get(field)
    if found is None:
        found = {}
        for name, child in cat.children(field).items():
            aggregate = child.kind == Kind.AGGREGATE
            found[name] = (child, child.repeated, aggregate, None if aggregate else _cleaner(child))
        _CHILDREN[field] = found
    return found


def _clean_repeated_leaf(cleaner: Callable[[object], str], item: object, path: str, key: str,
                         index: int) -> str:
    """``_clean_leaf`` for an item of a repeated leaf whose cleaner is known: its place is written out only
    when it is wrong."""
    if type(item) is str and item == "":
        return ""  # an explicit empty element
    try:
        return cleaner(item)
    except QbxmlVersionError:
        raise
    except ValueError as error:
        raise QbxmlDataError(f"{path}/{key}[{index}]: {error}") from None


def _record(cat: Catalog, field: Field, data: Mapping[str, object], path: str, cleaned: Fields) -> Fields:
    """The cleaned fields of an aggregate, added to ``cleaned`` (which may hold its attributes), in the
    order ``data`` gives them (the first bad one raises)."""
    children = _children_in(cat, field)
    for key, value in data.items():
        if value is None:
            continue
        found = children.get(key) if type(key) is str or isinstance(key, str) else None
        if found is None:
            raise _unknown_field(cat, field, path, key)
        child, repeated, aggregate, cleaner = found
        kind = type(value)
        if cleaner is not None and not repeated and kind in _LEAF_TYPES:  # the usual leaf: no path built
            if kind is str and value == "":
                cleaned[key] = ""  # an explicit empty element: "clear this field" in a Mod
                continue
            try:
                cleaned[key] = cleaner(value)
            except QbxmlVersionError:
                raise
            except ValueError as error:
                raise QbxmlDataError(f"{path}/{key}: {error}") from None
        elif repeated:
            items = list(value) if isinstance(value, (list, tuple)) else [value]
            if any(item is None for item in items):
                raise QbxmlDataError(f"{path}/{key} lists a None; leave it out of the list")
            cleaned[key] = [
                _record(cat, child, item, f"{path}/{key}[{i}]", {}) if aggregate and type(item) is dict
                else _clean_repeated_leaf(cleaner, item, path, key, i) if cleaner is not None
                and type(item) in _LEAF_TYPES  # a value to send (a key of a query, an IncludeRetElement)
                else _clean(cat, child, item, f"{path}/{key}[{i}]")  # an enum, or a shape to check
                for i, item in enumerate(items)
            ]
        elif isinstance(value, (list, tuple)):
            raise QbxmlDataError(f"{path}/{key} appears at most once; a list of {len(value)} was given")
        elif aggregate and isinstance(value, dict):  # the usual aggregate (a reference, a line)
            cleaned[key] = _record(cat, child, value, f"{path}/{key}", {})
        else:
            cleaned[key] = _clean(cat, child, value, f"{path}/{key}")
    return cleaned


def _plain_as_cleaned(text: str) -> bool:
    """Whether cleaning keeps ``text`` as it is (plain text does: one match settles most, as "3527.2")."""
    return _PLAIN(text) is not None or values.clean_text(text) == text


def _request_attributes(
    choices_of: tuple[tuple[str, tuple[str, ...]], ...], data: Mapping[str, object], path: str,
    request_id: str | None,
) -> dict[str, str]:
    """The request's attributes: requestID (from the keyword) and iterator / iteratorID / metaData."""
    found: dict[str, str] = {}
    if request_id is not None:
        if not isinstance(request_id, str) or not request_id:
            raise QbxmlDataError(f"{path}: request_id must be a non-empty string, not {request_id!r}")
        if len(request_id) > REQUEST_ID_MAX_LENGTH or not _plain_as_cleaned(request_id):
            raise QbxmlDataError(
                f"{path}: request_id {request_id!r} must be at most {REQUEST_ID_MAX_LENGTH} plain characters"
            )
        found["requestID"] = request_id
    for name, choices in choices_of:
        value = data.get(name)
        if name == "requestID":
            if value is not None:
                raise QbxmlDataError(f"{path}: pass the requestID as request_id=..., not inside data")
            continue
        if value is None:
            continue
        if not isinstance(value, str) or not value or not _plain_as_cleaned(value):
            raise QbxmlDataError(f"{path}: attribute {name} must be plain text, not {value!r}")
        if choices and value not in choices:
            raise QbxmlDataError(f"{path}: attribute {name}={value!r} is not one of {', '.join(choices)}")
        found[name] = value
    return found


def _check_request_type(request_type: str, version: str) -> str:
    name = request_type.removesuffix("Rq")
    cat = catalog(version)
    if name in cat.request_types():
        if name not in template_names():
            raise QbxmlDataError(
                f"qbsync has no template for {name}Rq; it can render: {', '.join(sorted(template_names()))}"
            )
        return name
    for other in _other_versions(version):
        if name in catalog(other).request_types():
            raise QbxmlVersionError(f"{name}Rq is not part of qbXML {version} (it exists in qbXML {other})")
    raise QbxmlDataError(f"{request_type!r} is not a qbXML request type")


@dataclass(frozen=True)
class _Shape:
    """What rendering one request type in one version needs from the schema and the templates."""

    name: str  # "CustomerAdd"
    rq: Field  # <CustomerAddRq>
    body: Field | None  # the <CustomerAdd> aggregate; None when the fields sit on the request itself
    attributes: frozenset[str]  # the request element's attributes
    attribute_choices: tuple[tuple[str, tuple[str, ...]], ...]  # their allowed values (none: any)
    rq_keys: frozenset[str]  # names in ``data`` that go on the request, not in its body
    plan: Plan
    renderer: Renderer | None  # the plan compiled to Python (``plan_code``): the usual data's fast path


@functools.lru_cache(maxsize=512)
def _shape(request_type: str, version: str) -> _Shape:
    """The request type's :class:`_Shape`, worked out once (not for each record rendered); an unknown
    type or version raises, and is not cached."""
    name = _check_request_type(request_type, version)
    cat = catalog(version)
    rq = cat.element(f"{name}Rq")
    assert rq is not None  # _check_request_type found it
    rq_children = cat.children(rq)
    body = rq_children.get(name)
    attribute_choices = tuple(cat.attributes(rq).items())
    attributes = frozenset(attribute for attribute, _ in attribute_choices)
    if body is None or body.kind != Kind.AGGREGATE:
        body = None
    rq_keys = frozenset((set(rq_children) - {name}) | attributes)
    plan = compile_plan(name, version, body is not None)
    renderer = compile_renderer(plan, cat, rq, body, attributes, rq_keys,
                                lambda field: _leaf_cleaning(cat, field))
    return _Shape(name, rq, body, attributes, attribute_choices, rq_keys, plan, renderer)


def render_request(
    request_type: str,
    data: Mapping[str, object],
    *,
    request_id: str | None = None,
    version: str = DEFAULT_VERSION,
) -> str:
    """The ``<XxxRq requestID="...">...</XxxRq>`` fragment for ``request_type`` ("CustomerAdd", "TxnVoid"...).

    ``data`` follows the module's convention (qbXML element names). Raises ``QbxmlVersionError`` for a
    request type, field or enum value outside ``version`` and ``QbxmlDataError`` for anything else that
    cannot be sent as given.
    """
    shape = _shape(request_type, version)
    if type(data) is not dict and not isinstance(data, Mapping):
        raise QbxmlDataError(f"{shape.name}: data must be a dict of fields, not {type(data).__name__}")
    attributes = _request_attributes(shape.attribute_choices, data, f"{shape.name}Rq", request_id)
    rq_fields: Fields = {key: _escape(value) for key, value in attributes.items()}
    if shape.renderer is not None:
        # The usual data in one pass; anything else (a refusal above all) renders through the plan below,
        # which raises the first problem in data's order, with its place.
        try:
            return shape.renderer(data, rq_fields)
        except Exception:  # noqa: S110 - not swallowed: the plan renders it or raises the error again
            pass
    return _render_by_plan(shape, version, data, rq_fields)


def _render_by_plan(shape: _Shape, version: str, data: Mapping[str, object], rq_fields: Fields) -> str:
    """``render_request``'s reference path: clean ``data`` into records, then print them through the plan
    (``rq_fields`` holds the request's escaped attributes)."""
    name, rq, body_field, attribute_names, plan = (
        shape.name, shape.rq, shape.body, shape.attributes, shape.plan)
    cat = catalog(version)
    if body_field is not None:
        rq_keys = shape.rq_keys
        rq_data = {k: v for k, v in data.items() if k in rq_keys and k not in attribute_names}
        body_data = {k: v for k, v in data.items() if k not in rq_keys}
        _record(cat, rq, rq_data, f"{name}Rq", rq_fields)
        body: Fields | None = _record(cat, body_field, body_data, name, {})
    else:
        rq_data = {k: v for k, v in data.items() if k not in attribute_names}
        _record(cat, rq, rq_data, f"{name}Rq", rq_fields)
        body = None
    text, lost = plan.render(rq_fields, f"{name}Rq", body, name)
    if lost:
        raise QbxmlDataError(
            f"{name}: qbsync's template does not send {', '.join(sorted(set(lost)))}; "
            "leave them out or extend the template"
        )
    return text


def build_message(
    fragments: Sequence[str], *, on_error: str = "continueOnError", version: str = DEFAULT_VERSION
) -> str:
    """The whole qbXML request document around ``fragments`` (from ``render_request``), ready for QBWC.

    It starts exactly with ``<?xml version="1.0" encoding="utf-8"?>`` and ``<?qbxml version="13.0"?>``.
    ``on_error`` is "continueOnError" (every request is tried) or "stopOnError" (later ones come back 3231).
    """
    if on_error not in ON_ERROR_CHOICES:
        raise QbxmlDataError(f"on_error must be one of {', '.join(ON_ERROR_CHOICES)}, not {on_error!r}")
    require_version(version)
    if isinstance(fragments, str):
        raise QbxmlDataError("build_message takes a list of request fragments, not one string")
    body = "".join(f"{fragment.strip()}\n" for fragment in fragments)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<?qbxml version="{version}"?>\n'
        "<QBXML>\n"
        f'<QBXMLMsgsRq onError="{on_error}">\n'
        f"{body}"
        "</QBXMLMsgsRq>\n"
        "</QBXML>\n"
    )
