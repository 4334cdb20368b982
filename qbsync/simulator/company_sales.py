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

from qbsync.simulator.company_currency import currency_defaults
from qbsync.simulator.company_lists import Preferences, ref_to, special_account
from qbsync.simulator.company_money import (
    link,
    plan_set_credits,
    set_credits,
    undo_deposit,
    undo_refund,
    unlink,
    use_credit,
)
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
from qbsync.simulator.ledger import customer_balances as ledger_balances

# Sales forms that post: they move QuantityOnHand (down, or up for a credit memo).
QOH_SIGN = {"Invoice": -1, "SalesReceipt": -1, "CreditMemo": 1}

# Kinds that carry DueDate/ShipDate defaults and printing flags.
_HAS_SHIP_DATE = ("Invoice", "SalesReceipt", "SalesOrder", "CreditMemo")
_PENDING_KINDS = ("Invoice", "SalesReceipt", "CreditMemo")
_POSITIVE_KINDS = ("Invoice", "SalesReceipt", "CreditMemo")  # an Add below zero is refused


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
    if item.kind == "ItemSalesTax":
        return None, decimal_of(data.get("TaxRate"))  # a percentage of the line above it
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
    """Fill Rate, Amount and SalesTaxCodeRef of each line (references already resolved).

    A percentage item (discount, sales tax item) takes its percent of the line just above it; a
    subtotal item's amount is the sum of the lines since the previous subtotal (Intuit ItemSalesTaxAdd
    reference: "One can use subtotals to apply a single tax line to multiple items, but the tax is only
    applied automatically for the first tax line after the subtotal line ... If you don't supply an
    amount the amount comes out as zero"): a sales tax line right under another one comes out zero.
    """
    out = []
    previous = Decimal(0)
    previous_was_tax = False
    since_subtotal = Decimal(0)
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
                is_tax = item is not None and item.kind == "ItemSalesTax"
                amount = Decimal(0) if is_tax and previous_was_tax else previous * percent / 100
            else:
                amount = (qty if qty is not None else Decimal(1)) * (rate or Decimal(0))
            if item is not None and item.kind == "ItemDiscount":
                amount = -abs(amount)  # a discount item always takes money off
        if item is not None and item.kind == "ItemSalesTax" and previous:
            # QuickBooks gives a sales tax line the sign of the line above it, whatever was sent (reported:
            # "Why are my tax items changing with context?", a Stack Overflow question copied at
            # https://www.generacodice.com/en/articolo/12529247/why-are-my-tax-items-changing-with-context).
            amount = abs(amount) if previous > 0 else -abs(amount)
        if item is not None and item.kind == "ItemSubtotal":
            amount, rate, since_subtotal = since_subtotal, None, Decimal(0)
        else:
            since_subtotal += to_cent(amount)
        amount = to_cent(amount)
        line["Amount"] = money(amount)
        if rate is not None:
            line["Rate"] = price(rate)
        if percent is not None:
            line["RatePercent"] = price(percent)
        if qty is not None:
            line["Quantity"] = quantity(qty)
        if not prefs.using_sales_tax and prefs.non_taxable_code:
            # "QuickBooks will assign the default non-taxable sales-tax code to all sales" (Intuit)
            line["SalesTaxCodeRef"] = ref_to(store, prefs.non_taxable_code)
        elif "SalesTaxCodeRef" not in line:
            code = item.data.get("SalesTaxCodeRef") if item is not None else None
            if isinstance(code, dict):
                line["SalesTaxCodeRef"] = dict(code)
            elif prefs.non_taxable_code:
                line["SalesTaxCodeRef"] = ref_to(store, prefs.non_taxable_code)
        previous = amount
        previous_was_tax = item is not None and item.kind == "ItemSalesTax"
        out.append(line)
    return out


def _is_taxable(store: Store, code_ref: Any) -> bool:
    if not isinstance(code_ref, dict):
        return False
    code = store.get(("SalesTaxCode",), code_ref.get("ListID", ""))
    return code is not None and str(code.data.get("IsTaxable", "")).lower() == "true"


