"""The records of a simulated QuickBooks company, and the rules every list and transaction shares.

State is plain: one :class:`Record` per list element or transaction, kept in insertion order per kind.
A record's ``data`` holds its Ret fields as qbXML names -> strings / dicts / lists (exactly what the XSD
calls them), apart from the core fields (ListID/TxnID, times, EditSequence) which live on the record.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

# -- kinds --------------------------------------------------------------------------------------------

NAME_KINDS = ("Customer", "Vendor", "Employee", "OtherName")
ITEM_KINDS = (
    "ItemService",
    "ItemInventory",
    "ItemNonInventory",
    "ItemOtherCharge",
    "ItemDiscount",
    "ItemSalesTax",
    "ItemSubtotal",
    "ItemPayment",
)
SALES_KINDS = ("Invoice", "SalesReceipt", "SalesOrder", "Estimate", "CreditMemo")
# Money out and money moved: refunds by card, checks, and bank deposits.
MONEY_KINDS = ("ARRefundCreditCard", "Check", "Deposit")
TXN_KINDS = (*SALES_KINDS, "ReceivePayment", "InventoryAdjustment", "PurchaseOrder", *MONEY_KINDS)
# Lists whose Ret carries FullName/ParentRef/Sublevel (hierarchical lists).
HIERARCHICAL_KINDS = ("Customer", "Account", "Class", *[k for k in ITEM_KINDS if k != "ItemSalesTax"])

# Which lists share one name space: a name used in one is "already in use" for the others.
NAME_SCOPES: dict[str, str] = {k: "names" for k in NAME_KINDS}
NAME_SCOPES.update({k: "items" for k in ITEM_KINDS})

# What each kind of reference may point at.
REF_TARGETS: dict[str, tuple[str, ...]] = {
    "CustomerRef": ("Customer",),
    "VendorRef": ("Vendor",),
    "TaxVendorRef": ("Vendor",),
    "PrefVendorRef": ("Vendor",),
    "EntityRef": NAME_KINDS,
    "ItemRef": ITEM_KINDS,
    "ItemSalesTaxRef": ("ItemSalesTax",),
    "AccountRef": ("Account",),
    "IncomeAccountRef": ("Account",),
    "COGSAccountRef": ("Account",),
    "AssetAccountRef": ("Account",),
    "ExpenseAccountRef": ("Account",),
    "ARAccountRef": ("Account",),
    "DepositToAccountRef": ("Account",),
    "DiscountAccountRef": ("Account",),
    "OverrideItemAccountRef": ("Account",),
    "PaymentMethodRef": ("PaymentMethod",),
    "PreferredPaymentMethodRef": ("PaymentMethod",),
    "SalesTaxCodeRef": ("SalesTaxCode",),
    "CustomerSalesTaxCodeRef": ("SalesTaxCode",),
    "PurchaseTaxCodeRef": ("SalesTaxCode",),
    "TermsRef": ("StandardTerms",),
    "ShipMethodRef": ("ShipMethod",),
    "ClassRef": ("Class",),
    "CurrencyRef": ("Currency",),
    "HomeCurrencyRef": ("Currency",),
    "RefundFromAccountRef": ("Account",),
    "PayeeEntityRef": NAME_KINDS,
    "ItemPurchaseTaxRef": ("ItemSalesTax",),
    "DiscountClassRef": ("Class",),
}

# How a 3140 message names the kind of the missing object.
REF_WORDS: dict[str, str] = {
    "Customer": "Customer",
    "Vendor": "Vendor",
    "Account": "Account",
    "PaymentMethod": "PaymentMethod",
    "SalesTaxCode": "SalesTaxCode",
    "ItemSalesTax": "ItemSalesTax",
    "StandardTerms": "Terms",
    "ShipMethod": "ShipMethod",
    "Class": "Class",
    "Currency": "Currency",
}


def ref_word(kinds: tuple[str, ...]) -> str:
    """The word a 3140 message uses for a reference that may point at ``kinds``."""
    if kinds == ITEM_KINDS:
        return "Item"
    if kinds == NAME_KINDS:
        return "Entity"
    return REF_WORDS.get(kinds[0], kinds[0])


def is_txn_kind(kind: str) -> bool:
    """Whether ``kind`` is a transaction (TxnID) rather than a list element (ListID)."""
    return kind in TXN_KINDS


# -- status -------------------------------------------------------------------------------------------


class StatusError(Exception):
    """A request QuickBooks refuses: answered as an Rs with this status and no Ret."""

    def __init__(self, code: int, message: str, severity: str = "Error") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.severity = severity


def invalid_reference(word: str, value: str, target: str) -> StatusError:
    """3140, worded as QuickBooks words it."""
    return StatusError(
        3140,
        f'There is an invalid reference to QuickBooks {word} "{value}" in the {target}.  '
        "QuickBooks error message: Invalid argument.  The specified record does not exist in the list.",
    )


def object_not_found(object_id: str) -> StatusError:
    """3120: a ListID/TxnID named in a Mod, Void, Del or query does not exist."""
    return StatusError(
        3120,
        f'Object "{object_id}" specified in the request cannot be found.  '
        "QuickBooks error message: Invalid argument.  The specified record does not exist in the list.",
    )


def name_in_use(name: str) -> StatusError:
    """3100: the name is taken in the list's name space."""
    return StatusError(3100, f'The name "{name}" of the list element is already in use.')


