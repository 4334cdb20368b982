"""Values in QuickBooks' answers that qbsync could not store: found before any handler writes them.

A ListID of 5,000 characters or an EditSequence of 300 does not fit the columns that keep them
(``IdMapping.qb_id``, ``QbListEntry.list_id``...). On PostgreSQL writing one fails the whole
receiveResponseXML transaction, every session again; so the answer is checked first and the job stops
with a reason a person can read.
"""

from __future__ import annotations

from collections.abc import Iterable

# The longest value qbsync keeps per element name. IDs: IDTYPE has maxLength 36 (qbxmltypes130.xsd); our
# columns hold 40. EditSequence: no schema limit; QuickBooks' are 10-digit numbers (real captures in
# shared/reference/qbxml/samples), our column holds 20. Names and RefNumbers: our columns hold 255.
MAX_CHARS = {
    "ListID": 40,
    "TxnID": 40,
    "TxnLineID": 40,
    "EditSequence": 20,
    "FullName": 255,
    "Name": 255,
    "RefNumber": 255,
}
_SHORTEST = min(MAX_CHARS.values())  # a string no longer than this fits whatever its element


def unstorable(records: Iterable[object]) -> str | None:
    """Why qbsync cannot keep these answer records (the first value too long for it), or None."""
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
                        limit = MAX_CHARS.get(name)
                        if limit is not None and len(value) > limit:
                            return (f"QuickBooks answered with a {name} of {len(value)} characters; qbsync "
                                    f"can keep at most {limit} (it begins {value[:20]!r}), so this record "
                                    "was not linked")
                elif isinstance(value, (dict, list)):
                    pending.append(value)
    return None
