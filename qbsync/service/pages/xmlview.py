"""Showing stored qbXML and JSON on a page: pretty-printed, with anything that looks like a credential masked.

Masking happens three ways, because a secret can hide anywhere: elements and keys whose names say
credential (``Password``, ``CreditCardNumber``, ``X-Shopify-Hmac-Sha256``...), values shaped like
storefront keys or auth headers, and the connection's own secrets wherever their text appears.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lxml import etree

from qbsync.storage.encryption import mask

# Names of elements, attributes, JSON keys and headers that hold credentials.
CREDENTIAL_NAME = re.compile(
    r"passw(or)?d|passphrase|secret|token|api[_-]?key|consumer[_-]?key|signature|hmac|"
    r"authorization|cookie|^strticket$|^ticket$|creditcardnumber|cardsecuritycode|^cvv2?$",
    re.IGNORECASE,
)
# Values that are credentials whatever they are called.
CREDENTIAL_VALUE = re.compile(
    r"\b(?:ck|cs)_[0-9a-f]{20,}\b"                      # WooCommerce consumer key / secret
    r"|\bshp(?:at|ca|pa|ss|ua)_[0-9A-Za-z]{16,}\b"        # Shopify access tokens and secrets
    r"|\b(?:Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}",    # Authorization header values
)
MASKED = "••••••••"
# Past this size a document is shown as stored (masked), not re-indented: pages must stay quick.
MAX_PRETTY_CHARS = 2_000_000
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>\s*")
# An element's opening tag and its text, for masking credential elements in text that would not parse.
_ELEMENT_TEXT = re.compile(r"(<([A-Za-z_][\w:.-]*)\b[^<>]*>)([^<]+)")


@dataclass(frozen=True)
class Masker:
    """Masks credentials in text; ``known`` are exact secrets (e.g. the connection's webhook secret)."""

    known: tuple[str, ...] = ()

    @classmethod
    def of(cls, secrets: Iterable[Any]) -> Masker:
        """A masker for the given secrets (non-strings and very short values are ignored)."""
        known = {str(s) for s in secrets if isinstance(s, str | int) and len(str(s)) >= 6}
        # Longest first, so a secret that contains another is masked whole.
        return cls(tuple(sorted(known, key=len, reverse=True)))

    def text(self, value: str | None) -> str:
        """``value`` with known secrets and credential-shaped values masked."""
        if not value:
            return value or ""
        for secret in self.known:
            if secret in value:
                value = value.replace(secret, mask(secret))
        return CREDENTIAL_VALUE.sub(lambda m: _mask_match(m.group(0)), value)

    def data(self, value: Any, key: str | None = None) -> Any:
        """A copy of JSON-like ``value`` with credential keys' values masked and text scanned."""
        if key is not None and CREDENTIAL_NAME.search(key) and value not in (None, "", {}, []):
            return MASKED if not isinstance(value, str) else mask(value) or MASKED
        if isinstance(value, dict):
            return {k: self.data(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def xml(self, document: str | None) -> str:
        """``document`` indented for reading, credentials masked; unparsable text is shown masked as is."""
        if not document:
            return ""
        if len(document) > MAX_PRETTY_CHARS:
            return self.text(_mask_element_text(document))
        declaration = _DECLARATION.match(document)
        body = document[declaration.end():] if declaration else document
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                                 dtd_validation=False, huge_tree=False, remove_blank_text=True)
        try:
            root = etree.fromstring(body, parser)
        except (etree.XMLSyntaxError, ValueError):
            return self.text(_mask_element_text(document))
        for element in root.iter():
            if not isinstance(element.tag, str):
                continue
            if CREDENTIAL_NAME.search(etree.QName(element).localname) and element.text:
                element.text = MASKED
            for name in list(element.attrib):
                if CREDENTIAL_NAME.search(name):
                    element.attrib[name] = MASKED
        pretty = etree.tostring(root.getroottree(), pretty_print=True, encoding="unicode")
        head = declaration.group(0).strip() + "\n" if declaration else ""
        return self.text(head + pretty.rstrip("\n"))


def _mask_element_text(document: str) -> str:
    def replace(match: re.Match[str]) -> str:
        tag = match.group(2).rpartition(":")[2]
        return match.group(1) + MASKED if CREDENTIAL_NAME.search(tag) else match.group(0)

    return _ELEMENT_TEXT.sub(replace, document)


def _mask_match(found: str) -> str:
    scheme, space, rest = found.partition(" ")
    if space and scheme in ("Bearer", "Basic"):
        return f"{scheme} {MASKED}"
    return mask(found)
