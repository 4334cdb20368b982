"""List elements (customers, items, accounts, payment methods...): Add, Mod, and the standard company."""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from qbsync.simulator.company_store import (
    HIERARCHICAL_KINDS,
    ITEM_KINDS,
    Record,
    StatusError,
    Store,
    decimal_of,
    money,
    object_not_found,
    price,
    quantity,
    stale_edit_sequence,
)
from qbsync.simulator.profiles import Profile, get_profile

# Items that default to the taxable code when an Add names none (QuickBooks' default for goods).
TAXABLE_BY_DEFAULT = ("ItemInventory", "ItemNonInventory")


@dataclass
class Preferences:
    """ListIDs of the records QuickBooks falls back on (the company's sales tax and account settings)."""

    default_item_sales_tax: str = ""
    taxable_code: str = ""
    non_taxable_code: str = ""
    ar_account: str = ""
    undeposited_funds: str = ""
    # What the company's setup turned on (see qbsync.simulator.profiles); defaults = the legacy company.
    profile: str = "legacy"
    country: str = "US"
    using_inventory: bool = True
    using_sales_tax: bool = True
    multicurrency: bool = False
    home_currency: str = ""  # ListID of the home Currency (multicurrency files only)
    class_tracking: bool = False
    # The other possibility of an assumed behaviour (docs/SIMULATOR.md): nobody has seen whether
    # QuickBooks takes a CreditMemoAdd whose total is 0.00; True refuses it (status and text assumed).
    refuses_zero_credit_memos: bool = False
    # The same for an InvoiceAdd or SalesReceiptAdd of 0.00 (an order paid in full by gift card or store
    # credit): taken by default (assumed); True refuses it (status and text assumed).
    refuses_zero_sales: bool = False

    def to_json(self) -> dict[str, Any]:
        """Plain JSON form."""
        return asdict(self)


def ref_to(store: Store, record_id: str) -> dict[str, str]:
    """A canonical reference to an existing record."""
    record = store.get(store.records.keys(), record_id)
    if record is None:
        raise object_not_found(record_id)
    return {"ListID": record.id, "FullName": store.full_name(record)}


def add_list_element(store: Store, prefs: Preferences, kind: str, add: dict[str, Any]) -> Record:
    """Create a list element from its ``XxxAdd`` aggregate (3140 on a bad reference, 3100 on a taken name)."""
    data = copy.deepcopy(add)
    parent_kinds = (kind,) if kind in HIERARCHICAL_KINDS else ()
    store.resolve_refs(data, kind, parent_kinds)
    name = str(data.get("Name", "")).strip()
    data["Name"] = name
    full_name = name
    if isinstance(data.get("ParentRef"), dict):
        full_name = f"{data['ParentRef']['FullName']}:{name}"
    store.check_name_free(kind, full_name)
    if "BarCode" in data:
        barcode = data.pop("BarCode")
        if isinstance(barcode, dict) and barcode.get("BarCodeValue"):
            data["BarCodeValue"] = barcode["BarCodeValue"]
    data.setdefault("IsActive", "true")
    _apply_defaults(store, prefs, kind, data)
    return store.create(kind, data)


def _apply_defaults(store: Store, prefs: Preferences, kind: str, data: dict[str, Any]) -> None:
    if kind == "Customer":
        # US files give a new customer the taxable code; Canadian and UK codes come from the item (assumed)
        if "SalesTaxCodeRef" not in data and prefs.taxable_code and prefs.country == "US":
            data["SalesTaxCodeRef"] = ref_to(store, prefs.taxable_code)
        if prefs.multicurrency and "CurrencyRef" not in data and prefs.home_currency:
            data["CurrencyRef"] = ref_to(store, prefs.home_currency)
        data.setdefault("JobStatus", "None")
        data.pop("OpenBalance", None)  # an opening balance would need a journal; not simulated
    elif kind in ITEM_KINDS and kind != "ItemSalesTax" and "SalesTaxCodeRef" not in data:
        code = prefs.taxable_code if kind in TAXABLE_BY_DEFAULT else prefs.non_taxable_code
        if code:
            data["SalesTaxCodeRef"] = ref_to(store, code)
    if kind == "ItemInventory":
        on_hand = decimal_of(data.pop("QuantityOnHand", None))
        total_value = data.pop("TotalValue", None)
        data.pop("InventoryDate", None)
        cost = decimal_of(data.get("PurchaseCost"))
        if total_value not in (None, "") and on_hand:
            cost = decimal_of(total_value) / on_hand
        data.setdefault("SalesPrice", "0.00")
        data.setdefault("PurchaseCost", "0.00")
        data["QuantityOnHand"] = quantity(on_hand)
        data["AverageCost"] = price(cost)
        data["QuantityOnOrder"] = "0"
        data["QuantityOnSalesOrder"] = "0"
    elif kind == "ItemSalesTax":
        data.setdefault("TaxRate", "0.00")
        if decimal_of(data["TaxRate"]) and not isinstance(data.get("TaxVendorRef"), dict):
            # CData's QuickBooks reference (cdn.cdata.com/help/RQK/.../pg_table-salestaxitems.htm): "If a
            # nonzero TaxRate is specified, a TaxVendorRef is required"; the code and text are assumed
            raise StatusError(
                3180,
                f'There was an error when saving a ItemSalesTax list, element "{data.get("Name")}".  '
                "QuickBooks error message: A sales tax item with a rate needs a tax agency.",
            )
    elif kind in ("Account", "Vendor"):
        data.pop("OpenBalance", None)
        data.pop("OpenBalanceDate", None)
        data.setdefault("Balance", "0.00")
        if kind == "Account":
            data.setdefault("TotalBalance", "0.00")


