"""The books of a simulated company: account balances, sales tax owed per agency, what each customer
owes and has in credit, and stock, computed from its transactions the way QuickBooks' reports read them.

- Account balances follow double entry (Intuit "QuickBooks Desktop SDK: InvoiceAdd" describes the A/R,
  income and COGS postings of an invoice; the rest is standard accounting): an invoice debits A/R and
  credits each line's income account and Sales Tax Payable; a sales receipt debits its deposit account
  (Undeposited Funds by default); a payment moves money from A/R to its deposit account; a card refund
  or refund check pays money out of its account and debits A/R; a deposit moves payments from
  Undeposited Funds to the bank. Inventory value (COGS, asset) is not posted (quantities only).
- Sales tax per agency is what QuickBooks' Sales Tax Liability report shows: tax computed by sales tax
  items (the header item of a US form, each line code's item in Canada and the UK, and lines that name an
  ItemSalesTax), per the item's tax agency (TaxVendorRef). Tax typed on an other-charge line is income
  of that item's account and is in no agency's liability (QuickBooks help 'Keeping track of how much tax
  you owe': the liability report, Sales Tax Payable register and Pay Sales Tax window read sales tax
  items).
- A customer's open balance is the A/R posted for them; open credits are credit memos not yet applied
  or refunded (CreditRemaining) plus payments not applied (UnusedPayment).
- Multicurrency: amounts of a foreign-currency transaction are turned into the home currency at the
  transaction's ExchangeRate for home-currency accounts and for the tax liability (assumed rounding: to
  the cent per posting). ``home_accounts`` values every account, foreign ones too, in the home currency:
  each posting at its own transaction's rate. A foreign A/R account whose foreign balance is back to zero
  but whose home value is not shows transactions booked at different rates (QuickBooks books that
  difference as exchange gain or loss; not posted here: assumed).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from qbsync.simulator.company_lists import Preferences
from qbsync.simulator.company_store import (
    ITEM_KINDS,
    SALES_KINDS,
    TXN_KINDS,
    Record,
    Store,
    as_list,
    decimal_of,
    is_true,
    to_cent,
)

DEBIT_NATURAL = (
    "Bank",
    "AccountsReceivable",
    "OtherCurrentAsset",
    "FixedAsset",
    "OtherAsset",
    "Expense",
    "OtherExpense",
    "CostOfGoodsSold",
)
SALES_SIGN = {"Invoice": 1, "SalesReceipt": 1, "CreditMemo": -1}
TAX_PAYABLE = "Sales Tax Payable"  # the name QuickBooks gives the account when none is marked yet


@dataclass
class Posting:
    """One debit (positive) or credit (negative) to an account, in the transaction's currency."""

    account_id: str
    amount: Decimal
    customer_id: str = ""


@dataclass
class Books:
    """What QuickBooks' reports would show for the whole company (names are FullNames)."""

    accounts: dict[str, Decimal] = field(default_factory=dict)
    tax_by_agency: dict[str, Decimal] = field(default_factory=dict)
    customer_balance: dict[str, Decimal] = field(default_factory=dict)
    customer_credits: dict[str, Decimal] = field(default_factory=dict)
    quantity_on_hand: dict[str, Decimal] = field(default_factory=dict)
    inventory_value: dict[str, Decimal] = field(default_factory=dict)  # on hand x average cost
    home_accounts: dict[str, Decimal] = field(default_factory=dict)  # every account in home currency


def item_account(item: Record) -> str | None:
    """ListID of the account an item's sales post to (None for subtotals and payments)."""
    data = item.data
    if item.kind == "ItemInventory":
        ref = data.get("IncomeAccountRef")
    elif item.kind == "ItemDiscount":
        ref = data.get("AccountRef")
    elif isinstance(data.get("SalesOrPurchase"), dict):
        ref = data["SalesOrPurchase"].get("AccountRef")
    elif isinstance(data.get("SalesAndPurchase"), dict):
        ref = data["SalesAndPurchase"].get("IncomeAccountRef")
    else:
        ref = None
    return ref.get("ListID") if isinstance(ref, dict) else None