def compute_totals(store: Store, prefs: Preferences, kind: str, data: dict[str, Any]) -> Decimal:
    """Set Subtotal, sales tax and the kind's total fields on ``data``; returns the total.

    A US file taxes the taxable lines at the rate of the one sales tax item in the header; Canadian and
    UK files tax each line by its code's sales tax item (GST, HST, VAT), summed per item and rounded once
    per item (assumed). ``data["SalesTaxByItem"]`` keeps tax item ListID -> amount for the ledger.

    ``IsTaxIncluded`` true (Canadian and UK files; the element is in the XSD) means the line amounts
    include the tax: each item's tax is base x rate / (100 + rate), Subtotal is net of it, the total is
    the sum of the lines, and ``data["TaxShareByLine"]`` spreads each item's tax over its lines so the
    books credit income net (assumed).
    """
    lines = [line for line in data.get(f"{line_key(kind)}Ret", []) if not _is_subtotal(store, line)]
    subtotal = sum((decimal_of(line.get("Amount")) for line in lines), Decimal(0))
    by_item: dict[str, Decimal] = {}
    rate = Decimal(0)
    if prefs.using_sales_tax and prefs.country == "US":
        rate = _us_header_tax(store, prefs, data, lines, by_item)
    elif prefs.using_sales_tax:
        inclusive = is_true(data.get("IsTaxIncluded", "false"))
        shares = _line_code_tax(store, lines, inclusive, by_item)
        if inclusive:
            data["TaxShareByLine"] = {k: money(v) for k, v in shares.items() if v}
            subtotal -= sum(by_item.values(), Decimal(0))
    tax = sum(by_item.values(), Decimal(0))
    total = subtotal + tax
    data["Subtotal"] = money(subtotal)
    if prefs.using_sales_tax:
        data["SalesTaxPercentage"] = price(rate)
        data["SalesTaxTotal"] = money(tax)
    data["SalesTaxByItem"] = {k: money(v) for k, v in by_item.items() if v}
    if kind == "Invoice":
        applied = decimal_of(data.get("AppliedAmount"))  # payments so far, negative as QuickBooks shows
        data["AppliedAmount"] = money(applied)
        data["BalanceRemaining"] = money(total + applied)
        data["IsPaid"] = "true" if total + applied <= 0 else "false"
    else:
        data["TotalAmount"] = money(total)
        if kind == "SalesReceipt" and data.get("ExchangeRate") not in (None, ""):
            # "The home currency value is calculated by multiplying the total amount of the transaction by
            # the exchange rate" (QuickBooks help, "What to know about exchange rates").
            data["TotalAmountInHomeCurrency"] = money(to_cent(total * decimal_of(data["ExchangeRate"])))
    if kind == "CreditMemo":
        used = decimal_of(data.get("CreditUsed"))
        data["CreditRemaining"] = money(total - used)
    return total


def _line_code_tax(
    store: Store, lines: list[dict[str, Any]], inclusive: bool, by_item: dict[str, Decimal]
) -> dict[str, Decimal]:
    """Canadian/UK tax: each line's code names its sales tax item; fills ``by_item`` and returns each
    line's share of the tax (TxnLineID -> amount; the last line of an item takes the rounding)."""
    members: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        code = _code_of(store, line.get("SalesTaxCodeRef"))
        item_ref = code.data.get("ItemSalesTaxRef") if code is not None else None
        if code is not None and is_true(code.data.get("IsTaxable")) and isinstance(item_ref, dict):
            members[item_ref["ListID"]].append(line)
    shares: dict[str, Decimal] = {}
    for item_id, group in members.items():
        tax_item = store.get(("ItemSalesTax",), item_id)
        rate = decimal_of(tax_item.data.get("TaxRate")) if tax_item is not None else Decimal(0)
        base = sum((decimal_of(line.get("Amount")) for line in group), Decimal(0))
        by_item[item_id] = to_cent(base * rate / (100 + rate) if inclusive else base * rate / 100)
        left = by_item[item_id]
        for index, line in enumerate(group):
            amount = decimal_of(line.get("Amount"))
            share = (
                left if index == len(group) - 1 else to_cent(by_item[item_id] * amount / base if base else 0)
            )
            shares[str(line.get("TxnLineID", index))] = share
            left -= share
    return shares


