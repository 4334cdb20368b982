"""What the qbXML schema says about each element: its children, value kind, length limit and repetition.

Read from the XSDs shipped in ``qbsync/qbxml/xsd/<version>/``, so request cleaning, field limits, the list of
request types and the response parser all follow the same schema that validates what we send.
The model is built lazily: an element's children are worked out the first time someone asks for them.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from importlib.resources import files
from importlib.resources.abc import Traversable

from lxml import etree

from qbsync.qbxml.errors import QbxmlVersionError

XS = "{http://www.w3.org/2001/XMLSchema}"

#: The qbXML versions whose schemas qbsync ships, oldest first.
KNOWN_VERSIONS: tuple[str, ...] = ("13.0", "16.0")


class Kind(StrEnum):
    """The kind of value an element holds (named after the XSD's simple types)."""

    AGGREGATE = "aggregate"
    TEXT = "text"  # STRTYPE, MACROTYPE, UUIDTYPE
    ID = "id"  # IDTYPE: ListID / TxnID, at most 36 characters
    ENUM = "enum"
    AMOUNT = "amount"  # AMTTYPE
    PRICE = "price"  # PRICETYPE
    QUANTITY = "quantity"  # QUANTYPE
    PERCENT = "percent"  # PERCENTTYPE
    DATE = "date"
    DATETIME = "datetime"
    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    GUID = "guid"
    INTERVAL = "interval"


_NAMED_KINDS: dict[str, Kind] = {
    "IDTYPE": Kind.ID,
    "STRTYPE": Kind.TEXT,
    "UUIDTYPE": Kind.TEXT,
    "MACROTYPE": Kind.TEXT,
    "ENUMTYPE": Kind.ENUM,
    "BOOLTYPE": Kind.BOOL,
    "DATETYPE": Kind.DATE,
    "DATETIMETYPE": Kind.DATETIME,
    "TIMEINTERVALTYPE": Kind.INTERVAL,
    "AMTTYPE": Kind.AMOUNT,
    "PRICETYPE": Kind.PRICE,
    "QUANTYPE": Kind.QUANTITY,
    "PERCENTTYPE": Kind.PERCENT,
    "INTTYPE": Kind.INT,
    "GUIDTYPE": Kind.GUID,
    "FLOATTYPE": Kind.FLOAT,
}
_NAMED_MAX_LENGTH = {"IDTYPE": 36}


@dataclass(frozen=True, eq=False)
class Field:
    """One element as the schema declares it at one place."""

    name: str
    kind: Kind
    repeated: bool = False
    max_length: int | None = None
    choices: tuple[str, ...] = ()  # the allowed values of an enum
    content: etree._Element | None = field(default=None, repr=False)  # an aggregate's complexType


def require_version(version: str) -> str:
    """``version`` if qbsync ships its schema; otherwise ``QbxmlVersionError``."""
    if version not in KNOWN_VERSIONS:
        raise QbxmlVersionError(
            f"qbXML version {version!r} is not supported; qbsync knows {', '.join(KNOWN_VERSIONS)}"
        )
    return version


def _schema_dir(version: str) -> Traversable:
    return files("qbsync.qbxml").joinpath("xsd", require_version(version).replace(".", ""))


def schema_files(version: str) -> tuple[Traversable, Traversable]:
    """The folder of ``version``'s XSDs and its root file (``qbxmlops<NNN>.xsd``)."""
    folder = _schema_dir(version)
    return folder, folder.joinpath(f"qbxmlops{version.replace('.', '')}.xsd")


def _max_occurs(node: etree._Element) -> int | None:
    """``maxOccurs`` as a number; None for unbounded."""
    value = node.get("maxOccurs", "1")
    return None if value == "unbounded" else int(value)


def _repeats(node: etree._Element) -> bool:
    limit = _max_occurs(node)
    return limit is None or limit > 1


class Catalog:
    """The element model of one qbXML version."""

    def __init__(self, version: str) -> None:
        self.version = version
        folder = _schema_dir(version)
        suffix = version.replace(".", "")
        self._elements: dict[str, etree._Element] = {}
        self._groups: dict[str, etree._Element] = {}
        self._complex: dict[str, etree._Element] = {}
        self._simple: dict[str, etree._Element] = {}
        parser = etree.XMLParser(remove_comments=True, no_network=True, resolve_entities=False)
        for stem in ("qbxmltypes", "qbxml", "qbxmlso", "qbxmlops"):
            root = etree.fromstring(folder.joinpath(f"{stem}{suffix}.xsd").read_bytes(), parser)
            for node in root:
                name = node.get("name")
                index = {
                    f"{XS}element": self._elements,
                    f"{XS}group": self._groups,
                    f"{XS}complexType": self._complex,
                    f"{XS}simpleType": self._simple,
                }.get(node.tag)
                if index is not None and name:
                    index[name] = node
        self._children: dict[etree._Element, dict[str, Field]] = {}
        self._globals: dict[str, Field] = {}
        self._attributes: dict[etree._Element, dict[str, tuple[str, ...]]] = {}
        self._request_types: frozenset[str] | None = None
        self._lock = threading.Lock()

    # -- public -------------------------------------------------------------------------------------

    def element(self, name: str) -> Field | None:
        """A global element (``CustomerAdd``, ``CustomerRet``) or a request/response (``CustomerAddRq``)."""
        found = self._globals.get(name)
        if found is not None:
            return found
        node = self._elements.get(name)
        if node is not None:
            found = self._field(node, repeated=False)
        else:
            found = self.children(self.element("QBXMLMsgsRq")).get(name) or self.children(
                self.element("QBXMLMsgsRs")
            ).get(name)
        if found is not None:
            self._globals[name] = found
        return found

    def children(self, parent: Field | None) -> Mapping[str, Field]:
        """The elements an aggregate may contain, by name, in schema order (empty for simple values)."""
        if parent is None or parent.content is None:
            return {}
        found = self._children.get(parent.content)
        if found is None:
            with self._lock:
                found = {}
                for decl, repeated in self._particles(parent.content, repeated=False):
                    child = self._field(decl, repeated)
                    # The same name twice (alternatives of a choice): keep the first, note repetition.
                    if child.name in found:
                        if child.repeated and not found[child.name].repeated:
                            found[child.name] = child
                        continue
                    found[child.name] = child
                self._children[parent.content] = found
        return found

    def attributes(self, parent: Field) -> dict[str, tuple[str, ...]]:
        """The attributes an aggregate carries (``requestID``, ``iterator``...) with their allowed values."""
        if parent.content is None:
            return {}
        found = self._attributes.get(parent.content)
        if found is None:  # worked out once: every request rendered asks for its attributes
            found = {}
            for node in parent.content.iter(f"{XS}attribute"):
                found[node.get("name", "")] = tuple(e.get("value", "") for e in node.iter(f"{XS}enumeration"))
            self._attributes[parent.content] = found
        return dict(found)

    def field_at(self, path: str) -> Field | None:
        """The field at a slash path such as ``InvoiceAdd/BillAddress/Addr1`` (None when there is none)."""
        first, *rest = path.strip("/").split("/")
        current = self.element(first)
        for name in rest:
            if current is None:
                return None
            current = self.children(current).get(name)
        return current

    def request_types(self) -> frozenset[str]:
        """Every request this version knows, without the ``Rq`` suffix (``CustomerAdd``, ``TxnVoid``...)."""
        if self._request_types is None:  # worked out once: every request rendered checks its type
            self._request_types = frozenset(name[:-2] for name in self.children(self.element("QBXMLMsgsRq")))
        return self._request_types

    # -- walking the schema -------------------------------------------------------------------------

    def _particles(self, node: etree._Element, repeated: bool) -> Iterator[tuple[etree._Element, bool]]:
        """The element declarations under a content model node, with whether each may repeat."""
        for child in node:
            tag = child.tag
            if child.get("maxOccurs") == "0":  # switched off in this schema (ValueAdjustment's NewValue)
                continue
            if tag == f"{XS}element":
                yield child, repeated or _repeats(child)
            elif tag in (f"{XS}sequence", f"{XS}choice", f"{XS}all"):
                yield from self._particles(child, repeated or _repeats(child))
            elif tag == f"{XS}group":
                group = self._groups[child.get("ref", "")]
                yield from self._particles(group, repeated or _repeats(child))

    def _field(self, decl: etree._Element, repeated: bool) -> Field:
        ref = decl.get("ref")
        target = self._elements[ref] if ref else decl
        name = ref or decl.get("name", "")
        type_name = target.get("type")
        if type_name:
            if type_name in self._complex:
                return Field(name, Kind.AGGREGATE, repeated, content=self._complex[type_name])
            kind, max_length, choices = self._simple_type(type_name)
            return Field(name, kind, repeated, max_length, choices)
        complex_type = target.find(f"{XS}complexType")
        if complex_type is not None:
            simple_content = complex_type.find(f"{XS}simpleContent")
            if simple_content is None:
                return Field(name, Kind.AGGREGATE, repeated, content=complex_type)
            base = simple_content[0].get("base", "STRTYPE")
            kind, max_length, choices = self._simple_type(base)
            return Field(name, kind, repeated, max_length, choices)
        simple_type = target.find(f"{XS}simpleType")
        if simple_type is not None:
            kind, max_length, choices = self._restriction(simple_type)
            return Field(name, kind, repeated, max_length, choices)
        return Field(name, Kind.TEXT, repeated)

    def _simple_type(self, name: str) -> tuple[Kind, int | None, tuple[str, ...]]:
        if name in _NAMED_KINDS:
            return _NAMED_KINDS[name], _NAMED_MAX_LENGTH.get(name), ()
        node = self._simple.get(name)
        if node is None:  # an xsd: built-in
            return Kind.TEXT, None, ()
        return self._restriction(node)

    def _restriction(self, simple_type: etree._Element) -> tuple[Kind, int | None, tuple[str, ...]]:
        restriction = simple_type.find(f"{XS}restriction")
        if restriction is None:  # a union: leave it to the validator
            return Kind.TEXT, None, ()
        kind, max_length, _ = self._simple_type(restriction.get("base", "STRTYPE"))
        facet = restriction.find(f"{XS}maxLength")
        if facet is not None:
            limit = int(facet.get("value", "0"))
            max_length = limit if max_length is None else min(limit, max_length)
        choices = tuple(e.get("value", "") for e in restriction.findall(f"{XS}enumeration"))
        if choices and kind in (Kind.TEXT, Kind.ENUM):
            kind = Kind.ENUM
        return kind, max_length, choices


@functools.cache
def catalog(version: str) -> Catalog:
    """The element model of ``version`` ("13.0" or "16.0"), built once per process."""
    return Catalog(version)
