"""What the sync settings need from the merchant's QuickBooks company, and what to choose or create (pure).

Every setting that names a QuickBooks record (an account, an item, a sales tax code, a payment method) is
one :class:`Need` in :data:`NEEDS`. Given the company's lists (:class:`Company`) and the settings,
:func:`propose` says for each need whether the named record is there and fits (``keep``), which existing
record fits instead (``choose``: by ``SpecialAccountType``, then by type and words in its name), or that
qbsync should add one (``create``, with the request that adds it). Nothing here reads a database or talks
to QuickBooks; the company setup job (``handlers/company_setup.py``) and the setup page act on the answer.

Adding a setting that names a record is one entry in :data:`NEEDS`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from qbsync.queue import sales_tax

KEEP, CHOOSE, CREATE, MISSING, UNUSED = "keep", "choose", "create", "missing", "unused"
NAME_LIMITS = {"Account": 31, "Item": 31, "PaymentMethod": 31, "SalesTaxCode": 3, "Vendor": 41, "Class": 31}


@dataclass(frozen=True)
class Entry:
    """One record of a company list, reduced to what choosing needs."""

    list_type: str  # "Account", "Item", "PaymentMethod", "SalesTaxCode", "Vendor", "Class"
    name: str  # full name
    type: str = ""  # AccountType, item type ("ItemOtherCharge"), PaymentMethodType
    special: str = ""  # SpecialAccountType
    active: bool = True
    taxable: bool | None = None  # sales tax codes
    agency: bool = False  # vendors: a sales tax agency


@dataclass(frozen=True)
class Company:
    """What QuickBooks said about the company: its lists and the preferences that matter to the sync."""

    entries: tuple[Entry, ...] = ()
    country: str = "US"
    inventory: bool = True
    sales_tax: bool = True
    multicurrency: bool = False
    home_currency: str = ""
    class_tracking: bool = False
    edition: str = ""
    read: frozenset[str] | None = None  # the lists read from QuickBooks (None: those with entries)

    def of(self, list_type: str, active_only: bool = True) -> list[Entry]:
        """The records of one list (active ones only by default)."""
        return [e for e in self.entries if e.list_type == list_type and (e.active or not active_only)]

    def find(self, list_type: str, name: str) -> Entry | None:
        """The record of ``list_type`` with this name (case-insensitive, active or not), or None."""
        wanted = " ".join(str(name).split()).casefold()
        return next((e for e in self.entries
                     if e.list_type == list_type and " ".join(e.name.split()).casefold() == wanted), None)

    def has(self, list_type: str) -> bool:
        """Whether the list was read at all (an empty list then means QuickBooks has none)."""
        if self.read is not None:
            return list_type in self.read
        return any(e.list_type == list_type for e in self.entries)

    def agencies(self) -> list[str]:
        """Vendors that are sales tax agencies: flagged so, or named on a sales tax item."""
        return [e.name for e in self.of("Vendor") if e.agency]


@dataclass(frozen=True)
class Need:
    """A setting that names a QuickBooks record, and how to recognise or make a record that fits.

    ``types``: the AccountType / item types / PaymentMethodType that fit; ``special``: the SpecialAccountType
    that settles it (QuickBooks' own Cost of Goods Sold, Inventory Asset, Undeposited Funds, Sales Tax
    Payable, Opening Balance Equity); ``words``: words in a name that make a record the likely one, best
    first; ``by_type``: any record of a fitting type will do when no name says more (an income account for
    items); ``taxable``:
    for sales tax codes; ``empty_ok``: an empty value means QuickBooks' own default; ``create``: the
    request (type, data) that adds the record, or None when qbsync must not make one; ``applies``: whether
    the current settings and company use the setting at all; ``when_needed``: created by the first order
    that needs it rather than up front (the shipping, fee, discount, tax and rounding items: a store that
    never charges a fee gets no fee item).
    """

    setting: str
    list_type: str
    what: str
    types: tuple[str, ...] = ()
    special: str = ""
    words: tuple[str, ...] = ()
    by_type: bool = False
    taxable: bool | None = None
    agency: bool | None = None  # vendors: only sales tax agencies fit
    empty_ok: bool = False
    create: Callable[[str, Mapping[str, Any], Company], tuple[str, dict[str, Any]]] | None = None
    applies: Callable[[Mapping[str, Any], Company], bool] = lambda settings, company: True
    when_needed: bool = False  # created by the first order that needs it (its item job), not up front


@dataclass(frozen=True)
class Proposal:
    """What to do about one need: ``action`` is keep, choose, create, missing or unused."""

    need: Need
    current: str
    action: str
    choice: str
    candidates: tuple[str, ...] = ()
    reason: str = ""
    request: tuple[str, dict[str, Any]] | None = field(default=None, compare=False)

    @property
    def setting(self) -> str:
        return self.need.setting


# --- the requests that add what is missing ----------------------------------------------------------


def _account(account_type: str) -> Callable[[str, Mapping[str, Any], Company], tuple[str, dict[str, Any]]]:
    def create(name: str, settings: Mapping[str, Any], company: Company) -> tuple[str, dict[str, Any]]:
        return "AccountAdd", {"Name": name, "AccountType": account_type,
                              "Desc": "Added by qbsync for the web store's sales"}
    return create


def tax_code_ref(settings: Mapping[str, Any]) -> dict[str, str] | None:
    """The non-taxable code as a reference, or None when the company has no sales tax codes (left out)."""
    code = str(settings.get("non_taxable_code") or "")
    return {"FullName": code} if code else None


def special_item_add(qb_type: str, name: str, account: str, settings: Mapping[str, Any]) -> tuple[str, dict]:
    """(request type, data) adding a shipping/fee/discount/tax/rounding item on ``account``."""
    if qb_type == "ItemDiscount":
        return "ItemDiscountAdd", {"Name": name, "ItemDesc": name, "DiscountRate": "0",
                                   "SalesTaxCodeRef": tax_code_ref(settings),
                                   "AccountRef": {"FullName": account}}
    return "ItemOtherChargeAdd", {
        "Name": name,
        "SalesTaxCodeRef": tax_code_ref(settings),
        "SalesOrPurchase": {"Desc": name, "Price": "0", "AccountRef": {"FullName": account}},
    }


def _item(qb_type: str, account_setting: str) -> Callable[[str, Mapping[str, Any], Company],
                                                          tuple[str, dict[str, Any]]]:
    def create(name: str, settings: Mapping[str, Any], company: Company) -> tuple[str, dict[str, Any]]:
        return special_item_add(qb_type, name, str(settings[account_setting]), settings)
    return create


def _sales_tax_item(name: str, settings: Mapping[str, Any], company: Company) -> tuple[str, dict[str, Any]]:
    agencies = company.agencies()
    data: dict[str, Any] = {"Name": name, "ItemDesc": "Sales tax collected by the web store", "TaxRate": "0"}
    if agencies:
        data["TaxVendorRef"] = {"FullName": agencies[0]}
    return "ItemSalesTaxAdd", data


def _tax_agency(name: str, settings: Mapping[str, Any], company: Company) -> tuple[str, dict[str, Any]]:
    return sales_tax.agency_add({**settings, "tax_agency": name})


def _us_line_tax(settings: Mapping[str, Any], company: Company) -> bool:
    # Canadian and UK files compute GST/HST/VAT from tax codes: no sales tax items, no agency to pay.
    return settings.get("tax_mode") == "line" and company.sales_tax and company.country == "US"


def payment_method_type(name: str) -> str:
    """The PaymentMethodType a payment method's name suggests (Other when it says nothing)."""
    words = name.casefold()
    for hint, kind in (("visa", "Visa"), ("master", "MasterCard"), ("amex", "AmericanExpress"),
                       ("american express", "AmericanExpress"), ("discover", "Discover"), ("cash", "Cash"),
                       ("cheque", "Check"), ("check", "Check"), ("debit", "DebitCard"), ("gift", "GiftCard"),
                       ("card", "OtherCreditCard"), ("stripe", "OtherCreditCard")):
        if hint in words:
            return kind
    return "Other"


