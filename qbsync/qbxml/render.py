"""Render qbXML requests from plain dicts through the Jinja2 templates in ``qbsync/qbxml_templates/``.

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
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from jinja2 import Environment, PackageLoader, StrictUndefined, Template
from markupsafe import Markup, escape

from qbsync.qbxml import values
from qbsync.qbxml.errors import QbxmlDataError, QbxmlVersionError
from qbsync.qbxml.fields import KNOWN_VERSIONS, Catalog, Field, Kind, catalog, require_version
from qbsync.qbxml.template_code import RequestCodeGenerator

DEFAULT_VERSION = "13.0"
ON_ERROR_CHOICES = ("continueOnError", "stopOnError")
REQUEST_ID_MAX_LENGTH = 50  # status 1060 beyond this

_TEMPLATE_SUFFIX = ".xml.j2"
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


def _finalize(value: object) -> object:
    """Escape every printed value; line breaks and tabs become character references.

    Character references keep them intact through XML parsing (a raw CR LF would be normalised to LF) and
    keep the rendered document one element per line.
    """
    if isinstance(value, Markup):
        return value
    if value is None:
        raise TypeError("a template printed None; use the q.el macro for optional fields")
    text = escape(str(value))
    if "\r" in text or "\n" in text or "\t" in text:  # rare (memos, notes): most values pass as they are
        text = Markup(  # noqa: S704 - escaped just above
            str(text).replace("\r", "&#13;").replace("\n", "&#10;").replace("\t", "&#9;")
        )
    return text


class _Markup:
    """The shared pieces of the request templates (``q.el``, ``q.ref``, ``q.address``, ``q.attr``).

    Plain Python rather than Jinja macros: a request template calls them for every field it knows, present
    or not, and a macro call costs tens of microseconds where a function call costs well under one.
    Values arrive cleaned (strings, lists of strings, nested records or None for "leave out").
    """

    @staticmethod
    def el(tag: str, value: FieldValue | None) -> Markup:
        """``<tag>value</tag>``; nothing for None; one element per item for a list."""
        if value is None:
            return _NOTHING
        if isinstance(value, str):
            return _markup(f"<{tag}>{_finalize(value)}</{tag}>")  # _finalize escapes
        if isinstance(value, Record):
            raise TypeError(f"the template prints the aggregate {tag} as one value; write out its fields")
        return _markup("".join(f"<{tag}>{_finalize(item)}</{tag}>" for item in value))

    @classmethod
    def ref(cls, tag: str, value: FieldValue | None) -> Markup:
        """A list reference (CustomerRef, ItemRef...): ListID and/or FullName."""
        if not value:
            return _NOTHING
        if not isinstance(value, Record):
            raise TypeError(f"the template passes {tag} a {type(value).__name__}, not a reference record")
        return _markup(  # parts escaped by el
            f"<{tag}>{cls.el('ListID', value.ListID)}{cls.el('FullName', value.FullName)}</{tag}>"
        )

    @classmethod
    def address(cls, tag: str, value: object) -> Markup:
        """A postal address (BillAddress, ShipAddress)."""
        if not value:
            return _NOTHING
        inner = "".join(cls.el(name, getattr(value, name)) for name in _ADDRESS_FIELDS)
        return _markup(f"<{tag}>{inner}</{tag}>")  # parts escaped by el

    @staticmethod
    def attr(name: str, value: object) -> Markup:
        """`` name="value"`` on the request element; nothing for None."""
        if value is None:
            return _NOTHING
        return _markup(f' {name}="{_finalize(value)}"')  # _finalize escapes


# Markup(text) for a plain str, without Markup.__new__'s look for an __html__ method (a plain str has none):
# the helpers make one per field sent, a good part of rendering.
_markup = functools.partial(str.__new__, Markup)
_NOTHING = Markup("")  # what a helper prints for an absent field: most fields of every template
_ADDRESS_FIELDS = (
    "Addr1", "Addr2", "Addr3", "Addr4", "Addr5", "City", "State", "PostalCode", "Country", "Note",
)


class _RequestEnvironment(Environment):
    """The templates' environment: compiled with direct helper calls (see ``template_code``)."""

    code_generator_class = RequestCodeGenerator


