"""Validate qbXML documents against Intuit's XSD (shipped in ``qbsync/qbxml/xsd/<version>/``).

Each version's schema is compiled once per process, on first use (about 0.1 s), and shared; validation
itself runs under a lock because an lxml validator keeps per-call state (its error log).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence

from lxml import etree

from qbsync.qbxml.errors import QbxmlValidationError
from qbsync.qbxml.fields import schema_files

_lock = threading.Lock()
_MAX_REPORTED_ERRORS = 3


def _parser() -> etree.XMLParser:
    # A document under validation is ours, but parse it as carefully as anything from outside.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@functools.cache
def compiled_schema(version: str = "13.0") -> etree.XMLSchema:
    """The compiled XSD for ``version`` ("13.0" / "16.0"); the same object on every call."""
    _, root = schema_files(version)
    # base_url lets libxml2 resolve the xsd:include of the three sibling files.
    tree = etree.fromstring(root.read_bytes(), etree.XMLParser(no_network=True), base_url=str(root))
    return etree.XMLSchema(tree)


def _as_bytes(document: str | bytes) -> bytes:
    return document.encode("utf-8") if isinstance(document, str) else document


def _problem(document: str | bytes, version: str, first_line: int = 1) -> str | None:
    """The schema's complaint about ``document``, or None when it is valid.

    Line numbers are counted from ``first_line`` (the line of a fragment inside its wrapper).
    """
    schema = compiled_schema(version)
    try:
        tree = etree.fromstring(_as_bytes(document), _parser())
    except etree.XMLSyntaxError as error:
        return f"not well-formed XML: {error}"
    with _lock:
        if schema.validate(tree):
            return None
        errors = list(schema.error_log)
    shown = "; ".join(f"line {e.line - first_line + 1}: {e.message}" for e in errors[:_MAX_REPORTED_ERRORS])
    more = f" (and {len(errors) - _MAX_REPORTED_ERRORS} more)" if len(errors) > _MAX_REPORTED_ERRORS else ""
    return shown + more


def validate(document: str | bytes, version: str = "13.0") -> None:
    """Raise ``QbxmlValidationError`` unless ``document`` is valid; its message is the schema's own
    (line, element, reason)."""
    problem = _problem(document, version)
    if problem is not None:
        raise QbxmlValidationError(f"qbXML {version} schema: {problem}")


_FRAGMENT_FIRST_LINE = 5  # the line a fragment starts on inside _alone's wrapper


def _alone(fragment: str, version: str) -> str:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="{version}"?>\n'
        f'<QBXML>\n<QBXMLMsgsRq onError="continueOnError">\n{fragment.strip()}\n</QBXMLMsgsRq>\n</QBXML>\n'
    )


def validate_each(fragments: Sequence[str], version: str = "13.0") -> dict[int, str]:
    """Which request fragments of a batch are invalid: ``{index: schema message}``; empty when all are valid.

    The whole batch is validated once; only when that fails is each fragment checked on its own, so one bad
    request is found without sinking its neighbours.
    """
    if _problem(_alone("\n".join(fragments), version), version) is None:
        return {}
    found: dict[int, str] = {}
    for index, fragment in enumerate(fragments):
        problem = _problem(_alone(fragment, version), version, first_line=_FRAGMENT_FIRST_LINE)
        if problem is not None:
            found[index] = problem
    return found
