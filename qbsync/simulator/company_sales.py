"""Transactions: sales forms, payments, inventory adjustments, void and delete.

Amounts are Decimal and rounded to the cent the way QuickBooks shows them: each line's Amount is
Quantity x Rate rounded half up, sales tax is the taxable subtotal x the sales tax item's rate rounded
once, and the total is their sum.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from decimal import Decimal
from typing import Any

from qbsync.simulator.company_lists import Preferences, ref_to
from qbsync.simulator.company_store import (
    ITEM_KINDS,
    SALES_KINDS,
    Record,
    StatusError,
    Store,
    as_list,
    decimal_of,
    invalid_reference,
    is_true,
    money,
    object_not_found,
    price,
    quantity,
    stale_edit_sequence,
    to_cent,
)

# Sales forms that post: they move QuantityOnHand (down, or up for a credit memo).
QOH_SIGN = {"Invoice": -1, "SalesReceipt": -1, "CreditMemo": 1}

# Kinds that carry DueDate/ShipDate defaults and printing flags.
_HAS_SHIP_DATE = ("Invoice", "SalesReceipt", "SalesOrder", "CreditMemo")
_PENDING_KINDS = ("Invoice", "SalesReceipt", "CreditMemo")


def line_key(kind: str) -> str:
    """The stem of a sales form's line aggregates (``InvoiceLine``)."""
    return f"{kind}Line"


def unsupported(what: str) -> StatusError:
    """1030: a request (or part of one) the simulated QuickBooks does not implement."""
    return StatusError(
        1030, f"This request is not supported by this implementation. ({what} is not simulated)"
    )


# -- lines and totals ----------------------------------------------------------------------------------


def _item_price(item: Record) -> tuple[Decimal | None, Decimal | None]:
    """(default rate, default percent) of an item, as QuickBooks fills a line naming only the item."""
    data = item.data
    if item.kind == "ItemInventory":
        return decimal_of(data.get("SalesPrice")), None
    if item.kind == "ItemDiscount":
        if data.get("DiscountRatePercent"):
            return None, decimal_of(data["DiscountRatePercent"])
        return decimal_of(data.get("DiscountRate")), None
    for holder, field in (("SalesOrPurchase", "Price"), ("SalesAndPurchase", "SalesPrice")):
        block = data.get(holder)
        if isinstance(block, dict):
            if block.get("PricePercent"):
                return None, decimal_of(block["PricePercent"])
            return decimal_of(block.get(field)), None
    return Decimal(0), None