def _is_subtotal(store: Store, line: dict[str, Any]) -> bool:
    ref = line.get("ItemRef")
    return isinstance(ref, dict) and store.get(("ItemSubtotal",), ref.get("ListID", "")) is not None


def _code_of(store: Store, code_ref: Any) -> Record | None:
    if not isinstance(code_ref, dict):
        return None
    return store.get(("SalesTaxCode",), code_ref.get("ListID", ""))


def _us_header_tax(
    store: Store, prefs: Preferences, data: dict[str, Any], lines: list[dict[str, Any]], by_item: dict
) -> Decimal:
    """US sales tax: the header's sales tax item rate on the taxable lines; returns the rate."""
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
        if isinstance(fallback, dict):
            data["CustomerSalesTaxCodeRef"] = dict(fallback)
        elif prefs.taxable_code:
            data["CustomerSalesTaxCodeRef"] = ref_to(store, prefs.taxable_code)
    rate = Decimal(0)
    tax_item = None
    if isinstance(data.get("ItemSalesTaxRef"), dict):
        tax_item = store.get(("ItemSalesTax",), data["ItemSalesTaxRef"]["ListID"])
        rate = decimal_of(tax_item.data.get("TaxRate")) if tax_item is not None else Decimal(0)
    taxable = sum(
        (decimal_of(line.get("Amount")) for line in lines if _is_taxable(store, line.get("SalesTaxCodeRef"))),
        Decimal(0),
    )
    if tax_item is not None and _is_taxable(store, data.get("CustomerSalesTaxCodeRef")):
        by_item[tax_item.id] = to_cent(taxable * rate / 100)
    return rate


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
    total = compute_totals(store, prefs, kind, data)
    if kind in _POSITIVE_KINDS and total < 0:
        raise amount_not_positive(kind)  # ontime360.com/support/kb/a231 (invoices); other kinds assumed
    if kind == "CreditMemo" and total == 0 and prefs.refuses_zero_credit_memos:
        raise amount_not_positive(kind)  # the other possibility of an assumed behaviour (SIMULATOR.md)
    if kind in ("Invoice", "SalesReceipt") and total == 0 and prefs.refuses_zero_sales:
        raise amount_not_positive(kind)  # the same for a sale of 0.00 (SIMULATOR.md)
    record = store.create(kind, data)
    apply_inventory(store, record, +1)
    return record


def amount_not_positive(kind: str) -> StatusError:
    """A sale or credit memo whose total QuickBooks refuses: below zero (an integrator's note, said of
    invoices: "Transaction amount must be positive", ontime360.com/support/kb/a231), or a credit memo of
    0.00 where ``refuses_zero_credit_memos`` is on, or a sale of 0.00 where ``refuses_zero_sales`` is.
    Code and wording around the quoted words assumed."""
    return StatusError(
        3180,
        f"There was an error when saving a {kind}.  QuickBooks error message: Transaction amount must be "
        "positive.",
    )