def _payment_method(name: str, settings: Mapping[str, Any], company: Company) -> tuple[str, dict[str, Any]]:
    return "PaymentMethodAdd", {"Name": name, "PaymentMethodType": payment_method_type(name)}


# --- when a setting is used ---------------------------------------------------------------------------


def _sells_inventory(settings: Mapping[str, Any], company: Company) -> bool:
    return company.inventory and "inventory" in {settings.get(f"item_type_{k}")
                                                 for k in ("inventory", "non_inventory", "service")}


def _tracks_inventory(settings: Mapping[str, Any], company: Company) -> bool:
    # Any inventory item, added or linked, can have its opening stock corrected (inventory.late_sales).
    return company.inventory


def _line_tax(settings: Mapping[str, Any], company: Company) -> bool:
    return settings.get("tax_mode") == "line"


def _quickbooks_tax(settings: Mapping[str, Any], company: Company) -> bool:
    return settings.get("tax_mode") == "quickbooks"


def _store_stock_master(settings: Mapping[str, Any], company: Company) -> bool:
    return company.inventory and (settings.get("stock_master") == "storefront"
                                  or bool(settings.get("stock_master_exceptions")))


SHIPPING_WORDS = ("shipping", "freight", "delivery", "postage", "carriage")

# Tax codes and accounts first: the items qbsync creates name them.
NEEDS: tuple[Need, ...] = (
    Need("taxable_code", "SalesTaxCode", "sales tax code of taxable lines", taxable=True, words=("tax",),
         by_type=True, applies=lambda s, c: c.sales_tax and s.get("tax_mode") == "quickbooks"),
    Need("non_taxable_code", "SalesTaxCode", "sales tax code of lines QuickBooks must not tax",
         taxable=False, words=("non",), by_type=True),
    Need("income_account", "Account", "income account of the products qbsync adds as items", ("Income",),
         words=("merchandise", "product", "sales", "revenue"), by_type=True, create=_account("Income")),
    Need("cogs_account", "Account", "cost of goods sold account of inventory items", ("CostOfGoodsSold",),
         special="CostOfGoodsSold", words=("cost of goods",), create=_account("CostOfGoodsSold"),
         applies=_sells_inventory),
    Need("asset_account", "Account", "inventory asset account of inventory items", ("OtherCurrentAsset",),
         special="InventoryAssets", words=("inventory",), create=_account("OtherCurrentAsset"),
         applies=_sells_inventory),
    Need("shipping_account", "Account", "income account for shipping and fees charged", ("Income",),
         words=SHIPPING_WORDS, create=_account("Income")),
    Need("discount_account", "Account", "account of the discount item", ("Income", "Expense"),
         words=("discount",), create=_account("Income")),
    Need("tax_account", "Account", "liability account for the sales tax the store collects",
         ("OtherCurrentLiability",), special="SalesTaxPayable", words=("sales tax",),
         create=_account("OtherCurrentLiability"), applies=_line_tax),
    Need("inventory_adjustment_account", "Account", "account for stock adjustments from the store",
         ("CostOfGoodsSold", "Expense"), words=("adjustment", "shrink"), create=_account("CostOfGoodsSold"),
         applies=_store_stock_master),
    Need("opening_balance_account", "Account", "equity account corrections of opening stock post to",
         ("Equity",), special="OpeningBalanceEquity", words=("opening bal",), create=_account("Equity"),
         applies=_tracks_inventory),
    Need("deposit_account", "Account", "account sales receipts and payments are deposited to",
         ("Bank", "OtherCurrentAsset"), special="UndepositedFunds", words=("undeposited",), empty_ok=True),
    Need("shipping_item", "Item", "item that carries shipping lines", ("ItemOtherCharge", "ItemService"),
         words=SHIPPING_WORDS, create=_item("ItemOtherCharge", "shipping_account"), when_needed=True),
    Need("fee_item", "Item", "item that carries fee lines", ("ItemOtherCharge", "ItemService"),
         words=("fee", "surcharge", "handling"), create=_item("ItemOtherCharge", "shipping_account"),
         when_needed=True),
    Need("discount_item", "Item", "item that carries coupons and discounts", ("ItemDiscount",),
         words=("discount", "coupon"), create=_item("ItemDiscount", "discount_account"), when_needed=True),
    Need("tax_item", "Item", "item that carries the store's sales tax as a line", ("ItemOtherCharge",),
         words=("sales tax", "tax"), create=_item("ItemOtherCharge", "tax_account"), applies=_line_tax,
         when_needed=True),
    Need("adjustment_item", "Item", "item for the store's rounding cents", ("ItemOtherCharge",),
         words=("rounding", "adjustment"), create=_item("ItemOtherCharge", "income_account"),
         when_needed=True),
    Need("tax_agency", "Vendor", "tax agency the store's sales tax is owed to", agency=True, by_type=True,
         words=("tax", "revenue", "equalization"), create=_tax_agency, applies=_us_line_tax),
    Need("quickbooks_tax_item", "Item", "sales tax item QuickBooks computes tax with",
         ("ItemSalesTax", "ItemSalesTaxGroup"), words=("sales tax", "tax"), empty_ok=True,
         create=_sales_tax_item, applies=_quickbooks_tax),
)
BY_SETTING: dict[str, Need] = {need.setting: need for need in NEEDS}
# The payment methods named in payment_method_map are needs too, one per name (see payment_method_needs).
PAYMENT_METHOD = Need("payment_method_map", "PaymentMethod", "payment method of sales receipts",
                      create=_payment_method)


