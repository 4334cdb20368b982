"""The plain typed records the sync engine consumes, and how platform JSON values become their fields.

The engine never sees WooCommerce or Shopify JSON: the normalizers in ``woocommerce/normalize.py`` and
``shopify/normalize.py`` turn it into these frozen dataclasses.

Conventions, the same in every record:

- Money and quantities are ``Decimal``, never ``float``. Parse a platform body with
  :func:`load_payload` (``json.loads(..., parse_float=Decimal)``) so a JSON number such as WooCommerce's
  ``line_items[].price`` keeps its exact digits; a float that slipped through is converted via ``str()``.
- Storefront ids are strings (Shopify ids exceed 2^53). An absent id is ``None``, never ``"0"``.
- Datetimes are aware UTC. (Tables store naive UTC: ``dt.replace(tzinfo=None)`` when writing one.)
- Free text (names, company, note, reason) is ``""`` when absent; codes and ids that may be absent
  (sku, variant id, transaction id) are ``None``.
- Text is cleaned as it is read: NUL and other control characters (but tab and line breaks) are dropped,
  lone surrogates (which no database can store) become U+FFFD, and a field is cut to
  :data:`MAX_TEXT_CHARS` (an e-mail to :data:`MAX_EMAIL_CHARS`). Each change is noted, in the shopper's
  field's path, in :attr:`Payload.notes`; an order carries them as ``Order.input_notes``.
- ``to_dict()`` is JSON-safe (Decimals as strings, datetimes ISO 8601) and ``from_dict()`` rebuilds the
  identical record, so queue jobs can store records as JSON payloads.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Self, Union, cast, get_args, get_origin, get_type_hints

import lxml.html
from lxml import etree

ZERO = Decimal("0")
MAX_EXACT_FLOAT_INT = 2**53
# Money and quantities the normalizers accept (a float's repr has up to 17 significant digits).
MAX_DIGITS_BEFORE_POINT = 15
MAX_DECIMAL_PLACES = 20

# Text a shopper or merchant typed: what is kept of one field. QuickBooks' longest text fields (Memo,
# SalesDesc: maxLength 4095 in qbxml130.xsd) take this much; others are cut further when a request is
# rendered. HTML (product descriptions) may be longer before its tags are dropped.
MAX_TEXT_CHARS = 4_095
MAX_HTML_CHARS = 100_000
MAX_EMAIL_CHARS = 254  # the longest address SMTP can carry (RFC 5321, section 4.5.3.1.3)
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LONE_SURROGATES = re.compile(r"[\ud800-\udfff]")

# What a webhook topic is about (resource_of_topic) and what happened to it.
RESOURCE_TYPES = ("order", "customer", "product", "refund", "stock", "coupon")
EVENTS = ("created", "updated", "deleted", "restored")
ORDER_STATUSES = ("pending", "processing", "on_hold", "completed", "cancelled", "refunded", "failed")
PRODUCT_KINDS = ("inventory", "non_inventory", "service")


def check_resource_type(resource_type: str) -> None:
    """Raise ValueError unless ``resource_type`` is one of :data:`RESOURCE_TYPES`."""
    if resource_type not in RESOURCE_TYPES:
        known = ", ".join(RESOURCE_TYPES)
        raise ValueError(f"unknown resource type {resource_type!r}; expected one of {known}")


class InvalidPayload(ValueError):  # noqa: N818 - the name the webhook receivers and backfill catch
    """A platform payload the normalizers cannot read; ``str(error)`` names the field and the reason.

    The webhook receiver answers 400 with this text.
    """


# --------------------------------------------------------------------------------------------------
# Reading platform JSON values


_DECIMAL_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def load_payload(body: bytes | str) -> dict[str, Any]:
    """Parse a platform body into a JSON object, keeping every JSON number with a fraction as ``Decimal``.

    Raises :class:`InvalidPayload` when the body is not JSON or not a JSON object.
    """
    try:
        data = json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidPayload(f"body: not valid JSON ({exc})") from exc
    except RecursionError as exc:
        raise InvalidPayload("body: JSON nested too deeply") from exc
    if not isinstance(data, dict):
        raise InvalidPayload(f"body: expected a JSON object, got {type(data).__name__}")
    return data


def to_decimal(value: Any, field: str) -> Decimal:
    """A JSON money or quantity value as ``Decimal``: a decimal string, an int, a Decimal or a float.

    A float is converted through ``str()`` (its shortest repr), so ``12.1`` becomes ``Decimal("12.1")``.
    """
    if isinstance(value, bool) or value is None:
        raise InvalidPayload(f"{field}: expected a number, got {json.dumps(value)}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(str(value))
    elif isinstance(value, str):
        text = value.strip()
        # Decimal() alone would also take "1_000", "NaN" and "Infinity".
        if not _DECIMAL_TEXT.fullmatch(text):
            raise InvalidPayload(f"{field}: not a decimal number: {value!r}")
        result = Decimal(text)
    else:
        raise InvalidPayload(f"{field}: expected a number, got {type(value).__name__}")
    if not result.is_finite():
        raise InvalidPayload(f"{field}: not a finite number: {value!r}")
    # Beyond these, Decimal arithmetic would round or overflow instead of adding up exactly.
    if result and result.adjusted() > MAX_DIGITS_BEFORE_POINT - 1:
        raise InvalidPayload(f"{field}: number too large: {value!r}")
    if result.as_tuple().exponent < -MAX_DECIMAL_PLACES:  # type: ignore[operator]
        raise InvalidPayload(f"{field}: more than {MAX_DECIMAL_PLACES} decimal places: {value!r}")
    return result


def to_id(value: Any, field: str) -> str:
    """A storefront id as a string; ints of any size stay exact, a float that lost digits is refused."""
    if isinstance(value, bool) or value is None:
        raise InvalidPayload(f"{field}: expected an id, got {json.dumps(value)}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise InvalidPayload(f"{field}: empty id")
        return text
    if isinstance(value, Decimal):
        if value.is_finite() and value == value.to_integral_value():
            return str(int(value))
        raise InvalidPayload(f"{field}: not a whole-number id: {value!r}")
    if isinstance(value, float):
        # Only a parser that reads ints as floats produces this; beyond 2^53 the digits are already gone.
        if not value.is_integer():
            raise InvalidPayload(f"{field}: not a whole-number id: {value!r}")
        if abs(value) > MAX_EXACT_FLOAT_INT:
            raise InvalidPayload(f"{field}: id {value!r} was parsed as a float and lost precision")
        return str(int(value))
    raise InvalidPayload(f"{field}: expected an id, got {type(value).__name__}")


def to_utc(value: Any, field: str) -> datetime | None:
    """An ISO 8601 timestamp as aware UTC; one without an offset is taken as UTC (WooCommerce ``*_gmt``).

    ``None`` and ``""`` give ``None``.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidPayload(f"{field}: expected an ISO 8601 date, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidPayload(f"{field}: not an ISO 8601 date: {value!r}") from exc
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError as exc:  # year 1 or 9999 pushed past the calendar's edge by its offset
        raise InvalidPayload(f"{field}: date out of range: {value!r}") from exc


def utc_offset_minutes(local: Any, utc: Any) -> int | None:
    """The shop's offset from UTC in minutes, from one moment written both ways: an ISO 8601 timestamp
    carrying its offset (Shopify ``created_at``; ``utc`` None), or WooCommerce's local ``date_created``
    with its ``date_created_gmt``. None when it cannot be told."""
    if not isinstance(local, str) or not local.strip():
        return None
    try:
        moment = datetime.fromisoformat(local.strip())
        if moment.tzinfo is not None:
            offset = moment.utcoffset()
            return int(offset.total_seconds() // 60) if offset is not None else None
        if not isinstance(utc, str) or not utc.strip():
            return None
        gmt = datetime.fromisoformat(utc.strip()).replace(tzinfo=None)
    except ValueError:
        return None
    minutes = round((moment - gmt).total_seconds() / 60)
    return minutes if abs(minutes) <= 18 * 60 else None  # no zone is further than 18 hours


def plain_text(html: str) -> str:
    """The text of an HTML fragment (product descriptions), tags dropped, entities decoded, whitespace
    collapsed to single spaces."""
    if not html or not html.strip():
        return ""
    try:
        text = lxml.html.fragment_fromstring(html, create_parent="div").text_content()
    except (etree.ParserError, ValueError):
        text = html
    return " ".join(text.split())


def clean_text(text: str, limit: int = MAX_TEXT_CHARS) -> tuple[str, list[str]]:
    """``text`` without control characters or lone surrogates, cut to ``limit``; and what was changed."""
    changes = []
    if _CONTROL_CHARS.search(text):
        text = _CONTROL_CHARS.sub("", text)
        changes.append("control characters removed")
    if _LONE_SURROGATES.search(text):
        text = _LONE_SURROGATES.sub("\ufffd", text)
        changes.append("invalid characters replaced")
    text = text.strip()
    if len(text) > limit:
        changes.append(f"cut from {len(text)} to {limit} characters")
        text = text[:limit].rstrip()
    return text, changes


class Payload:
    """One JSON object of a platform payload, read field by field; every error names the field's path.

    ``notes`` collects what cleaning changed in the text fields read (shared with nested objects).
    """

    def __init__(self, data: Any, path: str = "", notes: list[str] | None = None) -> None:
        if not isinstance(data, Mapping):
            raise InvalidPayload(f"{path or 'payload'}: expected a JSON object, got {type(data).__name__}")
        self.data: Mapping[str, Any] = data
        self.path = path
        self.notes: list[str] = notes if notes is not None else []

    def where(self, key: str) -> str:
        """The dotted path of ``key`` inside the whole payload, for error messages."""
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str) -> Any:
        """The raw value, or None when absent."""
        return self.data.get(key)

    def has(self, key: str) -> bool:
        """True when the key is present with a value other than null or ``""``."""
        return self.data.get(key) not in (None, "")

    def require(self, key: str) -> Any:
        """The raw value; raise InvalidPayload when it is absent or null."""
        if self.data.get(key) is None:
            raise InvalidPayload(f"{self.where(key)}: required field is missing")
        return self.data[key]

    def id(self, key: str) -> str:
        """A required id."""
        return to_id(self.require(key), self.where(key))

    def optional_id(self, key: str) -> str | None:
        """An id, or None when absent, null, ``""`` or 0 (WooCommerce's "none")."""
        value = self.data.get(key)
        if value in (None, "", 0, "0") or isinstance(value, bool):
            return None
        return to_id(value, self.where(key))

    def text(self, key: str, limit: int = MAX_TEXT_CHARS) -> str:
        """A text field, ``""`` when absent or null, cleaned (see :func:`clean_text`); numbers are given as
        their text."""
        value = self.data.get(key)
        if value is None:
            return ""
        if isinstance(value, str):
            text, changes = clean_text(value, limit)
            if changes:
                note = f"{self.where(key)}: {', '.join(changes)}"
                if note not in self.notes:
                    self.notes.append(note)
            return text
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            return str(value)
        raise InvalidPayload(f"{self.where(key)}: expected text, got {type(value).__name__}")

    def optional_text(self, key: str, limit: int = MAX_TEXT_CHARS) -> str | None:
        """A text field, None when absent, null or blank."""
        return self.text(key, limit) or None

    def email(self, key: str) -> str:
        """An e-mail address as text, cut to :data:`MAX_EMAIL_CHARS`."""
        return self.text(key, MAX_EMAIL_CHARS)

    def decimal(self, key: str) -> Decimal:
        """A required number."""
        return to_decimal(self.require(key), self.where(key))

    def decimal_or(self, key: str, default: Decimal = ZERO) -> Decimal:
        """A number, ``default`` when absent, null or ``""`` (WooCommerce's empty money)."""
        if not self.has(key):
            return default
        return to_decimal(self.data[key], self.where(key))

    def optional_decimal(self, key: str) -> Decimal | None:
        """A number, or None when absent, null or ``""``."""
        if not self.has(key):
            return None
        return to_decimal(self.data[key], self.where(key))

    def flag(self, key: str, default: bool = False) -> bool:
        """A JSON boolean (0/1 accepted), ``default`` when absent or null."""
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if value in (0, 1):
            return bool(value)
        raise InvalidPayload(f"{self.where(key)}: expected true or false, got {value!r}")

    def when(self, key: str) -> datetime | None:
        """A timestamp as aware UTC, or None."""
        return to_utc(self.data.get(key), self.where(key))

    def object(self, key: str) -> Payload | None:
        """A nested object, or None when absent or null."""
        value = self.data.get(key)
        if value is None:
            return None
        return Payload(value, self.where(key), self.notes)

    def objects(self, key: str) -> list[Payload]:
        """A list of objects, ``[]`` when absent or null."""
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise InvalidPayload(f"{self.where(key)}: expected a list, got {type(value).__name__}")
        return [Payload(item, f"{self.where(key)}[{i}]", self.notes) for i, item in enumerate(value)]

    def required_objects(self, key: str) -> list[Payload]:
        """A list of objects that must be present (it may be empty)."""
        self.require(key)
        return self.objects(key)


# --------------------------------------------------------------------------------------------------
# Records


def _to_json(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_to_json(item) for item in value]
    return value


_NOT_FINGERPRINTED = ("modified_at", "input_notes")


def _without_modified_at(value: Any) -> Any:
    if isinstance(value, dict):
        # input_notes only say how the text was cleaned: QuickBooks sees the cleaned text itself.
        return {k: _without_modified_at(v) for k, v in value.items() if k not in _NOT_FINGERPRINTED}
    if isinstance(value, list):
        return [_without_modified_at(item) for item in value]
    return value


# Reading stored JSON back: one reader per field, worked out once per record class, that converts and
# checks in the same pass (what ``__post_init__`` checks of a record built in code), so a job's record is
# read without a second validation and without asking the type hints again for every value. Where a bad
# value sits ("Order.lines[0].quantity") is put together only when there is one.
_Reader = Callable[[Any], Any]


class _BadValue(ValueError):
    """A value :meth:`Record.from_dict` cannot take; ``path`` is filled in (innermost first) on the way
    out."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[str] = []


def _read_decimal(value: Any) -> Decimal:
    if type(value) is not str:
        raise _BadValue(f"expected a decimal string, got {value!r}")
    try:
        result = Decimal(value)
    except InvalidOperation as exc:
        raise _BadValue(f"not a decimal: {value!r}") from exc
    if not result.is_finite():
        raise _BadValue(f"not a finite decimal: {value!r}")
    return result


def _read_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise _BadValue(f"expected an ISO 8601 string, got {value!r}")
    try:
        result = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _BadValue(f"not an ISO 8601 date: {value!r}") from exc
    # Aware UTC only: a naive or offset time would compare and serialise differently.
    if result.utcoffset() != timedelta(0):
        raise _BadValue(f"not a UTC time: {value!r}")
    return result


def _read_exactly(kind: type) -> _Reader:
    def read(value: Any) -> Any:
        if type(value) is not kind:  # an int field takes no bool, a bool field no 0/1
            raise _BadValue(f"expected {kind.__name__}, got {value!r}")
        return value

    return read


def _reader(hint: Any) -> _Reader:
    """The function reading a JSON value of a field with type ``hint`` (see :meth:`Record.from_dict`)."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = get_args(hint)
        (inner,) = [option for option in options if option is not type(None)]
        read_inner = _reader(inner)
        nullable = type(None) in options

        def read_optional(value: Any) -> Any:
            if value is None:
                if nullable:
                    return None
                raise _BadValue("must not be null")
            return read_inner(value)

        return read_optional
    if origin is tuple:
        read_item = _reader(get_args(hint)[0])

        def read_tuple(value: Any) -> tuple[Any, ...]:
            if not isinstance(value, list):
                raise _BadValue("expected a list")
            try:
                return tuple([read_item(item) for item in value])
            except _BadValue as bad:
                for i, item in enumerate(value):
                    try:
                        read_item(item)
                    except _BadValue:
                        bad.path.append(f"[{i}]")
                        break
                raise

        return read_tuple
    if hint is Decimal:
        return _read_decimal
    if hint is datetime:
        return _read_datetime
    if isinstance(hint, type) and issubclass(hint, Record):
        record = hint

        def read_record(value: Any) -> Record:
            if not isinstance(value, dict):
                raise _BadValue("expected an object")
            return record._read(value)

        return read_record
    if hint in (str, bool, int):
        return _read_exactly(hint)
    raise TypeError(f"no reader for fields of type {hint}")


class _Fields:
    """How :meth:`Record.from_dict` reads one record class: each field's reader, and the defaults."""

    def __init__(self, cls: type) -> None:
        hints = _hints(cls)
        fields = dataclasses.fields(cls)
        self.readers: dict[str, _Reader] = {f.name: _reader(hints[f.name]) for f in fields}
        self.count = len(fields)
        self.defaults = tuple((f.name, f.default, f.default_factory) for f in fields)
        self.reads_part: bool = getattr(cls, "READS_PART", False)


_READERS: dict[type, _Fields] = {}


def _conforms(value: Any, hint: Any) -> bool:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return any(_conforms(value, option) for option in get_args(hint))
    if origin is tuple:
        item_hint = get_args(hint)[0]
        return isinstance(value, tuple) and all(_conforms(item, item_hint) for item in value)
    if hint is type(None):
        return value is None
    if hint is datetime:
        # Aware UTC only: a naive or offset time would compare and serialise differently.
        return isinstance(value, datetime) and value.utcoffset() == timedelta(0)
    if hint is Decimal:
        return isinstance(value, Decimal) and value.is_finite()
    return isinstance(value, hint)


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    """The resolved type hint of each field of a record class (worked out once per class)."""
    found = _HINTS.get(cls)
    if found is None:
        hints = get_type_hints(cls)
        found = _HINTS[cls] = {f.name: hints[f.name] for f in dataclasses.fields(cls)}
    return found


# The plain reader: what from_dict tries first. Most reads are of what to_dict wrote (a queue job's
# record, read once per job), so each record class gets, worked out once, one function that reads its
# fields one after another with each field's conversion written out in place: a text field is a type
# check, a money field ``Decimal(text)``, a list of records a list of the item class's own plain reads,
# with no reader looked up and called per value and no second pass for defaults. It takes only plain
# values (strings, "+00:00"/"Z" UTC times, lists, dicts) and gives up (raises) at anything else, valid
# or not; the field-by-field readers above (``Record._read``) then read the data again, so what is
# accepted and every error message stay theirs: the plain reader is a shortcut, never a second set of
# rules. tests/storefronts/test_records_storefront.py compares the two.
_PlainReader = Callable[[Any], Any]
_PLAIN_READERS: dict[type, _PlainReader] = {}


class _Unusual(Exception):  # noqa: N818 - not an error: a value the plain reader leaves to the others
    """Raised by a plain reader at a value it leaves to the field-by-field readers."""


def _indented(lines: list[str], by: str = "    ") -> list[str]:
    return [by + line for line in lines]


def _plain_conversion(hint: Any, var: str, names: dict[str, Any], depth: int = 0) -> list[str]:
    """Source lines checking the plain JSON value in ``var`` for a field of type ``hint`` and replacing it
    with the field's value; they raise _Unusual (or let Decimal/fromisoformat raise) where the
    field-by-field reader must decide. ``names`` collects what the lines refer to."""
    origin = get_origin(hint)
    unusual = "    raise _Unusual"
    if origin in (Union, types.UnionType):
        options = get_args(hint)
        (inner,) = [option for option in options if option is not type(None)]
        inner_lines = _plain_conversion(inner, var, names, depth)
        if type(None) not in options:
            return [f"if {var} is None:", unusual, *inner_lines]
        return [f"if {var} is not None:", *_indented(inner_lines)]
    if origin is tuple:
        item = get_args(hint)[0]
        lines = [f"if not isinstance({var}, list):", unusual]
        if isinstance(item, type) and issubclass(item, Record):
            reader = f"read_{item.__name__}"
            names[reader] = _plain_reader(item)
            return [*lines, f"{var} = tuple([{reader}(item) for item in {var}])"]
        each, items = f"item{depth}", f"items{depth}"
        return [*lines, f"{items} = []", f"for {each} in {var}:",
                *_indented(_plain_conversion(item, each, names, depth + 1)),
                f"    {items}.append({each})", f"{var} = tuple({items})"]
    if isinstance(hint, type) and issubclass(hint, Record):
        reader = f"read_{hint.__name__}"
        names[reader] = _plain_reader(hint)
        return [f"{var} = {reader}({var})"]  # which gives up at anything but a dict
    if hint is Decimal:
        return [f"if type({var}) is not str:", unusual, f"{var} = Decimal({var})",
                f"if not {var}.is_finite():", unusual]
    if hint is datetime:
        # fromisoformat gives the UTC singleton for "+00:00" and "Z": any other zone is left to the
        # field-by-field reader (which refuses it unless its offset is zero).
        return [f"if type({var}) is not str:", unusual, f"{var} = fromisoformat({var})",
                f"if {var}.tzinfo is not UTC:", unusual]
    if hint in (str, bool, int):
        return [f"if type({var}) is not {hint.__name__}:", unusual]
    raise TypeError(f"no reader for fields of type {hint}")


def _plain_reader(cls: type[Record]) -> _PlainReader:
    """The plain reader of record class ``cls`` (see above), worked out on its first use."""
    found = _PLAIN_READERS.get(cls)
    if found is not None:
        return found
    hints = _hints(cls)
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    reads_part = getattr(cls, "READS_PART", False)
    # A frozen record's fields can be set only through object.__setattr__, a slow call per field; so the
    # record is filled as a draft: an instance of a twin class with the same slots (the same memory
    # layout) that sets them as any object does, and then made the record by assigning its class.
    draft = type(f"{cls.__name__}Draft", (Record,), {"__slots__": cls.__slots__})
    names: dict[str, Any] = {"_Unusual": _Unusual, "Decimal": Decimal, "UTC": UTC, "cls": cls,
                             "fromisoformat": datetime.fromisoformat, "new": object.__new__, "draft": draft}
    lines = ["def read(data):", "    if not isinstance(data, dict):", "        raise _Unusual",
             "    record = new(draft)", "    missing = 0"]
    for i, f in enumerate(fields):
        key = repr(f.name)
        conversion = _plain_conversion(hints[f.name], "value", names)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            lines += [f"    value = data[{key}]", *_indented(conversion)]  # a KeyError gives up
        else:
            if f.default is not dataclasses.MISSING:
                names[f"default{i}"] = f.default
                default = f"default{i}"
            else:
                names[f"factory{i}"] = f.default_factory
                default = f"factory{i}()"
            lines += ["    try:", f"        value = data[{key}]", "    except KeyError:",
                      f"        value = {default}", "        missing += 1"]
            if conversion:
                lines += ["    else:", *_indented(conversion, "        ")]
        lines.append(f"    record.{f.name} = value")
    if not reads_part:
        # Every key read is a field: more keys than fields read means one the record does not have.
        lines += [f"    if len(data) + missing != {len(fields)}:", "        raise _Unusual"]
    lines.append("    record.__class__ = cls")
    if cls._check is not Record._check:
        lines.append("    record._check()")
    lines.append("    return record")
    # The source is made only of the record's field names (identifiers) and the lines above.
    exec(compile("\n".join(lines), f"<plain reader of {cls.__name__}>", "exec"), names)  # noqa: S102
    reader: _PlainReader = names["read"]
    _PLAIN_READERS[cls] = reader
    return reader


class Record:
    """Base of every record: type checks on creation, JSON round trip, fingerprint.

    A record class whose ``READS_PART`` is True is read (:meth:`from_dict`) from a larger payload: the
    keys it has no field for are left unread instead of refused.
    """

    __slots__ = ()
    READS_PART: ClassVar[bool] = False

    def __post_init__(self) -> None:
        for name, hint in _hints(type(self)).items():
            value = getattr(self, name)
            if not _conforms(value, hint):
                raise TypeError(f"{type(self).__name__}.{name}: {value!r} is not {hint}")
        self._check()

    def _check(self) -> None:
        """What a record must hold beyond its fields' types (a word from a vocabulary); raise ValueError."""

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-safe data: Decimals as strings, datetimes ISO 8601, tuples as lists."""
        return {f.name: _to_json(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, _where: str = "") -> Self:
        """Rebuild a record from :meth:`to_dict` output; raise ValueError naming a missing/bad/unknown key.

        Each value is converted and checked once, by its field's reader; the record is then made without
        running the type checks of ``__post_init__`` again (they are what the readers checked). The
        class's plain reader reads what ``to_dict`` wrote; anything it gives up at is read field by field.
        """
        read = _PLAIN_READERS.get(cls) or _plain_reader(cls)
        try:
            return cast(Self, read(data))
        except Exception:  # noqa: S110 - given up at: read again below, which names what is wrong
            pass
        return cls._read_by_field(data, _where)

    @classmethod
    def _read_by_field(cls, data: Mapping[str, Any], where: str = "") -> Self:
        """:meth:`from_dict` by the field-by-field readers alone: the reference the plain reader matches."""
        try:
            return cls._read(data)
        except _BadValue as bad:
            where = (where or cls.__name__) + "".join(reversed(bad.path))
            raise ValueError(f"{where}: {bad.reason}") from None

    @classmethod
    def _read(cls, data: Mapping[str, Any]) -> Self:
        fields = _READERS.get(cls)
        if fields is None:
            fields = _READERS[cls] = _Fields(cls)
        readers = fields.readers
        record = object.__new__(cls)
        set_field = object.__setattr__  # frozen: set as the dataclass __init__ does
        name = ""
        try:
            for name, value in data.items():
                read = readers.get(name)
                if read is None:
                    if fields.reads_part:
                        continue
                    raise _BadValue(f"unknown fields {sorted(set(data) - set(readers))}")
                set_field(record, name, read(value))
            if len(data) < fields.count or fields.reads_part:
                for name, default, factory in fields.defaults:
                    if name in data:
                        continue
                    if default is not dataclasses.MISSING:
                        set_field(record, name, default)
                    elif factory is not dataclasses.MISSING:
                        set_field(record, name, factory())
                    else:
                        raise _BadValue("required field is missing")
        except _BadValue as bad:
            if not bad.reason.startswith("unknown fields"):
                bad.path.append(f".{name}")
            raise
        try:
            record._check()
        except ValueError as exc:
            raise _BadValue(str(exc)) from exc
        return record

    def fingerprint(self) -> str:
        """A stable sha256 (hex) of the record's content, ignoring ``modified_at`` (and ``input_notes``)
        at every level.

        Equal fingerprints mean nothing QuickBooks could see has changed, so the engine can skip the
        update (storefronts re-send unchanged records, e.g. WooCommerce's double ``product.updated``).
        """
        content = _without_modified_at(self.to_dict())
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


_record = dataclass(frozen=True, slots=True, kw_only=True)


@_record
class Address(Record):
    """A postal address. ``state`` and ``country`` are codes when the platform gives them (CA, US)."""

    first_name: str = ""
    last_name: str = ""
    company: str = ""
    line1: str = ""
    line2: str = ""
    city: str = ""
    state: str = ""
    postcode: str = ""
    country: str = ""
    phone: str = ""


@_record
class Customer(Record):
    """A storefront customer, or a guest built from an order's billing details.

    A guest has ``storefront_id`` None and ``is_guest`` True: match it by e-mail or name.
    """

    storefront_id: str | None
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    phone: str = ""
    billing: Address | None = None
    shipping: Address | None = None
    modified_at: datetime | None = None
    is_guest: bool = False


@_record
class MetaNumber(Record):
    """A numeric custom field of a product (WooCommerce ``meta_data``): kept so that a setting can name
    the one holding the product's cost (WooCommerce has no cost field of its own)."""

    key: str
    value: Decimal


@_record
class Product(Record):
    """One sellable item: a simple product, a WooCommerce variation or a Shopify variant.

    ``product_id`` is the storefront product (for a variant: its parent product, as order lines name it);
    ``variant_id`` the variation/variant or None; ``parent_id`` equals ``product_id`` for a variant and
    is None otherwise. ``kind`` is "inventory" when the store manages stock, else "service" for
    virtual/downloadable/no-shipping items, else "non_inventory". ``stock_quantity`` is None unless
    stock is managed. ``inventory_item_id`` is Shopify's key for stock levels.
    """

    KINDS: ClassVar[tuple[str, ...]] = PRODUCT_KINDS

    product_id: str
    variant_id: str | None = None
    parent_id: str | None = None
    sku: str | None = None
    name: str
    description: str = ""
    price: Decimal | None = None
    cost: Decimal | None = None
    manages_stock: bool = False
    stock_quantity: Decimal | None = None
    taxable: bool = True
    active: bool = True
    modified_at: datetime | None = None
    inventory_item_id: str | None = None
    kind: str = "non_inventory"
    # WooCommerce: the product's numeric meta fields (None on platforms with a cost field of their own).
    meta_numbers: tuple[MetaNumber, ...] | None = None

    def _check(self) -> None:
        if self.kind not in PRODUCT_KINDS:
            raise ValueError(f"Product.kind: {self.kind!r} is not one of {', '.join(PRODUCT_KINDS)}")


@_record
class TaxLine(Record):
    """Tax at one rate. ``amount`` is all tax at this rate (items and shipping); ``shipping_amount`` is
    the part charged on shipping. ``rate_percent`` is e.g. ``Decimal("6")`` for 6 %, None if unknown.
    """

    rate_id: str | None = None
    code: str = ""
    label: str = ""
    rate_percent: Decimal | None = None
    amount: Decimal
    shipping_amount: Decimal = ZERO
    compound: bool = False


@_record
class OrderLine(Record):
    """One product line of an order.

    ``subtotal`` is the line before discounts, ``total`` after; both exclude tax unless the order's
    ``prices_include_tax`` is True. ``unit_price`` is the price of one unit before discounts.
    ``gift_card`` is True for a gift card sold (Shopify marks them; WooCommerce has no standard mark,
    see the ``gift_card_skus`` setting): its money is owed to the card's holder, not earned.
    """

    id: str | None = None
    product_id: str | None = None
    variant_id: str | None = None
    sku: str | None = None
    name: str
    quantity: Decimal
    unit_price: Decimal
    subtotal: Decimal
    total: Decimal
    tax: Decimal = ZERO
    taxable: bool = True
    tax_lines: tuple[TaxLine, ...] = ()
    gift_card: bool = False

    @property
    def discount(self) -> Decimal:
        """The discount allocated to this line."""
        return self.subtotal - self.total


@_record
class ShippingLine(Record):
    """One shipping charge; ``amount`` before shipping discounts (``discount``, already in the order's
    discount lines), ``tax`` the tax on it."""

    id: str | None = None
    method_id: str = ""
    title: str = ""
    amount: Decimal
    discount: Decimal = ZERO
    tax: Decimal = ZERO
    tax_lines: tuple[TaxLine, ...] = ()


@_record
class FeeLine(Record):
    """One fee (may be negative), e.g. a WooCommerce fee line or Shopify duties/additional fees."""

    id: str | None = None
    name: str = ""
    amount: Decimal
    tax: Decimal = ZERO
    taxable: bool = False
    tax_lines: tuple[TaxLine, ...] = ()


@_record
class DiscountLine(Record):
    """One discount (coupon code, automatic or manual discount); ``amount`` is positive and excludes tax
    unless the order's prices include tax; ``tax`` is the tax it removed where the platform says."""

    code: str = ""
    title: str = ""
    amount: Decimal
    tax: Decimal = ZERO


@_record
class RefundSummary(Record):
    """A refund as an order lists it; ``amount`` positive; ``lines`` what it refunded per order line where
    the order body says (Shopify embeds its refunds whole; a WooCommerce order lists only id and total)."""

    storefront_id: str
    amount: Decimal
    reason: str = ""
    lines: tuple[RefundLine, ...] = ()


@_record
class Payment(Record):
    """What one payment gateway took of an order (Shopify: its successful sale and capture transactions),
    e.g. ``gift_card`` 20.00 and ``shopify_payments`` 29.00."""

    gateway: str
    amount: Decimal


@_record
class Order(Record):
    """A storefront order as placed (refunds are separate records, summarised in ``refunds``).

    ``number`` is what the merchant sees ("1001" for Shopify's "#1001"). ``status`` is one of
    pending, processing, on_hold, completed, cancelled, refunded, failed; ``raw_status`` is the
    platform's own word (Shopify: its ``financial_status``). ``utc_offset_minutes`` is where the shop
    is (its clock's offset from UTC when the order was placed), so the books date the order as the shop
    does. ``prices_include_tax`` tells whether line,
    shipping, fee and discount amounts include tax (WooCommerce amounts never do; Shopify's do when the
    shop's ``taxes_included``). ``subtotal`` is the lines before discounts. ``total`` is the whole
    order, including what ``gift_card_amount`` paid.
    """

    STATUSES: ClassVar[tuple[str, ...]] = ORDER_STATUSES

    storefront_id: str
    number: str
    status: str
    raw_status: str = ""
    paid: bool = False
    date_paid: datetime | None = None
    cancelled_at: datetime | None = None
    # A cancelled order: True when the store put back in stock, as it cancelled it, what its refunds had
    # not; False when it says it did not (Shopify lists what it restocked as refund lines); None when the
    # platform does not say (WooCommerce).
    restocked_on_cancel: bool | None = None
    currency: str
    created_at: datetime
    modified_at: datetime | None = None
    customer: Customer
    billing: Address | None = None
    shipping: Address | None = None
    lines: tuple[OrderLine, ...] = ()
    shipping_lines: tuple[ShippingLine, ...] = ()
    fee_lines: tuple[FeeLine, ...] = ()
    discounts: tuple[DiscountLine, ...] = ()
    tax_lines: tuple[TaxLine, ...] = ()
    subtotal: Decimal = ZERO
    discount_total: Decimal = ZERO
    shipping_total: Decimal = ZERO
    tax_total: Decimal = ZERO
    total: Decimal
    prices_include_tax: bool = False
    utc_offset_minutes: int | None = None  # the shop's offset from UTC when the order was placed
    payment_method: str = ""
    payment_method_title: str = ""
    transaction_id: str | None = None
    note: str = ""
    refunds: tuple[RefundSummary, ...] = ()
    # Paid with gift cards or store credit (included in ``total``): a liability used up, not a discount.
    # None when the store says a gift card paid part of it but not how much.
    gift_card_amount: Decimal | None = ZERO
    # The payment split per gateway where the store tells it (Shopify order transactions), else empty.
    payments: tuple[Payment, ...] = ()
    # The currency the buyer saw and paid in, and the order's total in it, when the store converted the
    # order's amounts (Shopify presentment_money; ``currency`` is the shop's); "" and None otherwise.
    presentment_currency: str = ""
    presentment_total: Decimal | None = None
    # What cleaning changed in the text as the store sent it ("billing.email: cut from 5012 to 254 ...").
    input_notes: tuple[str, ...] = ()

    def _check(self) -> None:
        if self.status not in ORDER_STATUSES:
            raise ValueError(f"Order.status: {self.status!r} is not one of {', '.join(ORDER_STATUSES)}")

    def computed_total(self) -> Decimal:
        """The total the order's own lines add up to: lines (before discounts) + shipping + fees
        − discounts + tax (tax only when prices exclude it)."""
        total = (
            sum((line.subtotal for line in self.lines), ZERO)
            + sum((line.amount for line in self.shipping_lines), ZERO)
            + sum((line.amount for line in self.fee_lines), ZERO)
            - sum((line.amount for line in self.discounts), ZERO)
        )
        if not self.prices_include_tax:
            total += sum((line.amount for line in self.tax_lines), ZERO)
        return total

    def total_difference(self) -> Decimal:
        """``total`` minus :meth:`computed_total`: zero when the platform's numbers agree; otherwise the
        engine adds a rounding line for it or flags the order rather than post a wrong total."""
        return self.total - self.computed_total()


@_record
class LastKnownLine(Record):
    """An order line as far as a stored payload tells it (see :class:`LastKnownOrder`): what is sold
    and how many, None where the payload does not say; the line's other keys are left unread."""

    READS_PART = True

    id: str | None = None
    product_id: str | None = None
    variant_id: str | None = None
    sku: str | None = None
    name: str | None = None
    quantity: Decimal | None = None
    gift_card: bool | None = None


@_record
class OrderBuyer(Record):
    """Who bought an order and in which currency, read from its payload without the rest (lines,
    addresses, taxes): what choosing its customer reads (``queue.intake.Buyer``), for the hundreds of
    orders that may wait for one proxy customer."""

    customer: Customer
    currency: str

    READS_PART = True  # read from an Order.to_dict(): its other keys are left unread


@_record
class LastKnownOrder(Record):
    """An order as qbsync last knew it, read from a stored payload that may hold only part of an
    :class:`Order` (a deleted order's job carries what was stored of it, possibly nothing): what a
    cancellation and the stock counts read. A field the payload lacks is None, never a made-up value;
    the payload's other fields are left unread.
    """

    storefront_id: str | None = None
    number: str | None = None
    status: str | None = None
    created_at: datetime | None = None
    modified_at: datetime | None = None
    cancelled_at: datetime | None = None
    restocked_on_cancel: bool | None = None
    currency: str | None = None
    total: Decimal | None = None
    presentment_currency: str | None = None
    presentment_total: Decimal | None = None
    lines: tuple[LastKnownLine, ...] | None = None
    refunds: tuple[RefundSummary, ...] | None = None

    READS_PART = True  # read from an Order.to_dict(), or part of one: its other keys are left unread

    @classmethod
    def of(cls, order: Order, data: Mapping[str, Any]) -> LastKnownOrder | None:
        """What :meth:`from_dict` reads from ``data``, taken from ``order`` (already read from the same
        ``data``) instead of reading it again; None when ``data`` lacks a field (the order's default would
        then stand where the last known order has None: read it)."""
        lines = data.get("lines")
        if not data.keys() >= _LAST_KNOWN_FIELDS or not isinstance(lines, list) or not all(
                isinstance(line, Mapping) and line.keys() >= _LAST_KNOWN_LINE_FIELDS for line in lines):
            return None
        record = object.__new__(cls)
        for name in _LAST_KNOWN_FIELDS:
            value = getattr(order, name)
            if name == "lines":
                value = tuple(_last_known_line(line) for line in value)
            object.__setattr__(record, name, value)
        return record


def _last_known_line(line: OrderLine) -> LastKnownLine:
    record = object.__new__(LastKnownLine)
    for name in _LAST_KNOWN_LINE_FIELDS:
        object.__setattr__(record, name, getattr(line, name))
    return record


# Every field of these is a field of Order / OrderLine, of a type their own field's type includes.
_LAST_KNOWN_FIELDS = frozenset(_hints(LastKnownOrder))
_LAST_KNOWN_LINE_FIELDS = frozenset(_hints(LastKnownLine))


@_record
class RefundLine(Record):
    """One refunded order line: positive quantity, ``amount`` (after discounts, without tax) and
    ``tax``; ``line_id`` is the order line it refunds; ``restock`` None when the platform does not say."""

    line_id: str | None = None
    product_id: str | None = None
    variant_id: str | None = None
    sku: str | None = None
    quantity: Decimal = ZERO
    amount: Decimal = ZERO
    tax: Decimal = ZERO
    restock: bool | None = None


@_record
class Refund(Record):
    """A refund of an order. ``amount`` is the money returned (positive); ``shipping`` the part that was
    shipping and ``shipping_tax`` the tax refunded on it, None when the store did not itemize that tax (or,
    on Shopify's API since 2024-10, the shipping itself: ``shipping`` is then 0 and what was returned beyond
    the lines is read by ``sales_tax.refunded_shipping``); ``restock`` True when any line went back to
    stock, None when the platform does not say."""

    storefront_id: str
    order_id: str
    amount: Decimal
    reason: str = ""
    lines: tuple[RefundLine, ...] = ()
    shipping: Decimal = ZERO
    shipping_tax: Decimal | None = None
    restock: bool | None = None
    created_at: datetime | None = None


@_record
class StockLevel(Record):
    """Stock of one item, at one location when the platform has locations (Shopify).

    WooCommerce levels carry product/variant id and sku; Shopify inventory levels carry only
    ``inventory_item_id`` and ``location_id``. ``quantity`` is None when the store does not track it.
    """

    product_id: str | None = None
    variant_id: str | None = None
    sku: str | None = None
    inventory_item_id: str | None = None
    location_id: str | None = None
    quantity: Decimal | None = None
    modified_at: datetime | None = None