def _fill_header_defaults(
    store: Store, prefs: Preferences, kind: str, data: dict[str, Any], today: str
) -> None:
    currency_defaults(store, prefs, kind, data)
    data.setdefault("TxnDate", today)
    if not data.get("RefNumber") and kind != "ReceivePayment":
        data["RefNumber"] = _next_ref_number(store, kind)
    if kind in ("Invoice", "CreditMemo") and "ARAccountRef" not in data:
        data["ARAccountRef"] = special_account(store, prefs, "ar_account")
    if kind == "SalesReceipt" and "DepositToAccountRef" not in data:
        data["DepositToAccountRef"] = special_account(store, prefs, "undeposited_funds")
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

    Source: Intuit "Modify delete and void requests and responses" (developer.intuit.com/app/developer/
    qbdesktop/docs/develop/exploring-the-quickbooks-desktop-sdk/modify-delete-and-void-requests-and-
    responses): a Mod without line aggregates changes the body only; "if the application touches any of
    the line items ... any line item not specifically identified in a modify request will be deleted".
    Intuit InvoiceMod reference: an existing line is named by its TxnLineID, "TxnLineID value set to -1"
    adds a line. The lines come back in the order the Mod lists them.
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
    """ReceivePaymentAdd: applied to the named invoices (or auto-applied oldest first); ``SetCredit``
    inside an application applies a credit memo of the customer to that invoice as well."""
    data = copy.deepcopy(add)
    applied = as_list(data.pop("AppliedToTxnAdd", None))
    auto = is_true(data.pop("IsAutoApply", "false"))
    store.resolve_refs(data, "ReceivePayment")
    customer_id = data["CustomerRef"]["ListID"]
    plan: list[tuple[Record, Decimal, Decimal]] = []
    credits: dict[str, list[tuple[Record, Decimal]]] = {}
    for application in applied:
        txn_id = str(application.get("TxnID", ""))
        invoice = store.get(("Invoice",), txn_id)
        if invoice is None or invoice.data["CustomerRef"]["ListID"] != customer_id:
            raise object_not_found(txn_id)
        amount = decimal_of(application.get("PaymentAmount"))
        discount = decimal_of(application.get("DiscountAmount"))
        credits[invoice.id] = plan_set_credits(store, customer_id, application)
        credited = sum((c for _, c in credits[invoice.id]), Decimal(0))
        if amount + discount + credited > decimal_of(invoice.data.get("BalanceRemaining")):
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
    currency_defaults(store, prefs, "ReceivePayment", data)
    if "ARAccountRef" not in data:
        data["ARAccountRef"] = special_account(store, prefs, "ar_account")
    if "DepositToAccountRef" not in data:
        data["DepositToAccountRef"] = special_account(store, prefs, "undeposited_funds")
    data["TotalAmount"] = money(total)
    data["UnusedPayment"] = money(total - used)
    data["UnusedCredits"] = "0.00"
    record = store.create("ReceivePayment", data)
    rets = []
    for invoice, amount, discount in plan:
        used_credits = credits.get(invoice.id, [])
        credited = sum((c for _, c in used_credits), Decimal(0))
        _change_invoice_applied(store, invoice, -(amount + discount + credited))
        if amount or discount:
            link(invoice, record, amount + discount)
        ret: dict[str, Any] = {
            "TxnID": invoice.id,
            "TxnType": "Invoice",
            "TxnDate": invoice.data.get("TxnDate"),
            "RefNumber": invoice.data.get("RefNumber"),
            "BalanceRemaining": invoice.data["BalanceRemaining"],
            "Amount": money(amount),
        }
        if discount:
            ret["DiscountAmount"] = money(discount)
        linked = set_credits(store, record, invoice, used_credits)
        if linked:
            ret["LinkedTxn"] = linked
            ret["BalanceRemaining"] = invoice.data["BalanceRemaining"]
        rets.append(ret)
    record.data["AppliedToTxnRet"] = rets
    return record


def _change_invoice_applied(store: Store, invoice: Record, delta: Decimal) -> None:
    """Add ``delta`` (negative for a payment) to an invoice's AppliedAmount, and refresh its balance."""
    applied = decimal_of(invoice.data.get("AppliedAmount")) + delta
    invoice.data["AppliedAmount"] = money(applied)
    balance = txn_total(invoice) + applied
    invoice.data["BalanceRemaining"] = money(balance)
    invoice.data["IsPaid"] = "true" if balance <= 0 else "false"
    store.touch(invoice)


def _unapply_payments_to(store: Store, invoice: Record) -> None:
    """Take every payment and credit off ``invoice`` (payments become unused payment, credit memos get
    their credit back), before it is voided or deleted."""
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
        for entry in [e for e in as_list(payment.data.get("CreditsSet")) if e["InvoiceTxnID"] == invoice.id]:
            memo = store.get(("CreditMemo",), entry["CreditTxnID"])
            if memo is not None:
                use_credit(store, memo, -decimal_of(entry["Amount"]))
                unlink(memo, invoice.id)
            payment.data["CreditsSet"].remove(entry)
    invoice.data["AppliedAmount"] = "0.00"
    invoice.data["LinkedTxn"] = []


