"""Values in QuickBooks' answers that qbsync could not store: found before any handler writes them.

A ListID of 5,000 characters or an EditSequence of 300 does not fit the columns that keep them
(``IdMapping.qb_id``, ``QbListEntry.list_id``...). On PostgreSQL writing one fails the whole
receiveResponseXML transaction, every session again; so the answer is checked first and the job stops
with a reason a person can read.
"""

from __future__ import annotations

from collections.abc import Iterable

from qbsync.qbxml.limits import STORED_MAX_CHARS
from qbsync.qbxml.parse import Response

_SHORTEST = min(STORED_MAX_CHARS.values())  # a string no longer than this fits whatever its element


def unstorable(response: Response) -> str | None:
    """Why qbsync cannot keep this answer's records (the first value too long for it), or None.

    The parser noted whether any value it read is too long (``Response.too_long``); the records are
    walked only when one may be, so a usual answer is not read twice.
    """
    if response.too_long is False:
        return None
    return first_too_long(response.records)


def first_too_long(records: Iterable[object]) -> str | None:
    """Why qbsync cannot keep ``records`` (the first value too long for it, walking them all), or None."""
    pending = list(records)
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(node)
        elif isinstance(node, dict):
            for name, value in node.items():
                # Most values are short strings: one type check each, their limit looked up only when long.
                if isinstance(value, str):
                    if len(value) > _SHORTEST:
                        limit = STORED_MAX_CHARS.get(name)
                        if limit is not None and len(value) > limit:
                            return (f"QuickBooks answered with a {name} of {len(value)} characters; qbsync "
                                    f"can keep at most {limit} (it begins {value[:20]!r}), so this record "
                                    "was not linked")
                elif isinstance(value, (dict, list)):
                    pending.append(value)
    return None
