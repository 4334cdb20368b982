"""HostQuery, CompanyQuery and PreferencesQuery: what QuickBooks says about itself."""

from __future__ import annotations

from typing import Any

from qbsync.simulator.company_lists import Preferences, ref_to
from qbsync.simulator.company_store import Store
from qbsync.simulator.profiles import Profile

# Every qbXML spec version QuickBooks Desktop (US) has shipped, oldest first.
QBXML_VERSIONS = (
    "1.0",
    "1.1",
    "2.0",
    "2.1",
    "3.0",
    "4.0",
    "4.1",
    "5.0",
    "6.0",
    "7.0",
    "8.0",
    "9.0",
    "10.0",
    "11.0",
    "12.0",
    "13.0",
    "14.0",
    "15.0",
    "16.0",
)

# The QuickBooks year that introduced each major spec version (5.0 came with QuickBooks 2006).
_YEAR_OF_MAJOR = {
    1: 2002,
    2: 2003,
    3: 2004,
    4: 2005,
    5: 2006,
    6: 2007,
    7: 2008,
    8: 2009,
    9: 2010,
    10: 2011,
    11: 2012,
    12: 2013,
    13: 2014,
    14: 2018,
    15: 2022,
    16: 2023,
}


def version_tuple(version: str) -> tuple[int, int]:
    """``"13.0"`` -> (13, 0); a clear ValueError for anything else."""
    try:
        major, minor = version.strip().split(".")
        return int(major), int(minor)
    except ValueError as exc:
        raise ValueError(f"qbXML version must look like 13.0, got {version!r}") from exc


def supported_versions(version: str) -> list[str]:
    """The SupportedQBXMLVersion list of a QuickBooks whose newest spec is ``version``."""
    top = version_tuple(version)
    if version not in QBXML_VERSIONS:
        raise ValueError(f"unknown qbXML version {version!r}; known: {', '.join(QBXML_VERSIONS)}")
    return [v for v in QBXML_VERSIONS if version_tuple(v) <= top]


def host_ret(version: str, profile: Profile | None = None) -> dict[str, Any]:
    """HostRet of the profile's QuickBooks (default: US Pro) whose newest qbXML spec is ``version``.

    Shape and values as the real capture (QuickBooks Pro 2006: MajorVersion 16 = year - 1990, Country
    US); Canadian and UK editions answer their country (CA, UK) with the same versions (assumed).
    """
    year = _YEAR_OF_MAJOR[version_tuple(version)[0]]
    product = profile.product if profile is not None else "QuickBooks Pro"
    return {
        "ProductName": f"{product} {year}",
        "MajorVersion": str(year - 1990),
        "MinorVersion": "0",
        "Country": profile.country if profile is not None else "US",
        "SupportedQBXMLVersion": supported_versions(version),
        "IsAutomaticLogin": "false",
        "QBFileMode": "SingleUser",
    }


def company_ret(
    name: str,
    data_ext: list[dict[str, str]],
    owners: list[str] | None = None,
    company_type: str = "RetailGeneral",
) -> dict[str, Any]:
    """CompanyRet, with the DataExt entries of ``owners`` (all of them when None)."""
    wanted = [d for d in data_ext if owners is None or d["OwnerID"] in owners]
    return {
        "IsSampleCompany": "false",
        "CompanyName": name,
        "LegalCompanyName": name,
        "FirstMonthFiscalYear": "January",
        "FirstMonthIncomeTaxYear": "January",
        "CompanyType": company_type,
        "TaxForm": "OtherOrNone",
        "DataExtRet": [dict(d, DataExtType="STR255TYPE") for d in wanted],
    }


def preferences_ret(store: Store, prefs: Preferences, profile: Profile | None = None) -> dict[str, Any]:
    """PreferencesRet as the company's setup left it (shape from the real capture).

    Multicurrency files add MultiCurrencyPreferences; a company with sales tax off has no
    SalesTaxPreferences (the XSD makes it optional; its absence when off is assumed); Canadian and UK
    files add their customer/vendor tax code and amounts-include-tax flags.
    """
    out: dict[str, Any] = {
        "AccountingPreferences": {
            "IsUsingAccountNumbers": "false",
            "IsRequiringAccounts": "true",
            "IsUsingClassTracking": "true" if prefs.class_tracking else "false",
            "IsUsingAuditTrail": "true",
            "IsAssigningJournalEntryNumbers": "true",
        },
        "FinanceChargePreferences": {
            "AnnualInterestRate": "0.00",
            "MinFinanceCharge": "0.00",
            "GracePeriod": "0",
            "IsAssessingForOverdueCharges": "false",
            "CalculateChargesFrom": "DueDate",
            "IsMarkedToBePrinted": "false",
        },
        "JobsAndEstimatesPreferences": {
            "IsUsingEstimates": "true",
            "IsUsingProgressInvoicing": "false",
            "IsPrintingItemsWithZeroAmounts": "false",
        },
        "PurchasesAndVendorsPreferences": {
            "IsUsingInventory": "true" if prefs.using_inventory else "false",
            "DaysBillsAreDue": "10",
            "IsAutomaticallyUsingDiscounts": "false",
        },
        "ReportsPreferences": {"AgingReportBasis": "AgeFromDueDate", "SummaryReportBasis": "Accrual"},
        "SalesAndCustomersPreferences": {
            "IsTrackingReimbursedExpensesAsIncome": "false",
            "IsAutoApplyingPayments": "true",
            "PriceLevels": {"IsUsingPriceLevels": "false", "IsRoundingSalesPriceUp": "true"},
        },
        "TimeTrackingPreferences": {"FirstDayOfWeek": "Monday"},
        "CurrentAppAccessRights": {"IsAutomaticLoginAllowed": "true", "IsPersonalDataAccessAllowed": "true"},
    }
    if profile is not None and profile.name != "legacy":
        # Intuit "SDK support for multi location inventory": files are created with it off (Enterprise only)
        out["MultiLocationInventoryPreferences"] = {
            "IsMultiLocationInventoryAvailable": "false",
            "IsMultiLocationInventoryEnabled": "false",
        }
    if prefs.multicurrency:
        out["MultiCurrencyPreferences"] = {
            "IsMultiCurrencyOn": "true",
            "HomeCurrencyRef": ref_to(store, prefs.home_currency),
        }
    if prefs.using_sales_tax:
        tax: dict[str, Any] = {
            "DefaultItemSalesTaxRef": ref_to(store, prefs.default_item_sales_tax),
            "PaySalesTax": "Monthly",
            "DefaultTaxableSalesTaxCodeRef": ref_to(store, prefs.taxable_code),
            "DefaultNonTaxableSalesTaxCodeRef": ref_to(store, prefs.non_taxable_code),
        }
        if profile is not None and profile.regional_tax_preferences:
            tax.update(profile.regional_tax_preferences)
        out["SalesTaxPreferences"] = tax
    return out
