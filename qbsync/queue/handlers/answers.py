"""What QuickBooks' answer says, read in one place for every handler (pure: no session, no database).

The status code is classified once (``qbsync.qbxml.status.classify`` gives ``Response.outcome``); here a
handler asks the questions it needs answered: did the request find or make a record (:data:`FOUND`), did a
query answer at all (:data:`READABLE`), and, for a 3140, which reference QuickBooks lacks
(:func:`missing_reference`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qbsync.qbxml.parse import Response
from qbsync.qbxml.status import Outcome

# The request did what it asked: a record was found, added or changed (a warning still carries it).
FOUND: frozenset[Outcome] = frozenset({Outcome.SUCCESS, Outcome.WARNING})
# A query answered: found something, or found nothing (code 1 is not an error for a look-up).
READABLE: frozenset[Outcome] = FOUND | {Outcome.NO_MATCH}

# QuickBooks' 3140 text, as in the real samples (shared/reference/qbxml/samples):
# 'There is an invalid reference to QuickBooks Customer "Joe Smith" in the SalesOrder.  QuickBooks error…'
INVALID_REFERENCE = re.compile(r'invalid reference to QuickBooks (?P<list>[A-Za-z ]+?) "(?P<name>[^"]*)"')


@dataclass(frozen=True)
class MissingReference:
    """A record a request named and QuickBooks lacks: ``kind`` is QuickBooks' word ("Customer", "Item",
    "Entity", "PaymentMethod", "Account", "Vendor"), ``name`` the name or id the request gave."""

    kind: str
    name: str


def found(response: Response) -> bool:
    """Whether the request found, added or changed its record (success, or success with a warning)."""
    return response.outcome in FOUND


def readable(response: Response) -> bool:
    """Whether a query answered: something found, or nothing (not an error)."""
    return response.outcome in READABLE


def found_record(response: Response) -> dict[str, Any] | None:
    """The record the request found or made, or None when it found none or failed."""
    return response.record if found(response) else None


def found_records(response: Response, ret_type: str) -> list[Mapping[str, Any]]:
    """The ``ret_type`` records ("CustomerRet") of an answer that found some; empty otherwise."""
    return list(response.records_of(ret_type)) if found(response) else []


def reference_in(message: str | None) -> MissingReference | None:
    """The reference a 3140 message names, or None when the message names none."""
    match = INVALID_REFERENCE.search(message or "")
    if match is None:
        return None
    return MissingReference(match.group("list").strip(), match.group("name"))


def missing_reference(response: Response) -> MissingReference | None:
    """What QuickBooks lacks when it answered 3140 ("invalid reference"), or None for any other answer
    (or a 3140 whose message names nothing)."""
    if response.outcome is not Outcome.MISSING_REFERENCE:
        return None
    return reference_in(response.message)


def lacks(response: Response, kind: str) -> bool:
    """Whether the answer is a 3140 for a ``kind`` reference ("PaymentMethod", "Account", "Vendor").

    A 3140 whose message does not follow QuickBooks' usual wording counts when it mentions ``kind``.
    """
    if response.outcome is not Outcome.MISSING_REFERENCE:
        return False
    missing = reference_in(response.message)
    if missing is not None:
        return missing.kind == kind
    return kind in (response.message or "")
