"""What the simulated QuickBooks knows of the qbXML schema (through qbsync.qbxml).

Two jobs: reject a request document the way QuickBooks' parser does (strict XSD validation of the whole
message), and put the children of every element it answers with in the order the XSD demands, so a
response built from stored records always validates.
"""

from __future__ import annotations

from lxml import etree

from qbsync.qbxml.errors import QbxmlValidationError
from qbsync.qbxml.fields import Catalog, Field, catalog
from qbsync.qbxml.schema import validate


class SchemaInvalid(Exception):
    """The request document is not well-formed or does not validate against the qbXML XSD."""


def schema_version_for(major: int, minor: int) -> str:
    """The XSD set that governs a QuickBooks reporting ``major.minor`` (16.0 and up use 16.0)."""
    return "16.0" if (major, minor) >= (16, 0) else "13.0"


def validate_document(document: bytes, version: str) -> None:
    """Raise :class:`SchemaInvalid` unless ``document`` validates against the qbXML ``version`` XSD."""
    try:
        validate(document, version=version)
    except QbxmlValidationError as exc:
        raise SchemaInvalid(str(exc)) from exc


def hardened_parser() -> etree.XMLParser:
    """An XML parser that never resolves entities, reads DTDs or touches the network."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def content_model(version: str) -> Catalog:
    """The element model (children in schema order) of qbXML ``version``."""
    return catalog(version)


def message_field(model: Catalog, name: str) -> Field:
    """The schema field of a request or response element (``CustomerAddRq``, ``InvoiceQueryRs``)."""
    found = model.element(name)
    if found is None:
        raise KeyError(f"qbXML {model.version} has no {name}")
    return found


def build_element(model: Catalog, parent: etree._Element, field: Field, data: dict) -> None:
    """Append ``data`` under ``parent`` as children in the order ``field``'s schema demands.

    ``data`` maps child names to a string, a nested dict, or a list of either (a repeated element).
    Keys the schema does not allow under ``field`` are left out, which is how fields that only exist on
    an Add (``OpenBalance``) stay out of the matching Ret; so are empty values.
    """
    for name, child in model.children(field).items():
        if name not in data:
            continue
        value = data[name]
        for item in value if isinstance(value, list) else [value]:
            if item is None or item == "":
                continue  # QuickBooks leaves empty fields out of what it returns
            element = etree.SubElement(parent, name)
            if isinstance(item, dict):
                build_element(model, element, child, item)
            else:
                element.text = str(item)


def element_data(element: etree._Element) -> dict:
    """A request element as plain data: child name -> text, nested dict, or list when repeated.

    An element with no element children becomes its stripped text (an empty aggregate becomes "").
    """
    out: dict = {}
    for child in element:
        if not isinstance(child.tag, str):  # comments, processing instructions
            continue
        if any(isinstance(grandchild.tag, str) for grandchild in child):
            value: object = element_data(child)
        else:
            value = (child.text or "").strip()
        if child.tag in out:
            existing = out[child.tag]
            if not isinstance(existing, list):
                out[child.tag] = [existing]
            out[child.tag].append(value)
        else:
            out[child.tag] = value
    return out
