"""What a company's preferences and country let a request do: QuickBooks refuses what its setup left off.

Every refusal here is marked "assumed" in docs/SIMULATOR.md: no capture of QuickBooks answering these
was found. The status code is the one Intuit's status code table gives for a feature the company or
edition does not have (3250, see shared/reference/qbwc/PROTOCOL.md section 7); the message text is
assumed. A Canadian or UK QuickBooks validates against its regional schema (the SDK ships
QBCqbxml*/QBUqbxml* variants, shared/reference/qbxml/README.md), so a US-only element fails the whole
document as a parse error (assumed).
"""

from __future__ import annotations

from typing import Any

from qbsync.simulator.company_lists import Preferences
from qbsync.simulator.company_store import SALES_KINDS, StatusError

FEATURE_OFF = 3250
FEATURE_OFF_MESSAGE = "This feature is not enabled or not available in this version of QuickBooks. ({what})"

INVENTORY_REQUESTS = ("ItemInventoryAdd", "ItemInventoryAssemblyAdd", "InventoryAdjustmentAdd")
# With sales tax off the codes Tax and Non still exist and QuickBooks gives every sale Non (Intuit
# SalesTaxCodeAdd reference); only sales tax items are refused (assumed).
SALES_TAX_REQUESTS = ("ItemSalesTaxAdd", "ItemSalesTaxGroupAdd")
CURRENCY_ELEMENTS = ("CurrencyRef", "ExchangeRate")
# Elements of sales forms that only the US edition has: the header sales tax item (Canadian and UK
# tax comes from each line's code). Assumed; see the module docstring.
US_ONLY_SALES_ELEMENTS = ("ItemSalesTaxRef",)
# ... and the Canadian/UK ones a US file lacks: amounts that include tax.
REGIONAL_SALES_ELEMENTS = ("IsTaxIncluded",)


def feature_off(what: str) -> StatusError:
    """3250: the company or edition does not have ``what``."""
    return StatusError(FEATURE_OFF, FEATURE_OFF_MESSAGE.format(what=what))


def _mentions(data: Any, names: tuple[str, ...]) -> str | None:
    """The first of ``names`` used anywhere in ``data`` (nested aggregates included)."""
    if isinstance(data, list):
        for item in data:
            found = _mentions(item, names)
            if found:
                return found
        return None
    if not isinstance(data, dict):
        return None
    for key, value in data.items():
        if key in names:
            return key
        found = _mentions(value, names)
        if found:
            return found
    return None


def check_request(prefs: Preferences, request_type: str, data: dict[str, Any]) -> None:
    """Raise 3250 when the company's preferences leave off what ``request_type`` needs."""
    if not prefs.using_inventory and request_type in INVENTORY_REQUESTS:
        raise feature_off(f"inventory is off in this company's preferences: {request_type}")
    if not prefs.using_sales_tax and request_type in SALES_TAX_REQUESTS:
        raise feature_off(f"sales tax is off in this company's preferences: {request_type}")
    if not prefs.multicurrency and request_type in ("CurrencyAdd", "CurrencyQuery", "CurrencyMod"):
        raise feature_off(f"multicurrency is off in this company's preferences: {request_type}")
    if request_type.endswith(("Add", "Mod")) and not prefs.multicurrency:
        element = _mentions(data, CURRENCY_ELEMENTS)
        if element:
            raise feature_off(f"multicurrency is off in this company's preferences: {element}")


def foreign_names(prefs: Preferences) -> tuple[str, ...]:
    """Element names of other editions this company's schema lacks (a cheap pre-check on raw bytes)."""
    return US_ONLY_SALES_ELEMENTS if prefs.country != "US" else REGIONAL_SALES_ELEMENTS


def foreign_element(prefs: Preferences, request_type: str, data: dict[str, Any]) -> str | None:
    """The element of another country's edition this company's regional schema would not parse (a US
    header sales tax item in a Canadian or UK file, IsTaxIncluded in a US one), if any."""
    foreign = foreign_names(prefs)
    for kind in SALES_KINDS:
        if request_type in (f"{kind}Add", f"{kind}Mod"):
            body = data.get(request_type)
            if isinstance(body, dict):
                for name in foreign:
                    if name in body:
                        return f"{request_type}/{name}"
    return None