# --- choosing -------------------------------------------------------------------------------------------


def fits(need: Need, entry: Entry) -> bool:
    """Whether ``entry`` is the kind of record ``need`` asks for."""
    if entry.list_type != need.list_type or not entry.active:
        return False
    if need.special and entry.special == need.special:
        return True
    if entry.special and entry.special != need.special:
        return False  # QuickBooks' own accounts (Uncategorized Income...) keep their role
    if need.taxable is not None and entry.taxable is not need.taxable:
        return False
    if need.agency is not None and entry.agency is not need.agency:
        return False
    return not need.types or entry.type in need.types


def _words_score(need: Need, name: str) -> int:
    text = name.casefold()
    for rank, word in enumerate(need.words):
        if word in text:
            return len(need.words) - rank
    return 0


def ranked(need: Need, company: Company) -> list[Entry]:
    """Records that fit ``need``, likeliest first: its special account type, then words in the name."""
    found = [e for e in company.of(need.list_type) if fits(need, e)]

    def score(entry: Entry) -> tuple[int, int, str]:
        special = 1 if need.special and entry.special == need.special else 0
        return (-special, -_words_score(need, entry.name), entry.name.casefold())

    return sorted(found, key=score)


def free_name(company: Company, list_type: str, base: str) -> str:
    """``base``, or a variant of it no record of the list uses (items share one name space)."""
    limit = NAME_LIMITS.get(list_type, 31)
    base = base[:limit].strip()
    if company.find(list_type, base) is None:
        return base
    for suffix in (" (web)", " (web store)", " 2", " 3", " 4"):
        name = base[: limit - len(suffix)].rstrip() + suffix
        if company.find(list_type, name) is None:
            return name
    return base