def tax_payable_account(store: Store) -> str:
    """ListID of the account sales tax items post to (the SalesTaxPayable one), or its default name."""
    for account in store.all(("Account",)):
        if account.data.get("SpecialAccountType") == "SalesTaxPayable":
            return account.id
    return TAX_PAYABLE


def _ref_id(data: dict[str, Any], name: str) -> str:
    ref = data.get(name)
    return str(ref.get("ListID", "")) if isinstance(ref, dict) else ""


def _line_item(store: Store, line: dict[str, Any]) -> Record | None:
    ref = line.get("ItemRef")
    return store.get(ITEM_KINDS, ref["ListID"]) if isinstance(ref, dict) else None


def postings(store: Store, record: Record) -> list[Posting]:
    """The debits and credits ``record`` makes (none for pending, estimate and order kinds)."""
    data, kind = record.data, record.kind
    customer = _ref_id(data, "CustomerRef")
    out: list[Posting] = []
    if kind in SALES_SIGN:
        if is_true(data.get("IsPending", "false")):
            return []
        sign = Decimal(SALES_SIGN[kind])
        total = decimal_of(data.get("Subtotal")) + decimal_of(data.get("SalesTaxTotal"))
        if kind == "SalesReceipt":
            out.append(Posting(_ref_id(data, "DepositToAccountRef"), sign * total))
        else:
            out.append(Posting(_ref_id(data, "ARAccountRef"), sign * total, customer))
        shares = data.get("TaxShareByLine")
        included: dict[str, Any] = shares if isinstance(shares, dict) else {}  # tax inside line amounts
        for line in as_list(data.get(f"{kind}LineRet")):
            item = _line_item(store, line)
            if item is None or item.kind == "ItemSubtotal":
                continue
            account = tax_payable_account(store) if item.kind == "ItemSalesTax" else item_account(item)
            override = _ref_id(line, "OverrideItemAccountRef")
            amount = decimal_of(line.get("Amount")) - decimal_of(included.get(str(line.get("TxnLineID"))))
            out.append(Posting(override or account or "", -sign * amount))
        tax = decimal_of(data.get("SalesTaxTotal"))
        if tax:
            out.append(Posting(tax_payable_account(store), -sign * tax))
    elif kind == "ReceivePayment":
        total = decimal_of(data.get("TotalAmount"))
        applied = as_list(data.get("AppliedToTxnRet"))
        discounts = sum((decimal_of(r.get("DiscountAmount")) for r in applied), Decimal(0))
        out.append(Posting(_ref_id(data, "DepositToAccountRef"), total))
        out.append(Posting(_ref_id(data, "ARAccountRef"), -(total + discounts), customer))
        for ret in as_list(data.get("AppliedToTxnRet")):
            if decimal_of(ret.get("DiscountAmount")):
                out.append(Posting(_ref_id(ret, "DiscountAccountRef"), decimal_of(ret["DiscountAmount"])))
    elif kind == "ARRefundCreditCard":
        total = decimal_of(data.get("TotalAmount"))
        out.append(Posting(_ref_id(data, "RefundFromAccountRef"), -total))
        out.append(Posting(_ref_id(data, "ARAccountRef"), total, customer))
    elif kind == "Check":
        out.append(Posting(_ref_id(data, "AccountRef"), -decimal_of(data.get("Amount"))))
        payee = _ref_id(data, "PayeeEntityRef")
        for line in as_list(data.get("ExpenseLineRet")):
            who = _ref_id(line, "CustomerRef") or payee
            out.append(Posting(_ref_id(line, "AccountRef"), decimal_of(line.get("Amount")), who))
    elif kind == "Deposit":
        out.append(Posting(_ref_id(data, "DepositToAccountRef"), decimal_of(data.get("DepositTotal"))))
        for line in as_list(data.get("DepositLineRet")):
            out.append(Posting(_ref_id(line, "AccountRef"), -decimal_of(line.get("Amount"))))
    return [p for p in out if p.amount]


