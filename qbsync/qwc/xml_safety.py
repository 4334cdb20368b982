"""Parsing XML that comes from outside (SOAP bodies): no DTDs, no entities, no network, bounded size.

A document is refused *before* lxml sees it when it declares a DOCTYPE or an ENTITY, is not in an
ASCII-compatible encoding (so those checks on the raw bytes cannot be dodged), or is too large. The
parser itself is also configured to never load a DTD, resolve an entity, reach the network or lift
libxml2's size limits, and the parsed tree is checked once more for a DTD.

The shape is bounded too, while parsing (a pull parser fed in chunks stops at the first element over a
limit): attributes and namespace declarations per element, name and attribute lengths, depth, number of
elements, and text. What the Web Connector sends is a handful of short elements; only the qbXML it relays
(``response``, ``strHCPResponse``) is big, and that is one text bounded by the document size. Downstream
code (spyne) is quadratic in some of these (100,000 attributes on one element took it 45 s), so they are
refused here, in milliseconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from lxml import etree

# QBWC sends whole qbXML responses inside one SOAP string; large inventory pages stay well below this.
MAX_DOCUMENT_BYTES = 32 * 1024 * 1024

# Encodings whose bytes for "<!DOCTYPE" are the ASCII bytes, so the raw-byte check below is sound.
ALLOWED_ENCODINGS = frozenset({"utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1",
                               "windows-1252", "cp1252"})

_UTF8_BOM = b"\xef\xbb\xbf"
_MARKUP_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)", re.IGNORECASE)
_DECLARED_ENCODING = re.compile(rb"^<\?xml[^>]*?\bencoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")


# Limits on the shape of a SOAP request (QBWC's own calls use a few elements, no attributes, depth 4).
MAX_ATTRIBUTES = 32  # attributes plus namespace declarations on one element
MAX_NAME_CHARS = 200  # element and attribute names, namespace prefixes and URIs
MAX_ATTRIBUTE_CHARS = 1_000  # one attribute value
MAX_DEPTH = 32
MAX_ELEMENTS = 1_000
MAX_TEXT_CHARS = 100_000  # the text of any element but those below
# Parameters carrying a whole qbXML document as text: bounded only by MAX_DOCUMENT_BYTES.
BIG_TEXT_ELEMENTS = frozenset({"response", "strHCPResponse"})
# lxml's error messages can repeat a name from the document; the fault text keeps only this much of one.
MAX_ERROR_CHARS = 300
_CHUNK_BYTES = 64 * 1024


class UnsafeXmlError(ValueError):
    """A document refused as outside input: the message says why, in words fit for a SOAP Fault."""


# Never load DTDs, resolve entities or touch the network; keep trees small and strict.
_HARDENED: dict[str, bool] = dict(
    resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, attribute_defaults=False,
    huge_tree=False, remove_comments=True, remove_pis=True, strip_cdata=True, recover=False,
)


def hardened_parser() -> etree.XMLParser:
    """An lxml parser that never loads DTDs, resolves entities or touches the network."""
    return etree.XMLParser(**_HARDENED)


def check_untrusted(data: bytes, charset: str | None = None) -> None:
    """Raise :class:`UnsafeXmlError` when ``data`` must not be handed to an XML parser at all."""
    if not data.strip():
        raise UnsafeXmlError("the request body is empty; a SOAP envelope was expected")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise UnsafeXmlError(f"the request body is larger than {MAX_DOCUMENT_BYTES} bytes")
    if charset and charset.strip().lower() not in ALLOWED_ENCODINGS:
        raise UnsafeXmlError(f"charset {charset!r} is not accepted; send UTF-8")
    body = data[len(_UTF8_BOM):] if data.startswith(_UTF8_BOM) else data
    body = body.lstrip(b" \t\r\n")
    # UTF-16/32 put NULs between the ASCII bytes; EBCDIC and friends do not start with an ASCII "<".
    if b"\x00" in body or not body.startswith(b"<"):
        raise UnsafeXmlError("the request body is not XML in an ASCII-compatible encoding; send UTF-8")
    declared = _DECLARED_ENCODING.match(body)
    if declared and declared.group(1).decode("ascii").lower() not in ALLOWED_ENCODINGS:
        raise UnsafeXmlError(f"encoding {declared.group(1).decode('ascii')!r} is not accepted; send UTF-8")
    if _MARKUP_DECLARATION.search(body):
        raise UnsafeXmlError("DOCTYPE and entity declarations are not allowed in requests")


def parse_untrusted(data: bytes, charset: str | None = None) -> etree._Element:
    """Parse outside XML safely and return its root element.

    ``charset`` is the HTTP Content-Type charset, if any. Raises :class:`UnsafeXmlError` for anything
    refused or not well-formed; never reads files or the network, never expands entities.
    """
    check_untrusted(data, charset)
    root = _parse_bounded(data)
    if root is None:
        raise UnsafeXmlError("the request holds no XML element")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise UnsafeXmlError("DOCTYPE and entity declarations are not allowed in requests")
    return root


def _pull_parser() -> etree.XMLPullParser:
    """:func:`hardened_parser`'s settings on a pull parser reporting namespaces, starts and ends."""
    return etree.XMLPullParser(events=("start-ns", "start", "end"), **_HARDENED)