def price_lines(store: Store, prefs: Preferences, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fill Rate, Amount and SalesTaxCodeRef of each line (references already resolved)."""
    out = []
    previous = Decimal(0)
    for raw in lines:
        line = dict(raw)
        item = (
            store.get(ITEM_KINDS, line["ItemRef"]["ListID"])
            if isinstance(line.get("ItemRef"), dict)
            else None
        )
        qty = decimal_of(line["Quantity"]) if line.get("Quantity") not in (None, "") else None
        rate: Decimal | None = None
        percent: Decimal | None = None
        if line.get("Amount") not in (None, ""):
            amount = decimal_of(line["Amount"])
            if line.get("Rate") not in (None, ""):
                rate = decimal_of(line["Rate"])
            elif line.get("RatePercent") in (None, "") and item is not None:
                rate = amount / qty if qty else amount
        else:
            if line.get("Rate") not in (None, ""):
                rate = decimal_of(line["Rate"])
            elif line.get("RatePercent") not in (None, ""):
                percent = decimal_of(line["RatePercent"])
            elif item is not None and item.kind == "ItemSalesTax":
                # A sales tax line without an amount taxes the line above at the item's rate (Intuit,
                # ItemSalesTaxAdd: "the tax is only applied automatically for the first tax line after
                # the subtotal line"; the subtotal's amount is the line above).
                percent = decimal_of(item.data.get("TaxRate"))
            elif item is not None:
                rate, percent = _item_price(item)
            if percent is not None:
                amount = previous * percent / 100
            else:
                amount = (qty if qty is not None else Decimal(1)) * (rate or Decimal(0))
            if item is not None and item.kind == "ItemDiscount":
                amount = -abs(amount)  # a discount item always takes money off
        if item is not None and item.kind == "ItemSalesTax" and previous:
            # QuickBooks gives a sales tax line the sign of the line above it, whatever was sent (reported:
            # "Why are my tax items changing with context?", a Stack Overflow question copied at
            # https://www.generacodice.com/en/articolo/12529247/why-are-my-tax-items-changing-with-context).
            amount = abs(amount) if previous > 0 else -abs(amount)
        amount = to_cent(amount)
        line["Amount"] = money(amount)
        if rate is not None:
            line["Rate"] = price(rate)
        if percent is not None:
            line["RatePercent"] = price(percent)
        if qty is not None:
            line["Quantity"] = quantity(qty)
        if "SalesTaxCodeRef" not in line:
            code = item.data.get("SalesTaxCodeRef") if item is not None else None
            line["SalesTaxCodeRef"] = (
                dict(code) if isinstance(code, dict) else ref_to(store, prefs.non_taxable_code)
            )
        previous = amount
        out.append(line)
    return out


def _is_taxable(store: Store, code_ref: Any) -> bool:
    if not isinstance(code_ref, dict):
        return False
    code = store.get(("SalesTaxCode",), code_ref.get("ListID", ""))
    return code is not None and str(code.data.get("IsTaxable", "")).lower() == "true"


def compute_totals(store: Store, prefs: Preferences, kind: str, data: dict[str, Any]) -> Decimal:
    """Set Subtotal, sales tax and the kind's total fields on ``data``; returns the total."""
    lines = data.get(f"{line_key(kind)}Ret", [])
    customer = None
    if isinstance(data.get("CustomerRef"), dict):
        customer = store.get(("Customer",), data["CustomerRef"]["ListID"])
    if "ItemSalesTaxRef" not in data:
        fallback = customer.data.get("ItemSalesTaxRef") if customer is not None else None
        if isinstance(fallback, dict):
            data["ItemSalesTaxRef"] = dict(fallback)
        elif prefs.default_item_sales_tax:
            data["ItemSalesTaxRef"] = ref_to(store, prefs.default_item_sales_tax)
    if "CustomerSalesTaxCodeRef" not in data:
        fallback = customer.data.get("SalesTaxCodeRef") if customer is not None else None
        data["CustomerSalesTaxCodeRef"] = (
            dict(fallback) if isinstance(fallback, dict) else ref_to(store, prefs.taxable_code)
        )
    rate = Decimal(0)
    if isinstance(data.get("ItemSalesTaxRef"), dict):
        tax_item = store.get(("ItemSalesTax",), data["ItemSalesTaxRef"]["ListID"])
        rate = decimal_of(tax_item.data.get("TaxRate")) if tax_item is not None else Decimal(0)
    subtotal = sum((decimal_of(line.get("Amount")) for line in lines), Decimal(0))
    taxable = sum(
        (decimal_of(line.get("Amount")) for line in lines if _is_taxable(store, line.get("SalesTaxCodeRef"))),
        Decimal(0),
    )
    tax = to_cent(taxable * rate / 100) if _is_taxable(store, data["CustomerSalesTaxCodeRef"]) else Decimal(0)
    total = subtotal + tax
    data["Subtotal"] = money(subtotal)
    data["SalesTaxPercentage"] = price(rate)
    data["SalesTaxTotal"] = money(tax)
    if kind == "Invoice":
        applied = decimal_of(data.get("AppliedAmount"))  # payments so far, negative as QuickBooks shows
        data["AppliedAmount"] = money(applied)
        data["BalanceRemaining"] = money(total + applied)
        data["IsPaid"] = "true" if total + applied <= 0 else "false"
    else:
        data["TotalAmount"] = money(total)
    if kind == "CreditMemo":
        data["CreditRemaining"] = money(total)
    return total


def sales_tax_by_agency(store: Store) -> dict[str, Decimal]:
    """Sales tax owed per tax agency (vendor name), as the Sales Tax Liability report adds it up: the
    transaction's own tax (its ItemSalesTaxRef's agency) and every line on a sales tax item (that item's
    agency); credit memos count against it. Voided transactions hold zero amounts.

    Source: Intuit, ItemSalesTaxAdd ("a single sales tax that is collected at a specified rate and paid to
    a single agency"; sales tax items may be transaction lines).
    """
    owed: dict[str, Decimal] = defaultdict(Decimal)

    def agency(item_ref: Any) -> str | None:
        if not isinstance(item_ref, dict):
            return None
        item = store.get(("ItemSalesTax",), item_ref.get("ListID", ""))
        vendor_ref = item.data.get("TaxVendorRef") if item is not None else None
        vendor = store.get(("Vendor",), vendor_ref["ListID"]) if isinstance(vendor_ref, dict) else None
        return str(vendor.data.get("Name")) if vendor is not None else None

    for record in store.all(("Invoice", "SalesReceipt", "CreditMemo")):
        sign = -1 if record.kind == "CreditMemo" else 1
        header = agency(record.data.get("ItemSalesTaxRef"))
        if header is not None:
            owed[header] += sign * decimal_of(record.data.get("SalesTaxTotal"))
        for line in as_list(record.data.get(f"{line_key(record.kind)}Ret")):
            name = agency(line.get("ItemRef"))
            if name is not None:
                owed[name] += sign * decimal_of(line.get("Amount"))
    return {name: amount for name, amount in owed.items() if amount}


def txn_total(record: Record) -> Decimal:
    """What a transaction is worth: TotalAmount, or Subtotal + tax for an invoice."""
    if record.kind == "Invoice":
        return decimal_of(record.data.get("Subtotal")) + decimal_of(record.data.get("SalesTaxTotal"))
    return decimal_of(record.data.get("TotalAmount"))


# -- inventory -----------------------------------------------------------------------------------------


def inventory_effects(store: Store, record: Record) -> dict[str, tuple[Decimal, Decimal]]:
    """item ListID -> (change of QuantityOnHand, change of QuantityOnSalesOrder) caused by ``record``."""
    effects: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    if record.kind == "InventoryAdjustment":
        for line in as_list(record.data.get("InventoryAdjustmentLineRet")):
            effects[line["ItemRef"]["ListID"]][0] += decimal_of(line.get("QuantityDifference"))
    elif record.kind in QOH_SIGN or record.kind == "SalesOrder":
        if is_true(record.data.get("IsPending", "false")):
            return {}  # a pending sale does not post
        for line in as_list(record.data.get(f"{line_key(record.kind)}Ret")):
            ref = line.get("ItemRef")
            if not isinstance(ref, dict) or store.get(("ItemInventory",), ref["ListID"]) is None:
                continue
            qty = decimal_of(line.get("Quantity"))
            if record.kind == "SalesOrder":
                if not is_true(line.get("IsManuallyClosed", "false")):
                    effects[ref["ListID"]][1] += qty - decimal_of(line.get("Invoiced"))
            else:
                effects[ref["ListID"]][0] += QOH_SIGN[record.kind] * qty
    return {k: (v[0], v[1]) for k, v in effects.items()}


def apply_inventory(store: Store, record: Record, sign: int) -> None:
    """Move the items' quantities by ``record``'s effects (sign -1 takes them back).

    QuickBooks does not change an item's TimeModified or EditSequence when a transaction moves its
    quantity, so neither does this.
    """
    for item_id, (on_hand, on_order) in inventory_effects(store, record).items():
        item = store.get(("ItemInventory",), item_id)
        if item is None:
            continue
        item.data["QuantityOnHand"] = quantity(decimal_of(item.data.get("QuantityOnHand")) + sign * on_hand)
        item.data["QuantityOnSalesOrder"] = quantity(
            decimal_of(item.data.get("QuantityOnSalesOrder")) + sign * on_order
        )


# -- sales forms ---------------------------------------------------------------------------------------


def _resolve_lines(store: Store, kind: str, lines: list[Any]) -> list[dict[str, Any]]:
    resolved = []
    for raw in lines:
        line = copy.deepcopy(raw) if isinstance(raw, dict) else {}
        store.resolve_refs(line, f"{kind} line")
        resolved.append(line)
    return resolved


def _next_ref_number(store: Store, kind: str) -> str:
    numbers = [
        int(r.data["RefNumber"]) for r in store.all((kind,)) if str(r.data.get("RefNumber", "")).isdigit()
    ]
    return str(max(numbers, default=0) + 1)


def add_sales_form(store: Store, prefs: Preferences, kind: str, add: dict[str, Any], today: str) -> Record:
    """Create an Invoice, SalesReceipt, SalesOrder, Estimate or CreditMemo from its Add aggregate."""
    data = copy.deepcopy(add)
    stem = line_key(kind)
    raw_lines = as_list(data.pop(f"{stem}Add", None))
    for extra in (f"{stem}GroupAdd", "DiscountLineAdd", "SalesTaxLineAdd", "ShippingLineAdd"):
        if data.get(extra) not in (None, ""):
            raise unsupported(extra)
        data.pop(extra, None)
    link_ids = [str(x) for x in as_list(data.pop("LinkToTxnID", None))]
    data.pop("SetCredit", None)
    store.resolve_refs(data, kind)
    lines = _resolve_lines(store, kind, raw_lines)
    for txn_id in link_ids:
        if store.get(("SalesOrder", "Estimate"), txn_id) is None:
            raise object_not_found(txn_id)
    _fill_header_defaults(store, prefs, kind, data, today)
    priced = price_lines(store, prefs, lines)
    for line in priced:
        line["TxnLineID"] = store.new_txn_id()
        if kind == "SalesOrder":
            line.setdefault("Invoiced", "0")
            line.setdefault("IsManuallyClosed", "false")
    data[f"{stem}Ret"] = priced
    compute_totals(store, prefs, kind, data)
    record = store.create(kind, data)
    apply_inventory(store, record, +1)
    return record


def _fill_header_defaults(
    store: Store, prefs: Preferences, kind: str, data: dict[str, Any], today: str
) -> None:
    data.setdefault("TxnDate", today)
    if not data.get("RefNumber") and kind != "ReceivePayment":
        data["RefNumber"] = _next_ref_number(store, kind)
    if kind in ("Invoice", "CreditMemo") and "ARAccountRef" not in data:
        data["ARAccountRef"] = ref_to(store, prefs.ar_account)
    if kind == "SalesReceipt" and "DepositToAccountRef" not in data:
        data["DepositToAccountRef"] = ref_to(store, prefs.undeposited_funds)
    if kind in _HAS_SHIP_DATE:
        data.setdefault("DueDate", data["TxnDate"])
        data.setdefault("ShipDate", data["TxnDate"])
    if kind in _PENDING_KINDS:
        data.setdefault("IsPending", "false")
    if kind == "Invoice":
        data.setdefault("IsFinanceCharge", "false")
    if kind == "SalesOrder":
        data.setdefault("IsManuallyClosed", "false")
        data.setdefault("IsFullyInvoiced", "false")
    if kind == "Estimate":
        data.setdefault("IsActive", "true")
    if kind != "Estimate":
        data.setdefault("IsToBePrinted", "false")
    data.setdefault("IsToBeEmailed", "false")


def get_for_mod(store: Store, kind: str, mod: dict[str, Any]) -> Record:
    """The transaction a Mod names, after the 3120 and 3200 checks."""
    record = store.get((kind,), str(mod.get("TxnID", "")))
    if record is None:
        raise object_not_found(str(mod.get("TxnID", "")))
    if str(mod.get("EditSequence", "")) != record.edit_sequence:
        raise stale_edit_sequence(str(mod.get("EditSequence", "")))
    return record


def mod_sales_form(store: Store, prefs: Preferences, kind: str, mod: dict[str, Any]) -> Record:
    """Apply InvoiceMod/SalesReceiptMod/...: header fields sent replace, LineMods rebuild the lines.

    As in QuickBooks, when any ``XxxLineMod`` is sent the lines not mentioned are deleted; TxnLineID -1
    adds a line.
    """
    record = get_for_mod(store, kind, mod)
    stem = line_key(kind)
    changes = copy.deepcopy(mod)
    for key in ("TxnID", "EditSequence"):
        changes.pop(key, None)
    line_mods = as_list(changes.pop(f"{stem}Mod", None))
    if changes.pop(f"{stem}GroupMod", None) not in (None, ""):
        raise unsupported(f"{stem}GroupMod")
    store.resolve_refs(changes, kind)
    data = copy.deepcopy(record.data)
    data.update(changes)
    if "ItemSalesTaxRef" not in changes and "CustomerRef" in changes:
        data.pop("ItemSalesTaxRef", None)
        data.pop("CustomerSalesTaxCodeRef", None)
    if line_mods:
        existing = {line["TxnLineID"]: line for line in as_list(record.data.get(f"{stem}Ret"))}
        lines = []
        for line_mod in _resolve_lines(store, kind, line_mods):
            line_id = str(line_mod.pop("TxnLineID", "-1"))
            if line_id == "-1":
                line_mod["TxnLineID"] = ""
                lines.append(line_mod)
                continue
            if line_id not in existing:
                raise object_not_found(line_id)
            line = copy.deepcopy(existing[line_id])
            if "Amount" not in line_mod and ({"Quantity", "Rate", "RatePercent", "ItemRef"} & set(line_mod)):
                line.pop("Amount", None)  # QuickBooks recomputes the amount from what changed
            if "ItemRef" in line_mod and "Rate" not in line_mod:
                line.pop("Rate", None)
            line.update(line_mod)
            lines.append(line)
        priced = price_lines(store, prefs, lines)
        for line in priced:
            if not line.get("TxnLineID"):
                line["TxnLineID"] = store.new_txn_id()
        data[f"{stem}Ret"] = priced
    compute_totals(store, prefs, kind, data)
    if kind == "Invoice" and decimal_of(data["BalanceRemaining"]) < 0:
        raise StatusError(
            3180,
            f"There was an error when modifying a {kind}.  QuickBooks error message: "
            "The new total is less than the payments already applied to it.",
        )
    apply_inventory(store, record, -1)
    record.data = data
    apply_inventory(store, record, +1)
    store.touch(record)
    return record


# -- payments ------------------------------------------------------------------------------------------


def add_payment(store: Store, prefs: Preferences, add: dict[str, Any], today: str) -> Record:
    """ReceivePaymentAdd: applied to the named invoices (or auto-applied oldest first)."""
    data = copy.deepcopy(add)
    applied = as_list(data.pop("AppliedToTxnAdd", None))
    auto = is_true(data.pop("IsAutoApply", "false"))
    store.resolve_refs(data, "ReceivePayment")
    customer_id = data["CustomerRef"]["ListID"]
    plan: list[tuple[Record, Decimal, Decimal]] = []
    for application in applied:
        txn_id = str(application.get("TxnID", ""))
        invoice = store.get(("Invoice",), txn_id)
        if invoice is None or invoice.data["CustomerRef"]["ListID"] != customer_id:
            raise object_not_found(txn_id)
        amount = decimal_of(application.get("PaymentAmount"))
        discount = decimal_of(application.get("DiscountAmount"))
        if amount + discount > decimal_of(invoice.data.get("BalanceRemaining")):
            raise StatusError(
                3210,
                f'The "AppliedToTxnAdd payment amount" field has an invalid value "{money(amount)}".  '
                "QuickBooks error message: You cannot pay more than the amount due.",
                severity="Info",  # sic: real QuickBooks reports this one as Info
            )
        plan.append((invoice, amount, discount))
    total = (
        decimal_of(data["TotalAmount"])
        if data.get("TotalAmount") not in (None, "")
        else sum((a for _, a, _ in plan), Decimal(0))
    )
    if auto and not plan:
        left = total
        open_invoices = sorted(
            (
                r
                for r in store.all(("Invoice",))
                if r.data["CustomerRef"]["ListID"] == customer_id
                and decimal_of(r.data.get("BalanceRemaining")) > 0
            ),
            key=lambda r: (r.data.get("TxnDate", ""), r.number),
        )
        for invoice in open_invoices:
            if left <= 0:
                break
            amount = min(left, decimal_of(invoice.data["BalanceRemaining"]))
            plan.append((invoice, amount, Decimal(0)))
            left -= amount
    used = sum((a for _, a, _ in plan), Decimal(0))
    if used > total:
        raise StatusError(
            3210,
            f'The "TotalAmount" field has an invalid value "{money(total)}".  QuickBooks error message: '
            "The amounts applied are more than the payment amount.",
            severity="Info",
        )
    data.setdefault("TxnDate", today)
    if "ARAccountRef" not in data:
        data["ARAccountRef"] = ref_to(store, prefs.ar_account)
    if "DepositToAccountRef" not in data:
        data["DepositToAccountRef"] = ref_to(store, prefs.undeposited_funds)
    data["TotalAmount"] = money(total)
    data["UnusedPayment"] = money(total - used)
    data["UnusedCredits"] = "0.00"
    rets = []
    for invoice, amount, discount in plan:
        _change_invoice_applied(store, invoice, -(amount + discount))
        ret = {
            "TxnID": invoice.id,
            "TxnType": "Invoice",
            "TxnDate": invoice.data.get("TxnDate"),
            "RefNumber": invoice.data.get("RefNumber"),
            "BalanceRemaining": invoice.data["BalanceRemaining"],
            "Amount": money(amount),
        }
        if discount:
            ret["DiscountAmount"] = money(discount)
        rets.append(ret)
    data["AppliedToTxnRet"] = rets
    return store.create("ReceivePayment", data)


def _change_invoice_applied(store: Store, invoice: Record, delta: Decimal) -> None:
    """Add ``delta`` (negative for a payment) to an invoice's AppliedAmount, and refresh its balance."""
    applied = decimal_of(invoice.data.get("AppliedAmount")) + delta
    invoice.data["AppliedAmount"] = money(applied)
    balance = txn_total(invoice) + applied
    invoice.data["BalanceRemaining"] = money(balance)
    invoice.data["IsPaid"] = "true" if balance <= 0 else "false"
    store.touch(invoice)


def _unapply_payments_to(store: Store, invoice: Record) -> None:
    """Take every payment off ``invoice`` (they become unused payment), before it is voided or deleted."""
    for payment in store.all(("ReceivePayment",)):
        kept = []
        for ret in as_list(payment.data.get("AppliedToTxnRet")):
            if ret["TxnID"] == invoice.id:
                unused = decimal_of(payment.data.get("UnusedPayment")) + decimal_of(ret["Amount"])
                payment.data["UnusedPayment"] = money(unused)
                store.touch(payment)
            else:
                kept.append(ret)
        payment.data["AppliedToTxnRet"] = kept
    invoice.data["AppliedAmount"] = "0.00"


def _unapply_payment(store: Store, payment: Record) -> None:
    for ret in as_list(payment.data.get("AppliedToTxnRet")):
        invoice = store.get(("Invoice",), ret["TxnID"])
        if invoice is not None:
            delta = decimal_of(ret["Amount"]) + decimal_of(ret.get("DiscountAmount"))
            _change_invoice_applied(store, invoice, delta)


# -- inventory adjustment ------------------------------------------------------------------------------


def add_inventory_adjustment(store: Store, add: dict[str, Any], today: str) -> Record:
    """InventoryAdjustmentAdd with QuantityDifference or NewQuantity lines."""
    data = copy.deepcopy(add)
    raw_lines = as_list(data.pop("InventoryAdjustmentLineAdd", None))
    store.resolve_refs(data, "InventoryAdjustment")
    lines = _resolve_lines(store, "InventoryAdjustment", raw_lines)
    pending: dict[str, Decimal] = {}
    rets = []
    for line in lines:
        item = store.get(("ItemInventory",), line["ItemRef"]["ListID"])
        if item is None:
            raise invalid_reference("Item", line["ItemRef"]["FullName"], "InventoryAdjustment line")
        on_hand = pending.get(item.id, decimal_of(item.data.get("QuantityOnHand")))
        adjustment = line.get("QuantityAdjustment")
        diff = Decimal(0)
        if isinstance(adjustment, dict):
            if adjustment.get("NewQuantity") not in (None, ""):
                diff = decimal_of(adjustment["NewQuantity"]) - on_hand
            else:
                diff = decimal_of(adjustment.get("QuantityDifference"))
        elif line.get("ValueAdjustment") in (None, ""):
            raise unsupported("InventoryAdjustment serial/lot number lines")
        pending[item.id] = on_hand + diff
        value = diff * decimal_of(item.data.get("AverageCost"))
        rets.append(
            {
                "TxnLineID": store.new_txn_id(),
                "ItemRef": line["ItemRef"],
                "QuantityDifference": quantity(diff),
                "ValueDifference": money(value),
            }
        )
    data.setdefault("TxnDate", today)
    data["InventoryAdjustmentLineRet"] = rets
    record = store.create("InventoryAdjustment", data)
    apply_inventory(store, record, +1)
    return record


# -- void and delete -----------------------------------------------------------------------------------


def void_txn(store: Store, prefs: Preferences, kind: str, txn_id: str) -> Record:
    """TxnVoid: the transaction stays, with zero quantities and amounts and "VOID:" in its memo."""
    record = store.get((kind,), txn_id)
    if record is None:
        raise object_not_found(txn_id)
    apply_inventory(store, record, -1)
    if kind == "Invoice":
        _unapply_payments_to(store, record)
    stem = f"{line_key(kind)}Ret" if kind in SALES_KINDS else "InventoryAdjustmentLineRet"
    for line in as_list(record.data.get(stem)):
        for field in ("Quantity", "QuantityDifference"):
            if field in line:
                line[field] = "0"
        for field in ("Amount", "ValueDifference"):
            if field in line:
                line[field] = "0.00"
    memo = str(record.data.get("Memo", ""))
    record.data["Memo"] = memo if memo.startswith("VOID:") else f"VOID: {memo}".rstrip()
    if kind in SALES_KINDS:
        compute_totals(store, prefs, kind, record.data)
    store.touch(record)
    return record


def delete_txn(store: Store, kind: str, txn_id: str) -> tuple[Record, str]:
    """TxnDel: the transaction is gone and its effects taken back. Returns it and the deletion time."""
    record = store.get((kind,), txn_id)
    if record is None:
        raise object_not_found(txn_id)
    apply_inventory(store, record, -1)
    if kind == "Invoice":
        _unapply_payments_to(store, record)
    if kind == "ReceivePayment":
        _unapply_payment(store, record)
    return record, store.delete(record)


def customer_balances(store: Store) -> dict[str, Decimal]:
    """customer ListID -> what they owe: open invoices less unused credits and payments."""
    balances: dict[str, Decimal] = defaultdict(Decimal)
    for record in store.all(("Invoice", "CreditMemo", "ReceivePayment")):
        ref = record.data.get("CustomerRef")
        if not isinstance(ref, dict):
            continue
        if record.kind == "Invoice":
            balances[ref["ListID"]] += decimal_of(record.data.get("BalanceRemaining"))
        elif record.kind == "CreditMemo":
            balances[ref["ListID"]] -= decimal_of(record.data.get("CreditRemaining"))
        else:
            balances[ref["ListID"]] -= decimal_of(record.data.get("UnusedPayment"))
    return balances


def txn_ret(store: Store, record: Record, include_lines: bool = True) -> dict[str, Any]:
    """The Ret data of a transaction as QuickBooks reports it now."""
    data = store.refresh_refs(record.data)
    out: dict[str, Any] = {
        "TxnID": record.id,
        "TimeCreated": record.time_created,
        "TimeModified": record.time_modified,
        "EditSequence": record.edit_sequence,
        "TxnNumber": str(record.number),
    }
    out.update(data)
    if not include_lines:
        for key in [k for k in out if k.endswith("LineRet") or k.endswith("LineGroupRet")]:
            del out[key]
    return out