def propose_one(need: Need, value: str, default: str, settings: Mapping[str, Any],
                company: Company) -> Proposal:
    """What to do about one setting's value."""
    value = str(value or "").strip()
    if not need.applies(settings, company):
        return Proposal(need, value, UNUSED, value, reason="not used with these settings")
    candidates = ranked(need, company)
    names = tuple(e.name for e in candidates)
    if need.list_type == "SalesTaxCode" and (not company.sales_tax or (
            company.has("SalesTaxCode") and not company.of("SalesTaxCode"))):
        # Sales tax is off (QuickBooks leaves SalesTaxPreferences out) or the company has no codes at all:
        # lines are sent without a code rather than naming one QuickBooks would refuse.
        return Proposal(need, value, CHOOSE if value else KEEP, "", names,
                        "the company does not use sales tax: lines are sent without a sales tax code")
    if not company.has(need.list_type):
        return Proposal(need, value, MISSING, value, names,
                        f"QuickBooks' {need.list_type} list was not read yet")
    if not value and need.empty_ok:
        return Proposal(need, value, KEEP, value, names, "empty: QuickBooks' own default applies")
    named = company.find(need.list_type, value) if value else None
    if named is not None and fits(need, named):
        return Proposal(need, value, KEEP, named.name, names,
                        f"QuickBooks has the {word(need)} {named.name!r}")
    why = (f"QuickBooks has no {word(need)} {value!r}" if named is None
           else f"{value!r} in QuickBooks is not a fitting {word(need)} ({named.type or 'another type'})")
    best = candidates[0] if candidates else None
    if best is not None and (need.by_type or _words_score(need, best.name)
                             or (need.special and best.special == need.special)):
        return Proposal(need, value, CHOOSE, best.name, names, f"{why}; {best.name!r} fits")
    if need.create is None:
        if need.list_type == "SalesTaxCode" and not company.of("SalesTaxCode"):
            return Proposal(need, value, CHOOSE, "", names, f"{why}; the company has no sales tax codes, so "
                            "lines are sent without one")
        return Proposal(need, value, MISSING, value, names, f"{why}; choose one in QuickBooks' list")
    name = free_name(company, need.list_type, value or default or need.setting)
    request = need.create(name, {**settings, need.setting: name}, company)
    return Proposal(need, value, CREATE, name, names, f"{why}; qbsync adds {name!r}", request)