def _parse_bounded(data: bytes) -> etree._Element | None:
    """Parse ``data`` in chunks, refusing the document at the first element over a shape limit."""
    parser = _pull_parser()
    shape = _Shape()
    try:
        for start in range(0, len(data), _CHUNK_BYTES):
            parser.feed(data[start:start + _CHUNK_BYTES])
            shape.check(parser.read_events())
        root = parser.close()
        shape.check(parser.read_events())
    except etree.XMLSyntaxError as exc:
        raise UnsafeXmlError(f"the request is not well-formed XML: {_short(str(exc))}") from exc
    return root


class _Shape:
    """Running counts over the parser's events; raises :class:`UnsafeXmlError` at the first excess."""

    def __init__(self) -> None:
        self.depth = 0
        self.elements = 0
        self.pending_ns = 0  # namespace declarations seen before the start of their element

    def check(self, events: Iterable[tuple[str, Any]]) -> None:
        for event, item in events:
            if event == "start-ns":
                prefix, uri = item
                self.pending_ns += 1
                if len(prefix) > MAX_NAME_CHARS or len(uri) > MAX_NAME_CHARS:
                    raise UnsafeXmlError(f"a namespace prefix or URI is longer than {MAX_NAME_CHARS} "
                                         "characters")
                if self.pending_ns > MAX_ATTRIBUTES:
                    raise UnsafeXmlError(f"an element declares more than {MAX_ATTRIBUTES} namespaces")
            elif event == "start":
                self._start(item)
            else:
                self._end(item)

    def _start(self, element: etree._Element) -> None:
        self.depth += 1
        self.elements += 1
        if self.depth > MAX_DEPTH:
            raise UnsafeXmlError(f"the request nests elements deeper than {MAX_DEPTH} levels")
        if self.elements > MAX_ELEMENTS:
            raise UnsafeXmlError(f"the request has more than {MAX_ELEMENTS} elements")
        if len(element.tag) > MAX_NAME_CHARS * 2:  # "{namespace}name"
            raise UnsafeXmlError(f"an element name is longer than {MAX_NAME_CHARS} characters")
        _check_prefix_declared(element.tag)
        attributes = element.attrib
        if len(attributes) + self.pending_ns > MAX_ATTRIBUTES:
            raise UnsafeXmlError(f"an element has more than {MAX_ATTRIBUTES} attributes")
        self.pending_ns = 0
        for name, value in attributes.items():
            if len(name) > MAX_NAME_CHARS * 2:
                raise UnsafeXmlError(f"an attribute name is longer than {MAX_NAME_CHARS} characters")
            if len(value) > MAX_ATTRIBUTE_CHARS:
                raise UnsafeXmlError(f"an attribute value is longer than {MAX_ATTRIBUTE_CHARS} characters")
            _check_prefix_declared(name)

    def _end(self, element: etree._Element) -> None:
        self.depth -= 1
        local = etree.QName(element).localname
        if local not in BIG_TEXT_ELEMENTS and len(element.text or "") > MAX_TEXT_CHARS:
            raise UnsafeXmlError(f"the text of <{local[:MAX_NAME_CHARS]}> is longer than {MAX_TEXT_CHARS} "
                                 "characters")
        for child in element:
            if len(child.tail or "") > MAX_TEXT_CHARS:
                raise UnsafeXmlError(f"text between elements is longer than {MAX_TEXT_CHARS} characters")


def _check_prefix_declared(name: str) -> None:
    """Refuse a name whose prefix no xmlns declares.

    libxml2 reports an undeclared prefix only as a namespace warning and keeps "soap:Body" as the name;
    spyne then fails building elements from it (a Server fault for what is the client's mistake).
    """
    local = name.rpartition("}")[2]
    if ":" in local:
        prefix = local.split(":", 1)[0][:MAX_NAME_CHARS]
        raise UnsafeXmlError(f"the namespace prefix {prefix!r} is used but not declared (add xmlns:{prefix})")


def _short(text: str) -> str:
    """``text`` cut to :data:`MAX_ERROR_CHARS` (lxml repeats names from the document in its messages)."""
    return text if len(text) <= MAX_ERROR_CHARS else f"{text[:MAX_ERROR_CHARS]}… ({len(text)} characters)"
