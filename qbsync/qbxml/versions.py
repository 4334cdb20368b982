"""Which qbXML version to speak with a QuickBooks, and what QuickBooks says about itself.

qbsync speaks qbXML 13.0 (QuickBooks Desktop 2014 and newer). 16.0 is used only when a caller asks for it
and QuickBooks supports it. Anything older than 13.0 is refused with a message for the bookkeeper.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qbsync.qbxml.errors import QbxmlParseError, QbxmlVersionError, QuickBooksTooOldError
from qbsync.qbxml.fields import require_version
from qbsync.qbxml.parse import parse_response

MINIMUM_VERSION = "13.0"
DEFAULT_VERSION = "13.0"
_VERSION = re.compile(r"(\d+)\.(\d+)")


def _as_tuple(version: str) -> tuple[int, int] | None:
    """``"13.0"`` -> (13, 0); ``"CA13.0"`` (regional editions list those too) -> (13, 0); junk -> None."""
    found = _VERSION.search(version or "")
    return (int(found.group(1)), int(found.group(2))) if found else None


def _quickbooks_year(major: int) -> int:
    # Up to 13.0, qbXML N.0 came with QuickBooks 2001+N (5.0 with 2006, 13.0 with 2014); only used below 13.
    return 2001 + major


def negotiate_version(
    major: int, minor: int, host_supported: Sequence[str] = (), *, wanted: str = DEFAULT_VERSION
) -> str:
    """The qbXML version to speak: 13.0, or ``wanted`` ("16.0") when QuickBooks supports it.

    ``major`` / ``minor`` are sendRequestXML's qbXMLMajorVers / qbXMLMinorVers (the highest version QuickBooks
    speaks); ``host_supported`` is HostRet/SupportedQBXMLVersion when the HCP response was received. Raises
    ``QuickBooksTooOldError`` (a message for the bookkeeper) below 13.0.
    """
    require_version(wanted)
    numbers = (major, minor)
    if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in numbers):
        raise QbxmlVersionError(
            f"QuickBooks reported a qbXML version that makes no sense: {major!r}, {minor!r}"
        )
    listed = [v for v in (_as_tuple(s) for s in host_supported) if v is not None]
    ceiling = (major, minor)
    if ceiling == (0, 0):  # not reported: only the HostRet list can tell
        if not listed:
            raise QbxmlVersionError("QuickBooks did not report which qbXML version it speaks")
        ceiling = max(listed)
    elif listed:
        ceiling = min(ceiling, max(listed))
    minimum = _as_tuple(MINIMUM_VERSION)
    assert minimum is not None
    if ceiling < minimum:
        reported = f"{ceiling[0]}.{ceiling[1]}"
        raise QuickBooksTooOldError(
            f"QuickBooks reports qbXML {reported} (QuickBooks {_quickbooks_year(ceiling[0])} or older); "
            f"qbsync needs qbXML {MINIMUM_VERSION}, i.e. QuickBooks Desktop {_quickbooks_year(minimum[0])} "
            "or newer. Please update QuickBooks Desktop, then run the Web Connector again."
        )
    target = _as_tuple(wanted)
    assert target is not None
    if ceiling >= target and (not listed or target in listed):
        return wanted
    return DEFAULT_VERSION


def _text(record: dict[str, object] | None, name: str) -> str | None:
    value = (record or {}).get(name)
    return value if isinstance(value, str) else None


def _list(record: dict[str, object] | None, name: str) -> list:
    value = (record or {}).get(name)
    return value if isinstance(value, list) else [] if value is None else [value]


def parse_host_response(hcp_xml: str, owner_id: str | None = None) -> dict[str, object]:
    """What QuickBooks tells about itself on the first sendRequestXML of a session (``strHCPResponse``).

    Returns ``{}`` for the empty string QBWC sends on later calls. Keys: ``product_name``, ``major_version``,
    ``minor_version`` (QuickBooks' own version, ints or None), ``country``, ``supported_qbxml_versions``
    (list of str), ``max_qbxml_version``, ``file_mode``, ``company_name``, ``legal_company_name``,
    ``data_ext`` (list of {owner_id, name, value}), ``file_id`` (the QBWC FileID DataExt, of ``owner_id``
    when given), ``preferences`` (PreferencesRet as a dict). Raises ``QbxmlParseError`` for non-qbXML text
    (QuickBooks POS sends a sentence instead).
    """
    if not hcp_xml or not hcp_xml.strip():
        return {}
    responses = parse_response(hcp_xml)
    if not len(responses):
        raise QbxmlParseError("the HCP response holds no HostQueryRs, CompanyQueryRs or PreferencesQueryRs")
    host = company = preferences = None
    for response in responses:
        if response.type == "HostQueryRs":
            host = response.record
        elif response.type == "CompanyQueryRs":
            company = response.record
        elif response.type == "PreferencesQueryRs":
            preferences = response.record
    versions = [v for v in _list(host, "SupportedQBXMLVersion") if isinstance(v, str)]
    plain = sorted((t, v) for v in versions if (t := _as_tuple(v)) is not None)
    data_ext = [
        {"owner_id": _text(d, "OwnerID"), "name": _text(d, "DataExtName"), "value": _text(d, "DataExtValue")}
        for d in _list(company, "DataExtRet")
        if isinstance(d, dict)
    ]
    owner = owner_id.lower() if owner_id else None
    file_id = next(
        (
            d["value"]
            for d in data_ext
            if d["name"] == "FileID" and (owner is None or (d["owner_id"] or "").lower() == owner)
        ),
        None,
    )

    def _number(name: str) -> int | None:
        text = _text(host, name)
        return int(text) if text is not None and text.strip().isdigit() else None

    return {
        "product_name": _text(host, "ProductName"),
        "major_version": _number("MajorVersion"),
        "minor_version": _number("MinorVersion"),
        "country": _text(host, "Country"),
        "supported_qbxml_versions": versions,
        "max_qbxml_version": f"{plain[-1][0][0]}.{plain[-1][0][1]}" if plain else None,
        "file_mode": _text(host, "QBFileMode"),
        "company_name": _text(company, "CompanyName"),
        "legal_company_name": _text(company, "LegalCompanyName"),
        "data_ext": data_ext,
        "file_id": file_id,
        "preferences": preferences or {},
    }