def word(need: Need) -> str:
    """What ``need`` names, in the merchant's words ("account", "payment method")."""
    return {"Account": "account", "Item": "item", "SalesTaxCode": "sales tax code",
            "PaymentMethod": "payment method", "Vendor": "vendor"}.get(need.list_type, need.list_type)


def propose(company: Company, settings: Mapping[str, Any], defaults: Mapping[str, Any] | None = None
            ) -> list[Proposal]:
    """A proposal for every setting that names a QuickBooks record, in :data:`NEEDS` order.

    Later proposals see the choices of earlier ones (an item created on a chosen account names it).
    """
    defaults = defaults or {}
    settings = dict(settings)
    found = []
    for need in NEEDS:
        proposal = propose_one(need, settings.get(need.setting, ""), str(defaults.get(need.setting) or ""),
                               settings, company)
        if proposal.action in (CHOOSE, CREATE):
            settings[need.setting] = proposal.choice
        found.append(proposal)
    for name in payment_method_names(settings):
        found.append(propose_one(PAYMENT_METHOD, name, name, settings, company))
    return found


def payment_method_names(settings: Mapping[str, Any]) -> list[str]:
    """The QuickBooks payment methods named in payment_method_map (``code=name`` pairs), once each."""
    names: list[str] = []
    for pair in settings.get("payment_method_map") or ():
        _, _, name = str(pair).partition("=")
        if name.strip() and name.strip().casefold() not in {n.casefold() for n in names}:
            names.append(name.strip())
    return names


def settled(settings: Mapping[str, Any], proposals: Iterable[Proposal]) -> dict[str, Any]:
    """The settings with every choose/create proposal applied (what the sync uses once they are done)."""
    out = dict(settings)
    for proposal in proposals:
        if proposal.action in (CHOOSE, CREATE) and proposal.need is not PAYMENT_METHOD:
            out[proposal.setting] = proposal.choice
    return out


# --- the company from what QuickBooks answered --------------------------------------------------------