def mod_list_element(store: Store, kind: str, mod: dict[str, Any]) -> Record:
    """Apply an ``XxxMod`` aggregate: 3120 for an unknown ListID, 3200 for a stale EditSequence."""
    record = store.get((kind,), str(mod.get("ListID", "")))
    if record is None:
        raise object_not_found(str(mod.get("ListID", "")))
    if str(mod.get("EditSequence", "")) != record.edit_sequence:
        raise stale_edit_sequence(str(mod.get("EditSequence", "")))
    changes = {k: v for k, v in copy.deepcopy(mod).items() if k not in ("ListID", "EditSequence")}
    parent_kinds = (kind,) if kind in HIERARCHICAL_KINDS else ()
    store.resolve_refs(changes, kind, parent_kinds)
    if "ParentRef" in changes and changes["ParentRef"]["ListID"] == record.id:
        raise StatusError(
            3180,
            f'There was an error when modifying a {kind} list, element "'
            f'{store.full_name(record)}". QuickBooks error message: '
            "An element cannot be its own parent.",
        )
    if "Name" in changes or "ParentRef" in changes:
        name = str(changes.get("Name", record.data.get("Name", ""))).strip()
        changes["Name"] = name
        parent = changes.get("ParentRef", record.data.get("ParentRef"))
        full_name = f"{parent['FullName']}:{name}" if isinstance(parent, dict) and parent else name
        store.check_name_free(kind, full_name, except_id=record.id)
    for key, value in changes.items():
        base = key[:-3] if key.endswith("Mod") else key
        if key == "BarCode":
            if isinstance(value, dict) and value.get("BarCodeValue"):
                record.data["BarCodeValue"] = value["BarCodeValue"]
        elif base != key and isinstance(value, dict) and isinstance(record.data.get(base), dict):
            record.data[base].update(value)  # SalesOrPurchaseMod: only the fields sent change
        else:
            record.data[base] = value
    store.touch(record)
    return record