_environment = _RequestEnvironment(
    loader=PackageLoader("qbsync", "qbxml_templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=_finalize,
    auto_reload=False,
)
_HELPERS = _Markup()
_environment.globals["q"] = _HELPERS


class Record:
    """Cleaned fields of one aggregate, as the template sees them; remembers which fields it read.

    An absent field reads as None; a name the schema does not have at all is a template bug and raises.
    """

    __slots__ = ("_path", "_values", "_allowed", "_read")

    def __init__(self, path: str, fields: dict[str, FieldValue], allowed: frozenset[str]) -> None:
        self._path = path
        self._values = fields
        self._allowed = allowed
        self._read: set[str] = set()

    def __getattr__(self, name: str) -> FieldValue | None:
        # Only names that are not attributes get here: the fields, read for every field a template knows.
        values = self._values
        if name in values:
            self._read.add(name)
            return values[name]
        if name.startswith("_"):  # never a field (copy, pickle and Jinja probe such names)
            raise AttributeError(name)
        if name in self._allowed:
            return None
        raise AttributeError(f"{self._path} has no field {name!r} in any qbXML version")

    def __bool__(self) -> bool:
        return bool(self._values)

    def unread(self) -> Iterator[str]:
        """Paths of the fields that were given but never read by the template (they would be lost)."""
        for name, value in self._values.items():
            if name not in self._read:
                yield f"{self._path}/{name}"
                continue
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, Record):
                    yield from item.unread()


# A cleaned field as a template reads it: a leaf's text, a nested aggregate, or a repeated element's list.
FieldValue = str | Record | list[str | Record]


@functools.cache
def _template_names() -> frozenset[str]:
    return frozenset(
        name.removesuffix(_TEMPLATE_SUFFIX)
        for name in _environment.list_templates()
        if name.endswith(_TEMPLATE_SUFFIX) and not name.startswith("_")
    )


def supported_request_types(version: str = DEFAULT_VERSION) -> frozenset[str]:
    """The request types ``render_request`` can produce for ``version`` (names without "Rq")."""
    return _template_names() & catalog(version).request_types()


def _other_versions(version: str) -> list[str]:
    return [v for v in KNOWN_VERSIONS if v != version]


@functools.cache
def _allowed(schema_path: str) -> frozenset[str]:
    """Every name a template may read at ``schema_path``, in any known version (templates serve them all)."""
    names: set[str] = set()
    for version in KNOWN_VERSIONS:
        cat = catalog(version)
        found = cat.field_at(schema_path)
        if found is not None:
            names.update(cat.children(found))
            names.update(cat.attributes(found))
    return frozenset(names)


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


def _clean_leaf(cat: Catalog, field: Field, value: object, path: str) -> str:
    if isinstance(value, str) and value == "":
        return ""  # an explicit empty element: "clear this field" in a Mod
    try:
        if field.kind == Kind.ENUM:
            return _clean_enum(cat, field, value, path)
        formatter = _FORMATTERS.get(field.kind)
        if formatter is not None:
            return formatter(value)
        if field.kind in (Kind.ID, Kind.GUID) or field.name in _IDENTIFIER_NAMES:
            return _clean_identifier(field, value)
        multiline = field.max_length is not None and field.max_length >= values.MULTILINE_MIN_LENGTH
        return values.clean_text(value, field.max_length, multiline=multiline)
    except QbxmlVersionError:
        raise
    except ValueError as error:
        raise QbxmlDataError(f"{path}: {error}") from None


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


def _clean(cat: Catalog, field: Field, data: object, path: str) -> str | Record:
    """Cleaned value of one element: a Record for an aggregate, a string for a leaf."""
    if field.kind != Kind.AGGREGATE:
        if type(data) not in _LEAF_TYPES and isinstance(data, (Mapping, list, tuple)):  # ABC check: slow
            raise QbxmlDataError(f"{path} takes a single value, not {type(data).__name__}")
        return _clean_leaf(cat, field, data, path)
    if not isinstance(data, Mapping):
        raise QbxmlDataError(f"{path} takes a dict of its fields, not {type(data).__name__} {data!r}")
    return _record(cat, field, data, path, attributes={})