def _true(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1")


def entry_of(list_type: str, name: str, data: Mapping[str, Any]) -> Entry:
    """An :class:`Entry` from a stored list entry (``data`` as ``lists.entry_data`` keeps it)."""
    kind = {"Account": "AccountType", "PaymentMethod": "PaymentMethodType"}.get(list_type)
    return Entry(
        list_type=list_type,
        name=name,
        type=str(data.get(kind) if kind else data.get("type") or ""),
        special=str(data.get("SpecialAccountType") or ""),
        active=str(data.get("IsActive", "true")).lower() not in ("false", "0"),
        taxable=_true(data["IsTaxable"]) if "IsTaxable" in data else None,
        agency=_true(data.get("IsSalesTaxAgency")),
    )


def company_of(entries: Iterable[Entry], host: Mapping[str, Any] | None,
               preferences: Mapping[str, Any] | None, agency_names: Iterable[str] = (),
               read: Iterable[str] | None = None) -> Company:
    """The :class:`Company` from its list entries, HostRet and PreferencesRet (either may be unknown).

    ``agency_names``: vendors named on a sales tax item, which are tax agencies too (not every file flags
    them with IsSalesTaxAgency).
    """
    named = {name.casefold() for name in agency_names}
    entries = [Entry(e.list_type, e.name, e.type, e.special, e.active, e.taxable,
                     e.agency or (e.list_type == "Vendor" and e.name.casefold() in named)) for e in entries]
    prefs = preferences or {}
    inventory = prefs.get("PurchasesAndVendorsPreferences", {}).get("IsUsingInventory")
    multicurrency = prefs.get("MultiCurrencyPreferences") or {}
    home = multicurrency.get("HomeCurrencyRef") or {}
    accounting = prefs.get("AccountingPreferences") or {}
    return Company(
        entries=tuple(entries),
        country=str((host or {}).get("Country") or "US"),
        inventory=_true(inventory) if inventory is not None else True,
        # QuickBooks leaves SalesTaxPreferences out when sales tax is off; unknown preferences: assume on.
        sales_tax=("SalesTaxPreferences" in prefs) if preferences else True,
        multicurrency=_true(multicurrency.get("IsMultiCurrencyOn")),
        home_currency=str(home.get("FullName") or "") if isinstance(home, Mapping) else "",
        class_tracking=_true(accounting.get("IsUsingClassTracking")),
        edition=str((host or {}).get("ProductName") or ""),
        read=frozenset(read) if read is not None else None,
    )


# --- settings the company's preferences decide ---------------------------------------------------------

# setting -> (when the company says so, the value then, why). Applied like choices: not to reviewed settings.
PREFERENCE_RULES: tuple[tuple[str, Callable[[Company], bool], str, str], ...] = tuple(
    (f"item_type_{kind}", lambda company: not company.inventory, "non_inventory",
     "inventory is off in QuickBooks, so products become non-inventory items")
    for kind in ("inventory", "non_inventory", "service")
)


def preference_changes(company: Company, settings: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(setting, value, why) for settings the company's preferences rule out (inventory items when
    inventory is off)."""
    return [(setting, value, why) for setting, applies, value, why in PREFERENCE_RULES
            if applies(company) and settings.get(setting) == "inventory"]


# --- settings checked on save -------------------------------------------------------------------------


def length_errors(values: Mapping[str, Any]) -> dict[str, str]:
    """For each setting in ``values`` naming a record by a name QuickBooks cannot keep whole (a level of it
    longer than the list's names), an error: QuickBooks would cut it, so the record added would not be the
    one named (pure)."""
    errors: dict[str, str] = {}
    for setting, value in values.items():
        need = PAYMENT_METHOD if setting == "payment_method_map" else BY_SETTING.get(setting)
        if need is None:
            continue
        names = payment_method_names({setting: value}) if need is PAYMENT_METHOD else [str(value or "")]
        limit = NAME_LIMITS.get(need.list_type, 31)
        for name in names:
            long = next((part for part in name.split(":") if len(part.strip()) > limit), None)
            if long is not None:
                errors[setting] = (f"QuickBooks keeps {limit} characters of a {word(need)}'s name and "
                                   f"{long.strip()!r} has {len(long.strip())}: use a shorter name")
                break
    return errors


def name_errors(values: Mapping[str, Any], company: Company) -> dict[str, str]:
    """For each setting in ``values`` naming a record the company's list lacks (or one of the wrong type): an
    error naming the closest records that fit (difflib). Lists never read are not judged; empty values that
    mean QuickBooks' default are fine."""
    errors: dict[str, str] = {}
    for setting, value in values.items():
        need = PAYMENT_METHOD if setting == "payment_method_map" else BY_SETTING.get(setting)
        if need is None or not company.has(need.list_type):
            continue
        names = [str(value)] if not isinstance(value, list | tuple) else []
        if need is PAYMENT_METHOD:
            names = payment_method_names({setting: value})
        for name in names:
            name = name.strip()
            if not name and (need.empty_ok or need.list_type == "SalesTaxCode"):
                continue
            entry = company.find(need.list_type, name) if name else None
            if entry is not None and fits(need, entry):
                continue
            fitting = [e.name for e in ranked(need, company)] or [e.name for e in company.of(need.list_type)]
            close = difflib.get_close_matches(name, fitting, n=1, cutoff=0.4)  # the closest one
            if need is PAYMENT_METHOD and entry is None and not difflib.get_close_matches(name, fitting, n=1):
                continue  # a new payment method, not a typo: the company setup adds it to QuickBooks
            close = close or fitting[:3]
            kind = entry.type if entry is not None and entry.type else "another kind"
            problem = (f"QuickBooks has no {word(need)} {name!r}" if entry is None else
                       f"{name!r} in QuickBooks is {kind}, which cannot be the {need.what}")
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            create = " (or let the company setup page create it)" if need.create is not None else ""
            errors[setting] = f"{problem}{hint}{create}"
            break
    return errors