def stale_edit_sequence(edit_sequence: str) -> StatusError:
    """3200: the Mod carried an EditSequence that is not the record's current one."""
    return StatusError(3200, f'The provided edit sequence "{edit_sequence}" is out-of-date. ')


# -- values -------------------------------------------------------------------------------------------

CENT = Decimal("0.01")


def to_cent(value: Decimal) -> Decimal:
    """Rounded to the cent, half up (as QuickBooks rounds amounts)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Decimal) -> str:
    """AMTTYPE text: exactly two decimals, rounded half up."""
    return str(to_cent(value))


def price(value: Decimal) -> str:
    """PRICETYPE text: at least two decimals, at most five."""
    value = value.quantize(Decimal("0.00001"), rounding=ROUND_HALF_UP).normalize()
    if -value.as_tuple().exponent < 2:  # type: ignore[operator]
        value = value.quantize(CENT)
    return format(value, "f")


def quantity(value: Decimal) -> str:
    """QUANTYPE text: no trailing zeros (``2``, ``1.5``)."""
    value = value.quantize(Decimal("0.00001"), rounding=ROUND_HALF_UP).normalize()
    return format(value, "f")


def decimal_of(text: Any, default: str = "0") -> Decimal:
    """The Decimal value of a qbXML number (missing or empty -> ``default``)."""
    if text is None or text == "" or isinstance(text, dict):
        return Decimal(default)
    return Decimal(str(text))


def as_list(value: Any) -> list:
    """A repeated element's values as a list (absent -> [], one -> [it])."""
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def is_true(value: Any) -> bool:
    """qbXML boolean text."""
    return str(value).strip().lower() in ("true", "1")


# -- records ------------------------------------------------------------------------------------------