def _record(
    cat: Catalog, field: Field, data: Mapping[str, object], path: str, attributes: dict[str, str]
) -> Record:
    children = cat.children(field)
    cleaned: dict[str, FieldValue] = dict(attributes)
    for key, value in data.items():
        if value is None:
            continue
        child = children.get(key) if isinstance(key, str) else None
        if child is None:
            raise _unknown_field(cat, field, path, key)
        child_path = f"{path}/{key}"
        if child.repeated:
            items = list(value) if isinstance(value, (list, tuple)) else [value]
            if any(item is None for item in items):
                raise QbxmlDataError(f"{child_path} lists a None; leave it out of the list")
            cleaned[key] = [_clean(cat, child, item, f"{child_path}[{i}]") for i, item in enumerate(items)]
        elif isinstance(value, (list, tuple)):
            raise QbxmlDataError(f"{child_path} appears at most once; a list of {len(value)} was given")
        else:
            cleaned[key] = _clean(cat, child, value, child_path)
    return Record(path, cleaned, _allowed(_strip_indices(path)))


def _request_attributes(
    cat: Catalog, rq: Field, data: Mapping[str, object], path: str, request_id: str | None
) -> dict[str, str]:
    """The request's attributes: requestID (from the keyword) and iterator / iteratorID / metaData."""
    found: dict[str, str] = {}
    if request_id is not None:
        if not isinstance(request_id, str) or not request_id:
            raise QbxmlDataError(f"{path}: request_id must be a non-empty string, not {request_id!r}")
        if len(request_id) > REQUEST_ID_MAX_LENGTH or values.clean_text(request_id) != request_id:
            raise QbxmlDataError(
                f"{path}: request_id {request_id!r} must be at most {REQUEST_ID_MAX_LENGTH} plain characters"
            )
        found["requestID"] = request_id
    for name, choices in cat.attributes(rq).items():
        value = data.get(name)
        if name == "requestID":
            if value is not None:
                raise QbxmlDataError(f"{path}: pass the requestID as request_id=..., not inside data")
            continue
        if value is None:
            continue
        if not isinstance(value, str) or values.clean_text(value) != value or not value:
            raise QbxmlDataError(f"{path}: attribute {name} must be plain text, not {value!r}")
        if choices and value not in choices:
            raise QbxmlDataError(f"{path}: attribute {name}={value!r} is not one of {', '.join(choices)}")
        found[name] = value
    return found


def _check_request_type(request_type: str, version: str) -> str:
    name = request_type.removesuffix("Rq")
    cat = catalog(version)
    if name in cat.request_types():
        if name not in _template_names():
            raise QbxmlDataError(
                f"qbsync has no template for {name}Rq; it can render: {', '.join(sorted(_template_names()))}"
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
    rq_keys: frozenset[str]  # names in ``data`` that go on the request, not in its body
    template: Template


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
    attributes = frozenset(cat.attributes(rq))
    if body is None or body.kind != Kind.AGGREGATE:
        body = None
    return _Shape(name, rq, body, attributes, frozenset((set(rq_children) - {name}) | attributes),
                  _environment.get_template(f"{name}{_TEMPLATE_SUFFIX}"))


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
    name, rq, body_field, attribute_names, template = (
        shape.name, shape.rq, shape.body, shape.attributes, shape.template)
    if not isinstance(data, Mapping):
        raise QbxmlDataError(f"{name}: data must be a dict of fields, not {type(data).__name__}")
    cat = catalog(version)
    attributes = _request_attributes(cat, rq, data, f"{name}Rq", request_id)
    if body_field is not None:
        rq_keys = shape.rq_keys
        rq_data = {k: v for k, v in data.items() if k in rq_keys and k not in attribute_names}
        body_data = {k: v for k, v in data.items() if k not in rq_keys}
        rq_record = _record(cat, rq, rq_data, f"{name}Rq", attributes)
        body = _record(cat, body_field, body_data, name, {})
    else:
        rq_data = {k: v for k, v in data.items() if k not in attribute_names}
        rq_record = body = _record(cat, rq, rq_data, f"{name}Rq", attributes)
    # A shared context holding just what the templates read (the helpers, rq, d): Template.render would
    # first copy every environment global into a new dict, a good part of rendering a small request.
    context = template.new_context({"q": _HELPERS, "rq": rq_record, "d": body}, shared=True)
    text = "".join(template.root_render_func(context))
    lost = sorted({*rq_record.unread(), *body.unread()})
    if lost:
        raise QbxmlDataError(
            f"{name}: qbsync's template does not send {', '.join(lost)}; "
            "leave them out or extend the template"
        )
    return "\n".join(line for line in text.splitlines() if line.strip())


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
