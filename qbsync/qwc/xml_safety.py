"""Parsing XML that comes from outside (SOAP bodies): no DTDs, no entities, no network, bounded size.

A document is refused *before* lxml sees it when it declares a DOCTYPE or an ENTITY, is not in an
ASCII-compatible encoding (so those checks on the raw bytes cannot be dodged), or is too large. The
parser itself is also configured to never load a DTD, resolve an entity, reach the network or lift
libxml2's size limits, and the parsed tree is checked once more for a DTD.
"""

from __future__ import annotations

import re

from lxml import etree

# QBWC sends whole qbXML responses inside one SOAP string; large inventory pages stay well below this.
MAX_DOCUMENT_BYTES = 32 * 1024 * 1024

# Encodings whose bytes for "<!DOCTYPE" are the ASCII bytes, so the raw-byte check below is sound.
ALLOWED_ENCODINGS = frozenset({"utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1",
                               "windows-1252", "cp1252"})

_UTF8_BOM = b"\xef\xbb\xbf"
_MARKUP_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)", re.IGNORECASE)
_DECLARED_ENCODING = re.compile(rb"^<\?xml[^>]*?\bencoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")


class UnsafeXmlError(ValueError):
    """A document refused as outside input: the message says why, in words fit for a SOAP Fault."""


def hardened_parser() -> etree.XMLParser:
    """An lxml parser that never loads DTDs, resolves entities or touches the network."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        strip_cdata=True,
        recover=False,
    )


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
    parser = hardened_parser()
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise UnsafeXmlError(f"the request is not well-formed XML: {exc}") from exc
    if root is None:
        raise UnsafeXmlError("the request holds no XML element")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise UnsafeXmlError("DOCTYPE and entity declarations are not allowed in requests")
    return root
