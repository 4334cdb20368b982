"""Read qbXML responses leniently, on a hardened XML parser.

Lenient: the XSD is not enforced (real QuickBooks answers break it now and then), missing requestIDs and
unknown elements are fine, and every ``*Rs`` becomes a ``Response`` whatever it holds. Hardened: no DTDs,
no entity expansion, no network, no huge trees; a document declaring a DOCTYPE or entities is refused.

Records are the ``*Ret`` aggregates as nested dicts keyed by the qbXML names (``ListID``, ``EditSequence``,
``QuantityOnHand``, ``InvoiceLineRet``...). Leaf values stay the exact text QuickBooks sent (convert with
``Decimal`` where needed). An element the schema allows to repeat is always a list (``InvoiceLineRet``,
``DataExtRet``, ``SupportedQBXMLVersion``), even with one entry; any other element that happens to repeat
becomes a list too.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from lxml import etree

from qbsync.qbxml.errors import QbxmlParseError
from qbsync.qbxml.fields import Catalog, Field, Kind, catalog
from qbsync.qbxml.limits import STORED_MAX_CHARS
from qbsync.qbxml.status import Outcome, classify

# The newest schema knows every element the older ones do; it decides what repeats.
_SCHEMA_VERSION = "16.0"
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_FORBIDDEN = (b"<!DOCTYPE", b"<!ENTITY")


@dataclass(frozen=True)
class Response:
    """One ``*Rs`` of a response message."""

    type: str  # "CustomerAddRs"
    request_id: str | None
    status_code: int
    severity: str  # "Info" | "Warn" | "Error"
    message: str
    records: list[dict[str, object]] = field(default_factory=list)
    record_types: list[str] = field(default_factory=list)  # "CustomerRet", ... parallel to records
    iterator_id: str | None = None
    iterator_remaining_count: int | None = None
    ret_count: int | None = None
    # Whether a value in ``records`` may be longer than qbsync keeps (``limits.STORED_MAX_CHARS``), noted by
    # the parser as it read them: False when none is, so nothing needs to walk the records again to know;
    # None when not known (a Response built by hand). Derived from the records, so not compared.
    too_long: bool | None = field(default=None, compare=False, repr=False)

    @property
    def request_type(self) -> str:
        """The request this answers, without suffix: "CustomerAdd"."""
        return self.type.removesuffix("Rs")

    @property
    def record(self) -> dict[str, object] | None:
        """The first record, or None."""
        return self.records[0] if self.records else None

    @property
    def outcome(self) -> Outcome:
        """What the sync should do with this answer (see ``status.classify``)."""
        return classify(self.status_code, self.severity, self.message)

    def records_of(self, ret_type: str) -> list[dict[str, object]]:
        """The records of one kind, e.g. ``records_of("ItemInventoryRet")`` in an ItemQuery answer."""
        return [r for r, t in zip(self.records, self.record_types, strict=True) if t == ret_type]


@dataclass(frozen=True)
class ResponseSet:
    """All responses of one qbXML message, in document order."""

    responses: list[Response]

    def by_request_id(self, request_id: str | None) -> Response | None:
        """The response echoing ``request_id``, or None (responses to requests without one have none)."""
        return self._by_request_id.get(request_id)

    @functools.cached_property
    def _by_request_id(self) -> dict[str | None, Response]:
        # Built once: the exchange asks for each of up to hundreds of answers (the first one wins a tie).
        index: dict[str | None, Response] = {}
        for response in self.responses:
            index.setdefault(response.request_id, response)
        return index

    def __iter__(self) -> Iterator[Response]:
        return iter(self.responses)

    def __len__(self) -> int:
        return len(self.responses)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
    )


def _document_bytes(xml: str | bytes) -> bytes:
    if isinstance(xml, str):
        # The text is already decoded: its declaration (maybe naming another encoding) no longer applies.
        # (Matched at the start, not substituted: re.sub would try the pattern at every position.)
        declaration = _DECLARATION.match(xml)
        return (xml[declaration.end():] if declaration else xml).encode("utf-8")
    if isinstance(xml, bytes | bytearray):
        data = bytes(xml)
        return data if data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) else data.lstrip()
    raise QbxmlParseError(f"a qbXML response must be text or bytes, not {type(xml).__name__}")


def _as_utf8(data: bytes) -> bytes:
    """The bytes to scan for a DOCTYPE: UTF-16 documents are decoded first so the scan can see it."""
    for bom, encoding in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if data.startswith(bom):
            return data.decode(encoding, errors="replace").encode("utf-8")
    return data


def _root(xml: str | bytes) -> etree._Element:
    data = _document_bytes(xml)
    if not data.strip():
        raise QbxmlParseError("the qbXML response is empty")
    if any(marker in _as_utf8(data) for marker in _FORBIDDEN):
        raise QbxmlParseError("the qbXML response declares a DOCTYPE or entities; refused")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as error:
        raise QbxmlParseError(f"the qbXML response is not well-formed XML: {error}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise QbxmlParseError("the qbXML response declares a DOCTYPE; refused")
    return root


def _message_set(root: etree._Element) -> etree._Element:
    if root.tag == "QBXMLMsgsRs":
        return root
    found = root.find("QBXMLMsgsRs") if root.tag == "QBXML" else None
    if found is None:
        raise QbxmlParseError(
            f"not a qbXML response: expected <QBXML><QBXMLMsgsRs>, found <{root.tag}>"
            + ("" if root.tag != "QBXML" else " without QBXMLMsgsRs")
        )
    return found


def _elements(node: etree._Element) -> list[etree._Element]:
    return [child for child in node if isinstance(child.tag, str)]


# A child element as the reader needs it: its schema, whether it repeats, whether it is an aggregate, and the
# longest value of it qbsync keeps (None: any).
_Known = dict[str, tuple[Field, bool, bool, int | None]]
_KNOWN: dict[Field | None, _Known] = {}  # by aggregate: worked out once, not for every record read


def _known(cat: Catalog, schema: Field | None) -> _Known:
    if schema is None:
        return {}
    found = _KNOWN.get(schema)
    if found is None:
        found = {name: (child, child.repeated, child.kind == Kind.AGGREGATE, STORED_MAX_CHARS.get(name))
                 for name, child in cat.children(schema).items()}
        _KNOWN[schema] = found
    return found


def _has_elements(node: etree._Element) -> bool:
    # len() first: most elements are leaves, and asking it builds nothing.
    return bool(len(node)) and any(isinstance(c.tag, str) for c in node)


def _record(cat: Catalog, node: etree._Element, schema: Field | None,
            too_long: list[str]) -> dict[str, object]:
    """An aggregate as a dict: an element with elements in it, or one the schema calls an aggregate, is a
    dict; any other is its text ("" when empty). Repeated names (by the schema or in fact) are lists.

    The name of every text longer than qbsync keeps (``limits.STORED_MAX_CHARS``) is added to ``too_long``:
    noted in this one walk, not found by another."""
    known = _KNOWN.get(schema) or _known(cat, schema)  # (a call only the first time, or for none)
    out: dict[str, object] = {}
    lists: dict[str, list[object]] | None = None  # the values of ``out`` that are lists, by name
    for child in node:
        name = child.tag
        # Nearly every element is one the schema knows here: a subscript finds it (cheaper per element
        # than .get()), the rest are read as found. Only an element's name is text (and the parser drops
        # comments and processing instructions anyway).
        try:
            child_schema, repeated, aggregate, limit = known[name]
        except KeyError:
            if not isinstance(name, str):
                continue
            child_schema, repeated, aggregate, limit = None, False, False, STORED_MAX_CHARS.get(name)
        if aggregate or (len(child) and _has_elements(child)):
            value: object = _record(cat, child, child_schema, too_long)
        else:
            value = text = child.text or ""
            if limit is not None and len(text) > limit:
                too_long.append(name)
        if not repeated and name not in out:  # the usual element: once in its record
            out[name] = value
        elif lists is not None and name in lists:
            lists[name].append(value)
        else:
            if lists is None:
                lists = {}
            out[name] = lists[name] = [out[name], value] if name in out else [value]
    return out


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


_SEVERITIES = ("Info", "Warn", "Error")


def _severity(given: str | None, code: int) -> str:
    if given in _SEVERITIES:
        return given  # as QuickBooks writes it: nothing to compare
    for name in _SEVERITIES:
        if given and given.strip().lower() == name.lower():
            return name
    return "Info" if 0 <= code < 500 else "Warn" if 500 <= code < 1000 else "Error"


# statusCodes are 32-bit integers (qbXML's INTTYPE; real ones are below 10,000): others are not valid.
_STATUS_CODES = range(-(2**31), 2**31)


def _status_code(text: str | None) -> int | None:
    """The statusCode attribute as a 32-bit integer, or None when it is missing or not one.

    (Checked before the range test: ``None in range(...)`` makes Python walk all 2**32 values.)
    """
    code = _int(text)
    return code if code is not None and code in _STATUS_CODES else None


def _response(cat: Catalog, node: etree._Element) -> Response:
    name = node.tag
    code = _status_code(node.get("statusCode"))
    message = node.get("statusMessage", "")
    if code is None:
        problem = f"QuickBooks sent {name} without a valid statusCode ({node.get('statusCode')!r})"
        message = f"{problem}: {message}" if message else problem
        code = -1
    schema = cat.element(name)
    known = cat.children(schema)
    records: list[dict[str, object]] = []
    types: list[str] = []
    too_long: list[str] = []
    # Each element child with its name (read once: lxml makes the name anew at every asking).
    rets = [(c, tag) for c in node if isinstance(tag := c.tag, str) and tag.endswith("Ret")]
    if rets:
        for ret, ret_type in rets:
            records.append(_record(cat, ret, known.get(ret_type) or cat.element(ret_type), too_long))
            types.append(ret_type)
    else:
        # TxnVoidRs, TxnDelRs...: the answer's fields sit directly in the Rs.
        record = _record(cat, node, schema, too_long)
        record.pop("ErrorRecovery", None)
        if record:
            records.append(record)
            types.append(name)
    return Response(
        type=name,
        request_id=node.get("requestID"),
        status_code=code,
        severity=_severity(node.get("statusSeverity"), code),
        message=message,
        records=records,
        record_types=types,
        iterator_id=node.get("iteratorID"),
        iterator_remaining_count=_int(node.get("iteratorRemainingCount")),
        ret_count=_int(node.get("retCount")),
        # A name noted in the ErrorRecovery left out above is an overestimate, which is allowed.
        too_long=bool(too_long),
    )


def parse_response(xml: str | bytes) -> ResponseSet:
    """Every ``*Rs`` of a qbXML response, in document order.

    Raises ``QbxmlParseError`` for anything that is not a qbXML response: not XML, a DOCTYPE or entity
    declaration, or no ``QBXMLMsgsRs``.
    """
    message_set = _message_set(_root(xml))
    cat = catalog(_SCHEMA_VERSION)
    return ResponseSet([_response(cat, node) for node in _elements(message_set)])


def answer_xml(xml: str | bytes, request_id: str) -> str | None:
    """The one answer in a qbXML response that echoes ``request_id``, as its own qbXML text (None when no
    answer echoes it): what a job's page shows as QuickBooks' last answer. Read as safely as
    :func:`parse_response`, which raises ``QbxmlParseError`` for the same documents."""
    for node in _elements(_message_set(_root(xml))):
        if node.get("requestID") == request_id:
            return etree.tostring(node, encoding="unicode", with_tail=False)
    return None
