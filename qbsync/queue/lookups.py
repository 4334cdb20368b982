"""Look-ups of one kind share one query: merge them into one request, hand each job its part of the answer.

Before most adds a job asks QuickBooks whether its record is already there: one CustomerQueryRq by
FullName, one SalesReceiptQueryRq by RefNumber... Sent one by one they double the requests QuickBooks has
to run. The qbXML schema lets these queries name many records at once (FullName, RefNumber and
RefNumberCaseSensitive repeat in every list and transaction query), so the round trip sends one query per
kind with every job's key, and the answer is split back so each job's handler sees what its own query
would have returned:

- the records whose key matches the job's key (names and RefNumber ignoring case, as QuickBooks matches
  them; RefNumberCaseSensitive exactly), with status 0;
- none: what QuickBooks answers a query for one name it does not have (500, "has not been fully
  completed... ("the name")"), or for one RefNumber it does not have (1, no match).

A merged query QuickBooks refuses as a whole says nothing about which key was at fault; the exchange sends
its jobs again in smaller batches (``queue.isolation``) until the one at fault is alone.

Everything here is pure: text in, text (or parsed answers) out.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lxml import etree

from qbsync.qbxml.fields import catalog
from qbsync.qbxml.parse import Response

# The key fields a look-up may name a record by, with the field of the Ret that holds that key.
KEY_FIELDS = {"FullName": "FullName", "RefNumber": "RefNumber", "RefNumberCaseSensitive": "RefNumber"}
# Status codes of a query that picked records (or found none): the answer can be split by key.
_SELECTION_CODES = (0, 1, 500)
# QuickBooks' words for a query that found nothing (real captures in reference/qbxml/samples/errors).
NO_MATCH = "A query request did not find a matching object in QuickBooks"
# The only schema whose merge rules we read: FullName / RefNumber repeat in every version we send.
_SCHEMA_VERSION = "13.0"


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           remove_comments=True, remove_pis=True)


@dataclass(frozen=True)
class Lookup:
    """One job's look-up: its query type, requestID, key field and key, and what else the query asks.

    Two look-ups with the same ``shape`` differ only in their key, so they can share one query.
    """

    request_type: str  # "CustomerQueryRq"
    request_id: str
    field: str  # "FullName", "RefNumber" or "RefNumberCaseSensitive"
    key: str
    shape: str  # the request without its requestID and key, as text

    @property
    def slot(self) -> tuple[str, str]:
        """What identifies this look-up inside a merged query: its shape and its key as QuickBooks
        compares keys."""
        return self.shape, matching_key(self.field, self.key)


def matching_key(field: str, key: str) -> str:
    """``key`` as QuickBooks compares it: names trimmed and ignoring case, RefNumber ignoring case,
    RefNumberCaseSensitive exactly (the schema offers it because RefNumber alone ignores case)."""
    if field == "RefNumberCaseSensitive":
        return key
    if field == "FullName":
        return key.strip().lower()
    return key.lower()


@functools.cache
def _repeatable_keys(request_type: str) -> frozenset[str]:
    cat = catalog(_SCHEMA_VERSION)
    element = cat.element(request_type)
    if element is None:
        return frozenset()
    return frozenset(name for name, child in cat.children(element).items()
                     if name in KEY_FIELDS and child.repeated)


def lookup_of(fragment: str) -> Lookup | None:
    """The look-up ``fragment`` is, or None when it cannot share a query with others.

    It can when it is a query naming exactly one record by a key the schema lets repeat, with no
    iterator, no metaData, no MaxReturned (a limit would apply to all keys together), and, if it lists
    IncludeRetElement, one that keeps the key in the answer (the split needs it).
    """
    if "QueryRq" not in fragment[:80]:
        return None  # adds, mods, voids: never merged (and not worth parsing)
    return _lookup_of_query(fragment)


# Enough for several round trips of queries (200 requests each by default), a few hundred bytes each.
_REMEMBERED_QUERIES = 2048


# Text that XML parsing gives back as it is: no markup, no entity or character reference, no CR (parsing
# turns it into LF) and no character XML 1.0 forbids (those fail the parse).
_LITERAL = "[^<>&\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]"
# The usual look-up, as render_request writes it: a query naming one record by one key, and nothing else.
# In an attribute value tabs and line breaks become spaces: not taken here either.
_PLAIN_LOOKUP = re.compile(
    f'<([A-Za-z]+QueryRq) requestID="((?:(?![\t\n"]){_LITERAL})*)">[ \t\r\n]*'
    f"<(FullName|RefNumber|RefNumberCaseSensitive)>({_LITERAL}+)</\\3>[ \t\r\n]*</\\1>"
).fullmatch
_PLAIN_LOOKUP_MAX = 1_000_000  # characters; the parser (huge_tree=False) refuses text beyond 10 MB


@functools.lru_cache(maxsize=_REMEMBERED_QUERIES)
def _lookup_of_query(fragment: str) -> Lookup | None:
    """:func:`lookup_of` for a query, remembered by its text (a Lookup is immutable): the answer is read
    about the very fragments :func:`merge` read when they were sent, which a parse and a shape cost
    50-90 µs each to work out again; another process, or one restarted meanwhile, works them out anew."""
    # (Not beyond a size the parser refuses to read: it would find nothing.)
    plain = _PLAIN_LOOKUP(fragment) if len(fragment) <= _PLAIN_LOOKUP_MAX else None
    if plain is not None:  # what parsing would find, read off the text (a fifth of the time)
        request_type, request_id, field, key = plain.groups()
        if field not in _repeatable_keys(request_type):
            return None  # not a key this query can repeat: nothing to share
        return Lookup(request_type, request_id, field, key, f"{request_type}|{field}@0|")
    return _parsed_lookup(fragment)


def _parsed_lookup(fragment: str) -> Lookup | None:
    try:
        element = etree.fromstring(fragment.encode("utf-8"), _parser())
    except etree.XMLSyntaxError:
        return None
    return _lookup_of_element(element)


def _lookup_of_element(element: etree._Element) -> Lookup | None:
    request_type = element.tag
    if not isinstance(request_type, str) or not request_type.endswith("QueryRq"):
        return None
    if set(element.attrib) != {"requestID"}:
        return None
    allowed = _repeatable_keys(request_type)
    keys = [child for child in element if child.tag in allowed]
    if len(keys) != 1 or element.find("MaxReturned") is not None:
        return None
    key = keys[0]
    if len(key) or key.text is None:
        return None
    included = [child.text for child in element.iterfind("IncludeRetElement")]
    if included and KEY_FIELDS[key.tag] not in included:
        return None
    return Lookup(request_type, element.get("requestID") or "", key.tag, key.text, _shape(element, key))


def _shape(element: etree._Element, first_key: etree._Element) -> str:
    """The query without its requestID and its keys: where the keys sit, and every other element."""
    rest = "".join(etree.tostring(child, encoding="unicode", with_tail=False)
                   for child in element if child.tag != first_key.tag)
    return f"{element.tag}|{first_key.tag}@{list(element).index(first_key)}|{rest}"


def merge(fragments: Sequence[str]) -> list[str]:
    """``fragments`` with look-ups of the same shape merged into one query at the place of the first.

    The merged query carries the first look-up's requestID and each distinct key once (keys QuickBooks
    would treat as the same, e.g. names differing in case, are sent once). Everything else is unchanged
    and in order; a look-up with nothing to share, or sharing only its own key, stays as it was.
    """
    found = [lookup_of(fragment) for fragment in fragments]
    groups: dict[str, list[Lookup]] = {}
    for lookup in found:
        if lookup is not None:
            groups.setdefault(lookup.shape, []).append(lookup)
    # A group whose keys are all one key to QuickBooks is not merged: its query would name one key, and
    # a query naming one key is found by its own requestID alone (shared_queries), so every job but the
    # first would get no answer. Each goes out as it was instead.
    shared = {shape for shape, members in groups.items()
              if len({matching_key(m.field, m.key) for m in members}) >= 2}
    out: list[str] = []
    for fragment, lookup in zip(fragments, found, strict=True):
        if lookup is None or lookup.shape not in shared:
            out.append(fragment)
        elif groups[lookup.shape][0] is lookup:
            out.append(_merged(fragment, groups[lookup.shape]))
        # the others of a group are inside the first one's query
    return out


def _merged(fragment: str, members: list[Lookup]) -> str:
    element = etree.fromstring(fragment.encode("utf-8"), _parser())
    first = members[0]
    key = element.find(first.field)
    assert key is not None  # lookup_of found it
    index = list(element).index(key)
    element.remove(key)
    seen: set[str] = set()
    for member in members:
        compared = matching_key(member.field, member.key)
        if compared in seen:
            continue
        seen.add(compared)
        child = etree.Element(member.field)
        child.text = member.key
        element.insert(index, child)
        index += 1
    return etree.tostring(element, encoding="unicode")


def shared_queries(document: str) -> dict[tuple[str, str], str]:
    """For a sent qbXML document: the requestID of the merged query answering each look-up slot
    (:attr:`Lookup.slot`). Queries naming one key are left out: their jobs find them by their own id."""
    return _shared_slots(_queries_found(document))


def _shared_slots(requests: list[etree._Element]) -> dict[tuple[str, str], str]:
    """:func:`shared_queries` of these requests (in document order)."""
    found: dict[tuple[str, str], str] = {}
    for element in requests:
        if not isinstance(element.tag, str) or not element.tag.endswith("QueryRq"):
            continue
        allowed = _repeatable_keys(element.tag)
        keys = [child for child in element if child.tag in allowed]
        if len(keys) < 2:
            continue
        shape = _shape(element, keys[0])
        for key in keys:
            found[(shape, matching_key(key.tag, key.text or ""))] = element.get("requestID") or ""
    return found


def _queries_found(document: str) -> list[etree._Element]:
    """The requests of ``document`` that may be queries naming several keys (each one that does, maybe
    others): found by their text when the document is plainly as ``build_message`` writes it, else every
    request of the document, parsed."""
    plain = _plain_queries(document)
    if plain is None:
        return _requests_parsed(document)
    return plain


def _requests_parsed(document: str) -> list[etree._Element]:
    """Every request of ``document``, parsed."""
    root = etree.fromstring(document.encode("utf-8"), _parser())
    return list(root.iterfind("QBXMLMsgsRq/*"))


# The start and end of a document as build_message writes them.
_PLAIN_START = re.compile(r'<\?xml version="1\.0" encoding="utf-8"\?>\n<\?qbxml version="[0-9.]+"\?>\n'
                          r'<QBXML>\n<QBXMLMsgsRq onError="[A-Za-z]+">\n').match
_PLAIN_END = "</QBXMLMsgsRq>\n</QBXML>\n"
_AFTER_NAME = frozenset(" \t\r\n>")


def _declarations_after(document: str, start: int) -> bool:
    """Whether ``document`` has a ``<!`` or ``<?`` (a DOCTYPE, comment, CDATA or processing instruction)
    after ``start``. (Found by their rare second character: a search for one character is a memchr, one
    for ``<!`` checks every ``<`` of the document.)"""
    for mark in "!?":
        at = document.find(mark, start)
        while at != -1:
            if document[at - 1] == "<":
                return True
            at = document.find(mark, at + 1)
    return False


def _plain_queries(document: str) -> list[etree._Element] | None:
    """The queries of ``document`` naming a key twice or more, each parsed on its own, found by their
    text; None when the document is not plainly one ``build_message`` wrote.

    A sent document is a few queries among hundreds of adds (a parse of it all costs a millisecond). In
    a plain one (no DOCTYPE, comment, CDATA or processing instruction after the prolog) every ``<``
    opens a tag, and no request holds another (the schema has none that does), so a query runs from its
    start tag to the first end tag of its name. Anything else (a query that closes itself, an end tag
    written with a space) is not plain: the whole document is parsed instead. (The rest of a plain
    document is not read, so its being well-formed is taken from build_message, which wrote it.)
    """
    start = _PLAIN_START(document)
    if start is None or not document.endswith(_PLAIN_END) or _declarations_after(document, start.end()):
        return None
    queries: list[etree._Element] = []
    at = document.find("QueryRq", start.end())
    while at != -1:
        opened = document.rfind("<", 0, at)
        name = document[opened + 1:at + 7]
        after = at + 7
        if not name[:-7].isalpha() or document[after] not in _AFTER_NAME:
            at = document.find("QueryRq", after)  # an end tag, or text naming a query
            continue
        closed = document.find(f"</{name}>", after)
        if closed == -1:
            return None
        end = closed + len(name) + 3
        if document.find(f"<{name}", after, end) != -1:
            return None  # another of its name before its end: it closed itself
        text = document[opened:end]
        # Only one naming two keys or more matters; FullName and RefNumber (and RefNumberCaseSensitive)
        # are every key a look-up names.
        if text.count("<FullName") + text.count("<RefNumber") >= 2:
            queries.append(etree.fromstring(text.encode("utf-8"), _parser()))
        at = document.find("QueryRq", end)
    return queries


def failed_as_a_whole(response: Response) -> bool:
    """Whether a merged query's answer is a refusal of the whole query rather than a selection."""
    return response.status_code not in _SELECTION_CODES


