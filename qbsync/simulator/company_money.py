"""Money after the sale: credits set on invoices, card refunds, refund checks and bank deposits.

Sources (docs/SIMULATOR.md has the list):

- ReceivePaymentAdd ``SetCredit``: Intuit CreditMemoAdd reference ("The CreditMemo doesn't actually get
  applied until it is referenced in a ReceivePayment transaction inside the SetCredit aggregate") and
  "Requests for receive payments bill payments and deposits" (credits can be applied to several
  transactions; a credit-only payment is allowed).
- ARRefundCreditCardAdd: Intuit "Requests and responses for credit card refunds" (the refund must link
  to existing credit transactions of the same customer; RefundFromAccountRef defaults to Undeposited
  Funds; partial refunds allowed; the response returns the credit remaining on each).
- CheckAdd ``ApplyCheckToTxnAdd``: Intuit CheckAdd reference ("useful for doing direct refunds ... The
  ARAccountRef will be obtained from the ExpenseLineAdd").
- DepositAdd: qbXML 13.0 XSD (PaymentLine or DepositInfo lines); that a payment can be deposited once
  and only from Undeposited Funds is assumed.

Error codes and texts for refused refunds and deposits are assumed (3210 as for over-payments, whose
text is real: shared/reference/qbxml/samples/errors/3210_receive_payment_add_rs.pay-more-than-due.xml).
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from qbsync.simulator.company_currency import check_payout_account, currency_defaults
from qbsync.simulator.company_lists import Preferences, ref_to, special_account
from qbsync.simulator.company_store import (
    Record,
    StatusError,
    Store,
    as_list,
    decimal_of,
    money,
    object_not_found,
)

# Transactions that hold a credit a refund or a SetCredit can use: kind -> its "credit left" field.
CREDIT_KINDS = {"CreditMemo": "CreditRemaining", "ReceivePayment": "UnusedPayment"}


def invalid_amount(field: str, value: Decimal, why: str) -> StatusError:
    """3210 (severity Info, as QuickBooks reports over-payments), worded like the real over-payment."""
    return StatusError(
        3210,
        f'The "{field}" field has an invalid value "{money(value)}".  QuickBooks error message: {why}',
        severity="Info",
    )


def credit_left(record: Record) -> Decimal:
    """What is still open on a credit memo (CreditRemaining) or a payment (UnusedPayment)."""
    return decimal_of(record.data.get(CREDIT_KINDS[record.kind]))


def use_credit(store: Store, credit: Record, amount: Decimal) -> None:
    """Take ``amount`` (negative gives it back) off a credit memo's or payment's open credit."""
    field = CREDIT_KINDS[credit.kind]
    if credit.kind == "CreditMemo":
        credit.data["CreditUsed"] = money(decimal_of(credit.data.get("CreditUsed")) + amount)
    credit.data[field] = money(credit_left(credit) - amount)
    store.touch(credit)


def link(record: Record, other: Record, amount: Decimal) -> None:
    """Record on ``record`` that ``other`` used ``amount`` of it (a LinkedTxn, as QuickBooks lists)."""
    links = as_list(record.data.get("LinkedTxn"))
    links.append(
        {
            "TxnID": other.id,
            "TxnType": other.kind,
            "TxnDate": other.data.get("TxnDate"),
            "RefNumber": other.data.get("RefNumber"),
            "LinkType": "AMTTYPE",
            "Amount": money(-amount),
        }
    )
    record.data["LinkedTxn"] = links


def unlink(record: Record, other_id: str) -> None:
    """Forget the links ``record`` holds to ``other_id``."""
    record.data["LinkedTxn"] = [x for x in as_list(record.data.get("LinkedTxn")) if x["TxnID"] != other_id]


def _credit_of_customer(store: Store, txn_id: str, customer_id: str) -> Record:
    record = store.get(tuple(CREDIT_KINDS), txn_id)
    ref = record.data.get("CustomerRef") if record is not None else None
    if record is None or not isinstance(ref, dict) or ref["ListID"] != customer_id:
        raise object_not_found(txn_id)
    return record


# -- credits set on invoices (ReceivePaymentAdd/AppliedToTxnAdd/SetCredit) -----------------------------


def plan_set_credits(
    store: Store, customer_id: str, application: dict[str, Any]
) -> list[tuple[Record, Decimal]]:
    """The credits one AppliedToTxnAdd sets: (credit memo, amount), checked against what is left."""
    planned = []
    for credit in as_list(application.get("SetCredit")):
        memo = _credit_of_customer(store, str(credit.get("CreditTxnID", "")), customer_id)
        if memo.kind != "CreditMemo":
            raise object_not_found(memo.id)
        amount = decimal_of(credit.get("AppliedAmount"))
        if amount > credit_left(memo) or amount <= 0:
            raise invalid_amount(
                "SetCredit applied amount", amount, "The credit applied is more than the credit available."
            )
        planned.append((memo, amount))
    return planned


def set_credits(
    store: Store, payment: Record, invoice: Record, credits: list[tuple[Record, Decimal]]
) -> list[dict[str, Any]]:
    """Apply planned credits to ``invoice`` through ``payment``; returns the LinkedTxn entries."""
    links = []
    for memo, amount in credits:
        use_credit(store, memo, amount)
        link(memo, invoice, amount)
        link(invoice, memo, amount)
        links.append(
            {
                "TxnID": memo.id,
                "TxnType": "CreditMemo",
                "TxnDate": memo.data.get("TxnDate"),
                "RefNumber": memo.data.get("RefNumber"),
                "LinkType": "AMTTYPE",
                "Amount": money(-amount),
            }
        )
        payment.data.setdefault("CreditsSet", []).append(
            {"CreditTxnID": memo.id, "InvoiceTxnID": invoice.id, "Amount": money(amount)}
        )
    return links


# -- refunds -------------------------------------------------------------------------------------------


def add_card_refund(store: Store, prefs: Preferences, add: dict[str, Any], today: str) -> Record:
    """ARRefundCreditCardAdd: money paid back out of an account, against credits of the customer."""
    data = copy.deepcopy(add)
    applied = as_list(data.pop("RefundAppliedToTxnAdd", None))
    store.resolve_refs(data, "ARRefundCreditCard")
    customer_id = data["CustomerRef"]["ListID"]
    planned = []
    for application in applied:
        credit = _credit_of_customer(store, str(application.get("TxnID", "")), customer_id)
        amount = decimal_of(application.get("RefundAmount"))
        if amount > credit_left(credit) or amount <= 0:
            raise invalid_amount("RefundAmount", amount, "The refund is more than the credit available.")
        planned.append((credit, amount))
    data.setdefault("TxnDate", today)
    currency_defaults(store, prefs, "ARRefundCreditCard", data)
    if "RefundFromAccountRef" not in data:
        data["RefundFromAccountRef"] = special_account(store, prefs, "undeposited_funds")
    check_payout_account(store, prefs, "ARRefundCreditCard", data, "RefundFromAccountRef")
    if "ARAccountRef" not in data:
        data["ARAccountRef"] = special_account(store, prefs, "ar_account")
    data["TotalAmount"] = money(sum((a for _, a in planned), Decimal(0)))
    record = store.create("ARRefundCreditCard", data)
    rets = []
    for credit, amount in planned:
        use_credit(store, credit, amount)
        link(credit, record, amount)
        rets.append(
            {
                "TxnID": credit.id,
                "TxnType": credit.kind,
                "TxnDate": credit.data.get("TxnDate"),
                "RefNumber": credit.data.get("RefNumber"),
                "CreditRemaining": money(credit_left(credit)),
                "RefundAmount": money(amount),
            }
        )
    record.data["RefundAppliedToTxnRet"] = rets
    return record


def add_check(store: Store, prefs: Preferences, add: dict[str, Any], today: str) -> Record:
    """CheckAdd with expense lines; ApplyCheckToTxnAdd makes it a refund of a customer's credit. On a
    multicurrency file the check is in its payee's currency at ExchangeRate (the currency's rate unless
    given), drawn on an account in that currency or the home currency."""
    data = copy.deepcopy(add)
    if data.get("ItemLineAdd") not in (None, "") or data.get("ItemGroupLineAdd") not in (None, ""):
        raise StatusError(1030, "This request is not supported by this implementation. (Check item lines)")
    applied = as_list(data.pop("ApplyCheckToTxnAdd", None))
    expense_lines = as_list(data.pop("ExpenseLineAdd", None))
    store.resolve_refs(data, "Check")
    lines = []
    for raw in expense_lines:
        line = copy.deepcopy(raw)
        store.resolve_refs(line, "Check line")
        line["TxnLineID"] = store.new_txn_id()
        line["Amount"] = money(decimal_of(line.get("Amount")))
        lines.append(line)
    payee = data.get("PayeeEntityRef")
    planned = []
    for application in applied:
        if not isinstance(payee, dict):
            raise object_not_found(str(application.get("TxnID", "")))
        credit = _credit_of_customer(store, str(application.get("TxnID", "")), payee["ListID"])
        if not any(_is_receivable(store, line.get("AccountRef")) for line in lines):
            raise StatusError(
                3180,
                "There was an error when saving a Check.  QuickBooks error message: A check applied to a "
                "credit needs an expense line on an Accounts Receivable account.",
            )
        amount = decimal_of(application.get("Amount")) or credit_left(credit)
        if amount > credit_left(credit) or amount <= 0:
            raise invalid_amount("Amount", amount, "The refund is more than the credit available.")
        planned.append((credit, amount))
    data.setdefault("TxnDate", today)
    currency_defaults(store, prefs, "Check", data, entity="PayeeEntityRef")
    check_payout_account(store, prefs, "Check", data, "AccountRef")
    data["ExpenseLineRet"] = lines
    data["Amount"] = money(sum((decimal_of(line["Amount"]) for line in lines), Decimal(0)))
    if "CurrencyRef" in data:  # the home value: amount x rate ([QB-RATES] in docs/SIMULATOR.md)
        data["AmountInHomeCurrency"] = money(decimal_of(data["Amount"]) * decimal_of(data["ExchangeRate"]))
    record = store.create("Check", data)
    for credit, amount in planned:
        use_credit(store, credit, amount)
        link(credit, record, amount)
        link(record, credit, amount)
    return record


def _is_receivable(store: Store, ref: Any) -> bool:
    account = store.get(("Account",), ref.get("ListID", "")) if isinstance(ref, dict) else None
    return account is not None and account.data.get("AccountType") == "AccountsReceivable"


def undo_refund(store: Store, record: Record) -> None:
    """Give the credits a card refund or refund check used back to them (it is voided or deleted)."""
    if record.kind == "ARRefundCreditCard":
        applied = as_list(record.data.get("RefundAppliedToTxnRet"))
        uses = [(r["TxnID"], decimal_of(r["RefundAmount"])) for r in applied]
    else:
        uses = [(x["TxnID"], -decimal_of(x["Amount"])) for x in as_list(record.data.get("LinkedTxn"))]
    for txn_id, amount in uses:
        credit = store.get(tuple(CREDIT_KINDS), txn_id)
        if credit is not None:
            use_credit(store, credit, -amount)
            unlink(credit, record.id)


# -- deposits ------------------------------------------------------------------------------------------


def add_deposit(store: Store, prefs: Preferences, add: dict[str, Any], today: str) -> Record:
    """DepositAdd: payments moved out of Undeposited Funds (each once), and other money in."""
    data = copy.deepcopy(add)
    raw_lines = as_list(data.pop("DepositLineAdd", None))
    store.resolve_refs(data, "Deposit")
    rets = []
    payments: list[Record] = []
    for raw in raw_lines:
        line = copy.deepcopy(raw)
        store.resolve_refs(line, "Deposit line")
        if line.get("PaymentTxnID"):
            payment = store.get(("ReceivePayment", "SalesReceipt"), str(line["PaymentTxnID"]))
            if payment is None:
                raise object_not_found(str(line["PaymentTxnID"]))
            held = payment.data.get("DepositToAccountRef", {}).get("ListID")
            if held != prefs.undeposited_funds or payment.data.get("DepositedIn") or payment in payments:
                raise StatusError(
                    3180,
                    "There was an error when saving a Deposit.  QuickBooks error message: The payment "
                    f'"{payment.id}" is not waiting in Undeposited Funds.',
                )
            payments.append(payment)
            amount = decimal_of(payment.data.get("TotalAmount"))
            rets.append(
                {
                    "TxnType": payment.kind,
                    "TxnID": payment.id,
                    "TxnLineID": store.new_txn_id(),
                    "EntityRef": payment.data.get("CustomerRef"),
                    "AccountRef": ref_to(store, prefs.undeposited_funds),
                    "PaymentMethodRef": payment.data.get("PaymentMethodRef"),
                    "Amount": money(amount),
                }
            )
        else:
            line["TxnLineID"] = store.new_txn_id()
            line["Amount"] = money(decimal_of(line.get("Amount")))
            rets.append(line)
    data.setdefault("TxnDate", today)
    data["DepositLineRet"] = rets
    data["DepositTotal"] = money(sum((decimal_of(r["Amount"]) for r in rets), Decimal(0)))
    record = store.create("Deposit", data)
    for payment in payments:
        payment.data["DepositedIn"] = record.id
    return record


def undo_deposit(store: Store, record: Record) -> None:
    """Put a deposit's payments back into Undeposited Funds (the deposit is voided or deleted)."""
    for line in as_list(record.data.get("DepositLineRet")):
        payment = store.get(("ReceivePayment", "SalesReceipt"), str(line.get("TxnID", "")))
        if payment is not None and payment.data.get("DepositedIn") == record.id:
            payment.data.pop("DepositedIn", None)