def list_ret(store: Store, record: Record, balances: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Ret data of a list element, as QuickBooks reports it now."""
    data = store.refresh_refs(record.data)
    out: dict[str, Any] = {
        "ListID": record.id,
        "TimeCreated": record.time_created,
        "TimeModified": record.time_modified,
        "EditSequence": record.edit_sequence,
    }
    out.update(data)
    out["FullName"] = store.full_name(record)
    out["Sublevel"] = str(store.sublevel(record))
    if record.kind == "Vendor":
        # A vendor is a tax agency once a sales tax item names it (assumed; IsTaxAgency is in the XSD)
        agency = any(
            isinstance(item.data.get("TaxVendorRef"), dict)
            and item.data["TaxVendorRef"].get("ListID") == record.id
            for item in store.all(("ItemSalesTax",))
        )
        out["IsTaxAgency"] = "true" if agency else "false"
    if record.kind == "Customer" and balances is not None:
        balance = money(balances.get(record.id, Decimal(0)))
        out["Balance"] = balance
        out["TotalBalance"] = balance
    return out


# -- the standard company ------------------------------------------------------------------------------

STANDARD_ACCOUNTS = (
    ("Checking", "Bank", None),
    ("Accounts Receivable", "AccountsReceivable", "AccountsReceivable"),
    ("Undeposited Funds", "OtherCurrentAsset", "UndepositedFunds"),
    ("Inventory Asset", "OtherCurrentAsset", "InventoryAssets"),
    ("Accounts Payable", "AccountsPayable", "AccountsPayable"),
    ("Sales Tax Payable", "OtherCurrentLiability", "SalesTaxPayable"),
    ("Opening Balance Equity", "Equity", "OpeningBalanceEquity"),
    ("Sales", "Income", None),
    ("Merchandise Sales", "Income", None),
    ("Shipping and Delivery Income", "Income", None),
    ("Sales Discounts", "Income", None),
    ("Cost of Goods Sold", "CostOfGoodsSold", "CostOfGoodsSold"),
    ("Inventory Adjustments", "CostOfGoodsSold", None),
    ("Merchant Account Fees", "Expense", None),
)

STANDARD_PAYMENT_METHODS = (
    ("Cash", "Cash"),
    ("Check", "Check"),
    ("Visa", "Visa"),
    ("MasterCard", "MasterCard"),
    ("American Express", "AmericanExpress"),
    ("Discover", "Discover"),
    ("PayPal", "OtherCreditCard"),
    ("Debit Card", "DebitCard"),
    ("E-Check", "ECheck"),
    ("Gift Card", "GiftCard"),
)


def seed_standard_company(store: Store, prefs: Preferences) -> None:
    """Fill an empty company with what a new QuickBooks company file has (and a store integration needs)."""

    def add(kind: str, data: dict[str, Any]) -> Record:
        return add_list_element(store, prefs, kind, data)

    accounts = {}
    for name, account_type, special in STANDARD_ACCOUNTS:
        data: dict[str, Any] = {"Name": name, "AccountType": account_type}
        if special:
            data["SpecialAccountType"] = special
        accounts[name] = add("Account", data)
    prefs.ar_account = accounts["Accounts Receivable"].id
    prefs.undeposited_funds = accounts["Undeposited Funds"].id
    for name, method_type in STANDARD_PAYMENT_METHODS:
        add("PaymentMethod", {"Name": name, "PaymentMethodType": method_type})
    prefs.taxable_code = add("SalesTaxCode", {"Name": "Tax", "IsTaxable": "true", "Desc": "Taxable Sales"}).id
    prefs.non_taxable_code = add(
        "SalesTaxCode", {"Name": "Non", "IsTaxable": "false", "Desc": "Non-Taxable Sales"}
    ).id
    add("StandardTerms", {"Name": "Due on receipt", "StdDueDays": "0"})
    add("StandardTerms", {"Name": "Net 30", "StdDueDays": "30"})
    for name in ("UPS", "FedEx", "USPS"):
        add("ShipMethod", {"Name": name})
    agency = add(
        "Vendor", {"Name": "State Board of Equalization", "CompanyName": "State Board of Equalization"}
    )
    agency_ref = {"ListID": agency.id}
    prefs.default_item_sales_tax = add(
        "ItemSalesTax",
        {
            "Name": "Out of State",
            "ItemDesc": "Out-of-state sale, exempt from sales tax",
            "TaxRate": "0.00",
            "TaxVendorRef": agency_ref,
        },
    ).id
    add(
        "ItemSalesTax",
        {
            "Name": "State Sales Tax",
            "ItemDesc": "State sales tax",
            "TaxRate": "6.25",
            "TaxVendorRef": agency_ref,
        },
    )
    add(
        "ItemOtherCharge",
        {
            "Name": "Shipping",
            "SalesTaxCodeRef": {"ListID": prefs.non_taxable_code},
            "SalesOrPurchase": {
                "Desc": "Shipping and handling",
                "Price": "0.00",
                "AccountRef": {"ListID": accounts["Shipping and Delivery Income"].id},
            },
        },
    )


def seed_profile(store: Store, prefs: Preferences, profile: Profile) -> None:
    """Fill an empty company as QuickBooks' setup leaves it for ``profile`` (legacy: the original seeding)."""
    prefs.profile = profile.name
    prefs.country = profile.country
    prefs.using_inventory = profile.inventory
    prefs.using_sales_tax = profile.sales_tax
    prefs.multicurrency = profile.multicurrency
    prefs.class_tracking = profile.class_tracking
    if profile.name == "legacy":
        seed_standard_company(store, prefs)
        return
    for seed in profile.seeds:
        if seed.first_use:
            continue  # QuickBooks makes it when a transaction first needs it (special_account)
        data = copy.deepcopy(seed.data)
        if seed.kind == "Currency":
            data.setdefault("IsUserDefinedCurrency", "false")
            data.setdefault("IsActive", "true")
        if profile.multicurrency and seed.kind == "Account" and prefs.home_currency:
            data["CurrencyRef"] = {"ListID": prefs.home_currency}  # accounts are in the home currency
        record = add_list_element(store, prefs, seed.kind, data)
        if seed.role:
            setattr(prefs, seed.role, record.id)


def special_account(store: Store, prefs: Preferences, role: str) -> dict[str, str]:
    """A reference to the company's ``role`` account (``ar_account``, ``undeposited_funds``), made now
    if this is the first transaction that needs it, as QuickBooks does (profiles.AUTO_CREATED)."""
    account_id = getattr(prefs, role)
    if account_id and store.get(("Account",), account_id) is not None:
        return ref_to(store, account_id)
    seed = get_profile(prefs.profile).first_use_seed(role)
    if seed is None:
        raise StatusError(3140, f"There is no {role} account in this company.")  # a legacy file lost it
    special = seed.data.get("SpecialAccountType")
    record = next(
        (a for a in store.all(("Account",)) if special and a.data.get("SpecialAccountType") == special), None
    )
    if record is None:
        data = copy.deepcopy(seed.data)
        if prefs.multicurrency and prefs.home_currency:
            data["CurrencyRef"] = {"ListID": prefs.home_currency}
        if store.by_name(("Account",), str(data["Name"])) is not None:
            data["Name"] = f"{data['Name']} 2"  # the merchant took the name for another account
        record = add_list_element(store, prefs, "Account", data)
    setattr(prefs, role, record.id)
    return ref_to(store, record.id)