def answer_for(response: Response, lookup: Lookup,
               by_key: Mapping[str, Sequence[int]] | None = None) -> Response:
    """The part of a merged query's answer that is about ``lookup``'s key, as its own query would get it
    (``by_key``: :func:`records_by_key` of the answer for the lookup's field, when the caller keeps it).

    An answer that is not a selection (a lock, a refusal) is returned unchanged: it is about every key.
    """
    if failed_as_a_whole(response):
        return _answer(response, lookup, response.status_code, response.severity, response.message,
                       response.records, response.record_types, response.ret_count)
    if by_key is None:
        by_key = records_by_key(response, lookup.field)
    found = by_key.get(matching_key(lookup.field, lookup.key), ())
    records = [response.records[n] for n in found]
    types = [response.record_types[n] for n in found]
    ret_count = len(records) if response.ret_count is not None else None
    if records:
        return _answer(response, lookup, 0, "Info", "Status OK", records, types, ret_count)
    if lookup.field == "FullName":
        # QuickBooks' answer to a query for one name it does not have: a real capture,
        # reference/qbxml/samples/errors/500_customer_query_rs.warn.xml.
        message = ("The query request has not been fully completed. There was a required element "
                   f'("{lookup.key}") that could not be found in QuickBooks.')
        return _answer(response, lookup, 500, "Warn", message, [], [], ret_count)
    return _answer(response, lookup, 1, "Info", NO_MATCH, [], [], ret_count)


def records_by_key(response: Response, field: str) -> dict[str, list[int]]:
    """Where each key (as QuickBooks compares ``field``) sits among ``response``'s records, in order: worked
    out once for all the jobs of a merged query (200 jobs finding 200 existing customers would otherwise
    compare 40,000 keys)."""
    if len(response.records) != len(response.record_types):
        raise ValueError("an answer with records and record types that do not pair up")
    ret_field = KEY_FIELDS[field]
    index: dict[str, list[int]] = {}
    for n, record in enumerate(response.records):
        index.setdefault(matching_key(field, str(record.get(ret_field, ""))), []).append(n)
    return index


def _answer(response: Response, lookup: Lookup, status_code: int, severity: str, message: str,
            records: list[dict[str, object]], record_types: list[str], ret_count: int | None) -> Response:
    """``response`` as ``lookup``'s own answer, with the status and records given and the rest as it is:
    what ``dataclasses.replace`` gives, built directly (replace works the fields out anew for every job,
    at twice the cost)."""
    return Response(response.type, lookup.request_id, status_code, severity, message, records, record_types,
                    response.iterator_id, response.iterator_remaining_count, ret_count,
                    too_long=response.too_long)