@dataclass
class Record:
    """One list element or transaction."""

    kind: str
    id: str
    edit_sequence: str
    time_created: str
    time_modified: str
    number: int
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON form (all values are already strings, dicts and lists)."""
        return {
            "kind": self.kind,
            "id": self.id,
            "edit_sequence": self.edit_sequence,
            "time_created": self.time_created,
            "time_modified": self.time_modified,
            "number": self.number,
            "data": self.data,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Record:
        """Inverse of :meth:`to_json`."""
        return cls(
            kind=raw["kind"],
            id=raw["id"],
            edit_sequence=raw["edit_sequence"],
            time_created=raw["time_created"],
            time_modified=raw["time_modified"],
            number=int(raw["number"]),
            data=raw["data"],
        )


def qb_time(moment: datetime) -> str:
    """A QuickBooks DATETIMETYPE as QuickBooks writes it: local time with its offset, to the second."""
    return moment.replace(microsecond=0).isoformat()


class Store:
    """Every record of one company, with ID assignment, name look-up and reference resolution."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.records: dict[str, dict[str, Record]] = {}
        self.next_list_number = 0x80000001
        self.next_txn_number = 1
        self.last_edit_sequence = 0
        self.txn_counters: dict[str, int] = {}
        # FullName look-ups are cached per set of kinds until any list element changes.
        self._names_version = 0
        self._name_index: dict[tuple[str, ...], tuple[int, dict[str, Record]]] = {}
        # RefNumber look-ups likewise, per transaction kind, until a transaction of that kind changes.
        self._txn_versions: dict[str, int] = {}
        self._ref_index: dict[str, tuple[int, dict[str, list[Record]]]] = {}

    def _lists_changed(self, kind: str) -> None:
        if is_txn_kind(kind):
            self._txn_versions[kind] = self._txn_versions.get(kind, 0) + 1
        else:
            self._names_version += 1

    # ids and times

    def _stamp(self) -> tuple[str, int]:
        now = self.clock()
        epoch = int(now.timestamp())
        # EditSequence must change on every modification, even two in the same second.
        self.last_edit_sequence = max(epoch, self.last_edit_sequence + 1)
        return qb_time(now), self.last_edit_sequence

    def new_list_id(self) -> str:
        """A fresh ListID shaped like QuickBooks' (``80000001-1234567890``)."""
        number = self.next_list_number
        self.next_list_number += 1
        return f"{number:X}-{int(self.clock().timestamp())}"

    def new_txn_id(self) -> str:
        """A fresh TxnID or TxnLineID (``1A-1234567890``)."""
        number = self.next_txn_number
        self.next_txn_number += 1
        return f"{number:X}-{int(self.clock().timestamp())}"

    def create(self, kind: str, data: dict[str, Any]) -> Record:
        """Store a new record of ``kind`` with fresh IDs, times and EditSequence."""
        when, sequence = self._stamp()
        record_id = self.new_txn_id() if is_txn_kind(kind) else self.new_list_id()
        number = len(self.records.get(kind, {})) + 1
        if is_txn_kind(kind):
            self.txn_counters[kind] = self.txn_counters.get(kind, 0) + 1
            number = sum(self.txn_counters.values())
        record = Record(
            kind=kind,
            id=record_id,
            edit_sequence=str(sequence),
            time_created=when,
            time_modified=when,
            number=number,
            data=data,
        )
        self.records.setdefault(kind, {})[record_id] = record
        self._lists_changed(kind)
        return record

    def touch(self, record: Record) -> None:
        """Mark ``record`` modified now: new TimeModified and EditSequence."""
        when, sequence = self._stamp()
        record.time_modified = when
        record.edit_sequence = str(sequence)
        self._lists_changed(record.kind)

    def delete(self, record: Record) -> str:
        """Remove ``record``; returns the deletion time."""
        del self.records[record.kind][record.id]
        self._lists_changed(record.kind)
        return qb_time(self.clock())

    # look-up

    def all(self, kinds: Iterable[str]) -> Iterator[Record]:
        """Every record of ``kinds``, in insertion order per kind."""
        for kind in kinds:
            yield from self.records.get(kind, {}).values()

    def by_ref_number(self, kind: str, ref_number: str) -> list[Record]:
        """Transactions of ``kind`` whose RefNumber equals ``ref_number`` ignoring case, oldest first."""
        version = self._txn_versions.get(kind, 0)
        cached = self._ref_index.get(kind)
        if cached is None or cached[0] != version:
            index: dict[str, list[Record]] = {}
            for record in self.records.get(kind, {}).values():
                index.setdefault(str(record.data.get("RefNumber", "")).lower(), []).append(record)
            cached = self._ref_index[kind] = (version, index)
        return cached[1].get(ref_number.lower(), [])

    def get(self, kinds: Iterable[str], record_id: str) -> Record | None:
        """The record with this ListID/TxnID among ``kinds``."""
        for kind in kinds:
            record = self.records.get(kind, {}).get(record_id)
            if record is not None:
                return record
        return None

    def full_name(self, record: Record) -> str:
        """The colon-joined path of a list element (its Name when it has no parent)."""
        name = str(record.data.get("Name", ""))
        parent_ref = record.data.get("ParentRef")
        if isinstance(parent_ref, dict) and parent_ref.get("ListID"):
            parent = self.get((record.kind, *NAME_KINDS, *ITEM_KINDS), parent_ref["ListID"])
            if parent is not None:
                return f"{self.full_name(parent)}:{name}"
        return name

    def sublevel(self, record: Record) -> int:
        """How deep ``record`` sits under its parents (0 at the top)."""
        return self.full_name(record).count(":") - str(record.data.get("Name", "")).count(":")

    def by_name(self, kinds: Iterable[str], name: str) -> Record | None:
        """The list element of ``kinds`` whose FullName is ``name`` (case-insensitive)."""
        key = tuple(kinds)
        cached = self._name_index.get(key)
        if cached is None or cached[0] != self._names_version:
            index: dict[str, Record] = {}
            for record in self.all(key):
                index.setdefault(self.full_name(record).lower(), record)
            cached = (self._names_version, index)
            self._name_index[key] = cached
        return cached[1].get(name.strip().lower())

    def scope_kinds(self, kind: str) -> tuple[str, ...]:
        """Every kind sharing ``kind``'s name space."""
        scope = NAME_SCOPES.get(kind)
        if scope is None:
            return (kind,)
        return tuple(k for k, s in NAME_SCOPES.items() if s == scope)

    def check_name_free(self, kind: str, full_name: str, except_id: str | None = None) -> None:
        """Raise 3100 when ``full_name`` is taken in ``kind``'s name space."""
        existing = self.by_name(self.scope_kinds(kind), full_name)
        if existing is not None and existing.id != except_id:
            raise name_in_use(full_name.split(":")[-1])

    # references

    def resolve_ref(self, ref_name: str, ref: Any, target: str, kinds: tuple[str, ...] | None = None) -> dict:
        """A reference made canonical (ListID + current FullName); 3140 when it points at nothing."""
        kinds = kinds or REF_TARGETS[ref_name]
        if not isinstance(ref, dict):
            ref = {}
        list_id = str(ref.get("ListID") or "").strip()
        full_name = str(ref.get("FullName") or "").strip()
        record = None
        if list_id:
            record = self.get(kinds, list_id)
        elif full_name:
            record = self.by_name(kinds, full_name)
        if record is None:
            raise invalid_reference(ref_word(kinds), list_id or full_name, target)
        return {"ListID": record.id, "FullName": self.full_name(record)}

    def resolve_refs(self, data: dict[str, Any], target: str, parent_kinds: tuple[str, ...] = ()) -> None:
        """Resolve every known reference in ``data`` (in place, nested aggregates included).

        ``target`` names the object for 3140 messages (``Invoice``); references inside line aggregates
        say ``Invoice line`` as QuickBooks does. ``ParentRef`` points into ``parent_kinds``.
        """
        for key, value in list(data.items()):
            if key == "ParentRef" and parent_kinds:
                data[key] = self.resolve_ref(key, value, target, parent_kinds)
            elif key in REF_TARGETS:
                data[key] = self.resolve_ref(key, value, target)
            elif isinstance(value, dict):
                self.resolve_refs(value, _line_target(key, target))
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, dict):
                        self.resolve_refs(item, _line_target(key, target))

    def refresh_refs(self, data: Any) -> Any:
        """A copy of ``data`` whose references carry the referenced records' current FullName."""
        if isinstance(data, list):
            return [self.refresh_refs(item) for item in data]
        if not isinstance(data, dict):
            return data
        out: dict[str, Any] = {}
        for key, value in data.items():
            if key.endswith("Ref") and isinstance(value, dict) and value.get("ListID"):
                kinds = REF_TARGETS.get(key, (*NAME_KINDS, *ITEM_KINDS))
                record = self.get(kinds, value["ListID"])
                if record is not None:
                    value = {"ListID": record.id, "FullName": self.full_name(record)}
            out[key] = self.refresh_refs(value)
        return out

    # persistence

    def to_json(self) -> dict[str, Any]:
        """Everything needed to rebuild this store."""
        return {
            "next_list_number": self.next_list_number,
            "next_txn_number": self.next_txn_number,
            "last_edit_sequence": self.last_edit_sequence,
            "txn_counters": self.txn_counters,
            "records": [
                r.to_json()
                for r in itertools.chain.from_iterable(kind.values() for kind in self.records.values())
            ],
        }

    def load_json(self, raw: dict[str, Any]) -> None:
        """Replace the contents with a :meth:`to_json` snapshot."""
        self.next_list_number = int(raw["next_list_number"])
        self.next_txn_number = int(raw["next_txn_number"])
        self.last_edit_sequence = int(raw["last_edit_sequence"])
        self.txn_counters = {k: int(v) for k, v in raw.get("txn_counters", {}).items()}
        self.records = {}
        for item in raw["records"]:
            record = Record.from_json(item)
            self.records.setdefault(record.kind, {})[record.id] = record
        self._names_version += 1


def _line_target(key: str, target: str) -> str:
    return f"{target} line" if "Line" in key else target