def _unapply_payment(store: Store, payment: Record) -> None:
    credited: dict[str, Decimal] = defaultdict(Decimal)
    for entry in as_list(payment.data.get("CreditsSet")):
        credited[entry["InvoiceTxnID"]] += decimal_of(entry["Amount"])
    for entry in as_list(payment.data.get("CreditsSet")):
        memo = store.get(("CreditMemo",), entry["CreditTxnID"])
        if memo is not None:
            use_credit(store, memo, -decimal_of(entry["Amount"]))
            unlink(memo, entry["InvoiceTxnID"])
    payment.data["CreditsSet"] = []
    for ret in as_list(payment.data.get("AppliedToTxnRet")):
        invoice = store.get(("Invoice",), ret["TxnID"])
        if invoice is not None:
            delta = decimal_of(ret["Amount"]) + decimal_of(ret.get("DiscountAmount")) + credited[invoice.id]
            _change_invoice_applied(store, invoice, delta)
            unlink(invoice, payment.id)


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


def _release_links(store: Store, prefs: Preferences, record: Record) -> None:
    """Take back what ``record`` did to other transactions before it is voided or deleted.

    An invoice loses its payments and credits; a payment gives back the invoices and credits it paid;
    a credit memo is taken off the invoices it was set on (a refund made from it stays, so the
    customer's balance shows the refund without its credit, as QuickBooks' links go; assumed); a card
    refund or refund check gives its credit back; a deposit puts its payments back in Undeposited Funds.
    """
    kind = record.kind
    if kind == "Invoice":
        _unapply_payments_to(store, record)
    elif kind == "ReceivePayment":
        _unapply_payment(store, record)
    elif kind == "CreditMemo":
        for payment in store.all(("ReceivePayment",)):
            sets = as_list(payment.data.get("CreditsSet"))
            for entry in [e for e in sets if e["CreditTxnID"] == record.id]:
                invoice = store.get(("Invoice",), entry["InvoiceTxnID"])
                if invoice is not None:
                    _change_invoice_applied(store, invoice, decimal_of(entry["Amount"]))
                    unlink(invoice, record.id)
                payment.data["CreditsSet"].remove(entry)
        record.data["LinkedTxn"] = []
        record.data["CreditUsed"] = "0.00"
    elif kind in ("ARRefundCreditCard", "Check"):
        undo_refund(store, record)
    elif kind == "Deposit":
        undo_deposit(store, record)


def void_txn(store: Store, prefs: Preferences, kind: str, txn_id: str) -> Record:
    """TxnVoid: the transaction stays, with zero quantities and amounts and "VOID:" in its memo."""
    record = store.get((kind,), txn_id)
    if record is None:
        raise object_not_found(txn_id)
    apply_inventory(store, record, -1)
    _release_links(store, prefs, record)
    for key in [k for k in record.data if k.endswith("LineRet")]:
        for line in as_list(record.data.get(key)):
            for field in ("Quantity", "QuantityDifference"):
                if field in line:
                    line[field] = "0"
            for field in ("Amount", "ValueDifference", "RefundAmount"):
                if field in line:
                    line[field] = "0.00"
    for field in ("TotalAmount", "Amount", "DepositTotal", "UnusedPayment"):
        if kind not in SALES_KINDS and field in record.data:
            record.data[field] = "0.00"
    memo = str(record.data.get("Memo", ""))
    record.data["Memo"] = memo if memo.startswith("VOID:") else f"VOID: {memo}".rstrip()
    if kind in SALES_KINDS:
        compute_totals(store, prefs, kind, record.data)
    store.touch(record)
    return record


def delete_txn(store: Store, prefs: Preferences, kind: str, txn_id: str) -> tuple[Record, str]:
    """TxnDel: the transaction is gone and its effects taken back. Returns it and the deletion time."""
    record = store.get((kind,), txn_id)
    if record is None:
        raise object_not_found(txn_id)
    apply_inventory(store, record, -1)
    _release_links(store, prefs, record)
    return record, store.delete(record)


def customer_balances(store: Store) -> dict[str, Decimal]:
    """customer ListID -> what they owe: the A/R posted for them (invoices and refunds less credit
    memos and payments; see qbsync.simulator.ledger)."""
    return ledger_balances(store)


def txn_ret(
    store: Store, record: Record, include_lines: bool = True, include_linked: bool = True
) -> dict[str, Any]:
    """The Ret data of a transaction as QuickBooks reports it now (a query leaves LinkedTxn out unless
    it asks IncludeLinkedTxns, as Intuit's InvoiceQuery reference describes)."""
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
    if not include_linked:
        out.pop("LinkedTxn", None)
    return out