def tax_by_item(store: Store, record: Record) -> dict[str, Decimal]:
    """Sales tax item ListID -> the tax ``record`` charged with it (negative for a credit memo)."""
    if record.kind not in SALES_SIGN or is_true(record.data.get("IsPending", "false")):
        return {}
    sign = Decimal(SALES_SIGN[record.kind])
    out: dict[str, Decimal] = defaultdict(Decimal)
    by_item = record.data.get("SalesTaxByItem")
    for item_id, amount in by_item.items() if isinstance(by_item, dict) else ():
        out[item_id] += sign * decimal_of(amount)
    for line in as_list(record.data.get(f"{record.kind}LineRet")):
        item = _line_item(store, line)
        if item is not None and item.kind == "ItemSalesTax":
            out[item.id] += sign * decimal_of(line.get("Amount"))
    return dict(out)


def _home(record: Record, amount: Decimal) -> Decimal:
    rate = record.data.get("ExchangeRate")
    return to_cent(amount * Decimal(str(rate))) if rate not in (None, "", "1", "1.0") else amount


def books(store: Store, prefs: Preferences, records: list[Record] | None = None) -> Books:
    """The books of the company (or of ``records`` only: one order's transactions)."""
    chosen = list(store.all(TXN_KINDS)) if records is None else records
    result = Books()
    debits: dict[str, Decimal] = defaultdict(Decimal)
    home_debits: dict[str, Decimal] = defaultdict(Decimal)
    owed: dict[str, Decimal] = defaultdict(Decimal)
    agencies: dict[str, Decimal] = defaultdict(Decimal)
    for record in chosen:
        foreign = _is_foreign(store, prefs, record)
        for posting in postings(store, record):
            account = store.get(("Account",), posting.account_id)
            account_currency = _ref_id(account.data, "CurrencyRef") if account is not None else ""
            in_home = account_currency in ("", prefs.home_currency)
            amount = _home(record, posting.amount) if foreign and in_home else posting.amount
            debits[posting.account_id] += amount
            home_debits[posting.account_id] += _home(record, posting.amount) if foreign else posting.amount
            if posting.customer_id and _is_receivable(account):
                owed[posting.customer_id] += posting.amount
        for item_id, amount in tax_by_item(store, record).items():
            item = store.get(("ItemSalesTax",), item_id)
            agency = store.get(("Vendor",), _ref_id(item.data, "TaxVendorRef")) if item is not None else None
            name = store.full_name(agency) if agency is not None else "(no tax agency)"
            agencies[name] += _home(record, amount) if foreign else amount
    result.accounts = _natural(store, debits)
    result.home_accounts = _natural(store, home_debits)
    result.tax_by_agency = {k: v for k, v in agencies.items() if v}
    customers = {r.id: r for r in store.all(("Customer",))}
    result.customer_balance = {store.full_name(customers[k]): v for k, v in owed.items() if k in customers}
    credits: dict[str, Decimal] = defaultdict(Decimal)
    for record in chosen:
        if record.kind in ("CreditMemo", "ReceivePayment"):
            customer_id = _ref_id(record.data, "CustomerRef")
            field_name = "CreditRemaining" if record.kind == "CreditMemo" else "UnusedPayment"
            left = decimal_of(record.data.get(field_name))
            if left and customer_id in customers:
                credits[store.full_name(customers[customer_id])] += left
    result.customer_credits = dict(credits)
    result.quantity_on_hand = {
        store.full_name(item): decimal_of(item.data.get("QuantityOnHand"))
        for item in store.all(("ItemInventory",))
    }
    result.inventory_value = {
        store.full_name(item): to_cent(
            decimal_of(item.data.get("QuantityOnHand")) * decimal_of(item.data.get("AverageCost"))
        )
        for item in store.all(("ItemInventory",))
    }
    return result


