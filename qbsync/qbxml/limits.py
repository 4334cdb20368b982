"""Field length limits, read from the XSD, for code that must make values fit (unique names, ref numbers)."""

from __future__ import annotations

import functools

from qbsync.qbxml import values
from qbsync.qbxml.errors import QbxmlDataError
from qbsync.qbxml.fields import Kind, catalog

# The longest value of each element qbsync keeps from QuickBooks' answers, by element name: the columns that
# hold them (``IdMapping.qb_id``, ``QbListEntry.list_id``...) are no wider. IDs: IDTYPE has maxLength 36
# (qbxmltypes130.xsd); our columns hold 40. EditSequence: no schema limit; QuickBooks' are 10-digit numbers
# (real captures in shared/reference/qbxml/samples), our column holds 20. Names and RefNumbers: our columns
# hold 255. The response parser notes a longer one as it reads (``Response.too_long``).
STORED_MAX_CHARS: dict[str, int] = {
    "ListID": 40,
    "TxnID": 40,
    "TxnLineID": 40,
    "EditSequence": 20,
    "FullName": 255,
    "Name": 255,
    "RefNumber": 255,
}


@functools.lru_cache(maxsize=1024)  # few paths, asked for every special item of every order
def max_length(path: str, version: str = "13.0") -> int | None:
    """The maximum length of the element at ``path``, or None when the schema sets none.

    ``path`` starts at an aggregate or a request: ``"CustomerAdd/Name"`` -> 41,
    ``"InvoiceAdd/BillAddress/Addr1"`` -> 41, ``"InvoiceAdd/RefNumber"`` -> 11,
    ``"InvoiceAdd/InvoiceLineAdd/ItemRef/FullName"`` -> None. Raises ``QbxmlDataError`` for a path the
    schema does not have, so a typo cannot pass for "no limit".
    """
    field = catalog(version).field_at(path)
    if field is None:
        raise QbxmlDataError(f"qbXML {version} has no element at {path!r}")
    if field.kind == Kind.AGGREGATE:
        raise QbxmlDataError(f"{path!r} is an aggregate, not a text field")
    return field.max_length


def required_max_length(path: str, version: str = "13.0") -> int:
    """:func:`max_length` for a field code cuts values to: raises ``QbxmlDataError`` when the schema sets
    no limit at ``path``, so a wrong path cannot pass for "no limit" here either."""
    limit = max_length(path, version)
    if limit is None:
        raise QbxmlDataError(f"qbXML {version} sets no maximum length at {path!r}")
    return limit


@functools.lru_cache(maxsize=4096)  # the same item and tax names are fitted for every order
def fit(path: str, text: str, version: str = "13.0") -> str:
    """``text`` cleaned as ``render_request`` would clean it and cut to the limit at ``path``.

    Use it to build a value that must stay unique after cutting (for example a name plus a suffix).
    """
    limit = max_length(path, version)
    multiline = limit is not None and limit >= values.MULTILINE_MIN_LENGTH
    return values.clean_text(text, limit, multiline=multiline)