def _natural(store: Store, debits: dict[str, Decimal]) -> dict[str, Decimal]:
    """Account FullName -> balance in the account's natural sign (debits of asset and expense accounts,
    credits of the others)."""
    out: dict[str, Decimal] = {}
    for account_id, debit in debits.items():
        account = store.get(("Account",), account_id)
        if account is None:
            out[account_id or "(no account)"] = -debit
            continue
        out[store.full_name(account)] = debit if account.data.get("AccountType") in DEBIT_NATURAL else -debit
    return out


def _is_foreign(store: Store, prefs: Preferences, record: Record) -> bool:
    return bool(prefs.multicurrency) and _ref_id(record.data, "CurrencyRef") not in ("", prefs.home_currency)


def customer_balances(store: Store) -> dict[str, Decimal]:
    """customer ListID -> what the A/R ledger says they owe (negative: the company owes them).

    The same A/R postings as :func:`postings`, without walking sales lines (customer queries ask this
    on every answer, so it stays cheap on a company holding thousands of orders)."""
    owed: dict[str, Decimal] = defaultdict(Decimal)
    for record in store.all(("Invoice", "CreditMemo", "ReceivePayment", "ARRefundCreditCard", "Check")):
        data = record.data
        customer = _ref_id(data, "CustomerRef")
        if record.kind in SALES_SIGN:
            if not is_true(data.get("IsPending", "false")):
                total = decimal_of(data.get("Subtotal")) + decimal_of(data.get("SalesTaxTotal"))
                owed[customer] += SALES_SIGN[record.kind] * total
        elif record.kind == "ReceivePayment":
            applied = as_list(data.get("AppliedToTxnRet"))
            discounts = sum((decimal_of(r.get("DiscountAmount")) for r in applied), Decimal(0))
            owed[customer] -= decimal_of(data.get("TotalAmount")) + discounts
        elif record.kind == "ARRefundCreditCard":
            owed[customer] += decimal_of(data.get("TotalAmount"))
        else:
            for posting in postings(store, record):
                if posting.customer_id and _is_receivable(store.get(("Account",), posting.account_id)):
                    owed[posting.customer_id] += posting.amount
    owed.pop("", None)
    return owed


def _is_receivable(account: Record | None) -> bool:
    return account is not None and account.data.get("AccountType") == "AccountsReceivable"


def linked_transactions(store: Store, ref_number: str) -> list[Record]:
    """The sales forms numbered ``ref_number`` and every transaction reachable from them through
    payments (AppliedToTxnRet), credits set or refunded (LinkedTxn, RefundAppliedToTxnRet). Deposits are
    left out: one deposit holds many orders' payments."""
    found: dict[str, Record] = {}
    pending = [r for kind in SALES_KINDS for r in store.by_ref_number(kind, ref_number)]
    while pending:
        record = pending.pop()
        if record.id in found:
            continue
        found[record.id] = record
        for other in store.all(TXN_KINDS):
            if other.kind == "Deposit" or other.id in found:
                continue
            if _refers_to(other, record.id) or _refers_to(record, other.id):
                pending.append(other)
    return sorted(found.values(), key=lambda r: (str(r.data.get("TxnDate", "")), r.number))


def _refers_to(record: Record, txn_id: str) -> bool:
    data = record.data
    for key in ("AppliedToTxnRet", "LinkedTxn", "RefundAppliedToTxnRet"):
        if any(isinstance(x, dict) and x.get("TxnID") == txn_id for x in as_list(data.get(key))):
            return True
    for entry in as_list(data.get("CreditsSet")):
        if txn_id in (entry.get("CreditTxnID"), entry.get("InvoiceTxnID")):
            return True
    return False
